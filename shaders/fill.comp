// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = value. With VEC == 4 each invocation writes four elements as one vec4.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint VEC = 1;   // elements per invocation: 1 or 4

layout(std430, set = 0, binding = 0) writeonly buffer Out { float out_data[]; };
layout(std430, set = 0, binding = 0) writeonly buffer Out4 { vec4 out4[]; };

layout(push_constant) uniform Params {
  uint  n;
  float value;
} p;

void main()
{
  uint i = graft_global_index();
  if (VEC == 4u)
    {
      if (i * 4u + 4u <= p.n)
        out4[i] = vec4(p.value);
      else
        for (uint e = i * 4u; e < p.n; e++)
          out_data[e] = p.value;
    }
  else if (i < p.n)
    out_data[i] = p.value;
}
