// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = a[i] * s   (out may be a)
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };

layout(push_constant) uniform Params {
  uint  n;
  float s;
} p;

void main()
{
  uint i = graft_global_index();
  if (i < p.n)
    out_data[i] = a[i] * p.s;
}
