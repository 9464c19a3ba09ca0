// SPDX-License-Identifier: GPL-3.0-or-later
// Softmax cross-entropy, one workgroup per row (see GraftCrossEntropyPlan): the row's
// max, sum of exp (x - max), sum of w[c] * (lse - x[c]) and sum of weights are reduced
// as trees in shared memory (the workgroup size is a power of two; nothing assumes a
// subgroup size). Writes the row's loss and, with WANT_GRAD, its gradient not yet
// divided by the sum of the targets' weights, which ce_reduce does.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint HAS_WEIGHT = 0;
layout(constant_id = 2) const uint WANT_GRAD = 0;

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) readonly buffer T { float target[]; };
layout(std430, set = 0, binding = 2) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 3) writeonly buffer L { float losses[]; };
layout(std430, set = 0, binding = 4) writeonly buffer D { float dx[]; };

layout(push_constant) uniform Params {
  uint n, c;
  float eps;
} p;

shared float red_a[gl_WorkGroupSize.x];
shared float red_b[gl_WorkGroupSize.x];

float class_weight(uint j)
{
  return HAS_WEIGHT != 0u ? weight[j] : 1.0;
}

// Sums (or with is_max, maxima of) red_a and red_b over the workgroup into slot 0.
void reduce2(bool is_max)
{
  uint lane = gl_LocalInvocationID.x;
  barrier();
  for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h /= 2u)
    {
      if (lane < h)
        {
          if (is_max)
            {
              float o = red_a[lane + h];
              if (o > red_a[lane] || isnan(o))
                red_a[lane] = o;
            }
          else
            {
              red_a[lane] += red_a[lane + h];
              red_b[lane] += red_b[lane + h];
            }
        }
      barrier();
    }
}

void main()
{
  uint row = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
  uint lane = gl_LocalInvocationID.x;
  uint wg = gl_WorkGroupSize.x;

  // The whole workgroup leaves together, before any barrier.
  if (row >= p.n)
    return;

  uint base = row * p.c;
  float t = target[row];
  bool valid = t >= 0.0 && t < float(p.c);
  uint y = valid ? uint(t) : 0u;

  float m = -1.0 / 0.0;
  for (uint j = lane; j < p.c; j += wg)
    {
      float v = x[base + j];
      if (v > m || isnan(v))
        m = v;
    }
  red_a[lane] = m;
  reduce2(true);
  m = red_a[0];
  barrier();

  float s = 0.0, wsum = 0.0;
  for (uint j = lane; j < p.c; j += wg)
    {
      s += exp(x[base + j] - m);
      wsum += class_weight(j);
    }
  red_a[lane] = s;
  red_b[lane] = wsum;
  reduce2(false);
  float lse = m + log(red_a[0]);
  float total_w = red_b[0];
  barrier();

  float smooth_sum = 0.0;
  if (p.eps != 0.0)
    for (uint j = lane; j < p.c; j += wg)
      smooth_sum += class_weight(j) * (lse - x[base + j]);
  red_a[lane] = smooth_sum;
  red_b[lane] = 0.0;
  reduce2(false);

  float wy = valid ? class_weight(y) : 0.0;
  if (lane == 0u)
    losses[row] = valid ? (1.0 - p.eps) * wy * (lse - x[base + y]) + p.eps / float(p.c) * red_a[0]
                        : 0.0;

  if (WANT_GRAD != 0u)
    {
      float a = (1.0 - p.eps) * wy;
      float b = valid ? p.eps / float(p.c) : 0.0;
      for (uint j = lane; j < p.c; j += wg)
        {
          float q = exp(x[base + j] - lse);
          float g = a * (q - (j == y ? 1.0 : 0.0)) + b * (total_w * q - class_weight(j));
          dx[base + j] = valid ? g : 0.0;
        }
    }
}
