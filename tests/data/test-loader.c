/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The batch loader: every sample of the split once per epoch, each image with its own
 * label; the same batches for a seed whatever the number of threads, and with or
 * without the cache; batches ready ahead of a slow consumer; normalisation exactly
 * (v / 255 - mean) / std; a cancel that stops it within a bound; unreadable images
 * reported and skipped; boxes carried into the output; the upload into a model's
 * input tensors. With graft-cli and Fashion-MNIST at hand, graft-cli bench data writes
 * its corpus once and reports every number it promises. */

#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>
#include <sys/wait.h>

#include "graft.h"
#include "graft-test-util.h"

#define N_IMAGES 37
#define N_CLASSES 4

typedef struct {
  char         *dir;
  char         *cache_dir;
  GraftDataset *dataset;
} Fixture;

static char *
write_png (const char   *dir,
           const char   *name,
           guint         width,
           guint         height,
           const guint8 *pixels)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (dir, name, NULL);

  g_assert_true (graft_image_write_png (path, width, height, 3, (gsize) width * 3, pixels, &error));
  g_assert_no_error (error);
  return path;
}

/* Image i is flat: red 6 i + 10 names it, blue 50 × its label. */
static GraftDataset *
make_flat_dataset (const char *dir)
{
  GraftDataset *dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, dir);

  for (guint c = 0; c < N_CLASSES; c++)
    {
      g_autofree char *name = g_strdup_printf ("class-%u", c);
      graft_dataset_add_class (dataset, name);
    }
  for (guint i = 0; i < N_IMAGES; i++)
    {
      g_autofree guint8 *pixels = g_new (guint8, 24 * 20 * 3);
      g_autofree char *name = g_strdup_printf ("flat-%02u.png", i);
      guint label = (i * 7) % N_CLASSES;
      GraftSample *sample;

      for (guint p = 0; p < 24 * 20; p++)
        {
          pixels[p * 3 + 0] = (guint8) (6 * i + 10);
          pixels[p * 3 + 1] = 128;
          pixels[p * 3 + 2] = (guint8) (50 * label);
        }
      sample = graft_dataset_add_sample (dataset, write_png (dir, name, 24, 20, pixels),
                                         g_strdup (name), (int) label);
      sample->split = i % 5 == 0 ? GRAFT_SPLIT_VAL : GRAFT_SPLIT_TRAIN;
    }
  return dataset;
}

/* Textured images, so that every crop and flip shows. */
static GraftDataset *
make_textured_dataset (const char *dir,
                       guint       n,
                       guint       width,
                       guint       height)
{
  GraftDataset *dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, dir);

  graft_dataset_add_class (dataset, "a");
  graft_dataset_add_class (dataset, "b");
  for (guint i = 0; i < n; i++)
    {
      g_autofree guint8 *pixels = g_new (guint8, (gsize) width * height * 3);
      g_autofree char *name = g_strdup_printf ("tex-%03u.png", i);

      for (guint y = 0; y < height; y++)
        for (guint x = 0; x < width; x++)
          for (guint c = 0; c < 3; c++)
            pixels[(y * width + x) * 3 + c] = (guint8) (i * 31 + x * 5 + y * 11 + c * 60 + (x * y) % 13);
      graft_dataset_add_sample (dataset, write_png (dir, name, width, height, pixels),
                                g_strdup (name), (int) (i % 2));
    }
  return dataset;
}

static void
fixture_set_up (Fixture                     *fixture,
                G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *images = NULL;

  fixture->dir = g_dir_make_tmp ("graft-loader-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->cache_dir = g_build_filename (fixture->dir, "cache", NULL);
  images = g_build_filename (fixture->dir, "flat", NULL);
  g_mkdir (images, 0755);
  fixture->dataset = make_flat_dataset (images);
}

static void
fixture_tear_down (Fixture                     *fixture,
                   G_GNUC_UNUSED gconstpointer  data)
{
  graft_dataset_free (fixture->dataset);
  graft_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->cache_dir);
}

static GraftLoader *
new_loader (GraftDataset             *dataset,
            GraftSplit                split,
            GraftImageCache          *cache,
            const GraftLoaderOptions *options)
{
  g_autoptr(GError) error = NULL;
  GraftLoader *loader = graft_loader_new (dataset, split, cache, options, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (loader);
  return loader;
}

static GraftImageCache *
filled_cache (const char   *cache_dir,
              GraftDataset *dataset,
              guint         size)
{
  g_autoptr(GError) error = NULL;
  GraftImageCacheFillResult result;
  GraftImageCache *cache = graft_image_cache_open (cache_dir, dataset->root, size, 3, &error);

  g_assert_no_error (error);
  g_assert_true (graft_image_cache_fill (cache, dataset->samples, 2, NULL, NULL, NULL, &result, &error));
  g_assert_no_error (error);
  graft_image_cache_fill_result_clear (&result);
  return cache;
}

/* Plain v / 255 so that values can be read back. */
static void
options_plain (GraftLoaderOptions *options,
               guint               size,
               gboolean            train)
{
  graft_loader_options_init (options, size, train);
  for (guint c = 0; c < 3; c++)
    {
      options->mean[c] = 0.0f;
      options->std[c] = 1.0f;
    }
}

/* Runs an epoch of a loader of flat images and checks each image against its sample:
 * every sample of @split once, with its label. Returns the order seen. */
static GArray *
check_epoch (GraftDataset *dataset,
             GraftLoader  *loader,
             GraftSplit    split,
             guint         epoch,
             guint         batch_size)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint *seen = g_new0 (guint, dataset->samples->len);
  GArray *order = g_array_new (FALSE, FALSE, sizeof (guint));
  const GraftBatch *batch;
  guint expected = 0, batches = 0;

  for (guint i = 0; i < dataset->samples->len; i++)
    expected += ((GraftSample *) g_ptr_array_index (dataset->samples, i))->split == split;
  g_assert_cmpuint (graft_loader_get_n_samples (loader), ==, expected);

  graft_loader_start_epoch (loader, epoch);
  while ((batch = graft_loader_next (loader, &error)) != NULL)
    {
      gsize plane = (gsize) batch->size * batch->size;

      g_assert_cmpuint (batch->epoch, ==, epoch);
      g_assert_cmpuint (batch->index, ==, batches);
      g_assert_cmpuint (batch->n, ==, MIN (batch_size, expected - batches * batch_size));
      for (guint k = 0; k < batch->n; k++)
        {
          const float *image = batch->images + k * 3 * plane;
          guint index = batch->samples[k];
          const GraftSample *sample = g_ptr_array_index (dataset->samples, index);
          /* the red value names the image, the blue one its class */
          guint named = (guint) lroundf ((image[plane / 2] * 255.0f - 10.0f) / 6.0f);
          guint blue_label = (guint) lroundf (image[2 * plane + plane / 3] * 255.0f / 50.0f);

          g_assert_cmpuint (sample->split, ==, split);
          g_assert_cmpuint (named, ==, index);
          g_assert_cmpfloat (batch->labels[k], ==, (float) sample->label);
          g_assert_cmpuint (blue_label, ==, (guint) sample->label);
          seen[index]++;
          g_array_append_val (order, index);
        }
      batches++;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (batches, ==, graft_loader_get_n_batches (loader));
  for (guint i = 0; i < dataset->samples->len; i++)
    g_assert_cmpuint (seen[i], ==,
                      ((GraftSample *) g_ptr_array_index (dataset->samples, i))->split == split ? 1 : 0);
  /* the end stays the end */
  g_assert_null (graft_loader_next (loader, &error));
  g_assert_no_error (error);
  return order;
}

static void
test_epoch (Fixture                     *fixture,
            G_GNUC_UNUSED gconstpointer  data)
{
  GraftLoaderOptions options;
  g_autoptr(GraftLoader) loader = NULL;
  g_autoptr(GraftLoader) eval = NULL;
  g_autoptr(GArray) first = NULL;
  g_autoptr(GArray) second = NULL;
  g_autoptr(GArray) val = NULL;
  g_autoptr(GraftImageCache) cache = NULL;

  options_plain (&options, 16, TRUE);
  options.batch_size = 8;
  options.seed = 11;
  options.n_threads = 3;
  loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
  first = check_epoch (fixture->dataset, loader, GRAFT_SPLIT_TRAIN, 0, 8);
  second = check_epoch (fixture->dataset, loader, GRAFT_SPLIT_TRAIN, 1, 8);
  /* shuffled, and differently in each epoch */
  g_assert_cmpuint (first->len, ==, second->len);
  g_assert_true (memcmp (first->data, second->data, first->len * sizeof (guint)) != 0);

  /* evaluation: the validation split in dataset order, from the cache */
  cache = filled_cache (fixture->cache_dir, fixture->dataset, 16);
  options_plain (&options, 16, FALSE);
  options.batch_size = 3;
  eval = new_loader (fixture->dataset, GRAFT_SPLIT_VAL, cache, &options);
  val = check_epoch (fixture->dataset, eval, GRAFT_SPLIT_VAL, 0, 3);
  for (guint i = 1; i < val->len; i++)
    g_assert_cmpuint (g_array_index (val, guint, i - 1), <, g_array_index (val, guint, i));
}

/* All batches of two epochs, concatenated. */
static GByteArray *
collect (GraftLoader *loader)
{
  g_autoptr(GError) error = NULL;
  GByteArray *bytes = g_byte_array_new ();

  for (guint epoch = 0; epoch < 2; epoch++)
    {
      const GraftBatch *batch;

      graft_loader_start_epoch (loader, epoch);
      while ((batch = graft_loader_next (loader, &error)) != NULL)
        {
          gsize plane = (gsize) batch->size * batch->size;

          g_byte_array_append (bytes, (const guint8 *) batch->images, (guint) (batch->n * 3 * plane * sizeof (float)));
          g_byte_array_append (bytes, (const guint8 *) batch->labels, batch->n * sizeof (float));
          g_byte_array_append (bytes, (const guint8 *) batch->samples, batch->n * sizeof (guint));
        }
      g_assert_no_error (error);
    }
  return bytes;
}

static void
test_deterministic (Fixture                     *fixture,
                    G_GNUC_UNUSED gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fixture->dir, "textured", NULL);
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftImageCache) cache = NULL;
  g_autoptr(GByteArray) reference = NULL;
  GraftLoaderOptions options;

  g_mkdir (dir, 0755);
  /* no larger than the cache keeps them (23 pixels for 20), so that the cached pixels
   * are the decoded ones */
  dataset = make_textured_dataset (dir, 21, 22, 19);
  cache = filled_cache (fixture->cache_dir, dataset, 20);

  graft_loader_options_init (&options, 20, TRUE);
  options.batch_size = 4;
  options.seed = 2024;
  options.augment.vflip_probability = 0.5f;
  options.augment.rotate_probability = 0.5f;
  options.augment.brightness_probability = 0.5f;
  options.augment.contrast_probability = 0.5f;
  options.augment.saturation_probability = 0.5f;

  /* 1, 2 and 5 threads, with a cache and without: the same bytes */
  for (guint run = 0; run < 4; run++)
    {
      const guint threads[] = { 1, 2, 5, 3 };
      g_autoptr(GraftLoader) loader = NULL;
      g_autoptr(GByteArray) bytes = NULL;

      options.n_threads = threads[run];
      options.prefetch = run == 3 ? 1 : 2;
      loader = new_loader (dataset, GRAFT_SPLIT_NONE, run == 3 ? NULL : cache, &options);
      g_assert_cmpuint (graft_loader_get_n_threads (loader), ==, threads[run]);
      bytes = collect (loader);
      if (reference == NULL)
        reference = g_steal_pointer (&bytes);
      else
        g_assert_cmpmem (bytes->data, bytes->len, reference->data, reference->len);
    }

  /* another seed, other batches */
  {
    g_autoptr(GraftLoader) loader = NULL;
    g_autoptr(GByteArray) bytes = NULL;

    options.seed = 2025;
    loader = new_loader (dataset, GRAFT_SPLIT_NONE, cache, &options);
    bytes = collect (loader);
    g_assert_cmpuint (bytes->len, ==, reference->len);
    g_assert_true (memcmp (bytes->data, reference->data, reference->len) != 0);
  }
}

static void
test_normalise (Fixture                     *fixture,
                G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GraftLoader) loader = NULL;
  g_autoptr(GError) error = NULL;
  GraftLoaderOptions options;
  const GraftBatch *batch;
  const float mean[3] = { 0.1f, 0.2f, 0.3f };
  const float std[3] = { 0.5f, 0.25f, 0.125f };

  graft_loader_options_init (&options, 12, TRUE);
  memcpy (options.mean, mean, sizeof mean);
  memcpy (options.std, std, sizeof std);
  options.batch_size = 5;
  loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
  graft_loader_start_epoch (loader, 0);
  batch = graft_loader_next (loader, &error);
  g_assert_no_error (error);
  g_assert_nonnull (batch);
  g_assert_cmpuint (batch->channels, ==, 3);
  g_assert_cmpuint (batch->size, ==, 12);
  for (guint k = 0; k < batch->n; k++)
    {
      guint i = batch->samples[k];
      const float rgb[3] = { 6.0f * i + 10.0f, 128.0f, 50.0f * batch->labels[k] };

      for (guint c = 0; c < 3; c++)
        for (guint p = 0; p < 144; p += 13)
          g_assert_cmpfloat_with_epsilon (batch->images[(k * 3 + c) * 144 + p],
                                          (rgb[c] / 255.0f - mean[c]) / std[c], 1e-4);
    }
}

static void
test_prefetch (Fixture                     *fixture,
               G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GraftLoader) loader = NULL;
  g_autoptr(GError) error = NULL;
  GraftLoaderOptions options;
  guint waits_before;

  graft_loader_options_init (&options, 32, TRUE);
  options.batch_size = 4;
  options.n_threads = 1;
  options.prefetch = 2;
  loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
  graft_loader_start_epoch (loader, 0);
  g_assert_nonnull (graft_loader_next (loader, &error));
  waits_before = graft_loader_get_n_waits (loader, NULL);

  /* a trainer busy with its batch: meanwhile the next ones are assembled, and it
   * never waits for them */
  for (guint i = 0; i < 3; i++)
    {
      g_usleep (150 * 1000);
      g_assert_nonnull (graft_loader_next (loader, &error));
      g_assert_no_error (error);
    }
  g_assert_cmpuint (graft_loader_get_n_waits (loader, NULL), ==, waits_before);
}

typedef struct {
  GCancellable *cancellable;
  guint         delay_ms;
} CancelLater;

static gpointer
cancel_later (gpointer data)
{
  CancelLater *later = data;

  g_usleep (later->delay_ms * 1000);
  g_cancellable_cancel (later->cancellable);
  return NULL;
}

static void
test_cancel (Fixture                     *fixture,
             G_GNUC_UNUSED gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fixture->dir, "large", NULL);
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GraftLoaderOptions options;
  GraftLoader *loader;
  CancelLater later = { cancellable, 30 };
  GThread *thread;
  const GraftBatch *batch;
  gint64 start, stopped, freed;
  guint batches = 0, n_batches, n_files;

  /* large batches of uncached images: each takes a long while */
  g_mkdir (dir, 0755);
  dataset = make_textured_dataset (dir, 12, 320, 240);
  graft_loader_options_init (&options, 224, TRUE);
  options.batch_size = 64;
  options.n_threads = 2;
  n_files = dataset->samples->len;
  for (guint i = 0; i < n_files; i++)
    for (guint copy = 0; copy < 30; copy++)
      {
        GraftSample *sample = g_ptr_array_index (dataset->samples, i);
        graft_dataset_add_sample (dataset, g_strdup (sample->path), g_strdup (sample->name), sample->label);
      }
  loader = graft_loader_new (dataset, GRAFT_SPLIT_NONE, NULL, &options, cancellable, &error);
  g_assert_no_error (error);
  n_batches = graft_loader_get_n_batches (loader);
  graft_loader_start_epoch (loader, 0);

  start = g_get_monotonic_time ();
  thread = g_thread_new ("cancel", cancel_later, &later);
  while ((batch = graft_loader_next (loader, &error)) != NULL)
    batches++;
  stopped = g_get_monotonic_time ();
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_thread_join (thread);
  graft_loader_free (loader);
  freed = g_get_monotonic_time ();
  g_test_message ("cancelled after %u batches; next() returned %.1f ms after the cancel, "
                  "the threads were joined %.1f ms after it",
                  batches, (stopped - start) / 1000.0 - later.delay_ms,
                  (freed - start) / 1000.0 - later.delay_ms);
  /* the epoch would take seconds; the loader stops within a bound */
  g_assert_cmpuint (batches, <, n_batches);
  g_assert_cmpint ((stopped - start) / 1000 - later.delay_ms, <, 100);
  g_assert_cmpint ((freed - start) / 1000 - later.delay_ms, <, 400);
}

static void
test_unreadable (Fixture                     *fixture,
                 G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *broken = g_build_filename (fixture->dataset->root, "broken.png", NULL);
  GraftLoaderOptions options;
  GraftSample *sample;
  guint images = 0;

  g_assert_true (g_file_set_contents (broken, "\x89PNG\r\n\x1a\nnot a PNG", -1, NULL));
  sample = graft_dataset_add_sample (fixture->dataset, g_strdup (broken), g_strdup ("broken.png"), 1);
  sample->split = GRAFT_SPLIT_TRAIN;
  options_plain (&options, 16, TRUE);
  options.batch_size = 8;

  /* without a cache: met while assembling, left out of its batch, reported once */
  for (guint epoch = 0; epoch < 2; epoch++)
    {
      g_autoptr(GraftLoader) loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
      g_autoptr(GPtrArray) problems = NULL;
      const GraftBatch *batch;

      images = 0;
      graft_loader_start_epoch (loader, epoch);
      while ((batch = graft_loader_next (loader, &error)) != NULL)
        images += batch->n;
      g_assert_no_error (error);
      g_assert_cmpuint (images, ==, graft_loader_get_n_samples (loader) - 1);
      problems = graft_loader_dup_problems (loader);
      g_assert_cmpuint (problems->len, ==, 1);
      g_assert_nonnull (strstr (g_ptr_array_index (problems, 0), "broken.png"));
    }

  /* with a cache: known before the epoch, left out of it */
  {
    g_autoptr(GraftImageCache) cache = filled_cache (fixture->cache_dir, fixture->dataset, 16);
    g_autoptr(GraftLoader) loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, cache, &options);
    g_autoptr(GPtrArray) problems = graft_loader_dup_problems (loader);
    const GraftBatch *batch;
    guint cached_images = 0;

    g_assert_cmpuint (graft_loader_get_n_samples (loader), ==, images);
    g_assert_cmpuint (problems->len, ==, 1);
    g_assert_nonnull (strstr (g_ptr_array_index (problems, 0), "broken.png"));
    graft_loader_start_epoch (loader, 0);
    while ((batch = graft_loader_next (loader, &error)) != NULL)
      cached_images += batch->n;
    g_assert_cmpuint (cached_images, ==, images);
  }
}

static void
test_boxes (Fixture                     *fixture,
            G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_YOLO, fixture->dir);
  g_autoptr(GraftLoader) loader = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = g_new0 (guint8, 40 * 20 * 3);
  GraftLoaderOptions options;
  const GraftBatch *batch;
  const GraftBox box = { 0, 10, 5, 20, 10 };
  GraftSample *sample;
  const GraftBox *mapped;

  graft_dataset_add_class (dataset, "thing");
  sample = graft_dataset_add_sample (dataset, write_png (fixture->dir, "det.png", 40, 20, pixels),
                                     g_strdup ("det.png"), -1);
  g_array_append_val (sample->boxes, box);

  /* the evaluation view of detection: the whole image stretched to 32 × 32 */
  options_plain (&options, 32, FALSE);
  options.augment.resize = GRAFT_AUGMENT_RESIZE_STRETCH;
  options.batch_size = 1;
  loader = new_loader (dataset, GRAFT_SPLIT_NONE, NULL, &options);
  graft_loader_start_epoch (loader, 0);
  batch = graft_loader_next (loader, &error);
  g_assert_no_error (error);
  g_assert_nonnull (batch->boxes);
  g_assert_cmpuint (batch->boxes->len, ==, 1);
  g_assert_cmpuint (((GArray *) g_ptr_array_index (batch->boxes, 0))->len, ==, 1);
  mapped = &g_array_index ((GArray *) g_ptr_array_index (batch->boxes, 0), GraftBox, 0);
  g_assert_cmpfloat_with_epsilon (mapped->x, 8.0f, 1e-4);
  g_assert_cmpfloat_with_epsilon (mapped->y, 8.0f, 1e-4);
  g_assert_cmpfloat_with_epsilon (mapped->width, 16.0f, 1e-4);
  g_assert_cmpfloat_with_epsilon (mapped->height, 16.0f, 1e-4);
  g_assert_cmpfloat (batch->labels[0], ==, -1.0f);
}

static void
test_upload (Fixture                     *fixture,
             G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GraftLoader) loader = NULL;
  g_autoptr(GraftTensor) images = NULL;
  g_autoptr(GraftTensor) labels = NULL;
  g_autoptr(GError) error = NULL;
  GraftLoaderOptions options;
  const GraftBatch *batch;
  guint batches = 0;

  backend = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  images = graft_tensor_new (backend, 4, (const gsize[]) { 8, 3, 16, 16 }, &error);
  g_assert_no_error (error);
  labels = graft_tensor_new (backend, 1, (const gsize[]) { 8 }, &error);
  g_assert_no_error (error);

  graft_loader_options_init (&options, 16, TRUE);
  options.batch_size = 8;
  options.drop_last = TRUE;
  loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
  graft_loader_start_epoch (loader, 0);
  while ((batch = graft_loader_next_upload (loader, images, labels, &error)) != NULL)
    {
      g_autofree float *back = graft_test_download (images);
      g_autofree float *back_labels = graft_test_download (labels);

      g_assert_cmpmem (back, 8 * 3 * 16 * 16 * sizeof (float), batch->images, 8 * 3 * 16 * 16 * sizeof (float));
      g_assert_cmpmem (back_labels, 8 * sizeof (float), batch->labels, 8 * sizeof (float));
      batches++;
    }
  g_assert_no_error (error);
  /* 29 training images: three whole batches, the short one dropped */
  g_assert_cmpuint (batches, ==, 3);

  /* without drop_last the short batch does not fit, and says so */
  g_clear_pointer (&loader, graft_loader_free);
  options.drop_last = FALSE;
  loader = new_loader (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options);
  graft_loader_start_epoch (loader, 0);
  while ((batch = graft_loader_next_upload (loader, images, labels, &error)) != NULL)
    ;
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "[5, 3, 16, 16]"));
}

static void
test_bad_options (Fixture                     *fixture,
                  G_GNUC_UNUSED gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftImageCache) cache = NULL;
  GraftLoaderOptions options;

  graft_loader_options_init (&options, 16, TRUE);
  options.std[1] = 0.0f;
  g_assert_null (graft_loader_new (fixture->dataset, GRAFT_SPLIT_TRAIN, NULL, &options, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* a cache made for another size */
  cache = filled_cache (fixture->cache_dir, fixture->dataset, 64);
  graft_loader_options_init (&options, 16, TRUE);
  g_assert_null (graft_loader_new (fixture->dataset, GRAFT_SPLIT_TRAIN, cache, &options, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* a split without images */
  g_assert_null (graft_loader_new (fixture->dataset, GRAFT_SPLIT_TEST, NULL, &options, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
}

/* Runs graft-cli bench data with @args and returns its JSON report. */
static json_object *
run_bench (const char * const *args)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  json_object *report;
  int status = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  g_ptr_array_add (argv, (gpointer) "bench");
  g_ptr_array_add (argv, (gpointer) "data");
  g_ptr_array_add (argv, (gpointer) "--json");
  g_ptr_array_add (argv, (gpointer) "--device=cpu");
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("graft-cli bench data: %s%s", out, err);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  report = json_tokener_parse (out);
  g_assert_nonnull (report);
  return report;
}

static double
json_number (json_object *root,
             const char  *section,
             const char  *key)
{
  json_object *s, *v;

  g_assert_true (json_object_object_get_ex (root, section, &s));
  g_assert_true (json_object_object_get_ex (s, key, &v));
  return json_object_get_double (v);
}

static void
test_bench_cli (Fixture                     *fixture,
                G_GNUC_UNUSED gconstpointer  data)
{
  g_autofree char *corpus = g_build_filename (fixture->dir, "corpus", NULL);
  g_autofree char *corpus_arg = g_strconcat ("--corpus=", corpus, NULL);
  json_object *report, *value;

  if (g_getenv ("GRAFT_CLI") == NULL)
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  if (!g_file_test (graft_fashion_mnist_default_dir (), G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("dataset-fashion-mnist is not installed");
      return;
    }

  /* the corpus written, imported, checked and cached; the loader measured */
  report = run_bench ((const char *[]) { "--images=300", "--model=none", "--seconds=0.2", corpus_arg, NULL });
  g_assert_cmpfloat (json_number (report, "corpus", "images"), ==, 300);
  g_assert_true (json_object_get_boolean (json_object_object_get (json_object_object_get (report, "corpus"), "written")));
  g_assert_cmpfloat (json_number (report, "import", "images"), ==, 300);
  g_assert_cmpfloat (json_number (report, "import", "problems"), ==, 0);
  g_assert_cmpfloat (json_number (report, "import", "import_seconds"), >, 0);
  g_assert_cmpfloat (json_number (report, "import", "health_seconds"), >, 0);
  g_assert_cmpfloat (json_number (report, "loader", "cache_decoded"), ==, 300);
  g_assert_cmpfloat (json_number (report, "loader", "images"), >=, 64);
  g_assert_cmpfloat (json_number (report, "loader", "images_per_second"), >, 0);
  g_assert_false (json_object_object_get_ex (report, "train_step", &value));
  json_object_put (report);

  /* again, beside a small model's training step: the corpus and the cache reused */
  report = run_bench ((const char *[]) { "--images=300", "--model=resnet10", "--size=32", "--batch=8",
                                         "--seconds=0.2", corpus_arg, NULL });
  g_assert_false (json_object_get_boolean (json_object_object_get (json_object_object_get (report, "corpus"), "written")));
  g_assert_cmpfloat (json_number (report, "loader", "size"), ==, 32);
  g_assert_cmpfloat (json_number (report, "train_step", "images_per_second"), >, 0);
  g_assert_true (json_object_object_get_ex (report, "loader_to_train_ratio", &value));
  g_assert_cmpfloat_with_epsilon (json_object_get_double (value),
                                  json_number (report, "loader", "images_per_second") /
                                  json_number (report, "train_step", "images_per_second"), 1e-6);
  json_object_put (report);

  report = run_bench ((const char *[]) { "--images=300", "--model=none", "--seconds=0.2", corpus_arg, NULL });
  g_assert_cmpfloat (json_number (report, "loader", "cache_decoded"), ==, 0);
  json_object_put (report);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/loader/epoch", test_epoch);
  ADD ("/loader/deterministic", test_deterministic);
  ADD ("/loader/normalise", test_normalise);
  ADD ("/loader/prefetch", test_prefetch);
  ADD ("/loader/cancel", test_cancel);
  ADD ("/loader/unreadable", test_unreadable);
  ADD ("/loader/boxes", test_boxes);
  ADD ("/loader/upload", test_upload);
  ADD ("/loader/bad-options", test_bad_options);
  ADD ("/loader/bench-cli", test_bench_cli);
#undef ADD
  return g_test_run ();
}
