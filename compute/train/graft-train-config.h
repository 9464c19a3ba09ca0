/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A run's configuration: everything that affects what a training run produces, kept
 * verbatim in run.json ("config") so that a run can be resumed, continued, repeated from
 * scratch and compared with another key by key.
 *
 * As JSON (every member optional but "model"; absent members take the defaults below):
 *   {
 *     "model": "graft-fmnist-resnet10",   a catalog name (graft-catalog.h)
 *     "scratch": false,                   true: the model's architecture, random weights,
 *                                         every block trained ("unfreeze" is "all")
 *     "head": "linear" | "mlp", "head_hidden": 256, "head_dropout": 0.2,
 *     "image_size": 0,                    pixels per side; 0: the model's own
 *     "channels": 0,                      input channels; 0: the model's own
 *     "unfreeze": "head" | "all" | N,     which blocks learn: the head only, every block,
 *                                         or the head and the last N blocks before it
 *     "blocks": { "layer1": { "frozen": true, "lr_factor": 0.1 } … },
 *                                         per-block overrides of the plan above
 *     "backbone_lr_factor": 1,            learning rate of every block but the head, × lr
 *     "optimizer": "sgd" | "adamw", "lr": 0.01, "momentum": 0.9, "nesterov": true,
 *     "weight_decay": 5e-4,
 *     "schedule": "constant" | "step" | "cosine" | "one-cycle",
 *     "warmup_epochs": 0,                 linear warm-up (one-cycle: the rising phase;
 *                                         0 there means 30 % of the run)
 *     "step_epochs": 10, "step_gamma": 0.1,
 *     "label_smoothing": 0,
 *     "balance": "none" | "weights" | "sampler",
 *                                         class weights N / (C · n_c) in the loss, or
 *                                         every class's images repeated up to the
 *                                         largest class's count in each epoch
 *     "augment": "none" | "light" | "standard",
 *     "batch_size": 32, "epochs": 20,
 *     "early_stopping": { "metric": "val_accuracy" | "val_loss", "patience": 5,
 *                         "restore_best": true },   absent or patience 0: off
 *     "clip_norm": 0,                     gradient-norm clipping; 0: off
 *     "seed": 0,
 *     "feature_cache": "auto" | "off"     auto: frozen blocks computed once per image
 *                                         when their input is the same every epoch
 *   }
 * Reading checks every member and names the one at fault; members Graft does not know are
 * an error too, so that a typo never trains silently with a default. */

#include <gio/gio.h>

#include "nn/zoo/graft-zoo.h"

G_BEGIN_DECLS

struct json_object;

#define GRAFT_TRAIN_ERROR (graft_train_error_quark ())
GQuark graft_train_error_quark (void);

typedef enum {
  GRAFT_TRAIN_ERROR_CONFIG,     /* a configuration member missing, of the wrong kind or out of range */
  GRAFT_TRAIN_ERROR_DATA,       /* the project has no images to train or evaluate on */
  GRAFT_TRAIN_ERROR_MODEL,      /* the model is unknown, unavailable or does not fit */
  GRAFT_TRAIN_ERROR_DIVERGED,   /* the loss became infinite or NaN */
  GRAFT_TRAIN_ERROR_CHECKPOINT, /* a checkpoint missing, damaged or of another run */
  GRAFT_TRAIN_ERROR_STATE,      /* resuming a finished run, continuing an unfinished one */
} GraftTrainError;

typedef enum {
  GRAFT_SCHEDULE_CONSTANT,
  GRAFT_SCHEDULE_STEP,
  GRAFT_SCHEDULE_COSINE,
  GRAFT_SCHEDULE_ONE_CYCLE,
} GraftSchedule;

typedef enum {
  GRAFT_TRAIN_OPTIMIZER_SGD,
  GRAFT_TRAIN_OPTIMIZER_ADAMW,
} GraftTrainOptimizer;

typedef enum {
  GRAFT_BALANCE_NONE,
  GRAFT_BALANCE_WEIGHTS,
  GRAFT_BALANCE_SAMPLER,
} GraftBalance;

typedef enum {
  GRAFT_AUGMENT_LEVEL_NONE,
  GRAFT_AUGMENT_LEVEL_LIGHT,     /* flips, crops of 70–100 % of the image */
  GRAFT_AUGMENT_LEVEL_STANDARD,  /* and crops from 25 %, rotation, brightness, contrast */
} GraftAugmentLevel;

#define GRAFT_UNFREEZE_HEAD  0
#define GRAFT_UNFREEZE_ALL  (-1)

typedef struct {
  char     *block;
  int       frozen;     /* 1, 0, or −1: as the plan says */
  float     lr_factor;  /* < 0: as the plan says */
} GraftBlockOverride;

typedef struct {
  char               *model;
  gboolean            scratch;
  GraftZooHead        head;
  guint               head_hidden;
  float               head_dropout;
  guint               image_size;
  guint               channels;
  int                 unfreeze;          /* GRAFT_UNFREEZE_HEAD, _ALL or a block count */
  GPtrArray          *blocks;            /* GraftBlockOverride * */
  float               backbone_lr_factor;
  GraftTrainOptimizer optimizer;
  float               lr;
  float               momentum;
  gboolean            nesterov;
  float               weight_decay;
  GraftSchedule       schedule;
  float               warmup_epochs;
  guint               step_epochs;
  float               step_gamma;
  float               label_smoothing;
  GraftBalance        balance;
  GraftAugmentLevel   augment;
  guint               batch_size;
  guint               epochs;
  char               *early_metric;      /* "val_accuracy" or "val_loss" */
  guint               patience;          /* 0: no early stopping */
  gboolean            restore_best;
  float               clip_norm;
  guint64             seed;
  gboolean            feature_cache;     /* auto (TRUE) or off */
} GraftTrainConfig;

void                graft_train_config_init     (GraftTrainConfig        *config);
void                graft_train_config_clear    (GraftTrainConfig        *config);
void                graft_train_config_copy     (const GraftTrainConfig  *src,
                                                 GraftTrainConfig        *dest);
/* Adds (or replaces) the override of @block. */
void                graft_train_config_set_block (GraftTrainConfig       *config,
                                                 const char              *block,
                                                 int                      frozen,
                                                 float                    lr_factor);

/* Checks ranges and combinations, naming the member at fault (CONFIG). */
gboolean            graft_train_config_check    (const GraftTrainConfig  *config,
                                                 GError                 **error);

/* A new JSON object holding every member (defaults written out). */
struct json_object *graft_train_config_to_json  (const GraftTrainConfig  *config);
/* @config (initialised here) from @object; FALSE with CONFIG naming the member. */
gboolean            graft_train_config_from_json (struct json_object     *object,
                                                 GraftTrainConfig        *config,
                                                 GError                 **error);

const char         *graft_schedule_to_string    (GraftSchedule            schedule);
gboolean            graft_schedule_from_string  (const char              *text,
                                                 GraftSchedule           *schedule);
const char         *graft_balance_to_string     (GraftBalance             balance);
gboolean            graft_balance_from_string   (const char              *text,
                                                 GraftBalance            *balance);
const char         *graft_augment_level_to_string (GraftAugmentLevel      level);
gboolean            graft_augment_level_from_string (const char          *text,
                                                 GraftAugmentLevel       *level);
/* "head", "all" or a number of blocks. */
gboolean            graft_unfreeze_from_string  (const char              *text,
                                                 int                     *unfreeze);

/* The learning rate of step @step (from 0) of @total, @steps_per_epoch to an epoch:
 *   warm-up (constant, step, cosine): lr · (step + 1) / W over the first W steps
 *     (W = warmup_epochs · steps_per_epoch, rounded);
 *   constant: lr; step: lr · gamma^⌊epoch / step_epochs⌋; cosine: lr · (1 + cos π p) / 2
 *     with p the fraction of the steps after the warm-up;
 *   one-cycle: torch.optim.lr_scheduler.OneCycleLR (anneal_strategy "cos", div_factor
 *     25, final_div_factor 1e4, pct_start W / total or 0.3), exactly as PyTorch steps it. */
double              graft_train_config_lr_at    (const GraftTrainConfig  *config,
                                                 guint                    step,
                                                 guint                    total,
                                                 guint                    steps_per_epoch);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GraftTrainConfig, graft_train_config_clear)

G_END_DECLS
