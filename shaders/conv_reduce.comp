// SPDX-License-Identifier: GPL-3.0-or-later
// The small reductions of conv2d's backward pass, one invocation per output value:
//  - MODE 0 (dbias): out[co] = sum over images and output positions of dy, in order;
//  - MODE 1 (slices): out[i] = sum over s < n of partial[s * total + i], in slice order.
#version 450
#include "graft-common.glsl"
#include "graft-conv.glsl"

layout(constant_id = 1) const uint MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;

  float sum = 0.0;
  if (MODE == 0u)
    {
      uint ohw = p.out_h * p.out_w;
      for (uint img = 0u; img < p.n; img++)
        {
          uint base = (img * p.c_out + i) * ohw;
          for (uint q = 0u; q < ohw; q++)
            sum += src[base + q];
        }
    }
  else
    for (uint s = 0u; s < p.n; s++)
      sum += src[s * p.total + i];
  out_data[i] = sum;
}
