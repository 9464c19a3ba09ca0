// SPDX-License-Identifier: GPL-3.0-or-later
// C = alpha * op(A) op(B) + beta * C + bias, row-major, for GPUs.
// A workgroup computes a BM x BN tile of C: it stages BM x BK of op(A) and BK x BN of
// op(B) in shared memory, then each of its (BM/TM)*(BN/TN) invocations accumulates a
// TM x TN micro-tile in registers. Rows of a micro-tile are contiguous, its columns
// strided by BN/TN so that neighbouring invocations read neighbouring shared words and
// write neighbouring columns of C. Edges are zero-padded: any m, n, k works.
#version 450
#include "graft-common.glsl"   // local_size_x = constant 0 = (BM/TM)*(BN/TN)

layout(constant_id = 1) const uint BM = 64;
layout(constant_id = 2) const uint BN = 64;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 4;
layout(constant_id = 5) const uint TN = 4;
layout(constant_id = 6) const bool TRANS_A = false;  // A stored k x m
layout(constant_id = 7) const bool TRANS_B = false;  // B stored n x k

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };

#include "graft-gemm.glsl"

// One word of padding per k row keeps the transposing stores free of bank conflicts.
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

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; i++)
    acc[i] = 0.0;

  for (uint k0 = p.k0; k0 < p.k1; k0 += BK)
    {
      for (uint l = tid; l < BM * BK; l += threads)
        {
          uint r, kk;
          if (TRANS_A) { r = l % BM; kk = l / BM; }   // consecutive invocations, consecutive m
          else         { kk = l % BK; r = l / BK; }   // consecutive k
          uint gm = m0 + r;
          uint gk = k0 + kk;
          float v = 0.0;
          if (gm < p.m && gk < p.k1)
            v = a[TRANS_A ? gk * p.m + gm : gm * p.k + gk];
          As[kk * AS + r] = v;
        }
      for (uint l = tid; l < BN * BK; l += threads)
        {
          uint j, kk;
          if (TRANS_B) { kk = l % BK; j = l / BK; }
          else         { j = l % BN; kk = l / BN; }
          uint gn = n0 + j;
          uint gk = k0 + kk;
          float v = 0.0;
          if (gn < p.n && gk < p.k1)
            v = b[TRANS_B ? gn * p.k + gk : gk * p.n + gn];
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
            graft_gemm_store(row, col, acc[i * TN + j]);
        }
    }
}
