/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-bench"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "graft-bench-data.h"
#include "io/graft-file-util.h"
#include "data/graft-data-error.h"
#include "data/graft-dataset-health.h"
#include "data/graft-fashion-mnist.h"
#include "data/graft-image-cache.h"
#include "data/graft-image-write.h"
#include "data/graft-loader.h"

/* The stamp beside the corpus folder: "writing N" while it is written, "complete N"
 * once every file is there. */
#define STAMP_SUFFIX ".stamp"

char *
graft_bench_data_default_corpus (void)
{
  return g_build_filename (g_get_user_cache_dir (), "graft", "bench", "fashion-mnist-png", NULL);
}

/* The class folder's name: the class name without the slash of "T-shirt/top". */
static char *
class_folder (guint label)
{
  char *name = g_strdup (graft_fashion_mnist_class_name (label));

  g_strdelimit (name, "/", '-');
  return name;
}

typedef struct {
  const GraftFashionMnist *source;
  const char              *folder;
  guint                    n_images;
  gint                     next;      /* atomic */
  gint                     done;      /* atomic */
  gint                     failed;    /* atomic: set once */
  GCancellable            *cancellable;
  GMutex                   mutex;
  GError                  *error;     /* the first, under @mutex */
} Writing;

static gpointer
write_worker (gpointer data)
{
  Writing *writing = data;
  guint side_x = writing->source->cols, side_y = writing->source->rows;

  while (!g_atomic_int_get (&writing->failed) && !g_cancellable_is_cancelled (writing->cancellable))
    {
      guint i = (guint) g_atomic_int_add (&writing->next, 1);
      g_autofree char *klass = NULL;
      g_autofree char *name = NULL;
      g_autofree char *path = NULL;
      GError *error = NULL;

      if (i >= writing->n_images)
        break;
      klass = class_folder (writing->source->labels[i]);
      name = g_strdup_printf ("%05u.png", i);
      path = g_build_filename (writing->folder, klass, name, NULL);
      if (!graft_image_write_png (path, side_x, side_y, 1, side_x,
                                  graft_fashion_mnist_get_image (writing->source, i), &error))
        {
          g_mutex_lock (&writing->mutex);
          if (writing->error == NULL)
            writing->error = error;
          else
            g_error_free (error);
          g_mutex_unlock (&writing->mutex);
          g_atomic_int_set (&writing->failed, 1);
          break;
        }
      g_atomic_int_inc (&writing->done);
    }
  return NULL;
}

static gboolean
write_stamp (const char  *stamp,
             const char  *state,
             guint        n_images,
             GError     **error)
{
  g_autofree char *text = g_strdup_printf ("%s %u\n", state, n_images);
  g_autoptr(GError) local = NULL;

  if (!g_file_set_contents (stamp, text, -1, &local))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "%s cannot be written (%s); check that the cache folder is writable",
                   stamp, local->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
graft_bench_data_corpus (const char              *folder,
                         guint                    n_images,
                         GraftBenchDataProgress   progress,
                         gpointer                 user_data,
                         GCancellable            *cancellable,
                         GraftBenchDataCorpus    *result,
                         GError                 **error)
{
  g_autofree char *stamp = NULL;
  g_autofree char *stamp_text = NULL;
  g_autofree char *complete = NULL;
  g_autoptr(GraftFashionMnist) source = NULL;
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  Writing writing = { 0 };
  gint64 start;
  guint n_threads;

  g_return_val_if_fail (folder != NULL && result != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (result, 0, sizeof *result);
  stamp = g_strconcat (folder, STAMP_SUFFIX, NULL);
  source = graft_fashion_mnist_load (NULL, GRAFT_FASHION_MNIST_TRAIN, cancellable, error);
  if (source == NULL)
    return FALSE;
  if (n_images == 0 || n_images > source->count)
    n_images = source->count;
  result->n_images = n_images;

  complete = g_strdup_printf ("complete %u\n", n_images);
  if (g_file_get_contents (stamp, &stamp_text, NULL, NULL) && g_str_equal (stamp_text, complete) &&
      g_file_test (folder, G_FILE_TEST_IS_DIR))
    return TRUE;

  /* a folder Graft did not start is never removed */
  if (stamp_text == NULL && g_file_test (folder, G_FILE_TEST_EXISTS))
    {
      g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);

      if (dir == NULL || g_dir_read_name (dir) != NULL)
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY,
                       "%s holds files Graft did not write; choose another folder for the "
                       "benchmark's images", folder);
          return FALSE;
        }
    }
  graft_remove_tree (folder);
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      int saved_errno = errno;

      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "%s cannot be created: %s; check that the cache folder is writable",
                   folder, g_strerror (saved_errno));
      return FALSE;
    }
  if (!write_stamp (stamp, "writing", n_images, error))
    return FALSE;
  for (guint label = 0; label < GRAFT_FASHION_MNIST_N_CLASSES; label++)
    {
      g_autofree char *klass = class_folder (label);
      g_autofree char *path = g_build_filename (folder, klass, NULL);

      if (g_mkdir_with_parents (path, 0755) != 0)
        {
          int saved_errno = errno;

          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                       "%s cannot be created: %s; check that the cache folder is writable",
                       path, g_strerror (saved_errno));
          return FALSE;
        }
    }

  start = g_get_monotonic_time ();
  writing.source = source;
  writing.folder = folder;
  writing.n_images = n_images;
  writing.cancellable = cancellable;
  g_mutex_init (&writing.mutex);
  n_threads = MIN (g_get_num_processors (), 8u);
  for (guint t = 0; t < n_threads; t++)
    g_ptr_array_add (threads, g_thread_new ("graft-bench-write", write_worker, &writing));
  /* progress from this thread, a few times a second */
  while ((guint) g_atomic_int_get (&writing.done) < n_images && !g_atomic_int_get (&writing.failed) &&
         !g_cancellable_is_cancelled (cancellable))
    {
      if (progress != NULL)
        progress ("writing", (guint) g_atomic_int_get (&writing.done), n_images, user_data);
      g_usleep (200 * 1000);
    }
  for (guint t = 0; t < threads->len; t++)
    g_thread_join (g_ptr_array_index (threads, t));
  g_mutex_clear (&writing.mutex);
  if (writing.error != NULL)
    {
      g_propagate_error (error, writing.error);
      return FALSE;
    }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return FALSE;
  if (progress != NULL)
    progress ("writing", n_images, n_images, user_data);
  if (!write_stamp (stamp, "complete", n_images, error))
    return FALSE;
  result->written = TRUE;
  result->write_seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  return TRUE;
}

typedef struct {
  GraftBenchDataProgress  progress;
  const char             *stage;
  gpointer                user_data;
} Stage;

static void
stage_progress (guint    done,
                guint    total,
                gpointer user_data)
{
  Stage *stage = user_data;

  if (stage->progress != NULL)
    stage->progress (stage->stage, done, total, stage->user_data);
}

GraftDataset *
graft_bench_data_import (const char              *folder,
                         GraftBenchDataProgress   progress,
                         gpointer                 user_data,
                         GCancellable            *cancellable,
                         GraftBenchDataImport    *result,
                         GError                 **error)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftDatasetHealth) health = NULL;
  GraftHealthOptions options;
  Stage stage = { progress, "importing", user_data };
  gint64 start;

  g_return_val_if_fail (folder != NULL && result != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  memset (result, 0, sizeof *result);
  start = g_get_monotonic_time ();
  dataset = graft_dataset_import (folder, GRAFT_DATASET_FORMAT_FOLDER, stage_progress, &stage,
                                  cancellable, error);
  if (dataset == NULL)
    return NULL;
  result->import_seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  result->n_images = dataset->samples->len;

  stage.stage = "checking";
  graft_health_options_init (&options);
  /* Fashion-MNIST is 28 × 28: below the default minimum side on purpose */
  options.min_side = 16;
  start = g_get_monotonic_time ();
  health = graft_dataset_check_health (dataset, &options, stage_progress, &stage, cancellable, error);
  if (health == NULL)
    return NULL;
  result->health_seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  result->n_problems = health->problems->len;
  return g_steal_pointer (&dataset);
}

gboolean
graft_bench_data_loader (GraftDataset            *dataset,
                         const char              *cache_dir,
                         guint                    size,
                         guint                    channels,
                         guint                    batch,
                         guint                    n_threads,
                         double                   min_seconds,
                         GraftBenchDataProgress   progress,
                         gpointer                 user_data,
                         GCancellable            *cancellable,
                         GraftBenchDataLoader    *result,
                         GError                 **error)
{
  g_autoptr(GraftImageCache) cache = NULL;
  g_autoptr(GraftLoader) loader = NULL;
  GraftImageCacheFillResult fill = { 0 };
  GraftLoaderOptions options;
  Stage stage = { progress, "caching", user_data };
  gint64 start, end;
  guint epoch = 0, images = 0;

  g_return_val_if_fail (dataset != NULL && result != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  memset (result, 0, sizeof *result);
  result->size = size;
  result->channels = channels;
  result->batch = batch;

  cache = graft_image_cache_open (cache_dir, dataset->root, size, channels, error);
  if (cache == NULL)
    return FALSE;
  start = g_get_monotonic_time ();
  if (!graft_image_cache_fill (cache, dataset->samples, 0, stage_progress, &stage, cancellable,
                               &fill, error))
    {
      graft_image_cache_fill_result_clear (&fill);
      return FALSE;
    }
  result->fill_seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  result->n_decoded = fill.n_decoded;
  result->n_cached = graft_image_cache_get_n_entries (cache);
  graft_image_cache_fill_result_clear (&fill);

  graft_loader_options_init (&options, size, TRUE);
  options.channels = channels;
  options.batch_size = batch;
  options.n_threads = n_threads;
  options.seed = 1;
  options.augment.brightness_probability = 0.8f;
  options.augment.contrast_probability = 0.8f;
  options.augment.saturation_probability = 0.8f;
  loader = graft_loader_new (dataset, GRAFT_SPLIT_NONE, cache, &options, cancellable, error);
  if (loader == NULL)
    return FALSE;
  result->n_threads = graft_loader_get_n_threads (loader);

  start = g_get_monotonic_time ();
  end = start + (gint64) (MAX (min_seconds, 0.0) * G_USEC_PER_SEC);
  graft_loader_start_epoch (loader, epoch);
  do
    {
      g_autoptr(GError) local = NULL;
      const GraftBatch *next = graft_loader_next (loader, &local);

      if (next == NULL)
        {
          if (local != NULL)
            {
              g_propagate_error (error, g_steal_pointer (&local));
              return FALSE;
            }
          graft_loader_start_epoch (loader, ++epoch);
          continue;
        }
      images += next->n;
      if (progress != NULL)
        progress ("loading", images, 0, user_data);
    }
  while (g_get_monotonic_time () < end || images < 2 * batch);

  result->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  result->n_images = images;
  result->images_per_second = images / result->seconds;
  return TRUE;
}
