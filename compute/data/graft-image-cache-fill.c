/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* Filling the preprocessing cache: what is new or changed is decoded by a few threads
 * and appended to the data file by the caller's thread, then the index is replaced. */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graft-data-error.h"
#include "graft-dataset-private.h"
#include "graft-image-cache-private.h"

/* The index is written this often during a long fill, so a crash loses little work. */
#define COMMIT_INTERVAL_US (10 * G_USEC_PER_SEC)

/* A fill in progress. */
typedef struct {
  GraftImageCache *cache;
  int              fd;            /* the data file */
  char            *data_file;
  GPtrArray       *todo;          /* Todo * */
  guint            next;          /* atomic: the next todo item a worker takes */
  GAsyncQueue     *results;       /* Decoded * */
  GCancellable    *cancellable;
  gint             stop;          /* atomic */
} Fill;

typedef struct {
  char    *path;
  guint    position;      /* in the samples filled */
  guint64  file_size;
  gint64   mtime_ns;
} Todo;

typedef struct {
  Todo       *todo;
  GraftImage *image;
  guint       source_width, source_height;
  GError     *error;
} Decoded;

static void
todo_free (gpointer data)
{
  Todo *todo = data;

  g_free (todo->path);
  g_free (todo);
}

static void
decoded_free (Decoded *decoded)
{
  graft_image_free (decoded->image);
  g_clear_error (&decoded->error);
  g_free (decoded);
}

static gpointer
fill_worker (gpointer data)
{
  Fill *fill = data;
  guint side = fill->cache->side;

  while (!g_atomic_int_get (&fill->stop) && !g_cancellable_is_cancelled (fill->cancellable))
    {
      guint i = (guint) g_atomic_int_add ((gint *) &fill->next, 1);
      Decoded *decoded;
      GraftImage *image;

      if (i >= fill->todo->len)
        break;
      decoded = g_new0 (Decoded, 1);
      decoded->todo = g_ptr_array_index (fill->todo, i);
      image = graft_image_load (decoded->todo->path, fill->cache->channels, 0, &decoded->error);
      if (image != NULL)
        {
          guint shorter = MIN (image->width, image->height);
          guint longer = MAX (image->width, image->height);
          double scale = 1.0;

          decoded->source_width = image->width;
          decoded->source_height = image->height;
          if (shorter > side)
            scale = (double) side / shorter;
          if (longer * scale > 4.0 * side)
            scale = 4.0 * side / longer;
          if (scale < 1.0)
            {
              guint w = MAX (1u, (guint) (image->width * scale + 0.5));
              guint h = MAX (1u, (guint) (image->height * scale + 0.5));
              GraftImage *resized = graft_image_resize (image, w, h);

              graft_image_free (image);
              image = resized;
              if (image == NULL)
                g_set_error (&decoded->error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                             "%s: not enough memory to resize it to %u × %u pixels",
                             decoded->todo->path, w, h);
            }
        }
      decoded->image = image;
      g_async_queue_push (fill->results, decoded);
    }
  return NULL;
}

static gboolean
write_all (int           fd,
           const guint8 *data,
           gsize         length,
           guint64       offset)
{
  while (length > 0)
    {
      ssize_t n = pwrite (fd, data, length, (off_t) offset);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return FALSE;
      data += n;
      length -= (gsize) n;
      offset += (guint64) n;
    }
  return TRUE;
}

static gboolean
set_write_error (GError     **error,
                 const char  *path,
                 int          saved_errno)
{
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
               "The image cache file %s cannot be written: %s; free some disk space or "
               "remove the folder to start it again",
               path, g_strerror (saved_errno != 0 ? saved_errno : ENOSPC));
  return FALSE;
}

/* Flushes the data, then replaces the index. */
static gboolean
commit (GraftImageCache  *self,
        int               fd,
        const char       *data_file,
        GError          **error)
{
  g_autofree char *index_path = g_build_filename (self->dir, GRAFT_IMAGE_CACHE_INDEX, NULL);
  g_autoptr(GBytes) bytes = NULL;
  g_autoptr(GError) local = NULL;
  gsize length;
  gconstpointer contents;

  if (fd >= 0 && fdatasync (fd) != 0)
    return set_write_error (error, data_file, errno);
  bytes = _graft_image_cache_serialise_index (self);
  contents = g_bytes_get_data (bytes, &length);
  if (!g_file_set_contents_full (index_path, contents, (gssize) length,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &local))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "The image cache index %s cannot be written (%s); free some disk space "
                   "or remove the folder to start it again", index_path, local->message);
      return FALSE;
    }
  return TRUE;
}

/* Takes the folder's lock, waiting for another process's fill; FALSE when cancelled
 * or the lock file cannot be opened. */
static int
take_lock (GraftImageCache  *self,
           GCancellable     *cancellable,
           GError          **error)
{
  g_autofree char *path = g_build_filename (self->dir, GRAFT_IMAGE_CACHE_LOCK, NULL);
  int fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

  if (fd < 0)
    {
      set_write_error (error, path, errno);
      return -1;
    }
  while (flock (fd, LOCK_EX | LOCK_NB) != 0)
    {
      if (errno != EWOULDBLOCK && errno != EINTR)
        {
          set_write_error (error, path, errno);
          close (fd);
          return -1;
        }
      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        {
          close (fd);
          return -1;
        }
      g_usleep (20 * 1000);
    }
  return fd;
}

/* Removes data files of other generations (old ones, or those of a damaged index). */
static void
remove_stale_data (GraftImageCache *self)
{
  g_autoptr(GDir) dir = g_dir_open (self->dir, 0, NULL);
  g_autofree char *current = g_strdup_printf (GRAFT_IMAGE_CACHE_DATA_PREFIX "%" G_GUINT64_FORMAT, self->generation);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_prefix (name, GRAFT_IMAGE_CACHE_DATA_PREFIX) && !g_str_equal (name, current))
      {
        g_autofree char *path = g_build_filename (self->dir, name, NULL);
        g_unlink (path);
      }
}

/* Rewrites the live records into a new generation's file. On failure the old one stays. */
static gboolean
compact (GraftImageCache  *self,
         int              *fd,
         char            **data_file,
         GError          **error)
{
  guint64 generation = MAX (self->generation + 1, (guint64) g_get_real_time ());
  g_autofree char *path = _graft_image_cache_data_path (self, generation);
  g_autofree guint8 *buffer = NULL;
  g_autofree guint64 *offsets = g_new (guint64, self->entries->len);
  gsize buffer_length = 0;
  guint64 end = 0;
  int new_fd;

  new_fd = g_open (path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (new_fd < 0)
    return set_write_error (error, path, errno);
  for (guint i = 0; i < self->entries->len; i++)
    {
      const Entry *entry = &g_array_index (self->entries, Entry, i);
      gsize length = _graft_image_cache_entry_bytes (entry, self->channels);
      ssize_t n;

      offsets[i] = end;
      if (length == 0)
        continue;
      if (length > buffer_length)
        {
          buffer = g_realloc (buffer, length);
          buffer_length = length;
        }
      n = pread (*fd, buffer, length, (off_t) entry->offset);
      if (n != (ssize_t) length || !write_all (new_fd, buffer, length, end))
        {
          int saved_errno = errno;

          close (new_fd);
          g_unlink (path);
          return set_write_error (error, path, saved_errno);
        }
      end += length;
    }
  for (guint i = 0; i < self->entries->len; i++)
    g_array_index (self->entries, Entry, i).offset = offsets[i];
  close (*fd);
  *fd = new_fd;
  g_free (*data_file);
  *data_file = g_steal_pointer (&path);
  self->generation = generation;
  self->data_length = end;
  return TRUE;
}

/* A failure, kept with its sample's position so that the report is in sample order
 * whatever order the threads finish in. */
typedef struct {
  guint   position;
  GError *error;
} Failure;

static void
add_failure (GArray     *failures,
             guint       position,
             guint32     failed,
             const char *message)
{
  Failure failure = {
    position,
    g_error_new_literal (GRAFT_DATA_ERROR, failed > 0 ? (int) failed - 1 : GRAFT_DATA_ERROR_READ, message),
  };

  g_array_append_val (failures, failure);
}

static int
compare_failures (gconstpointer a,
                  gconstpointer b)
{
  const Failure *fa = a, *fb = b;

  return fa->position < fb->position ? -1 : fa->position > fb->position;
}

/* Adds or replaces the entry for @todo with what was decoded; the pixels, if any, are
 * written at the end of the data file. */
static gboolean
store (GraftImageCache            *self,
       Fill                       *fill,
       Decoded                    *decoded,
       GArray                     *failures,
       GError                    **error)
{
  Entry entry = { 0 };
  gpointer found;

  entry.file_size = decoded->todo->file_size;
  entry.mtime_ns = decoded->todo->mtime_ns;
  entry.seen = TRUE;
  if (decoded->image != NULL)
    {
      GraftImage *image = decoded->image;
      gsize row = (gsize) image->width * image->channels;

      entry.offset = self->data_length;
      for (guint y = 0; y < image->height; y++)
        if (!write_all (fill->fd, image->pixels + y * image->stride, row, entry.offset + y * row))
          return set_write_error (error, fill->data_file, errno);
      self->data_length += row * image->height;
      entry.width = image->width;
      entry.height = image->height;
      entry.source_width = decoded->source_width;
      entry.source_height = decoded->source_height;
    }
  else
    {
      entry.failed = 1 + (decoded->error->domain == GRAFT_DATA_ERROR ? (guint32) decoded->error->code
                                                                     : GRAFT_DATA_ERROR_READ);
      entry.message = g_strdup (decoded->error->message);
      add_failure (failures, decoded->todo->position, entry.failed, entry.message);
    }

  found = g_hash_table_lookup (self->by_path, decoded->todo->path);
  if (found != NULL)
    {
      Entry *old = &g_array_index (self->entries, Entry, GPOINTER_TO_UINT (found) - 1);

      entry.path = old->path;   /* the hash table's key stays valid */
      old->path = NULL;
      _graft_image_cache_entry_clear (old);
      *old = entry;
    }
  else
    {
      entry.path = g_strdup (decoded->todo->path);
      g_array_append_val (self->entries, entry);
      g_hash_table_insert (self->by_path, entry.path, GUINT_TO_POINTER (self->entries->len));
    }
  return TRUE;
}

/* Drops entries not among the samples whose files are gone. */
static guint
remove_gone (GraftImageCache *self)
{
  g_autoptr(GArray) kept = g_array_new (FALSE, TRUE, sizeof (Entry));
  guint removed = 0;

  for (guint i = 0; i < self->entries->len; i++)
    {
      Entry *entry = &g_array_index (self->entries, Entry, i);
      GStatBuf st;

      if (!entry->seen && g_stat (entry->path, &st) != 0 && errno == ENOENT)
        {
          _graft_image_cache_entry_clear (entry);
          removed++;
          continue;
        }
      g_array_append_val (kept, *entry);
    }
  if (removed > 0)
    {
      /* the strings moved into @kept */
      g_array_set_clear_func (self->entries, NULL);
      g_array_set_size (self->entries, 0);
      g_array_set_clear_func (self->entries, _graft_image_cache_entry_clear);
      g_array_append_vals (self->entries, kept->data, kept->len);
      _graft_image_cache_rebuild_index (self);
    }
  return removed;
}

gboolean
graft_image_cache_fill (GraftImageCache            *self,
                        GPtrArray                  *samples,
                        guint                       n_threads,
                        GraftDatasetProgress        progress,
                        gpointer                    user_data,
                        GCancellable               *cancellable,
                        GraftImageCacheFillResult  *result,
                        GError                    **error)
{
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  g_autoptr(GHashTable) queued = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GArray) failures = g_array_new (FALSE, FALSE, sizeof (Failure));
  GraftImageCacheFillResult local_result = { 0 };
  g_autoptr(GError) local_error = NULL;
  Fill fill = { 0 };
  guint done = 0, total;
  guint64 live = 0;
  gint64 last_commit;
  gboolean ok = TRUE;
  int lock_fd;

  g_return_val_if_fail (self != NULL && samples != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (result == NULL)
    result = &local_result;
  memset (result, 0, sizeof *result);
  result->failures = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  total = samples->len;

  lock_fd = take_lock (self, cancellable, error);
  if (lock_fd < 0)
    {
      graft_image_cache_fill_result_clear (&local_result);
      return FALSE;
    }

  /* another process may have filled it since it was opened */
  _graft_image_cache_unmap (self);
  _graft_image_cache_reload (self);

  fill.cache = self;
  fill.cancellable = cancellable;
  fill.todo = g_ptr_array_new_with_free_func (todo_free);
  fill.results = g_async_queue_new ();
  fill.data_file = _graft_image_cache_data_path (self, self->generation);
  fill.fd = g_open (fill.data_file, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fill.fd < 0 || ftruncate (fill.fd, (off_t) self->data_length) != 0)
    {
      ok = set_write_error (&local_error, fill.data_file, errno);
      goto out;
    }

  /* what is up to date, what must be decoded */
  for (guint i = 0; i < self->entries->len; i++)
    g_array_index (self->entries, Entry, i).seen = FALSE;
  for (guint i = 0; i < samples->len; i++)
    {
      const GraftSample *sample = g_ptr_array_index (samples, i);
      gpointer found = g_hash_table_lookup (self->by_path, sample->path);
      Entry *entry = found != NULL ? &g_array_index (self->entries, Entry, GPOINTER_TO_UINT (found) - 1) : NULL;
      struct stat st;
      Todo *todo;

      if (entry != NULL && entry->seen)
        {
          done++;   /* a second sample of the same file */
          continue;
        }
      if (g_hash_table_contains (queued, sample->path))
        {
          done++;
          continue;
        }
      if (stat (sample->path, &st) != 0)
        {
          int saved_errno = errno;
          g_autofree char *message = g_strdup_printf ("%s cannot be read (%s); restore the file "
                                                      "or import the dataset again", sample->path,
                                                      g_strerror (saved_errno));

          add_failure (failures, i, 1 + (saved_errno == ENOENT ? GRAFT_DATA_ERROR_NOT_FOUND : GRAFT_DATA_ERROR_READ),
                       message);
          done++;
          continue;
        }
      if (entry != NULL)
        {
          entry->seen = TRUE;
          if (entry->file_size == (guint64) st.st_size && entry->mtime_ns == _graft_stat_mtime_ns (&st))
            {
              result->n_reused++;
              if (entry->failed)
                add_failure (failures, i, entry->failed, entry->message);
              done++;
              continue;
            }
        }
      todo = g_new0 (Todo, 1);
      todo->path = g_strdup (sample->path);
      todo->file_size = (guint64) st.st_size;
      todo->mtime_ns = _graft_stat_mtime_ns (&st);
      todo->position = i;
      g_ptr_array_add (fill.todo, todo);
      g_hash_table_add (queued, todo->path);
    }
  result->n_removed = remove_gone (self);
  if (progress != NULL)
    progress (done, total, user_data);

  if (n_threads == 0)
    n_threads = MIN (g_get_num_processors (), 8u);
  n_threads = MIN (n_threads, MAX (fill.todo->len, 1u));
  for (guint i = 0; i < n_threads && fill.todo->len > 0; i++)
    g_ptr_array_add (threads, g_thread_new ("graft-cache", fill_worker, &fill));

  last_commit = g_get_monotonic_time ();
  for (guint received = 0; received < fill.todo->len;)
    {
      Decoded *decoded;

      if (g_cancellable_is_cancelled (cancellable))
        break;
      decoded = g_async_queue_timeout_pop (fill.results, 50 * 1000);
      if (decoded == NULL)
        continue;
      received++;
      self->n_decoded++;
      result->n_decoded++;
      ok = store (self, &fill, decoded, failures, &local_error);
      decoded_free (decoded);
      if (!ok)
        break;
      done++;
      if (progress != NULL)
        progress (done, total, user_data);
      if (g_get_monotonic_time () - last_commit > COMMIT_INTERVAL_US)
        {
          if (!commit (self, fill.fd, fill.data_file, &local_error))
            {
              ok = FALSE;
              break;
            }
          last_commit = g_get_monotonic_time ();
        }
    }

  g_atomic_int_set (&fill.stop, 1);
  for (guint i = 0; i < threads->len; i++)
    g_thread_join (g_ptr_array_index (threads, i));
  g_ptr_array_set_size (threads, 0);

  if (ok)
    {
      /* compaction when at least half of the data file is dead */
      for (guint i = 0; i < self->entries->len; i++)
        live += _graft_image_cache_entry_bytes (&g_array_index (self->entries, Entry, i), self->channels);
      if (self->data_length > 0 && self->data_length - live >= self->data_length / 2 &&
          self->data_length - live > 0)
        {
          if (!compact (self, &fill.fd, &fill.data_file, &local_error))
            ok = FALSE;
          else
            result->compacted = TRUE;
        }
    }

  /* what was written is kept, even on cancel or a failed write */
  if (result->n_decoded > 0 || result->n_removed > 0 || result->compacted || !self->on_disk)
    {
      if (!commit (self, fill.fd, fill.data_file, ok ? &local_error : NULL))
        ok = FALSE;
      else
        {
          self->on_disk = TRUE;
          remove_stale_data (self);
        }
    }

out:
  if (fill.fd >= 0)
    close (fill.fd);
  while (fill.results != NULL)
    {
      Decoded *decoded = g_async_queue_try_pop (fill.results);

      if (decoded == NULL)
        break;
      decoded_free (decoded);
    }
  g_clear_pointer (&fill.results, g_async_queue_unref);
  g_clear_pointer (&fill.todo, g_ptr_array_unref);
  g_free (fill.data_file);
  flock (lock_fd, LOCK_UN);
  close (lock_fd);
  _graft_image_cache_map (self);

  g_array_sort (failures, compare_failures);
  for (guint i = 0; i < failures->len; i++)
    g_ptr_array_add (result->failures, g_array_index (failures, Failure, i).error);
  result->n_failed = failures->len;
  graft_image_cache_fill_result_clear (&local_result);

  if (!ok)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  return TRUE;
}

GraftImageCache *
graft_image_cache_prepare (const char            *cache_dir,
                           GraftDataset          *dataset,
                           GraftSplit             split,
                           guint                  size,
                           guint                  channels,
                           GraftDatasetProgress   progress,
                           gpointer               user_data,
                           GCancellable          *cancellable,
                           char                 **note,
                           GError               **error)
{
  g_autoptr(GraftImageCache) cache = NULL;
  g_autoptr(GPtrArray) samples = NULL;
  g_autoptr(GError) local = NULL;
  GraftImageCacheFillResult fill = { 0 };
  gboolean ok;

  g_return_val_if_fail (dataset != NULL && note != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  *note = NULL;
  cache = graft_image_cache_open (cache_dir, dataset->root, size, channels, &local);
  if (cache == NULL)
    {
      *note = g_strdup_printf ("off: %s", local->message);
      return NULL;
    }
  samples = g_ptr_array_new ();
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      /* what the health check took out no loader shows */
      if (sample->usable && (split == GRAFT_SPLIT_NONE || sample->split == split))
        g_ptr_array_add (samples, sample);
    }
  ok = graft_image_cache_fill (cache, samples, 0, progress, user_data, cancellable,
                               &fill, &local);
  if (!ok)
    {
      graft_image_cache_fill_result_clear (&fill);
      if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return NULL;
        }
      *note = g_strdup_printf ("off: %s", local->message);
      return NULL;
    }
  *note = g_strdup_printf ("on: %u image%s decoded into %s, %u reused", fill.n_decoded,
                           fill.n_decoded == 1 ? "" : "s", graft_image_cache_get_dir (cache),
                           fill.n_reused);
  graft_image_cache_fill_result_clear (&fill);
  return g_steal_pointer (&cache);
}
