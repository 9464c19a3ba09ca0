/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Evaluation metrics: small cases worked out by hand (the arithmetic is in the
 * comments), ties, classes never predicted and classes without images, calibration bin
 * edges, galleries, errors that name the image at fault, the JSON round trip, and
 * scikit-learn 1.2's answers on seeded random results (tests/eval/sklearn_metrics.py). */

#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "graft.h"

/* Ratios on both sides are computed in double precision from the same integer counts
 * (or the same float32 confidences), differing only in the order of the additions and
 * in the formula (F1 from counts here, 2PR/(P+R) in scikit-learn): a few units in the
 * last place, about 1e-15. 1e-9 relative leaves room for that, while a single image
 * counted in the wrong place changes a ratio over at most a few thousand images by
 * more than 1e-4. The absolute floor covers values that are 0 on one side and a
 * rounding residue on the other. Counts are compared exactly. */
#define REL_TOL 1e-9
#define ABS_TOL 1e-12

#define assert_close(got, want) assert_close_at ((got), (want), #got, __FILE__, __LINE__)

static void
assert_close_at (double      got,
                 double      want,
                 const char *what,
                 const char *file,
                 int         line)
{
  if (!(fabs (got - want) <= REL_TOL * MAX (fabs (got), fabs (want)) + ABS_TOL))
    g_error ("%s:%d: %s is %.17g, expected %.17g", file, line, what, got, want);
}

/* The hand-worked case: 4 classes, 6 images. Class 2 has images but is never predicted;
 * class 3 is predicted once but has no images. Probabilities are multiples of 1/16, so
 * every float is exact.
 *   image label probabilities (0, 1, 2, 3)         predicted confidence
 *   0     0     .75   .125  .0625 .0625            0 right   .75
 *   1     0     .25   .5    .125  .125             1 wrong   .5
 *   2     1     .125  .625  .125  .125             1 right   .625
 *   3     1     .125  .25   .1875 .4375            3 wrong   .4375
 *   4     2     .375  .25   .25   .125             0 wrong   .375
 *   5     2     .0625 .875  .0625 0                1 wrong   .875 */
static const int hand_labels[6] = { 0, 0, 1, 1, 2, 2 };
static const float hand_probs[6 * 4] = {
  0.75f,   0.125f, 0.0625f, 0.0625f,
  0.25f,   0.5f,   0.125f,  0.125f,
  0.125f,  0.625f, 0.125f,  0.125f,
  0.125f,  0.25f,  0.1875f, 0.4375f,
  0.375f,  0.25f,  0.25f,   0.125f,
  0.0625f, 0.875f, 0.0625f, 0.0f,
};
static const float hand_brightness[6] = { 10, 200, 50, 30, 20, 100 };
static const guint64 hand_pixels[6] = { 784, 784, 784, 784, 784, 784 };
static const char *const hand_names[6] = { "a.png", "b.png", "c.png", "d.png", "e.png", "f.png" };
static const char *const hand_classes[4] = { "cat", "dog", "fox", "owl" };

static void
hand_input (GraftMetricsInput *input)
{
  memset (input, 0, sizeof *input);
  input->n_images = 6;
  input->n_classes = 4;
  input->labels = hand_labels;
  input->probs = hand_probs;
  input->brightness = hand_brightness;
  input->pixels = hand_pixels;
  input->names = hand_names;
  input->class_names = hand_classes;
}

static GraftMetrics *
hand_metrics (guint top_k,
              guint n_bins)
{
  g_autoptr(GError) error = NULL;
  GraftMetricsInput input;
  GraftMetricsOptions options;
  GraftMetrics *m;

  hand_input (&input);
  graft_metrics_options_init (&options);
  options.top_k = top_k;
  options.n_bins = n_bins;
  m = graft_metrics_compute (&input, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (m);
  return m;
}

static void
test_hand_counts (void)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 4);
  /* rows: true class, columns: predicted */
  static const guint confusion[4][4] = {
    { 1, 1, 0, 0 },
    { 0, 1, 0, 1 },
    { 1, 1, 0, 0 },
    { 0, 0, 0, 0 },
  };

  g_assert_cmpuint (m->n_images, ==, 6);
  g_assert_cmpuint (m->n_classes, ==, 4);
  g_assert_cmpstr (m->class_names[2], ==, "fox");
  g_assert_null (m->class_names[4]);
  for (guint t = 0; t < 4; t++)
    for (guint p = 0; p < 4; p++)
      g_assert_cmpuint (graft_metrics_get_confusion (m, t, p), ==, confusion[t][p]);

  /* images 0 and 2 are right: 2 / 6 */
  g_assert_cmpuint (m->n_correct, ==, 2);
  assert_close (m->accuracy, 2.0 / 6.0);

  /* support = row sums (2, 2, 2, 0), predicted = column sums (2, 3, 0, 1),
   * true positives = diagonal (1, 1, 0, 0) */
  g_assert_cmpuint (m->per_class[0].support, ==, 2);
  g_assert_cmpuint (m->per_class[1].support, ==, 2);
  g_assert_cmpuint (m->per_class[2].support, ==, 2);
  g_assert_cmpuint (m->per_class[3].support, ==, 0);
  g_assert_cmpuint (m->per_class[0].n_predicted, ==, 2);
  g_assert_cmpuint (m->per_class[1].n_predicted, ==, 3);
  g_assert_cmpuint (m->per_class[2].n_predicted, ==, 0);
  g_assert_cmpuint (m->per_class[3].n_predicted, ==, 1);
  g_assert_cmpuint (m->per_class[0].true_positives, ==, 1);
  g_assert_cmpuint (m->per_class[1].true_positives, ==, 1);
  g_assert_cmpuint (m->per_class[2].true_positives, ==, 0);
  g_assert_cmpuint (m->per_class[3].true_positives, ==, 0);

  /* precision = TP / predicted: 1/2, 1/3, 0/0 → 0 (never predicted), 0/1 = 0 */
  assert_close (m->per_class[0].precision, 0.5);
  assert_close (m->per_class[1].precision, 1.0 / 3.0);
  g_assert_cmpfloat (m->per_class[2].precision, ==, 0.0);
  g_assert_cmpfloat (m->per_class[3].precision, ==, 0.0);
  /* recall = TP / support: 1/2, 1/2, 0/2 = 0, 0/0 → 0 (no images) */
  assert_close (m->per_class[0].recall, 0.5);
  assert_close (m->per_class[1].recall, 0.5);
  g_assert_cmpfloat (m->per_class[2].recall, ==, 0.0);
  g_assert_cmpfloat (m->per_class[3].recall, ==, 0.0);
  /* F1 = 2 TP / (support + predicted): 2/4, 2/5, 0/2, 0/1 */
  assert_close (m->per_class[0].f1, 0.5);
  assert_close (m->per_class[1].f1, 0.4);
  g_assert_cmpfloat (m->per_class[2].f1, ==, 0.0);
  g_assert_cmpfloat (m->per_class[3].f1, ==, 0.0);

  /* macro over all four classes, the two without TP included:
   *   precision (1/2 + 1/3 + 0 + 0) / 4 = 5/24, recall (1/2 + 1/2) / 4 = 1/4,
   *   F1 (1/2 + 2/5) / 4 = 9/40 */
  assert_close (m->macro.precision, 5.0 / 24.0);
  assert_close (m->macro.recall, 0.25);
  assert_close (m->macro.f1, 9.0 / 40.0);
  /* weighted by support (2, 2, 2, 0) over 6 images:
   *   precision (2·1/2 + 2·1/3) / 6 = 5/18, recall (2·1/2 + 2·1/2) / 6 = 1/3 (the
   *   accuracy, as always), F1 (2·1/2 + 2·2/5) / 6 = 3/10 */
  assert_close (m->weighted.precision, 5.0 / 18.0);
  assert_close (m->weighted.recall, 1.0 / 3.0);
  assert_close (m->weighted.f1, 0.3);
}

static void
test_hand_top_k (void)
{
  g_autoptr(GraftMetrics) m2 = hand_metrics (2, 4);
  g_autoptr(GraftMetrics) m1 = hand_metrics (1, 4);
  g_autoptr(GraftMetrics) m3 = hand_metrics (3, 4);
  g_autoptr(GraftMetrics) m4 = hand_metrics (4, 4);

  /* Top 2, counting the classes ahead of the true one (higher, or equal and lower index):
   *   0: none ahead, in; 1: class 1 (.5 > .25), in; 2: none, in; 3: class 3, in;
   *   4: class 0 (.375) and class 1 (.25 = .25, index 1 < 2): 2 ahead, out;
   *   5: class 1 (.875) and class 0 (.0625 = .0625, index 0 < 2): 2 ahead, out.
   * 4 / 6. (scikit-learn's order would count 4 and 5 in: 6 / 6.) */
  g_assert_cmpuint (m2->top_k, ==, 2);
  g_assert_cmpuint (m2->top_k_correct, ==, 4);
  assert_close (m2->top_k_accuracy, 4.0 / 6.0);
  /* top 1 is the accuracy */
  g_assert_cmpuint (m1->top_k_correct, ==, m1->n_correct);
  /* top 3: image 5 has 2 ahead, image 4 has 2 ahead: all in */
  g_assert_cmpuint (m3->top_k_correct, ==, 6);
  /* k = number of classes: everything */
  assert_close (m4->top_k_accuracy, 1.0);
}

static void
test_hand_calibration (void)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 4);

  /* 4 bins (0, .25] (.25, .5] (.5, .75] (.75, 1]; the confidences .5 and .75 sit on
   * upper edges and belong to the bin below them.
   *   bin 0: empty
   *   bin 1: .5 (wrong), .4375 (wrong), .375 (wrong): confidence 1.3125 / 3 = .4375,
   *          accuracy 0
   *   bin 2: .75 (right), .625 (right): confidence .6875, accuracy 1
   *   bin 3: .875 (wrong): confidence .875, accuracy 0
   * ECE = (3 · .4375 + 2 · .3125 + 1 · .875) / 6 = 2.8125 / 6 = .46875; MCE = .875 */
  g_assert_cmpuint (m->n_bins, ==, 4);
  g_assert_cmpuint (m->bins[0].count, ==, 0);
  g_assert_cmpuint (m->bins[1].count, ==, 3);
  g_assert_cmpuint (m->bins[2].count, ==, 2);
  g_assert_cmpuint (m->bins[3].count, ==, 1);
  g_assert_cmpuint (m->bins[2].n_correct, ==, 2);
  assert_close (m->bins[1].lower, 0.25);
  assert_close (m->bins[1].upper, 0.5);
  assert_close (m->bins[1].confidence, 0.4375);
  assert_close (m->bins[1].accuracy, 0.0);
  assert_close (m->bins[2].confidence, 0.6875);
  assert_close (m->bins[2].accuracy, 1.0);
  assert_close (m->bins[3].confidence, 0.875);
  assert_close (m->ece, 0.46875);
  assert_close (m->mce, 0.875);
}

static void
test_hand_slices (void)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 4);

  /* brightness sorted: 10 20 30 50 100 200; numpy.percentile at (n − 1) q = 5q:
   *   q1 at 1.25: 20 + .25 · (30 − 20) = 22.5; median at 2.5: 30 + .5 · 20 = 40;
   *   q3 at 3.75: 50 + .75 · 50 = 87.5.
   * slices: ≤ 22.5: 10 (image 0, right), 20 (image 4, wrong): 2, accuracy .5
   *         (22.5, 40]: 30 (image 3, wrong): 1, accuracy 0
   *         (40, 87.5]: 50 (image 2, right): 1, accuracy 1
   *         > 87.5: 100 (5, wrong), 200 (1, wrong): 2, accuracy 0 */
  static const double edges[5] = { 10, 22.5, 40, 87.5, 200 };
  static const guint count[4] = { 2, 1, 1, 2 };
  static const double accuracy[4] = { 0.5, 0, 1, 0 };

  g_assert_true (m->brightness.present);
  for (guint q = 0; q < 5; q++)
    assert_close (m->brightness.edges[q], edges[q]);
  for (guint q = 0; q < 4; q++)
    {
      g_assert_cmpuint (m->brightness.count[q], ==, count[q]);
      assert_close (m->brightness.accuracy[q], accuracy[q]);
    }

  /* every image 28 × 28: all five edges 784, every image in the first slice */
  g_assert_true (m->size.present);
  for (guint q = 0; q < 5; q++)
    g_assert_cmpfloat (m->size.edges[q], ==, 784.0);
  g_assert_cmpuint (m->size.count[0], ==, 6);
  g_assert_cmpuint (m->size.n_correct[0], ==, 2);
  for (guint q = 1; q < 4; q++)
    {
      g_assert_cmpuint (m->size.count[q], ==, 0);
      g_assert_cmpfloat (m->size.accuracy[q], ==, 0.0);
    }
}

static void
test_hand_predictions (void)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 15);
  /* −ln p_true: −ln .75, −ln .25, −ln .625, −ln .25, −ln .25, −ln .0625 */
  static const double p_true[6] = { 0.75, 0.25, 0.625, 0.25, 0.25, 0.0625 };
  double mean = 0.0;

  g_assert_cmpuint (m->n_predictions, ==, 6);
  g_assert_false (m->losses_given);
  g_assert_cmpint (m->predictions[3].label, ==, 1);
  g_assert_cmpint (m->predictions[3].predicted, ==, 3);
  g_assert_cmpfloat (m->predictions[3].confidence, ==, 0.4375f);
  g_assert_cmpfloat (m->predictions[3].p_true, ==, 0.25f);
  g_assert_cmpfloat (m->predictions[1].brightness, ==, 200.0f);
  g_assert_cmpuint (m->predictions[1].pixels, ==, 784);
  g_assert_cmpstr (m->predictions[5].name, ==, "f.png");
  for (guint i = 0; i < 6; i++)
    {
      /* the loss is stored as a float */
      g_assert_cmpfloat_with_epsilon (m->predictions[i].loss, -log (p_true[i]), 1e-6);
      mean += -log (p_true[i]);
    }
  g_assert_cmpfloat_with_epsilon (m->mean_loss, mean / 6.0, 1e-6);
}

static void
test_galleries (void)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 15);
  g_autofree guint *mistakes = NULL, *correct = NULL, *fox = NULL, *cell = NULL, *loss = NULL;
  g_autofree guint *top2 = NULL, *none = NULL;
  guint n;

  /* wrong: 5 (.875), 1 (.5), 3 (.4375), 4 (.375), most confident first */
  mistakes = graft_metrics_confident_mistakes (m, 0, &n);
  g_assert_cmpuint (n, ==, 4);
  g_assert_cmpuint (mistakes[0], ==, 5);
  g_assert_cmpuint (mistakes[1], ==, 1);
  g_assert_cmpuint (mistakes[2], ==, 3);
  g_assert_cmpuint (mistakes[3], ==, 4);
  top2 = graft_metrics_confident_mistakes (m, 2, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (top2[1], ==, 1);

  /* right: 2 (.625) before 0 (.75), least confident first */
  correct = graft_metrics_unsure_correct (m, 10, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (correct[0], ==, 2);
  g_assert_cmpuint (correct[1], ==, 0);

  /* mistakes on foxes (class 2): 5, 4 */
  fox = graft_metrics_gallery (m, GRAFT_GALLERY_CONFIDENT_MISTAKES, 2, -1, 0, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (fox[0], ==, 5);
  g_assert_cmpuint (fox[1], ==, 4);
  /* the confusion cell (cat, dog): image 1 */
  cell = graft_metrics_gallery (m, GRAFT_GALLERY_CONFIDENT_MISTAKES, 0, 1, 0, &n);
  g_assert_cmpuint (n, ==, 1);
  g_assert_cmpuint (cell[0], ==, 1);
  /* nothing was predicted fox */
  none = graft_metrics_gallery (m, GRAFT_GALLERY_CONFIDENT_MISTAKES, -1, 2, 0, &n);
  g_assert_null (none);
  g_assert_cmpuint (n, ==, 0);

  /* loss: 5 (−ln .0625), then 1, 3, 4 (−ln .25 each, input order), 2, 0 */
  loss = graft_metrics_gallery (m, GRAFT_GALLERY_HIGHEST_LOSS, -1, -1, 0, &n);
  g_assert_cmpuint (n, ==, 6);
  g_assert_cmpuint (loss[0], ==, 5);
  g_assert_cmpuint (loss[1], ==, 1);
  g_assert_cmpuint (loss[2], ==, 3);
  g_assert_cmpuint (loss[3], ==, 4);
  g_assert_cmpuint (loss[4], ==, 2);
  g_assert_cmpuint (loss[5], ==, 0);
}

/* A collapsed model that gives every class the same probability: the prediction is the
 * first class, ties in top-k go to the lower index. */
static void
test_ties (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftMetrics) m = NULL;
  static const int labels[3] = { 0, 1, 2 };
  float probs[9];
  GraftMetricsInput input = { 0 };
  GraftMetricsOptions options;

  for (guint i = 0; i < 9; i++)
    probs[i] = 1.0f / 3.0f;
  input.n_images = 3;
  input.n_classes = 3;
  input.labels = labels;
  input.probs = probs;
  graft_metrics_options_init (&options);
  options.top_k = 2;
  m = graft_metrics_compute (&input, &options, &error);
  g_assert_no_error (error);

  /* all predicted 0: image 0 right, 1/3 */
  for (guint i = 0; i < 3; i++)
    g_assert_cmpint (m->predictions[i].predicted, ==, 0);
  assert_close (m->accuracy, 1.0 / 3.0);
  /* top 2: label 0 none ahead, label 1 class 0 ahead, label 2 classes 0 and 1 ahead: 2/3 */
  g_assert_cmpuint (m->top_k_correct, ==, 2);
  /* class 0: precision 1/3 (3 predicted), recall 1; classes 1, 2 never predicted: 0, 0;
   * F1 of class 0 = 2 · 1 / (1 + 3) = 1/2; macro F1 = 1/6 */
  assert_close (m->per_class[0].precision, 1.0 / 3.0);
  assert_close (m->per_class[0].recall, 1.0);
  g_assert_cmpfloat (m->per_class[1].precision, ==, 0.0);
  g_assert_cmpfloat (m->per_class[2].recall, ==, 0.0);
  assert_close (m->macro.f1, 1.0 / 6.0);
  /* the float nearest 1/3 is 0.3333333433, above the double 5/15: all three in the
   * sixth of 15 bins, (5/15, 6/15] */
  g_assert_cmpuint (m->bins[5].count, ==, 3);
  g_assert_cmpuint (m->bins[4].count, ==, 0);
  /* no brightness or sizes given: no slices */
  g_assert_false (m->brightness.present);
  g_assert_false (m->size.present);
  g_assert_cmpfloat (m->predictions[0].brightness, ==, -1.0f);
}

/* Confidences on bin edges, exactly 1, and 0 (a row of zeros, possible only with
 * non-normalised input). */
static void
test_bin_edges (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftMetrics) m = NULL;
  static const int labels[4] = { 0, 0, 1, 1 };
  /* 2 classes, 4 bins: confidences .5 (edge of bins 1 and 2 → 1), .25 (→ 0), 1 (→ 3),
   * 0 (→ 0) */
  static const float probs[8] = { 0.5f, 0.5f, 0.25f, 0.25f, 0.0f, 1.0f, 0.0f, 0.0f };
  GraftMetricsInput input = { 0 };
  GraftMetricsOptions options;

  input.n_images = 4;
  input.n_classes = 2;
  input.labels = labels;
  input.probs = probs;
  graft_metrics_options_init (&options);
  options.n_bins = 4;
  m = graft_metrics_compute (&input, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (m->bins[0].count, ==, 2);
  g_assert_cmpuint (m->bins[1].count, ==, 1);
  g_assert_cmpuint (m->bins[2].count, ==, 0);
  g_assert_cmpuint (m->bins[3].count, ==, 1);
  /* image 3: p_true 0 gives the clamped cross-entropy −ln FLT_MIN */
  g_assert_cmpfloat_with_epsilon (m->predictions[3].loss, -log (FLT_MIN), 1e-4);
  /* right: images 0 (tie → class 0), 1 (tie → 0), 2 (class 1); image 3 (zeros → 0) wrong.
   * bin 0: .25 right, 0 wrong: confidence .125, accuracy .5; bin 1: .5 right; bin 3: 1 right
   * ECE = (2 · .375 + 1 · .5 + 1 · 0) / 4 = .3125 */
  assert_close (m->ece, 0.3125);
}

static void
test_losses_given (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftMetrics) m = NULL;
  static const float losses[6] = { 0.5f, 1.5f, 0.25f, 2.0f, 3.0f, 0.75f };
  g_autofree guint *order = NULL;
  GraftMetricsInput input;
  guint n;

  hand_input (&input);
  input.losses = losses;
  m = graft_metrics_compute (&input, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (m->losses_given);
  g_assert_cmpuint (m->top_k, ==, GRAFT_METRICS_DEFAULT_TOP_K);
  g_assert_cmpuint (m->n_bins, ==, GRAFT_METRICS_DEFAULT_N_BINS);
  /* (.5 + 1.5 + .25 + 2 + 3 + .75) / 6 = 8 / 6 */
  assert_close (m->mean_loss, 8.0 / 6.0);
  order = graft_metrics_gallery (m, GRAFT_GALLERY_HIGHEST_LOSS, -1, -1, 2, &n);
  g_assert_cmpuint (n, ==, 2);
  g_assert_cmpuint (order[0], ==, 4);
  g_assert_cmpuint (order[1], ==, 3);
}

static void
expect_invalid (const GraftMetricsInput   *input,
                const GraftMetricsOptions *options,
                const char                *const *fragments)
{
  g_autoptr(GError) error = NULL;
  GraftMetrics *m = graft_metrics_compute (input, options, &error);

  g_assert_null (m);
  g_assert_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_INVALID);
  for (guint i = 0; fragments[i] != NULL; i++)
    if (strstr (error->message, fragments[i]) == NULL)
      g_error ("“%s” does not say “%s”", error->message, fragments[i]);
}

static void
test_errors (void)
{
  GraftMetricsInput input;
  GraftMetricsOptions options;
  int labels[6];
  float probs[24], losses[6] = { 0 }, brightness[6];
  guint64 pixels[6];

  hand_input (&input);
  input.n_images = 0;
  expect_invalid (&input, NULL, (const char *[]) { "no images", NULL });
  hand_input (&input);
  input.n_classes = 0;
  expect_invalid (&input, NULL, (const char *[]) { "no classes", NULL });

  hand_input (&input);
  memcpy (labels, hand_labels, sizeof labels);
  input.labels = labels;
  labels[4] = 4;
  expect_invalid (&input, NULL, (const char *[]) { "image 4 (e.png)", "label 4", "0 to 3", NULL });
  labels[4] = -1;
  input.names = NULL;
  expect_invalid (&input, NULL, (const char *[]) { "image 4 ", "label -1", NULL });

  hand_input (&input);
  memcpy (probs, hand_probs, sizeof probs);
  input.probs = probs;
  probs[2 * 4 + 3] = NAN;
  expect_invalid (&input, NULL, (const char *[]) { "image 2 (c.png)", "class 3", "not a finite", NULL });
  probs[2 * 4 + 3] = INFINITY;
  expect_invalid (&input, NULL, (const char *[]) { "image 2", "class 3", "not a finite", NULL });
  probs[2 * 4 + 3] = 3.5f;
  expect_invalid (&input, NULL, (const char *[]) { "image 2", "3.5", "outside 0 to 1", "softmax", NULL });
  probs[2 * 4 + 3] = -0.5f;
  expect_invalid (&input, NULL, (const char *[]) { "image 2", "-0.5", NULL });

  hand_input (&input);
  input.losses = losses;
  losses[1] = NAN;
  expect_invalid (&input, NULL, (const char *[]) { "image 1 (b.png)", "loss", NULL });
  losses[1] = -1.0f;
  expect_invalid (&input, NULL, (const char *[]) { "image 1", "loss -1", NULL });

  hand_input (&input);
  memcpy (brightness, hand_brightness, sizeof brightness);
  input.brightness = brightness;
  brightness[5] = 300.0f;
  expect_invalid (&input, NULL, (const char *[]) { "image 5 (f.png)", "brightness 300", NULL });
  brightness[5] = NAN;
  expect_invalid (&input, NULL, (const char *[]) { "image 5", "brightness", NULL });

  hand_input (&input);
  memcpy (pixels, hand_pixels, sizeof pixels);
  input.pixels = pixels;
  pixels[0] = 0;
  expect_invalid (&input, NULL, (const char *[]) { "image 0 (a.png)", "0 pixels", NULL });

  hand_input (&input);
  graft_metrics_options_init (&options);
  options.top_k = 0;
  expect_invalid (&input, &options, (const char *[]) { "top-k", NULL });
  graft_metrics_options_init (&options);
  options.n_bins = 0;
  expect_invalid (&input, &options, (const char *[]) { "bins", "not 0", NULL });
  options.n_bins = GRAFT_METRICS_MAX_N_BINS + 1;
  expect_invalid (&input, &options, (const char *[]) { "bins", "1001", NULL });
}

static void
assert_same_slices (const GraftQuartileSlices *a,
                    const GraftQuartileSlices *b)
{
  g_assert_cmpint (a->present, ==, b->present);
  g_assert_cmpmem (a->edges, sizeof a->edges, b->edges, sizeof b->edges);
  g_assert_cmpmem (a->count, sizeof a->count, b->count, sizeof b->count);
  g_assert_cmpmem (a->n_correct, sizeof a->n_correct, b->n_correct, sizeof b->n_correct);
  g_assert_cmpmem (a->accuracy, sizeof a->accuracy, b->accuracy, sizeof b->accuracy);
}

/* Every field equal, doubles and floats bit for bit. */
static void
assert_same_metrics (const GraftMetrics *a,
                     const GraftMetrics *b,
                     gboolean            with_predictions)
{
  gsize n2 = (gsize) a->n_classes * a->n_classes;

  g_assert_cmpuint (a->n_images, ==, b->n_images);
  g_assert_cmpuint (a->n_classes, ==, b->n_classes);
  g_assert_cmpint (a->class_names == NULL, ==, b->class_names == NULL);
  for (guint c = 0; a->class_names != NULL && c <= a->n_classes; c++)
    g_assert_cmpstr (a->class_names[c], ==, b->class_names[c]);
  g_assert_cmpuint (a->n_correct, ==, b->n_correct);
  g_assert_cmpfloat (a->accuracy, ==, b->accuracy);
  g_assert_cmpuint (a->top_k, ==, b->top_k);
  g_assert_cmpuint (a->top_k_correct, ==, b->top_k_correct);
  g_assert_cmpfloat (a->top_k_accuracy, ==, b->top_k_accuracy);
  g_assert_cmpint (a->losses_given, ==, b->losses_given);
  g_assert_cmpfloat (a->mean_loss, ==, b->mean_loss);
  g_assert_cmpmem (a->per_class, a->n_classes * sizeof (GraftClassMetrics),
                   b->per_class, b->n_classes * sizeof (GraftClassMetrics));
  g_assert_cmpmem (&a->macro, sizeof a->macro, &b->macro, sizeof b->macro);
  g_assert_cmpmem (&a->weighted, sizeof a->weighted, &b->weighted, sizeof b->weighted);
  g_assert_cmpmem (a->confusion, n2 * sizeof (guint), b->confusion, n2 * sizeof (guint));
  g_assert_cmpuint (a->n_bins, ==, b->n_bins);
  g_assert_cmpmem (a->bins, a->n_bins * sizeof (GraftReliabilityBin),
                   b->bins, b->n_bins * sizeof (GraftReliabilityBin));
  g_assert_cmpfloat (a->ece, ==, b->ece);
  g_assert_cmpfloat (a->mce, ==, b->mce);
  assert_same_slices (&a->brightness, &b->brightness);
  assert_same_slices (&a->size, &b->size);

  if (!with_predictions)
    {
      g_assert_cmpuint (b->n_predictions, ==, 0);
      g_assert_null (b->predictions);
      return;
    }
  g_assert_cmpuint (a->n_predictions, ==, b->n_predictions);
  for (guint i = 0; i < a->n_predictions; i++)
    {
      const GraftPrediction *p = &a->predictions[i], *q = &b->predictions[i];

      g_assert_cmpint (p->label, ==, q->label);
      g_assert_cmpint (p->predicted, ==, q->predicted);
      g_assert_cmpfloat (p->confidence, ==, q->confidence);
      g_assert_cmpfloat (p->p_true, ==, q->p_true);
      g_assert_cmpfloat (p->loss, ==, q->loss);
      g_assert_cmpfloat (p->brightness, ==, q->brightness);
      g_assert_cmpuint (p->pixels, ==, q->pixels);
      g_assert_cmpstr (p->name, ==, q->name);
    }
}

/* Random results whose ratios and float confidences have long expansions. */
static GraftMetrics *
random_metrics (guint32  seed,
                gboolean extras)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr(GError) error = NULL;
  guint n = 257, c = 7;
  g_autofree int *labels = g_new (int, n);
  g_autofree float *probs = g_new (float, n * c);
  g_autofree float *losses = g_new (float, n);
  g_autofree float *brightness = g_new (float, n);
  g_autofree guint64 *pixels = g_new (guint64, n);
  GraftMetricsInput input = { 0 };
  GraftMetricsOptions options;
  GraftMetrics *m;

  for (guint i = 0; i < n; i++)
    {
      double sum = 0.0;

      labels[i] = g_rand_int_range (rand, 0, (gint32) c - 1);  /* class 6 has no images */
      for (guint j = 0; j < c; j++)
        sum += probs[i * c + j] = (float) g_rand_double (rand) + (j == (guint) labels[i]);
      for (guint j = 0; j < c; j++)
        probs[i * c + j] = (float) (probs[i * c + j] / sum);
      losses[i] = (float) g_rand_double_range (rand, 0.0, 4.0);
      brightness[i] = (float) g_rand_double_range (rand, 0.0, 255.0);
      pixels[i] = (guint64) g_rand_int_range (rand, 100, 5000) * 37;
    }
  input.n_images = n;
  input.n_classes = c;
  input.labels = labels;
  input.probs = probs;
  if (extras)
    {
      input.losses = losses;
      input.brightness = brightness;
      input.pixels = pixels;
    }
  graft_metrics_options_init (&options);
  options.top_k = 3;
  options.n_bins = 11;
  m = graft_metrics_compute (&input, &options, &error);
  g_assert_no_error (error);
  return m;
}

static void
test_json_round_trip (void)
{
  GraftMetrics *sources[] = { hand_metrics (2, 4), random_metrics (7, TRUE), random_metrics (8, FALSE) };

  for (guint s = 0; s < G_N_ELEMENTS (sources); s++)
    {
      g_autoptr(GraftMetrics) m = sources[s];
      g_autoptr(GError) error = NULL;
      g_autofree char *text = graft_metrics_to_string (m, GRAFT_METRICS_JSON_DEFAULT);
      g_autofree char *short_text = graft_metrics_to_string (m, GRAFT_METRICS_JSON_NO_PREDICTIONS);
      g_autofree char *again = NULL;
      g_autoptr(GraftMetrics) back = graft_metrics_from_string (text, &error);
      g_autoptr(GraftMetrics) back_short = NULL;
      json_object *object;

      g_assert_no_error (error);
      assert_same_metrics (m, back, TRUE);
      /* written again, the same text */
      again = graft_metrics_to_string (back, GRAFT_METRICS_JSON_DEFAULT);
      g_assert_cmpstr (text, ==, again);

      back_short = graft_metrics_from_string (short_text, &error);
      g_assert_no_error (error);
      assert_same_metrics (m, back_short, FALSE);
      g_assert_null (strstr (short_text, "\"predictions\""));

      /* the object form, as run.json will embed it */
      object = graft_metrics_to_json (m, GRAFT_METRICS_JSON_DEFAULT);
      g_assert_cmpint (json_object_get_int (json_object_object_get (object, "schema")), ==, 1);
      {
        g_autoptr(GraftMetrics) from_object = graft_metrics_from_json (object, &error);

        g_assert_no_error (error);
        assert_same_metrics (m, from_object, TRUE);
      }
      json_object_put (object);
    }
}

static void
expect_parse_error (const char *text,
                    int         code,
                    const char *fragment)
{
  g_autoptr(GError) error = NULL;
  GraftMetrics *m = graft_metrics_from_string (text, &error);

  g_assert_null (m);
  g_assert_error (error, GRAFT_EVAL_ERROR, code);
  if (strstr (error->message, fragment) == NULL)
    g_error ("“%s” does not say “%s”", error->message, fragment);
}

/* The hand metrics' JSON with one member replaced (@path "a.b[2].c"; @value NULL removes
 * it), as text. */
static char *
edited_json (const char *path,
             const char *value)
{
  g_autoptr(GraftMetrics) m = hand_metrics (2, 4);
  json_object *root = graft_metrics_to_json (m, GRAFT_METRICS_JSON_DEFAULT);
  json_object *parent = root;
  g_auto(GStrv) parts = g_strsplit (path, ".", -1);
  char *text;
  guint i;

  for (i = 0; parts[i + 1] != NULL; i++)
    {
      char *bracket = strchr (parts[i], '[');

      if (bracket != NULL)
        {
          *bracket = '\0';
          parent = json_object_array_get_idx (json_object_object_get (parent, parts[i]),
                                              (gsize) atoi (bracket + 1));
        }
      else
        parent = json_object_object_get (parent, parts[i]);
      g_assert_nonnull (parent);
    }
  if (value == NULL)
    json_object_object_del (parent, parts[i]);
  else
    json_object_object_add (parent, parts[i], json_tokener_parse (value));
  text = g_strdup (json_object_to_json_string (root));
  json_object_put (root);
  return text;
}

static void
test_json_errors (void)
{
  struct {
    const char *path;
    const char *value;
    int         code;
    const char *says;
  } cases[] = {
    { "schema", "2", GRAFT_EVAL_ERROR_VERSION, "newer version" },
    { "schema", "0", GRAFT_EVAL_ERROR_PARSE, "“schema”" },
    { "accuracy", NULL, GRAFT_EVAL_ERROR_PARSE, "“accuracy” is missing" },
    { "accuracy", "\"high\"", GRAFT_EVAL_ERROR_PARSE, "“accuracy” must be a number" },
    { "accuracy", "1.5", GRAFT_EVAL_ERROR_PARSE, "“accuracy” must be a number from 0 to 1" },
    { "n_images", "0", GRAFT_EVAL_ERROR_PARSE, "“n_images”" },
    { "top_k.k", "0", GRAFT_EVAL_ERROR_PARSE, "“top_k.k”" },
    { "per_class[2].recall", "-0.1", GRAFT_EVAL_ERROR_PARSE, "“per_class[2].recall”" },
    { "per_class[3].support", "7", GRAFT_EVAL_ERROR_PARSE, "“per_class[3].support”" },
    { "per_class[1].f1", NULL, GRAFT_EVAL_ERROR_PARSE, "“per_class[1].f1” is missing" },
    { "macro.f1", "null", GRAFT_EVAL_ERROR_PARSE, "“macro.f1” is missing" },
    { "confusion", "[[1,1,0,0],[0,1,0,1],[1,1,0,0]]", GRAFT_EVAL_ERROR_PARSE, "“confusion” has 3 items, not 4" },
    { "confusion", "[[1,1,0,0],[0,1,0,1],[1,1,0,0],[0,0,0,1]]", GRAFT_EVAL_ERROR_PARSE, "counts 7 images" },
    { "confusion", "[[1,1,0,0],[0,1,0,1],[1,1,0],[0,0,0,0]]", GRAFT_EVAL_ERROR_PARSE, "“confusion[2]”" },
    { "calibration.bins", "[]", GRAFT_EVAL_ERROR_PARSE, "“calibration.bins”" },
    { "calibration.bins[1].count", "-3", GRAFT_EVAL_ERROR_PARSE, "“calibration.bins[1].count”" },
    { "brightness.edges", "[1, 2, 3, 4]", GRAFT_EVAL_ERROR_PARSE, "“brightness.edges” has 4 items, not 5" },
    { "brightness.edges", "[1, 2, 5, 4, 6]", GRAFT_EVAL_ERROR_PARSE, "“brightness.edges[3]”" },
    { "size.slices[3].n_correct", "1", GRAFT_EVAL_ERROR_PARSE, "“size.slices[3].n_correct”" },
    { "predictions", "[]", GRAFT_EVAL_ERROR_PARSE, "“predictions” has 0 items, not 6" },
    { "predictions[4].predicted", "4", GRAFT_EVAL_ERROR_PARSE, "“predictions[4].predicted” must be 0 to 3" },
    { "predictions[0].name", "3", GRAFT_EVAL_ERROR_PARSE, "“predictions[0].name” must be a string" },
    { "classes", "[\"cat\"]", GRAFT_EVAL_ERROR_PARSE, "“classes” has 1 items, not 4" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *text = edited_json (cases[i].path, cases[i].value);

      expect_parse_error (text, cases[i].code, cases[i].says);
    }
  expect_parse_error ("{ \"schema\": 1, ", GRAFT_EVAL_ERROR_PARSE, "not JSON");
  expect_parse_error ("[1, 2]", GRAFT_EVAL_ERROR_PARSE, "expected an object");
  expect_parse_error ("{ \"schema\": 1 } x", GRAFT_EVAL_ERROR_PARSE, "not JSON");

  /* without the optional members: no class names, no slices, no predictions */
  {
    g_autoptr(GraftMetrics) m = hand_metrics (2, 4);
    g_autoptr(GError) error = NULL;
    json_object *root = graft_metrics_to_json (m, GRAFT_METRICS_JSON_NO_PREDICTIONS);
    g_autoptr(GraftMetrics) back = NULL;

    json_object_object_del (root, "classes");
    json_object_object_del (root, "brightness");
    json_object_object_del (root, "size");
    back = graft_metrics_from_json (root, &error);
    json_object_put (root);
    g_assert_no_error (error);
    g_assert_null (back->class_names);
    g_assert_false (back->brightness.present);
    g_assert_false (back->size.present);
    g_assert_cmpfloat (back->macro.f1, ==, m->macro.f1);
  }
}

/* scikit-learn's answers */

static gboolean
require_sklearn (void)
{
  return g_strcmp0 (g_getenv ("GRAFT_TEST_REQUIRE_TORCH"), "1") == 0;
}

static json_object *
member (json_object *object,
        const char  *key)
{
  json_object *value = NULL;

  if (!json_object_object_get_ex (object, key, &value))
    g_error ("the scikit-learn file has no member %s", key);
  return value;
}

static double
number_at (json_object *list,
           gsize        i)
{
  return json_object_get_double (json_object_array_get_idx (list, i));
}

static void
check_slices (const char                *what,
              const GraftQuartileSlices *slices,
              json_object               *want)
{
  json_object *edges = member (want, "edges"), *count = member (want, "count");
  json_object *accuracy = member (want, "accuracy");

  g_test_message ("  %s slices: %u %u %u %u", what, slices->count[0], slices->count[1],
                  slices->count[2], slices->count[3]);
  g_assert_true (slices->present);
  for (guint q = 0; q <= GRAFT_METRICS_N_QUARTILES; q++)
    assert_close (slices->edges[q], number_at (edges, q));
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    {
      g_assert_cmpuint (slices->count[q], ==, json_object_get_int (json_object_array_get_idx (count, q)));
      assert_close (slices->accuracy[q], number_at (accuracy, q));
    }
}

static void
check_case (json_object *c)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftMetrics) m = NULL;
  const char *name = json_object_get_string (member (c, "name"));
  json_object *labels_json = member (c, "labels"), *probs_json = member (c, "probs");
  json_object *want = member (c, "expected"), *value;
  guint n = (guint) json_object_array_length (labels_json);
  guint n_classes = (guint) json_object_get_int (member (c, "n_classes"));
  g_autofree int *labels = g_new (int, n);
  g_autofree float *probs = g_new (float, (gsize) n * n_classes);
  g_autofree float *losses = NULL;
  g_autofree float *brightness = NULL;
  g_autofree guint64 *pixels = NULL;
  GraftMetricsInput input = { 0 };
  GraftMetricsOptions options;
  json_object *precision, *recall, *f1, *support, *confusion, *bins;

  g_assert_cmpuint (json_object_array_length (probs_json), ==, (gsize) n * n_classes);
  for (guint i = 0; i < n; i++)
    labels[i] = json_object_get_int (json_object_array_get_idx (labels_json, i));
  /* float32 values written as doubles: the cast is exact */
  for (gsize i = 0; i < (gsize) n * n_classes; i++)
    probs[i] = (float) number_at (probs_json, i);
  if (json_object_object_get_ex (c, "losses", &value))
    {
      losses = g_new (float, n);
      for (guint i = 0; i < n; i++)
        losses[i] = (float) number_at (value, i);
    }
  if (json_object_object_get_ex (c, "brightness", &value))
    {
      brightness = g_new (float, n);
      for (guint i = 0; i < n; i++)
        brightness[i] = (float) number_at (value, i);
    }
  if (json_object_object_get_ex (c, "pixels", &value))
    {
      pixels = g_new (guint64, n);
      for (guint i = 0; i < n; i++)
        pixels[i] = (guint64) json_object_get_int64 (json_object_array_get_idx (value, i));
    }

  input.n_images = n;
  input.n_classes = n_classes;
  input.labels = labels;
  input.probs = probs;
  input.losses = losses;
  input.brightness = brightness;
  input.pixels = pixels;
  graft_metrics_options_init (&options);
  options.top_k = (guint) json_object_get_int (member (c, "k"));
  options.n_bins = (guint) json_object_get_int (member (c, "n_bins"));
  m = graft_metrics_compute (&input, &options, &error);
  g_assert_no_error (error);

  g_test_message ("%s: %u images, %u classes, accuracy %.4f, top-%u %.4f, macro F1 %.4f, "
                  "ECE %.4f", name, n, n_classes, m->accuracy, m->top_k, m->top_k_accuracy,
                  m->macro.f1, m->ece);

  g_assert_cmpuint (m->n_correct, ==, json_object_get_int (member (want, "n_correct")));
  assert_close (m->accuracy, json_object_get_double (member (want, "accuracy")));
  assert_close (m->top_k_accuracy, json_object_get_double (member (want, "top_k_accuracy")));
  if (json_object_object_get_ex (want, "top_k_accuracy_sklearn_order", &value))
    {
      /* the ties of this case are real: scikit-learn's own order gives another number */
      g_test_message ("  top-k with ties: %.4f; scikit-learn's order: %.4f",
                      m->top_k_accuracy, json_object_get_double (value));
      g_assert_cmpfloat (fabs (m->top_k_accuracy - json_object_get_double (value)), >, 1e-3);
    }

  precision = member (want, "precision");
  recall = member (want, "recall");
  f1 = member (want, "f1");
  support = member (want, "support");
  for (guint k = 0; k < n_classes; k++)
    {
      g_assert_cmpuint (m->per_class[k].support, ==,
                        json_object_get_int (json_object_array_get_idx (support, k)));
      assert_close (m->per_class[k].precision, number_at (precision, k));
      assert_close (m->per_class[k].recall, number_at (recall, k));
      assert_close (m->per_class[k].f1, number_at (f1, k));
    }
  assert_close (m->macro.precision, number_at (member (want, "macro"), 0));
  assert_close (m->macro.recall, number_at (member (want, "macro"), 1));
  assert_close (m->macro.f1, number_at (member (want, "macro"), 2));
  assert_close (m->weighted.precision, number_at (member (want, "weighted"), 0));
  assert_close (m->weighted.recall, number_at (member (want, "weighted"), 1));
  assert_close (m->weighted.f1, number_at (member (want, "weighted"), 2));

  confusion = member (want, "confusion");
  for (guint t = 0; t < n_classes; t++)
    for (guint p = 0; p < n_classes; p++)
      g_assert_cmpuint (graft_metrics_get_confusion (m, t, p), ==,
                        json_object_get_int (json_object_array_get_idx (
                          json_object_array_get_idx (confusion, t), p)));

  assert_close (m->ece, json_object_get_double (member (want, "ece")));
  bins = member (want, "bins");
  for (guint b = 0; b < m->n_bins; b++)
    {
      g_assert_cmpuint (m->bins[b].count, ==,
                        json_object_get_int (json_object_array_get_idx (member (bins, "count"), b)));
      assert_close (m->bins[b].confidence, number_at (member (bins, "confidence"), b));
      assert_close (m->bins[b].accuracy, number_at (member (bins, "accuracy"), b));
    }
  /* per-image losses are float32 on both sides, the mean in double */
  assert_close (m->mean_loss, json_object_get_double (member (want, "mean_loss")));

  if (json_object_object_get_ex (want, "brightness", &value))
    check_slices ("brightness", &m->brightness, value);
  else
    g_assert_false (m->brightness.present);
  if (json_object_object_get_ex (want, "size", &value))
    check_slices ("size", &m->size, value);
  else
    g_assert_false (m->size.present);
}

static void
test_sklearn (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("graft-eval-XXXXXX", &error);
  g_autofree char *out = NULL;
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "sklearn_metrics.py", NULL);
  g_autofree char *stderr_text = NULL;
  const char *python = g_getenv ("GRAFT_TEST_PYTHON") != NULL ? g_getenv ("GRAFT_TEST_PYTHON")
                                                              : "/usr/bin/python3";
  json_object *root, *cases;
  int status = 0;

  g_assert_no_error (error);
  out = g_build_filename (dir, "sklearn.json", NULL);
  {
    const char *argv[] = { python, script, out, NULL };

    if (!g_file_test (python, G_FILE_TEST_IS_EXECUTABLE) ||
        !g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL,
                       &stderr_text, &status, &error) ||
        !g_spawn_check_wait_status (status, NULL))
      {
        g_autofree char *why = g_strdup_printf ("%s could not run (install python3-sklearn): %s",
                                                script, error != NULL ? error->message
                                                : stderr_text != NULL ? g_strchomp (stderr_text) : "");

        g_remove (out);
        g_rmdir (dir);
        if (require_sklearn ())
          g_test_fail_printf ("%s (GRAFT_TEST_REQUIRE_TORCH=1)", why);
        else
          g_test_skip (why);
        return;
      }
  }

  root = json_object_from_file (out);
  g_assert_nonnull (root);
  g_remove (out);
  g_rmdir (dir);
  g_test_message ("scikit-learn %s", json_object_get_string (member (root, "sklearn")));
  cases = member (root, "cases");
  g_assert_cmpuint (json_object_array_length (cases), >=, 5);
  for (gsize i = 0; i < json_object_array_length (cases); i++)
    check_case (json_object_array_get_idx (cases, i));
  json_object_put (root);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/eval/metrics/hand/counts", test_hand_counts);
  g_test_add_func ("/eval/metrics/hand/top-k", test_hand_top_k);
  g_test_add_func ("/eval/metrics/hand/calibration", test_hand_calibration);
  g_test_add_func ("/eval/metrics/hand/slices", test_hand_slices);
  g_test_add_func ("/eval/metrics/hand/predictions", test_hand_predictions);
  g_test_add_func ("/eval/metrics/galleries", test_galleries);
  g_test_add_func ("/eval/metrics/ties", test_ties);
  g_test_add_func ("/eval/metrics/bin-edges", test_bin_edges);
  g_test_add_func ("/eval/metrics/losses-given", test_losses_given);
  g_test_add_func ("/eval/metrics/errors", test_errors);
  g_test_add_func ("/eval/metrics/json/round-trip", test_json_round_trip);
  g_test_add_func ("/eval/metrics/json/errors", test_json_errors);
  g_test_add_func ("/eval/metrics/sklearn", test_sklearn);
  return g_test_run ();
}
