// SPDX-License-Identifier: GPL-3.0-or-later
// The small reductions of conv2d's backward pass, one invocation per output value:
//  - MODE 0 (dbias): out[co] = sum over images and output positions of dy, in order;
//  - MODE 1 (slices): out[i] = sum over s < n of partial[s * total + i], in slice order;
//  - MODE 2 (dbias in chunks, where the device limits an invocation's loop iterations):
//    out[s * c_out + co] = the sum of chunk s of channel co's n x out_h x out_w values of
//    dy, k of them (in image, then position order) per chunk; MODE 1 then adds the
//    chunks in order. total = chunks x c_out.
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
  else if (MODE == 1u)
    for (uint s = 0u; s < p.n; s++)
      sum += src[s * p.total + i];
  else
    {
      uint ohw = p.out_h * p.out_w;
      uint s = i / p.c_out, co = i - s * p.c_out;
      uint j0 = s * p.k, j1 = min(j0 + p.k, p.n * ohw);
      uint img = j0 / ohw, q = j0 - img * ohw;
      uint base = (img * p.c_out + co) * ohw;
      for (uint j = j0; j < j1; j++)
        {
          sum += src[base + q];
          if (++q == ohw)
            {
              q = 0u;
              base += p.c_out * ohw;
            }
        }
    }
  out_data[i] = sum;
}
