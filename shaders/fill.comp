// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = value
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) writeonly buffer Out { float out_data[]; };

layout(push_constant) uniform Params {
  uint  n;
  float value;
} p;

void main()
{
  uint i = graft_global_index();
  if (i < p.n)
    out_data[i] = p.value;
}
