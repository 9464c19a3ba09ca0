// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = a[i] * s   (out may be a). With VEC == 4 each invocation does four elements.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint VEC = 1;   // elements per invocation: 1 or 4

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out4 { vec4 out4[]; };

layout(push_constant) uniform Params {
  uint  n;
  float s;
} p;

void main()
{
  uint i = graft_global_index();
  if (VEC == 4u)
    {
      if (i * 4u + 4u <= p.n)
        out4[i] = a4[i] * p.s;
      else
        for (uint e = i * 4u; e < p.n; e++)
          out_data[e] = a[e] * p.s;
    }
  else if (i < p.n)
    out_data[i] = a[i] * p.s;
}
