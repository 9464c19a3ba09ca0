// SPDX-License-Identifier: GPL-3.0-or-later
// Depthwise conv2d (one input and one output channel per group, MobileNet and
// EfficientNet), direct: an implicit GEMM would have a single row per group.
//  - MODE 0, forward: one invocation per output, bias plus its window's products.
//  - MODE 1, input gradient: one invocation per input, gathering the outputs whose
//    windows cover it (no atomics, a fixed order).
//  - MODE 2, weight gradient: one invocation per (slice, channel, tap), summing over its
//    slice of p.images images and every output position; slices are added in order by
//    conv_reduce.
#version 450
#include "graft-common.glsl"
#include "graft-conv.glsl"

layout(constant_id = 1) const uint MODE = 0;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };     // x, dy, dy
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };     // w, w, x
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Out { float out_data[]; };

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;

  uint C = p.c_in;
  uint taps = p.kernel_h * p.kernel_w;
  uint hw = p.in_h * p.in_w, ohw = p.out_h * p.out_w;
  float sum = 0.0;

  if (MODE == 0u)
    {
      uint plane = i / ohw, pos = i - plane * ohw;
      uint oh = pos / p.out_w, ow = pos - oh * p.out_w;
      uint c = plane % C;
      uint xb = plane * hw, wb = c * taps;
      int h0 = int(oh * p.stride_h) - int(p.pad_h), w0 = int(ow * p.stride_w) - int(p.pad_w);
      sum = p.has_bias != 0u ? bias[c] : 0.0;
      for (uint ki = 0u; ki < p.kernel_h; ki++)
        {
          int h = h0 + int(ki * p.dilation_h);
          if (h < 0 || h >= int(p.in_h))
            continue;
          for (uint kj = 0u; kj < p.kernel_w; kj++)
            {
              int w = w0 + int(kj * p.dilation_w);
              if (w >= 0 && w < int(p.in_w))
                sum = fma(b[wb + ki * p.kernel_w + kj], a[xb + uint(h) * p.in_w + uint(w)], sum);
            }
        }
    }
  else if (MODE == 1u)
    {
      uint plane = i / hw, pos = i - plane * hw;
      uint ih = pos / p.in_w, iw = pos - ih * p.in_w;
      uint c = plane % C;
      uint dyb = plane * ohw, wb = c * taps;
      for (uint ki = 0u; ki < p.kernel_h; ki++)
        {
          int th = int(ih + p.pad_h) - int(ki * p.dilation_h);
          if (th < 0 || uint(th) % p.stride_h != 0u || uint(th) / p.stride_h >= p.out_h)
            continue;
          uint oh = uint(th) / p.stride_h;
          for (uint kj = 0u; kj < p.kernel_w; kj++)
            {
              int tw = int(iw + p.pad_w) - int(kj * p.dilation_w);
              if (tw < 0 || uint(tw) % p.stride_w != 0u || uint(tw) / p.stride_w >= p.out_w)
                continue;
              sum = fma(b[wb + ki * p.kernel_w + kj], a[dyb + oh * p.out_w + uint(tw) / p.stride_w], sum);
            }
        }
    }
  else
    {
      uint per_slice = C * taps;
      uint slice = i / per_slice, rest = i - slice * per_slice;
      uint c = rest / taps, t = rest - c * taps;
      uint ki = t / p.kernel_w, kj = t - ki * p.kernel_w;
      int hoff = int(ki * p.dilation_h) - int(p.pad_h), woff = int(kj * p.dilation_w) - int(p.pad_w);
      uint img1 = min((slice + 1u) * p.images, p.n);
      for (uint img = slice * p.images; img < img1; img++)
        {
          uint plane = img * C + c;
          for (uint oh = 0u; oh < p.out_h; oh++)
            {
              int h = int(oh * p.stride_h) + hoff;
              if (h < 0 || h >= int(p.in_h))
                continue;
              uint xrow = plane * hw + uint(h) * p.in_w, dyrow = plane * ohw + oh * p.out_w;
              for (uint ow = 0u; ow < p.out_w; ow++)
                {
                  int w = int(ow * p.stride_w) + woff;
                  if (w >= 0 && w < int(p.in_w))
                    sum = fma(a[dyrow + ow], b[xrow + uint(w)], sum);
                }
            }
        }
    }
  out_data[i] = sum;
}
