// SPDX-License-Identifier: GPL-3.0-or-later
// out[i] = a[ia] (+ or *) b[ib] with NumPy broadcasting: i runs over the output shape,
// ia and ib are the dot products of its coordinates with each operand's strides (0 along
// broadcast dimensions). The host merges contiguous dimensions and drops those of size 1
// first, then picks a mode: when both operands run along the output, or one of them is
// a single value, an invocation does four elements as vec4s; otherwise it walks the
// coordinates, dividing by each dimension with a multiply-high by a magic number the
// host computed (an integer division is a slow loop over the lanes on CPU devices).
// When the innermost dimension is a multiple of 4 long and each operand moves along it
// with stride 0 (read as one value) or 1 (other strides multiples of 4, read as vec4s),
// as for a bias per column or a scale per channel, the walk is done once per four
// elements.
// out may be a or b when that operand has the output's shape.
#version 450
#include "graft-common.glsl"

#define GRAFT_MAX_RANK 6

layout(constant_id = 1) const uint OP = 0;     // 0: add, 1: mul
layout(constant_id = 2) const uint MODE = 0;   // 0: strided, 1: a and b contiguous,
                                               // 2: b a single value, 3: a a single value,
                                               // 4: strided, four elements at a time

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 0) readonly buffer A4 { vec4 a4[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 1) readonly buffer B4 { vec4 b4[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Out { float out_data[]; };
layout(std430, set = 0, binding = 2) writeonly buffer Out4 { vec4 out4[]; };

// The outermost dimension needs no division (what is left of the index is its
// coordinate), so only dimensions d >= 1 have a magic number and shift; the shifts (< 32)
// share one word with the rank, which keeps the block small enough to carry three
// device addresses in 128 bytes.
layout(push_constant) uniform Params {
  uint n;
  uint rank_shift;                 // bits 0-2: rank; bits 3 + 5 (d - 1) ..: shift[d], d >= 1
  uint shape[GRAFT_MAX_RANK];      // outermost first, every entry >= 2
  uint a_strides[GRAFT_MAX_RANK];
  uint b_strides[GRAFT_MAX_RANK];
  uint magic[GRAFT_MAX_RANK];      // x / shape[d] == (t + ((x - t) >> 1)) >> shift[d],
                                   //   t = umulhi(x, magic[d])
} p;

uint rank()
{
  return p.rank_shift & 7u;
}

float combine(float x, float y)
{
  return OP == 0u ? x + y : x * y;
}

vec4 combine4(vec4 x, vec4 y)
{
  return OP == 0u ? x + y : x * y;
}

uint div_dim(uint x, int d)
{
  uint hi, lo;
  umulExtended(x, p.magic[d], hi, lo);
  return (hi + ((x - hi) >> 1)) >> ((p.rank_shift >> (3 + 5 * (d - 1))) & 31u);
}

// Where element i (< n) of the output reads a and b.
uvec2 operand_index(uint i)
{
  uint rest = i;
  uvec2 index = uvec2(0u);
  for (int d = int(rank()) - 1; d >= 1; d--)
    {
      uint q = div_dim(rest, d);
      uint coord = rest - q * p.shape[d];
      rest = q;
      index += coord * uvec2(p.a_strides[d], p.b_strides[d]);
    }
  return index + rest * uvec2(p.a_strides[0], p.b_strides[0]);
}

float element(uint i)
{
  if (MODE == 1u)
    return combine(a[i], b[i]);
  if (MODE == 2u)
    return combine(a[i], b[0]);
  if (MODE == 3u)
    return combine(a[0], b[i]);

  uvec2 index = operand_index(i);
  return combine(a[index.x], b[index.y]);
}

void main()
{
  uint i = graft_global_index();

  if (MODE == 0u)
    {
      if (i < p.n)
        out_data[i] = element(i);
      return;
    }

  if (MODE == 4u)
    {
      // n is a multiple of 4 here; the four elements share every coordinate but the
      // innermost, along which each operand has stride 0 or 1.
      if (i * 4u < p.n)
        {
          uvec2 index = operand_index(i * 4u);
          uint inner = rank() - 1u;
          vec4 x = p.a_strides[inner] == 1u ? a4[index.x >> 2] : vec4(a[index.x]);
          vec4 y = p.b_strides[inner] == 1u ? b4[index.y >> 2] : vec4(b[index.y]);
          out4[i] = combine4(x, y);
        }
      return;
    }

  if (i * 4u + 4u <= p.n)
    {
      vec4 x = MODE == 3u ? vec4(a[0]) : a4[i];
      vec4 y = MODE == 2u ? vec4(b[0]) : b4[i];
      out4[i] = combine4(x, y);
    }
  else
    for (uint e = i * 4u; e < p.n; e++)
      out_data[e] = element(e);
}
