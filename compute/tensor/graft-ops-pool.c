/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of the pooling ops: checks parameters and operands, works out the output
 * shape as PyTorch does, and hands a GraftPoolPlan to the backend. */

#include "graft-tensor-private.h"
#include "graft-ops-pool.h"

/* Max pooling stores argmax positions within a plane as floats, exact up to 2^24. */
#define MAX_INDEXED_PLANE (1u << 24)

void
graft_pool2d_params_init (GraftPool2dParams *params,
                          guint              kernel_h,
                          guint              kernel_w)
{
  g_return_if_fail (params != NULL);

  *params = (GraftPool2dParams) {
    .kernel_h = kernel_h,
    .kernel_w = kernel_w,
    .stride_h = kernel_h,
    .stride_w = kernel_w,
    .dilation_h = 1,
    .dilation_w = 1,
    .count_include_pad = TRUE,
  };
}

static gboolean
check_rank4 (const char   *op,
             GraftTensor  *t,
             GError      **error)
{
  if (t->rank == 4)
    return TRUE;
  _graft_ops_shape_error (error, op, t, "[N, C, H, W] (4 dimensions)");
  return FALSE;
}

static gboolean
check_same_shape (const char   *op,
                  GraftTensor  *t,
                  const gsize   shape[4],
                  const char   *what,
                  GError      **error)
{
  g_autofree char *expected = NULL;

  if (t->rank == 4 && t->shape[0] == shape[0] && t->shape[1] == shape[1] &&
      t->shape[2] == shape[2] && t->shape[3] == shape[3])
    return TRUE;

  expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                              ", %" G_GSIZE_FORMAT "], %s",
                              shape[0], shape[1], shape[2], shape[3], what);
  _graft_ops_shape_error (error, op, t, expected);
  return FALSE;
}

static gint64
floor_div (gint64 a,
           gint64 b)
{
  gint64 q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* One spatial dimension of the output, as PyTorch's pooling_output_shape. */
static gboolean
output_size (const char  *op,
             const char  *input,
             const char  *axis,
             gsize        size,
             guint        kernel,
             guint        stride,
             guint        pad,
             guint        dilation,
             gboolean     ceil_mode,
             gsize       *out,
             GError     **error)
{
  gint64 span, o;

  if (kernel == 0 || stride == 0 || dilation == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: kernel %u, stride %u and dilation %u along the %s must all be at least 1",
                   op, kernel, stride, dilation, axis);
      return FALSE;
    }
  if (pad > kernel / 2)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: padding %u along the %s is more than half the kernel (%u)",
                   op, pad, axis, kernel);
      return FALSE;
    }

  span = (gint64) dilation * (kernel - 1) + 1;
  o = floor_div ((gint64) size + 2 * (gint64) pad - span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  /* The last window must start inside the input or its left padding. */
  if (ceil_mode && (o - 1) * (gint64) stride >= (gint64) size + pad)
    o--;

  if (o < 1)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s is too small along the %s (%" G_GSIZE_FORMAT ") for a window of %"
                   G_GINT64_FORMAT " with padding %u: the output would be empty",
                   op, input, axis, size, span, pad);
      return FALSE;
    }
  *out = (gsize) o;
  return TRUE;
}

static gboolean
pool_output_shape (const char               *op,
                   const char               *input,
                   const gsize               in_shape[4],
                   const GraftPool2dParams  *params,
                   gsize                     out_shape[4],
                   GError                  **error)
{
  out_shape[0] = in_shape[0];
  out_shape[1] = in_shape[1];
  return output_size (op, input, "height", in_shape[2], params->kernel_h, params->stride_h,
                      params->pad_h, params->dilation_h, params->ceil_mode, &out_shape[2], error) &&
         output_size (op, input, "width", in_shape[3], params->kernel_w, params->stride_w,
                      params->pad_w, params->dilation_w, params->ceil_mode, &out_shape[3], error);
}

gboolean
graft_pool2d_output_shape (const gsize               in_shape[4],
                           const GraftPool2dParams  *params,
                           gsize                     out_shape[4],
                           GError                  **error)
{
  gsize shape[4];

  g_return_val_if_fail (in_shape != NULL && params != NULL && out_shape != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!pool_output_shape ("pool2d", "the input", in_shape, params, shape, error))
    return FALSE;
  for (guint d = 0; d < 4; d++)
    out_shape[d] = shape[d];
  return TRUE;
}

/* Checks @x (the forward input, or grad_in) and fills @plan's sizes from it and @params;
 * @out_shape gets the output shape the plan implies. */
static gboolean
plan_pool (const char               *op,
           GraftPoolKind             kind,
           GraftTensor              *x,
           const GraftPool2dParams  *params,
           GraftPoolPlan            *plan,
           gsize                     out_shape[4],
           GError                  **error)
{
  if (!check_rank4 (op, x, error))
    return FALSE;

  if (kind == GRAFT_POOL_MAX && x->shape[2] * x->shape[3] > MAX_INDEXED_PLANE)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE,
                   "%s: the planes of %s hold %" G_GSIZE_FORMAT " values, more than the %u "
                   "whose positions max pooling can record; pool a smaller image",
                   op, graft_tensor_get_name (x), x->shape[2] * x->shape[3], MAX_INDEXED_PLANE);
      return FALSE;
    }

  if (kind == GRAFT_POOL_AVG && (params->dilation_h != 1 || params->dilation_w != 1))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: average pooling has no dilation, but it is %u x %u; set it to 1",
                   op, params->dilation_h, params->dilation_w);
      return FALSE;
    }

  if (!pool_output_shape (op, graft_tensor_get_name (x), x->shape, params, out_shape, error))
    return FALSE;

  *plan = (GraftPoolPlan) {
    .kind = kind,
    .planes = (guint32) (x->shape[0] * x->shape[1]),
    .in_h = (guint32) x->shape[2],
    .in_w = (guint32) x->shape[3],
    .out_h = (guint32) out_shape[2],
    .out_w = (guint32) out_shape[3],
    .kernel_h = params->kernel_h,
    .kernel_w = params->kernel_w,
    .stride_h = params->stride_h,
    .stride_w = params->stride_w,
    .pad_h = params->pad_h,
    .pad_w = params->pad_w,
    .dilation_h = kind == GRAFT_POOL_MAX ? params->dilation_h : 1,
    .dilation_w = kind == GRAFT_POOL_MAX ? params->dilation_w : 1,
    .count_include_pad = params->count_include_pad,
  };
  return TRUE;
}

/* Fills @plan for adaptive pooling of @x into @out (the forward direction's shapes). */
static gboolean
plan_adaptive (const char     *op,
               GraftTensor    *x,
               GraftTensor    *out,
               GraftPoolPlan  *plan,
               GError        **error)
{
  g_autofree char *expected = NULL;

  if (!check_rank4 (op, x, error) || !check_rank4 (op, out, error))
    return FALSE;
  if (out->shape[0] != x->shape[0] || out->shape[1] != x->shape[1])
    {
      expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", out_h, out_w], "
                                  "the batch and channels of %s",
                                  x->shape[0], x->shape[1], graft_tensor_get_name (x));
      _graft_ops_shape_error (error, op, out, expected);
      return FALSE;
    }

  /* Bins are found with products of an input and an output size in 32 bits. */
  if ((guint64) x->shape[2] * out->shape[2] > G_MAXUINT32 ||
      (guint64) x->shape[3] * out->shape[3] > G_MAXUINT32)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE,
                   "%s: pooling %s to %s: input and output sizes are too large together; "
                   "pool in two steps", op, graft_tensor_get_name (x), graft_tensor_get_name (out));
      return FALSE;
    }

  *plan = (GraftPoolPlan) {
    .kind = GRAFT_POOL_ADAPTIVE_AVG,
    .planes = (guint32) (x->shape[0] * x->shape[1]),
    .in_h = (guint32) x->shape[2],
    .in_w = (guint32) x->shape[3],
    .out_h = (guint32) out->shape[2],
    .out_w = (guint32) out->shape[3],
    .kernel_h = 1, .kernel_w = 1,
    .stride_h = 1, .stride_w = 1,
    .dilation_h = 1, .dilation_w = 1,
  };
  return TRUE;
}

gboolean
graft_op_max_pool2d (GraftTensor              *x,
                     const GraftPool2dParams  *params,
                     GraftTensor              *out,
                     GraftTensor              *indices,
                     GError                  **error)
{
  const char *op = "max_pool2d";
  GraftPoolPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (x != NULL && params != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, x, out, error) || !_graft_ops_same_backend (op, x, indices, error))
    return FALSE;
  if (!plan_pool (op, GRAFT_POOL_MAX, x, params, &plan, out_shape, error))
    return FALSE;
  if (!check_same_shape (op, out, out_shape, "the pooled shape", error) ||
      (indices != NULL && !check_same_shape (op, indices, out_shape, "the output's shape", error)))
    return FALSE;
  if (!_graft_ops_distinct (op, x, out, error) || !_graft_ops_distinct (op, x, indices, error) ||
      !_graft_ops_distinct (op, out, indices, error))
    return FALSE;

  return x->backend->ops->pool2d (x->backend, &plan, x->buffer, out->buffer,
                                  indices != NULL ? indices->buffer : NULL, error);
}

gboolean
graft_op_max_pool2d_backward (GraftTensor              *grad_out,
                              GraftTensor              *indices,
                              const GraftPool2dParams  *params,
                              GraftTensor              *grad_in,
                              GError                  **error)
{
  const char *op = "max_pool2d_backward";
  GraftPoolPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (grad_out != NULL && indices != NULL && params != NULL && grad_in != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, grad_in, grad_out, error) || !_graft_ops_same_backend (op, grad_in, indices, error))
    return FALSE;
  if (!plan_pool (op, GRAFT_POOL_MAX, grad_in, params, &plan, out_shape, error))
    return FALSE;
  if (!check_same_shape (op, grad_out, out_shape, "the pooled shape of the input gradient", error) ||
      !check_same_shape (op, indices, out_shape, "the output gradient's shape", error))
    return FALSE;
  if (!_graft_ops_distinct (op, grad_in, grad_out, error) || !_graft_ops_distinct (op, grad_in, indices, error))
    return FALSE;

  return grad_in->backend->ops->pool2d_backward (grad_in->backend, &plan, grad_out->buffer,
                                                 indices->buffer, grad_in->buffer, error);
}

gboolean
graft_op_avg_pool2d (GraftTensor              *x,
                     const GraftPool2dParams  *params,
                     GraftTensor              *out,
                     GError                  **error)
{
  const char *op = "avg_pool2d";
  GraftPoolPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (x != NULL && params != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, x, out, error))
    return FALSE;
  if (!plan_pool (op, GRAFT_POOL_AVG, x, params, &plan, out_shape, error))
    return FALSE;
  if (!check_same_shape (op, out, out_shape, "the pooled shape", error) ||
      !_graft_ops_distinct (op, x, out, error))
    return FALSE;

  return x->backend->ops->pool2d (x->backend, &plan, x->buffer, out->buffer, NULL, error);
}

gboolean
graft_op_avg_pool2d_backward (GraftTensor              *grad_out,
                              const GraftPool2dParams  *params,
                              GraftTensor              *grad_in,
                              GError                  **error)
{
  const char *op = "avg_pool2d_backward";
  GraftPoolPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (grad_out != NULL && params != NULL && grad_in != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, grad_in, grad_out, error))
    return FALSE;
  if (!plan_pool (op, GRAFT_POOL_AVG, grad_in, params, &plan, out_shape, error))
    return FALSE;
  if (!check_same_shape (op, grad_out, out_shape, "the pooled shape of the input gradient", error) ||
      !_graft_ops_distinct (op, grad_in, grad_out, error))
    return FALSE;

  return grad_in->backend->ops->pool2d_backward (grad_in->backend, &plan, grad_out->buffer,
                                                 NULL, grad_in->buffer, error);
}

gboolean
graft_op_adaptive_avg_pool2d (GraftTensor  *x,
                              GraftTensor  *out,
                              GError      **error)
{
  const char *op = "adaptive_avg_pool2d";
  GraftPoolPlan plan;

  g_return_val_if_fail (x != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, x, out, error) || !plan_adaptive (op, x, out, &plan, error) ||
      !_graft_ops_distinct (op, x, out, error))
    return FALSE;

  return x->backend->ops->pool2d (x->backend, &plan, x->buffer, out->buffer, NULL, error);
}

gboolean
graft_op_adaptive_avg_pool2d_backward (GraftTensor  *grad_out,
                                       GraftTensor  *grad_in,
                                       GError      **error)
{
  const char *op = "adaptive_avg_pool2d_backward";
  GraftPoolPlan plan;

  g_return_val_if_fail (grad_out != NULL && grad_in != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, grad_in, grad_out, error) ||
      !plan_adaptive (op, grad_in, grad_out, &plan, error) ||
      !_graft_ops_distinct (op, grad_in, grad_out, error))
    return FALSE;

  return grad_in->backend->ops->pool2d_backward (grad_in->backend, &plan, grad_out->buffer,
                                                 NULL, grad_in->buffer, error);
}
