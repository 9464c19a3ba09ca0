/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-c/json.h>

#include "data/graft-image-cache.h"
#include "graft-predict.h"
#include "graft-trained-model.h"
#include "graft-trainer.h"
#include "nn/zoo/graft-catalog.h"
#include "project/graft-project.h"

G_BEGIN_DECLS

/* The cut layer's output for each image of a split, in the loader's order. */
typedef struct {
  guint   n;
  gsize   dim;
  float  *data;     /* [n × dim] */
  float  *labels;   /* [n] */
  guint  *samples;  /* [n]: index into the dataset's samples */
} FeatureSet;

typedef struct {
  const GraftTrainRequest *request;
  GraftTrainConfig         config;
  GraftTrainProgressFunc   progress;
  gpointer                 user_data;
  GraftTrainControl       *control;
  GCancellable            *cancellable;
  GraftTrainProgress       progress_state;
  GTimer                  *timer;

  GraftProject            *project;
  GraftDataset            *dataset;
  GraftDataset            *train_set;      /* balanced sampling's repeated samples, or NULL */
  GArray                  *rows;           /* balanced sampling: dataset sample indices */
  guint                   *row_feature;    /* rows mapped to train_features rows */
  guint                    n_train, n_val, n_test, n_classes;
  GraftImageCache         *image_cache;    /* the decoded images, or NULL: read the files */
  char                    *image_cache_note;

  GraftCatalogEntry       *entry;
  char                    *parent_weights;
  gboolean                 parent_keeps_head;
  char                    *resumed_parent;
  char                    *effective_parent;
  GraftTrainedModelInfo    info;
  GraftModel              *model;
  GraftOptimizer          *optimizer;
  GraftTensor             *target;
  GraftTensor             *class_weight;
  json_object             *plan;
  json_object             *adapt_lines;
  int                      first_trainable;  /* index of the first block that learns */
  guint                    batch;
  guint                    steps_per_epoch;

  int                      cut_layer;        /* 0: no feature cache */
  const char              *cut_block;
  char                    *cache_note;
  FeatureSet               train_features;
  FeatureSet               val_features;

  GraftRun                *run;
  guint                    epochs_done;
  guint                    best_epoch;
  double                   best_value;
  guint                    bad_epochs;
  gboolean                 stopped_early;
  guint                    restored_epoch;
  double                   train_seconds;
} Trainer;

G_END_DECLS
