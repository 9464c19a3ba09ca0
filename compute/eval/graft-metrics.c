/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-eval"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graft-metrics-private.h"

void
graft_metrics_options_init (GraftMetricsOptions *options)
{
  g_return_if_fail (options != NULL);

  options->top_k = GRAFT_METRICS_DEFAULT_TOP_K;
  options->n_bins = GRAFT_METRICS_DEFAULT_N_BINS;
}

GraftMetrics *
_graft_metrics_alloc (guint n_images,
                      guint n_classes,
                      guint n_bins,
                      guint n_predictions)
{
  GraftMetrics *self = g_new0 (GraftMetrics, 1);

  self->n_images = n_images;
  self->n_classes = n_classes;
  self->per_class = g_new0 (GraftClassMetrics, n_classes);
  self->confusion = g_new0 (guint, (gsize) n_classes * n_classes);
  self->n_bins = n_bins;
  self->bins = g_new0 (GraftReliabilityBin, n_bins);
  for (guint b = 0; b < n_bins; b++)
    {
      self->bins[b].lower = (double) b / n_bins;
      self->bins[b].upper = (double) (b + 1) / n_bins;
    }
  self->n_predictions = n_predictions;
  self->predictions = g_new0 (GraftPrediction, n_predictions);
  return self;
}

void
graft_metrics_free (GraftMetrics *self)
{
  if (self == NULL)
    return;
  g_strfreev (self->class_names);
  g_free (self->per_class);
  g_free (self->confusion);
  g_free (self->bins);
  for (guint i = 0; i < self->n_predictions; i++)
    g_free (self->predictions[i].name);
  g_free (self->predictions);
  g_free (self);
}

guint
graft_metrics_get_confusion (const GraftMetrics *self,
                             guint               true_class,
                             guint               predicted)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail (true_class < self->n_classes && predicted < self->n_classes, 0);

  return self->confusion[(gsize) true_class * self->n_classes + predicted];
}

/* "image 7" or "image 7 (cat/12.png)", for messages. */
static char *
describe_image (const GraftMetricsInput *input,
                guint                    i)
{
  if (input->names != NULL && input->names[i] != NULL)
    return g_strdup_printf ("image %u (%s)", i, input->names[i]);
  return g_strdup_printf ("image %u", i);
}

static gboolean
check_input (const GraftMetricsInput    *input,
             const GraftMetricsOptions  *options,
             GError                    **error)
{
  if (input->n_images == 0)
    {
      g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                   "There are no images to evaluate: the evaluation split is empty");
      return FALSE;
    }
  if (input->n_classes == 0)
    {
      g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                   "There are no classes to evaluate against: the model has no outputs");
      return FALSE;
    }
  if (options->top_k == 0)
    {
      g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                   "The k of top-k accuracy must be 1 or more, not 0");
      return FALSE;
    }
  if (options->n_bins == 0 || options->n_bins > GRAFT_METRICS_MAX_N_BINS)
    {
      g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                   "The number of calibration bins must be 1 to %d, not %u",
                   GRAFT_METRICS_MAX_N_BINS, options->n_bins);
      return FALSE;
    }

  for (guint i = 0; i < input->n_images; i++)
    {
      const float *row = input->probs + (gsize) i * input->n_classes;
      int label = input->labels[i];

      if (label < 0 || (guint) label >= input->n_classes)
        {
          g_autofree char *what = describe_image (input, i);

          g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                       "%s has the label %d, but the classes are numbered 0 to %u; "
                       "an image without a label cannot be evaluated",
                       what, label, input->n_classes - 1);
          return FALSE;
        }
      for (guint c = 0; c < input->n_classes; c++)
        if (!isfinite (row[c]) || row[c] < 0.0f || row[c] > 1.0f)
          {
            g_autofree char *what = describe_image (input, i);

            g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                         "%s has the probability %g for class %u, %s; pass the softmax of "
                         "the model's outputs", what, (double) row[c], c,
                         isfinite (row[c]) ? "outside 0 to 1" : "which is not a finite number "
                                                                "(did the training diverge?)");
            return FALSE;
          }
      if (input->losses != NULL && (!isfinite (input->losses[i]) || input->losses[i] < 0.0f))
        {
          g_autofree char *what = describe_image (input, i);

          g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                       "%s has the loss %g; a loss must be a finite number, 0 or more",
                       what, (double) input->losses[i]);
          return FALSE;
        }
      if (input->brightness != NULL &&
          !(input->brightness[i] >= 0.0f && input->brightness[i] <= 255.0f))
        {
          g_autofree char *what = describe_image (input, i);

          g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                       "%s has the brightness %g; the mean luma of an image is 0 to 255",
                       what, (double) input->brightness[i]);
          return FALSE;
        }
      if (input->pixels != NULL && input->pixels[i] == 0)
        {
          g_autofree char *what = describe_image (input, i);

          g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID,
                       "%s has a size of 0 pixels", what);
          return FALSE;
        }
    }
  return TRUE;
}

/* The first class of highest probability (numpy.argmax). */
static guint
argmax (const float *row,
        guint        n)
{
  guint best = 0;

  for (guint c = 1; c < n; c++)
    if (row[c] > row[best])
      best = c;
  return best;
}

/* Whether @label is among the @k best of @row, ties going to the lower index. */
static gboolean
in_top_k (const float *row,
          guint        n,
          guint        label,
          guint        k)
{
  guint ahead = 0;

  for (guint c = 0; c < n; c++)
    if (row[c] > row[label] || (c < label && row[c] == row[label]))
      ahead++;
  return ahead < k;
}

static void
fill_predictions (GraftMetrics            *self,
                  const GraftMetricsInput *input,
                  guint                    top_k)
{
  double loss_sum = 0.0;

  self->top_k = top_k;
  self->losses_given = input->losses != NULL;
  for (guint i = 0; i < input->n_images; i++)
    {
      const float *row = input->probs + (gsize) i * input->n_classes;
      GraftPrediction *p = &self->predictions[i];
      guint predicted = argmax (row, input->n_classes);

      p->label = input->labels[i];
      p->predicted = (int) predicted;
      p->confidence = row[predicted];
      p->p_true = row[p->label];
      p->loss = input->losses != NULL ? input->losses[i]
                                      : (float) -log (MAX ((double) p->p_true, (double) FLT_MIN));
      p->brightness = input->brightness != NULL ? input->brightness[i] : -1.0f;
      p->pixels = input->pixels != NULL ? input->pixels[i] : 0;
      p->name = input->names != NULL ? g_strdup (input->names[i]) : NULL;

      loss_sum += p->loss;
      self->n_correct += p->predicted == p->label;
      self->top_k_correct += in_top_k (row, input->n_classes, (guint) p->label, top_k);
      self->confusion[(gsize) p->label * input->n_classes + predicted]++;
    }
  self->accuracy = (double) self->n_correct / input->n_images;
  self->top_k_accuracy = (double) self->top_k_correct / input->n_images;
  self->mean_loss = loss_sum / input->n_images;
}

/* a / b, 0 when b is 0: scikit-learn's zero_division=0. */
static double
ratio (guint a,
       guint b)
{
  return b == 0 ? 0.0 : (double) a / b;
}

static void
fill_per_class (GraftMetrics *self)
{
  guint n = self->n_classes;
  GraftMetricsAverage sum = { 0 }, weighted = { 0 };

  for (guint c = 0; c < n; c++)
    {
      GraftClassMetrics *m = &self->per_class[c];

      for (guint o = 0; o < n; o++)
        {
          m->support += self->confusion[(gsize) c * n + o];
          m->n_predicted += self->confusion[(gsize) o * n + c];
        }
      m->true_positives = self->confusion[(gsize) c * n + c];
      m->precision = ratio (m->true_positives, m->n_predicted);
      m->recall = ratio (m->true_positives, m->support);
      /* 2PR / (P + R) with P = TP/predicted and R = TP/support, from the counts; both
       * are 0 only for a class without images that was never predicted. */
      m->f1 = m->support + (double) m->n_predicted == 0.0
              ? 0.0 : 2.0 * m->true_positives / (m->support + (double) m->n_predicted);

      sum.precision += m->precision;
      sum.recall += m->recall;
      sum.f1 += m->f1;
      weighted.precision += m->precision * m->support;
      weighted.recall += m->recall * m->support;
      weighted.f1 += m->f1 * m->support;
    }
  self->macro.precision = sum.precision / n;
  self->macro.recall = sum.recall / n;
  self->macro.f1 = sum.f1 / n;
  /* The supports add up to n_images, which is not 0. */
  self->weighted.precision = weighted.precision / self->n_images;
  self->weighted.recall = weighted.recall / self->n_images;
  self->weighted.f1 = weighted.f1 / self->n_images;
}

static void
fill_slices (GraftMetrics            *self,
             const GraftMetricsInput *input)
{
  g_autofree double *values = g_new (double, input->n_images);
  g_autofree gboolean *correct = g_new (gboolean, input->n_images);

  for (guint i = 0; i < input->n_images; i++)
    correct[i] = self->predictions[i].predicted == self->predictions[i].label;

  if (input->brightness != NULL)
    {
      for (guint i = 0; i < input->n_images; i++)
        values[i] = input->brightness[i];
      _graft_metrics_quartiles (values, correct, input->n_images, &self->brightness);
    }
  if (input->pixels != NULL)
    {
      for (guint i = 0; i < input->n_images; i++)
        values[i] = (double) input->pixels[i];
      _graft_metrics_quartiles (values, correct, input->n_images, &self->size);
    }
}

GraftMetrics *
graft_metrics_compute (const GraftMetricsInput    *input,
                       const GraftMetricsOptions  *options,
                       GError                    **error)
{
  GraftMetricsOptions defaults;
  GraftMetrics *self;

  g_return_val_if_fail (input != NULL, NULL);
  g_return_val_if_fail (input->n_images == 0 || (input->labels != NULL && input->probs != NULL), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    {
      graft_metrics_options_init (&defaults);
      options = &defaults;
    }
  if (!check_input (input, options, error))
    return NULL;

  self = _graft_metrics_alloc (input->n_images, input->n_classes, options->n_bins,
                               input->n_images);
  if (input->class_names != NULL)
    {
      self->class_names = g_new0 (char *, input->n_classes + 1);
      for (guint c = 0; c < input->n_classes; c++)
        self->class_names[c] = g_strdup (input->class_names[c] != NULL ? input->class_names[c] : "");
    }
  fill_predictions (self, input, options->top_k);
  fill_per_class (self);
  _graft_metrics_calibrate (self);
  fill_slices (self, input);
  return self;
}

typedef struct {
  guint  index;
  double key;
} GalleryItem;

/* Larger key first; equal keys in input order. */
static int
compare_items (gconstpointer a,
               gconstpointer b)
{
  const GalleryItem *x = a, *y = b;

  if (x->key != y->key)
    return x->key > y->key ? -1 : 1;
  return x->index < y->index ? -1 : x->index > y->index;
}

guint *
graft_metrics_gallery (const GraftMetrics *self,
                       GraftGalleryKind    kind,
                       int                 true_class,
                       int                 predicted_class,
                       guint               max,
                       guint              *n_out)
{
  g_autofree GalleryItem *items = NULL;
  guint n = 0;
  guint *result;

  g_return_val_if_fail (n_out != NULL, NULL);
  *n_out = 0;
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (kind <= GRAFT_GALLERY_HIGHEST_LOSS, NULL);

  items = g_new (GalleryItem, MAX (self->n_predictions, 1));
  for (guint i = 0; i < self->n_predictions; i++)
    {
      const GraftPrediction *p = &self->predictions[i];
      gboolean right = p->predicted == p->label;
      double key;

      if ((true_class >= 0 && p->label != true_class) ||
          (predicted_class >= 0 && p->predicted != predicted_class))
        continue;
      switch (kind)
        {
        case GRAFT_GALLERY_CONFIDENT_MISTAKES:
          if (right)
            continue;
          key = p->confidence;
          break;
        case GRAFT_GALLERY_UNSURE_CORRECT:
          if (!right)
            continue;
          key = -(double) p->confidence;
          break;
        case GRAFT_GALLERY_HIGHEST_LOSS:
        default:
          key = p->loss;
          break;
        }
      items[n].index = i;
      items[n].key = key;
      n++;
    }
  if (n == 0)
    return NULL;

  qsort (items, n, sizeof (GalleryItem), compare_items);
  if (max > 0 && n > max)
    n = max;
  result = g_new (guint, n);
  for (guint i = 0; i < n; i++)
    result[i] = items[i].index;
  *n_out = n;
  return result;
}

guint *
graft_metrics_confident_mistakes (const GraftMetrics *self,
                                  guint               max,
                                  guint              *n_out)
{
  return graft_metrics_gallery (self, GRAFT_GALLERY_CONFIDENT_MISTAKES, -1, -1, max, n_out);
}

guint *
graft_metrics_unsure_correct (const GraftMetrics *self,
                              guint               max,
                              guint              *n_out)
{
  return graft_metrics_gallery (self, GRAFT_GALLERY_UNSURE_CORRECT, -1, -1, max, n_out);
}
