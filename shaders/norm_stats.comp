// SPDX-License-Identifier: GPL-3.0-or-later
// Mean and invstd = 1 / sqrt(var + eps) of each group, one workgroup per group, in two
// passes (the mean, then the squared deviations from it) so that a large mean costs no
// precision. Each lane sums a strided share; the workgroup adds the partial sums as a
// tree in shared memory (size a power of two, set by the host), in a fixed order, so
// results are deterministic. With WANT_UVAR, uvar gets the unbiased variance for the
// running statistics.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint WANT_UVAR = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Mean { float mean[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Invstd { float invstd[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Uvar { float uvar[]; };

shared float partial[gl_WorkGroupSize.x];

float reduce_sum(uint lane, float v)
{
  partial[lane] = v;
  barrier();
  for (uint half_size = gl_WorkGroupSize.x / 2u; half_size > 0u; half_size /= 2u)
    {
      if (lane < half_size)
        partial[lane] += partial[lane + half_size];
      barrier();
    }
  float total = partial[0];
  barrier();
  return total;
}

void main()
{
  uint g = graft_norm_workgroup();
  uint lane = gl_LocalInvocationID.x;
  uint m = p.outer * p.inner;

  // The whole workgroup leaves together, before any barrier.
  if (g >= p.groups)
    return;

  float sum = 0.0;
  for (uint j = lane; j < m; j += gl_WorkGroupSize.x)
    sum += x[graft_norm_index(g, j)];
  float mu = reduce_sum(lane, sum) / float(m);

  float sq = 0.0;
  for (uint j = lane; j < m; j += gl_WorkGroupSize.x)
    {
      float d = x[graft_norm_index(g, j)] - mu;
      sq += d * d;
    }
  float ss = reduce_sum(lane, sq);

  if (lane == 0u)
    {
      mean[g] = mu;
      invstd[g] = 1.0 / sqrt(ss / float(m) + p.eps);
      if (WANT_UVAR != 0u)
        uvar[g] = ss / float(m - 1u);
    }
}
