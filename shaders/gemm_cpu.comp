// SPDX-License-Identifier: GPL-3.0-or-later
// C = alpha * op(A) op(B) + beta * C + bias, row-major, for CPU implementations of
// Vulkan (lavapipe), which run one invocation per SIMD lane and gain nothing from shared
// memory. Each invocation owns a TM x TN block of C held in registers and reads A and B
// directly; a workgroup shares one row block, so its reads of A are the same address in
// every lane. Indices are clamped inside the k loop and masked only at the store.
#version 450
#include "graft-common.glsl"   // local_size_x = constant 0

layout(constant_id = 1) const uint TM = 4;
layout(constant_id = 2) const uint TN = 8;
layout(constant_id = 3) const bool TRANS_A = false;  // A stored k x m
layout(constant_id = 4) const bool TRANS_B = false;  // B stored n x k

layout(std430, set = 0, binding = 0) readonly buffer A { float a[]; };
layout(std430, set = 0, binding = 1) readonly buffer B { float b[]; };
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };

#include "graft-gemm.glsl"

void main()
{
  uint row0 = p.row0 + gl_WorkGroupID.y * TM;
  uint col0 = p.col0 + gl_GlobalInvocationID.x * TN;
  if (col0 >= p.n)
    return;

  // Clamped rows and columns: out-of-range lanes compute duplicates that are not stored.
  uint arow[TM];
  uint bcol[TN];
  [[unroll]] for (uint i = 0; i < TM; i++)
    arow[i] = min(row0 + i, p.m - 1);
  [[unroll]] for (uint j = 0; j < TN; j++)
    bcol[j] = min(col0 + j, p.n - 1);

  float acc[TM * TN];
  [[unroll]] for (uint i = 0; i < TM * TN; i++)
    acc[i] = 0.0;

  for (uint kk = 0; kk < p.k; kk++)
    {
      float ra[TM];
      float rb[TN];
      [[unroll]] for (uint i = 0; i < TM; i++)
        ra[i] = a[TRANS_A ? kk * p.m + arow[i] : arow[i] * p.k + kk];
      [[unroll]] for (uint j = 0; j < TN; j++)
        rb[j] = b[TRANS_B ? bcol[j] * p.k + kk : kk * p.n + bcol[j]];
      [[unroll]] for (uint i = 0; i < TM; i++)
        [[unroll]] for (uint j = 0; j < TN; j++)
          acc[i * TN + j] = fma(ra[i], rb[j], acc[i * TN + j]);
    }

  [[unroll]] for (uint i = 0; i < TM; i++)
    {
      uint row = row0 + i;
      [[unroll]] for (uint j = 0; j < TN; j++)
        {
          uint col = col0 + j;
          if (row < p.m && col < p.n)
            graft_gemm_store(row, col, acc[i * TN + j]);
        }
    }
}
