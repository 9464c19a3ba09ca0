// SPDX-License-Identifier: GPL-3.0-or-later
// The softmax backward pass in place over rows of LEN values: with P the forward's
// probabilities and G the gradient of P, G = P * (G - sum_j G[j] P[j]).
//  - On GPUs (PER_LANE false) one workgroup per row sums as a tree in shared memory
//    (the workgroup size is a power of two).
//  - On CPU devices (PER_LANE true) each invocation does one row alone.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const bool PER_LANE = false;

layout(std430, set = 0, binding = 0) readonly buffer P { float prob[]; };
layout(std430, set = 0, binding = 1) buffer G { float g[]; };

layout(push_constant) uniform Params {
  uint rows, len;
} p;

shared float red[gl_WorkGroupSize.x];

void main()
{
  if (PER_LANE)
    {
      uint row = graft_global_index();
      if (row >= p.rows)
        return;
      uint base = row * p.len;
      float dot = 0.0;
      for (uint j = 0u; j < p.len; j++)
        dot += g[base + j] * prob[base + j];
      for (uint j = 0u; j < p.len; j++)
        g[base + j] = prob[base + j] * (g[base + j] - dot);
      return;
    }

  uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  uint lane = gl_LocalInvocationID.x;
  uint wg = gl_WorkGroupSize.x;

  // The whole workgroup leaves together, before any barrier.
  if (row >= p.rows)
    return;

  uint base = row * p.len;
  float dot = 0.0;
  for (uint j = lane; j < p.len; j += wg)
    dot += g[base + j] * prob[base + j];
  red[lane] = dot;
  barrier();
  for (uint h = wg / 2u; h > 0u; h /= 2u)
    {
      if (lane < h)
        red[lane] += red[lane + h];
      barrier();
    }
  dot = red[0];

  for (uint j = lane; j < p.len; j += wg)
    g[base + j] = prob[base + j] * (g[base + j] - dot);
}
