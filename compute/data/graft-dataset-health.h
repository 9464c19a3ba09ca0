/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What is in a dataset and what is wrong with it. The check reads every image once, on a
 * small pool of threads, and merges what they found in sample order, so the report is
 * the same whatever the timing:
 *   - each file's bytes are hashed with SHA-256; files with the same hash are exact
 *     duplicates, and duplicates on both sides of a split line (train and val, train and
 *     test, val and test) are LEAKAGE;
 *   - each image is decoded (graft_image_decode_bytes): one that cannot be is UNREADABLE
 *     with the decoder's reason, and its sample's width and height are filled in;
 *   - images whose shorter side is below the minimum side are SMALL_IMAGE;
 *   - boxes that leave their image are BOX_OUTSIDE, boxes without area (or NaN) BOX_EMPTY;
 *   - labels that name no class are UNKNOWN_LABEL, classification samples without one
 *     NO_LABEL.
 * The dataset's own problems (recorded by the importer) come first in the report; the
 * check does not report again what the importer reported for the same file and kind.
 *
 * A sample that cannot be used (unreadable, unknown label, no label in a classification
 * dataset) is taken out of every split: its split becomes GRAFT_SPLIT_NONE and its
 * usable flag FALSE, which graft_dataset_split, the project and the loaders honour, and
 * it is false in the report's usable[]. Small images, bad boxes and duplicates are reported but stay. */

#include <gio/gio.h>

#include "graft-dataset.h"

G_BEGIN_DECLS

#define GRAFT_HEALTH_DEFAULT_MIN_SIDE 32

typedef struct {
  guint       min_side;    /* images with a shorter side are SMALL_IMAGE; default 32 */
  guint       n_threads;   /* readers; 0: one per processor, at most 8 */
  guint64     max_pixels;  /* the decoder's limit; 0: GRAFT_IMAGE_DEFAULT_MAX_PIXELS */
  /* Remember each file's result (hash, decodes or why not, size in pixels) between
   * checks, keyed by its path, size and modification time to the nanosecond, so that a
   * check reads only the files new or changed since the last one: FALSE by default. The
   * memo lives in @memo_dir (NULL: $XDG_CACHE_HOME/graft/health), one file per dataset
   * root, replaced atomically; one that is damaged or cannot be written costs the check
   * its speed, never its result. */
  gboolean    remember;
  const char *memo_dir;
} GraftHealthOptions;

void graft_health_options_init (GraftHealthOptions *options);

#define GRAFT_HEALTH_HASH_SIZE 32  /* SHA-256 */

typedef struct {
  guint        n_classes;
  guint        n_samples;
  guint        n_usable;
  guint        min_side;
  /* Usable samples per class and split, counts[class * GRAFT_N_SPLITS + split] (split
   * GRAFT_SPLIT_NONE: not assigned yet); for detection, images holding at least one box
   * of the class. */
  guint       *counts;
  /* Usable samples without a class: detection images without boxes. */
  guint        unlabelled[GRAFT_N_SPLITS];
  /* Usable samples per split (for detection not the sum of the classes: an image holding
   * two classes counts in both). */
  guint        per_split[GRAFT_N_SPLITS];
  /* Largest class / smallest class that has any sample, over all splits; 0 when no class
   * has one. */
  double       imbalance;
  int          largest_class;   /* -1 when none */
  int          smallest_class;
  gboolean    *usable;          /* per sample, in the dataset's order */
  guint8      *hashes;          /* per sample, GRAFT_HEALTH_HASH_SIZE bytes; zeros if unread */
  /* Groups of usable samples with identical bytes: each a GArray of guint sample indices
   * in sample order; the groups in the order of their first sample. */
  GPtrArray   *duplicates;
  /* GraftDataProblem *: copies of the dataset's own problems, then the ones the check
   * found, file by file in sample order, then duplicates and leakage. */
  GPtrArray   *problems;
} GraftDatasetHealth;

/* Checks @dataset (see above), filling in its samples' width and height and taking
 * unusable samples out of the splits. A bad file is a problem in the report, never an
 * error: FALSE only when cancelled. @progress is called on the calling thread with the
 * number of files read; call this from a worker thread. */
GraftDatasetHealth *graft_dataset_check_health   (GraftDataset              *dataset,
                                                  const GraftHealthOptions  *options,
                                                  GraftDatasetProgress       progress,
                                                  gpointer                   user_data,
                                                  GCancellable              *cancellable,
                                                  GError                   **error);

/* Recounts the classes per split and finds the duplicates and leakage again after the
 * samples' splits changed (graft_dataset_split, a project's saved split). Reads no file.
 * @dataset must be the one checked, with the same samples. */
void                graft_dataset_health_update  (GraftDatasetHealth        *self,
                                                  GraftDataset              *dataset);

/* Usable samples of @label in @split (GRAFT_SPLIT_NONE: not assigned), and in all. */
guint               graft_dataset_health_count   (const GraftDatasetHealth  *self,
                                                  guint                      label,
                                                  GraftSplit                 split);
guint               graft_dataset_health_total   (const GraftDatasetHealth  *self,
                                                  guint                      label);
guint               graft_dataset_health_count_problems (const GraftDatasetHealth *self,
                                                  GraftDataProblemKind       kind);
void                graft_dataset_health_free    (GraftDatasetHealth        *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftDatasetHealth, graft_dataset_health_free)

G_END_DECLS
