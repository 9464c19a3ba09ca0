// SPDX-License-Identifier: GPL-3.0-or-later
// y = (x - mean[g]) * invstd[g] for every element, g its group; the affine part is
// norm_affine's.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Mean { float mean[]; };
layout(std430, set = 0, binding = 2) readonly buffer Invstd { float invstd[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
  uint e = graft_global_index();

  if (e >= p.total)
    return;
  uint g = graft_norm_group(e);
  y[e] = (x[e] - mean[g]) * invstd[g];
}
