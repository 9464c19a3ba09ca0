/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-ops"

/* Checks every op's front end makes before a backend sees a request; each error names
 * the op and the tensors at fault. */

#include "graft-tensor-private.h"

gboolean
_graft_ops_same_backend (const char   *op,
                         GraftTensor  *first,
                         GraftTensor  *other,
                         GError      **error)
{
  if (other == NULL || other->backend == first->backend)
    return TRUE;

  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_BACKEND,
               "%s: %s is on %s but %s is on %s; move one of them first",
               op, graft_tensor_get_name (first), first->backend->info->name,
               graft_tensor_get_name (other), other->backend->info->name);
  return FALSE;
}

void
_graft_ops_shape_error (GError      **error,
                        const char   *op,
                        GraftTensor  *tensor,
                        const char   *expected)
{
  g_autofree char *shape = graft_tensor_format_shape (tensor);

  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: %s has shape %s, expected %s",
               op, graft_tensor_get_name (tensor), shape, expected);
}

gboolean
_graft_ops_distinct (const char   *op,
                     GraftTensor  *a,
                     GraftTensor  *b,
                     GError      **error)
{
  if (a == NULL || b == NULL || a->buffer != b->buffer)
    return TRUE;

  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "%s: %s and %s share storage; the op cannot run in place, give the output its own tensor",
               op, graft_tensor_get_name (a), graft_tensor_get_name (b));
  return FALSE;
}
