/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal API shared by the files of the CPU backend.
 *
 *   graft-cpu-backend.c     buffers, the worker threads, fill, scale, binary, GEMM
 *   graft-cpu-activation.c  activation functions, forward and backward
 *   graft-cpu-pool.c        max, average and adaptive average pooling
 *   graft-cpu-shape.c       strided copies (concatenation), nearest upsampling, dropout
 *   graft-cpu-attention.c   batched transpose, multi-head attention forward and backward
 *   graft-cpu-conv.c        2-D convolution, im2col + GEMM, depthwise direct loops
 *   graft-cpu-winograd.c    3x3 stride-1 convolution by Winograd's F(2x2, 3x3)
 *   graft-cpu-norm.c        batch and layer normalisation
 *   graft-cpu-loss.c        softmax cross-entropy
 *   graft-cpu-optim.c       SGD and AdamW steps, gradient-norm clipping */

#include "backend/graft-backend-private.h"

G_BEGIN_DECLS

struct _GraftBuffer {
  gsize  size;
  float *data;
};

typedef struct _GraftCpuBackend GraftCpuBackend;

/* Threads one op is split across, at most. */
#define GRAFT_CPU_MAX_WORKERS 64

/* Work on the elements [start, end) of an op described by @ctx. */
typedef void (*GraftCpuRangeFunc) (gpointer ctx,
                                   guint32  start,
                                   guint32  end);

/* Calls @func on disjoint ranges covering [0, n), on the worker threads and the calling
 * thread when @n is large enough to pay for it; returns when all have finished. */
void     _graft_cpu_parallel_for         (GraftCpuBackend    *self,
                                          guint32             n,
                                          GraftCpuRangeFunc   func,
                                          gpointer            ctx);

/* Work of worker @worker (0 ≤ worker < _graft_cpu_n_workers ()) of an op described by
 * @ctx; the workers share out the work among themselves. */
typedef void (*GraftCpuWorkerFunc) (gpointer ctx,
                                    guint    worker);

/* Threads _graft_cpu_run_workers () calls its function on. */
guint    _graft_cpu_n_workers            (GraftCpuBackend    *self);

/* Calls @func once for each worker, all at the same time, the calling thread being
 * worker 0; returns when all have finished. OpenBLAS may be called from @func: it runs
 * single-threaded in the calling worker. */
void     _graft_cpu_run_workers          (GraftCpuBackend    *self,
                                          GraftCpuWorkerFunc  func,
                                          gpointer            ctx);

/* Working space of at least @n_floats values, owned by the backend and reused by every
 * op (ops run one at a time): after the largest op has run once, nothing is allocated.
 * Valid until the next call. */
float   *_graft_cpu_scratch              (GraftCpuBackend    *self,
                                          gsize               n_floats,
                                          GError            **error);

gboolean _graft_cpu_activation           (GraftBackend       *backend,
                                          GraftActivation     act,
                                          GraftBuffer        *x,
                                          GraftBuffer        *y,
                                          guint32             n,
                                          GError            **error);
gboolean _graft_cpu_activation_backward  (GraftBackend       *backend,
                                          GraftActivation     act,
                                          GraftBuffer        *x,
                                          GraftBuffer        *dy,
                                          GraftBuffer        *dx,
                                          guint32             n,
                                          GError            **error);

/* graft-cpu-pool.c */
gboolean _graft_cpu_pool2d               (GraftBackend         *backend,
                                          const GraftPoolPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *out,
                                          GraftBuffer          *indices,
                                          GError              **error);
gboolean _graft_cpu_pool2d_backward      (GraftBackend         *backend,
                                          const GraftPoolPlan  *plan,
                                          GraftBuffer          *grad_out,
                                          GraftBuffer          *indices,
                                          GraftBuffer          *grad_in,
                                          GError              **error);

/* graft-cpu-shape.c */
gboolean _graft_cpu_copy_strided         (GraftBackend             *backend,
                                          const GraftCopyPlan      *plan,
                                          GraftBuffer              *src,
                                          GraftBuffer              *dst,
                                          GError                  **error);
gboolean _graft_cpu_upsample_nearest     (GraftBackend             *backend,
                                          const GraftUpsamplePlan  *plan,
                                          GraftBuffer              *x,
                                          GraftBuffer              *out,
                                          GError                  **error);
gboolean _graft_cpu_upsample_nearest_backward (GraftBackend             *backend,
                                               const GraftUpsamplePlan  *plan,
                                               GraftBuffer              *grad_out,
                                               GraftBuffer              *grad_in,
                                               GError                  **error);
gboolean _graft_cpu_dropout              (GraftBackend             *backend,
                                          const GraftDropoutPlan   *plan,
                                          GraftBuffer              *x,
                                          GraftBuffer              *y,
                                          GError                  **error);

/* graft-cpu-attention.c */
gboolean _graft_cpu_transpose_last2      (GraftBackend              *backend,
                                          const GraftTransposePlan  *plan,
                                          GraftBuffer               *x,
                                          GraftBuffer               *out,
                                          GError                   **error);
gboolean _graft_cpu_attention            (GraftBackend              *backend,
                                          const GraftAttentionPlan  *plan,
                                          GraftBuffer               *qkv,
                                          GraftBuffer               *probs,
                                          GraftBuffer               *out,
                                          GError                   **error);
gboolean _graft_cpu_attention_backward   (GraftBackend              *backend,
                                          const GraftAttentionPlan  *plan,
                                          GraftBuffer               *qkv,
                                          GraftBuffer               *probs,
                                          GraftBuffer               *dout,
                                          GraftBuffer               *dqkv,
                                          GError                   **error);

/* graft-cpu-winograd.c: whether it takes a convolution, its forward and backward */
gboolean _graft_cpu_winograd_applies     (const GraftConvPlan  *plan);
gboolean _graft_cpu_winograd_forward     (GraftBackend         *backend,
                                          const GraftConvPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *bias,
                                          GraftBuffer          *y,
                                          GError              **error);
gboolean _graft_cpu_winograd_backward    (GraftBackend         *backend,
                                          const GraftConvPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *dy,
                                          GraftBuffer          *dx,
                                          GraftBuffer          *dweight,
                                          GError              **error);

/* graft-cpu-conv.c */
gboolean _graft_cpu_conv2d               (GraftBackend         *backend,
                                          const GraftConvPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *bias,
                                          GraftBuffer          *y,
                                          GError              **error);
gboolean _graft_cpu_conv2d_backward      (GraftBackend         *backend,
                                          const GraftConvPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *dy,
                                          GraftBuffer          *dx,
                                          GraftBuffer          *dweight,
                                          GraftBuffer          *dbias,
                                          GError              **error);

/* graft-cpu-norm.c */
gboolean _graft_cpu_norm                 (GraftBackend         *backend,
                                          const GraftNormPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *bias,
                                          GraftBuffer          *running_mean,
                                          GraftBuffer          *running_var,
                                          GraftBuffer          *y,
                                          GraftBuffer          *mean,
                                          GraftBuffer          *invstd,
                                          GError              **error);
gboolean _graft_cpu_norm_backward        (GraftBackend         *backend,
                                          const GraftNormPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *dy,
                                          GraftBuffer          *weight,
                                          GraftBuffer          *mean,
                                          GraftBuffer          *invstd,
                                          GraftBuffer          *dx,
                                          GraftBuffer          *dweight,
                                          GraftBuffer          *dbias,
                                          GError              **error);

/* graft-cpu-loss.c */
gboolean _graft_cpu_cross_entropy        (GraftBackend                 *backend,
                                          const GraftCrossEntropyPlan  *plan,
                                          GraftBuffer                  *logits,
                                          GraftBuffer                  *target,
                                          GraftBuffer                  *weight,
                                          GraftBuffer                  *loss,
                                          GraftBuffer                  *losses,
                                          GraftBuffer                  *dlogits,
                                          GError                      **error);

/* graft-cpu-optim.c */
gboolean _graft_cpu_optim_step           (GraftBackend          *backend,
                                          const GraftOptimPlan  *plan,
                                          GraftBuffer           *param,
                                          GraftBuffer           *grad,
                                          GraftBuffer           *state0,
                                          GraftBuffer           *state1,
                                          GError               **error);
gboolean _graft_cpu_sum_squares          (GraftBackend          *backend,
                                          GraftBuffer           *x,
                                          guint32                n,
                                          GraftBuffer           *partial,
                                          guint32                slot,
                                          GError               **error);
gboolean _graft_cpu_sqrt_sum             (GraftBackend          *backend,
                                          GraftBuffer           *partial,
                                          guint32                n,
                                          GraftBuffer           *out,
                                          GError               **error);
gboolean _graft_cpu_clip_scale           (GraftBackend          *backend,
                                          GraftBuffer           *norm,
                                          float                  max_norm,
                                          GraftBuffer           *x,
                                          guint32                n,
                                          GError               **error);

G_END_DECLS
