// SPDX-License-Identifier: GPL-3.0-or-later
// max_pool2d backward without atomics: one invocation per input, which gathers the
// gradient of every output whose window covers it and whose stored argmax names it.
// Output row oh covers input row h when h + pad_h - kh * dilation_h == oh * stride_h for
// some kh < kernel_h; kh runs downwards so that outputs are visited in ascending order,
// the order in which the CPU backend scatters them.
#version 450
#include "graft-common.glsl"
#include "graft-pool.glsl"

layout(std430, set = 0, binding = 0) readonly buffer GradOut { float grad_out[]; };
layout(std430, set = 0, binding = 1) readonly buffer Indices { float indices[]; };
layout(std430, set = 0, binding = 2) writeonly buffer GradIn { float grad_in[]; };

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;

  uint t = i / p.in_w;
  uint w = i - t * p.in_w;
  uint plane = t / p.in_h;
  uint h = t - plane * p.in_h;
  float target = float(h * p.in_w + w);
  uint out_base = plane * p.out_h * p.out_w;
  float sum = 0.0;

  for (int kh = int(p.kernel_h) - 1; kh >= 0; kh--)
    {
      int th = int(h + p.pad_h) - kh * int(p.dilation_h);
      if (th < 0)
        continue;
      uint oh = uint(th) / p.stride_h;
      if (oh * p.stride_h != uint(th) || oh >= p.out_h)
        continue;
      for (int kw = int(p.kernel_w) - 1; kw >= 0; kw--)
        {
          int tw = int(w + p.pad_w) - kw * int(p.dilation_w);
          if (tw < 0)
            continue;
          uint ow = uint(tw) / p.stride_w;
          if (ow * p.stride_w != uint(tw) || ow >= p.out_w)
            continue;
          uint o = out_base + oh * p.out_w + ow;
          if (indices[o] == target)
            sum += grad_out[o];
        }
    }

  grad_in[i] = sum;
}
