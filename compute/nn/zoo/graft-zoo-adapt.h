/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "nn/graft-weights.h"
#include "nn/zoo/graft-zoo.h"

G_BEGIN_DECLS

/* Pre-trained weights (a state dict in torchvision's names, ImageNet's 1000 classes,
 * 3 channels, 224 pixels as a rule) made to fit the user's task: a new head for their
 * classes, a first convolution for their number of channels, position embeddings for
 * their image size. Every other tensor is copied as it is, and every other difference
 * is an error naming the tensor. graft_zoo_check_fit() tells beforehand, from shapes
 * alone, what loading will do and why; graft_zoo_adapt() does it. */

typedef enum {
  GRAFT_ZOO_FIT_ADAPT,    /* loading changes weights to fit, as the text says */
  GRAFT_ZOO_FIT_NOTE,     /* nothing changes, but worth knowing */
  GRAFT_ZOO_FIT_WARNING,  /* it loads, but may train poorly */
  GRAFT_ZOO_FIT_ERROR,    /* it cannot load so; the text says what to change */
} GraftZooFitKind;

typedef enum {
  GRAFT_ZOO_FIT_HEAD,        /* the classifier */
  GRAFT_ZOO_FIT_CHANNELS,    /* the first convolution and the input's normalisation */
  GRAFT_ZOO_FIT_RESOLUTION,  /* image size, position embeddings */
} GraftZooFitTopic;

typedef struct {
  GraftZooFitKind   kind;
  GraftZooFitTopic  topic;
  char             *text;   /* one sentence or two: what happens and why */
} GraftZooFitLine;

/* What a file of weights was trained for. */
typedef struct {
  guint        n_classes;    /* the classifier's outputs; 0 when the weights have no head */
  GraftZooHead head;         /* the classifier's form */
  guint        head_hidden;  /* its hidden width, for an MLP head */
  guint        in_channels;  /* the first convolution's input channels */
  guint        image_size;   /* the images' size in training */
} GraftZooSource;

/* ImageNet's: 1000 classes through a linear head, 3 channels, 224 pixels. */
void         graft_zoo_source_init          (GraftZooSource        *source);

/* @source filled from the shapes in @weights (in torchvision's names for @arch): the
 * classifier's classes and form, the first convolution's channels and, for the Vision
 * Transformer, the image size its position embeddings cover (16 pixels per patch);
 * convolutional networks take 224 unless the weights' metadata says "image_size". A
 * missing or misshapen first convolution or position embedding is a GRAFT_IO_ERROR
 * naming it. */
gboolean     graft_zoo_source_from_weights  (const char            *arch,
                                             GraftWeights          *weights,
                                             GraftZooSource        *source,
                                             GError               **error);

typedef struct {
  GPtrArray *lines;          /* GraftZooFitLine *, in the order loading applies them */
  gboolean   head_replaced;  /* FALSE when the weights' classifier already fits and is kept */
  gsize      n_head_params;  /* learned values in the head */
  gsize      n_params;       /* learned values in the model (graft_zoo_adapt() only) */
  gsize      n_trainable;    /* of which trainable (graft_zoo_adapt() only) */
} GraftZooAdaptReport;

void         graft_zoo_adapt_report_init    (GraftZooAdaptReport   *report);
/* Frees what @report holds (a zeroed one too); init it again to use it again. */
void         graft_zoo_adapt_report_clear   (GraftZooAdaptReport   *report);
/* Every line on its own ("Warning: …", "Error: …" for those kinds) and, when a model was
 * adapted, a last one with the parameter counts; for the command line. */
char        *graft_zoo_adapt_report_to_string (const GraftZooAdaptReport *report);
/* Whether a line of @kind is in @report. */
gboolean     graft_zoo_adapt_report_has     (const GraftZooAdaptReport *report,
                                             GraftZooFitKind        kind);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GraftZooAdaptReport, graft_zoo_adapt_report_clear)

/* What loading weights trained as @source into @arch built with @target (NULL: the
 * defaults) will do, from the shapes alone: @report (initialised; its earlier lines are
 * dropped) lists each adaptation with its reason, the notes and the warnings, and gets
 * the head's parameter count. FALSE when some line is an error (an image size the
 * Vision Transformer cannot cut into patches, no classes), with that line's text in
 * @error (GRAFT_MODEL_ERROR_SHAPE; GRAFT_MODEL_ERROR_ARCH for an unknown @arch). */
gboolean     graft_zoo_check_fit            (const char            *arch,
                                             const GraftZooSource  *source,
                                             const GraftZooOptions *target,
                                             GraftZooAdaptReport   *report,
                                             GError               **error);

/* A model of @arch built with @target (NULL: the defaults) holding @source's weights,
 * adapted:
 *   - the classifier (graft_zoo_get_classifier(): "fc", "classifier.N", "heads.head") is
 *     replaced by @target's head, as graft_zoo_build() initialises it from @target's seed,
 *     unless the weights' classifier has exactly its form and classes (then it is kept);
 *   - the first convolution (graft_zoo_get_first_conv()) is fitted to @target's channels
 *     as timm's adapt_input_conv does: summed over the weights' channels for one-channel
 *     images; otherwise the weights' channels repeated in turn and scaled by
 *     weights' channels / target channels (so one-channel weights give each of three
 *     channels a third: the original network on the channels' mean);
 *   - the Vision Transformer's position embeddings are resized to @target's grid of
 *     16-pixel patches as torchvision's interpolate_embeddings does (the class token's
 *     kept, the grid resized bicubically with align_corners);
 *   - every other tensor is copied as it is.
 * Any other missing, unexpected or misshapen tensor is a GRAFT_IO_ERROR naming each one
 * with the file's and the model's shapes; graft_zoo_check_fit()'s errors fail as they
 * do there. @report (may be NULL) gets the check's lines and the parameter counts. */
GraftModel  *graft_zoo_adapt                (GraftBackend          *backend,
                                             const char            *arch,
                                             GraftWeights          *source,
                                             const GraftZooOptions *target,
                                             GraftZooAdaptReport   *report,
                                             GError               **error);

/* The input normalisation for @target_channels-channel images, given the per-channel
 * @source_mean and @source_std (@source_channels each) the weights were trained with,
 * to match the first convolution as graft_zoo_adapt() fits it. One channel from several
 * takes the mean of their means and the mean of their standard deviations: summed
 * weights then see (x - mean) / std as each colour channel of a grey image would, to
 * the extent the channels' statistics agree (ImageNet's 0.485, 0.456, 0.406 and 0.229,
 * 0.224, 0.225 give 0.449 and 0.226). Otherwise channel c takes the weights' channel
 * c mod @source_channels, as the weights are repeated (one-channel statistics for all
 * channels). */
void         graft_zoo_adapt_normalisation  (guint                  source_channels,
                                             const float           *source_mean,
                                             const float           *source_std,
                                             guint                  target_channels,
                                             float                 *target_mean,
                                             float                 *target_std);

G_END_DECLS
