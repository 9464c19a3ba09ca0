// SPDX-License-Identifier: GPL-3.0-or-later
// x[i] *= min(1, max_norm / (norm[0] + 1e-6)), as torch.nn.utils.clip_grad_norm_, with
// the norm read here so that clipping needs no round trip through the host.
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Norm { float norm[]; };
layout(std430, set = 0, binding = 1) buffer X { float x[]; };

layout(push_constant) uniform Params {
  uint n;
  float max_norm;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.n)
    return;

  float coef = p.max_norm / (norm[0] + 1e-6);
  x[i] *= coef > 1.0 ? 1.0 : coef;
}
