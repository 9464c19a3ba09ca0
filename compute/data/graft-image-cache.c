/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <zlib.h>

#include "graft-data-error.h"
#include "graft-image-cache-private.h"

/* The index file: a header, the root it was made for, then the entries, each padded to
 * 8 bytes. Numbers are in the machine's byte order: a cache belongs to one machine. */
#define INDEX_MAGIC "GRAFTIMC"
#define INDEX_VERSION 1u
/* The largest side a cached image may have. */
#define MAX_SIDE 65536u

typedef struct {
  char     magic[8];
  guint32  version;
  guint32  size;
  guint32  channels;
  guint32  side;
  guint32  n_entries;
  guint32  root_length;
  guint64  generation;
  guint64  data_length;
  guint32  crc;          /* of the whole file with this field zero */
  guint32  reserved;
} IndexHeader;

typedef struct {
  guint64  file_size;
  gint64   mtime_ns;
  guint64  offset;
  guint32  width, height;                /* as stored */
  guint32  source_width, source_height;  /* of the file */
  guint32  failed;                       /* 0, or 1 + the GRAFT_DATA_ERROR code */
  guint32  path_length;
  guint32  message_length;
  guint32  reserved;
} IndexEntry;


guint
graft_image_cache_side_for (guint size)
{
  return (guint) (((guint64) size * 8 + 6) / 7);
}

gsize
_graft_image_cache_entry_bytes (const Entry *entry,
             guint        channels)
{
  return entry->failed ? 0 : (gsize) entry->width * entry->height * channels;
}

void
_graft_image_cache_entry_clear (gpointer data)
{
  Entry *entry = data;

  g_free (entry->path);
  g_free (entry->message);
}

char *
_graft_image_cache_data_path (GraftImageCache *self,
           guint64          generation)
{
  g_autofree char *name = g_strdup_printf (GRAFT_IMAGE_CACHE_DATA_PREFIX "%" G_GUINT64_FORMAT, generation);

  return g_build_filename (self->dir, name, NULL);
}

static void
reset_entries (GraftImageCache *self)
{
  g_hash_table_remove_all (self->by_path);
  g_array_set_size (self->entries, 0);
  self->data_length = 0;
}

void
_graft_image_cache_rebuild_index (GraftImageCache *self)
{
  g_hash_table_remove_all (self->by_path);
  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = &g_array_index (self->entries, Entry, i);
      g_hash_table_insert (self->by_path, entry->path, GUINT_TO_POINTER (i + 1));
    }
}

/* Reads and checks the index; FALSE (and why, for the log) when it is missing, damaged
 * or made for something else. Entries are replaced only on success. */
static gboolean
load_index (GraftImageCache  *self,
            char            **why)
{
  g_autofree char *path = g_build_filename (self->dir, GRAFT_IMAGE_CACHE_INDEX, NULL);
  g_autofree char *contents = NULL;
  g_autoptr(GArray) entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_autofree char *data_file = NULL;
  IndexHeader header;
  GStatBuf st;
  gsize length = 0, pos;
  guint32 crc;

  g_array_set_clear_func (entries, _graft_image_cache_entry_clear);
  *why = NULL;

  if (!g_file_get_contents (path, &contents, &length, NULL))
    return FALSE;   /* no index: a new cache, nothing to say */

  if (length < sizeof header)
    {
      *why = g_strdup ("it is shorter than its header");
      return FALSE;
    }
  memcpy (&header, contents, sizeof header);
  if (memcmp (header.magic, INDEX_MAGIC, 8) != 0 || header.version != INDEX_VERSION)
    {
      *why = g_strdup ("it is not an index of this version of Graft");
      return FALSE;
    }
  ((IndexHeader *) (gpointer) contents)->crc = 0;
  crc = (guint32) crc32 (0, (const Bytef *) contents, (uInt) length);
  if (length > G_MAXUINT32 || crc != header.crc)
    {
      *why = g_strdup ("its checksum does not match its contents");
      return FALSE;
    }
  if (header.size != self->size || header.channels != self->channels ||
      header.side != self->side || header.root_length != strlen (self->root) ||
      length - sizeof header < header.root_length ||
      memcmp (contents + sizeof header, self->root, header.root_length) != 0)
    {
      *why = g_strdup ("it was made for another dataset, size or channel count");
      return FALSE;
    }

  data_file = _graft_image_cache_data_path (self, header.generation);
  if (g_stat (data_file, &st) != 0 || (guint64) st.st_size < header.data_length)
    {
      *why = g_strdup_printf ("its data file %s is missing or shorter than recorded", data_file);
      return FALSE;
    }

  pos = sizeof header + ((header.root_length + 7u) & ~7u);
  for (guint i = 0; i < header.n_entries; i++)
    {
      IndexEntry ie;
      Entry entry = { 0 };
      gsize record_length;

      if (pos > length || length - pos < sizeof ie)
        {
          *why = g_strdup_printf ("entry %u lies past its end", i);
          return FALSE;
        }
      memcpy (&ie, contents + pos, sizeof ie);
      pos += sizeof ie;
      if (ie.path_length == 0 || ie.path_length > GRAFT_IMAGE_CACHE_MAX_PATH ||
          ie.message_length > GRAFT_IMAGE_CACHE_MAX_PATH ||
          length - pos < (gsize) ie.path_length + ie.message_length)
        {
          *why = g_strdup_printf ("entry %u has a path of impossible length", i);
          return FALSE;
        }
      if (ie.failed == 0 &&
          (ie.width == 0 || ie.height == 0 || ie.width > MAX_SIDE || ie.height > MAX_SIDE ||
           ie.source_width < ie.width || ie.source_height < ie.height))
        {
          *why = g_strdup_printf ("entry %u has impossible dimensions", i);
          return FALSE;
        }
      record_length = ie.failed ? 0 : (gsize) ie.width * ie.height * self->channels;
      if (ie.offset > header.data_length || header.data_length - ie.offset < record_length)
        {
          *why = g_strdup_printf ("entry %u points past the end of the data", i);
          return FALSE;
        }
      entry.path = g_strndup (contents + pos, ie.path_length);
      entry.message = ie.message_length > 0 ? g_strndup (contents + pos + ie.path_length, ie.message_length) : NULL;
      pos += ((gsize) ie.path_length + ie.message_length + 7u) & ~(gsize) 7u;
      entry.file_size = ie.file_size;
      entry.mtime_ns = ie.mtime_ns;
      entry.offset = ie.offset;
      entry.width = ie.width;
      entry.height = ie.height;
      entry.source_width = ie.source_width;
      entry.source_height = ie.source_height;
      entry.failed = ie.failed;
      if (strlen (entry.path) != ie.path_length)
        {
          _graft_image_cache_entry_clear (&entry);
          *why = g_strdup_printf ("entry %u has a path with a zero byte", i);
          return FALSE;
        }
      g_array_append_val (entries, entry);
    }
  if (pos != length)
    {
      *why = g_strdup ("it holds more bytes than its entries");
      return FALSE;
    }

  g_array_set_size (self->entries, 0);
  g_array_append_vals (self->entries, entries->data, entries->len);
  /* the entries moved: their strings belong to self->entries now */
  g_array_set_clear_func (entries, NULL);
  _graft_image_cache_rebuild_index (self);
  if (g_hash_table_size (self->by_path) != self->entries->len)
    {
      reset_entries (self);
      *why = g_strdup ("it names one file twice");
      return FALSE;
    }
  self->generation = header.generation;
  self->data_length = header.data_length;
  return TRUE;
}

void
_graft_image_cache_unmap (GraftImageCache *self)
{
  g_clear_pointer (&self->map, g_mapped_file_unref);
  self->data = NULL;
}

/* Maps the data file; on failure the cache is treated as empty. */
void
_graft_image_cache_map (GraftImageCache *self)
{
  g_autofree char *path = NULL;
  g_autoptr(GError) error = NULL;

  _graft_image_cache_unmap (self);
  if (self->data_length == 0)
    return;
  path = _graft_image_cache_data_path (self, self->generation);
  self->map = g_mapped_file_new (path, FALSE, &error);
  if (self->map == NULL || g_mapped_file_get_length (self->map) < self->data_length)
    {
      g_message ("The image cache %s cannot be read (%s); it will be rebuilt",
                 path, error != NULL ? error->message : "it is shorter than its index says");
      _graft_image_cache_unmap (self);
      reset_entries (self);
      self->rebuilt = TRUE;
      return;
    }
  self->data = (const guint8 *) g_mapped_file_get_contents (self->map);
}

/* (Re)reads the index from disk; a damaged one empties the cache. */
void
_graft_image_cache_reload (GraftImageCache *self)
{
  g_autofree char *why = NULL;

  self->on_disk = load_index (self, &why);
  if (!self->on_disk)
    {
      reset_entries (self);
      /* said once per GraftImageCache: a fill reads the same damaged index again */
      if (why != NULL && !self->rebuilt)
        g_message ("The image cache index in %s is damaged (%s); the cache will be rebuilt",
                   self->dir, why);
      if (why != NULL)
        self->rebuilt = TRUE;
      /* a generation no old data file uses */
      self->generation = (guint64) g_get_real_time ();
    }
}

GraftImageCache *
graft_image_cache_open (const char  *cache_dir,
                        const char  *root,
                        guint        size,
                        guint        channels,
                        GError     **error)
{
  g_autoptr(GChecksum) checksum = NULL;
  g_autofree char *base = NULL;
  g_autofree char *key = NULL;
  GraftImageCache *self;
  char hash[17];

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (size > 0 && size <= 16384, NULL);
  g_return_val_if_fail (channels == 1 || channels == 3, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = g_new0 (GraftImageCache, 1);
  self->root = g_canonicalize_filename (root, NULL);
  self->size = size;
  self->channels = channels;
  self->side = graft_image_cache_side_for (size);
  self->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_array_set_clear_func (self->entries, _graft_image_cache_entry_clear);
  self->by_path = g_hash_table_new (g_str_hash, g_str_equal);

  key = g_strdup_printf ("%s\n%u\n%u\n%u", self->root, size, channels, INDEX_VERSION);
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) key, -1);
  g_strlcpy (hash, g_checksum_get_string (checksum), sizeof hash);
  base = cache_dir != NULL ? g_strdup (cache_dir)
                           : g_build_filename (g_get_user_cache_dir (), "graft", "images", NULL);
  self->dir = g_build_filename (base, hash, NULL);

  if (g_mkdir_with_parents (self->dir, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "The image cache folder %s cannot be created: %s; check that the cache "
                   "folder is writable or set XDG_CACHE_HOME to one that is",
                   self->dir, g_strerror (saved_errno));
      graft_image_cache_free (self);
      return NULL;
    }

  _graft_image_cache_reload (self);
  _graft_image_cache_map (self);
  return self;
}

void
graft_image_cache_free (GraftImageCache *self)
{
  if (self == NULL)
    return;
  _graft_image_cache_unmap (self);
  g_hash_table_unref (self->by_path);
  g_array_unref (self->entries);
  g_free (self->dir);
  g_free (self->root);
  g_free (self);
}

const char *
graft_image_cache_get_dir (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->dir;
}

guint
graft_image_cache_get_side (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->side;
}

guint
graft_image_cache_get_channels (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->channels;
}

guint
graft_image_cache_get_n_entries (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->entries->len;
}

guint
graft_image_cache_get_n_decoded (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_decoded;
}

gboolean
graft_image_cache_was_rebuilt (GraftImageCache *self)
{
  g_return_val_if_fail (self != NULL, FALSE);
  return self->rebuilt;
}

void
graft_image_cache_fill_result_clear (GraftImageCacheFillResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->failures, g_ptr_array_unref);
  memset (result, 0, sizeof *result);
}

gboolean
graft_image_cache_lookup (GraftImageCache   *self,
                          const char        *path,
                          GraftCachedImage  *cached,
                          const char       **failure)
{
  const Entry *entry;
  gpointer found;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  if (failure != NULL)
    *failure = NULL;
  found = g_hash_table_lookup (self->by_path, path);
  if (found == NULL)
    return FALSE;
  entry = &g_array_index (self->entries, Entry, GPOINTER_TO_UINT (found) - 1);
  if (entry->failed || self->data == NULL)
    {
      if (failure != NULL)
        *failure = entry->message;
      return FALSE;
    }
  if (cached != NULL)
    {
      cached->image.width = entry->width;
      cached->image.height = entry->height;
      cached->image.channels = self->channels;
      cached->image.stride = (gsize) entry->width * self->channels;
      cached->image.pixels = (guint8 *) self->data + entry->offset;
      cached->source_width = entry->source_width;
      cached->source_height = entry->source_height;
    }
  return TRUE;
}

/* The index as bytes. */
GBytes *
_graft_image_cache_serialise_index (GraftImageCache *self)
{
  GByteArray *bytes = g_byte_array_new ();
  static const guint8 zeros[8] = { 0 };
  IndexHeader header = { 0 };
  gsize root_length = strlen (self->root);

  memcpy (header.magic, INDEX_MAGIC, 8);
  header.version = INDEX_VERSION;
  header.size = self->size;
  header.channels = self->channels;
  header.side = self->side;
  header.n_entries = self->entries->len;
  header.root_length = (guint32) root_length;
  header.generation = self->generation;
  header.data_length = self->data_length;
  g_byte_array_append (bytes, (const guint8 *) &header, sizeof header);
  g_byte_array_append (bytes, (const guint8 *) self->root, (guint) root_length);
  g_byte_array_append (bytes, zeros, (guint) (((root_length + 7u) & ~(gsize) 7u) - root_length));

  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = &g_array_index (self->entries, Entry, i);
      IndexEntry ie = { 0 };
      gsize strings;

      ie.file_size = entry->file_size;
      ie.mtime_ns = entry->mtime_ns;
      ie.offset = entry->offset;
      ie.width = entry->width;
      ie.height = entry->height;
      ie.source_width = entry->source_width;
      ie.source_height = entry->source_height;
      ie.failed = entry->failed;
      ie.path_length = (guint32) strlen (entry->path);
      ie.message_length = entry->message != NULL ? (guint32) MIN (strlen (entry->message), GRAFT_IMAGE_CACHE_MAX_PATH) : 0;
      strings = (gsize) ie.path_length + ie.message_length;
      g_byte_array_append (bytes, (const guint8 *) &ie, sizeof ie);
      g_byte_array_append (bytes, (const guint8 *) entry->path, ie.path_length);
      if (ie.message_length > 0)
        g_byte_array_append (bytes, (const guint8 *) entry->message, ie.message_length);
      g_byte_array_append (bytes, zeros, (guint) (((strings + 7u) & ~(gsize) 7u) - strings));
    }

  ((IndexHeader *) (gpointer) bytes->data)->crc = (guint32) crc32 (0, bytes->data, bytes->len);
  return g_byte_array_free_to_bytes (bytes);
}

