/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "backend/graft-backend.h"

G_BEGIN_DECLS

#define GRAFT_TENSOR_ERROR (graft_tensor_error_quark ())
GQuark graft_tensor_error_quark (void);

typedef enum {
  GRAFT_TENSOR_ERROR_SHAPE,      /* shapes do not agree, or a dimension is zero */
  GRAFT_TENSOR_ERROR_TOO_LARGE,  /* more elements than one buffer or one op can hold */
  GRAFT_TENSOR_ERROR_BACKEND,    /* operands live on different backends */
} GraftTensorError;

#define GRAFT_TENSOR_MAX_RANK 6

/* A float32 array with a shape (outermost dimension first, NCHW for images), stored on
 * one backend. Reference counted. */
typedef struct _GraftTensor GraftTensor;

GraftTensor  *graft_tensor_new            (GraftBackend  *backend,
                                           guint          rank,
                                           const gsize   *shape,
                                           GError       **error);
GraftTensor  *graft_tensor_new_2d         (GraftBackend  *backend,
                                           gsize          rows,
                                           gsize          cols,
                                           GError       **error);
/* A tensor of another shape with the same element count that shares @base's storage
 * (a reshape: writing one writes the other). It keeps @base's storage alive. */
GraftTensor  *graft_tensor_new_view       (GraftTensor   *base,
                                           guint          rank,
                                           const gsize   *shape,
                                           GError       **error);
GraftTensor  *graft_tensor_ref            (GraftTensor   *self);
void          graft_tensor_unref          (GraftTensor   *self);

/* A name used in error messages ("fc.weight"); "tensor" when unset. */
void          graft_tensor_set_name       (GraftTensor   *self,
                                           const char    *name);
const char   *graft_tensor_get_name       (GraftTensor   *self);

GraftBackend *graft_tensor_get_backend    (GraftTensor   *self);
guint         graft_tensor_get_rank       (GraftTensor   *self);
const gsize  *graft_tensor_get_shape      (GraftTensor   *self);
gsize         graft_tensor_get_dim        (GraftTensor   *self,
                                           guint          axis);
gsize         graft_tensor_get_n_elements (GraftTensor   *self);
/* "[2, 3, 224, 224]"; free with g_free */
char         *graft_tensor_format_shape   (GraftTensor   *self);

/* Copies @n_elements floats, which must equal the tensor's element count. */
gboolean      graft_tensor_upload         (GraftTensor   *self,
                                           const float   *data,
                                           gsize          n_elements,
                                           GError       **error);
/* Waits for pending ops that write the tensor, then copies it out. */
gboolean      graft_tensor_download       (GraftTensor   *self,
                                           float         *data,
                                           gsize          n_elements,
                                           GError       **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftTensor, graft_tensor_unref)

G_END_DECLS
