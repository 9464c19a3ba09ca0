/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Train, validation and test splits, stratified by class and seeded.
 *
 * Only usable samples without a split (GRAFT_SPLIT_NONE) whose split the source did not
 * fix (split_fixed FALSE) are distributed; the others keep theirs. They are grouped into
 * strata, one per class (for detection, per each image's rarest class: the class held by
 * the fewest usable images, ties broken by name; images without boxes form one more
 * stratum), and each stratum is cut by the fractions with the largest-remainder method,
 * so that every split's count per class is within one sample of exact. Which samples go
 * where is drawn by a generator seeded with the seed and the stratum's class name, after
 * sorting by name: the same seed and files give the same split whatever order the
 * importer added them in.
 *
 * With a health report, samples with identical bytes move together: the copies of a file
 * follow it into its split (or into the split a copy already has), so that a split never
 * creates leakage; a stratum then counts groups of copies rather than files. Samples the
 * health check took out of the splits are never assigned. */

#include <glib.h>

#include "graft-dataset.h"
#include "graft-dataset-health.h"

G_BEGIN_DECLS

typedef struct {
  /* Parts of the unassigned samples for train, val and test (indexed by GraftSplit - 1):
   * each 0 or more, not all 0; they are divided by their sum. */
  double  fractions[3];
  guint64 seed;
} GraftSplitOptions;

#define GRAFT_SPLIT_DEFAULT_TRAIN 0.7
#define GRAFT_SPLIT_DEFAULT_VAL   0.15
#define GRAFT_SPLIT_DEFAULT_TEST  0.15

/* 0.7, 0.15, 0.15 and seed 0. */
void     graft_split_options_init      (GraftSplitOptions        *options);

/* Whether @options can be used, or a GRAFT_DATA_ERROR_INVALID that says why. */
gboolean graft_split_options_check     (const GraftSplitOptions  *options,
                                        GError                  **error);

/* Parses "TRAIN,VAL,TEST" parts ("0.7,0.15,0.15", "80,10,10", "1,0,0") into @fractions
 * divided by their sum (0.8, 0.1, 0.1 for "80,10,10"), or a GRAFT_DATA_ERROR_INVALID
 * quoting @text. */
gboolean graft_split_parse_fractions   (const char               *text,
                                        double                    fractions[3],
                                        GError                  **error);

/* Assigns a split to the unassigned samples of @dataset (see above). @health (or NULL) is
 * the dataset's health report. *@n_assigned (or NULL) gets how many were assigned. FALSE
 * only for options that cannot be used. */
gboolean graft_dataset_split           (GraftDataset             *dataset,
                                        const GraftSplitOptions  *options,
                                        const GraftDatasetHealth *health,
                                        guint                    *n_assigned,
                                        GError                  **error);

/* Forgets every split the source did not fix: the samples become unassigned again. */
void     graft_dataset_clear_split     (GraftDataset             *dataset);

G_END_DECLS
