/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

#include <stdlib.h>
#include <string.h>

#include "graft-weights.h"

struct _GraftWeights {
  GPtrArray  *entries;    /* GraftWeightsEntry*, in order */
  GHashTable *by_name;    /* borrowed name -> entry */
  GHashTable *metadata;   /* key -> value */
};

static void
entry_free (gpointer data)
{
  GraftWeightsEntry *entry = data;

  g_free (entry->name);
  g_free (entry->data);
  g_free (entry);
}

GraftWeights *
graft_weights_new (void)
{
  GraftWeights *self = g_new0 (GraftWeights, 1);

  self->entries = g_ptr_array_new_with_free_func (entry_free);
  self->by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->metadata = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
graft_weights_free (GraftWeights *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->by_name);
  g_ptr_array_unref (self->entries);
  g_hash_table_unref (self->metadata);
  g_free (self);
}

GraftWeights *
graft_weights_read (GraftSafetensors  *file,
                    GError           **error)
{
  g_autoptr(GraftWeights) self = graft_weights_new ();
  const char *const *names;

  g_return_val_if_fail (file != NULL, NULL);

  names = graft_safetensors_get_names (file);
  for (guint i = 0; names[i] != NULL; i++)
    {
      const GraftSafetensorsEntry *info = graft_safetensors_lookup (file, names[i]);
      float *data = g_try_new (float, MAX (info->n_elements, 1));

      if (data == NULL)
        {
          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ,
                       "Out of memory reading tensor “%s” of %s", names[i],
                       graft_safetensors_get_path (file));
          return NULL;
        }
      if (!graft_safetensors_read_f32 (file, names[i], info->rank, info->shape, data, error))
        {
          g_free (data);
          return NULL;
        }
      graft_weights_take (self, names[i], info->rank, info->shape, data);
    }
  {
    g_autofree const char **keys = graft_safetensors_get_metadata_keys (file);

    for (guint i = 0; keys[i] != NULL; i++)
      graft_weights_set_metadata (self, keys[i], graft_safetensors_get_metadata (file, keys[i]));
  }
  return g_steal_pointer (&self);
}

GraftWeights *
graft_weights_read_file (const char  *path,
                         GError     **error)
{
  g_autoptr(GraftSafetensors) file = NULL;

  g_return_val_if_fail (path != NULL, NULL);

  file = graft_safetensors_open (path, error);
  return file != NULL ? graft_weights_read (file, error) : NULL;
}

gboolean
graft_weights_save (GraftWeights  *self,
                    const char    *path,
                    gboolean       half,
                    GError       **error)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  GHashTableIter iter;
  gpointer key, value;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  g_hash_table_iter_init (&iter, self->metadata);
  while (g_hash_table_iter_next (&iter, &key, &value))
    graft_safetensors_writer_set_metadata (writer, key, value);
  for (guint i = 0; i < self->entries->len; i++)
    {
      GraftWeightsEntry *entry = g_ptr_array_index (self->entries, i);
      gboolean ok = half
        ? graft_safetensors_writer_add_f16 (writer, entry->name, entry->rank, entry->shape,
                                            entry->data, error)
        : graft_safetensors_writer_add_f32 (writer, entry->name, entry->rank, entry->shape,
                                            entry->data, error);
      if (!ok)
        return FALSE;
    }
  return graft_safetensors_writer_save (writer, path, error);
}

guint
graft_weights_get_n (GraftWeights *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->entries->len;
}

GraftWeightsEntry *
graft_weights_get (GraftWeights *self,
                   guint         index)
{
  g_return_val_if_fail (self != NULL && index < self->entries->len, NULL);
  return g_ptr_array_index (self->entries, index);
}

GraftWeightsEntry *
graft_weights_lookup (GraftWeights *self,
                      const char   *name)
{
  g_return_val_if_fail (self != NULL && name != NULL, NULL);
  return g_hash_table_lookup (self->by_name, name);
}

GraftWeightsEntry *
graft_weights_take (GraftWeights *self,
                    const char   *name,
                    guint         rank,
                    const gsize  *shape,
                    float        *data)
{
  GraftWeightsEntry *entry;

  g_return_val_if_fail (self != NULL && name != NULL && data != NULL, NULL);
  g_return_val_if_fail (rank <= GRAFT_TENSOR_MAX_RANK && (rank == 0 || shape != NULL), NULL);

  entry = g_hash_table_lookup (self->by_name, name);
  if (entry != NULL)
    g_free (entry->data);
  else
    {
      entry = g_new0 (GraftWeightsEntry, 1);
      entry->name = g_strdup (name);
      g_ptr_array_add (self->entries, entry);
      g_hash_table_insert (self->by_name, entry->name, entry);
    }
  entry->rank = rank;
  entry->n_elements = 1;
  memset (entry->shape, 0, sizeof entry->shape);
  for (guint d = 0; d < rank; d++)
    {
      entry->shape[d] = shape[d];
      entry->n_elements *= shape[d];
    }
  entry->data = data;
  return entry;
}

gboolean
graft_weights_remove (GraftWeights *self,
                      const char   *name)
{
  GraftWeightsEntry *entry;

  g_return_val_if_fail (self != NULL && name != NULL, FALSE);

  entry = g_hash_table_lookup (self->by_name, name);
  if (entry == NULL)
    return FALSE;
  g_hash_table_remove (self->by_name, name);
  g_ptr_array_remove (self->entries, entry);
  return TRUE;
}

gboolean
graft_weights_rename (GraftWeights *self,
                      const char   *old_name,
                      const char   *new_name)
{
  GraftWeightsEntry *entry;

  g_return_val_if_fail (self != NULL && old_name != NULL && new_name != NULL, FALSE);

  if (g_str_equal (old_name, new_name))
    return g_hash_table_contains (self->by_name, old_name);
  entry = g_hash_table_lookup (self->by_name, old_name);
  if (entry == NULL || g_hash_table_contains (self->by_name, new_name))
    return FALSE;
  g_hash_table_remove (self->by_name, old_name);
  g_free (entry->name);
  entry->name = g_strdup (new_name);
  g_hash_table_insert (self->by_name, entry->name, entry);
  return TRUE;
}

char *
graft_weights_entry_shape_string (const GraftWeightsEntry *entry)
{
  GString *s = g_string_new ("[");

  g_return_val_if_fail (entry != NULL, NULL);

  for (guint d = 0; d < entry->rank; d++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, d > 0 ? ", " : "", entry->shape[d]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

const char *
graft_weights_get_metadata (GraftWeights *self,
                            const char   *key)
{
  g_return_val_if_fail (self != NULL && key != NULL, NULL);
  return g_hash_table_lookup (self->metadata, key);
}

void
graft_weights_set_metadata (GraftWeights *self,
                            const char   *key,
                            const char   *value)
{
  g_return_if_fail (self != NULL && key != NULL);

  if (value == NULL)
    g_hash_table_remove (self->metadata, key);
  else
    g_hash_table_insert (self->metadata, g_strdup (key), g_strdup (value));
}

static int
compare_strings (const void *a,
                 const void *b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

const char **
graft_weights_get_metadata_keys (GraftWeights *self)
{
  guint n = 0;
  const char **keys;

  g_return_val_if_fail (self != NULL, NULL);

  keys = (const char **) g_hash_table_get_keys_as_array (self->metadata, &n);
  qsort (keys, n, sizeof (char *), compare_strings);
  return keys;
}
