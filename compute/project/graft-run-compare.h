/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Two runs side by side: what differs in their configurations, how their final metrics
 * moved overall and per class, and which images one gets right that the other gets
 * wrong. Deltas are B − A: a positive accuracy delta means B did better. */

#include "graft-run.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_CONFIG_ONLY_A,   /* the path is in A's configuration only */
  GRAFT_CONFIG_ONLY_B,   /* in B's only */
  GRAFT_CONFIG_CHANGED,  /* in both, with other values */
} GraftConfigChangeKind;

typedef struct {
  GraftConfigChangeKind  kind;
  char                  *path;  /* dotted: "optimizer.lr", "schedule.steps[2]" */
  struct json_object    *a;     /* the value in A (NULL for ONLY_B or a JSON null); a
                                 * reference, released with the comparison */
  struct json_object    *b;     /* the value in B (NULL for ONLY_A or a JSON null) */
} GraftConfigChange;

typedef struct {
  char   *path;   /* "accuracy", "macro.f1", "calibration.ece" */
  double  a;
  double  b;
  double  delta;  /* b − a */
} GraftMetricDelta;

typedef struct {
  guint   index;
  char   *name;                /* the class name, or NULL when the metrics name none */
  double  precision[3];        /* a, b, b − a */
  double  recall[3];
  double  f1[3];
} GraftClassDelta;

typedef struct {
  guint  index;      /* the image's place in A's predictions */
  char  *name;       /* NULL when the predictions are matched by index */
  int    label;
  int    predicted_a;
  int    predicted_b;
} GraftImageChange;

typedef struct {
  char       *id_a;
  char       *id_b;
  GPtrArray  *config;           /* GraftConfigChange *, in path order */
  GPtrArray  *metrics;          /* GraftMetricDelta *, in path order (numbers in both) */
  gboolean    classes_compared; /* FALSE: see classes_note */
  char       *classes_note;
  GPtrArray  *classes;          /* GraftClassDelta *, in class order */
  gboolean    images_compared;  /* FALSE: see images_note */
  char       *images_note;
  GPtrArray  *only_a_right;     /* GraftImageChange *: A right, B wrong, in A's order */
  GPtrArray  *only_b_right;     /* GraftImageChange *: B right, A wrong, in A's order */
} GraftRunComparison;

/* The comparison of run @a with run @b. Runs without final metrics compare by
 * configuration only (the notes say why the rest is missing). */
GraftRunComparison *graft_run_compare       (GraftRun            *a,
                                             GraftRun            *b);
/* The same from the JSON objects: configurations (NULL for {}) and final metrics (in
 * graft_metrics_to_json()'s layout, or NULL). Images are matched by "name" when every
 * prediction of both runs has one, else by place (then both lists must be as long). The
 * result keeps references to the configuration values it names, nothing else. */
GraftRunComparison *graft_run_compare_json  (const char          *id_a,
                                             struct json_object  *config_a,
                                             struct json_object  *metrics_a,
                                             const char          *id_b,
                                             struct json_object  *config_b,
                                             struct json_object  *metrics_b);
void                graft_run_comparison_free (GraftRunComparison *self);

/* The comparison as a new JSON object:
 *   { "a": id, "b": id,
 *     "config": [ { "path", "change": "only_a" | "only_b" | "changed", "a", "b" } … ],
 *     "metrics": [ { "path", "a", "b", "delta" } … ],
 *     "per_class": [ { "index", "name", "precision": { "a", "b", "delta" }, "recall",
 *                      "f1" } … ] or null, "per_class_note" (when null),
 *     "only_a_right", "only_b_right": [ { "index", "name", "label", "predicted_a",
 *                                         "predicted_b" } … ] or null, "images_note" } */
struct json_object *graft_run_comparison_to_json (const GraftRunComparison *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRunComparison, graft_run_comparison_free)

G_END_DECLS
