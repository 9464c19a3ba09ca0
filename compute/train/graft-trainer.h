/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The trainer: one run of a project from its configuration to a saved, evaluated model.
 *
 * graft_train() does it all on the calling thread (a worker thread in the window, the
 * main thread in graft-cli): it imports the project's images with their saved split,
 * builds the model (pre-trained weights adapted to the project's classes and channels,
 * or random ones from scratch), freezes the blocks the plan says, and trains, validating
 * after each epoch when the project has validation images. Finally it evaluates on the
 * test images (the validation ones when there are none) and keeps everything in
 * runs/<id>/ (graft-run.h): run.json, model.safetensors and model.json.
 *
 * Frozen-prefix feature cache. When every block up to some block is frozen and the images
 * are not augmented, those blocks compute the same output for an image at every epoch
 * (their batch norms use their running statistics: graft_model_set_freeze_norm()), so the
 * trainer computes it once per image and trains the rest of the network from it. With
 * augmentation, or with the first block trainable, it runs the whole network each step.
 * run.json's "training"."feature_cache" says which and why.
 *
 * Checkpoints and resuming. After each epoch the history is saved in run.json and then
 * runs/<id>/checkpoint.safetensors is written atomically (the model, the optimizer's
 * state, the epoch and the early-stopping state). A run that was cancelled, failed, or
 * killed resumes from its last checkpoint (request->resume_id) and goes on exactly as it
 * would have: batches are drawn from the seed and the epoch, not from a running random
 * state. The checkpoint is removed once the run finishes.
 *
 * Continuing. A finished run can be continued as a new run (request->parent_id): it
 * starts from the parent's trained model (its head kept when the classes are the same)
 * with the parent's configuration and @config's changes, on the project's images as
 * they are now — new images included.
 *
 * Cancelling, pausing. graft_train_control_cancel() stops the run within a step: it ends
 * cancelled, resumable from the last completed epoch. graft_train_control_pause() holds
 * the trainer between two steps until resumed or cancelled. Both may be called from any
 * thread. */

#include "backend/graft-backend.h"
#include "data/graft-dataset.h"
#include "eval/graft-metrics.h"
#include "graft-train-config.h"
#include "project/graft-project.h"
#include "project/graft-run.h"

G_BEGIN_DECLS

typedef struct _GraftTrainControl GraftTrainControl;

GraftTrainControl *graft_train_control_new       (void);
void               graft_train_control_free      (GraftTrainControl *self);
void               graft_train_control_cancel    (GraftTrainControl *self);
void               graft_train_control_pause     (GraftTrainControl *self);
void               graft_train_control_resume    (GraftTrainControl *self);
gboolean           graft_train_control_is_paused (GraftTrainControl *self);
GCancellable      *graft_train_control_get_cancellable (GraftTrainControl *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftTrainControl, graft_train_control_free)

typedef enum {
  GRAFT_TRAIN_PHASE_PREPARING,   /* reading the images (done of total while decoding them
                                  * into the image cache), building the model */
  GRAFT_TRAIN_PHASE_CACHING,     /* computing the frozen blocks' features */
  GRAFT_TRAIN_PHASE_TRAINING,
  GRAFT_TRAIN_PHASE_VALIDATING,
  GRAFT_TRAIN_PHASE_EPOCH_END,   /* an epoch is done: its numbers are final */
  GRAFT_TRAIN_PHASE_PAUSED,
  GRAFT_TRAIN_PHASE_EVALUATING,  /* the final evaluation */
} GraftTrainPhase;

const char *graft_train_phase_to_string (GraftTrainPhase phase);

typedef struct {
  GraftTrainPhase phase;
  const char     *run_id;
  guint           epoch;              /* from 1 */
  guint           epochs;
  guint           step;               /* within the epoch, from 1 */
  guint           steps;
  guint           done, total;        /* images, while caching, validating, evaluating */
  double          loss;               /* the epoch's mean training loss so far */
  double          lr;
  double          images_per_second;  /* training, over this epoch */
  double          eta_seconds;        /* until the end of the last epoch; < 0 unknown */
  /* EPOCH_END: NAN when the project has no validation images */
  double          train_loss;
  double          val_loss;
  double          val_accuracy;
} GraftTrainProgress;

typedef void (*GraftTrainProgressFunc) (const GraftTrainProgress *progress,
                                        gpointer                  user_data);

typedef struct {
  const char             *project_dir;
  GraftBackend           *backend;
  const GraftTrainConfig *config;     /* a new run's, or a continued run's changes; NULL to resume */
  const char             *name;       /* the run's name; NULL: made from the configuration */
  const char             *resume_id;  /* resume this interrupted run */
  const char             *parent_id;  /* continue this finished run */
  const char             *image_cache_dir;  /* the decoded images; NULL: the user's cache */
} GraftTrainRequest;

typedef struct {
  char           *run_id;
  GraftRunStatus  status;
  char           *feature_cache;  /* one sentence: which blocks were cached, or why none */
  guint           epochs_done;
  guint           best_epoch;     /* the epoch whose weights were kept (0: the last) */
  double          accuracy;       /* final evaluation, NAN when none */
  char           *evaluated_on;   /* "test" or "val" */
  GraftMetrics   *metrics;        /* the final metrics (NULL when none) */
  double          train_seconds;
} GraftTrainResult;

void        graft_train_result_clear (GraftTrainResult *result);

/* Runs (or resumes, or continues) a run. FALSE with @error when it did not finish: a
 * run folder then exists whenever the run was created (result->run_id), cancelled or
 * failed with the reason in run.json, resumable from its last checkpoint. Cancelling is
 * G_IO_ERROR_CANCELLED. Errors of the configuration, the data or the model come before
 * any run is created. */
gboolean    graft_train              (const GraftTrainRequest *request,
                                      GraftTrainProgressFunc   progress,
                                      gpointer                 user_data,
                                      GraftTrainControl       *control,
                                      GraftTrainResult        *result,
                                      GError                 **error);

/* The project's images as the trainer sees them: imported from the project's source,
 * checked (unreadable images left out), each with its saved split (new images split by
 * the project's seed). @project_out (may be NULL) gets the project. */
GraftDataset *graft_train_open_dataset (const char            *project_dir,
                                        GraftProject          **project_out,
                                        GCancellable          *cancellable,
                                        GError               **error);

/* A run's name made from its configuration: "head only, lr 0.05", "from scratch",
 * "last 2 blocks + head, lr 0.01". */
char       *graft_train_config_describe (const GraftTrainConfig *config);

G_END_DECLS
