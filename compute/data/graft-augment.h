/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Augmentation of training images: random resized crop, horizontal and vertical flips,
 * rotation and colour jitter, each with its own probability and range, always applied in
 * that order, and the boxes of detection samples moved with the pixels.
 *
 * Randomness. Everything random about one image is drawn by graft_augment_draw() from a
 * 64-bit seed; graft_augment_seed() derives that seed from the run's seed, the epoch and
 * the sample's index in its dataset, so an image is augmented the same way whatever
 * thread, batch or order it comes in, and differently in each epoch. No global state.
 *
 * Geometry. The drawn parameters are in fractions of the source image, so that the same
 * seed gives the same picture whether the source is the original file or a smaller copy
 * of it from the preprocessing cache (GraftImageCache). The output is @size × @size:
 *   1. crop: with probability crop_probability, torchvision's RandomResizedCrop (area a
 *      fraction in crop_scale of the image's, aspect ratio w/h log-uniform in crop_ratio,
 *      ten tries, then the largest centred crop within the ratio range); otherwise the
 *      fixed view of @resize (the centred square of centre_fraction of the shorter side,
 *      as torchvision's Resize(256) + CenterCrop(224) evaluation, or the whole image
 *      stretched to the square, which keeps every box). The crop is resized to the square
 *      with bilinear interpolation.
 *   2. flips of the square, horizontal then vertical;
 *   3. rotation of the square about its centre by an angle uniform in rotate_degrees
 *      (positive is counter-clockwise as displayed), bilinear; the corners that come from
 *      outside the square take the fill value (no pixel from outside the crop enters);
 *   4. colour jitter with torchvision's definitions, in this fixed order: brightness
 *      (every value times a factor), contrast (a blend with the mean of the image's
 *      luma), saturation (a blend with each pixel's luma; nothing for grey images), each
 *      with its own probability and a factor uniform in its range, values kept in
 *      [0, 255] after each step. (torchvision's ColorJitter shuffles these three; here
 *      their order is fixed.)
 * The output is 8-bit pixels (a GraftImage, for display) or float32 CHW planes
 * normalised per channel, (v / 255 - mean) / std, ready for a model's input.
 *
 * Boxes (GraftBox, in pixels of the source) follow steps 1–3: the four corners are
 * mapped, a rotated box becomes the axis-aligned bounds of its corners, and the result
 * is clipped to the output square. A box is dropped when less than box_min_visible of
 * its mapped area remains inside the square, or when it is left less than one pixel
 * wide or high. */

#include <glib.h>

#include "graft-dataset.h"
#include "graft-image.h"

G_BEGIN_DECLS

/* The view of an image when the random crop is not applied (and in evaluation). */
typedef enum {
  GRAFT_AUGMENT_RESIZE_CENTRE_CROP,  /* the centred square of centre_fraction of the
                                      * shorter side: classification */
  GRAFT_AUGMENT_RESIZE_STRETCH,      /* the whole image, aspect not kept: detection */
} GraftAugmentResize;

typedef struct {
  guint               size;               /* output side in pixels */

  float               crop_probability;   /* 1 */
  float               crop_scale[2];      /* 0.08, 1: fraction of the image's area */
  float               crop_ratio[2];      /* 3/4, 4/3: width / height */
  GraftAugmentResize  resize;             /* CENTRE_CROP */
  float               centre_fraction;    /* 0.875 (224 of 256) */

  float               hflip_probability;  /* 0.5 */
  float               vflip_probability;  /* 0 */

  float               rotate_probability; /* 0 */
  float               rotate_degrees[2];  /* -15, 15 */
  guint8              fill;               /* 0: the value of pixels rotated in */

  float               brightness_probability;  /* 0 */
  float               brightness[2];           /* 0.6, 1.4: the factor's range */
  float               contrast_probability;    /* 0 */
  float               contrast[2];             /* 0.6, 1.4 */
  float               saturation_probability;  /* 0 */
  float               saturation[2];           /* 0.6, 1.4 */

  float               box_min_visible;    /* 0.25 */
} GraftAugmentOptions;

/* Training defaults for an output of @size: random resized crop and horizontal flips on;
 * vertical flips, rotation and colour jitter off, with the ranges above ready for use. */
void     graft_augment_options_init       (GraftAugmentOptions       *options,
                                           guint                      size);
/* The same options with every random step off: the evaluation view of @resize. */
void     graft_augment_options_init_eval  (GraftAugmentOptions       *options,
                                           guint                      size,
                                           GraftAugmentResize         resize);

/* Whether the options make sense; else FALSE with a G_IO_ERROR_INVALID_ARGUMENT naming
 * the field and its allowed range. */
gboolean graft_augment_options_check      (const GraftAugmentOptions *options,
                                           GError                   **error);

/* What was drawn for one image. */
typedef struct {
  /* the source region, as fractions of its width and height (x, y: top left) */
  double   crop_x, crop_y, crop_width, crop_height;
  gboolean hflip, vflip;
  double   angle;                              /* degrees, counter-clockwise */
  float    brightness, contrast, saturation;   /* factors; 1 when not applied */
} GraftAugmentParams;

/* The seed of sample @index in @epoch of a run seeded with @run_seed. */
guint64  graft_augment_seed               (guint64                    run_seed,
                                           guint                      epoch,
                                           guint                      index);

/* Draws the parameters for a @width × @height source from @seed (the aspect ratio of
 * the source is what the crop's ratio range refers to). */
void     graft_augment_draw               (const GraftAugmentOptions *options,
                                           guint                      width,
                                           guint                      height,
                                           guint64                    seed,
                                           GraftAugmentParams        *params);
/* The parameters of the evaluation view: no randomness. */
void     graft_augment_eval_params        (const GraftAugmentOptions *options,
                                           guint                      width,
                                           guint                      height,
                                           GraftAugmentParams        *params);

/* Renders @image through @params into @out: @channels planes (the image's channels;
 * 1 or 3) of size × size floats, normalised with @mean and @std (per channel; NULL for
 * 0 and 1, that is plain v / 255). */
void     graft_augment_render_float       (const GraftAugmentOptions *options,
                                           const GraftAugmentParams  *params,
                                           const GraftImage          *image,
                                           const float               *mean,
                                           const float               *std,
                                           float                     *out);
/* The same as 8-bit pixels: a new size × size image with @image's channels. NULL only
 * when memory for it cannot be had. */
GraftImage *graft_augment_render          (const GraftAugmentOptions *options,
                                           const GraftAugmentParams  *params,
                                           const GraftImage          *image);

/* Maps @n_boxes boxes given in pixels of a @width × @height source through @params
 * and appends those kept (in output pixels) to @out (GraftBox). Returns how many were
 * kept. */
guint    graft_augment_boxes              (const GraftAugmentOptions *options,
                                           const GraftAugmentParams  *params,
                                           guint                      width,
                                           guint                      height,
                                           const GraftBox            *boxes,
                                           guint                      n_boxes,
                                           GArray                    *out);

/* @n augmented versions of @image for the user to look at: version i is drawn from
 * graft_augment_seed (@seed, 0, i). Returns a GPtrArray of GraftImage (size × size,
 * @image's channels), or NULL with an error when the options are wrong or memory is
 * short. With @boxes (GraftBox in pixels of @image), *@out_boxes receives a GPtrArray
 * holding, per version, a GArray of the boxes as they appear in it. */
GPtrArray *graft_augment_preview          (const GraftAugmentOptions *options,
                                           const GraftImage          *image,
                                           const GArray              *boxes,
                                           guint                      n,
                                           guint64                    seed,
                                           GPtrArray                **out_boxes,
                                           GError                   **error);

G_END_DECLS
