// SPDX-License-Identifier: GPL-3.0-or-later
// Row softmax in place over rows of LEN values: the row's maximum (a NaN wins, as on
// the CPU backend) and the sum of exp (x - max), then x = exp (x - max) / sum.
//  - On GPUs (PER_LANE false) one workgroup per row reduces as trees in shared memory
//    (the workgroup size is a power of two; nothing assumes a subgroup size).
//  - On CPU devices (PER_LANE true: lavapipe, where barriers are dear and lanes are SIMD
//    lanes anyway) each invocation does one row alone, with no shared memory.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const bool PER_LANE = false;

layout(std430, set = 0, binding = 0) buffer X { float x[]; };

layout(push_constant) uniform Params {
  uint rows, len;
} p;

shared float red[gl_WorkGroupSize.x];

void reduce(bool is_max)
{
  uint lane = gl_LocalInvocationID.x;
  barrier();
  for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u)
    {
      if (lane < h)
        {
          float o = red[lane + h];
          if (!is_max)
            red[lane] += o;
          else if (o > red[lane] || isnan(o))
            red[lane] = o;
        }
      barrier();
    }
}

void softmax_lane(uint row)
{
  uint base = row * p.len;
  float m = -1.0 / 0.0;
  for (uint j = 0u; j < p.len; j++)
    {
      float v = x[base + j];
      if (v > m || isnan(v))
        m = v;
    }
  float s = 0.0;
  for (uint j = 0u; j < p.len; j++)
    s += exp(x[base + j] - m);
  for (uint j = 0u; j < p.len; j++)
    x[base + j] = exp(x[base + j] - m) / s;
}

void main()
{
  if (PER_LANE)
    {
      uint row = graft_global_index();
      if (row < p.rows)
        softmax_lane(row);
      return;
    }

  uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  uint lane = gl_LocalInvocationID.x;
  uint wg = gl_WorkGroupSize.x;

  // The whole workgroup leaves together, before any barrier.
  if (row >= p.rows)
    return;

  uint base = row * p.len;
  float m = -1.0 / 0.0;
  for (uint j = lane; j < p.len; j += wg)
    {
      float v = x[base + j];
      if (v > m || isnan(v))
        m = v;
    }
  red[lane] = m;
  reduce(true);
  m = red[0];
  barrier();

  float s = 0.0;
  for (uint j = lane; j < p.len; j += wg)
    s += exp(x[base + j] - m);
  red[lane] = s;
  reduce(false);
  s = red[0];

  for (uint j = lane; j < p.len; j += wg)
    x[base + j] = exp(x[base + j] - m) / s;
}
