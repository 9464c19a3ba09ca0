/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of the shape ops: channel concatenation (a strided copy per input, in
 * either direction), nearest upsampling and dropout. Checks operands and hands a plan to
 * the backend. */

#include <math.h>
#include <string.h>

#include "graft-tensor-private.h"
#include "graft-ops-shape.h"

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

/* ---- concatenation ------------------------------------------------------------------ */

/* Checks @parts against @whole ([N, sum C_i, H, W]) on one backend, all distinct. */
static gboolean
check_concat (const char    *op,
              GraftTensor   *whole,
              GraftTensor  *const *parts,
              guint          n_parts,
              GError       **error)
{
  gsize channels = 0;

  if (n_parts == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: there is nothing to concatenate; pass at least one tensor", op);
      return FALSE;
    }
  if (!check_rank4 (op, whole, error))
    return FALSE;

  for (guint i = 0; i < n_parts; i++)
    {
      GraftTensor *t = parts[i];
      g_autofree char *expected = NULL;

      g_return_val_if_fail (t != NULL, FALSE);
      if (!_graft_ops_same_backend (op, whole, t, error) || !check_rank4 (op, t, error) ||
          !_graft_ops_distinct (op, whole, t, error))
        return FALSE;
      if (t->shape[0] != whole->shape[0] || t->shape[2] != whole->shape[2] ||
          t->shape[3] != whole->shape[3])
        {
          expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", C, %" G_GSIZE_FORMAT ", %"
                                      G_GSIZE_FORMAT "], the batch and size of %s",
                                      whole->shape[0], whole->shape[2], whole->shape[3],
                                      graft_tensor_get_name (whole));
          _graft_ops_shape_error (error, op, t, expected);
          return FALSE;
        }
      for (guint j = 0; j < i; j++)
        if (!_graft_ops_distinct (op, parts[j], t, error))
          return FALSE;
      channels += t->shape[1];
    }

  if (channels != whole->shape[1])
    {
      g_autofree char *expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                                                   ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                                                   "], the channels of the %u parts together",
                                                   whole->shape[0], channels, whole->shape[2],
                                                   whole->shape[3], n_parts);
      _graft_ops_shape_error (error, op, whole, expected);
      return FALSE;
    }
  return supported (op, whole->backend, whole->backend->ops->copy_strided != NULL, error);
}

/* Copies every part to or from its channels of @whole. */
static gboolean
concat_copy (GraftTensor   *whole,
             GraftTensor  *const *parts,
             guint          n_parts,
             gboolean       into_whole,
             GError       **error)
{
  guint32 plane = (guint32) (whole->shape[2] * whole->shape[3]);
  guint32 offset = 0;

  for (guint i = 0; i < n_parts; i++)
    {
      GraftTensor *t = parts[i];
      guint32 block = (guint32) t->shape[1] * plane;
      GraftCopyPlan plan = {
        .outer = (guint32) whole->shape[0],
        .block = block,
        .src_stride = into_whole ? block : (guint32) whole->shape[1] * plane,
        .src_offset = into_whole ? 0 : offset,
        .dst_stride = into_whole ? (guint32) whole->shape[1] * plane : block,
        .dst_offset = into_whole ? offset : 0,
      };

      offset += block;
      if (t->n_elements == 0)
        continue;
      if (!whole->backend->ops->copy_strided (whole->backend, &plan,
                                              into_whole ? t->buffer : whole->buffer,
                                              into_whole ? whole->buffer : t->buffer, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
graft_op_concat_channels (GraftTensor  *const *inputs,
                          guint                 n_inputs,
                          GraftTensor          *out,
                          GError              **error)
{
  g_return_val_if_fail (inputs != NULL || n_inputs == 0, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_concat ("concat_channels", out, inputs, n_inputs, error))
    return FALSE;
  return concat_copy (out, inputs, n_inputs, TRUE, error);
}

gboolean
graft_op_concat_channels_backward (GraftTensor          *grad_out,
                                   GraftTensor  *const  *grad_inputs,
                                   guint                 n_inputs,
                                   GError              **error)
{
  g_return_val_if_fail (grad_inputs != NULL || n_inputs == 0, FALSE);
  g_return_val_if_fail (grad_out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_concat ("concat_channels_backward", grad_out, grad_inputs, n_inputs, error))
    return FALSE;
  return concat_copy (grad_out, grad_inputs, n_inputs, FALSE, error);
}

/* ---- nearest upsampling ------------------------------------------------------------- */

/* @small is the input (or grad_in), @big the output (or grad_out). */
static gboolean
plan_upsample (const char         *op,
               GraftTensor        *small,
               GraftTensor        *big,
               guint               scale,
               GraftUpsamplePlan  *plan,
               GError            **error)
{
  if (!_graft_ops_same_backend (op, small, big, error))
    return FALSE;
  if (scale == 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: the scale factor is 0; it must be at least 1", op);
      return FALSE;
    }
  if (!check_rank4 (op, small, error) || !check_rank4 (op, big, error) ||
      !_graft_ops_distinct (op, small, big, error))
    return FALSE;
  if (big->shape[0] != small->shape[0] || big->shape[1] != small->shape[1] ||
      big->shape[2] != small->shape[2] * scale || big->shape[3] != small->shape[3] * scale)
    {
      g_autofree char *expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                                                   ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                                                   "], %s upsampled %u times",
                                                   small->shape[0], small->shape[1],
                                                   small->shape[2] * scale, small->shape[3] * scale,
                                                   graft_tensor_get_name (small), scale);
      _graft_ops_shape_error (error, op, big, expected);
      return FALSE;
    }

  *plan = (GraftUpsamplePlan) {
    .planes = (guint32) (small->shape[0] * small->shape[1]),
    .in_h = (guint32) small->shape[2],
    .in_w = (guint32) small->shape[3],
    .scale = scale,
  };
  return TRUE;
}

gboolean
graft_op_upsample_nearest2d (GraftTensor  *x,
                             guint         scale,
                             GraftTensor  *out,
                             GError      **error)
{
  const char *op = "upsample_nearest2d";
  GraftUpsamplePlan plan;

  g_return_val_if_fail (x != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!plan_upsample (op, x, out, scale, &plan, error) ||
      !supported (op, x->backend, x->backend->ops->upsample_nearest != NULL, error))
    return FALSE;
  if (out->n_elements == 0)
    return TRUE;
  return x->backend->ops->upsample_nearest (x->backend, &plan, x->buffer, out->buffer, error);
}

gboolean
graft_op_upsample_nearest2d_backward (GraftTensor  *grad_out,
                                      guint         scale,
                                      GraftTensor  *grad_in,
                                      GError      **error)
{
  const char *op = "upsample_nearest2d_backward";
  GraftUpsamplePlan plan;

  g_return_val_if_fail (grad_out != NULL && grad_in != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!plan_upsample (op, grad_in, grad_out, scale, &plan, error) ||
      !supported (op, grad_in->backend, grad_in->backend->ops->upsample_nearest_backward != NULL, error))
    return FALSE;
  if (grad_in->n_elements == 0)
    return TRUE;
  return grad_in->backend->ops->upsample_nearest_backward (grad_in->backend, &plan,
                                                           grad_out->buffer, grad_in->buffer,
                                                           error);
}

/* ---- dropout ------------------------------------------------------------------------ */

static gboolean
run_dropout (const char    *op,
             GraftTensor   *x,
             float          p,
             guint64        seed,
             GraftTensor   *keys,
             guint          slot,
             gboolean       training,
             GraftTensor   *y,
             GError       **error)
{
  GraftBackend *backend = x->backend;

  if (!_graft_ops_same_backend (op, x, y, error))
    return FALSE;
  if (keys != NULL)
    {
      if (!_graft_ops_same_backend (op, x, keys, error))
        return FALSE;
      if (slot >= keys->n_elements)
        {
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                       "%s: key slot %u is past the %" G_GSIZE_FORMAT " keys of %s", op, slot,
                       keys->n_elements, graft_tensor_get_name (keys));
          return FALSE;
        }
    }
  if (!(p >= 0.0f && p <= 1.0f))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: the dropout probability is %g; it must be between 0 and 1", op, p);
      return FALSE;
    }
  if (y->n_elements != x->n_elements || y->rank != x->rank ||
      memcmp (y->shape, x->shape, x->rank * sizeof (gsize)) != 0)
    {
      g_autofree char *expected = graft_tensor_format_shape (x);
      _graft_ops_shape_error (error, op, y, expected);
      return FALSE;
    }
  if (!_graft_ops_distinct (op, x, y, error))
    return FALSE;
  if (x->n_elements == 0)
    return TRUE;

  if (!training || p == 0.0f)
    {
      GraftCopyPlan copy = {
        .outer = 1,
        .block = (guint32) x->n_elements,
      };

      if (!supported (op, backend, backend->ops->copy_strided != NULL, error))
        return FALSE;
      return backend->ops->copy_strided (backend, &copy, x->buffer, y->buffer, error);
    }
  else
    {
      /* u = (h >> 8) / 2^24 >= p  <=>  (h >> 8) >= ceil (p * 2^24), exactly in double. */
      GraftDropoutPlan plan = {
        .n = (guint32) x->n_elements,
        .key = _graft_dropout_key (seed),
        .threshold = (guint32) ceil ((double) p * 16777216.0),
        .scale = p < 1.0f ? (float) (1.0 / (1.0 - (double) p)) : 0.0f,
        .keys = keys != NULL ? keys->buffer : NULL,
        .key_slot = slot,
      };

      if (!supported (op, backend, backend->ops->dropout != NULL, error))
        return FALSE;
      return backend->ops->dropout (backend, &plan, x->buffer, y->buffer, error);
    }
}

gboolean
graft_op_dropout (GraftTensor  *x,
                  float         p,
                  guint64       seed,
                  gboolean      training,
                  GraftTensor  *out,
                  GError      **error)
{
  g_return_val_if_fail (x != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_dropout ("dropout", x, p, seed, NULL, 0, training, out, error);
}

gboolean
graft_op_dropout_backward (GraftTensor  *grad_out,
                           float         p,
                           guint64       seed,
                           gboolean      training,
                           GraftTensor  *grad_in,
                           GError      **error)
{
  g_return_val_if_fail (grad_out != NULL && grad_in != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_dropout ("dropout_backward", grad_out, p, seed, NULL, 0, training, grad_in, error);
}

guint32
graft_dropout_key (guint64 seed)
{
  return _graft_dropout_key (seed);
}

gboolean
graft_dropout_write_keys (GraftTensor    *keys,
                          const guint64  *seeds,
                          guint           n_seeds,
                          GError        **error)
{
  g_autofree guint32 *values = NULL;

  g_return_val_if_fail (keys != NULL && (seeds != NULL || n_seeds == 0), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (n_seeds > keys->n_elements)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "dropout keys: %u keys do not fit in the %" G_GSIZE_FORMAT " values of %s",
                   n_seeds, keys->n_elements, graft_tensor_get_name (keys));
      return FALSE;
    }
  values = g_new (guint32, MAX (n_seeds, 1));
  for (guint i = 0; i < n_seeds; i++)
    values[i] = _graft_dropout_key (seeds[i]);
  /* The bits go as they are: the kernels read them as integers. */
  return keys->backend->ops->buffer_write (keys->backend, keys->buffer,
                                           0, values,
                                           n_seeds * sizeof (guint32), error);
}

gboolean
graft_op_dropout_keyed (GraftTensor  *x,
                        float         p,
                        guint64       seed,
                        GraftTensor  *keys,
                        guint         slot,
                        gboolean      training,
                        GraftTensor  *out,
                        GError      **error)
{
  g_return_val_if_fail (x != NULL && out != NULL && keys != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_dropout ("dropout", x, p, seed, keys, slot, training, out, error);
}

gboolean
graft_op_dropout_backward_keyed (GraftTensor  *grad_out,
                                 float         p,
                                 guint64       seed,
                                 GraftTensor  *keys,
                                 guint         slot,
                                 gboolean      training,
                                 GraftTensor  *grad_in,
                                 GError      **error)
{
  g_return_val_if_fail (grad_out != NULL && grad_in != NULL && keys != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return run_dropout ("dropout_backward", grad_out, p, seed, keys, slot, training, grad_in, error);
}
