/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-eval"

/* The metrics that group images: reliability bins by confidence, and accuracy by
 * quartile of brightness and size. */

#include <math.h>
#include <stdlib.h>

#include "graft-metrics-private.h"

guint
_graft_metrics_bin_of (double confidence,
                       guint  n_bins)
{
  double scaled = ceil (confidence * n_bins) - 1.0;
  guint b;

  if (!(scaled > 0.0))
    b = 0;
  else if (scaled >= n_bins - 1)
    b = n_bins - 1;
  else
    b = (guint) scaled;
  /* The edges are b / n_bins as doubles, as numpy's arange (n_bins + 1) / n_bins; the
   * product above may round across one of them. */
  while (b > 0 && confidence <= (double) b / n_bins)
    b--;
  while (b + 1 < n_bins && confidence > (double) (b + 1) / n_bins)
    b++;
  return b;
}

void
_graft_metrics_calibrate (GraftMetrics *self)
{
  g_autofree double *confidence_sum = g_new0 (double, self->n_bins);
  double ece = 0.0, mce = 0.0;

  for (guint b = 0; b < self->n_bins; b++)
    {
      self->bins[b].count = 0;
      self->bins[b].n_correct = 0;
    }
  for (guint i = 0; i < self->n_predictions; i++)
    {
      const GraftPrediction *p = &self->predictions[i];
      guint b = _graft_metrics_bin_of (p->confidence, self->n_bins);

      self->bins[b].count++;
      self->bins[b].n_correct += p->predicted == p->label;
      confidence_sum[b] += p->confidence;
    }
  for (guint b = 0; b < self->n_bins; b++)
    {
      GraftReliabilityBin *bin = &self->bins[b];
      double gap;

      if (bin->count == 0)
        {
          bin->confidence = 0.0;
          bin->accuracy = 0.0;
          continue;
        }
      bin->confidence = confidence_sum[b] / bin->count;
      bin->accuracy = (double) bin->n_correct / bin->count;
      gap = fabs (bin->accuracy - bin->confidence);
      ece += gap * bin->count / self->n_images;
      mce = MAX (mce, gap);
    }
  self->ece = ece;
  self->mce = mce;
}

static int
compare_doubles (gconstpointer a,
                 gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* numpy.percentile (method "linear") of sorted @v at fraction @q: the virtual index
 * (n − 1) q, and numpy's two-sided interpolation between its neighbours. */
static double
percentile (const double *v,
            guint         n,
            double        q)
{
  double pos = (n - 1) * q;
  double lo = floor (pos);
  double t = pos - lo;
  double a = v[(gsize) lo];
  double b = v[MIN ((gsize) lo + 1, (gsize) n - 1)];

  if (t >= 0.5)
    return b - (b - a) * (1.0 - t);
  return a + (b - a) * t;
}

void
_graft_metrics_quartiles (const double        *values,
                          const gboolean      *correct,
                          guint                n,
                          GraftQuartileSlices *slices)
{
  g_autofree double *sorted = g_memdup2 (values, sizeof (double) * n);

  qsort (sorted, n, sizeof (double), compare_doubles);
  slices->present = TRUE;
  for (guint q = 0; q <= GRAFT_METRICS_N_QUARTILES; q++)
    slices->edges[q] = percentile (sorted, n, (double) q / GRAFT_METRICS_N_QUARTILES);
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    {
      slices->count[q] = 0;
      slices->n_correct[q] = 0;
    }

  for (guint i = 0; i < n; i++)
    {
      guint q = 0;

      while (q + 1 < GRAFT_METRICS_N_QUARTILES && values[i] > slices->edges[q + 1])
        q++;
      slices->count[q]++;
      slices->n_correct[q] += correct[i] != FALSE;
    }
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    slices->accuracy[q] = slices->count[q] == 0 ? 0.0
                                                : (double) slices->n_correct[q] / slices->count[q];
}
