/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of every op: checks operands, works out shapes, and hands a validated
 * request to the backend's op table. */

#include <string.h>

#include "graft-tensor-private.h"
#include "graft-ops.h"

/* @tensor must hold as many values as @like. */
static gboolean
same_count (const char   *op,
            GraftTensor  *like,
            GraftTensor  *tensor,
            GError      **error)
{
  g_autofree char *expected = NULL;

  if (tensor->n_elements == like->n_elements)
    return TRUE;
  expected = g_strdup_printf ("%" G_GSIZE_FORMAT " values like %s",
                              like->n_elements, graft_tensor_get_name (like));
  _graft_ops_shape_error (error, op, tensor, expected);
  return FALSE;
}

gboolean
graft_op_fill (GraftTensor  *out,
               float         value,
               GError      **error)
{
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return out->backend->ops->fill (out->backend, out->buffer, (guint32) out->n_elements, value, error);
}

gboolean
graft_op_scale (GraftTensor  *a,
                float         s,
                GraftTensor  *out,
                GError      **error)
{
  g_return_val_if_fail (a != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend ("scale", a, out, error))
    return FALSE;
  if (!same_count ("scale", a, out, error))
    return FALSE;

  return a->backend->ops->scale (a->backend, a->buffer, out->buffer, (guint32) a->n_elements, s, error);
}

/* Fills @plan for out = a (op) b, or explains why the shapes do not broadcast. */
static gboolean
plan_broadcast (const char      *op,
                GraftTensor     *a,
                GraftTensor     *b,
                GraftTensor     *out,
                GraftBroadcast  *plan,
                GError         **error)
{
  guint rank = MAX (a->rank, b->rank);
  gsize shape[GRAFT_MAX_RANK];
  GraftTensor *inputs[2] = { a, b };
  guint32 *strides[2] = { plan->a_strides, plan->b_strides };

  for (guint d = 0; d < rank; d++)
    {
      /* Align on the last dimension; missing leading dimensions count as 1. */
      gsize da = d + a->rank >= rank ? a->shape[d + a->rank - rank] : 1;
      gsize db = d + b->rank >= rank ? b->shape[d + b->rank - rank] : 1;

      if (da != db && da != 1 && db != 1)
        {
          g_autofree char *sa = graft_tensor_format_shape (a);
          g_autofree char *sb = graft_tensor_format_shape (b);
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                       "%s: shapes %s (%s) and %s (%s) do not broadcast: dimension %u is %"
                       G_GSIZE_FORMAT " against %" G_GSIZE_FORMAT,
                       op, sa, graft_tensor_get_name (a), sb, graft_tensor_get_name (b),
                       d, da, db);
          return FALSE;
        }
      shape[d] = MAX (da, db);
    }

  if (out->rank != rank || memcmp (out->shape, shape, rank * sizeof (gsize)) != 0)
    {
      g_autofree char *expected = NULL;
      GString *s = g_string_new ("[");
      for (guint d = 0; d < rank; d++)
        g_string_append_printf (s, d == 0 ? "%" G_GSIZE_FORMAT : ", %" G_GSIZE_FORMAT, shape[d]);
      g_string_append (s, "], the broadcast shape of its inputs");
      expected = g_string_free (s, FALSE);
      _graft_ops_shape_error (error, op, out, expected);
      return FALSE;
    }

  plan->rank = rank;
  plan->n = (guint32) out->n_elements;
  for (guint d = 0; d < rank; d++)
    plan->shape[d] = (guint32) shape[d];

  for (guint t = 0; t < 2; t++)
    {
      GraftTensor *in = inputs[t];
      guint32 stride = 1;

      for (guint d = rank; d-- > 0;)
        {
          gsize dim = d + in->rank >= rank ? in->shape[d + in->rank - rank] : 1;
          /* A dimension of 1 never advances: stride 0 broadcasts it. */
          strides[t][d] = dim == 1 ? 0 : stride;
          stride *= (guint32) dim;
        }
    }

  /* In-place is fine only when the aliased input maps one-to-one onto the output. */
  if ((out->buffer == a->buffer && a->n_elements != out->n_elements) ||
      (out->buffer == b->buffer && b->n_elements != out->n_elements))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %s is both an input that is broadcast and the output",
                   op, graft_tensor_get_name (out));
      return FALSE;
    }

  return TRUE;
}

static gboolean
binary (const char     *name,
        GraftBinaryOp   op,
        GraftTensor    *a,
        GraftTensor    *b,
        GraftTensor    *out,
        GError        **error)
{
  GraftBroadcast plan = { 0 };

  if (!_graft_ops_same_backend (name, a, b, error) || !_graft_ops_same_backend (name, a, out, error))
    return FALSE;
  if (!plan_broadcast (name, a, b, out, &plan, error))
    return FALSE;

  return a->backend->ops->binary (a->backend, op, &plan, a->buffer, b->buffer, out->buffer, error);
}

gboolean
graft_op_add (GraftTensor  *a,
              GraftTensor  *b,
              GraftTensor  *out,
              GError      **error)
{
  g_return_val_if_fail (a != NULL && b != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return binary ("add", GRAFT_BINARY_ADD, a, b, out, error);
}

gboolean
graft_op_mul (GraftTensor  *a,
              GraftTensor  *b,
              GraftTensor  *out,
              GError      **error)
{
  g_return_val_if_fail (a != NULL && b != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return binary ("mul", GRAFT_BINARY_MUL, a, b, out, error);
}

gboolean
graft_op_gemm (GraftTensor  *a,
               gboolean      trans_a,
               GraftTensor  *b,
               gboolean      trans_b,
               GraftTensor  *bias,
               float         alpha,
               float         beta,
               GraftTensor  *c,
               GError      **error)
{
  GraftGemmParams p = { 0 };
  g_autofree char *expected = NULL;
  gsize m, n, k;

  g_return_val_if_fail (a != NULL && b != NULL && c != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend ("gemm", c, a, error) || !_graft_ops_same_backend ("gemm", c, b, error) ||
      !_graft_ops_same_backend ("gemm", c, bias, error))
    return FALSE;

  if (c->rank != 2)
    {
      _graft_ops_shape_error (error, "gemm", c, "a matrix [m, n]");
      return FALSE;
    }
  m = c->shape[0];
  n = c->shape[1];

  if (a->rank != 2 || a->shape[trans_a ? 1 : 0] != m)
    {
      expected = g_strdup_printf (trans_a ? "[k, %" G_GSIZE_FORMAT "] (transposed)" : "[%" G_GSIZE_FORMAT ", k]", m);
      _graft_ops_shape_error (error, "gemm", a, expected);
      return FALSE;
    }
  k = a->shape[trans_a ? 0 : 1];

  if (b->rank != 2 || b->shape[trans_b ? 1 : 0] != k || b->shape[trans_b ? 0 : 1] != n)
    {
      expected = trans_b
        ? g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] (transposed)", n, k)
        : g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]", k, n);
      _graft_ops_shape_error (error, "gemm", b, expected);
      return FALSE;
    }

  if (bias != NULL && bias->n_elements != n)
    {
      expected = g_strdup_printf ("[%" G_GSIZE_FORMAT "], one value per output column", n);
      _graft_ops_shape_error (error, "gemm", bias, expected);
      return FALSE;
    }

  if (c->buffer == a->buffer || c->buffer == b->buffer || (bias != NULL && c->buffer == bias->buffer))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "gemm: the output %s is also one of the inputs", graft_tensor_get_name (c));
      return FALSE;
    }

  p.m = (guint32) m;
  p.n = (guint32) n;
  p.k = (guint32) k;
  p.trans_a = trans_a;
  p.trans_b = trans_b;
  p.alpha = alpha;
  p.beta = beta;

  return c->backend->ops->gemm (c->backend, &p, a->buffer, b->buffer,
                                bias != NULL ? bias->buffer : NULL, c->buffer, error);
}

const char *
graft_activation_to_string (GraftActivation act)
{
  switch (act)
    {
    case GRAFT_ACTIVATION_RELU:        return "relu";
    case GRAFT_ACTIVATION_RELU6:       return "relu6";
    case GRAFT_ACTIVATION_SILU:        return "silu";
    case GRAFT_ACTIVATION_HARDSWISH:   return "hardswish";
    case GRAFT_ACTIVATION_HARDSIGMOID: return "hardsigmoid";
    case GRAFT_ACTIVATION_SIGMOID:     return "sigmoid";
    case GRAFT_ACTIVATION_GELU:        return "gelu";
    default:                           break;
    }
  g_return_val_if_reached (NULL);
}

gboolean
graft_op_activation (GraftActivation   act,
                     GraftTensor      *x,
                     GraftTensor      *y,
                     GError          **error)
{
  const char *name;

  g_return_val_if_fail ((guint) act < GRAFT_N_ACTIVATIONS, FALSE);
  g_return_val_if_fail (x != NULL && y != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  name = graft_activation_to_string (act);
  if (!_graft_ops_same_backend (name, x, y, error) || !same_count (name, x, y, error))
    return FALSE;

  return x->backend->ops->activation (x->backend, act, x->buffer, y->buffer,
                                      (guint32) x->n_elements, error);
}

gboolean
graft_op_activation_backward (GraftActivation   act,
                              GraftTensor      *x,
                              GraftTensor      *dy,
                              GraftTensor      *dx,
                              GError          **error)
{
  g_autofree char *name = NULL;

  g_return_val_if_fail ((guint) act < GRAFT_N_ACTIVATIONS, FALSE);
  g_return_val_if_fail (x != NULL && dy != NULL && dx != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  name = g_strconcat (graft_activation_to_string (act), " backward", NULL);
  if (!_graft_ops_same_backend (name, x, dy, error) || !_graft_ops_same_backend (name, x, dx, error) ||
      !same_count (name, x, dy, error) || !same_count (name, x, dx, error))
    return FALSE;

  return x->backend->ops->activation_backward (x->backend, act, x->buffer, dy->buffer,
                                               dx->buffer, (guint32) x->n_elements, error);
}
