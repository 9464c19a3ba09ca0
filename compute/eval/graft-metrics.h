/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What a classifier got right and wrong on a set of images, computed from its per-image
 * results: the true label and the predicted probabilities (softmax output), optionally
 * the loss, the brightness and the size of each image.
 *
 * Definitions (those of scikit-learn 1.2 where it has the metric):
 *   - prediction: the class of highest probability; among equal probabilities the lowest
 *     class index (numpy.argmax, torch.argmax). Confidence: that probability.
 *   - accuracy = correct / N.
 *   - top-k accuracy: the true class y counts as among the k best when
 *       #{j : p_j > p_y} + #{j < y : p_j = p_y} < k,
 *     that is ties go to the lower class index, as for the prediction, so top-1 accuracy
 *     always equals accuracy. scikit-learn's top_k_accuracy_score breaks ties the other
 *     way (its stable sort, reversed, puts the higher index first); the two agree
 *     whenever the probabilities of an image are distinct. k ≥ number of classes gives 1.
 *   - per class c, with TP the images of class c predicted c, support the images of
 *     class c, predicted the images predicted c:
 *       precision = TP / predicted, recall = TP / support,
 *       F1 = 2 precision recall / (precision + recall) = 2 TP / (support + predicted);
 *     a ratio whose denominator is 0 (a class never predicted, a class without images)
 *     is 0: scikit-learn's zero_division=0. Such a class keeps its place in the
 *     averages, where it pulls the macro average down.
 *   - macro average: the mean of the per-class values over all n_classes classes, those
 *     without images included (scikit-learn with labels=range(n_classes)).
 *     Weighted average: the mean weighted by support (classes without images weigh 0).
 *   - confusion matrix: confusion[true * n_classes + predicted], images counted.
 *   - calibration: n_bins equal-width bins of confidence, bin b = (b/M, (b+1)/M] (the
 *     first also holds a confidence of exactly 0); per bin the count, the mean
 *     confidence and the accuracy; ECE = Σ_b |accuracy_b − confidence_b| · count_b / N,
 *     MCE = max over non-empty bins of |accuracy_b − confidence_b|.
 *   - slices by brightness (mean luma 0–255) and by size (pixels): the quartile edges are
 *     numpy.percentile's (linear interpolation) at 0, 25, 50, 75 and 100 %; slice q holds
 *     the images with edges[q] < v ≤ edges[q+1] (the first slice includes edges[0]). Many
 *     equal values make equal edges and empty slices: a dataset of one image size has a
 *     single non-empty size slice.
 *   - loss: the caller's per-image loss when given, else the cross-entropy −ln p_y
 *     (p_y at least FLT_MIN, so at most about 87.3).
 * Every ratio is computed in double precision from the counts; an empty bin or slice has
 * accuracy and confidence 0 and a count of 0 that says so. */

#include <glib.h>

#include "graft-eval-error.h"

G_BEGIN_DECLS

/* json-c's object, without its header. */
struct json_object;

#define GRAFT_METRICS_SCHEMA_VERSION 1
#define GRAFT_METRICS_DEFAULT_TOP_K  5
#define GRAFT_METRICS_DEFAULT_N_BINS 15
#define GRAFT_METRICS_MAX_N_BINS     1000

/* One classifier's results on n_images images. */
typedef struct {
  guint               n_images;
  guint               n_classes;
  const int          *labels;       /* [n_images]: the true class, 0 to n_classes − 1 */
  const float        *probs;        /* [n_images × n_classes], row-major: each row the
                                     * softmax of the image's logits, values in [0, 1] */
  const float        *losses;       /* [n_images] or NULL: the training loss of each image */
  const float        *brightness;   /* [n_images] or NULL: mean luma, 0 to 255 */
  const guint64      *pixels;       /* [n_images] or NULL: width × height, at least 1 */
  const char * const *names;        /* [n_images] or NULL: the images' names, for galleries */
  const char * const *class_names;  /* [n_classes] or NULL */
} GraftMetricsInput;

typedef struct {
  guint top_k;   /* the k of top-k accuracy, at least 1; default GRAFT_METRICS_DEFAULT_TOP_K */
  guint n_bins;  /* calibration bins, 1 to GRAFT_METRICS_MAX_N_BINS; default 15 */
} GraftMetricsOptions;

void graft_metrics_options_init (GraftMetricsOptions *options);

typedef struct {
  guint  support;         /* images of this class */
  guint  n_predicted;     /* images predicted as this class */
  guint  true_positives;  /* images of this class predicted as it */
  double precision;
  double recall;
  double f1;
} GraftClassMetrics;

typedef struct {
  double precision;
  double recall;
  double f1;
} GraftMetricsAverage;

typedef struct {
  double lower;       /* b / n_bins */
  double upper;       /* (b + 1) / n_bins */
  guint  count;
  guint  n_correct;
  double confidence;  /* mean confidence of the bin's images */
  double accuracy;    /* n_correct / count */
} GraftReliabilityBin;

#define GRAFT_METRICS_N_QUARTILES 4

/* Accuracy by quartile of a per-image value (brightness or size). */
typedef struct {
  gboolean present;                              /* the value was given */
  double   edges[GRAFT_METRICS_N_QUARTILES + 1]; /* min, q1, median, q3, max */
  guint    count[GRAFT_METRICS_N_QUARTILES];
  guint    n_correct[GRAFT_METRICS_N_QUARTILES];
  double   accuracy[GRAFT_METRICS_N_QUARTILES];
} GraftQuartileSlices;

typedef struct {
  int      label;       /* the true class */
  int      predicted;   /* the class of highest probability */
  float    confidence;  /* its probability */
  float    p_true;      /* the probability of the true class */
  float    loss;
  float    brightness;  /* −1 when not given */
  guint64  pixels;      /* 0 when not given */
  char    *name;        /* NULL when not given */
} GraftPrediction;

/* Everything is read-only for the caller; free with graft_metrics_free(). */
typedef struct {
  guint                n_images;
  guint                n_classes;
  char               **class_names;     /* NULL-terminated, or NULL */

  guint                n_correct;
  double               accuracy;
  guint                top_k;
  guint                top_k_correct;
  double               top_k_accuracy;
  gboolean             losses_given;    /* FALSE: the losses are −ln p_true */
  double               mean_loss;

  GraftClassMetrics   *per_class;       /* [n_classes] */
  GraftMetricsAverage  macro;
  GraftMetricsAverage  weighted;
  guint               *confusion;       /* [n_classes × n_classes]: [true × n + predicted] */

  guint                n_bins;
  GraftReliabilityBin *bins;            /* [n_bins] */
  double               ece;
  double               mce;

  GraftQuartileSlices  brightness;
  GraftQuartileSlices  size;

  /* [n_predictions] in input order; n_predictions is n_images, or 0 for metrics read
   * from JSON written without them. */
  guint                n_predictions;
  GraftPrediction     *predictions;
} GraftMetrics;

/* The metrics of @input; @options may be NULL for the defaults. Fails with INVALID,
 * naming the image and class at fault, for no images or classes, a label out of range,
 * a probability that is not finite or outside [0, 1], a loss that is not finite or is
 * negative, a brightness outside [0, 255], a size of 0 pixels, or options out of range. */
GraftMetrics *graft_metrics_compute (const GraftMetricsInput    *input,
                                     const GraftMetricsOptions  *options,
                                     GError                    **error);
void          graft_metrics_free    (GraftMetrics               *self);

/* The count of images of class @true_class predicted as @predicted. */
guint         graft_metrics_get_confusion (const GraftMetrics *self,
                                           guint               true_class,
                                           guint               predicted);

typedef enum {
  GRAFT_GALLERY_CONFIDENT_MISTAKES,  /* wrong predictions, most confident first */
  GRAFT_GALLERY_UNSURE_CORRECT,      /* right predictions, least confident first */
  GRAFT_GALLERY_HIGHEST_LOSS,        /* all images, highest loss first */
} GraftGalleryKind;

/* The indices into self->predictions of at most @max images (0: no limit) of the kind
 * asked, restricted to images of true class @true_class and predicted class
 * @predicted_class (each −1 for any: a confusion cell is both given). Equal keys keep
 * input order. Returns NULL with *n_out = 0 when none qualify; g_free() the result. */
guint        *graft_metrics_gallery (const GraftMetrics *self,
                                     GraftGalleryKind    kind,
                                     int                 true_class,
                                     int                 predicted_class,
                                     guint               max,
                                     guint              *n_out);
/* graft_metrics_gallery() of every class. */
guint        *graft_metrics_confident_mistakes (const GraftMetrics *self,
                                                guint               max,
                                                guint              *n_out);
guint        *graft_metrics_unsure_correct     (const GraftMetrics *self,
                                                guint               max,
                                                guint              *n_out);

typedef enum {
  GRAFT_METRICS_JSON_DEFAULT        = 0,
  GRAFT_METRICS_JSON_NO_PREDICTIONS = 1 << 0,  /* leave the per-image predictions out */
} GraftMetricsJsonFlags;

/* The metrics as a JSON object (a new reference; json_object_put() it), for run.json:
 *   { "schema": 1, "n_images", "n_classes", "classes" (if named), "n_correct", "accuracy",
 *     "top_k": { "k", "n_correct", "accuracy" }, "losses_given", "mean_loss",
 *     "per_class": [ { "support", "predicted", "true_positives", "precision", "recall",
 *                      "f1" } … ],
 *     "macro": { "precision", "recall", "f1" }, "weighted": { … },
 *     "confusion": [ [ row of true class 0 ] … ],
 *     "calibration": { "ece", "mce", "bins": [ { "lower", "upper", "count", "n_correct",
 *                                                "confidence", "accuracy" } … ] },
 *     "brightness", "size": { "edges": [5], "slices": [ { "count", "n_correct",
 *                                                          "accuracy" } × 4 ] } (if given),
 *     "predictions": [ { "label", "predicted", "confidence", "p_true", "loss",
 *                        "brightness", "pixels", "name" (those given) } … ] }
 * Numbers are written with 17 significant digits, so reading them back gives the same
 * doubles and floats. */
struct json_object *graft_metrics_to_json   (const GraftMetrics     *self,
                                             GraftMetricsJsonFlags   flags);
/* Metrics read back from graft_metrics_to_json()'s object, checked field by field:
 * PARSE names the field at fault, VERSION a schema newer than this Graft reads. */
GraftMetrics       *graft_metrics_from_json (struct json_object     *object,
                                             GError                **error);
/* The same as text, on one line (a confusion matrix or thousands of predictions
 * pretty-printed by json-c would take a line per number). */
char               *graft_metrics_to_string   (const GraftMetrics     *self,
                                               GraftMetricsJsonFlags   flags);
GraftMetrics       *graft_metrics_from_string (const char             *text,
                                               GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftMetrics, graft_metrics_free)

G_END_DECLS
