// SPDX-License-Identifier: GPL-3.0-or-later
// attn_gemm.comp (see there: the same product over the same strided views) for CPU
// implementations of Vulkan (lavapipe), laid out as conv_forward_texel and gemm_cpu
// found best there: no shared memory or barriers, the two input operands read as
// uniform texel buffers (one gather per fetch instead of a loop over the lanes), and
// each invocation keeping a 4 x 4 block of C in named vec4 accumulators. Lanes past an
// edge fetch clamped indices and compute values that are never stored.
// The item (sequence, head) is gl_WorkGroupID.z + item0, the row block gl_WorkGroupID.y.
#version 450
#include "graft-common.glsl"   // local_size_x = constant 0: column blocks per workgroup

layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Params {
  uint  m, n, k;
  uint  heads;
  float alpha;
  uint  row0, col0, item0;   // col0 counts column blocks of 4 here
  uint  a_off, a_seq, a_head, a_row, a_col;
  uint  b_off, b_seq, b_head, b_row, b_col;
  uint  c_off, c_seq, c_head, c_row;
} p;

#define FETCH4(T, idx) vec4(texelFetch(T, int((idx).x)).x, texelFetch(T, int((idx).y)).x, \
                            texelFetch(T, int((idx).z)).x, texelFetch(T, int((idx).w)).x)

void main()
{
  uint item = p.item0 + gl_WorkGroupID.z;
  uint s = item / p.heads;
  uint h = item - s * p.heads;
  uint r0 = p.row0 + gl_WorkGroupID.y * 4u;
  uint j0 = (p.col0 + gl_GlobalInvocationID.x) * 4u;
  if (j0 >= p.n)
    return;

  uvec4 r = min(uvec4(r0) + uvec4(0, 1, 2, 3), uvec4(p.m - 1u));
  uvec4 j = min(uvec4(j0) + uvec4(0, 1, 2, 3), uvec4(p.n - 1u));
  uvec4 ai = uvec4(p.a_off + s * p.a_seq + h * p.a_head) + r * p.a_row;
  uvec4 bj = uvec4(p.b_off + s * p.b_seq + h * p.b_head) + j * p.b_col;

  vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
  for (uint kk = 0u; kk < p.k; kk++)
    {
      vec4 a = FETCH4(A, ai + kk * p.a_col);
      vec4 b = FETCH4(B, bj + kk * p.b_row);
      acc0 = fma(vec4(a.x), b, acc0);
      acc1 = fma(vec4(a.y), b, acc1);
      acc2 = fma(vec4(a.z), b, acc2);
      acc3 = fma(vec4(a.w), b, acc3);
    }

  uint c_base = p.c_off + s * p.c_seq + h * p.c_head;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    {
      if (r0 + i >= p.m)
        break;
      vec4 v = i == 0u ? acc0 : i == 1u ? acc1 : i == 2u ? acc2 : acc3;
      uint row = c_base + (r0 + i) * p.c_row;
      [[unroll]] for (uint t = 0u; t < 4u; t++)
        if (j0 + t < p.n)
          c[row + j0 + t] = p.alpha * v[t];
    }
}
