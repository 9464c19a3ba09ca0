// SPDX-License-Identifier: GPL-3.0-or-later
// Nearest upsampling by an integer scale: one invocation per output, reading input
// (h / scale, w / scale) of its plane.
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float out_data[]; };

layout(push_constant) uniform Params {
  uint planes, in_h, in_w, scale;
  uint total;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.total)
    return;
  uint out_w = p.in_w * p.scale, out_h = p.in_h * p.scale;
  uint t = i / out_w;
  uint w = i - t * out_w;
  uint plane = t / out_h;
  uint h = t - plane * out_h;
  out_data[i] = x[(plane * p.in_h + h / p.scale) * p.in_w + w / p.scale];
}
