/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A run's trained model as the trainer leaves it in the run folder: model.safetensors
 * (the state dict, float32) and model.json, which says how to rebuild and feed it:
 *   {
 *     "schema": 1, "arch": "resnet10", "source": "graft-fmnist-resnet10", "scratch": false,
 *     "classes": ["Ankle boot", …],
 *     "input": { "channels": 1, "size": 28, "mean": [0.3139], "std": [0.3626] },
 *     "head": "linear", "head_hidden": 256, "head_dropout": 0.2
 *   }
 * graft-cli evaluate and predict, and a continued run, load it from here. */

#include "backend/graft-backend.h"
#include "graft-predict.h"
#include "graft-train-config.h"

G_BEGIN_DECLS

typedef struct {
  char          *arch;
  char          *source;     /* the catalog model it started from */
  gboolean       scratch;
  char         **classes;    /* NULL-terminated */
  guint          n_classes;
  GraftInputSpec input;
  GraftZooHead   head;
  guint          head_hidden;
  float          head_dropout;
} GraftTrainedModelInfo;

void         graft_trained_model_info_clear (GraftTrainedModelInfo       *info);

/* Writes @dir/model.json and @dir/model.safetensors (atomically, the JSON last). */
gboolean     graft_trained_model_save       (const char                  *dir,
                                             const GraftTrainedModelInfo *info,
                                             GraftModel                  *model,
                                             GError                     **error);

/* Reads @dir/model.json, checked member by member (GRAFT_TRAIN_ERROR_MODEL naming the
 * file and member). */
gboolean     graft_trained_model_read_info  (const char                  *dir,
                                             GraftTrainedModelInfo       *info,
                                             GError                     **error);

/* The model of the run in @dir, weights loaded, prepared for @batch images. */
GraftModel  *graft_trained_model_load       (GraftBackend                *backend,
                                             const char                  *dir,
                                             guint                        batch,
                                             GraftTrainedModelInfo       *info,
                                             GError                     **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GraftTrainedModelInfo, graft_trained_model_info_clear)

G_END_DECLS
