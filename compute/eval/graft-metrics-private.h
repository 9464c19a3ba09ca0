/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Shared by the files of compute/eval that build GraftMetrics. */

#include "graft-metrics.h"

G_BEGIN_DECLS

/* Zeroed metrics with their arrays allocated (per_class, confusion, bins with their
 * edges set, predictions). */
GraftMetrics *_graft_metrics_alloc       (guint                n_images,
                                          guint                n_classes,
                                          guint                n_bins,
                                          guint                n_predictions);

/* Fills self->bins, ece and mce from self->predictions. */
void          _graft_metrics_calibrate   (GraftMetrics        *self);

/* Fills @slices from @values [n] and whether each image was right. */
void          _graft_metrics_quartiles   (const double        *values,
                                          const gboolean      *correct,
                                          guint                n,
                                          GraftQuartileSlices *slices);

/* The bin of @confidence among @n_bins: b with b/n < confidence ≤ (b+1)/n, the first
 * bin for 0 (and below), the last for 1 (and above). */
guint         _graft_metrics_bin_of      (double               confidence,
                                          guint                n_bins);

G_END_DECLS
