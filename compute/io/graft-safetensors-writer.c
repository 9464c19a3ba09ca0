/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-io"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>
#include <unistd.h>

#include "graft-safetensors.h"

typedef struct {
  char   *name;
  guint   rank;
  gsize   shape[GRAFT_TENSOR_MAX_RANK];
  gsize   n_elements;
  gboolean half;     /* stored as float16 */
  float  *data;
} Pending;

struct _GraftSafetensorsWriter {
  GPtrArray  *tensors;   /* Pending*, in the order they were added */
  GHashTable *names;     /* borrowed names, for uniqueness */
  GHashTable *metadata;
};

static void
pending_free (gpointer data)
{
  Pending *p = data;

  g_free (p->name);
  g_free (p->data);
  g_free (p);
}

GraftSafetensorsWriter *
graft_safetensors_writer_new (void)
{
  GraftSafetensorsWriter *self = g_new0 (GraftSafetensorsWriter, 1);

  self->tensors = g_ptr_array_new_with_free_func (pending_free);
  self->names = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
graft_safetensors_writer_free (GraftSafetensorsWriter *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->names);
  g_ptr_array_unref (self->tensors);
  g_hash_table_unref (self->metadata);
  g_free (self);
}

void
graft_safetensors_writer_set_metadata (GraftSafetensorsWriter *self,
                                       const char             *key,
                                       const char             *value)
{
  g_return_if_fail (self != NULL && key != NULL && value != NULL);
  g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
}

/* float32 to float16, rounding to nearest even; FALSE if @f is finite but beyond
 * float16's range (65504), which would become infinity. */
static gboolean
float_to_half (float    f,
               guint16 *out)
{
  guint32 x;
  guint32 sign, exp, mant;

  memcpy (&x, &f, 4);
  sign = (x >> 16) & 0x8000u;
  exp = (x >> 23) & 0xffu;
  mant = x & 0x7fffffu;

  if (exp == 0xffu)                       /* infinity, NaN (kept quiet) */
    {
      *out = (guint16) (sign | 0x7c00u | (mant != 0 ? 0x200u : 0));
      return TRUE;
    }
  if (exp > 142)                          /* >= 2^16 */
    return FALSE;
  if (exp >= 113)                         /* normal half: 2^-14 .. 2^15 */
    {
      guint32 h = ((exp - 112) << 10) | (mant >> 13);
      guint32 rest = mant & 0x1fffu;

      if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
        h++;                              /* may carry into the exponent, correctly */
      if (h >= 0x7c00u)
        return FALSE;
      *out = (guint16) (sign | h);
      return TRUE;
    }
  if (exp < 102)                          /* below half the smallest subnormal */
    {
      *out = (guint16) sign;
      return TRUE;
    }
  /* subnormal half: value = m * 2^-24 */
  {
    guint32 full = mant | 0x800000u;
    guint shift = 126 - exp;              /* 14 .. 24 */
    guint32 h = full >> shift;
    guint32 rest = full & ((1u << shift) - 1);
    guint32 halfway = 1u << (shift - 1);

    if (rest > halfway || (rest == halfway && (h & 1u)))
      h++;
    *out = (guint16) (sign | h);
    return TRUE;
  }
}

static gboolean
add_tensor (GraftSafetensorsWriter  *self,
            const char              *name,
            guint                    rank,
            const gsize             *shape,
            const float             *data,
            gboolean                 half,
            GError                 **error)
{
  Pending *p;
  gsize n = 1;

  g_return_val_if_fail (self != NULL && name != NULL && data != NULL, FALSE);
  g_return_val_if_fail (rank <= GRAFT_TENSOR_MAX_RANK && (rank == 0 || shape != NULL), FALSE);

  if (g_hash_table_contains (self->names, name) || g_str_equal (name, "__metadata__"))
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                   "Tensor name “%s” is used twice or reserved", name);
      return FALSE;
    }
  for (guint d = 0; d < rank; d++)
    n *= shape[d];

  p = g_new0 (Pending, 1);
  p->name = g_strdup (name);
  p->rank = rank;
  if (rank > 0)
    memcpy (p->shape, shape, rank * sizeof (gsize));
  p->n_elements = n;
  p->data = g_try_new (float, MAX (n, 1));
  if (p->data == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                   "Out of memory copying tensor “%s” for saving", name);
      pending_free (p);
      return FALSE;
    }
  memcpy (p->data, data, n * sizeof (float));
  p->half = half;
  if (half)
    for (gsize i = 0; i < n; i++)
      {
        guint16 h;

        if (!float_to_half (data[i], &h))
          {
            g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                         "Tensor “%s” holds %g, beyond the range of float16", name,
                         (double) data[i]);
            pending_free (p);
            return FALSE;
          }
      }
  g_ptr_array_add (self->tensors, p);
  g_hash_table_add (self->names, p->name);
  return TRUE;
}

gboolean
graft_safetensors_writer_add_f32 (GraftSafetensorsWriter  *self,
                                  const char              *name,
                                  guint                    rank,
                                  const gsize             *shape,
                                  const float             *data,
                                  GError                 **error)
{
  return add_tensor (self, name, rank, shape, data, FALSE, error);
}

gboolean
graft_safetensors_writer_add_f16 (GraftSafetensorsWriter  *self,
                                  const char              *name,
                                  guint                    rank,
                                  const gsize             *shape,
                                  const float             *data,
                                  GError                 **error)
{
  return add_tensor (self, name, rank, shape, data, TRUE, error);
}

gboolean
graft_safetensors_writer_add_tensor (GraftSafetensorsWriter  *self,
                                     const char              *name,
                                     GraftTensor             *tensor,
                                     GError                 **error)
{
  gsize n = graft_tensor_get_n_elements (tensor);
  g_autofree float *data = g_try_new (float, n);

  if (data == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                   "Out of memory downloading tensor “%s” for saving", name);
      return FALSE;
    }
  return graft_tensor_download (tensor, data, n, error) &&
         graft_safetensors_writer_add_f32 (self, name, graft_tensor_get_rank (tensor),
                                           graft_tensor_get_shape (tensor), data, error);
}

/* The JSON header, padded with spaces to a multiple of 8 bytes so the data that follows
 * is aligned. */
static char *
build_header (GraftSafetensorsWriter *self,
              gsize                  *length)
{
  json_object *root = json_object_new_object ();
  GString *header;
  guint64 offset = 0;

  if (g_hash_table_size (self->metadata) > 0)
    {
      json_object *meta = json_object_new_object ();
      GHashTableIter iter;
      gpointer key, value;

      g_hash_table_iter_init (&iter, self->metadata);
      while (g_hash_table_iter_next (&iter, &key, &value))
        json_object_object_add (meta, key, json_object_new_string (value));
      json_object_object_add (root, "__metadata__", meta);
    }

  for (guint i = 0; i < self->tensors->len; i++)
    {
      Pending *p = g_ptr_array_index (self->tensors, i);
      json_object *desc = json_object_new_object ();
      json_object *shape = json_object_new_array ();
      json_object *offsets = json_object_new_array ();

      for (guint d = 0; d < p->rank; d++)
        json_object_array_add (shape, json_object_new_int64 ((int64_t) p->shape[d]));
      json_object_array_add (offsets, json_object_new_int64 ((int64_t) offset));
      offset += p->n_elements * (p->half ? 2 : sizeof (float));
      json_object_array_add (offsets, json_object_new_int64 ((int64_t) offset));

      json_object_object_add (desc, "dtype", json_object_new_string (p->half ? "F16" : "F32"));
      json_object_object_add (desc, "shape", shape);
      json_object_object_add (desc, "data_offsets", offsets);
      json_object_object_add (root, p->name, desc);
    }

  header = g_string_new (json_object_to_json_string_ext (root, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
  while (header->len % 8 != 0)
    g_string_append_c (header, ' ');
  *length = header->len;
  return g_string_free (header, FALSE);
}

static gboolean
write_all (int          fd,
           const void  *data,
           gsize        size)
{
  const guint8 *p = data;

  while (size > 0)
    {
      gssize n = write (fd, p, MIN (size, (gsize) G_MAXSSIZE));
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      p += n;
      size -= (gsize) n;
    }
  return TRUE;
}

/* Little-endian float32 (or float16) bytes of @p. */
static gboolean
write_tensor (int      fd,
              Pending *p)
{
  if (p->half)
    {
      g_autofree guint16 *bits = g_try_new (guint16, MAX (p->n_elements, 1));

      if (bits == NULL)
        return FALSE;
      for (gsize i = 0; i < p->n_elements; i++)
        {
          float_to_half (p->data[i], &bits[i]);   /* checked when added */
          bits[i] = GUINT16_TO_LE (bits[i]);
        }
      return write_all (fd, bits, p->n_elements * 2);
    }
  if (G_BYTE_ORDER == G_LITTLE_ENDIAN)
    return write_all (fd, p->data, p->n_elements * sizeof (float));

  for (gsize i = 0; i < p->n_elements; i++)
    {
      guint32 bits;
      memcpy (&bits, &p->data[i], 4);
      bits = GUINT32_TO_LE (bits);
      if (!write_all (fd, &bits, 4))
        return FALSE;
    }
  return TRUE;
}

gboolean
graft_safetensors_writer_save (GraftSafetensorsWriter  *self,
                               const char              *path,
                               GError                 **error)
{
  g_autofree char *tmp_path = g_strdup_printf ("%s.XXXXXX", path);
  g_autofree char *header = NULL;
  gsize header_len;
  guint64 len_le;
  gboolean ok;
  int saved_errno;
  int fd;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  fd = g_mkstemp_full (tmp_path, O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                   "Could not create a file next to %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }

  header = build_header (self, &header_len);
  len_le = GUINT64_TO_LE ((guint64) header_len);
  ok = write_all (fd, &len_le, 8) && write_all (fd, header, header_len);
  for (guint i = 0; ok && i < self->tensors->len; i++)
    ok = write_tensor (fd, g_ptr_array_index (self->tensors, i));
  ok = ok && fsync (fd) == 0;
  saved_errno = errno;
  ok = (close (fd) == 0) && ok;
  if (ok && g_rename (tmp_path, path) != 0)
    {
      ok = FALSE;
      saved_errno = errno;
    }

  if (!ok)
    {
      g_unlink (tmp_path);
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_WRITE,
                   "Could not write %s: %s; the previous file, if any, is unchanged",
                   path, g_strerror (saved_errno));
      return FALSE;
    }
  return TRUE;
}
