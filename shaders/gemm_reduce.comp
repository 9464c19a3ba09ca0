// SPDX-License-Identifier: GPL-3.0-or-later
// The end of a split-K GEMM: C = alpha * (sum over the parts s < parts of partial[s]) +
// beta * C + bias, one invocation per element of C, the parts added in order. The GEMM
// kernels wrote each part's product of [k0, k1) with alpha 1 and no epilogue.
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer Partial { float partial[]; };
layout(std430, set = 0, binding = 1) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 2) buffer C { float c[]; };

layout(push_constant) uniform Params {
  uint  size;    // m * n
  uint  n;
  uint  parts;
  uint  flags;   // GRAFT_GEMM_HAS_BIAS, GRAFT_GEMM_READ_C as in graft-gemm.glsl
  float alpha;
  float beta;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.size)
    return;

  float sum = 0.0;
  for (uint s = 0u; s < p.parts; s++)
    sum += partial[s * p.size + i];
  float v = p.alpha * sum;
  if ((p.flags & 2u) != 0u)
    v = fma(p.beta, c[i], v);
  c[i] = v + ((p.flags & 1u) != 0u ? bias[i % p.n] : 0.0);
}
