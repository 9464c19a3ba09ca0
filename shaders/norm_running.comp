// SPDX-License-Identifier: GPL-3.0-or-later
// Batch norm's running statistics, one invocation per channel.
//  MODE 0 (training): a = mean, b = unbiased variance of the batch; c, d = running mean
//    and variance, updated in place: running = (1 - momentum) * running + momentum * batch.
//  MODE 1 (eval): a, b = running mean and variance; c = mean, d = 1 / sqrt(var + eps).
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };
layout(std430, set = 0, binding = 3) buffer D { float d[]; };

void main()
{
  uint g = graft_global_index();

  if (g >= p.groups)
    return;
  if (MODE == 0u)
    {
      c[g] = (1.0 - p.momentum) * c[g] + p.momentum * a[g];
      d[g] = (1.0 - p.momentum) * d[g] + p.momentum * b[g];
    }
  else
    {
      c[g] = a[g];
      d[g] = 1.0 / sqrt(b[g] + p.eps);
    }
}
