// SPDX-License-Identifier: GPL-3.0-or-later
// Dropout with a counter-based mask: element i is kept when hash(i, key) >> 8 reaches
// the threshold ceil(p * 2^24), and is then scaled by 1 / (1 - p); otherwise 0. The same
// kernel serves the backward pass, which recomputes the mask from the seed's key. The key
// is a push constant, or with KEYED read from keys[key_slot], so that a recorded step can
// be replayed with each step's key.
#version 450
#include "graft-common.glsl"
#include "graft-dropout.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 2) readonly buffer K { uint keys[]; };

layout(constant_id = 1) const uint KEYED = 0;

layout(push_constant) uniform Params {
  uint  n;
  uint  key;
  uint  threshold;
  float scale;
  uint  key_slot;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.n)
    return;
  uint key = KEYED != 0u ? keys[p.key_slot] : p.key;
  bool keep = (graft_dropout_hash(i, key) >> 8) >= p.threshold;
  y[i] = keep ? x[i] * p.scale : 0.0;
}
