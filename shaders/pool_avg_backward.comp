// SPDX-License-Identifier: GPL-3.0-or-later
// avg_pool2d and adaptive_avg_pool2d backward without atomics: one invocation per input
// gathers grad_out / divisor over the windows that cover it, in ascending output order
// (the CPU backend's scatter order).
// avg_pool2d: output row oh covers input row h when oh * stride - pad <= h, and
// h < oh * stride - pad + kernel (the clip at size + pad never cuts off an input row).
// adaptive: the first bin holding row h is floor(h * out_h / in_h); bins that start at
// or before h follow it.
#version 450
#include "graft-common.glsl"
#include "graft-pool.glsl"

layout(constant_id = 1) const uint ADAPTIVE = 0;   // 0: avg_pool2d, 1: adaptive

layout(std430, set = 0, binding = 0) readonly buffer GradOut { float grad_out[]; };
layout(std430, set = 0, binding = 1) writeonly buffer GradIn { float grad_in[]; };

// Outputs [first, last] along one axis whose avg_pool2d windows hold input position x.
void covering(uint x, uint kernel, uint stride, uint pad, uint n_out, out int first, out int last)
{
  int lo = int(x + pad) - int(kernel) + 1;
  first = lo <= 0 ? 0 : (lo + int(stride) - 1) / int(stride);
  last = min(int((x + pad) / stride), int(n_out) - 1);
}

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;

  uint t = i / p.in_w;
  uint w = i - t * p.in_w;
  uint plane = t / p.in_h;
  uint h = t - plane * p.in_h;
  uint out_base = plane * p.out_h * p.out_w;
  float sum = 0.0;

  if (ADAPTIVE != 0u)
    {
      for (uint oh = (h * p.out_h) / p.in_h; oh < p.out_h; oh++)
        {
          int h0, h1;
          graft_adaptive_window(oh, p.in_h, p.out_h, h0, h1);
          if (h0 > int(h))
            break;
          for (uint ow = (w * p.out_w) / p.in_w; ow < p.out_w; ow++)
            {
              int w0, w1;
              graft_adaptive_window(ow, p.in_w, p.out_w, w0, w1);
              if (w0 > int(w))
                break;
              sum += grad_out[out_base + oh * p.out_w + ow] / float((h1 - h0) * (w1 - w0));
            }
        }
    }
  else
    {
      int oh0, oh1, ow0, ow1;
      covering(h, p.kernel_h, p.stride_h, p.pad_h, p.out_h, oh0, oh1);
      covering(w, p.kernel_w, p.stride_w, p.pad_w, p.out_w, ow0, ow1);
      for (int oh = oh0; oh <= oh1; oh++)
        {
          int h0, h1;
          int dh = graft_avg_window(uint(oh), p.in_h, p.kernel_h, p.stride_h, p.pad_h, h0, h1);
          for (int ow = ow0; ow <= ow1; ow++)
            {
              int w0, w1;
              int dw = graft_avg_window(uint(ow), p.in_w, p.kernel_w, p.stride_w, p.pad_w, w0, w1);
              sum += grad_out[out_base + uint(oh) * p.out_w + uint(ow)] / float(dh * dw);
            }
        }
    }

  grad_in[i] = sum;
}
