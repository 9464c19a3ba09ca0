/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of 2-D convolution: checks parameters and operands, works out the output
 * shape as PyTorch does, and hands a GraftConvPlan to the backend. */

#include "graft-tensor-private.h"
#include "graft-ops-conv.h"
#include "backend/graft-device.h"

void
graft_conv2d_params_init (GraftConv2dParams *params)
{
  g_return_if_fail (params != NULL);

  *params = (GraftConv2dParams) {
    .stride_h = 1, .stride_w = 1,
    .dilation_h = 1, .dilation_w = 1,
    .groups = 1,
  };
}

/* Checks that @t, when given, has exactly @shape (@rank dimensions). */
static gboolean
check_shape (const char   *op,
             GraftTensor  *t,
             guint         rank,
             const gsize  *shape,
             const char   *what,
             GError      **error)
{
  g_autoptr(GString) expected = NULL;
  gboolean same;

  if (t == NULL)
    return TRUE;
  same = t->rank == rank;
  for (guint d = 0; same && d < rank; d++)
    same = t->shape[d] == shape[d];
  if (same)
    return TRUE;

  expected = g_string_new ("[");
  for (guint d = 0; d < rank; d++)
    g_string_append_printf (expected, "%s%" G_GSIZE_FORMAT, d > 0 ? ", " : "", shape[d]);
  g_string_append_printf (expected, "], %s", what);
  _graft_ops_shape_error (error, op, t, expected->str);
  return FALSE;
}

/* One spatial dimension of the output, as PyTorch's conv output size. */
static gboolean
output_size (const char  *op,
             const char  *input,
             const char  *axis,
             gsize        size,
             gsize        kernel,
             guint        stride,
             guint        pad,
             guint        dilation,
             gsize       *out,
             GError     **error)
{
  gint64 span, o;

  if (stride == 0 || dilation == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: stride %u and dilation %u along the %s must both be at least 1",
                   op, stride, dilation, axis);
      return FALSE;
    }

  span = (gint64) dilation * ((gint64) kernel - 1) + 1;
  o = ((gint64) size + 2 * (gint64) pad - span) / stride + 1;
  if ((gint64) size + 2 * (gint64) pad < span || o < 1)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s is too small along the %s (%" G_GSIZE_FORMAT ") for a kernel "
                   "spanning %" G_GINT64_FORMAT " with padding %u: the output would be empty",
                   op, input, axis, size, span, pad);
      return FALSE;
    }
  *out = (gsize) o;
  return TRUE;
}

static gboolean
conv_output_shape (const char               *op,
                   const char               *input,
                   const char               *weight,
                   const gsize               in_shape[4],
                   const gsize               w_shape[4],
                   const GraftConv2dParams  *params,
                   gsize                     out_shape[4],
                   GError                  **error)
{
  guint groups = params->groups;

  if (groups == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: groups must be at least 1", op);
      return FALSE;
    }
  if (in_shape[1] % groups != 0 || w_shape[0] % groups != 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %u groups must divide both the %" G_GSIZE_FORMAT " channels of %s "
                   "and the %" G_GSIZE_FORMAT " output channels of %s",
                   op, groups, in_shape[1], input, w_shape[0], weight);
      return FALSE;
    }
  if (w_shape[1] != in_shape[1] / groups || w_shape[0] == 0 || w_shape[2] == 0 || w_shape[3] == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s has shape [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                   ", %" G_GSIZE_FORMAT "], expected [C_out, %" G_GSIZE_FORMAT ", kernel_h, "
                   "kernel_w]: %s's %" G_GSIZE_FORMAT " channels over %u groups",
                   op, weight, w_shape[0], w_shape[1], w_shape[2], w_shape[3],
                   in_shape[1] / groups, input, in_shape[1], groups);
      return FALSE;
    }

  out_shape[0] = in_shape[0];
  out_shape[1] = w_shape[0];
  return output_size (op, input, "height", in_shape[2], w_shape[2], params->stride_h,
                      params->pad_h, params->dilation_h, &out_shape[2], error) &&
         output_size (op, input, "width", in_shape[3], w_shape[3], params->stride_w,
                      params->pad_w, params->dilation_w, &out_shape[3], error);
}

gboolean
graft_conv2d_output_shape (const gsize               in_shape[4],
                           const gsize               weight_shape[4],
                           const GraftConv2dParams  *params,
                           gsize                     out_shape[4],
                           GError                  **error)
{
  gsize shape[4];

  g_return_val_if_fail (in_shape != NULL && weight_shape != NULL, FALSE);
  g_return_val_if_fail (params != NULL && out_shape != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!conv_output_shape ("conv2d", "the input", "the weight", in_shape, weight_shape,
                          params, shape, error))
    return FALSE;
  for (guint d = 0; d < 4; d++)
    out_shape[d] = shape[d];
  return TRUE;
}

/* Checks x and weight, fills @plan and @out_shape (y's, or dy's, shape). */
static gboolean
plan_conv (const char               *op,
           GraftTensor              *x,
           GraftTensor              *weight,
           const GraftConv2dParams  *params,
           GraftConvPlan            *plan,
           gsize                     out_shape[4],
           GError                  **error)
{
  gsize out_n;

  if (x->rank != 4)
    {
      _graft_ops_shape_error (error, op, x, "[N, C_in, H, W] (4 dimensions)");
      return FALSE;
    }
  if (weight->rank != 4)
    {
      _graft_ops_shape_error (error, op, weight, "[C_out, C_in / groups, kernel_h, kernel_w] (4 dimensions)");
      return FALSE;
    }
  if (!conv_output_shape (op, graft_tensor_get_name (x), graft_tensor_get_name (weight),
                          x->shape, weight->shape, params, out_shape, error))
    return FALSE;

  /* Tensors hold fewer than 2^32 values; so must the output. */
  out_n = out_shape[0] * out_shape[1];
  if (out_n > G_MAXUINT32 / out_shape[2] || out_n * out_shape[2] > G_MAXUINT32 / out_shape[3])
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE,
                   "%s: the output of convolving %s would hold 2^32 values or more; use a "
                   "smaller batch", op, graft_tensor_get_name (x));
      return FALSE;
    }

  *plan = (GraftConvPlan) {
    .n = (guint32) x->shape[0],
    .c_in = (guint32) x->shape[1],
    .in_h = (guint32) x->shape[2],
    .in_w = (guint32) x->shape[3],
    .c_out = (guint32) out_shape[1],
    .out_h = (guint32) out_shape[2],
    .out_w = (guint32) out_shape[3],
    .kernel_h = (guint32) weight->shape[2],
    .kernel_w = (guint32) weight->shape[3],
    .stride_h = params->stride_h, .stride_w = params->stride_w,
    .pad_h = params->pad_h, .pad_w = params->pad_w,
    .dilation_h = params->dilation_h, .dilation_w = params->dilation_w,
    .groups = params->groups,
  };
  return TRUE;
}

static gboolean
supported (const char    *op,
           GraftBackend  *backend,
           gboolean       available,
           GError       **error)
{
  if (available)
    return TRUE;
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
               "%s: the %s backend cannot run this op yet; use the CPU backend",
               op, backend->info->name);
  return FALSE;
}

gboolean
graft_op_conv2d (GraftTensor              *x,
                 GraftTensor              *weight,
                 GraftTensor              *bias,
                 const GraftConv2dParams  *params,
                 GraftTensor              *y,
                 GError                  **error)
{
  const char *op = "conv2d";
  GraftConvPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (x != NULL && weight != NULL && params != NULL && y != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, x, weight, error) || !_graft_ops_same_backend (op, x, bias, error) ||
      !_graft_ops_same_backend (op, x, y, error))
    return FALSE;
  if (!plan_conv (op, x, weight, params, &plan, out_shape, error))
    return FALSE;
  if (!check_shape (op, bias, 1, &out_shape[1], "one value per output channel", error) ||
      !check_shape (op, y, 4, out_shape, "the convolved shape", error))
    return FALSE;
  if (!_graft_ops_distinct (op, y, x, error) || !_graft_ops_distinct (op, y, weight, error) ||
      !_graft_ops_distinct (op, y, bias, error))
    return FALSE;
  if (!supported (op, x->backend, x->backend->ops->conv2d != NULL, error))
    return FALSE;

  return x->backend->ops->conv2d (x->backend, &plan, x->buffer, weight->buffer,
                                  bias != NULL ? bias->buffer : NULL, y->buffer, error);
}

gboolean
graft_op_conv2d_backward (GraftTensor              *x,
                          GraftTensor              *weight,
                          GraftTensor              *dy,
                          const GraftConv2dParams  *params,
                          GraftTensor              *dx,
                          GraftTensor              *dweight,
                          GraftTensor              *dbias,
                          GError                  **error)
{
  const char *op = "conv2d_backward";
  GraftTensor *outputs[3] = { dx, dweight, dbias };
  GraftTensor *inputs[3] = { x, weight, dy };
  GraftConvPlan plan;
  gsize out_shape[4];

  g_return_val_if_fail (x != NULL && weight != NULL && dy != NULL && params != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < 3; i++)
    if (!_graft_ops_same_backend (op, x, outputs[i], error) || !_graft_ops_same_backend (op, x, inputs[i], error))
      return FALSE;
  if (!plan_conv (op, x, weight, params, &plan, out_shape, error))
    return FALSE;
  if (!check_shape (op, dy, 4, out_shape, "the convolved shape of the input", error) ||
      !check_shape (op, dx, 4, x->shape, "the input's shape", error) ||
      !check_shape (op, dweight, 4, weight->shape, "the weight's shape", error) ||
      !check_shape (op, dbias, 1, &out_shape[1], "one value per output channel", error))
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      for (guint j = 0; j < 3; j++)
        if (!_graft_ops_distinct (op, outputs[i], inputs[j], error))
          return FALSE;
      for (guint j = i + 1; j < 3; j++)
        if (!_graft_ops_distinct (op, outputs[i], outputs[j], error))
          return FALSE;
    }
  if (!supported (op, x->backend, x->backend->ops->conv2d_backward != NULL, error))
    return FALSE;
  if (dx == NULL && dweight == NULL && dbias == NULL)
    return TRUE;

  return x->backend->ops->conv2d_backward (x->backend, &plan, x->buffer, weight->buffer,
                                           dy->buffer,
                                           dx != NULL ? dx->buffer : NULL,
                                           dweight != NULL ? dweight->buffer : NULL,
                                           dbias != NULL ? dbias->buffer : NULL, error);
}
