// SPDX-License-Identifier: GPL-3.0-or-later
// avg_pool2d and adaptive_avg_pool2d forward: one invocation per output, summing its
// window. avg_pool2d clips the window to the padded input and divides by its size
// (count_include_pad) or by the number of inputs in it; a window wholly in the padding
// gives 0. adaptive_avg_pool2d averages PyTorch's bins.
#version 450
#include "graft-common.glsl"
#include "graft-pool.glsl"

layout(constant_id = 1) const uint ADAPTIVE = 0;   // 0: avg_pool2d, 1: adaptive

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };

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
  int h0, h1, w0, w1, divisor;

  if (ADAPTIVE != 0u)
    {
      graft_adaptive_window(oh, p.in_h, p.out_h, h0, h1);
      graft_adaptive_window(ow, p.in_w, p.out_w, w0, w1);
      divisor = (h1 - h0) * (w1 - w0);
    }
  else
    divisor = graft_avg_window(oh, p.in_h, p.kernel_h, p.stride_h, p.pad_h, h0, h1) *
              graft_avg_window(ow, p.in_w, p.kernel_w, p.stride_w, p.pad_w, w0, w1);

  if (h0 >= h1 || w0 >= w1)
    {
      out_data[i] = 0.0;
      return;
    }

  float sum = 0.0;
  for (int h = h0; h < h1; h++)
    {
      uint row = base + uint(h) * p.in_w;
      for (int w = w0; w < w1; w++)
        sum += x[row + uint(w)];
    }
  out_data[i] = sum / float(divisor);
}
