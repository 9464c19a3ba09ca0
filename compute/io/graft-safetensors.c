/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-io"

#include <json-c/json.h>
#include <string.h>

#include "graft-safetensors.h"

G_DEFINE_QUARK (graft-io-error-quark, graft_io_error)

/* A header larger than this is not a weight file (the reference reader's limit too). */
#define MAX_HEADER_BYTES (100u * 1024 * 1024)

typedef struct {
  GraftSafetensorsEntry public;
  guint64               begin;   /* byte range within the data section */
  guint64               end;
} Entry;

struct _GraftSafetensors {
  char        *path;
  GMappedFile *mapped;
  const guint8 *data;            /* start of the data section */
  guint64      data_size;
  GHashTable  *entries;          /* name -> Entry*, owned */
  GPtrArray   *names;            /* in file order, NULL-terminated, borrowed from entries */
  GHashTable  *metadata;         /* key -> value */
};

static const struct {
  const char *name;
  gsize       size;
} dtypes[] = {
  [GRAFT_DTYPE_F32]  = { "F32", 4 },
  [GRAFT_DTYPE_F16]  = { "F16", 2 },
  [GRAFT_DTYPE_BF16] = { "BF16", 2 },
  [GRAFT_DTYPE_F64]  = { "F64", 8 },
  [GRAFT_DTYPE_I64]  = { "I64", 8 },
  [GRAFT_DTYPE_I32]  = { "I32", 4 },
  [GRAFT_DTYPE_I16]  = { "I16", 2 },
  [GRAFT_DTYPE_I8]   = { "I8", 1 },
  [GRAFT_DTYPE_U8]   = { "U8", 1 },
  [GRAFT_DTYPE_BOOL] = { "BOOL", 1 },
};

const char *
graft_dtype_to_string (GraftDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtypes), NULL);
  return dtypes[dtype].name;
}

gsize
graft_dtype_size (GraftDType dtype)
{
  g_return_val_if_fail ((guint) dtype < G_N_ELEMENTS (dtypes), 0);
  return dtypes[dtype].size;
}

static gboolean
dtype_from_string (const char *s,
                   GraftDType *out)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (g_str_equal (s, dtypes[i].name))
      {
        *out = (GraftDType) i;
        return TRUE;
      }
  return FALSE;
}

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

static void
corrupt (GError     **error,
         const char  *path,
         const char  *format,
         ...) G_GNUC_PRINTF (3, 4);

static void
corrupt (GError     **error,
         const char  *path,
         const char  *format,
         ...)
{
  g_autofree char *detail = NULL;
  va_list args;

  va_start (args, format);
  detail = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT,
               "%s is not a valid safetensors file: %s", path, detail);
}

/* A non-negative JSON integer, or FALSE. */
static gboolean
get_size (json_object *obj,
          guint64     *out)
{
  int64_t v;

  if (obj == NULL || !json_object_is_type (obj, json_type_int))
    return FALSE;
  v = json_object_get_int64 (obj);
  if (v < 0)
    return FALSE;
  *out = (guint64) v;
  return TRUE;
}

static gboolean
parse_entry (GraftSafetensors  *self,
             const char        *name,
             json_object       *desc,
             Entry             *entry,
             GError           **error)
{
  json_object *dtype, *shape, *offsets;
  guint64 n = 1, begin, end, bytes;

  entry->public.name = name;

  if (!json_object_is_type (desc, json_type_object) ||
      !json_object_object_get_ex (desc, "dtype", &dtype) ||
      !json_object_object_get_ex (desc, "shape", &shape) ||
      !json_object_object_get_ex (desc, "data_offsets", &offsets))
    {
      corrupt (error, self->path, "tensor “%s” lacks dtype, shape or data_offsets", name);
      return FALSE;
    }

  if (!json_object_is_type (dtype, json_type_string) ||
      !dtype_from_string (json_object_get_string (dtype), &entry->public.dtype))
    {
      corrupt (error, self->path, "tensor “%s” has an unknown dtype %s", name,
               json_object_to_json_string (dtype));
      return FALSE;
    }

  if (!json_object_is_type (shape, json_type_array) ||
      json_object_array_length (shape) > GRAFT_TENSOR_MAX_RANK)
    {
      corrupt (error, self->path, "tensor “%s” has a shape that is not a list of at most %d sizes",
               name, GRAFT_TENSOR_MAX_RANK);
      return FALSE;
    }
  entry->public.rank = (guint) json_object_array_length (shape);
  for (guint d = 0; d < entry->public.rank; d++)
    {
      guint64 dim;
      if (!get_size (json_object_array_get_idx (shape, d), &dim) ||
          (dim != 0 && n > G_MAXUINT64 / 16 / dim))
        {
          corrupt (error, self->path, "tensor “%s” has an invalid shape %s", name,
                   json_object_to_json_string (shape));
          return FALSE;
        }
      entry->public.shape[d] = (gsize) dim;
      n *= dim;
    }
  entry->public.n_elements = (gsize) n;

  if (!json_object_is_type (offsets, json_type_array) || json_object_array_length (offsets) != 2 ||
      !get_size (json_object_array_get_idx (offsets, 0), &begin) ||
      !get_size (json_object_array_get_idx (offsets, 1), &end) || begin > end)
    {
      corrupt (error, self->path, "tensor “%s” has invalid data_offsets %s", name,
               json_object_to_json_string (offsets));
      return FALSE;
    }

  bytes = n * dtypes[entry->public.dtype].size;
  if (end - begin != bytes)
    {
      g_autofree char *s = format_shape (entry->public.rank, entry->public.shape);
      corrupt (error, self->path, "tensor “%s” (%s %s) needs %" G_GUINT64_FORMAT
               " bytes but its data_offsets span %" G_GUINT64_FORMAT,
               name, dtypes[entry->public.dtype].name, s, bytes, end - begin);
      return FALSE;
    }
  if (end > self->data_size)
    {
      corrupt (error, self->path, "tensor “%s” ends at byte %" G_GUINT64_FORMAT " of the data, "
               "which has only %" G_GUINT64_FORMAT " (the file is truncated)",
               name, end, self->data_size);
      return FALSE;
    }

  entry->begin = begin;
  entry->end = end;
  return TRUE;
}

static int
compare_begin (gconstpointer a,
               gconstpointer b)
{
  const Entry *ea = *(Entry * const *) a, *eb = *(Entry * const *) b;

  if (ea->begin != eb->begin)
    return ea->begin < eb->begin ? -1 : 1;
  return ea->end < eb->end ? -1 : ea->end > eb->end;
}

/* Tensors must tile the data section exactly: no overlap, no gap, nothing left over. */
static gboolean
check_layout (GraftSafetensors  *self,
              GError           **error)
{
  g_autoptr(GPtrArray) order = g_ptr_array_sized_new (g_hash_table_size (self->entries));
  GHashTableIter iter;
  gpointer value;
  guint64 expected = 0;

  g_hash_table_iter_init (&iter, self->entries);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (order, value);

  g_ptr_array_sort (order, compare_begin);
  for (guint i = 0; i < order->len; i++)
    {
      Entry *entry = g_ptr_array_index (order, i);

      if (entry->begin < expected)
        {
          Entry *prev = g_ptr_array_index (order, i - 1);
          corrupt (error, self->path, "tensors “%s” and “%s” overlap", prev->public.name, entry->public.name);
          return FALSE;
        }
      if (entry->begin > expected)
        {
          corrupt (error, self->path, "%" G_GUINT64_FORMAT " bytes before tensor “%s” belong to no tensor",
                   entry->begin - expected, entry->public.name);
          return FALSE;
        }
      expected = entry->end;
      g_ptr_array_add (self->names, (gpointer) entry->public.name);
    }
  if (expected != self->data_size)
    {
      corrupt (error, self->path, "%" G_GUINT64_FORMAT " bytes after the last tensor belong to no tensor",
               self->data_size - expected);
      return FALSE;
    }
  g_ptr_array_add (self->names, NULL);
  return TRUE;
}

static gboolean
parse_header (GraftSafetensors  *self,
              const char        *header,
              gsize              length,
              GError           **error)
{
  json_tokener *tok = json_tokener_new ();
  json_object *root = json_tokener_parse_ex (tok, header, (int) length);
  enum json_tokener_error jerr = json_tokener_get_error (tok);
  gsize consumed = json_tokener_get_parse_end (tok);
  gboolean ok = FALSE;

  json_tokener_free (tok);

  if (root == NULL || jerr != json_tokener_success)
    {
      corrupt (error, self->path, "its header is not valid JSON (%s)",
               jerr == json_tokener_continue ? "it ends too early" : json_tokener_error_desc (jerr));
      goto out;
    }
  for (gsize i = consumed; i < length; i++)
    if (!g_ascii_isspace (header[i]))
      {
        corrupt (error, self->path, "its header has text after the JSON object");
        goto out;
      }
  if (!json_object_is_type (root, json_type_object))
    {
      corrupt (error, self->path, "its header is not a JSON object");
      goto out;
    }

  {
    json_object_object_foreach (root, key, value)
      {
        Entry *entry;

        if (g_str_equal (key, "__metadata__"))
          {
            if (!json_object_is_type (value, json_type_object))
              {
                corrupt (error, self->path, "__metadata__ is not an object");
                goto out;
              }
            json_object_object_foreach (value, mkey, mvalue)
              {
                if (!json_object_is_type (mvalue, json_type_string))
                  {
                    corrupt (error, self->path, "metadata “%s” is not a string", mkey);
                    goto out;
                  }
                g_hash_table_insert (self->metadata, g_strdup (mkey), g_strdup (json_object_get_string (mvalue)));
              }
            continue;
          }

        if (g_hash_table_contains (self->entries, key))
          {
            corrupt (error, self->path, "tensor “%s” appears twice", key);
            goto out;
          }
        entry = g_new0 (Entry, 1);
        entry->public.name = g_strdup (key);
        g_hash_table_insert (self->entries, (char *) entry->public.name, entry);
        if (!parse_entry (self, entry->public.name, value, entry, error))
          goto out;
      }
  }

  ok = check_layout (self, error);

out:
  if (root != NULL)
    json_object_put (root);
  return ok;
}

static void
entry_free (gpointer data)
{
  g_free (data);
}

GraftSafetensors *
graft_safetensors_open (const char  *path,
                        GError     **error)
{
  g_autoptr(GraftSafetensors) self = NULL;
  g_autoptr(GError) local_error = NULL;
  const guint8 *contents;
  gsize size;
  guint64 header_len;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (GraftSafetensors, 1);
  self->path = g_strdup (path);
  self->entries = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, entry_free);
  self->names = g_ptr_array_new ();
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  self->mapped = g_mapped_file_new (path, FALSE, &local_error);
  if (self->mapped == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ,
                   "Could not read %s: %s", path, local_error->message);
      return NULL;
    }

  contents = (const guint8 *) g_mapped_file_get_contents (self->mapped);
  size = g_mapped_file_get_length (self->mapped);
  if (size < 8)
    {
      corrupt (error, path, "it has %" G_GSIZE_FORMAT " bytes, fewer than the 8 of the header length", size);
      return NULL;
    }

  memcpy (&header_len, contents, 8);
  header_len = GUINT64_FROM_LE (header_len);
  if (header_len > MAX_HEADER_BYTES)
    {
      corrupt (error, path, "its header claims %" G_GUINT64_FORMAT " bytes (at most %u are allowed)",
               header_len, MAX_HEADER_BYTES);
      return NULL;
    }
  if (header_len > size - 8)
    {
      corrupt (error, path, "its header claims %" G_GUINT64_FORMAT " bytes but only %" G_GSIZE_FORMAT
               " follow (the file is truncated)", header_len, size - 8);
      return NULL;
    }

  self->data = contents + 8 + header_len;
  self->data_size = size - 8 - header_len;
  if (!parse_header (self, (const char *) contents + 8, (gsize) header_len, error))
    return NULL;

  return g_steal_pointer (&self);
}

void
graft_safetensors_free (GraftSafetensors *self)
{
  if (self == NULL)
    return;
  g_clear_pointer (&self->mapped, g_mapped_file_unref);
  g_ptr_array_unref (self->names);
  g_hash_table_unref (self->entries);
  g_hash_table_unref (self->metadata);
  g_free (self->path);
  g_free (self);
}

const char *
graft_safetensors_get_path (GraftSafetensors *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->path;
}

guint
graft_safetensors_get_n_tensors (GraftSafetensors *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return g_hash_table_size (self->entries);
}

const char * const *
graft_safetensors_get_names (GraftSafetensors *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char * const *) self->names->pdata;
}

const GraftSafetensorsEntry *
graft_safetensors_lookup (GraftSafetensors *self,
                          const char       *name)
{
  Entry *entry;

  g_return_val_if_fail (self != NULL && name != NULL, NULL);
  entry = g_hash_table_lookup (self->entries, name);
  return entry != NULL ? &entry->public : NULL;
}

const char **
graft_safetensors_get_metadata_keys (GraftSafetensors *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char **) g_hash_table_get_keys_as_array (self->metadata, NULL);
}

const char *
graft_safetensors_get_metadata (GraftSafetensors *self,
                                const char       *key)
{
  g_return_val_if_fail (self != NULL && key != NULL, NULL);
  return g_hash_table_lookup (self->metadata, key);
}

static float
half_to_float (guint16 h)
{
  guint32 sign = (guint32) (h & 0x8000) << 16;
  guint32 exponent = (h >> 10) & 0x1f;
  guint32 mantissa = h & 0x3ff;
  guint32 bits;
  float f;

  if (exponent == 0x1f)               /* inf, nan */
    bits = sign | 0x7f800000u | (mantissa << 13);
  else if (exponent != 0)             /* normal */
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  else if (mantissa == 0)             /* zero */
    bits = sign;
  else                                /* subnormal: value = mantissa * 2^-24 */
    {
      f = (float) mantissa * (1.0f / 16777216.0f);
      return sign ? -f : f;
    }
  memcpy (&f, &bits, 4);
  return f;
}

/* Little-endian element @i of @src, as float. */
static float
element_to_float (GraftDType    dtype,
                  const guint8 *src,
                  gsize         i)
{
  switch (dtype)
    {
    case GRAFT_DTYPE_F32:
      {
        guint32 bits;
        float f;
        memcpy (&bits, src + i * 4, 4);
        bits = GUINT32_FROM_LE (bits);
        memcpy (&f, &bits, 4);
        return f;
      }
    case GRAFT_DTYPE_F16:
      {
        guint16 bits;
        memcpy (&bits, src + i * 2, 2);
        return half_to_float (GUINT16_FROM_LE (bits));
      }
    case GRAFT_DTYPE_BF16:
      {
        guint16 half;
        guint32 bits;
        float f;
        memcpy (&half, src + i * 2, 2);
        bits = (guint32) GUINT16_FROM_LE (half) << 16;
        memcpy (&f, &bits, 4);
        return f;
      }
    case GRAFT_DTYPE_F64:
      {
        guint64 bits;
        double d;
        memcpy (&bits, src + i * 8, 8);
        bits = GUINT64_FROM_LE (bits);
        memcpy (&d, &bits, 8);
        return (float) d;
      }
    case GRAFT_DTYPE_I64:
      {
        guint64 bits;
        memcpy (&bits, src + i * 8, 8);
        return (float) (gint64) GUINT64_FROM_LE (bits);
      }
    case GRAFT_DTYPE_I32:
      {
        guint32 bits;
        memcpy (&bits, src + i * 4, 4);
        return (float) (gint32) GUINT32_FROM_LE (bits);
      }
    case GRAFT_DTYPE_I16:
      {
        guint16 bits;
        memcpy (&bits, src + i * 2, 2);
        return (float) (gint16) GUINT16_FROM_LE (bits);
      }
    case GRAFT_DTYPE_I8:
      return (float) (gint8) src[i];
    case GRAFT_DTYPE_U8:
      return (float) src[i];
    case GRAFT_DTYPE_BOOL:
    default:
      return src[i] != 0 ? 1.0f : 0.0f;
    }
}

static gboolean
shape_matches (const GraftSafetensorsEntry *entry,
               guint                        rank,
               const gsize                 *shape)
{
  return entry->rank == rank && memcmp (entry->shape, shape, rank * sizeof (gsize)) == 0;
}

static void
set_shape_error (GraftSafetensors             *self,
                 const GraftSafetensorsEntry  *entry,
                 guint                         rank,
                 const gsize                  *shape,
                 GError                      **error)
{
  g_autofree char *want = format_shape (rank, shape);
  g_autofree char *found = format_shape (entry->rank, entry->shape);

  g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
               "%s: tensor “%s” has shape %s, expected %s",
               self->path, entry->name, found, want);
}

static void
set_missing_error (GraftSafetensors  *self,
                   const char        *name,
                   guint              rank,
                   const gsize       *shape,
                   GError           **error)
{
  g_autofree char *want = format_shape (rank, shape);

  g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
               "%s has no tensor “%s” (expected shape %s)", self->path, name, want);
}

gboolean
graft_safetensors_read_f32 (GraftSafetensors  *self,
                            const char        *name,
                            guint              rank,
                            const gsize       *shape,
                            float             *out,
                            GError           **error)
{
  const Entry *entry;
  const guint8 *src;

  g_return_val_if_fail (self != NULL && name != NULL && out != NULL, FALSE);
  g_return_val_if_fail (rank == 0 || shape != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  entry = g_hash_table_lookup (self->entries, name);
  if (entry == NULL)
    {
      set_missing_error (self, name, rank, shape, error);
      return FALSE;
    }
  if (!shape_matches (&entry->public, rank, shape))
    {
      set_shape_error (self, &entry->public, rank, shape, error);
      return FALSE;
    }

  src = self->data + entry->begin;
  if (entry->public.dtype == GRAFT_DTYPE_F32 && G_BYTE_ORDER == G_LITTLE_ENDIAN)
    memcpy (out, src, entry->public.n_elements * sizeof (float));
  else
    for (gsize i = 0; i < entry->public.n_elements; i++)
      out[i] = element_to_float (entry->public.dtype, src, i);
  return TRUE;
}

gboolean
graft_safetensors_load (GraftSafetensors  *self,
                        const char        *name,
                        GraftTensor       *tensor,
                        GError           **error)
{
  gsize n = graft_tensor_get_n_elements (tensor);
  g_autofree float *data = g_try_new (float, n);

  if (data == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ,
                   "Out of memory reading tensor “%s” from %s", name, self->path);
      return FALSE;
    }

  return graft_safetensors_read_f32 (self, name, graft_tensor_get_rank (tensor),
                                     graft_tensor_get_shape (tensor), data, error) &&
         graft_tensor_upload (tensor, data, n, error);
}

static gboolean
has_suffix (const char         *name,
            const char * const *suffixes)
{
  for (guint i = 0; suffixes != NULL && suffixes[i] != NULL; i++)
    if (g_str_has_suffix (name, suffixes[i]))
      return TRUE;
  return FALSE;
}

gboolean
graft_safetensors_check_keys (GraftSafetensors           *self,
                              const GraftSafetensorsSpec *specs,
                              guint                       n_specs,
                              const char * const         *ignore_suffixes,
                              GError                    **error)
{
  g_autoptr(GHashTable) wanted = g_hash_table_new (g_str_hash, g_str_equal);

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (n_specs == 0 || specs != NULL, FALSE);

  for (guint i = 0; i < n_specs; i++)
    {
      const GraftSafetensorsSpec *spec = &specs[i];
      const Entry *entry = g_hash_table_lookup (self->entries, spec->name);

      g_hash_table_add (wanted, (gpointer) spec->name);
      if (entry == NULL)
        {
          set_missing_error (self, spec->name, spec->rank, spec->shape, error);
          return FALSE;
        }
      if (!shape_matches (&entry->public, spec->rank, spec->shape))
        {
          set_shape_error (self, &entry->public, spec->rank, spec->shape, error);
          return FALSE;
        }
    }

  for (guint i = 0; i + 1 < self->names->len; i++)
    {
      const char *name = g_ptr_array_index (self->names, i);
      const Entry *entry;
      g_autofree char *found = NULL;

      if (g_hash_table_contains (wanted, name) || has_suffix (name, ignore_suffixes))
        continue;
      entry = g_hash_table_lookup (self->entries, name);
      found = format_shape (entry->public.rank, entry->public.shape);
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY,
                   "%s holds tensor “%s” (shape %s) that the model has no place for",
                   self->path, name, found);
      return FALSE;
    }

  return TRUE;
}
