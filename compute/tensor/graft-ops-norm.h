/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Normalisation layers with the semantics of PyTorch's torch.nn.functional.batch_norm
 * (on NCHW tensors) and layer_norm (over the last dimension), forward and backward.
 * Like every op they run on the operands' backend and may return before the work is
 * done; argument errors are reported at once. Statistics are reduced in double on the
 * CPU backend and by one workgroup per channel (or row) on Vulkan. */

typedef struct {
  float    eps;       /* added to the variance before the square root */
  float    momentum;  /* batch norm: running = (1 - momentum) * running + momentum * batch */
  gboolean training;  /* batch norm: batch statistics (TRUE) or the running ones (FALSE) */
} GraftNormParams;

/* PyTorch's defaults: eps 1e-5, momentum 0.1, training. */
void     graft_norm_params_init          (GraftNormParams        *params);

/* y = (x - mean) / sqrt (var + eps) * weight + bias, per channel of x [N, C, H, W].
 * @weight and @bias ([C]) may each be NULL (affine=False: 1 and 0).
 * Training: mean and the biased variance are taken over N·H·W values per channel, and
 * @running_mean / @running_var ([C], both or neither) are updated in place with the
 * unbiased variance (var · M / (M - 1), M = N·H·W), as PyTorch does; M must be at least
 * 2. Eval: the running statistics, which are then required, are used and left alone.
 * @save_mean and @save_invstd ([C]) receive the mean and 1 / sqrt (var + eps) that
 * were used, for the backward pass. */
gboolean graft_op_batch_norm2d           (GraftTensor            *x,
                                          GraftTensor            *weight,
                                          GraftTensor            *bias,
                                          GraftTensor            *running_mean,
                                          GraftTensor            *running_var,
                                          const GraftNormParams  *params,
                                          GraftTensor            *y,
                                          GraftTensor            *save_mean,
                                          GraftTensor            *save_invstd,
                                          GError                **error);

/* Gradients of graft_op_batch_norm2d from @dy, given the forward input @x, @weight (or
 * NULL) and the statistics it saved; params->training must be what the forward pass
 * used. With xhat = (x - mean) · invstd and M = N·H·W:
 *   training: dx = invstd · weight / M · (M · dy - Σdy - xhat · Σ(dy · xhat))
 *   eval:     dx = dy · weight · invstd   (frozen statistics)
 *   dweight = Σ dy · xhat, dbias = Σ dy (sums per channel).
 * @dweight and @dbias ([C]) may be NULL when not wanted; all outputs are overwritten. */
gboolean graft_op_batch_norm2d_backward  (GraftTensor            *dy,
                                          GraftTensor            *x,
                                          GraftTensor            *weight,
                                          GraftTensor            *save_mean,
                                          GraftTensor            *save_invstd,
                                          const GraftNormParams  *params,
                                          GraftTensor            *dx,
                                          GraftTensor            *dweight,
                                          GraftTensor            *dbias,
                                          GError                **error);

/* layer_norm over the last dimension D of @x, seen as [R, D]: each row is normalised
 * by its own mean and biased variance, then scaled by @weight and shifted by @bias
 * ([D], either may be NULL). @save_mean and @save_invstd hold R values each. */
gboolean graft_op_layer_norm             (GraftTensor            *x,
                                          GraftTensor            *weight,
                                          GraftTensor            *bias,
                                          float                   eps,
                                          GraftTensor            *y,
                                          GraftTensor            *save_mean,
                                          GraftTensor            *save_invstd,
                                          GError                **error);

/* Gradients of graft_op_layer_norm: with g = dy · weight and xhat per row,
 *   dx = invstd / D · (D · g - Σg - xhat · Σ(g · xhat))   (sums along the row)
 *   dweight = Σ dy · xhat, dbias = Σ dy                   (sums over the rows)
 * @dweight and @dbias may be NULL; all outputs are overwritten. */
gboolean graft_op_layer_norm_backward    (GraftTensor            *dy,
                                          GraftTensor            *x,
                                          GraftTensor            *weight,
                                          GraftTensor            *save_mean,
                                          GraftTensor            *save_invstd,
                                          GraftTensor            *dx,
                                          GraftTensor            *dweight,
                                          GraftTensor            *dbias,
                                          GError                **error);

G_END_DECLS
