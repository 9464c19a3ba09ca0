/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Did transfer learning help? Two measures.
 *
 * Domain shift, before training: how far the project's images are from what the
 * pre-trained network saw. Each batch norm layer keeps the mean and variance of its
 * input over the source training set (its running statistics); the same statistics on
 * the project's images, per channel, give the squared 2-Wasserstein distance between the
 * two Gaussians, in units of the source variance:
 *     d_c = ((μ_target − μ_source)² + (σ_target − σ_source)²) / σ²_source,
 * averaged over the channels of a layer and the layers of a block. Blocks whose input
 * looks like the source's (small d) can stay frozen; from the first block whose shift
 * passes GRAFT_TRANSFER_SHIFT_THRESHOLD on, the features no longer fit and those blocks
 * are worth training: that is the recommendation. Networks without batch norm (the
 * Vision Transformer) have no running statistics, and no score.
 *
 * The verdict, after training: a transfer run against a from-scratch run of the same
 * configuration. The gain is the difference in accuracy; a transfer run that does worse
 * than scratch is negative transfer, and the remedy is to unfreeze more blocks (or all,
 * if all were already training, to lower the learning rate or train from scratch). */

#include <gio/gio.h>

#include "data/graft-dataset.h"
#include "graft-predict.h"
#include "nn/graft-model.h"
#include "project/graft-run.h"

G_BEGIN_DECLS

struct json_object;

/* d above which a block's features are taken not to fit (see above). */
#define GRAFT_TRANSFER_SHIFT_THRESHOLD 0.5
/* At most this many images measure the shift. */
#define GRAFT_TRANSFER_SHIFT_IMAGES 512

/* The shift of @model's blocks on the images of @split (the model prepared, its weights
 * the pre-trained ones; pixels from @cache when not NULL), as a JSON object:
 *   { "score": 0.42, "blocks": [ { "block": "layer1", "shift": 0.1 } … ],
 *     "threshold": 0.5, "recommended_unfreeze": 2 | "all" | "head",
 *     "recommendation": "…", "images": 250 }
 * NULL (with @error) when the model has no batch norm, or the images cannot be read. */
struct json_object *graft_transfer_measure_shift (GraftModel            *model,
                                                  GraftDataset          *dataset,
                                                  GraftSplit             split,
                                                  GraftImageCache       *cache,
                                                  const GraftInputSpec  *spec,
                                                  GCancellable          *cancellable,
                                                  GError               **error);

/* The verdict of a transfer run against a from-scratch one (either order), both
 * finished with final metrics; NULL when neither or both are from scratch, or one has
 * no accuracy:
 *   { "transfer_run": id, "scratch_run": id, "transfer_accuracy", "scratch_accuracy",
 *     "gain_points": 3.2, "negative_transfer": false, "verdict": "…", "advice": "…" } */
struct json_object *graft_transfer_verdict       (GraftRun              *a,
                                                  GraftRun              *b);

G_END_DECLS
