// SPDX-License-Identifier: GPL-3.0-or-later
// The mean of the cross-entropy, in one workgroup so that the order of the sum is fixed:
// loss = sum_i losses[i] / sum_i w[y_i] (rows whose target names no class weigh 0),
// then, with WANT_GRAD, the gradient of ce_rows divided by the same sum of weights.
// The workgroup size is a power of two.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint HAS_WEIGHT = 0;
layout(constant_id = 2) const uint WANT_GRAD = 0;

layout(std430, set = 0, binding = 0) readonly buffer T { float target[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 2) readonly buffer L { float losses[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Loss { float loss[]; };
layout(std430, set = 0, binding = 4) buffer D { float dx[]; };

layout(push_constant) uniform Params {
  uint n, c;
} p;

shared float red_l[gl_WorkGroupSize.x];
shared float red_w[gl_WorkGroupSize.x];

void main()
{
  uint lane = gl_LocalInvocationID.x;
  float sl = 0.0, sw = 0.0;

  for (uint i = lane; i < p.n; i += gl_WorkGroupSize.x)
    {
      float t = target[i];
      if (t >= 0.0 && t < float(p.c))
        sw += HAS_WEIGHT != 0u ? weight[uint(t)] : 1.0;
      sl += losses[i];
    }
  red_l[lane] = sl;
  red_w[lane] = sw;
  barrier();
  for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u)
    {
      if (lane < h)
        {
          red_l[lane] += red_l[lane + h];
          red_w[lane] += red_w[lane + h];
        }
      barrier();
    }

  float total = red_w[0];
  if (lane == 0u)
    loss[0] = red_l[0] / total;   // 0 / 0 = NaN when no target has weight, as PyTorch

  if (WANT_GRAD != 0u)
    {
      float inv = 1.0 / total;
      uint count = p.n * p.c;
      for (uint e = lane; e < count; e += gl_WorkGroupSize.x)
        dx[e] *= inv;
    }
}
