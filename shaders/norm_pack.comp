// SPDX-License-Identifier: GPL-3.0-or-later
// Packs what the backward kernels need per group into 8 floats of P: mean, invstd,
// scale (invstd * weight for batch norm, whose weight is per group; invstd otherwise),
// then norm_backward's sums Σg and Σg·xhat.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint GROUP_WEIGHT = 0;

layout(std430, set = 0, binding = 0) readonly buffer Mean { float mean[]; };
layout(std430, set = 0, binding = 1) readonly buffer Invstd { float invstd[]; };
layout(std430, set = 0, binding = 2) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 3) writeonly buffer P { float pk[]; };

void main()
{
  uint g = graft_global_index();

  if (g >= p.groups)
    return;
  pk[8u * g] = mean[g];
  pk[8u * g + 1u] = invstd[g];
  pk[8u * g + 2u] = GROUP_WEIGHT != 0u ? invstd[g] * weight[g] : invstd[g];
}
