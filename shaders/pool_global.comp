// SPDX-License-Identifier: GPL-3.0-or-later
// Global average pooling (adaptive_avg_pool2d to 1 x 1) of large planes: one workgroup
// per plane; each invocation sums a strided share of the plane, then the workgroup adds
// the partial sums as a tree in shared memory. The workgroup size is a power of two.
#version 450
#include "graft-common.glsl"
#include "graft-pool.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };

shared float partial[gl_WorkGroupSize.x];

void main()
{
  uint plane = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  uint lane = gl_LocalInvocationID.x;
  uint n = p.in_h * p.in_w;

  // The whole workgroup leaves together, before any barrier.
  if (plane >= p.planes)
    return;

  uint base = plane * n;
  float sum = 0.0;
  for (uint j = lane; j < n; j += gl_WorkGroupSize.x)
    sum += x[base + j];
  partial[lane] = sum;
  barrier();

  for (uint half_size = gl_WorkGroupSize.x / 2u; half_size > 0u; half_size /= 2u)
    {
      if (lane < half_size)
        partial[lane] += partial[lane + half_size];
      barrier();
    }

  if (lane == 0u)
    out_data[plane] = partial[0] / float(n);
}
