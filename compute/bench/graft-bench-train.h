/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "nn/zoo/graft-zoo.h"

G_BEGIN_DECLS

typedef struct {
  guint   batch, size;
  guint   steps;              /* timed steps, after WARMUP untimed ones */
  double  seconds;            /* wall time of the timed steps */
  double  images_per_second;  /* batch * steps / seconds */
  double  first_step_seconds; /* the first warm-up step: pipelines, allocation */
  guint64 activation_bytes;   /* the model's activation plan */
  double  loss;               /* of the last step, to show it is finite */
} GraftTrainStepBench;

/* Times whole training steps of zoo model @arch on @backend: forward in training mode,
 * cross-entropy backward and an SGD step with momentum over every parameter, on one
 * random batch of @batch images of @size × @size with @classes classes (uploaded once:
 * data loading is not measured). Runs at least 2 timed steps and at least @min_seconds,
 * waiting for the device after each step. */
gboolean graft_bench_train_step (GraftBackend         *backend,
                                 const char           *arch,
                                 guint                 batch,
                                 guint                 size,
                                 guint                 classes,
                                 double                min_seconds,
                                 GraftTrainStepBench  *result,
                                 GError              **error);

G_END_DECLS
