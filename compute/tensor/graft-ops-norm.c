/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of the normalisation ops: checks operands, naming the tensor at fault,
 * and hands the backend one GraftNormPlan. Batch norm's channels and layer norm's rows
 * are both "groups" of the plan; see GraftNormPlan. */

#include <math.h>

#include "graft-tensor-private.h"
#include "graft-ops-norm.h"

void
graft_norm_params_init (GraftNormParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (GraftNormParams) {
    .eps = 1e-5f,
    .momentum = 0.1f,
    .training = TRUE,
  };
}

/* Outputs must not share storage with any other operand. */
static gboolean
distinct (const char   *op,
          GraftTensor  *out,
          GraftTensor **others,
          guint         n_others,
          GError      **error)
{
  gboolean seen_self = FALSE;

  if (out == NULL)
    return TRUE;
  for (guint i = 0; i < n_others; i++)
    {
      /* @out itself is in the list once; a second appearance is a real alias. */
      if (others[i] == out && !seen_self)
        {
          seen_self = TRUE;
          continue;
        }
      if (others[i] != NULL && others[i]->buffer == out->buffer)
        {
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                       "%s: %s and %s share storage; the op cannot run in place",
                       op, graft_tensor_get_name (out), graft_tensor_get_name (others[i]));
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
check_vector (const char   *op,
              GraftTensor  *t,
              gsize         n,
              const char   *what,
              GError      **error)
{
  g_autofree char *shape = NULL;

  if (t == NULL || (t->rank == 1 && t->shape[0] == n))
    return TRUE;

  shape = graft_tensor_format_shape (t);
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: %s has shape %s, expected [%" G_GSIZE_FORMAT "], %s",
               op, graft_tensor_get_name (t), shape, n, what);
  return FALSE;
}

static gboolean
check_like (const char   *op,
            GraftTensor  *t,
            GraftTensor  *x,
            GError      **error)
{
  g_autofree char *shape = NULL;
  g_autofree char *expected = NULL;
  gboolean same = t->rank == x->rank;

  for (guint d = 0; same && d < x->rank; d++)
    same = t->shape[d] == x->shape[d];
  if (same)
    return TRUE;

  shape = graft_tensor_format_shape (t);
  expected = graft_tensor_format_shape (x);
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: %s has shape %s, expected %s, the shape of %s",
               op, graft_tensor_get_name (t), shape, expected, graft_tensor_get_name (x));
  return FALSE;
}

static gboolean
check_size (const char   *op,
            GraftTensor  *x,
            GError      **error)
{
  if (x->n_elements <= G_MAXUINT32)
    return TRUE;
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE,
               "%s: %s holds %" G_GSIZE_FORMAT " values, more than one op can index; "
               "split the batch", op, graft_tensor_get_name (x), x->n_elements);
  return FALSE;
}

static gboolean
check_eps (const char   *op,
           float         eps,
           GError      **error)
{
  if (eps > 0.0f && isfinite (eps))
    return TRUE;
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: eps is %g; it must be a positive number", op, (double) eps);
  return FALSE;
}

/* The plan of batch norm on @x, checked to be [N, C, H, W]. */
static gboolean
plan_batch (const char             *op,
            GraftTensor            *x,
            const GraftNormParams  *params,
            GraftNormPlan          *plan,
            GError                **error)
{
  g_autofree char *shape = NULL;

  if (x->rank != 4)
    {
      shape = graft_tensor_format_shape (x);
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s has shape %s, expected [N, C, H, W] (4 dimensions)",
                   op, graft_tensor_get_name (x), shape);
      return FALSE;
    }
  if (!check_size (op, x, error) || !check_eps (op, params->eps, error))
    return FALSE;

  *plan = (GraftNormPlan) {
    .kind = GRAFT_NORM_BATCH,
    .outer = (guint32) x->shape[0],
    .groups = (guint32) x->shape[1],
    .inner = (guint32) (x->shape[2] * x->shape[3]),
    .eps = params->eps,
    .momentum = params->momentum,
    .training = params->training,
  };
  return TRUE;
}

/* The plan of layer norm on @x, seen as [R, D] with D its last dimension. */
static gboolean
plan_layer (const char     *op,
            GraftTensor    *x,
            float           eps,
            GraftNormPlan  *plan,
            GError        **error)
{
  if (!check_size (op, x, error) || !check_eps (op, eps, error))
    return FALSE;

  *plan = (GraftNormPlan) {
    .kind = GRAFT_NORM_LAYER,
    .outer = 1,
    .groups = (guint32) (x->n_elements / x->shape[x->rank - 1]),
    .inner = (guint32) x->shape[x->rank - 1],
    .eps = eps,
    .training = TRUE,
  };
  return TRUE;
}

/* The per-row statistics of layer norm: R values in any shape. */
static gboolean
check_stats (const char   *op,
             GraftTensor  *t,
             gsize         n,
             GError      **error)
{
  g_autofree char *shape = NULL;

  if (t->n_elements == n)
    return TRUE;
  shape = graft_tensor_format_shape (t);
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: %s has shape %s, expected %" G_GSIZE_FORMAT " values, one per row",
               op, graft_tensor_get_name (t), shape, n);
  return FALSE;
}

gboolean
graft_op_batch_norm2d (GraftTensor            *x,
                       GraftTensor            *weight,
                       GraftTensor            *bias,
                       GraftTensor            *running_mean,
                       GraftTensor            *running_var,
                       const GraftNormParams  *params,
                       GraftTensor            *y,
                       GraftTensor            *save_mean,
                       GraftTensor            *save_invstd,
                       GError                **error)
{
  const char *op = "batch_norm2d";
  GraftTensor *all[] = { x, weight, bias, running_mean, running_var, y, save_mean, save_invstd };
  GraftNormPlan plan;
  gsize c;

  g_return_val_if_fail (x != NULL && params != NULL && y != NULL, FALSE);
  g_return_val_if_fail (save_mean != NULL && save_invstd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 1; i < G_N_ELEMENTS (all); i++)
    if (!_graft_ops_same_backend (op, x, all[i], error))
      return FALSE;
  if (!plan_batch (op, x, params, &plan, error))
    return FALSE;
  c = plan.groups;

  if ((running_mean == NULL) != (running_var == NULL))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: only one of the running mean and variance was given; pass both or neither",
                   op);
      return FALSE;
    }
  if (!params->training && running_mean == NULL)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: evaluation uses the running mean and variance, but none were given",
                   op);
      return FALSE;
    }
  if (params->training && (gsize) plan.outer * plan.inner < 2)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s has one value per channel; training needs more than one to "
                   "take a variance (use a larger batch or evaluation mode)",
                   op, graft_tensor_get_name (x));
      return FALSE;
    }

  if (!check_vector (op, weight, c, "one weight per channel", error) ||
      !check_vector (op, bias, c, "one bias per channel", error) ||
      !check_vector (op, running_mean, c, "one mean per channel", error) ||
      !check_vector (op, running_var, c, "one variance per channel", error) ||
      !check_vector (op, save_mean, c, "one mean per channel", error) ||
      !check_vector (op, save_invstd, c, "one value per channel", error) ||
      !check_like (op, y, x, error))
    return FALSE;

  if (!distinct (op, y, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, save_mean, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, save_invstd, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, running_mean, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, running_var, all, G_N_ELEMENTS (all), error))
    return FALSE;

#define BUF(t) ((t) != NULL ? (t)->buffer : NULL)
  return x->backend->ops->norm (x->backend, &plan, x->buffer, BUF (weight), BUF (bias),
                                BUF (running_mean), BUF (running_var), y->buffer,
                                save_mean->buffer, save_invstd->buffer, error);
}

gboolean
graft_op_batch_norm2d_backward (GraftTensor            *dy,
                                GraftTensor            *x,
                                GraftTensor            *weight,
                                GraftTensor            *save_mean,
                                GraftTensor            *save_invstd,
                                const GraftNormParams  *params,
                                GraftTensor            *dx,
                                GraftTensor            *dweight,
                                GraftTensor            *dbias,
                                GError                **error)
{
  const char *op = "batch_norm2d_backward";
  GraftTensor *all[] = { dy, x, weight, save_mean, save_invstd, dx, dweight, dbias };
  GraftNormPlan plan;
  gsize c;

  g_return_val_if_fail (dy != NULL && x != NULL && params != NULL && dx != NULL, FALSE);
  g_return_val_if_fail (save_mean != NULL && save_invstd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (!_graft_ops_same_backend (op, x, all[i], error))
      return FALSE;
  if (!plan_batch (op, x, params, &plan, error))
    return FALSE;
  c = plan.groups;

  if (!check_like (op, dy, x, error) || !check_like (op, dx, x, error) ||
      !check_vector (op, weight, c, "one weight per channel", error) ||
      !check_vector (op, save_mean, c, "one mean per channel", error) ||
      !check_vector (op, save_invstd, c, "one value per channel", error) ||
      !check_vector (op, dweight, c, "one gradient per channel", error) ||
      !check_vector (op, dbias, c, "one gradient per channel", error))
    return FALSE;
  if (!distinct (op, dx, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, dweight, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, dbias, all, G_N_ELEMENTS (all), error))
    return FALSE;

  return x->backend->ops->norm_backward (x->backend, &plan, x->buffer, dy->buffer,
                                         BUF (weight), save_mean->buffer,
                                         save_invstd->buffer, dx->buffer, BUF (dweight),
                                         BUF (dbias), error);
}

gboolean
graft_op_layer_norm (GraftTensor  *x,
                     GraftTensor  *weight,
                     GraftTensor  *bias,
                     float         eps,
                     GraftTensor  *y,
                     GraftTensor  *save_mean,
                     GraftTensor  *save_invstd,
                     GError      **error)
{
  const char *op = "layer_norm";
  GraftTensor *all[] = { x, weight, bias, y, save_mean, save_invstd };
  GraftNormPlan plan;

  g_return_val_if_fail (x != NULL && y != NULL, FALSE);
  g_return_val_if_fail (save_mean != NULL && save_invstd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 1; i < G_N_ELEMENTS (all); i++)
    if (!_graft_ops_same_backend (op, x, all[i], error))
      return FALSE;
  if (!plan_layer (op, x, eps, &plan, error))
    return FALSE;

  if (!check_vector (op, weight, plan.inner, "one weight per feature of the last dimension", error) ||
      !check_vector (op, bias, plan.inner, "one bias per feature of the last dimension", error) ||
      !check_like (op, y, x, error) ||
      !check_stats (op, save_mean, plan.groups, error) ||
      !check_stats (op, save_invstd, plan.groups, error))
    return FALSE;
  if (!distinct (op, y, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, save_mean, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, save_invstd, all, G_N_ELEMENTS (all), error))
    return FALSE;

  return x->backend->ops->norm (x->backend, &plan, x->buffer, BUF (weight), BUF (bias),
                                NULL, NULL, y->buffer, save_mean->buffer,
                                save_invstd->buffer, error);
}

gboolean
graft_op_layer_norm_backward (GraftTensor  *dy,
                              GraftTensor  *x,
                              GraftTensor  *weight,
                              GraftTensor  *save_mean,
                              GraftTensor  *save_invstd,
                              GraftTensor  *dx,
                              GraftTensor  *dweight,
                              GraftTensor  *dbias,
                              GError      **error)
{
  const char *op = "layer_norm_backward";
  GraftTensor *all[] = { dy, x, weight, save_mean, save_invstd, dx, dweight, dbias };
  GraftNormPlan plan;

  g_return_val_if_fail (dy != NULL && x != NULL && dx != NULL, FALSE);
  g_return_val_if_fail (save_mean != NULL && save_invstd != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    if (!_graft_ops_same_backend (op, x, all[i], error))
      return FALSE;
  if (!plan_layer (op, x, 1.0f, &plan, error))
    return FALSE;

  if (!check_like (op, dy, x, error) || !check_like (op, dx, x, error) ||
      !check_vector (op, weight, plan.inner, "one weight per feature of the last dimension", error) ||
      !check_vector (op, dweight, plan.inner, "one gradient per feature", error) ||
      !check_vector (op, dbias, plan.inner, "one gradient per feature", error) ||
      !check_stats (op, save_mean, plan.groups, error) ||
      !check_stats (op, save_invstd, plan.groups, error))
    return FALSE;
  if (!distinct (op, dx, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, dweight, all, G_N_ELEMENTS (all), error) ||
      !distinct (op, dbias, all, G_N_ELEMENTS (all), error))
    return FALSE;

  return x->backend->ops->norm_backward (x->backend, &plan, x->buffer, dy->buffer,
                                         BUF (weight), save_mean->buffer,
                                         save_invstd->buffer, dx->buffer, BUF (dweight),
                                         BUF (dbias), error);
#undef BUF
}
