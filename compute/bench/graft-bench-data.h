/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The data benchmark: importing and health-checking the 60,000 training images of
 * Fashion-MNIST as PNG files in a folder per class, and the batch loader's throughput
 * (augmented images per second at the model's input size) beside the images per second
 * a training step of a model consumes on the same machine. */

#include <gio/gio.h>

#include "data/graft-dataset.h"

G_BEGIN_DECLS

/* Where the corpus is kept: $XDG_CACHE_HOME/graft/bench/fashion-mnist-png. */
char     *graft_bench_data_default_corpus (void);

typedef void (*GraftBenchDataProgress) (const char *stage,
                                        guint       done,
                                        guint       total,
                                        gpointer    user_data);

typedef struct {
  guint    n_images;
  gboolean written;           /* written by this call; else found complete and reused */
  double   write_seconds;
} GraftBenchDataCorpus;

/* Makes sure @folder holds the first @n_images (0: all 60,000) training images of
 * Fashion-MNIST (from graft_fashion_mnist_load, default folder) as 8-bit grey PNGs in
 * a folder per class, written with a few threads. A folder completed before (a stamp
 * file records the count, written last) is reused; an incomplete one is written again.
 * Errors: GRAFT_DATA_ERROR from reading the dataset or writing the files. */
gboolean  graft_bench_data_corpus         (const char              *folder,
                                           guint                    n_images,
                                           GraftBenchDataProgress   progress,
                                           gpointer                 user_data,
                                           GCancellable            *cancellable,
                                           GraftBenchDataCorpus    *result,
                                           GError                 **error);

typedef struct {
  guint   n_images;
  guint   n_problems;         /* reported by the import and the health check */
  double  import_seconds;     /* graft_dataset_import */
  double  health_seconds;     /* graft_dataset_check_health */
} GraftBenchDataImport;

/* Times the import of @folder (as a folder dataset) and its health check, and returns
 * the dataset (the caller's). */
GraftDataset *graft_bench_data_import     (const char              *folder,
                                           GraftBenchDataProgress   progress,
                                           gpointer                 user_data,
                                           GCancellable            *cancellable,
                                           GraftBenchDataImport    *result,
                                           GError                 **error);

typedef struct {
  guint   size, channels, batch, n_threads;
  double  fill_seconds;       /* graft_image_cache_fill over the dataset */
  guint   n_decoded;          /* by that fill: 0 when the cache was complete */
  guint   n_cached;
  guint   n_images;           /* taken from the loader in the timed part */
  double  seconds;
  double  images_per_second;
} GraftBenchDataLoader;

/* Fills the preprocessing cache of @dataset for @size × @size with @channels (in
 * @cache_dir; NULL: the default) and times the loader for at least @min_seconds with
 * training augmentation: random resized crop, horizontal flips and colour jitter
 * (brightness, contrast and saturation 0.6–1.4, each with probability 0.8), batches of
 * @batch, @n_threads threads (0: the loader's default). The consumer only takes the
 * batches: this is the most the loader can supply. */
gboolean  graft_bench_data_loader         (GraftDataset            *dataset,
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
                                           GError                 **error);

G_END_DECLS
