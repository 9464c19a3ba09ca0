// SPDX-License-Identifier: GPL-3.0-or-later
// Parameters shared by the convolution kernels (see GraftConvPlan). The implicit-GEMM
// kernels see one group's convolution as a matrix product of m rows, ncols columns and
// a reduction of length k, with the im2col gather done as operands are loaded. Each
// invocation keeps a 4 x 4 block of the product in registers, as gemm_cpu does: named
// vec4 accumulators, no shared memory (lanes past an edge load clamped indices and
// compute values that are never stored). The group is gl_WorkGroupID.z, the row block
// gl_WorkGroupID.y.

layout(push_constant) uniform Params {
  uint n, c_in, in_h, in_w;
  uint c_out, out_h, out_w;
  uint kernel_h, kernel_w;
  uint stride_h, stride_w;
  uint pad_h, pad_w;
  uint dilation_h, dilation_w;
  uint groups;
  uint m, ncols, k;    // the group's implicit GEMM
  uint col0;           // first column block of this dispatch
  uint has_bias;
  uint total;          // direct kernels: invocations needed
  uint images;         // weight gradients: images per slice
} p;

#define GRAFT_CONV_FMA(a, b) \
  acc0 = fma(vec4(a.x), b, acc0); acc1 = fma(vec4(a.y), b, acc1); \
  acc2 = fma(vec4(a.z), b, acc2); acc3 = fma(vec4(a.w), b, acc3);

// An implicit GEMM's two input operands (bindings 0 and 1): storage buffers, or with
// GRAFT_CONV_TEXEL uniform texel buffers. GRAFT_CONV_LOAD4 reads four elements; callers
// keep every index inside the buffer and select zeros for taps in the padding.
#ifdef GRAFT_CONV_TEXEL
#define GRAFT_CONV_OPERAND(b, Block, name) \
  layout(set = 0, binding = b) uniform samplerBuffer name##_texels;
#define GRAFT_CONV_AT(name, i) texelFetch(name##_texels, int(i)).x
#else
#define GRAFT_CONV_OPERAND(b, Block, name) \
  layout(std430, set = 0, binding = b) readonly buffer Block { float name[]; };
#define GRAFT_CONV_AT(name, i) name[i]
#endif
#define GRAFT_CONV_LOAD4(name, idx) vec4(GRAFT_CONV_AT(name, (idx).x), GRAFT_CONV_AT(name, (idx).y), \
                                         GRAFT_CONV_AT(name, (idx).z), GRAFT_CONV_AT(name, (idx).w))
