/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gio/gio.h>

#include "backend/graft-backend.h"

G_BEGIN_DECLS

/* The recipe of Graft's bundled model: a ResNet-10 in torchvision's layout (one basic
 * block per stage) trained from scratch on the source domain of the demo task,
 * Fashion-MNIST classes 0–4 (T-shirt/top, Trouser, Pullover, Dress, Coat), at their
 * native 28×28 pixels, one grey channel. SGD with Nesterov momentum and a one-cycle
 * schedule, random 2-pixel shifts and horizontal flips; everything seeded, so a run on
 * the same backend gives the same weights.
 *
 * It writes NAME.safetensors (float16 storage, metadata "arch") and NAME.json, the model
 * card: architecture, input, normalisation, source classes, source test accuracy (of the
 * weights as stored), the command, the Graft version. The card's fields are those of
 * the catalog's entries (see graft-catalog.h). */

#define GRAFT_PRETRAIN_NAME "graft-fmnist-resnet10"

typedef struct {
  const char *data_dir;      /* Fashion-MNIST; NULL for the default folder */
  guint       epochs;        /* 8 */
  guint       batch_size;    /* 128 */
  float       max_lr;        /* 0.1, the peak of the one-cycle schedule */
  float       weight_decay;  /* 5e-4 */
  guint64     seed;          /* 0 */
  guint       limit;         /* 0; else train and test on the first @limit images of
                              * each split only (for tests of the recipe's mechanics) */
  const char *command;       /* recorded in the card; NULL for the default command */
} GraftPretrainOptions;

void graft_pretrain_options_init (GraftPretrainOptions *options);

typedef struct {
  guint  epoch;              /* from 1 */
  guint  epochs;
  guint  step;               /* within the epoch, from 1 */
  guint  steps;              /* per epoch */
  float  loss;               /* mean over the epoch's steps so far */
  float  lr;
  double test_accuracy;      /* after an epoch's last step, else < 0 */
  double images_per_second;
} GraftPretrainProgress;

typedef void (*GraftPretrainProgressFunc) (const GraftPretrainProgress *progress,
                                           gpointer                     user_data);

typedef struct {
  char   *weights_path;
  char   *card_path;
  double  test_accuracy;     /* of the float16 weights as saved, over the source test set */
  guint   n_train, n_test;
  double  seconds;
} GraftPretrainResult;

void     graft_pretrain_result_clear (GraftPretrainResult *result);

/* Trains and writes the two files into @output_dir (created if needed; files replaced
 * atomically). Cancel through @cancellable (G_IO_ERROR_CANCELLED, nothing written). */
gboolean graft_pretrain_run          (GraftBackend               *backend,
                                      const GraftPretrainOptions *options,
                                      const char                 *output_dir,
                                      GraftPretrainProgressFunc   progress,
                                      gpointer                    user_data,
                                      GCancellable               *cancellable,
                                      GraftPretrainResult        *result,
                                      GError                    **error);

G_END_DECLS
