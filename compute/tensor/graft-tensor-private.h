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
};

G_END_DECLS
