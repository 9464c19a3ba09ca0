/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of attention: the batched transpose and multi-head self-attention over
 * packed q, k, v projections, forward and backward. Checks operands and hands a plan to
 * the backend. */

#include <math.h>

#include "graft-tensor-private.h"
#include "graft-ops-attention.h"

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

/* Whether @t is [d0, d1, d2]; otherwise sets a shape error that says so. */
static gboolean
check_shape3 (const char   *op,
              GraftTensor  *t,
              gsize         d0,
              gsize         d1,
              gsize         d2,
              const char   *what,
              GError      **error)
{
  g_autofree char *expected = NULL;

  if (t->rank == 3 && t->shape[0] == d0 && t->shape[1] == d1 && t->shape[2] == d2)
    return TRUE;
  expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                              "], %s", d0, d1, d2, what);
  _graft_ops_shape_error (error, op, t, expected);
  return FALSE;
}

/* ---- transpose ---------------------------------------------------------------------- */

gboolean
graft_op_transpose_last2 (GraftTensor  *x,
                          GraftTensor  *out,
                          GError      **error)
{
  const char *op = "transpose_last2";
  GraftTransposePlan plan;
  gsize batch, rows, cols;
  gboolean ok;

  g_return_val_if_fail (x != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_ops_same_backend (op, x, out, error))
    return FALSE;
  if (x->rank != 2 && x->rank != 3)
    {
      _graft_ops_shape_error (error, op, x, "[B, M, K] or [M, K] (3 or 2 dimensions)");
      return FALSE;
    }
  batch = x->rank == 3 ? x->shape[0] : 1;
  rows = x->shape[x->rank - 2];
  cols = x->shape[x->rank - 1];

  if (x->rank == 3)
    ok = out->rank == 3 && out->shape[0] == batch && out->shape[1] == cols && out->shape[2] == rows;
  else
    ok = out->rank == 2 && out->shape[0] == cols && out->shape[1] == rows;
  if (!ok)
    {
      g_autofree char *expected = NULL;

      if (x->rank == 3)
        expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT ", %"
                                    G_GSIZE_FORMAT "], %s with its last two dimensions swapped",
                                    batch, cols, rows, graft_tensor_get_name (x));
      else
        expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "], %s transposed",
                                    cols, rows, graft_tensor_get_name (x));
      _graft_ops_shape_error (error, op, out, expected);
      return FALSE;
    }
  if (!_graft_ops_distinct (op, x, out, error) ||
      !supported (op, x->backend, x->backend->ops->transpose_last2 != NULL, error))
    return FALSE;
  if (x->n_elements == 0)
    return TRUE;

  plan = (GraftTransposePlan) {
    .batch = (guint32) batch,
    .rows = (guint32) rows,
    .cols = (guint32) cols,
  };
  return x->backend->ops->transpose_last2 (x->backend, &plan, x->buffer, out->buffer, error);
}

/* ---- attention ---------------------------------------------------------------------- */

/* Checks qkv ([N, L, 3E], n_heads dividing E) and probs ([N, n_heads, L, L]) and fills
 * in @plan. */
static gboolean
plan_attention (const char          *op,
                GraftTensor         *qkv,
                guint                n_heads,
                GraftTensor         *probs,
                GraftAttentionPlan  *plan,
                GError             **error)
{
  gsize n, l, e;

  if (!_graft_ops_same_backend (op, qkv, probs, error))
    return FALSE;
  if (qkv->rank != 3 || qkv->shape[2] == 0 || qkv->shape[2] % 3 != 0)
    {
      _graft_ops_shape_error (error, op, qkv,
                              "[N, L, 3E] (3 dimensions, the last a positive multiple of 3: "
                              "q, k and v side by side)");
      return FALSE;
    }
  n = qkv->shape[0];
  l = qkv->shape[1];
  e = qkv->shape[2] / 3;
  if (n_heads == 0 || e % n_heads != 0)
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "%s: %u heads do not divide the embedding size %" G_GSIZE_FORMAT
                   " of %s; pick a number of heads that does",
                   op, n_heads, e, graft_tensor_get_name (qkv));
      return FALSE;
    }
  if (probs->rank != 4 || probs->shape[0] != n || probs->shape[1] != n_heads ||
      probs->shape[2] != l || probs->shape[3] != l)
    {
      g_autofree char *expected =
        g_strdup_printf ("[%" G_GSIZE_FORMAT ", %u, %" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT
                         "], the attention weights of every head of %s",
                         n, n_heads, l, l, graft_tensor_get_name (qkv));
      _graft_ops_shape_error (error, op, probs, expected);
      return FALSE;
    }

  *plan = (GraftAttentionPlan) {
    .n = (guint32) n,
    .l = (guint32) l,
    .e = (guint32) e,
    .heads = n_heads,
    .head_dim = (guint32) (e / n_heads),
    .scale = (float) (1.0 / sqrt ((double) (e / n_heads))),
  };
  return TRUE;
}

gboolean
graft_op_attention (GraftTensor  *qkv,
                    guint         n_heads,
                    GraftTensor  *probs,
                    GraftTensor  *out,
                    GError      **error)
{
  const char *op = "attention";
  GraftAttentionPlan plan;
  g_autofree char *what = NULL;

  g_return_val_if_fail (qkv != NULL && probs != NULL && out != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!plan_attention (op, qkv, n_heads, probs, &plan, error) ||
      !_graft_ops_same_backend (op, qkv, out, error))
    return FALSE;
  what = g_strdup_printf ("the heads' outputs side by side for %s", graft_tensor_get_name (qkv));
  if (!check_shape3 (op, out, plan.n, plan.l, plan.e, what, error) ||
      !_graft_ops_distinct (op, qkv, probs, error) || !_graft_ops_distinct (op, qkv, out, error) ||
      !_graft_ops_distinct (op, probs, out, error) ||
      !supported (op, qkv->backend, qkv->backend->ops->attention != NULL, error))
    return FALSE;
  if (plan.n == 0 || plan.l == 0)
    return TRUE;
  return qkv->backend->ops->attention (qkv->backend, &plan, qkv->buffer, probs->buffer,
                                       out->buffer, error);
}

gboolean
graft_op_attention_backward (GraftTensor  *qkv,
                             GraftTensor  *probs,
                             GraftTensor  *dout,
                             guint         n_heads,
                             GraftTensor  *dqkv,
                             GError      **error)
{
  const char *op = "attention_backward";
  GraftAttentionPlan plan;
  g_autofree char *what_dout = NULL;
  g_autofree char *what_dqkv = NULL;

  g_return_val_if_fail (qkv != NULL && probs != NULL && dout != NULL && dqkv != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!plan_attention (op, qkv, n_heads, probs, &plan, error) ||
      !_graft_ops_same_backend (op, qkv, dout, error) ||
      !_graft_ops_same_backend (op, qkv, dqkv, error))
    return FALSE;
  what_dout = g_strdup_printf ("the gradient of the attention output for %s",
                               graft_tensor_get_name (qkv));
  what_dqkv = g_strdup_printf ("the shape of %s", graft_tensor_get_name (qkv));
  if (!check_shape3 (op, dout, plan.n, plan.l, plan.e, what_dout, error) ||
      !check_shape3 (op, dqkv, plan.n, plan.l, 3 * (gsize) plan.e, what_dqkv, error) ||
      !_graft_ops_distinct (op, qkv, dqkv, error) || !_graft_ops_distinct (op, probs, dqkv, error) ||
      !_graft_ops_distinct (op, dout, dqkv, error) ||
      !supported (op, qkv->backend, qkv->backend->ops->attention_backward != NULL, error))
    return FALSE;
  if (plan.n == 0 || plan.l == 0)
    return TRUE;
  return qkv->backend->ops->attention_backward (qkv->backend, &plan, qkv->buffer,
                                                probs->buffer, dout->buffer, dqkv->buffer,
                                                error);
}
