/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "backend/graft-backend-private.h"
#include "graft-tensor.h"

G_BEGIN_DECLS

struct _GraftTensor {
  gint          ref_count;
  GraftBackend *backend;
  GraftBuffer  *buffer;
  guint         rank;
  gsize         shape[GRAFT_TENSOR_MAX_RANK];
  gsize         n_elements;
  char         *name;
  GraftTensor  *base;     /* a view's owner of the storage, or NULL */
};

/* Front-end checks shared by the ops (graft-ops-check.c). */
gboolean _graft_ops_same_backend (const char   *op,
                                  GraftTensor  *first,
                                  GraftTensor  *other,
                                  GError      **error);
void     _graft_ops_shape_error  (GError      **error,
                                  const char   *op,
                                  GraftTensor  *tensor,
                                  const char   *expected);
/* Fails when @a and @b (either may be NULL) share storage. */
gboolean _graft_ops_distinct     (const char   *op,
                                  GraftTensor  *a,
                                  GraftTensor  *b,
                                  GError      **error);

G_END_DECLS
