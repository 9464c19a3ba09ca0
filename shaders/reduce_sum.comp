// SPDX-License-Identifier: GPL-3.0-or-later
// out[slot] = sum_{i<n} f(x[i]), f(v) = v * v with SQUARE, then its square root with
// SQRT: sums of squares for gradient-norm clipping, one tensor per dispatch, then the
// root of their sum. One workgroup, a fixed order (strided partial sums, then a tree
// in shared memory), so the result is deterministic. Power-of-two workgroup size.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint SQUARE = 0;
layout(constant_id = 2) const uint SQRT = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) buffer Out { float out_data[]; };

layout(push_constant) uniform Params {
  uint n;
  uint slot;
} p;

shared float partial[gl_WorkGroupSize.x];

void main()
{
  uint lane = gl_LocalInvocationID.x;
  float sum = 0.0;

  for (uint i = lane; i < p.n; i += gl_WorkGroupSize.x)
    {
      float v = x[i];
      sum += SQUARE != 0u ? v * v : v;
    }
  partial[lane] = sum;
  barrier();
  for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u)
    {
      if (lane < h)
        partial[lane] += partial[lane + h];
      barrier();
    }
  if (lane == 0u)
    out_data[p.slot] = SQRT != 0u ? sqrt(partial[0]) : partial[0];
}
