// SPDX-License-Identifier: GPL-3.0-or-later
// max_pool2d forward: one invocation per output. Padding counts as -inf; the first
// maximum in scan order wins and a NaN beats everything, as in PyTorch. With INDICES
// the argmax's position h * in_w + w within its plane is stored as a float (exact: the
// host keeps planes below 2^24 values); -1 for a window with no input in it.
#version 450
#include "graft-common.glsl"
#include "graft-pool.glsl"

layout(constant_id = 1) const uint INDICES = 0;   // 1: write the argmax positions

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Indices { float indices[]; };

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;

  uint t = i / p.out_w;
  uint ow = i - t * p.out_w;
  uint plane = t / p.out_h;
  uint oh = t - plane * p.out_h;
  uint base = plane * p.in_h * p.in_w;
  int h0 = int(oh * p.stride_h) - int(p.pad_h);
  int w0 = int(ow * p.stride_w) - int(p.pad_w);
  float best = uintBitsToFloat(0xff800000u);   // -inf
  int best_i = -1;

  for (uint kh = 0u; kh < p.kernel_h; kh++)
    {
      int h = h0 + int(kh * p.dilation_h);
      if (h < 0 || h >= int(p.in_h))
        continue;
      for (uint kw = 0u; kw < p.kernel_w; kw++)
        {
          int w = w0 + int(kw * p.dilation_w);
          if (w < 0 || w >= int(p.in_w))
            continue;
          int pos = h * int(p.in_w) + w;
          float v = x[base + uint(pos)];
          if (best_i < 0 || v > best || isnan(v))
            {
              best = v;
              best_i = pos;
            }
        }
    }

  out_data[i] = best;
  if (INDICES != 0u)
    indices[i] = float(best_i);
}
