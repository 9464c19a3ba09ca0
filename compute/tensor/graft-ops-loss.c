/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* The front end of the cross-entropy loss: checks operands, naming the one at fault,
 * and hands a GraftCrossEntropyPlan to the backend. */

#include <math.h>

#include "graft-tensor-private.h"
#include "graft-ops-loss.h"

#define OP "cross_entropy"

/* @t must be a vector of @n values, or, when @cols is not 0, an [n, cols] matrix. */
static gboolean
check_shape (GraftTensor  *t,
             gsize         n,
             gsize         cols,
             GError      **error)
{
  g_autofree char *expected = NULL;

  if (cols == 0 && t->rank == 1 && t->shape[0] == n)
    return TRUE;
  if (cols != 0 && t->rank == 2 && t->shape[0] == n && t->shape[1] == cols)
    return TRUE;

  if (cols == 0)
    expected = g_strdup_printf ("[%" G_GSIZE_FORMAT "]", n);
  else
    expected = g_strdup_printf ("[%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "]", n, cols);
  _graft_ops_shape_error (error, OP, t, expected);
  return FALSE;
}

gboolean
graft_op_cross_entropy (GraftTensor  *logits,
                        GraftTensor  *target,
                        GraftTensor  *weight,
                        float         label_smoothing,
                        GraftTensor  *loss,
                        GraftTensor  *losses,
                        GraftTensor  *dlogits,
                        GError      **error)
{
  GraftTensor *inputs[] = { logits, target, weight };
  GraftTensor *outputs[] = { loss, losses, dlogits };
  GraftCrossEntropyPlan plan;
  gsize n, c;

  g_return_val_if_fail (logits != NULL && target != NULL, FALSE);
  g_return_val_if_fail (loss != NULL && losses != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    if (!_graft_ops_same_backend (OP, logits, inputs[i], error))
      return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    if (!_graft_ops_same_backend (OP, logits, outputs[i], error))
      return FALSE;

  if (logits->rank != 2)
    {
      _graft_ops_shape_error (error, OP, logits, "[N, C] (2 dimensions)");
      return FALSE;
    }
  n = logits->shape[0];
  c = logits->shape[1];

  if (!check_shape (target, n, 0, error) ||
      (weight != NULL && !check_shape (weight, c, 0, error)) ||
      !check_shape (loss, 1, 0, error) ||
      !check_shape (losses, n, 0, error) ||
      (dlogits != NULL && !check_shape (dlogits, n, c, error)))
    return FALSE;

  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
    {
      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   OP ": label smoothing %g is outside [0, 1]", label_smoothing);
      return FALSE;
    }

  /* Outputs are written while inputs are still read. */
  for (guint o = 0; o < G_N_ELEMENTS (outputs); o++)
    {
      for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
        if (!_graft_ops_distinct (OP, outputs[o], inputs[i], error))
          return FALSE;
      for (guint p = o + 1; p < G_N_ELEMENTS (outputs); p++)
        if (!_graft_ops_distinct (OP, outputs[o], outputs[p], error))
          return FALSE;
    }

  plan = (GraftCrossEntropyPlan) {
    .n = (guint32) n,
    .c = (guint32) c,
    .label_smoothing = label_smoothing,
    .has_weight = weight != NULL,
  };

  return logits->backend->ops->cross_entropy (logits->backend, &plan, logits->buffer,
                                              target->buffer,
                                              weight != NULL ? weight->buffer : NULL,
                                              loss->buffer, losses->buffer,
                                              dlogits != NULL ? dlogits->buffer : NULL,
                                              error);
}
