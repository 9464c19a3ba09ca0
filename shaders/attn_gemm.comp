// SPDX-License-Identifier: GPL-3.0-or-later
// Batched strided GEMM for attention: for each item z = (sequence s, head h),
//   C_z[i, j] = alpha * sum_kk A_z[i, kk] * B_z[kk, j]
// where every operand is a strided view into a larger buffer:
//   A_z[i, kk] = a[a_off + s * a_seq + h * a_head + i * a_row + kk * a_col], likewise B,
//   C_z[i, j]  = c[c_off + s * c_seq + h * c_head + i * c_row + j].
// Row and column strides express the transposes (a column stride of 1 is a row-major
// matrix, a row stride of 1 its transpose), so one kernel serves q k^T, P v and the four
// products of the backward pass straight on the packed qkv, with no copies.
// A workgroup computes a BM x BN tile of one item through shared memory, each invocation
// a TM x TN micro-tile in registers, as gemm_tiled does. Edges are zero-padded.
#version 450
#include "graft-common.glsl"   // local_size_x = constant 0 = (BM/TM)*(BN/TN)

layout(constant_id = 1) const uint BM = 32;
layout(constant_id = 2) const uint BN = 32;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) writeonly buffer C { float c[]; };

layout(push_constant) uniform Params {
  uint  m, n, k;
  uint  heads;
  float alpha;
  uint  row0, col0, item0;   // where this dispatch starts, when a grid takes several
  uint  a_off, a_seq, a_head, a_row, a_col;
  uint  b_off, b_seq, b_head, b_row, b_col;
  uint  c_off, c_seq, c_head, c_row;
} p;

const uint AS = BM + 1;
const uint BS = BN + 1;
shared float As[BK * AS];   // [kk][row]
shared float Bs[BK * BS];   // [kk][col]

void main()
{
  const uint threads = gl_WorkGroupSize.x;
  const uint tcols = BN / TN;
  uint tid = gl_LocalInvocationID.x;
  uint tr = tid / tcols;
  uint tc = tid % tcols;
  uint m0 = p.row0 + gl_WorkGroupID.y * BM;
  uint n0 = p.col0 + gl_WorkGroupID.x * BN;
  uint item = p.item0 + gl_WorkGroupID.z;
  uint s = item / p.heads;
  uint h = item - s * p.heads;
  uint a_base = p.a_off + s * p.a_seq + h * p.a_head;
  uint b_base = p.b_off + s * p.b_seq + h * p.b_head;
  uint c_base = p.c_off + s * p.c_seq + h * p.c_head;
  // Neighbouring invocations load along whichever index is contiguous in memory.
  bool a_k_fast = p.a_col == 1u;
  bool b_n_fast = p.b_col == 1u;

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; i++)
    acc[i] = 0.0;

  for (uint k0 = 0; k0 < p.k; k0 += BK)
    {
      for (uint l = tid; l < BM * BK; l += threads)
        {
          uint r = a_k_fast ? l / BK : l % BM;
          uint kk = a_k_fast ? l % BK : l / BM;
          uint gm = m0 + r;
          uint gk = k0 + kk;
          float v = 0.0;
          if (gm < p.m && gk < p.k)
            v = a[a_base + gm * p.a_row + gk * p.a_col];
          As[kk * AS + r] = v;
        }
      for (uint l = tid; l < BN * BK; l += threads)
        {
          uint j = b_n_fast ? l % BN : l / BK;
          uint kk = b_n_fast ? l / BN : l % BK;
          uint gn = n0 + j;
          uint gk = k0 + kk;
          float v = 0.0;
          if (gn < p.n && gk < p.k)
            v = b[b_base + gk * p.b_row + gn * p.b_col];
          Bs[kk * BS + j] = v;
        }
      barrier();

      for (uint kk = 0; kk < BK; kk++)
        {
          float ra[TM];
          float rb[TN];
          [[unroll]] for (uint i = 0; i < TM; i++)
            ra[i] = As[kk * AS + tr * TM + i];
          [[unroll]] for (uint j = 0; j < TN; j++)
            rb[j] = Bs[kk * BS + tc + j * tcols];
          [[unroll]] for (uint i = 0; i < TM; i++)
            [[unroll]] for (uint j = 0; j < TN; j++)
              acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
        }
      barrier();
    }

  [[unroll]] for (uint i = 0; i < TM; i++)
    {
      uint row = m0 + tr * TM + i;
      [[unroll]] for (uint j = 0; j < TN; j++)
        {
          uint col = n0 + tc + j * tcols;
          if (row < p.m && col < p.n)
            c[c_base + row * p.c_row + col] = p.alpha * acc[i * TN + j];
        }
    }
}
