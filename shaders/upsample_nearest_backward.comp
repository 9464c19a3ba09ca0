// SPDX-License-Identifier: GPL-3.0-or-later
// Nearest upsampling backward: one invocation per input, the float sum of its
// scale x scale block of output gradients, rows then columns (the CPU backend's order).
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dx { float dx[]; };

layout(push_constant) uniform Params {
  uint planes, in_h, in_w, scale;
  uint total;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;
  uint s = p.scale, out_w = p.in_w * s, out_h = p.in_h * s;
  uint t = i / p.in_w;
  uint w = i - t * p.in_w;
  uint plane = t / p.in_h;
  uint h = t - plane * p.in_h;
  uint base = (plane * out_h + h * s) * out_w + w * s;
  float sum = 0.0;
  for (uint a = 0u; a < s; a++)
    for (uint b = 0u; b < s; b++)
      sum += dy[base + a * out_w + b];
  dx[i] = sum;
}
