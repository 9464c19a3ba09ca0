/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The op table every backend implements. Only compute/ includes this file.
 *
 * Contract for implementations:
 *  - Arguments have been validated by the front end (compute/tensor/graft-ops.c):
 *    shapes agree, buffers are large enough, sizes fit in 32 bits.
 *  - Ops may run asynchronously. buffer_read() and synchronize() return only once every
 *    earlier op has finished; buffer_write() is ordered after earlier ops that use the
 *    buffer; buffer_free() may be called while ops using the buffer are still in flight
 *    and must defer the release until they finish.
 *  - Runtime failures are GErrors in GRAFT_DEVICE_ERROR, never aborts.
 *  - All sizes are in bytes for buffers and in elements (float32) for ops. */

#include "graft-backend.h"
#include "tensor/graft-ops.h"   /* GraftActivation */

G_BEGIN_DECLS

typedef struct _GraftBuffer GraftBuffer; /* defined by each backend */

#define GRAFT_MAX_RANK 6

typedef enum {
  GRAFT_BINARY_ADD,
  GRAFT_BINARY_MUL,
} GraftBinaryOp;

/* out[i] = a[ia] (op) b[ib] where i runs over the output shape and ia/ib are the
 * broadcast positions: index = sum(coord[d] * strides[d]), stride 0 where broadcast.
 * Dimensions are outermost first; unused leading dimensions have shape 1. */
typedef struct {
  guint32 rank;
  guint32 shape[GRAFT_MAX_RANK];
  guint32 a_strides[GRAFT_MAX_RANK];
  guint32 b_strides[GRAFT_MAX_RANK];
  guint32 n;                      /* product of shape */
} GraftBroadcast;

/* C[m,n] = alpha * sum_k op(A)[m,k] * op(B)[k,n] + beta * C[m,n] + bias[n]
 * Row-major. op(A) is A (m x k, lda = k) or A^T with A stored k x m (lda = m);
 * op(B) is B (k x n, ldb = n) or B^T with B stored n x k (ldb = k). bias may be NULL.
 * When beta == 0, C is not read (it may hold NaNs). */
typedef struct {
  guint32  m, n, k;
  gboolean trans_a;
  gboolean trans_b;
  float    alpha;
  float    beta;
} GraftGemmParams;

/* 2-D pooling over the last two dimensions of NCHW tensors, seen as planes = N * C
 * planes of in_h x in_w values (out_h x out_w on the output side). Windows as in
 * PyTorch: output row oh covers input rows oh * stride_h - pad_h + k * dilation_h,
 * k < kernel_h (likewise for columns); positions outside the input are padding.
 *  - MAX: padding counts as -inf; the first maximum in scan order (row-major within the
 *    window) wins, and a NaN beats everything. The argmax is stored as a float holding
 *    h * in_w + w, its index within the input plane (exact: planes have at most 2^24
 *    values).
 *  - AVG: dilation is 1; the window is clipped to the padded input, the sum runs over its
 *    part inside the input and is divided by the clipped window's size (padding counted,
 *    count_include_pad) or by the number of input values in it.
 *  - ADAPTIVE_AVG: kernel, stride, padding unused; output row i averages input rows
 *    floor(i * in_h / out_h) to ceil((i + 1) * in_h / out_h) - 1, likewise for columns. */
typedef enum {
  GRAFT_POOL_MAX,
  GRAFT_POOL_AVG,
  GRAFT_POOL_ADAPTIVE_AVG,
} GraftPoolKind;

typedef struct {
  GraftPoolKind kind;
  guint32  planes;
  guint32  in_h, in_w;
  guint32  out_h, out_w;
  guint32  kernel_h, kernel_w;
  guint32  stride_h, stride_w;
  guint32  pad_h, pad_w;
  guint32  dilation_h, dilation_w;
  gboolean count_include_pad;
} GraftPoolPlan;

/* 2-D convolution as torch.nn.functional.conv2d over NCHW tensors: x is
 * [n, c_in, in_h, in_w], weight [c_out, c_in / groups, kernel_h, kernel_w], y
 * [n, c_out, out_h, out_w]. Output (oh, ow) of group g reads input rows
 * oh * stride_h - pad_h + kh * dilation_h (kh < kernel_h), likewise columns, of the
 * group's c_in / groups channels; positions outside the input are zeros. Output channel
 * co belongs to group co / (c_out / groups). The front end has checked that groups
 * divides both channel counts and that every tensor holds fewer than 2^32 values. */
typedef struct {
  guint32 n, c_in, in_h, in_w;
  guint32 c_out, out_h, out_w;
  guint32 kernel_h, kernel_w;
  guint32 stride_h, stride_w;
  guint32 pad_h, pad_w;
  guint32 dilation_h, dilation_w;
  guint32 groups;
} GraftConvPlan;

/* Depthwise: one input and one output channel per group (MobileNet, EfficientNet). */
static inline gboolean
_graft_conv_plan_is_depthwise (const GraftConvPlan *plan)
{
  return plan->groups > 1 && plan->groups == plan->c_in && plan->groups == plan->c_out;
}

/* Normalisation over groups of values: element (o, g, i) of x sits at
 * (o * groups + g) * inner + i, and group g's statistics run over its outer * inner
 * values (mean, biased variance; invstd = 1 / sqrt (var + eps)).
 *  - BATCH: x is [N, C, H, W] with outer = N, groups = C, inner = H * W; weight, bias,
 *    the running and the saved statistics have one value per channel (group). When not
 *    training, the running statistics are copied to mean and invstd and used instead.
 *  - LAYER: x is [R, D] with outer = 1, groups = R, inner = D; weight and bias have one
 *    value per feature (inner index), mean and invstd one per row. */
typedef enum {
  GRAFT_NORM_BATCH,
  GRAFT_NORM_LAYER,
} GraftNormKind;

typedef struct {
  GraftNormKind kind;
  guint32  outer, groups, inner;
  float    eps;
  float    momentum;   /* BATCH, training with running statistics */
  gboolean training;   /* BATCH; always TRUE for LAYER */
} GraftNormPlan;

/* Softmax cross-entropy over n rows of c logits, as torch.nn.functional.cross_entropy
 * with class indices, optional class weights w (all 1 when has_weight is FALSE),
 * label smoothing eps and reduction 'mean'. For a row with target y (an integer stored
 * as a float; a target outside [0, c) makes the row contribute nothing: loss 0, weight
 * 0, gradient 0), lse the max-subtracted log-sum-exp and W = sum_c w[c]:
 *   losses[i] = (1 - eps) * w[y] * (lse - x[y]) + eps / c * sum_c w[c] * (lse - x[c])
 *   loss[0]   = sum_i losses[i] / sum_i w[y_i]
 *   dlogits[i, j] = ((1 - eps) * w[y] * (p[j] - [j == y])
 *                    + eps / c * (W * p[j] - w[j])) / sum_i w[y_i]. */
typedef struct {
  guint32  n, c;
  float    label_smoothing;
  gboolean has_weight;
} GraftCrossEntropyPlan;

/* One optimizer step over n parameters, torch.optim semantics (see graft-ops-optim.h).
 * SGD: step is 1 on the first step, when the momentum buffer is set to the gradient.
 * AdamW: step_size = lr / (1 - beta1^t), bias2_sqrt = sqrt (1 - beta2^t), computed by
 * the front end in double.
 * scalars, unless NULL, holds at scalars_slot * 4 the four floats (step, lr, step_size,
 * bias2_sqrt) equal to the plan's when the op runs: a backend that records ops (see
 * record_begin) reads them from there, so a replayed step takes each step's values. */
typedef enum {
  GRAFT_OPTIM_SGD,
  GRAFT_OPTIM_ADAMW,
} GraftOptimKind;

typedef struct {
  GraftOptimKind kind;
  guint32  n;
  guint32  step;
  float    lr;
  float    weight_decay;
  float    momentum, dampening;   /* SGD */
  gboolean nesterov;              /* SGD */
  float    beta1, beta2, eps;     /* AdamW */
  float    step_size, bias2_sqrt; /* AdamW */
  GraftBuffer *scalars;
  guint32  scalars_slot;
} GraftOptimPlan;

/* Shape ops (graft-ops-shape.h).
 *  - Copy: for o < outer, dst[o * dst_stride + dst_offset + i] = src[o * src_stride +
 *    src_offset + i], i < block. Channel concatenation copies each input's [N, Ca * HW]
 *    block into the output at its channel offset; its backward pass copies it back.
 *  - Nearest upsampling by an integer scale over planes of in_h x in_w values: output
 *    (h, w) of a plane is input (h / scale, w / scale). Backward: input (h, w) gets the
 *    float sum of its scale x scale block, rows then columns ascending.
 *  - Dropout: with key = graft_dropout_key (seed), element i is kept when
 *    graft_dropout_hash (i, key) >> 8 >= threshold, and then y[i] = x[i] * scale,
 *    otherwise y[i] = 0. The front end works out threshold = ceil (p * 2^24) and
 *    scale = 1 / (1 - p) (0 when p = 1). Integer compare, one float product: backends
 *    agree bit for bit. keys, unless NULL, holds the same key as a uint32 at key_slot
 *    when the op runs (read from there by a backend that records ops). */
typedef struct {
  guint32 outer, block;
  guint32 src_stride, src_offset;
  guint32 dst_stride, dst_offset;
} GraftCopyPlan;

typedef struct {
  guint32 planes;
  guint32 in_h, in_w;
  guint32 scale;
} GraftUpsamplePlan;

typedef struct {
  guint32 n;
  guint32 key;
  guint32 threshold;
  float   scale;
  GraftBuffer *keys;
  guint32 key_slot;
} GraftDropoutPlan;

/* The dropout hash: lowbias32 (a 32-bit integer mixer by C. Wellons) applied twice. The
 * GLSL copy in shaders/common/graft-dropout.glsl must stay identical. */
static inline guint32
_graft_dropout_mix (guint32 x)
{
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static inline guint32
_graft_dropout_key (guint64 seed)
{
  return _graft_dropout_mix ((guint32) seed ^ _graft_dropout_mix ((guint32) (seed >> 32) ^ 0x9e3779b9u));
}

static inline guint32
_graft_dropout_hash (guint32 index,
                     guint32 key)
{
  return _graft_dropout_mix (_graft_dropout_mix (index ^ key) + key);
}

/* Attention (graft-ops-attention.h).
 *  - Transpose: x holds batch matrices of rows x cols values, out batch matrices of
 *    cols x rows: out[b, j, i] = x[b, i, j].
 *  - Attention over n sequences of l tokens, qkv [n, l, 3e] with q, k, v side by side
 *    and heads of head_dim = e / heads columns each; probs [n, heads, l, l], out
 *    [n, l, e]; scale = 1 / sqrt (head_dim), worked out by the front end in double.
 *    The formulas are those of graft-ops-attention.h; softmax subtracts the row
 *    maximum. No dimension is 0. */
typedef struct {
  guint32 batch;
  guint32 rows, cols;
} GraftTransposePlan;

typedef struct {
  guint32 n, l, e;
  guint32 heads, head_dim;
  float   scale;
} GraftAttentionPlan;

typedef struct {
  /* Releases every resource and frees @self; self->info is freed by the caller. */
  void         (*destroy)      (GraftBackend *self);

  GraftBuffer *(*buffer_new)   (GraftBackend *self, gsize size, GError **error);
  void         (*buffer_free)  (GraftBackend *self, GraftBuffer *buffer);
  gboolean     (*buffer_write) (GraftBackend *self, GraftBuffer *buffer, gsize offset,
                                const void *data, gsize size, GError **error);
  gboolean     (*buffer_read)  (GraftBackend *self, GraftBuffer *buffer, gsize offset,
                                void *data, gsize size, GError **error);

  gboolean     (*fill)         (GraftBackend *self, GraftBuffer *out, guint32 n,
                                float value, GError **error);
  /* out[i] = a[i] * s; out may be a */
  gboolean     (*scale)        (GraftBackend *self, GraftBuffer *a, GraftBuffer *out,
                                guint32 n, float s, GError **error);
  /* out may be a or b when its shape equals theirs */
  gboolean     (*binary)       (GraftBackend *self, GraftBinaryOp op,
                                const GraftBroadcast *plan, GraftBuffer *a,
                                GraftBuffer *b, GraftBuffer *out, GError **error);
  /* y[i] = act(x[i]) for i < n; y may be x. Semantics are those documented with
   * GraftActivation in graft-ops.h (PyTorch's), within float32 rounding. */
  gboolean     (*activation)   (GraftBackend *self, GraftActivation act,
                                GraftBuffer *x, GraftBuffer *y, guint32 n,
                                GError **error);
  /* dx[i] = dy[i] * act'(x[i]) for i < n, x the forward input, with PyTorch's
   * gradient at the kinks (see graft_op_activation_backward). dx may be dy or x.
   * Where a piecewise-linear activation's gradient is 0 (relu, relu6, hardswish,
   * hardsigmoid) dx is 0 even for an infinite or NaN dy, as in PyTorch. */
  gboolean     (*activation_backward) (GraftBackend *self, GraftActivation act,
                                       GraftBuffer *x, GraftBuffer *dy,
                                       GraftBuffer *dx, guint32 n, GError **error);
  /* c never aliases a, b or bias */
  gboolean     (*gemm)         (GraftBackend *self, const GraftGemmParams *params,
                                GraftBuffer *a, GraftBuffer *b, GraftBuffer *bias,
                                GraftBuffer *c, GError **error);

  /* Pooling forward: out gets planes x out_h x out_w values. For GRAFT_POOL_MAX,
   * indices (same size as out, or NULL when not wanted) gets the argmax positions. */
  gboolean     (*pool2d)       (GraftBackend *self, const GraftPoolPlan *plan,
                                GraftBuffer *x, GraftBuffer *out, GraftBuffer *indices,
                                GError **error);
  /* Pooling backward: every value of grad_in (planes x in_h x in_w) is written, as the
   * sum over the windows that cover it of their share of grad_out: for MAX, grad_out of
   * the outputs whose indices name it; for AVG and ADAPTIVE_AVG, grad_out divided by the
   * forward divisor. Sums run in output order (oh, then ow, ascending) so that backends
   * agree closely. indices is NULL unless kind is MAX. No buffer aliases another. */
  gboolean     (*pool2d_backward) (GraftBackend *self, const GraftPoolPlan *plan,
                                   GraftBuffer *grad_out, GraftBuffer *indices,
                                   GraftBuffer *grad_in, GError **error);

  /* Convolution forward (see GraftConvPlan): y = conv2d (x, weight) + bias, bias NULL
   * for none. y aliases no operand. A backend without convolution leaves this NULL. */
  gboolean     (*conv2d)       (GraftBackend *self, const GraftConvPlan *plan,
                                GraftBuffer *x, GraftBuffer *weight, GraftBuffer *bias,
                                GraftBuffer *y, GError **error);
  /* Convolution backward from dy: dx (x's size), dweight (weight's size) and dbias
   * (c_out) are overwritten, each unless NULL. No output aliases another operand. */
  gboolean     (*conv2d_backward) (GraftBackend *self, const GraftConvPlan *plan,
                                   GraftBuffer *x, GraftBuffer *weight, GraftBuffer *dy,
                                   GraftBuffer *dx, GraftBuffer *dweight,
                                   GraftBuffer *dbias, GError **error);

  /* Normalisation forward (see GraftNormPlan): y = (x - mean) * invstd * weight + bias,
   * mean and invstd written for the backward pass. weight, bias (each may be NULL: 1
   * and 0) and, for BATCH, running_mean / running_var (both NULL or neither; required
   * when not training, updated in place with momentum and the unbiased variance when
   * training). No output aliases another operand. */
  gboolean     (*norm)         (GraftBackend *self, const GraftNormPlan *plan,
                                GraftBuffer *x, GraftBuffer *weight, GraftBuffer *bias,
                                GraftBuffer *running_mean, GraftBuffer *running_var,
                                GraftBuffer *y, GraftBuffer *mean, GraftBuffer *invstd,
                                GError **error);
  /* Normalisation backward from the forward's mean and invstd: dx always, dweight and
   * dbias unless NULL (formulas in graft-ops-norm.h; BATCH when not training treats the
   * statistics as constants). */
  gboolean     (*norm_backward) (GraftBackend *self, const GraftNormPlan *plan,
                                 GraftBuffer *x, GraftBuffer *dy, GraftBuffer *weight,
                                 GraftBuffer *mean, GraftBuffer *invstd, GraftBuffer *dx,
                                 GraftBuffer *dweight, GraftBuffer *dbias, GError **error);

  /* Cross-entropy (see GraftCrossEntropyPlan): loss [1], losses [n] and, unless NULL,
   * dlogits [n, c] are written. weight is NULL unless plan->has_weight. No output
   * aliases an input. */
  gboolean     (*cross_entropy) (GraftBackend *self, const GraftCrossEntropyPlan *plan,
                                 GraftBuffer *logits, GraftBuffer *target,
                                 GraftBuffer *weight, GraftBuffer *loss,
                                 GraftBuffer *losses, GraftBuffer *dlogits,
                                 GError **error);
  /* Updates param and the state buffers in place from grad. SGD: state0 is the
   * momentum buffer (NULL when momentum is 0), state1 NULL. AdamW: state0 and state1
   * are exp_avg and exp_avg_sq. */
  gboolean     (*optim_step)   (GraftBackend *self, const GraftOptimPlan *plan,
                                GraftBuffer *param, GraftBuffer *grad,
                                GraftBuffer *state0, GraftBuffer *state1,
                                GError **error);
  /* partial[slot] = sum_{i<n} x[i]^2, in an order fixed for the backend. */
  gboolean     (*sum_squares)  (GraftBackend *self, GraftBuffer *x, guint32 n,
                                GraftBuffer *partial, guint32 slot, GError **error);
  /* out[0] = sqrt (sum_{i<n} partial[i]); out is not partial. */
  gboolean     (*sqrt_sum)     (GraftBackend *self, GraftBuffer *partial, guint32 n,
                                GraftBuffer *out, GError **error);
  /* x[i] *= min (1, max_norm / (norm[0] + 1e-6)) for i < n, norm read on the device. */
  gboolean     (*clip_scale)   (GraftBackend *self, GraftBuffer *norm, float max_norm,
                                GraftBuffer *x, guint32 n, GError **error);

  /* Shape ops (see GraftCopyPlan and the next plans) and attention (GraftTransposePlan,
   * GraftAttentionPlan). A backend without them leaves them NULL. dst, out, y, probs
   * and dqkv alias no operand. copy writes only the copied values. */
  gboolean     (*copy_strided) (GraftBackend *self, const GraftCopyPlan *plan,
                                GraftBuffer *src, GraftBuffer *dst, GError **error);
  gboolean     (*upsample_nearest) (GraftBackend *self, const GraftUpsamplePlan *plan,
                                    GraftBuffer *x, GraftBuffer *out, GError **error);
  gboolean     (*upsample_nearest_backward) (GraftBackend *self,
                                             const GraftUpsamplePlan *plan,
                                             GraftBuffer *grad_out, GraftBuffer *grad_in,
                                             GError **error);
  gboolean     (*dropout)      (GraftBackend *self, const GraftDropoutPlan *plan,
                                GraftBuffer *x, GraftBuffer *y, GError **error);
  /* out = x transposed batch by batch (see GraftTransposePlan). */
  gboolean     (*transpose_last2) (GraftBackend *self, const GraftTransposePlan *plan,
                                   GraftBuffer *x, GraftBuffer *out, GError **error);
  /* Attention forward: probs and out written in full from qkv. */
  gboolean     (*attention)    (GraftBackend *self, const GraftAttentionPlan *plan,
                                GraftBuffer *qkv, GraftBuffer *probs, GraftBuffer *out,
                                GError **error);
  /* Attention backward: dqkv written in full; any scratch is the backend's business. */
  gboolean     (*attention_backward) (GraftBackend *self, const GraftAttentionPlan *plan,
                                      GraftBuffer *qkv, GraftBuffer *probs,
                                      GraftBuffer *dout, GraftBuffer *dqkv,
                                      GError **error);

  gboolean     (*synchronize)  (GraftBackend *self, GError **error);

  /* Recording (NULL on a backend that cannot record: its ops simply run each time).
   * record_begin() submits pending work, then every op until record_end() goes into a
   * recording instead of running; buffer_read, buffer_write and synchronize fail
   * meanwhile. replay() runs the recorded ops again, in order after earlier ops, with
   * the buffers' contents of that moment; buffer_write and buffer_read are ordered after
   * it like after any op. Buffers a recording uses stay alive until recording_free(),
   * even if freed before. */
  gboolean        (*record_begin)   (GraftBackend *self, GError **error);
  GraftRecording *(*record_end)     (GraftBackend *self, GError **error);
  gboolean        (*replay)         (GraftBackend *self, GraftRecording *recording,
                                     GError **error);
  void            (*recording_free) (GraftBackend *self, GraftRecording *recording);
} GraftBackendOps;

/* Each backend embeds this as the first member of its own struct. */
struct _GraftBackend {
  const GraftBackendOps *ops;
  GraftDeviceInfo       *info;
  gint                   ref_count;
};

/* Called by each implementation's open function; takes a copy of @info. */
void _graft_backend_init (GraftBackend          *self,
                          const GraftBackendOps *ops,
                          const GraftDeviceInfo *info);

/* CPU backend (compute/backend/cpu) */
GraftDeviceInfo *_graft_cpu_device_info_new (void);
GraftBackend    *_graft_cpu_backend_open    (const GraftDeviceInfo *info,
                                             GError               **error);

/* Vulkan backend (compute/backend/vulkan). _graft_vk_enumerate appends one
 * GraftDeviceInfo per physical device to @devices (ids "vulkan:N", N in driver order;
 * index is set by the caller) or fails with GRAFT_DEVICE_ERROR_UNAVAILABLE saying why. */
gboolean         _graft_vk_enumerate        (GPtrArray             *devices,
                                             GError               **error);
GraftBackend    *_graft_vk_backend_open     (const GraftDeviceInfo *info,
                                             GError               **error);

G_END_DECLS
