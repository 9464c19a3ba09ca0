// SPDX-License-Identifier: GPL-3.0-or-later
// Parameters and epilogue shared by the GEMM kernels. The including shader declares
// the buffers bias[] (binding 2) and c[] (binding 3) first.

#define GRAFT_GEMM_HAS_BIAS 1u
#define GRAFT_GEMM_READ_C   2u   // beta != 0; with beta == 0, C may hold NaNs

layout(push_constant) uniform Params {
  uint  m;
  uint  n;
  uint  k;
  uint  flags;
  float alpha;
  float beta;
  uint  row0;    // where this dispatch starts, when a large C takes several
  uint  col0;
  uint  k0, k1;  // the part of the reduction this dispatch sums (split-K: [k0, k1) of k)
  uint  c0;      // where C starts in its buffer (split-K: this part's partial product)
} p;

// C[row, col] = alpha * sum + beta * C[row, col] + bias_value
void graft_gemm_store_biased(uint row, uint col, float sum, float bias_value)
{
  uint idx = p.c0 + row * p.n + col;
  float v = p.alpha * sum;
  if ((p.flags & GRAFT_GEMM_READ_C) != 0u)
    v = fma(p.beta, c[idx], v);
  c[idx] = v + bias_value;
}

float graft_gemm_bias(uint col)
{
  return (p.flags & GRAFT_GEMM_HAS_BIAS) != 0u ? bias[col] : 0.0;
}

void graft_gemm_store(uint row, uint col, float sum)
{
  graft_gemm_store_biased(row, col, sum, graft_gemm_bias(col));
}
