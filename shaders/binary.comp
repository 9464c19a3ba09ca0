// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = a[ia] (+ or *) b[ib] with NumPy broadcasting: i runs over the output shape,
// ia and ib are the dot products of its coordinates with each operand's strides (0 along
// broadcast dimensions). The host merges contiguous dimensions first, so most calls walk
// one or two. out may be a or b when that operand has the output's shape.
#version 450
#include "graft-common.glsl"

#define GRAFT_MAX_RANK 6

layout(constant_id = 1) const uint OP = 0;          // 0: add, 1: mul
layout(constant_id = 2) const uint CONTIGUOUS = 0;  // 1: a, b and out share one layout

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Out { float out_data[]; };

layout(push_constant) uniform Params {
  uint rank;
  uint n;
  uint shape[GRAFT_MAX_RANK];      // outermost first
  uint a_strides[GRAFT_MAX_RANK];
  uint b_strides[GRAFT_MAX_RANK];
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.n)
    return;

  uint ia = i;
  uint ib = i;
  if (CONTIGUOUS == 0)
    {
      uint rest = i;
      ia = 0;
      ib = 0;
      for (int d = int(p.rank) - 1; d >= 0; d--)
        {
          uint coord = rest % p.shape[d];
          rest /= p.shape[d];
          ia += coord * p.a_strides[d];
          ib += coord * p.b_strides[d];
        }
    }

  float x = a[ia];
  float y = b[ib];
  out_data[i] = OP == 0 ? x + y : x * y;
}
