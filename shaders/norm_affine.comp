// SPDX-License-Identifier: GPL-3.0-or-later
// dst = src * weight + bias for every element, weight and bias indexed by the group
// (batch norm's channel) or, with PER_FEATURE, the inner index (layer norm's feature).
// HAS_WEIGHT / HAS_BIAS off: 1 and 0. dst may be src: each invocation reads, then
// writes, its own element.
#version 450
#include "graft-common.glsl"
#include "graft-norm.glsl"

layout(constant_id = 1) const uint HAS_WEIGHT = 1;
layout(constant_id = 2) const uint HAS_BIAS = 1;
layout(constant_id = 3) const uint PER_FEATURE = 0;

layout(std430, set = 0, binding = 0) buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) readonly buffer W { float weight[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer Dst { float dst[]; };

void main()
{
  uint e = graft_global_index();

  if (e >= p.total)
    return;
  uint k = PER_FEATURE != 0u ? e % p.inner : graft_norm_group(e);
  float v = src[e];
  if (HAS_WEIGHT != 0u)
    v *= weight[k];
  if (HAS_BIAS != 0u)
    v += bias[k];
  dst[e] = v;
}
