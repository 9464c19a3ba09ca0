/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* The health check's memo: what each file held the last time it was checked (its SHA-256,
 * whether it decodes and its size in pixels, or why not), keyed by the file's path and
 * valid while its size and modification time are those recorded. One JSON file per
 * dataset root, named by a hash of the root:
 *   { "version": 1, "root": "/data/photos", "max_pixels": 100000000,
 *     "files": { "/data/photos/cat/1.jpg": { "size": 123, "mtime_ns": 1700000000000000000,
 *                "sha256": "…", "width": 640, "height": 480 },
 *                "/data/photos/cat/2.jpg": { …, "reason": "cat/2.jpg is not …" } } } */

#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>

#include "graft-data-error.h"
#include "graft-dataset-health-private.h"

#define MEMO_VERSION 1

static char *
memo_path (const char *dir,
           const char *root)
{
  g_autofree char *digest = g_compute_checksum_for_string (G_CHECKSUM_SHA256, root, -1);
  g_autofree char *name = g_strdup_printf ("%.16s.json", digest);

  return g_build_filename (dir, name, NULL);
}

static void
result_free (gpointer data)
{
  GraftHealthFileResult *result = data;

  g_free (result->reason);
  g_free (result);
}

static gboolean
get_int64 (json_object *o,
           const char  *key,
           gint64      *out)
{
  json_object *v;

  if (!json_object_object_get_ex (o, key, &v) || !json_object_is_type (v, json_type_int))
    return FALSE;
  *out = json_object_get_int64 (v);
  return TRUE;
}

static gboolean
parse_hash (const char *hex,
            guint8     *out)
{
  if (hex == NULL || strlen (hex) != 2 * GRAFT_HEALTH_HASH_SIZE)
    return FALSE;
  for (guint i = 0; i < GRAFT_HEALTH_HASH_SIZE; i++)
    {
      int hi = g_ascii_xdigit_value (hex[2 * i]), lo = g_ascii_xdigit_value (hex[2 * i + 1]);

      if (hi < 0 || lo < 0)
        return FALSE;
      out[i] = (guint8) (hi << 4 | lo);
    }
  return TRUE;
}

/* One remembered file, or NULL when the entry is malformed. */
static GraftHealthFileResult *
parse_entry (json_object *o)
{
  g_autofree GraftHealthFileResult *result = g_new0 (GraftHealthFileResult, 1);
  json_object *v;
  gint64 width = 0, height = 0;

  if (!json_object_is_type (o, json_type_object) ||
      !get_int64 (o, "size", &result->size) || !get_int64 (o, "mtime_ns", &result->mtime_ns) ||
      !json_object_object_get_ex (o, "sha256", &v) ||
      !parse_hash (json_object_get_string (v), result->hash))
    return NULL;
  result->stated = result->hashed = TRUE;
  if (json_object_object_get_ex (o, "reason", &v))
    {
      if (!json_object_is_type (v, json_type_string))
        return NULL;
      result->reason = g_strdup (json_object_get_string (v));
      return g_steal_pointer (&result);
    }
  if (!get_int64 (o, "width", &width) || !get_int64 (o, "height", &height) ||
      width <= 0 || height <= 0 || width > G_MAXUINT32 || height > G_MAXUINT32)
    return NULL;
  result->ok = TRUE;
  result->width = (guint) width;
  result->height = (guint) height;
  return g_steal_pointer (&result);
}

GHashTable *
_graft_health_memo_load (const char *dir,
                         const char *root,
                         guint64     max_pixels)
{
  g_autofree char *path = memo_path (dir, root);
  g_autofree char *text = NULL;
  g_autoptr(GHashTable) table = NULL;
  json_object *memo, *files, *v;
  gint64 version = 0, limit = 0;
  gsize length;

  if (!g_file_get_contents (path, &text, &length, NULL))
    return NULL;
  memo = json_tokener_parse (text);
  if (memo == NULL || !json_object_is_type (memo, json_type_object) ||
      !get_int64 (memo, "version", &version) || version != MEMO_VERSION ||
      !get_int64 (memo, "max_pixels", &limit) || (guint64) limit != max_pixels ||
      !json_object_object_get_ex (memo, "root", &v) ||
      g_strcmp0 (json_object_get_string (v), root) != 0 ||
      !json_object_object_get_ex (memo, "files", &files) ||
      !json_object_is_type (files, json_type_object))
    {
      g_debug ("%s is not a health memo for %s; every file is read", path, root);
      json_object_put (memo);
      return NULL;
    }

  table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, result_free);
  json_object_object_foreach (files, file, entry)
    {
      GraftHealthFileResult *result = parse_entry (entry);

      if (result == NULL)
        {
          g_debug ("%s: the entry of %s is malformed; every file is read", path, file);
          json_object_put (memo);
          return NULL;
        }
      g_hash_table_replace (table, g_strdup (file), result);
    }
  json_object_put (memo);
  return g_steal_pointer (&table);
}

gboolean
_graft_health_memo_save (const char                  *dir,
                         const char                  *root,
                         guint64                      max_pixels,
                         GraftDataset                *dataset,
                         const GraftHealthFileResult *results,
                         GError                     **error)
{
  g_autofree char *path = memo_path (dir, root);
  json_object *memo = json_object_new_object ();
  json_object *files = json_object_new_object ();
  const char *text;
  gboolean ok;

  json_object_object_add (memo, "version", json_object_new_int (MEMO_VERSION));
  json_object_object_add (memo, "root", json_object_new_string (root));
  json_object_object_add (memo, "max_pixels", json_object_new_int64 ((gint64) max_pixels));
  json_object_object_add (memo, "files", files);
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      const GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      const GraftHealthFileResult *result = &results[i];
      char hex[2 * GRAFT_HEALTH_HASH_SIZE + 1];
      json_object *entry;

      if (!result->stated || !result->hashed)
        continue;   /* not read in full: read again next time */
      for (guint b = 0; b < GRAFT_HEALTH_HASH_SIZE; b++)
        g_snprintf (hex + 2 * b, 3, "%02x", result->hash[b]);
      entry = json_object_new_object ();
      json_object_object_add (entry, "size", json_object_new_int64 (result->size));
      json_object_object_add (entry, "mtime_ns", json_object_new_int64 (result->mtime_ns));
      json_object_object_add (entry, "sha256", json_object_new_string (hex));
      if (result->ok)
        {
          json_object_object_add (entry, "width", json_object_new_int64 (result->width));
          json_object_object_add (entry, "height", json_object_new_int64 (result->height));
        }
      else
        json_object_object_add (entry, "reason", json_object_new_string (result->reason != NULL
                                                                          ? result->reason : ""));
      json_object_object_add (files, sample->path, entry);
    }

  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      int saved = errno;

      json_object_put (memo);
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "The health memo folder %s cannot be created: %s", dir, g_strerror (saved));
      return FALSE;
    }
  text = json_object_to_json_string_ext (memo, JSON_C_TO_STRING_PLAIN);
  ok = g_file_set_contents_full (path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT, 0600, error);
  json_object_put (memo);
  return ok;
}
