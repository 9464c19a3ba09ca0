/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A classifier run over images: each image shown through the evaluation view (the
 * loader's, without augmentation), the model in evaluation mode, the logits turned into
 * probabilities and the loss of the true class; with what the metrics slice by (each
 * image's brightness in that view and its size on disk) and its name. The trainer's
 * validation and final evaluation, `graft-cli evaluate` and `graft-cli predict` all go
 * through here, so a run's saved metrics and a later evaluation of its model agree. */

#include <gio/gio.h>

#include "data/graft-dataset.h"
#include "data/graft-loader.h"
#include "eval/graft-metrics.h"
#include "nn/graft-model.h"

G_BEGIN_DECLS

/* What the model expects of its input. */
typedef struct {
  guint size;       /* pixels per side */
  guint channels;   /* 1 or 3 */
  float mean[3];
  float std[3];
} GraftInputSpec;

/* Loader options showing images as @spec wants them, batches of @batch: the evaluation
 * view (the whole image's centred square, resized), or with @train the augmentation of
 * @level (graft-train-config.h's GraftAugmentLevel as an int) and shuffling from @seed. */
void          graft_input_spec_loader_options (const GraftInputSpec *spec,
                                        gboolean                train,
                                        int                     level,
                                        guint                   batch,
                                        guint64                 seed,
                                        GraftLoaderOptions     *options);

/* The results for the images of one split, in the dataset's sample order. */
typedef struct {
  guint     n_images;
  guint     n_classes;
  int      *labels;       /* [n]: the true class (−1 for none: prediction only) */
  float    *probs;        /* [n × n_classes] */
  float    *losses;       /* [n]: −ln p_true, 0 without a label */
  float    *brightness;   /* [n]: mean luma of the evaluation view, 0–255 */
  guint64  *pixels;       /* [n]: width × height of the file; 0 when unknown */
  char    **names;        /* [n + 1]: NULL-terminated */
  guint    *samples;      /* [n]: index into the dataset's samples */
  GPtrArray *problems;    /* char *: images that could not be read, by name */
} GraftPredictions;

void          graft_predictions_clear  (GraftPredictions       *self);

typedef void (*GraftPredictProgress) (guint    done,
                                      guint    total,
                                      gpointer user_data);

/* Runs @model (prepared for its batch size at @spec's size) over the samples of @dataset
 * in @split (GRAFT_SPLIT_NONE: all usable ones), their pixels from @cache when not NULL
 * (graft_image_cache_prepare() for @spec's size and channels), @cut_layer ≥ 1 when the model starts
 * after that layer (graft_model_set_start_layer): the layers up to it are then run with
 * graft_model_forward_to() first, which gives the same result. Samples without a label
 * are left out (give images to predict any class). The last batch is padded. @out is
 * cleared first. */
gboolean      graft_predict_split      (GraftModel             *model,
                                        int                     cut_layer,
                                        GraftDataset           *dataset,
                                        GraftSplit              split,
                                        GraftImageCache        *cache,
                                        const GraftInputSpec   *spec,
                                        GraftPredictProgress    progress,
                                        gpointer                user_data,
                                        GCancellable           *cancellable,
                                        GraftPredictions       *out,
                                        GError                **error);

/* The metrics of @predictions (every image must have a label). */
GraftMetrics *graft_predictions_metrics (const GraftPredictions *predictions,
                                        const char * const     *class_names,
                                        GError                **error);

/* Mean loss and accuracy only (the validation of each epoch). */
void          graft_predictions_summary (const GraftPredictions *predictions,
                                        double                 *loss,
                                        double                 *accuracy);

G_END_DECLS
