/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Augmentation: the same seed gives the same picture and another seed another; a marked
 * pixel lands where a flip or a quarter turn puts it; random crops and rotations keep the
 * boxes on the object they frame; colour jitter stays in its ranges and follows
 * torchvision's definitions; the preview returns the versions the seeds promise. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

/* A picture with texture in every direction: no flip or crop leaves it unchanged. */
static GraftImage *
make_texture (guint width,
              guint height,
              guint channels)
{
  GraftImage *image = graft_image_new (width, height, channels);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < channels; c++)
        image->pixels[y * image->stride + x * channels + c] =
          (guint8) ((x * 7 + y * 13 + c * 50 + (x * y) % 17) & 0xff);
  return image;
}

static GraftImage *
make_constant (guint  width,
               guint  height,
               guint  channels,
               const guint8 *value)
{
  GraftImage *image = graft_image_new (width, height, channels);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      memcpy (image->pixels + y * image->stride + x * channels, value, channels);
  return image;
}

static guint8
pixel_at (const GraftImage *image,
          guint             x,
          guint             y,
          guint             c)
{
  return image->pixels[y * image->stride + x * image->channels + c];
}

/* Every random step on, so that determinism covers them all. */
static void
options_all_on (GraftAugmentOptions *options,
                guint                size)
{
  graft_augment_options_init (options, size);
  options->vflip_probability = 0.5f;
  options->rotate_probability = 0.7f;
  options->brightness_probability = 0.8f;
  options->contrast_probability = 0.8f;
  options->saturation_probability = 0.8f;
}

static float *
augment_float (const GraftAugmentOptions *options,
               const GraftImage          *image,
               guint64                    seed)
{
  float *out = g_new (float, (gsize) image->channels * options->size * options->size);
  GraftAugmentParams params;

  graft_augment_draw (options, image->width, image->height, seed, &params);
  graft_augment_render_float (options, &params, image, NULL, NULL, out);
  return out;
}

static void
test_determinism (void)
{
  g_autoptr(GraftImage) image = make_texture (57, 41, 3);
  GraftAugmentOptions options;
  gsize n;
  guint differing = 0;

  options_all_on (&options, 32);
  n = (gsize) 3 * 32 * 32;
  for (guint index = 0; index < 20; index++)
    {
      guint64 seed = graft_augment_seed (1234, 3, index);
      g_autofree float *a = augment_float (&options, image, seed);
      g_autofree float *b = augment_float (&options, image, seed);
      g_autofree float *c = augment_float (&options, image, graft_augment_seed (1235, 3, index));

      /* the same seed: bit for bit the same */
      g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
      if (memcmp (a, c, n * sizeof (float)) != 0)
        differing++;
    }
  /* another run seed changes (almost) every image */
  g_assert_cmpuint (differing, >=, 19);

  /* the seed depends on every input, and epochs differ */
  g_assert_cmpuint (graft_augment_seed (1, 0, 0), !=, graft_augment_seed (1, 1, 0));
  g_assert_cmpuint (graft_augment_seed (1, 0, 0), !=, graft_augment_seed (1, 0, 1));
  g_assert_cmpuint (graft_augment_seed (1, 0, 0), !=, graft_augment_seed (2, 0, 0));
  g_assert_cmpuint (graft_augment_seed (1, 2, 3), ==, graft_augment_seed (1, 2, 3));
}

/* No crop, output the size of the source: the identity unless a flip or turn is on. */
static void
options_geometry_only (GraftAugmentOptions *options,
                       guint                size)
{
  graft_augment_options_init_eval (options, size, GRAFT_AUGMENT_RESIZE_STRETCH);
}

static void
test_identity (void)
{
  g_autoptr(GraftImage) image = make_texture (16, 16, 3);
  g_autoptr(GraftImage) out = NULL;
  GraftAugmentOptions options;
  GraftAugmentParams params;

  options_geometry_only (&options, 16);
  graft_augment_draw (&options, 16, 16, 99, &params);
  out = graft_augment_render (&options, &params, image);
  g_assert_cmpmem (out->pixels, 16 * 16 * 3, image->pixels, 16 * 16 * 3);
}

static void
test_flips (void)
{
  const guint8 black = 0;
  g_autoptr(GraftImage) image = make_constant (16, 16, 1, &black);
  GraftAugmentOptions options;
  const struct { gboolean h, v; guint x, y; } cases[] = {
    { TRUE, FALSE, 16 - 1 - 3, 2 },
    { FALSE, TRUE, 3, 16 - 1 - 2 },
    { TRUE, TRUE, 16 - 1 - 3, 16 - 1 - 2 },
  };

  /* a marked pixel at (3, 2) */
  image->pixels[2 * image->stride + 3] = 255;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GraftImage) out = NULL;
      GraftAugmentParams params;
      guint bright = 0;

      options_geometry_only (&options, 16);
      options.hflip_probability = cases[i].h ? 1.0f : 0.0f;
      options.vflip_probability = cases[i].v ? 1.0f : 0.0f;
      graft_augment_draw (&options, 16, 16, 7, &params);
      g_assert_true (params.hflip == cases[i].h);
      g_assert_true (params.vflip == cases[i].v);
      out = graft_augment_render (&options, &params, image);

      /* exactly one bright pixel, where the flip puts it */
      for (guint y = 0; y < 16; y++)
        for (guint x = 0; x < 16; x++)
          bright += pixel_at (out, x, y, 0) > 0;
      g_assert_cmpuint (bright, ==, 1);
      g_assert_cmpuint (pixel_at (out, cases[i].x, cases[i].y, 0), ==, 255);
    }
}

static void
test_quarter_turn (void)
{
  const guint8 black[3] = { 0, 0, 0 };
  g_autoptr(GraftImage) image = make_constant (20, 20, 3, black);
  g_autoptr(GraftImage) out = NULL;
  GraftAugmentOptions options;
  GraftAugmentParams params;

  /* a red pixel right of the centre, a green one below it */
  image->pixels[9 * image->stride + 15 * 3 + 0] = 255;
  image->pixels[16 * image->stride + 9 * 3 + 1] = 255;

  options_geometry_only (&options, 20);
  options.rotate_probability = 1.0f;
  options.rotate_degrees[0] = options.rotate_degrees[1] = 90.0f;
  options.fill = 77;
  graft_augment_draw (&options, 20, 20, 1, &params);
  g_assert_cmpfloat (params.angle, ==, 90.0);
  out = graft_augment_render (&options, &params, image);

  /* counter-clockwise as displayed: (x, y) goes to (y, 19 - x) — right of the centre
   * moves above it, below the centre moves to its right */
  g_assert_cmpuint (pixel_at (out, 9, 19 - 15, 0), >=, 254);
  g_assert_cmpuint (pixel_at (out, 16, 19 - 9, 1), >=, 254);
  g_assert_cmpuint (pixel_at (out, 15, 9, 0), ==, 0);
  /* a quarter turn of a square brings nothing in from outside: no fill anywhere */
  g_assert_cmpuint (pixel_at (out, 0, 0, 2), ==, 0);

  /* 45 degrees: the corners come from outside the square and take the fill value */
  options.rotate_degrees[0] = options.rotate_degrees[1] = 45.0f;
  graft_augment_draw (&options, 20, 20, 1, &params);
  {
    g_autoptr(GraftImage) turned = graft_augment_render (&options, &params, image);

    g_assert_cmpuint (pixel_at (turned, 0, 0, 2), ==, 77);
    g_assert_cmpuint (pixel_at (turned, 19, 19, 2), ==, 77);
    g_assert_cmpuint (pixel_at (turned, 10, 10, 2), ==, 0);
  }
}

/* A dark 80 × 60 scene with one bright object: boxes mapped through random crops,
 * flips and rotations must frame the bright pixels of the output. */
static void
check_boxes_follow (GraftAugmentOptions *options,
                    guint                trials)
{
  const guint8 dark = 10, bright = 250;
  g_autoptr(GraftImage) image = make_constant (80, 60, 1, &dark);
  const GraftBox object = { 3, 30, 20, 16, 12 };
  guint kept = 0, dropped = 0;

  for (guint y = 20; y < 32; y++)
    for (guint x = 30; x < 46; x++)
      image->pixels[y * image->stride + x] = bright;

  for (guint t = 0; t < trials; t++)
    {
      g_autoptr(GArray) boxes = g_array_new (FALSE, FALSE, sizeof (GraftBox));
      g_autoptr(GraftImage) out = NULL;
      GraftAugmentParams params;
      guint size = options->size;
      guint outside = 0, bright_inside = 0, inside_total = 0, bright_total = 0;
      const GraftBox *b;

      graft_augment_draw (options, 80, 60, graft_augment_seed (5, 0, t), &params);
      out = graft_augment_render (options, &params, image);
      for (guint y = 0; y < size; y++)
        for (guint x = 0; x < size; x++)
          bright_total += pixel_at (out, x, y, 0) > 200;

      if (graft_augment_boxes (options, &params, 80, 60, &object, 1, boxes) == 0)
        {
          /* dropped: little of the object is left in view */
          g_assert_cmpuint (bright_total, <, 0.25 * size * size);
          dropped++;
          continue;
        }
      kept++;
      b = &g_array_index (boxes, GraftBox, 0);
      g_assert_cmpuint (b->label, ==, 3);
      g_assert_cmpfloat (b->x, >=, 0);
      g_assert_cmpfloat (b->y, >=, 0);
      g_assert_cmpfloat (b->x + b->width, <=, size + 1e-3);
      g_assert_cmpfloat (b->y + b->height, <=, size + 1e-3);
      for (guint y = 0; y < size; y++)
        for (guint x = 0; x < size; x++)
          {
            gboolean in = x + 0.5 >= b->x - 1 && x + 0.5 <= b->x + b->width + 1 &&
                          y + 0.5 >= b->y - 1 && y + 0.5 <= b->y + b->height + 1;
            gboolean strictly_in = x + 0.5 >= b->x + 1 && x + 0.5 <= b->x + b->width - 1 &&
                                   y + 0.5 >= b->y + 1 && y + 0.5 <= b->y + b->height - 1;
            guint8 v = pixel_at (out, x, y, 0);

            /* no part of the object outside its box */
            if (!in && v > 200)
              outside++;
            if (strictly_in)
              {
                inside_total++;
                bright_inside += v > 200;
              }
          }
      g_assert_cmpuint (outside, ==, 0);
      /* the box is on the object: without rotation it is all object inside; a rotated
       * object (stretched by the crop) fills at least a third of its axis-aligned bounds */
      if (inside_total > 0)
        g_assert_cmpfloat (bright_inside, >=, (params.angle != 0 ? 0.3 : 0.98) * inside_total);
    }
  g_assert_cmpuint (kept, >, trials / 4);
  (void) dropped;
}

static void
test_crop_boxes (void)
{
  GraftAugmentOptions options;

  graft_augment_options_init (&options, 48);
  options.crop_scale[0] = 0.1f;
  options.hflip_probability = 0.5f;
  options.vflip_probability = 0.5f;
  check_boxes_follow (&options, 60);
}

static void
test_rotation_boxes (void)
{
  GraftAugmentOptions options;

  graft_augment_options_init (&options, 48);
  options.crop_scale[0] = 0.3f;
  options.rotate_probability = 1.0f;
  options.rotate_degrees[0] = -40.0f;
  options.rotate_degrees[1] = 40.0f;
  check_boxes_follow (&options, 60);
}

static void
test_box_dropped_outside (void)
{
  GraftAugmentOptions options;
  GraftAugmentParams params;
  g_autoptr(GArray) out = g_array_new (FALSE, FALSE, sizeof (GraftBox));
  const GraftBox boxes[2] = { { 0, 5, 5, 10, 10 }, { 1, 80, 80, 10, 10 } };

  /* the right-hand bottom quarter of a 100 × 100 image: the first box is outside it,
   * the second inside, and it is mapped at twice the scale */
  options_geometry_only (&options, 100);
  graft_augment_eval_params (&options, 100, 100, &params);
  params.crop_x = params.crop_y = 0.5;
  params.crop_width = params.crop_height = 0.5;
  g_assert_cmpuint (graft_augment_boxes (&options, &params, 100, 100, boxes, 2, out), ==, 1);
  g_assert_cmpuint (g_array_index (out, GraftBox, 0).label, ==, 1);
  g_assert_cmpfloat_with_epsilon (g_array_index (out, GraftBox, 0).x, 60.0f, 1e-3);
  g_assert_cmpfloat_with_epsilon (g_array_index (out, GraftBox, 0).width, 20.0f, 1e-3);

  /* a box half in view stays, clipped; one with a tenth in view is dropped */
  {
    const GraftBox half = { 2, 40, 60, 20, 10 };
    const GraftBox tenth = { 3, 32, 60, 20, 10 };

    g_array_set_size (out, 0);
    g_assert_cmpuint (graft_augment_boxes (&options, &params, 100, 100, &half, 1, out), ==, 1);
    g_assert_cmpfloat_with_epsilon (g_array_index (out, GraftBox, 0).x, 0.0f, 1e-3);
    g_assert_cmpfloat_with_epsilon (g_array_index (out, GraftBox, 0).width, 20.0f, 1e-3);
    g_assert_cmpuint (graft_augment_boxes (&options, &params, 100, 100, &tenth, 1, out), ==, 0);
  }
}

static void
test_random_crop_ranges (void)
{
  GraftAugmentOptions options;
  double min_area = 1, max_area = 0;

  graft_augment_options_init (&options, 32);
  for (guint i = 0; i < 2000; i++)
    {
      GraftAugmentParams params;
      double area, ratio;

      graft_augment_draw (&options, 300, 200, graft_augment_seed (9, 0, i), &params);
      area = params.crop_width * params.crop_height;
      ratio = params.crop_width * 300 / (params.crop_height * 200);
      g_assert_cmpfloat (params.crop_x, >=, 0);
      g_assert_cmpfloat (params.crop_y, >=, 0);
      g_assert_cmpfloat (params.crop_x + params.crop_width, <=, 1 + 1e-9);
      g_assert_cmpfloat (params.crop_y + params.crop_height, <=, 1 + 1e-9);
      g_assert_cmpfloat (area, >=, 0.08 - 1e-9);
      g_assert_cmpfloat (area, <=, 1 + 1e-9);
      g_assert_cmpfloat (ratio, >=, 0.75 - 1e-6);
      g_assert_cmpfloat (ratio, <=, 4.0 / 3.0 + 1e-6);
      min_area = MIN (min_area, area);
      max_area = MAX (max_area, area);
    }
  /* the whole range is used */
  g_assert_cmpfloat (min_area, <, 0.1);
  g_assert_cmpfloat (max_area, >, 0.8);

  /* evaluation: the centred 87.5 % square of the shorter side */
  {
    GraftAugmentParams params;

    graft_augment_options_init_eval (&options, 32, GRAFT_AUGMENT_RESIZE_CENTRE_CROP);
    graft_augment_draw (&options, 300, 200, 1, &params);
    g_assert_cmpfloat_with_epsilon (params.crop_width * 300, 175.0, 1e-6);
    g_assert_cmpfloat_with_epsilon (params.crop_height * 200, 175.0, 1e-6);
    g_assert_cmpfloat_with_epsilon (params.crop_x * 300, 62.5, 1e-6);
    g_assert_false (params.hflip);
  }
}

static void
test_colour_jitter (void)
{
  const guint8 colour[3] = { 200, 100, 40 };
  g_autoptr(GraftImage) image = make_constant (8, 8, 3, colour);
  GraftAugmentOptions options;
  GraftAugmentParams params;
  float lo = 10, hi = 0;
  float out[3 * 8 * 8];
  float luma = 0.299f * 200 + 0.587f * 100 + 0.114f * 40;

  /* factors drawn within their ranges, and across them */
  graft_augment_options_init (&options, 8);
  options.brightness_probability = 1.0f;
  options.brightness[0] = 0.7f;
  options.brightness[1] = 1.2f;
  options.contrast_probability = 0.5f;
  for (guint i = 0; i < 500; i++)
    {
      graft_augment_draw (&options, 8, 8, graft_augment_seed (3, 1, i), &params);
      g_assert_cmpfloat (params.brightness, >=, 0.7f);
      g_assert_cmpfloat (params.brightness, <=, 1.2f);
      g_assert_cmpfloat (params.contrast, >=, 0.6f);
      g_assert_cmpfloat (params.contrast, <=, 1.4f);
      g_assert_cmpfloat (params.saturation, ==, 1.0f);
      lo = MIN (lo, params.brightness);
      hi = MAX (hi, params.brightness);
    }
  g_assert_cmpfloat (lo, <, 0.72f);
  g_assert_cmpfloat (hi, >, 1.18f);

  /* torchvision's definitions on a flat colour */
  options_geometry_only (&options, 8);
  graft_augment_eval_params (&options, 8, 8, &params);
  params.brightness = 1.5f;  /* 200 → 255 (clamped), 100 → 150, 40 → 60 */
  graft_augment_render_float (&options, &params, image, NULL, NULL, out);
  g_assert_cmpfloat_with_epsilon (out[0] * 255, 255.0f, 1e-3);
  g_assert_cmpfloat_with_epsilon (out[64] * 255, 150.0f, 1e-3);
  g_assert_cmpfloat_with_epsilon (out[128] * 255, 60.0f, 1e-3);

  params.brightness = 1.0f;
  params.saturation = 0.0f;  /* grey: every channel the pixel's luma */
  graft_augment_render_float (&options, &params, image, NULL, NULL, out);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (out[c * 64 + 5] * 255, luma, 1e-2);

  params.saturation = 1.0f;
  params.contrast = 0.0f;   /* every value the image's mean luma */
  graft_augment_render_float (&options, &params, image, NULL, NULL, out);
  for (guint c = 0; c < 3; c++)
    g_assert_cmpfloat_with_epsilon (out[c * 64 + 9] * 255, luma, 1e-2);

  params.contrast = 2.0f;   /* away from the mean: 2 × 200 - luma */
  graft_augment_render_float (&options, &params, image, NULL, NULL, out);
  g_assert_cmpfloat_with_epsilon (out[0] * 255, 255.0f, 1e-3);
  g_assert_cmpfloat_with_epsilon (out[64] * 255, 2 * 100 - luma, 1e-2);
  g_assert_cmpfloat_with_epsilon (out[128] * 255, 0.0f, 1e-3);
}

static void
test_normalise (void)
{
  const guint8 colour[3] = { 51, 102, 204 };
  g_autoptr(GraftImage) image = make_constant (10, 6, 3, colour);
  const float mean[3] = { 0.485f, 0.456f, 0.406f };
  const float std[3] = { 0.229f, 0.224f, 0.225f };
  GraftAugmentOptions options;
  GraftAugmentParams params;
  g_autofree float *out = g_new (float, 3 * 24 * 24);

  /* a flat colour stays flat through any crop, enlargement and flip */
  graft_augment_options_init (&options, 24);
  graft_augment_draw (&options, 10, 6, 17, &params);
  graft_augment_render_float (&options, &params, image, mean, std, out);
  for (guint c = 0; c < 3; c++)
    for (guint i = 0; i < 24 * 24; i += 37)
      g_assert_cmpfloat_with_epsilon (out[c * 576 + i], (colour[c] / 255.0f - mean[c]) / std[c], 1e-4);
}

static void
test_preview (void)
{
  g_autoptr(GraftImage) image = make_texture (40, 30, 3);
  g_autoptr(GPtrArray) previews = NULL;
  g_autoptr(GPtrArray) boxes = NULL;
  g_autoptr(GArray) in_boxes = g_array_new (FALSE, FALSE, sizeof (GraftBox));
  g_autoptr(GError) error = NULL;
  GraftAugmentOptions options;
  const GraftBox box = { 1, 10, 8, 20, 14 };
  guint distinct = 0;

  g_array_append_val (in_boxes, box);
  options_all_on (&options, 24);
  previews = graft_augment_preview (&options, image, in_boxes, 6, 42, &boxes, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (previews->len, ==, 6);
  g_assert_cmpuint (boxes->len, ==, 6);
  for (guint i = 0; i < 6; i++)
    {
      GraftImage *version = g_ptr_array_index (previews, i);
      g_autoptr(GraftImage) again = NULL;
      GraftAugmentParams params;

      g_assert_cmpuint (version->width, ==, 24);
      g_assert_cmpuint (version->height, ==, 24);
      g_assert_cmpuint (version->channels, ==, 3);
      /* version i is the one seed i draws */
      graft_augment_draw (&options, 40, 30, graft_augment_seed (42, 0, i), &params);
      again = graft_augment_render (&options, &params, image);
      g_assert_cmpmem (version->pixels, 24 * 24 * 3, again->pixels, 24 * 24 * 3);
      if (i > 0)
        distinct += memcmp (version->pixels, ((GraftImage *) g_ptr_array_index (previews, i - 1))->pixels, 24 * 24 * 3) != 0;
      g_assert_cmpuint (((GArray *) g_ptr_array_index (boxes, i))->len, <=, 1);
    }
  g_assert_cmpuint (distinct, ==, 5);

  /* wrong options are an error, not a crash */
  options.hflip_probability = 1.5f;
  g_clear_pointer (&previews, g_ptr_array_unref);
  previews = graft_augment_preview (&options, image, NULL, 2, 1, NULL, &error);
  g_assert_null (previews);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_assert_nonnull (strstr (error->message, "horizontal flip"));
}

/* A photograph far larger than the output is averaged, not point-sampled: a fine
 * checkerboard shrunk 16 times is mid-grey everywhere. */
static void
test_large_source (void)
{
  g_autoptr(GraftImage) board = graft_image_new (512, 512, 1);
  g_autoptr(GraftImage) out = NULL;
  GraftAugmentOptions options;
  GraftAugmentParams params;

  for (guint y = 0; y < 512; y++)
    for (guint x = 0; x < 512; x++)
      board->pixels[y * board->stride + x] = ((x + y) & 1) ? 255 : 0;
  options_geometry_only (&options, 32);
  graft_augment_eval_params (&options, 512, 512, &params);
  out = graft_augment_render (&options, &params, board);
  for (guint i = 0; i < 32 * 32; i++)
    g_assert_cmpint (abs ((int) out->pixels[i] - 128), <=, 8);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/augment/determinism", test_determinism);
  g_test_add_func ("/augment/identity", test_identity);
  g_test_add_func ("/augment/flips", test_flips);
  g_test_add_func ("/augment/quarter-turn", test_quarter_turn);
  g_test_add_func ("/augment/crop-boxes", test_crop_boxes);
  g_test_add_func ("/augment/rotation-boxes", test_rotation_boxes);
  g_test_add_func ("/augment/box-dropped-outside", test_box_dropped_outside);
  g_test_add_func ("/augment/random-crop-ranges", test_random_crop_ranges);
  g_test_add_func ("/augment/colour-jitter", test_colour_jitter);
  g_test_add_func ("/augment/normalise", test_normalise);
  g_test_add_func ("/augment/preview", test_preview);
  g_test_add_func ("/augment/large-source", test_large_source);
  return g_test_run ();
}
