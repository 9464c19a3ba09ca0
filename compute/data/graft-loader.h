/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Batches of one split of a dataset, assembled ahead of the trainer.
 *
 * A batch is float32 NCHW images normalised with the model's mean and standard deviation
 * per channel, (v / 255 - mean) / std, the class index of each image as a float, and for
 * detection the boxes of each image in output pixels. Training batches are augmented
 * (graft-augment.h) with a seed per sample and epoch; evaluation batches show each image
 * through the fixed evaluation view. Each epoch visits every sample of the split once,
 * in an order shuffled from the run's seed and the epoch number.
 *
 * Threads. graft_loader_new() starts a few threads of its own (never the GTask pool)
 * that live until graft_loader_free(). graft_loader_start_epoch() hands them the epoch's
 * order; each thread takes the next batch not yet taken, fills one of a ring of batch
 * buffers with it and marks it ready. The caller — the trainer's thread, not a main loop
 * — takes batches in order with graft_loader_next(); a batch stays valid until the next
 * call, and while the caller uses it the threads fill up to @prefetch batches after it
 * (double buffering and more). Which thread assembles a batch never changes what is in
 * it: the order comes from the seed and the epoch, an image's augmentation from the
 * seed, the epoch and the sample's index in the dataset. The loader's threads only read
 * pixels (from the GraftImageCache, or the files themselves) and write host memory;
 * they never touch a backend, which is used from one thread at a time:
 * graft_loader_next_upload() copies a batch into a model's input tensors on the
 * caller's thread.
 *
 * Stopping. When the GCancellable given to graft_loader_new() is cancelled, the threads
 * stop between two images and graft_loader_next() returns G_IO_ERROR_CANCELLED within a
 * few milliseconds; graft_loader_free() stops and joins the threads, within about the
 * time one image takes.
 *
 * Unreadable images. Images the cache remembers as unreadable are left out of every
 * epoch; an image that fails to decode while a batch is assembled (no cache, or a file
 * that changed) is left out of that batch, which is then one image short. Each is
 * reported once by name in graft_loader_dup_problems(); nothing stops. */

#include <gio/gio.h>

#include "graft-augment.h"
#include "graft-dataset.h"
#include "graft-image-cache.h"
#include "tensor/graft-tensor.h"

G_BEGIN_DECLS

typedef struct _GraftLoader GraftLoader;

typedef struct {
  guint               batch_size;  /* 32 */
  guint               channels;    /* 3; the cache's when there is one */
  float               mean[3];     /* ImageNet's 0.485, 0.456, 0.406 */
  float               std[3];      /* ImageNet's 0.229, 0.224, 0.225 */
  gboolean            train;       /* augment with @augment; else its evaluation view */
  GraftAugmentOptions augment;     /* augment.size is the model's input side */
  gboolean            shuffle;     /* TRUE for training, FALSE for evaluation */
  gboolean            drop_last;   /* FALSE: the last batch may be short */
  guint64             seed;        /* 0 */
  guint               n_threads;   /* 0: one per processor, at most 8 */
  guint               prefetch;    /* 2: batches assembled ahead of the one in use */
} GraftLoaderOptions;

/* Defaults for a model input of @size pixels, for training (augmented, shuffled) or
 * evaluation (centre crop, in dataset order). */
void         graft_loader_options_init   (GraftLoaderOptions        *options,
                                          guint                      size,
                                          gboolean                   train);

typedef struct {
  guint      epoch;
  guint      index;      /* within the epoch, from 0 */
  guint      n;          /* images in this batch */
  guint      channels;
  guint      size;
  float     *images;     /* n × channels × size × size */
  float     *labels;     /* n: the class index, -1 for none */
  guint     *samples;    /* n: each image's index in the dataset's samples */
  GPtrArray *boxes;      /* detection: n GArrays of GraftBox in output pixels; else NULL */
} GraftBatch;

/* A loader for the samples of @dataset in @split (GRAFT_SPLIT_NONE: all of them but those
 * the health check took out; classification samples without a label are left out). It
 * copies what it needs from @dataset, which may then change or go. @cache (may be NULL:
 * each image is decoded from its file every time) must match the options' size and
 * channels, have been filled for these samples, outlive the loader and not be filled
 * while the loader lives. Errors: the options are wrong (G_IO_ERROR_INVALID_ARGUMENT,
 * naming the field) or the split holds no readable image (GRAFT_DATA_ERROR_NOT_FOUND). */
GraftLoader *graft_loader_new            (GraftDataset              *dataset,
                                          GraftSplit                 split,
                                          GraftImageCache           *cache,
                                          const GraftLoaderOptions  *options,
                                          GCancellable              *cancellable,
                                          GError                   **error);
/* Stops and joins the threads. */
void         graft_loader_free           (GraftLoader               *self);

/* Samples in each epoch, and batches per epoch. */
guint        graft_loader_get_n_samples  (GraftLoader               *self);
guint        graft_loader_get_n_batches  (GraftLoader               *self);
guint        graft_loader_get_n_threads  (GraftLoader               *self);

/* The order in which a shuffling loader of @seed visits its @n samples in @epoch (a
 * permutation of 0 … n − 1 into @order): a trainer that feeds cached features in place
 * of images visits them in the same order. */
void         graft_loader_epoch_order    (guint64                    seed,
                                          guint                      epoch,
                                          guint                      n,
                                          guint                     *order);

/* Starts (or restarts) assembling the batches of @epoch; batches of an epoch not fully
 * taken are dropped. */
void         graft_loader_start_epoch    (GraftLoader               *self,
                                          guint                      epoch);

/* The next batch of the epoch, waiting for it if it is not ready; valid until the next
 * call. NULL without an error at the end of the epoch; NULL with G_IO_ERROR_CANCELLED
 * once cancelled. */
const GraftBatch *graft_loader_next      (GraftLoader               *self,
                                          GError                   **error);

/* graft_loader_next(), then the batch's images and labels uploaded into @images (n ×
 * channels × size × size elements) and @labels (n elements, may be NULL) on the
 * caller's thread. A batch that does not fit them (the short last batch, unless
 * drop_last) is an error naming both shapes. */
const GraftBatch *graft_loader_next_upload (GraftLoader             *self,
                                          GraftTensor               *images,
                                          GraftTensor               *labels,
                                          GError                   **error);

/* Images waited for: how many times graft_loader_next() found its batch not ready,
 * and for how long in all, in seconds. */
guint        graft_loader_get_n_waits    (GraftLoader               *self,
                                          double                    *seconds);

/* The unreadable images met so far, one message each (char *), naming the file. */
GPtrArray   *graft_loader_dup_problems   (GraftLoader               *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftLoader, graft_loader_free)

G_END_DECLS
