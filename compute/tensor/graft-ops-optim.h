/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Optimizer steps that update parameters in place, with the semantics of PyTorch 1.13's
 * torch.optim.SGD and torch.optim.AdamW (amsgrad off), and gradient-norm clipping as
 * torch.nn.utils.clip_grad_norm_. Each step is one elementwise kernel; its scalars
 * travel with the command, so nothing is read back to the host. */

typedef struct {
  float    lr;
  float    momentum;      /* 0: plain SGD, no momentum buffer */
  float    dampening;
  float    weight_decay;  /* added to the gradient (L2), as torch.optim.SGD does */
  gboolean nesterov;      /* needs momentum > 0 and dampening 0 */
} GraftSgdParams;

/* PyTorch's defaults: no momentum, dampening, weight decay or Nesterov. */
void     graft_sgd_params_init   (GraftSgdParams    *params,
                                  float              lr);

/* One step of torch.optim.SGD for one parameter tensor:
 *   d = grad + weight_decay * param
 *   if momentum != 0:
 *     buf = d                                          on step 1
 *     buf = momentum * buf + (1 - dampening) * d       afterwards
 *     d = nesterov ? d + momentum * buf : buf
 *   param -= lr * d
 * @step counts from 1. @momentum_buffer has param's size; it may be NULL when momentum
 * is 0, and its contents are not read on step 1. */
gboolean graft_op_sgd_step       (GraftTensor           *param,
                                  GraftTensor           *grad,
                                  GraftTensor           *momentum_buffer,
                                  const GraftSgdParams  *params,
                                  guint                  step,
                                  GError               **error);

typedef struct {
  float lr;
  float beta1, beta2;
  float eps;
  float weight_decay;     /* decoupled: param *= 1 - lr * weight_decay */
} GraftAdamWParams;

/* PyTorch's defaults: betas (0.9, 0.999), eps 1e-8, weight decay 0.01. */
void     graft_adamw_params_init (GraftAdamWParams  *params,
                                  float              lr);

/* One step of torch.optim.AdamW for one parameter tensor, @step = t counting from 1:
 *   param *= 1 - lr * weight_decay
 *   exp_avg    = beta1 * exp_avg    + (1 - beta1) * grad
 *   exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad^2
 *   param -= lr / (1 - beta1^t) * exp_avg / (sqrt (exp_avg_sq) / sqrt (1 - beta2^t) + eps)
 * @exp_avg and @exp_avg_sq have param's size and start at zero before step 1. */
gboolean graft_op_adamw_step     (GraftTensor             *param,
                                  GraftTensor             *grad,
                                  GraftTensor             *exp_avg,
                                  GraftTensor             *exp_avg_sq,
                                  const GraftAdamWParams  *params,
                                  guint                    step,
                                  GError                 **error);

/* Steps that read their per-step values from a tensor, for work recorded once and
 * replayed (graft_backend_record_begin()): the step takes @scalars[@slot * 4 ..] =
 * what graft_*_step_scalars() gives for @params and @step, which the caller writes
 * (graft_tensor_upload) before the step runs, or before each replay. The other values
 * of @params and the operands are fixed in a recording. Results are bit for bit those
 * of graft_op_sgd_step() and graft_op_adamw_step(). */
#define GRAFT_OPTIM_N_SCALARS 4

/* step, lr, lr / (1 - beta1^t) and sqrt (1 - beta2^t) (the last two 0 for SGD). */
void     graft_sgd_step_scalars    (const GraftSgdParams    *params,
                                    guint                    step,
                                    float                    scalars[GRAFT_OPTIM_N_SCALARS]);
void     graft_adamw_step_scalars  (const GraftAdamWParams  *params,
                                    guint                    step,
                                    float                    scalars[GRAFT_OPTIM_N_SCALARS]);
gboolean graft_op_sgd_step_from    (GraftTensor             *param,
                                    GraftTensor             *grad,
                                    GraftTensor             *momentum_buffer,
                                    const GraftSgdParams    *params,
                                    guint                    step,
                                    GraftTensor             *scalars,
                                    guint                    slot,
                                    GError                 **error);
gboolean graft_op_adamw_step_from  (GraftTensor             *param,
                                    GraftTensor             *grad,
                                    GraftTensor             *exp_avg,
                                    GraftTensor             *exp_avg_sq,
                                    const GraftAdamWParams  *params,
                                    guint                    step,
                                    GraftTensor             *scalars,
                                    guint                    slot,
                                    GError                 **error);

/* norm[0] = the L2 norm of all @n_grads tensors together, sqrt (sum of every value
 * squared), as clip_grad_norm_ computes it. @norm has one element. The sum runs in an
 * order fixed for each backend, so the result is deterministic. */
gboolean graft_op_grad_norm      (GraftTensor * const   *grads,
                                  guint                  n_grads,
                                  GraftTensor           *norm,
                                  GError               **error);

/* Multiplies every gradient by min (1, max_norm / (norm[0] + 1e-6)), reading @norm on
 * the device (no round trip through the host). */
gboolean graft_op_clip_grads     (GraftTensor * const   *grads,
                                  guint                  n_grads,
                                  GraftTensor           *norm,
                                  float                  max_norm,
                                  GError               **error);

/* torch.nn.utils.clip_grad_norm_ (grads, max_norm): graft_op_grad_norm into @norm, then
 * graft_op_clip_grads. @norm receives the norm before clipping. */
gboolean graft_op_clip_grad_norm (GraftTensor * const   *grads,
                                  guint                  n_grads,
                                  float                  max_norm,
                                  GraftTensor           *norm,
                                  GError               **error);

G_END_DECLS
