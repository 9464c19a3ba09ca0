/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-tensor"

#include <string.h>

#include "graft-tensor-private.h"

G_STATIC_ASSERT (GRAFT_TENSOR_MAX_RANK == GRAFT_MAX_RANK);

G_DEFINE_QUARK (graft-tensor-error-quark, graft_tensor_error)

static char *
format_shape (guint        rank,
              const gsize *shape)
{
  GString *s = g_string_new ("[");

  for (guint i = 0; i < rank; i++)
    g_string_append_printf (s, i == 0 ? "%" G_GSIZE_FORMAT : ", %" G_GSIZE_FORMAT, shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

GraftTensor *
graft_tensor_new (GraftBackend  *backend,
                  guint          rank,
                  const gsize   *shape,
                  GError       **error)
{
  g_autofree char *shape_str = NULL;
  GraftTensor *self;
  gsize n = 1;

  g_return_val_if_fail (backend != NULL, NULL);
  g_return_val_if_fail (rank >= 1 && rank <= GRAFT_TENSOR_MAX_RANK, NULL);
  g_return_val_if_fail (shape != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  shape_str = format_shape (rank, shape);
  for (guint i = 0; i < rank; i++)
    {
      if (shape[i] == 0)
        {
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                       "Tensor shape %s has an empty dimension", shape_str);
          return NULL;
        }
      if (n > G_MAXUINT32 / shape[i])
        {
          g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE,
                       "Tensor shape %s has more than 2³² elements", shape_str);
          return NULL;
        }
      n *= shape[i];
    }

  self = g_new0 (GraftTensor, 1);
  self->ref_count = 1;
  self->rank = rank;
  memcpy (self->shape, shape, rank * sizeof (gsize));
  self->n_elements = n;
  self->buffer = backend->ops->buffer_new (backend, n * sizeof (float), error);
  if (self->buffer == NULL)
    {
      g_prefix_error (error, "Tensor %s on %s: ", shape_str, backend->info->name);
      g_free (self);
      return NULL;
    }
  self->backend = graft_backend_ref (backend);
  return self;
}

GraftTensor *
graft_tensor_new_2d (GraftBackend  *backend,
                     gsize          rows,
                     gsize          cols,
                     GError       **error)
{
  gsize shape[2] = { rows, cols };

  return graft_tensor_new (backend, 2, shape, error);
}

GraftTensor *
graft_tensor_new_view (GraftTensor  *base,
                       guint         rank,
                       const gsize  *shape,
                       GError      **error)
{
  GraftTensor *self;
  gsize n = 1;

  g_return_val_if_fail (base != NULL, NULL);
  g_return_val_if_fail (rank >= 1 && rank <= GRAFT_TENSOR_MAX_RANK, NULL);
  g_return_val_if_fail (shape != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  for (guint i = 0; i < rank; i++)
    n = shape[i] != 0 && n <= G_MAXUINT32 / shape[i] ? n * shape[i] : 0;
  if (n != base->n_elements)
    {
      g_autofree char *from = graft_tensor_format_shape (base);
      g_autofree char *to = format_shape (rank, shape);

      g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
                   "Cannot view %s of shape %s as %s: the element counts differ",
                   graft_tensor_get_name (base), from, to);
      return NULL;
    }

  self = g_new0 (GraftTensor, 1);
  self->ref_count = 1;
  self->rank = rank;
  memcpy (self->shape, shape, rank * sizeof (gsize));
  self->n_elements = n;
  self->buffer = base->buffer;
  self->base = graft_tensor_ref (base->base != NULL ? base->base : base);
  self->backend = graft_backend_ref (base->backend);
  self->name = g_strdup (base->name);
  return self;
}

GraftTensor *
graft_tensor_ref (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
graft_tensor_unref (GraftTensor *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;

  if (self->base != NULL)
    graft_tensor_unref (self->base);
  else
    self->backend->ops->buffer_free (self->backend, self->buffer);
  graft_backend_unref (self->backend);
  g_free (self->name);
  g_free (self);
}

void
graft_tensor_set_name (GraftTensor *self,
                       const char  *name)
{
  g_return_if_fail (self != NULL);

  g_free (self->name);
  self->name = g_strdup (name);
}

const char *
graft_tensor_get_name (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->name != NULL ? self->name : "tensor";
}

GraftBackend *
graft_tensor_get_backend (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->backend;
}

guint
graft_tensor_get_rank (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->rank;
}

const gsize *
graft_tensor_get_shape (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->shape;
}

gsize
graft_tensor_get_dim (GraftTensor *self,
                      guint        axis)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (axis < self->rank, 0);

  return self->shape[axis];
}

gsize
graft_tensor_get_n_elements (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->n_elements;
}

char *
graft_tensor_format_shape (GraftTensor *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return format_shape (self->rank, self->shape);
}

static gboolean
check_count (GraftTensor  *self,
             gsize         n_elements,
             const char   *verb,
             GError      **error)
{
  g_autofree char *shape = NULL;

  if (n_elements == self->n_elements)
    return TRUE;

  shape = graft_tensor_format_shape (self);
  g_set_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE,
               "Cannot %s %" G_GSIZE_FORMAT " values: %s has shape %s (%" G_GSIZE_FORMAT " values)",
               verb, n_elements, graft_tensor_get_name (self), shape, self->n_elements);
  return FALSE;
}

gboolean
graft_tensor_upload (GraftTensor  *self,
                     const float  *data,
                     gsize         n_elements,
                     GError      **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_count (self, n_elements, "upload", error))
    return FALSE;

  if (!self->backend->ops->buffer_write (self->backend, self->buffer, 0, data,
                                         n_elements * sizeof (float), error))
    {
      g_prefix_error (error, "Uploading %s: ", graft_tensor_get_name (self));
      return FALSE;
    }
  return TRUE;
}

gboolean
graft_tensor_download (GraftTensor  *self,
                       float        *data,
                       gsize         n_elements,
                       GError      **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (data != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_count (self, n_elements, "download", error))
    return FALSE;

  if (!self->backend->ops->buffer_read (self->backend, self->buffer, 0, data,
                                        n_elements * sizeof (float), error))
    {
      g_prefix_error (error, "Downloading %s: ", graft_tensor_get_name (self));
      return FALSE;
    }
  return TRUE;
}
