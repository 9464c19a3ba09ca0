// SPDX-License-Identifier: GPL-3.0-or-later
// dx of one group per workgroup, from gy (dy for batch norm, dy * weight for layer
// norm, which norm_affine wrote into dx beforehand: gy may be dx) and P (norm_pack):
//   TRAINING: dx = scale / M * (M * gy - Σgy - xhat * Σ(gy * xhat))
//   else:     dx = scale * gy
// The sums, in a fixed tree order, are also stored in P for norm_param.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint TRAINING = 1;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Gy { float gy[]; };
layout(std430, set = 0, binding = 2) buffer P { float pk[]; };
layout(std430, set = 0, binding = 3) buffer Dx { float dx[]; };

shared vec2 partial[gl_WorkGroupSize.x];

void main()
{
  uint g = graft_norm_workgroup();
  uint lane = gl_LocalInvocationID.x;
  uint m = p.outer * p.inner;

  if (g >= p.groups)
    return;

  float mu = pk[8u * g], is = pk[8u * g + 1u], scale = pk[8u * g + 2u];
  vec2 s = vec2(0.0);
  for (uint j = lane; j < m; j += gl_WorkGroupSize.x)
    {
      uint e = graft_norm_index(g, j);
      float v = gy[e];
      s += vec2(v, v * ((x[e] - mu) * is));
    }
  partial[lane] = s;
  barrier();
  for (uint half_size = gl_WorkGroupSize.x / 2u; half_size > 0u; half_size /= 2u)
    {
      if (lane < half_size)
        partial[lane] += partial[lane + half_size];
      barrier();
    }
  vec2 total = partial[0];
  if (lane == 0u)
    {
      pk[8u * g + 3u] = total.x;
      pk[8u * g + 4u] = total.y;
    }

  float fm = float(m);
  for (uint j = lane; j < m; j += gl_WorkGroupSize.x)
    {
      uint e = graft_norm_index(g, j);
      float v = gy[e];
      if (TRAINING != 0u)
        dx[e] = scale / fm * (fm * v - total.x - (x[e] - mu) * is * total.y);
      else
        dx[e] = scale * v;
    }
}
