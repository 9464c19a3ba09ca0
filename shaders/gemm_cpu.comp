// SPDX-License-Identifier: GPL-3.0-or-later
// C = alpha * op(A) op(B) + beta * C + bias, row-major, for CPU implementations of
// Vulkan (lavapipe), which run the invocations of a subgroup as the lanes of SIMD
// registers. What is cheap and dear there is not what it is on a GPU:
//  - a storage-buffer load is a loop over the lanes with a branch per lane, while a
//    texel fetch is one hardware gather: A and B are read as uniform texel buffers
//    (samplerBuffer), as vec4 texels where rows are 16-byte aligned (VEC_A, VEC_B);
//  - shared memory and barriers buy nothing, so there are none: each invocation keeps a
//    TM x TN block of C in registers, its rows shared by the workgroup, its columns its
//    own, and reads op(A) and op(B) directly, 8 k steps per loop iteration;
//  - every variable carried around a loop is written back under the execution mask at
//    each iteration, and arrays are never promoted to registers: the accumulators are
//    named vec4 variables (expanded by the macros below, up to 16 x 16), and the loop
//    does enough work per iteration to amortise the write-back.
// Indices are clamped inside the k loop, so lanes past the edges read valid texels and
// compute values that are never stored.
#version 450
#include "graft-common.glsl"   // local_size_x = constant 0

layout(constant_id = 1) const uint TM = 16;          // rows per invocation, <= 16
layout(constant_id = 2) const uint TN = 8;           // columns per invocation: 4, 8, 12, 16
layout(constant_id = 3) const bool TRANS_A = false;  // A stored k x m
layout(constant_id = 4) const bool TRANS_B = false;  // B stored n x k
layout(constant_id = 5) const bool VEC_A = false;    // A viewed as vec4 texels: k % 4 == 0
                                                     // (TRANS_A: m % 4 == 0, TM % 4 == 0)
layout(constant_id = 6) const bool VEC_B = false;    // B viewed as vec4 texels: n % 4 == 0
                                                     // (TRANS_B: k % 4 == 0)

layout(set = 0, binding = 0) uniform samplerBuffer A;
layout(set = 0, binding = 1) uniform samplerBuffer B;
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) buffer C { float c[]; };

#include "graft-gemm.glsl"

// One element, whichever view (R32F or RGBA32F texels) the host bound.
float fa(uint row, uint kk)
{
  uint i = TRANS_A ? kk * p.m + row : row * p.k + kk;
  return VEC_A ? texelFetch(A, int(i >> 2))[i & 3u] : texelFetch(A, int(i)).x;
}

float fb(uint kk, uint col)
{
  uint i = TRANS_B ? col * p.k + kk : kk * p.n + col;
  return VEC_B ? texelFetch(B, int(i >> 2))[i & 3u] : texelFetch(B, int(i)).x;
}

vec4 fa4(uint element) { return texelFetch(A, int(element >> 2)); }
vec4 fb4(uint element) { return texelFetch(B, int(element >> 2)); }

// Row i of the block: ROWS(X) expands X(i) for i < TM. Column group h (4 columns).
#define ROW(i, X) if (TM > i) { X(i) }
#define ROWS(X) ROW(0, X) ROW(1, X) ROW(2, X) ROW(3, X) ROW(4, X) ROW(5, X) ROW(6, X) ROW(7, X) \
                ROW(8, X) ROW(9, X) ROW(10, X) ROW(11, X) ROW(12, X) ROW(13, X) ROW(14, X) ROW(15, X)
#define ALL_ROWS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) \
                    X(8) X(9) X(10) X(11) X(12) X(13) X(14) X(15)
#define QUADS(X) if (TM > 0) { X(0, 0, 1, 2, 3) } if (TM > 4) { X(1, 4, 5, 6, 7) } \
                 if (TM > 8) { X(2, 8, 9, 10, 11) } if (TM > 12) { X(3, 12, 13, 14, 15) }
#define GROUPS(X) if (TN > 0) { X(0) } if (TN > 4) { X(1) } if (TN > 8) { X(2) } if (TN > 12) { X(3) }

// acc<i>_<h>: C[row0 + i][col0 + 4h .. + 3]; ar<i>: clamped row i.
#define DECL_ROW(i) vec4 acc##i##_0 = vec4(0.0), acc##i##_1 = vec4(0.0); \
                    vec4 acc##i##_2 = vec4(0.0), acc##i##_3 = vec4(0.0); \
                    uint ar##i = min(row0 + i, p.m - 1u);

// ak<i> = op(A)[row i][kb .. kb + 3]
#define DECL_AK(i) vec4 ak##i = vec4(0.0);
#define LOAD_A_VEC_K(i) ak##i = fa4(ar##i * p.k + kb);
#define LOAD_A_VEC_M(q, i0, i1, i2, i3) { \
    uint r = min(row0 + 4u * q, p.m - 4u); \
    vec4 t0 = fa4(kb * p.m + r), t1 = fa4((kb + 1) * p.m + r); \
    vec4 t2 = fa4((kb + 2) * p.m + r), t3 = fa4((kb + 3) * p.m + r); \
    ak##i0 = vec4(t0.x, t1.x, t2.x, t3.x); ak##i1 = vec4(t0.y, t1.y, t2.y, t3.y); \
    ak##i2 = vec4(t0.z, t1.z, t2.z, t3.z); ak##i3 = vec4(t0.w, t1.w, t2.w, t3.w); }
#define LOAD_A_SCALAR(i) \
    ak##i = vec4(fa(ar##i, kb), fa(ar##i, kb + 1), fa(ar##i, kb + 2), fa(ar##i, kb + 3));

// b<s>_<h> = op(B)[kb + s][col0 + 4h .. + 3]
#define DECL_B(h) vec4 b0_##h = vec4(0.0), b1_##h = vec4(0.0), b2_##h = vec4(0.0), b3_##h = vec4(0.0);
#define B_COLS(h) min(uvec4(col0 + 4u * h) + uvec4(0, 1, 2, 3), uvec4(p.n - 1u))
#define LOAD_B_VEC_N(h) { \
    uint cv = min(col0 + 4u * h, p.n - 4u); \
    b0_##h = fb4(kb * p.n + cv); b1_##h = fb4((kb + 1) * p.n + cv); \
    b2_##h = fb4((kb + 2) * p.n + cv); b3_##h = fb4((kb + 3) * p.n + cv); }
#define LOAD_B_VEC_K(h) { \
    uvec4 bc = B_COLS(h); \
    vec4 t0 = fb4(bc.x * p.k + kb), t1 = fb4(bc.y * p.k + kb); \
    vec4 t2 = fb4(bc.z * p.k + kb), t3 = fb4(bc.w * p.k + kb); \
    b0_##h = vec4(t0.x, t1.x, t2.x, t3.x); b1_##h = vec4(t0.y, t1.y, t2.y, t3.y); \
    b2_##h = vec4(t0.z, t1.z, t2.z, t3.z); b3_##h = vec4(t0.w, t1.w, t2.w, t3.w); }
#define B_ROW(kq, bc) vec4(fb(kq, bc.x), fb(kq, bc.y), fb(kq, bc.z), fb(kq, bc.w))
#define LOAD_B_SCALAR(h) { \
    uvec4 bc = B_COLS(h); \
    b0_##h = B_ROW(kb, bc); b1_##h = B_ROW(kb + 1, bc); \
    b2_##h = B_ROW(kb + 2, bc); b3_##h = B_ROW(kb + 3, bc); }

#define FMA_H(i, s, h) acc##i##_##h = fma(vec4(ak##i[s]), b##s##_##h, acc##i##_##h);
#define FMA_S(i, s) { FMA_H(i, s, 0) if (TN > 4) { FMA_H(i, s, 1) } \
                      if (TN > 8) { FMA_H(i, s, 2) } if (TN > 12) { FMA_H(i, s, 3) } }
#define FMA_ROW(i) FMA_S(i, 0) FMA_S(i, 1) FMA_S(i, 2) FMA_S(i, 3)

// Four k steps from kb: load the B and A values, then TM * TN * 4 multiply-adds.
#define BLOCK(kb_) { \
    uint kb = (kb_); \
    DECL_B(0) DECL_B(1) DECL_B(2) DECL_B(3) \
    if (VEC_B && !TRANS_B) { GROUPS(LOAD_B_VEC_N) } \
    else if (VEC_B) { GROUPS(LOAD_B_VEC_K) } \
    else { GROUPS(LOAD_B_SCALAR) } \
    ALL_ROWS(DECL_AK) \
    if (VEC_A && !TRANS_A) { ROWS(LOAD_A_VEC_K) } \
    else if (VEC_A) { QUADS(LOAD_A_VEC_M) } \
    else { ROWS(LOAD_A_SCALAR) } \
    ROWS(FMA_ROW) }

// One k step, for the last k % 8.
#define TAIL_B(h) { uvec4 bc = B_COLS(h); b0_##h = B_ROW(kk, bc); }
#define TAIL_ROW(i) { vec4 ak##i = vec4(fa(ar##i, kk)); FMA_S(i, 0) }

// The epilogue runs once per invocation: its code is kept small (a loop over the rows,
// the block copied to an array first) because on these devices every store and load is
// a loop over the lanes, and unrolled over a 16 x 16 block they would make up most of
// the shader's compile time.
#define SAVE_H(i, h) res[i * TN + 4 * h] = acc##i##_##h.x; res[i * TN + 4 * h + 1] = acc##i##_##h.y; \
                     res[i * TN + 4 * h + 2] = acc##i##_##h.z; res[i * TN + 4 * h + 3] = acc##i##_##h.w;
#define SAVE_ROW(i) SAVE_H(i, 0) if (TN > 4) { SAVE_H(i, 1) } \
                    if (TN > 8) { SAVE_H(i, 2) } if (TN > 12) { SAVE_H(i, 3) }

void main()
{
  uint row0 = p.row0 + gl_WorkGroupID.y * TM;
  uint col0 = p.col0 + gl_GlobalInvocationID.x * TN;
  ALL_ROWS(DECL_ROW)

  uint kk = p.k0;
  for (; kk + 8 <= p.k1; kk += 8)
    {
      BLOCK(kk)
      BLOCK(kk + 4)
    }
  for (; kk < p.k1; kk++)
    {
      DECL_B(0) DECL_B(1) DECL_B(2) DECL_B(3)
      GROUPS(TAIL_B)
      ROWS(TAIL_ROW)
    }

  float res[TM * TN];
  ROWS(SAVE_ROW)
  float bias_at[TN];
  [[unroll]] for (uint j = 0; j < TN; j++)
    bias_at[j] = graft_gemm_bias(min(col0 + j, p.n - 1u));

  [[dont_unroll]] for (uint i = 0; i < TM && row0 + i < p.m; i++)
    [[unroll]] for (uint j = 0; j < TN; j++)
      if (col0 + j < p.n)
        graft_gemm_store_biased(row0 + i, col0 + j, res[i * TN + j], bias_at[j]);
}
