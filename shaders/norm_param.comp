// SPDX-License-Identifier: GPL-3.0-or-later
// dbias (WHICH 0) or dweight (WHICH 1), one invocation per parameter.
//  Batch norm: the per-channel sums norm_backward left in P.
//  LAYER: feature i sums dy (or dy * xhat) over the rows, in row order.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint LAYER = 0;
layout(constant_id = 2) const uint WHICH = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer Dy { float dy[]; };
layout(std430, set = 0, binding = 2) readonly buffer P { float pk[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Out { float out_data[]; };

void main()
{
  uint k = graft_global_index();

  if (k >= p.total)
    return;
  if (LAYER == 0u)
    {
      out_data[k] = pk[8u * k + 3u + WHICH];
      return;
    }

  float s = 0.0;
  for (uint r = 0u; r < p.groups; r++)
    {
      uint e = r * p.inner + k;
      float v = dy[e];
      if (WHICH != 0u)
        v *= (x[e] - pk[8u * r]) * pk[8u * r + 1u];
      s += v;
    }
  out_data[k] = s;
}
