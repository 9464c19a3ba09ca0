/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of the optimizer steps and of gradient-norm clipping: checks
 * hyperparameters as torch.optim does and operands by name, works out AdamW's bias
 * corrections in double, and hands a GraftOptimPlan to the backend. */

#include <math.h>

#include "graft-tensor-private.h"
#include "graft-ops-optim.h"

/* @t must hold as many values as @param and have its own storage. */
static gboolean
check_like (const char   *op,
            GraftTensor  *param,
            GraftTensor  *t,
            GError      **error)
{
  if (!_graft_ops_same_backend (op, param, t, error))
    return FALSE;
  if (t->n_elements != param->n_elements)
    {
      g_autofree char *shape = graft_tensor_format_shape (t);
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s has shape %s, expected %" G_GSIZE_FORMAT " values like %s",
                   op, graft_tensor_get_name (t), shape, param->n_elements,
                   graft_tensor_get_name (param));
      return FALSE;
    }
  if (t->buffer == param->buffer)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s and %s share storage", op, graft_tensor_get_name (t),
                   graft_tensor_get_name (param));
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_value (const char   *op,
             const char   *param,
             const char   *what,
             float         value,
             gboolean      ok,
             const char   *rule,
             GError      **error)
{
  if (ok)
    return TRUE;
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s of %s: %s %g is invalid; it must be %s", op, param, what, value, rule);
  return FALSE;
}

void
graft_sgd_params_init (GraftSgdParams *params,
                       float           lr)
{
  g_return_if_fail (params != NULL);

  *params = (GraftSgdParams) { .lr = lr };
}

void
graft_adamw_params_init (GraftAdamWParams *params,
                         float             lr)
{
  g_return_if_fail (params != NULL);

  *params = (GraftAdamWParams) {
    .lr = lr,
    .beta1 = 0.9f,
    .beta2 = 0.999f,
    .eps = 1e-8f,
    .weight_decay = 1e-2f,
  };
}

/* @scalars, unless NULL, must hold slot + 1 groups of GRAFT_OPTIM_N_SCALARS values. */
static gboolean
check_scalars (const char   *op,
               GraftTensor  *param,
               GraftTensor  *scalars,
               guint         slot,
               GError      **error)
{
  if (scalars == NULL)
    return TRUE;
  if (!_graft_ops_same_backend (op, param, scalars, error))
    return FALSE;
  if (scalars->n_elements < ((gsize) slot + 1) * GRAFT_OPTIM_N_SCALARS)
    {
      g_autofree char *shape = graft_tensor_format_shape (scalars);
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s of %s: the step values %s have shape %s, too small for slot %u",
                   op, graft_tensor_get_name (param), graft_tensor_get_name (scalars), shape, slot);
      return FALSE;
    }
  return TRUE;
}

void
graft_sgd_step_scalars (const GraftSgdParams *params,
                        guint                 step,
                        float                 scalars[GRAFT_OPTIM_N_SCALARS])
{
  g_return_if_fail (params != NULL && scalars != NULL);

  scalars[0] = (float) step;
  scalars[1] = params->lr;
  scalars[2] = 0.0f;
  scalars[3] = 0.0f;
}

void
graft_adamw_step_scalars (const GraftAdamWParams *params,
                          guint                   step,
                          float                   scalars[GRAFT_OPTIM_N_SCALARS])
{
  /* As torch.optim.AdamW: bias corrections from the Python floats beta^t. */
  double bias1, bias2;

  g_return_if_fail (params != NULL && scalars != NULL);

  bias1 = 1.0 - pow (params->beta1, step);
  bias2 = 1.0 - pow (params->beta2, step);
  scalars[0] = (float) step;
  scalars[1] = params->lr;
  scalars[2] = (float) (params->lr / bias1);
  scalars[3] = (float) sqrt (bias2);
}

gboolean
graft_op_sgd_step (GraftTensor           *param,
                   GraftTensor           *grad,
                   GraftTensor           *momentum_buffer,
                   const GraftSgdParams  *params,
                   guint                  step,
                   GError               **error)
{
  return graft_op_sgd_step_from (param, grad, momentum_buffer, params, step, NULL, 0, error);
}

gboolean
graft_op_sgd_step_from (GraftTensor           *param,
                        GraftTensor           *grad,
                        GraftTensor           *momentum_buffer,
                        const GraftSgdParams  *params,
                        guint                  step,
                        GraftTensor           *scalars,
                        guint                  slot,
                        GError               **error)
{
  const char *op = "SGD step";
  const char *name;
  GraftOptimPlan plan;

  g_return_val_if_fail (param != NULL && grad != NULL && params != NULL, FALSE);
  g_return_val_if_fail (step >= 1, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  name = graft_tensor_get_name (param);
  if (!check_value (op, name, "learning rate", params->lr, params->lr >= 0.0f, "at least 0", error) ||
      !check_value (op, name, "momentum", params->momentum, params->momentum >= 0.0f, "at least 0", error) ||
      !check_value (op, name, "weight decay", params->weight_decay,
                    params->weight_decay >= 0.0f, "at least 0", error))
    return FALSE;
  if (params->nesterov && (params->momentum <= 0.0f || params->dampening != 0.0f))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s of %s: Nesterov momentum needs a momentum above 0 and no dampening",
                   op, name);
      return FALSE;
    }
  if (params->momentum != 0.0f && momentum_buffer == NULL)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s of %s: momentum %g needs a momentum buffer", op, name,
                   params->momentum);
      return FALSE;
    }
  if (params->momentum == 0.0f)
    momentum_buffer = NULL;

  if (!check_like (op, param, grad, error) ||
      (momentum_buffer != NULL && !check_like (op, param, momentum_buffer, error)) ||
      (momentum_buffer != NULL && !check_like (op, grad, momentum_buffer, error)) ||
      !check_scalars (op, param, scalars, slot, error))
    return FALSE;

  plan = (GraftOptimPlan) {
    .kind = GRAFT_OPTIM_SGD,
    .n = (guint32) param->n_elements,
    .step = step,
    .lr = params->lr,
    .weight_decay = params->weight_decay,
    .momentum = params->momentum,
    .dampening = params->dampening,
    .nesterov = params->nesterov,
    .scalars = scalars != NULL ? scalars->buffer : NULL,
    .scalars_slot = slot,
  };
  return param->backend->ops->optim_step (param->backend, &plan, param->buffer, grad->buffer,
                                          momentum_buffer != NULL ? momentum_buffer->buffer : NULL,
                                          NULL, error);
}

gboolean
graft_op_adamw_step (GraftTensor             *param,
                     GraftTensor             *grad,
                     GraftTensor             *exp_avg,
                     GraftTensor             *exp_avg_sq,
                     const GraftAdamWParams  *params,
                     guint                    step,
                     GError                 **error)
{
  return graft_op_adamw_step_from (param, grad, exp_avg, exp_avg_sq, params, step, NULL, 0, error);
}

gboolean
graft_op_adamw_step_from (GraftTensor             *param,
                          GraftTensor             *grad,
                          GraftTensor             *exp_avg,
                          GraftTensor             *exp_avg_sq,
                          const GraftAdamWParams  *params,
                          guint                    step,
                          GraftTensor             *scalars,
                          guint                    slot,
                          GError                 **error)
{
  const char *op = "AdamW step";
  const char *name;
  GraftOptimPlan plan;
  float values[GRAFT_OPTIM_N_SCALARS];

  g_return_val_if_fail (param != NULL && grad != NULL, FALSE);
  g_return_val_if_fail (exp_avg != NULL && exp_avg_sq != NULL && params != NULL, FALSE);
  g_return_val_if_fail (step >= 1, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  name = graft_tensor_get_name (param);
  if (!check_value (op, name, "learning rate", params->lr, params->lr >= 0.0f, "at least 0", error) ||
      !check_value (op, name, "epsilon", params->eps, params->eps >= 0.0f, "at least 0", error) ||
      !check_value (op, name, "beta1", params->beta1,
                    params->beta1 >= 0.0f && params->beta1 < 1.0f, "in [0, 1)", error) ||
      !check_value (op, name, "beta2", params->beta2,
                    params->beta2 >= 0.0f && params->beta2 < 1.0f, "in [0, 1)", error) ||
      !check_value (op, name, "weight decay", params->weight_decay,
                    params->weight_decay >= 0.0f, "at least 0", error))
    return FALSE;

  if (!check_like (op, param, grad, error) ||
      !check_like (op, param, exp_avg, error) ||
      !check_like (op, param, exp_avg_sq, error) ||
      !check_like (op, grad, exp_avg, error) ||
      !check_like (op, grad, exp_avg_sq, error) ||
      !check_like (op, exp_avg, exp_avg_sq, error) ||
      !check_scalars (op, param, scalars, slot, error))
    return FALSE;

  graft_adamw_step_scalars (params, step, values);

  plan = (GraftOptimPlan) {
    .kind = GRAFT_OPTIM_ADAMW,
    .n = (guint32) param->n_elements,
    .step = step,
    .lr = params->lr,
    .weight_decay = params->weight_decay,
    .beta1 = params->beta1,
    .beta2 = params->beta2,
    .eps = params->eps,
    .step_size = values[2],
    .bias2_sqrt = values[3],
    .scalars = scalars != NULL ? scalars->buffer : NULL,
    .scalars_slot = slot,
  };
  return param->backend->ops->optim_step (param->backend, &plan, param->buffer, grad->buffer,
                                          exp_avg->buffer, exp_avg_sq->buffer, error);
}

static gboolean
check_grads (const char           *op,
             GraftTensor * const  *grads,
             guint                 n_grads,
             GraftTensor          *norm,
             GError              **error)
{
  if (norm->n_elements != 1)
    {
      g_autofree char *shape = graft_tensor_format_shape (norm);
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s has shape %s, expected one value", op,
                   graft_tensor_get_name (norm), shape);
      return FALSE;
    }
  for (guint i = 0; i < n_grads; i++)
    {
      g_return_val_if_fail (grads[i] != NULL, FALSE);
      if (!_graft_ops_same_backend (op, norm, grads[i], error))
        return FALSE;
      if (grads[i]->buffer == norm->buffer)
        {
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                       "%s: %s and %s share storage", op, graft_tensor_get_name (grads[i]),
                       graft_tensor_get_name (norm));
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
graft_op_grad_norm (GraftTensor * const  *grads,
                    guint                 n_grads,
                    GraftTensor          *norm,
                    GError              **error)
{
  const char *op = "gradient norm";
  GraftBackend *backend;
  g_autoptr(GraftTensor) partial = NULL;
  gsize shape[1] = { MAX (n_grads, 1) };

  g_return_val_if_fail (grads != NULL || n_grads == 0, FALSE);
  g_return_val_if_fail (norm != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_grads (op, grads, n_grads, norm, error))
    return FALSE;

  backend = norm->backend;
  if (n_grads == 0)
    return backend->ops->fill (backend, norm->buffer, 1, 0.0f, error);

  /* One partial sum of squares per tensor, then the root of their sum. The scratch
   * tensor may be released at once: backends defer frees until ops finish. */
  partial = graft_tensor_new (backend, 1, shape, error);
  if (partial == NULL)
    return FALSE;
  for (guint i = 0; i < n_grads; i++)
    if (!backend->ops->sum_squares (backend, grads[i]->buffer, (guint32) grads[i]->n_elements,
                                    partial->buffer, i, error))
      return FALSE;
  return backend->ops->sqrt_sum (backend, partial->buffer, n_grads, norm->buffer, error);
}

gboolean
graft_op_clip_grads (GraftTensor * const  *grads,
                     guint                 n_grads,
                     GraftTensor          *norm,
                     float                 max_norm,
                     GError              **error)
{
  const char *op = "gradient clipping";

  g_return_val_if_fail (grads != NULL || n_grads == 0, FALSE);
  g_return_val_if_fail (norm != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!(max_norm > 0.0f))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: the largest norm %g must be above 0", op, max_norm);
      return FALSE;
    }
  if (!check_grads (op, grads, n_grads, norm, error))
    return FALSE;

  for (guint i = 0; i < n_grads; i++)
    if (!norm->backend->ops->clip_scale (norm->backend, norm->buffer, max_norm,
                                         grads[i]->buffer, (guint32) grads[i]->n_elements,
                                         error))
      return FALSE;
  return TRUE;
}

gboolean
graft_op_clip_grad_norm (GraftTensor * const  *grads,
                         guint                 n_grads,
                         float                 max_norm,
                         GraftTensor          *norm,
                         GError              **error)
{
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return graft_op_grad_norm (grads, n_grads, norm, error) &&
         graft_op_clip_grads (grads, n_grads, norm, max_norm, error);
}
