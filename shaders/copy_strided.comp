// SPDX-License-Identifier: GPL-3.0-or-later
// Strided copy: dst[o * dst_stride + dst_offset + i] = src[o * src_stride + src_offset + i]
// for o < outer, i < block; one invocation per copied value (channel concatenation).
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Src { float src[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Dst { float dst[]; };

layout(push_constant) uniform Params {
  uint outer, block;
  uint src_stride, src_offset;
  uint dst_stride, dst_offset;
  uint total;
} p;

void main()
{
  uint e = graft_global_index();
  if (e >= p.total)
    return;
  uint o = e / p.block;
  uint i = e - o * p.block;
  dst[o * p.dst_stride + p.dst_offset + i] = src[o * p.src_stride + p.src_offset + i];
}
