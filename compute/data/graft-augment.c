/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

#include "graft-augment.h"

/* The most sub-samples per output pixel and axis when the crop shrinks the source: a
 * crop that shrinks by a factor s is averaged over ceil(s) × ceil(s) bilinear taps, so
 * that an uncached photograph does not alias. */
#define MAX_TAPS 8

/* ITU-R BT.601 luma, as torchvision's rgb_to_grayscale. */
#define LUMA_R 0.299f
#define LUMA_G 0.587f
#define LUMA_B 0.114f

/* SplitMix64 (Steele, Lea and Flood): small, fast and good enough for drawing a few
 * dozen numbers per image from a well-mixed seed. */
typedef struct {
  guint64 state;
} Rng;

static guint64
mix64 (guint64 z)
{
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

static guint64
rng_next (Rng *rng)
{
  rng->state += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  return mix64 (rng->state);
}

/* Uniform in [0, 1). */
static double
rng_double (Rng *rng)
{
  return (rng_next (rng) >> 11) * (1.0 / 9007199254740992.0);
}

static double
rng_range (Rng    *rng,
           double  low,
           double  high)
{
  return low + (high - low) * rng_double (rng);
}

static gboolean
rng_coin (Rng   *rng,
          float  probability)
{
  /* always draws, so that one option's probability never shifts the others' draws */
  double u = rng_double (rng);

  return u < probability;
}

guint64
graft_augment_seed (guint64 run_seed,
                    guint   epoch,
                    guint   index)
{
  guint64 z = mix64 (run_seed + G_GUINT64_CONSTANT (0x9e3779b97f4a7c15));

  z = mix64 (z ^ ((guint64) epoch * G_GUINT64_CONSTANT (0xd1b54a32d192ed03)));
  return mix64 (z ^ ((guint64) index * G_GUINT64_CONSTANT (0x8cb92ba72f3d8dd7)));
}

void
graft_augment_options_init (GraftAugmentOptions *options,
                            guint                size)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->size = size;
  options->crop_probability = 1.0f;
  options->crop_scale[0] = 0.08f;
  options->crop_scale[1] = 1.0f;
  options->crop_ratio[0] = 3.0f / 4.0f;
  options->crop_ratio[1] = 4.0f / 3.0f;
  options->resize = GRAFT_AUGMENT_RESIZE_CENTRE_CROP;
  options->centre_fraction = 0.875f;
  options->hflip_probability = 0.5f;
  options->vflip_probability = 0.0f;
  options->rotate_probability = 0.0f;
  options->rotate_degrees[0] = -15.0f;
  options->rotate_degrees[1] = 15.0f;
  options->fill = 0;
  options->brightness_probability = 0.0f;
  options->contrast_probability = 0.0f;
  options->saturation_probability = 0.0f;
  for (guint i = 0; i < 2; i++)
    {
      options->brightness[i] = i == 0 ? 0.6f : 1.4f;
      options->contrast[i] = i == 0 ? 0.6f : 1.4f;
      options->saturation[i] = i == 0 ? 0.6f : 1.4f;
    }
  options->box_min_visible = 0.25f;
}

void
graft_augment_options_init_eval (GraftAugmentOptions *options,
                                 guint                size,
                                 GraftAugmentResize   resize)
{
  graft_augment_options_init (options, size);
  options->crop_probability = 0.0f;
  options->hflip_probability = 0.0f;
  options->resize = resize;
}

static gboolean
check_probability (float        p,
                   const char  *name,
                   GError     **error)
{
  if (p >= 0.0f && p <= 1.0f)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Augmentation: %s is %g; a probability lies between 0 and 1", name, p);
  return FALSE;
}

static gboolean
check_range (const float  range[2],
             float        low,
             float        high,
             const char  *name,
             GError     **error)
{
  if (range[0] >= low && range[0] <= range[1] && range[1] <= high)
    return TRUE;
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
               "Augmentation: %s is [%g, %g]; it must be an ordered range within [%g, %g]",
               name, range[0], range[1], low, high);
  return FALSE;
}

gboolean
graft_augment_options_check (const GraftAugmentOptions  *options,
                             GError                    **error)
{
  g_return_val_if_fail (options != NULL, FALSE);

  if (options->size < 1 || options->size > 8192)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Augmentation: the output size %u must lie between 1 and 8192 pixels",
                   options->size);
      return FALSE;
    }
  if (!(options->centre_fraction > 0.0f && options->centre_fraction <= 1.0f))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Augmentation: the centre crop fraction %g must lie in (0, 1]",
                   options->centre_fraction);
      return FALSE;
    }
  if (options->resize != GRAFT_AUGMENT_RESIZE_CENTRE_CROP &&
      options->resize != GRAFT_AUGMENT_RESIZE_STRETCH)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Augmentation: unknown resize mode %d", (int) options->resize);
      return FALSE;
    }
  if (!(options->box_min_visible >= 0.0f && options->box_min_visible <= 1.0f))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Augmentation: the least visible fraction of a box, %g, must lie in [0, 1]",
                   options->box_min_visible);
      return FALSE;
    }
  if (!(options->crop_scale[0] > 0.0f) || !(options->crop_ratio[0] > 0.0f))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Augmentation: the crop's scale and ratio ranges must start above 0");
      return FALSE;
    }
  return check_probability (options->crop_probability, "the crop probability", error) &&
         check_probability (options->hflip_probability, "the horizontal flip probability", error) &&
         check_probability (options->vflip_probability, "the vertical flip probability", error) &&
         check_probability (options->rotate_probability, "the rotation probability", error) &&
         check_probability (options->brightness_probability, "the brightness probability", error) &&
         check_probability (options->contrast_probability, "the contrast probability", error) &&
         check_probability (options->saturation_probability, "the saturation probability", error) &&
         check_range (options->crop_scale, 0.0f, 1.0f, "the crop scale", error) &&
         check_range (options->crop_ratio, 0.0f, 100.0f, "the crop ratio", error) &&
         check_range (options->rotate_degrees, -360.0f, 360.0f, "the rotation range", error) &&
         check_range (options->brightness, 0.0f, 100.0f, "the brightness range", error) &&
         check_range (options->contrast, 0.0f, 100.0f, "the contrast range", error) &&
         check_range (options->saturation, 0.0f, 100.0f, "the saturation range", error);
}

void
graft_augment_eval_params (const GraftAugmentOptions *options,
                           guint                      width,
                           guint                      height,
                           GraftAugmentParams        *params)
{
  g_return_if_fail (options != NULL && params != NULL && width > 0 && height > 0);

  memset (params, 0, sizeof *params);
  params->brightness = params->contrast = params->saturation = 1.0f;
  if (options->resize == GRAFT_AUGMENT_RESIZE_STRETCH)
    {
      params->crop_width = params->crop_height = 1.0;
      return;
    }
  {
    double side = options->centre_fraction * MIN (width, height);

    params->crop_width = side / width;
    params->crop_height = side / height;
    params->crop_x = (1.0 - params->crop_width) / 2.0;
    params->crop_y = (1.0 - params->crop_height) / 2.0;
  }
}

/* torchvision's RandomResizedCrop.get_params, in continuous pixels. */
static void
draw_crop (const GraftAugmentOptions *options,
           guint                      width,
           guint                      height,
           Rng                       *rng,
           GraftAugmentParams        *params)
{
  double area = (double) width * height;
  double log_low = log (options->crop_ratio[0]);
  double log_high = log (options->crop_ratio[1]);
  double in_ratio = (double) width / height;
  double w, h;

  for (guint attempt = 0; attempt < 10; attempt++)
    {
      double target = area * rng_range (rng, options->crop_scale[0], options->crop_scale[1]);
      double ratio = exp (rng_range (rng, log_low, log_high));

      w = sqrt (target * ratio);
      h = sqrt (target / ratio);
      if (w > 0 && w <= width && h > 0 && h <= height)
        {
          params->crop_x = rng_range (rng, 0, width - w) / width;
          params->crop_y = rng_range (rng, 0, height - h) / height;
          params->crop_width = w / width;
          params->crop_height = h / height;
          return;
        }
    }

  /* the fallback: the whole image, or its centred part within the ratio range */
  if (in_ratio < options->crop_ratio[0])
    {
      w = width;
      h = w / options->crop_ratio[0];
    }
  else if (in_ratio > options->crop_ratio[1])
    {
      h = height;
      w = h * options->crop_ratio[1];
    }
  else
    {
      w = width;
      h = height;
    }
  params->crop_width = w / width;
  params->crop_height = h / height;
  params->crop_x = (1.0 - params->crop_width) / 2.0;
  params->crop_y = (1.0 - params->crop_height) / 2.0;
}

void
graft_augment_draw (const GraftAugmentOptions *options,
                    guint                      width,
                    guint                      height,
                    guint64                    seed,
                    GraftAugmentParams        *params)
{
  Rng rng = { seed };

  g_return_if_fail (options != NULL && params != NULL && width > 0 && height > 0);

  graft_augment_eval_params (options, width, height, params);
  if (rng_coin (&rng, options->crop_probability))
    draw_crop (options, width, height, &rng, params);
  params->hflip = rng_coin (&rng, options->hflip_probability);
  params->vflip = rng_coin (&rng, options->vflip_probability);
  if (rng_coin (&rng, options->rotate_probability))
    params->angle = rng_range (&rng, options->rotate_degrees[0], options->rotate_degrees[1]);
  if (rng_coin (&rng, options->brightness_probability))
    params->brightness = (float) rng_range (&rng, options->brightness[0], options->brightness[1]);
  if (rng_coin (&rng, options->contrast_probability))
    params->contrast = (float) rng_range (&rng, options->contrast[0], options->contrast[1]);
  if (rng_coin (&rng, options->saturation_probability))
    params->saturation = (float) rng_range (&rng, options->saturation[0], options->saturation[1]);
}

/* The map from output positions p (continuous, pixel centres at .5) back to the source:
 * s = (ax px + bx py + cx, ay px + by py + cy), and to the unrotated square q (for the
 * fill test) in the same form. */
typedef struct {
  double sx[3], sy[3];
  double qx[3], qy[3];
  gboolean rotated;
} Mapping;

static void
square_to_source (const GraftAugmentParams *params,
                  double                    size,
                  guint                     width,
                  guint                     height,
                  double                    qx,
                  double                    qy,
                  double                   *sx,
                  double                   *sy)
{
  if (params->hflip)
    qx = size - qx;
  if (params->vflip)
    qy = size - qy;
  *sx = (params->crop_x + qx / size * params->crop_width) * width;
  *sy = (params->crop_y + qy / size * params->crop_height) * height;
}

static void
output_to_square (const GraftAugmentParams *params,
                  double                    size,
                  double                    px,
                  double                    py,
                  double                   *qx,
                  double                   *qy)
{
  double theta = params->angle * G_PI / 180.0;
  double c = cos (theta), s = sin (theta);
  double centre = size / 2.0;
  double dx = px - centre, dy = py - centre;

  /* the inverse of a counter-clockwise turn (as displayed, y down) */
  *qx = centre + dx * c - dy * s;
  *qy = centre + dx * s + dy * c;
}

static void
mapping_init (Mapping                  *m,
              const GraftAugmentParams *params,
              guint                     size,
              guint                     width,
              guint                     height)
{
  const double px[3] = { 0, 1, 0 }, py[3] = { 0, 0, 1 };
  double sx[3], sy[3], qx[3], qy[3];

  for (guint i = 0; i < 3; i++)
    {
      output_to_square (params, size, px[i], py[i], &qx[i], &qy[i]);
      square_to_source (params, size, width, height, qx[i], qy[i], &sx[i], &sy[i]);
    }
  m->sx[0] = sx[1] - sx[0]; m->sx[1] = sx[2] - sx[0]; m->sx[2] = sx[0];
  m->sy[0] = sy[1] - sy[0]; m->sy[1] = sy[2] - sy[0]; m->sy[2] = sy[0];
  m->qx[0] = qx[1] - qx[0]; m->qx[1] = qx[2] - qx[0]; m->qx[2] = qx[0];
  m->qy[0] = qy[1] - qy[0]; m->qy[1] = qy[2] - qy[0]; m->qy[2] = qy[0];
  m->rotated = params->angle != 0.0;
}

/* Bilinear sample at continuous position (x, y) into v[channels]; edges clamped. */
static inline void
sample_bilinear (const GraftImage *image,
                 double            x,
                 double            y,
                 float            *v)
{
  double fx = x - 0.5, fy = y - 0.5;
  double x0f = floor (fx), y0f = floor (fy);
  float wx = (float) (fx - x0f), wy = (float) (fy - y0f);
  int x0 = (int) x0f, y0 = (int) y0f;
  int x1 = x0 + 1, y1 = y0 + 1;
  int w = (int) image->width, h = (int) image->height;
  guint channels = image->channels;
  const guint8 *r0, *r1;

  x0 = CLAMP (x0, 0, w - 1);
  x1 = CLAMP (x1, 0, w - 1);
  y0 = CLAMP (y0, 0, h - 1);
  y1 = CLAMP (y1, 0, h - 1);
  r0 = image->pixels + (gsize) y0 * image->stride;
  r1 = image->pixels + (gsize) y1 * image->stride;
  for (guint c = 0; c < channels; c++)
    {
      float a = r0[x0 * channels + c] + wx * (r0[x1 * channels + c] - r0[x0 * channels + c]);
      float b = r1[x0 * channels + c] + wx * (r1[x1 * channels + c] - r1[x0 * channels + c]);
      v[c] = a + wy * (b - a);
    }
}

static guint
taps_for (double scale)
{
  if (scale <= 1.5)
    return 1;
  return (guint) MIN (ceil (scale), MAX_TAPS);
}

/* Where one output pixel reads the source: the byte offset of its top left tap (< 0:
 * the fill value), the steps to the right and down (0 at the last column or row) and
 * the weights. */
typedef struct {
  int   offset, dx, dy;
  float wx, wy;
} Tap;

/* The output rows with a single bilinear tap per pixel: the common case (the cache keeps
 * images near the output size). The taps of a row are found once, then each channel's
 * plane is written in order: writing the three planes in turn, pixel by pixel, is many
 * times slower, the planes being a multiple of 4 KiB apart. The sample position is
 * clamped to the pixel centres, which is the same as clamping the taps to the edges. */
static void
render_direct (const Mapping    *m,
               const GraftImage *image,
               guint             size,
               float             fill,
               float            *planes,
               Tap              *taps)
{
  gsize plane = (gsize) size * size;
  guint channels = image->channels;
  float wmax = (float) (image->width - 1), hmax = (float) (image->height - 1);
  float fsize = (float) size;
  int last_x = (int) image->width - 1, last_y = (int) image->height - 1;
  float ax = (float) m->sx[0], ay = (float) m->sy[0];
  float qax = (float) m->qx[0], qay = (float) m->qy[0];

  for (guint y = 0; y < size; y++)
    {
      double py = y + 0.5;
      float bx = (float) (m->sx[1] * py + m->sx[2] - 0.5);
      float by = (float) (m->sy[1] * py + m->sy[2] - 0.5);
      float qbx = (float) (m->qx[1] * py + m->qx[2]);
      float qby = (float) (m->qy[1] * py + m->qy[2]);

      for (guint x = 0; x < size; x++)
        {
          float px = x + 0.5f;
          float fx, fy;
          int x0, y0;
          Tap *tap = &taps[x];

          if (m->rotated)
            {
              float qx = qax * px + qbx, qy = qay * px + qby;

              if (qx < 0 || qy < 0 || qx >= fsize || qy >= fsize)
                {
                  tap->offset = -1;
                  continue;
                }
            }
          fx = ax * px + bx;
          fy = ay * px + by;
          fx = fx < 0.0f ? 0.0f : fx > wmax ? wmax : fx;
          fy = fy < 0.0f ? 0.0f : fy > hmax ? hmax : fy;
          x0 = (int) fx;
          y0 = (int) fy;
          tap->wx = fx - x0;
          tap->wy = fy - y0;
          tap->offset = (int) (y0 * image->stride) + x0 * (int) channels;
          tap->dx = x0 < last_x ? (int) channels : 0;
          tap->dy = y0 < last_y ? (int) image->stride : 0;
        }

      for (guint c = 0; c < channels; c++)
        {
          const guint8 *p = image->pixels + c;
          float *out = planes + c * plane + (gsize) y * size;

          for (guint x = 0; x < size; x++)
            {
              const Tap *tap = &taps[x];
              const guint8 *q;
              float a, b;

              if (tap->offset < 0)
                {
                  out[x] = fill;
                  continue;
                }
              q = p + tap->offset;
              a = q[0] + tap->wx * (q[tap->dx] - q[0]);
              b = q[tap->dy] + tap->wx * (q[tap->dy + tap->dx] - q[tap->dy]);
              out[x] = a + tap->wy * (b - a);
            }
        }
    }
}

/* Steps 1–3 into planes of size × size floats in [0, 255]. */
static void
render_geometry (const GraftAugmentOptions *options,
                 const GraftAugmentParams  *params,
                 const GraftImage          *image,
                 float                     *planes)
{
  guint size = options->size;
  guint channels = image->channels;
  gsize plane = (gsize) size * size;
  double scale_x = params->crop_width * image->width / size;
  double scale_y = params->crop_height * image->height / size;
  guint kx = taps_for (scale_x), ky = taps_for (scale_y);
  float inv_taps = 1.0f / (kx * ky);
  Mapping m;

  mapping_init (&m, params, size, image->width, image->height);

  if (kx == 1 && ky == 1 && image->stride * image->height < G_MAXINT / 2)
    {
      g_autofree Tap *taps = g_new (Tap, size);

      render_direct (&m, image, size, options->fill, planes, taps);
      return;
    }

  for (guint y = 0; y < size; y++)
    for (guint x = 0; x < size; x++)
      {
        float acc[3] = { 0, 0, 0 };
        float v[3];

        for (guint ty = 0; ty < ky; ty++)
          for (guint tx = 0; tx < kx; tx++)
            {
              double px = x + (tx + 0.5) / kx, py = y + (ty + 0.5) / ky;

              if (m.rotated)
                {
                  double qx = m.qx[0] * px + m.qx[1] * py + m.qx[2];
                  double qy = m.qy[0] * px + m.qy[1] * py + m.qy[2];

                  if (qx < 0 || qy < 0 || qx >= size || qy >= size)
                    {
                      for (guint c = 0; c < channels; c++)
                        acc[c] += options->fill;
                      continue;
                    }
                }
              sample_bilinear (image,
                               m.sx[0] * px + m.sx[1] * py + m.sx[2],
                               m.sy[0] * px + m.sy[1] * py + m.sy[2], v);
              for (guint c = 0; c < channels; c++)
                acc[c] += v[c];
            }
        for (guint c = 0; c < channels; c++)
          planes[c * plane + (gsize) y * size + x] = acc[c] * inv_taps;
      }
}

static inline float
clamp255 (float v)
{
  v = v > 0.0f ? v : 0.0f;
  return v < 255.0f ? v : 255.0f;
}

/* Step 4 on planes in [0, 255]. Each pass runs along one plane at a time (see
 * render_direct); the luma of a pixel is found block by block. */
#define LUMA_BLOCK 256

static void
render_colour (const GraftAugmentParams *params,
               guint                     channels,
               gsize                     plane,
               float                    *planes)
{
  if (params->brightness != 1.0f)
    {
      float f = params->brightness;

      for (gsize i = 0; i < plane * channels; i++)
        planes[i] = clamp255 (planes[i] * f);
    }

  if (params->contrast != 1.0f)
    {
      const float weights[3] = { LUMA_R, LUMA_G, LUMA_B };
      float c = params->contrast, mean = 0.0f, offset;

      /* the mean luma is the luma of the channels' means */
      for (guint k = 0; k < channels; k++)
        {
          const float *p = planes + k * plane;
          double sum = 0;

          for (gsize i = 0; i < plane; i++)
            sum += p[i];
          mean += (channels == 3 ? weights[k] : 1.0f) * (float) (sum / plane);
        }
      offset = (1.0f - c) * mean;
      for (gsize i = 0; i < plane * channels; i++)
        planes[i] = clamp255 (c * planes[i] + offset);
    }

  if (params->saturation != 1.0f && channels == 3)
    {
      float s = params->saturation;
      float grey[LUMA_BLOCK];
      float *r = planes, *g = planes + plane, *b = planes + 2 * plane;

      for (gsize start = 0; start < plane; start += LUMA_BLOCK)
        {
          gsize n = MIN (plane - start, (gsize) LUMA_BLOCK);

          for (gsize i = 0; i < n; i++)
            grey[i] = LUMA_R * r[start + i];
          for (gsize i = 0; i < n; i++)
            grey[i] += LUMA_G * g[start + i];
          for (gsize i = 0; i < n; i++)
            grey[i] = (1.0f - s) * (grey[i] + LUMA_B * b[start + i]);
          for (gsize i = 0; i < n; i++)
            r[start + i] = clamp255 (s * r[start + i] + grey[i]);
          for (gsize i = 0; i < n; i++)
            g[start + i] = clamp255 (s * g[start + i] + grey[i]);
          for (gsize i = 0; i < n; i++)
            b[start + i] = clamp255 (s * b[start + i] + grey[i]);
        }
    }
}

void
graft_augment_render_float (const GraftAugmentOptions *options,
                            const GraftAugmentParams  *params,
                            const GraftImage          *image,
                            const float               *mean,
                            const float               *std,
                            float                     *out)
{
  gsize plane;

  g_return_if_fail (options != NULL && params != NULL && image != NULL && out != NULL);
  g_return_if_fail (image->channels == 1 || image->channels == 3);

  plane = (gsize) options->size * options->size;
  render_geometry (options, params, image, out);
  render_colour (params, image->channels, plane, out);
  for (guint c = 0; c < image->channels; c++)
    {
      float m = mean != NULL ? mean[c] : 0.0f;
      float inv = 1.0f / (std != NULL ? std[c] : 1.0f);
      float *p = out + c * plane;

      for (gsize i = 0; i < plane; i++)
        p[i] = (p[i] * (1.0f / 255.0f) - m) * inv;
    }
}

GraftImage *
graft_augment_render (const GraftAugmentOptions *options,
                      const GraftAugmentParams  *params,
                      const GraftImage          *image)
{
  g_autofree float *planes = NULL;
  GraftImage *out;
  gsize plane;

  g_return_val_if_fail (options != NULL && params != NULL && image != NULL, NULL);
  g_return_val_if_fail (image->channels == 1 || image->channels == 3, NULL);

  plane = (gsize) options->size * options->size;
  planes = g_try_new (float, plane * image->channels);
  out = planes != NULL ? graft_image_new (options->size, options->size, image->channels) : NULL;
  if (out == NULL)
    return NULL;
  render_geometry (options, params, image, planes);
  render_colour (params, image->channels, plane, planes);
  for (guint y = 0; y < options->size; y++)
    for (guint x = 0; x < options->size; x++)
      for (guint c = 0; c < image->channels; c++)
        out->pixels[y * out->stride + x * image->channels + c] =
          (guint8) (planes[c * plane + (gsize) y * options->size + x] + 0.5f);
  return out;
}

/* The forward map of a source point to the output square. */
static void
source_to_output (const GraftAugmentParams *params,
                  double                    size,
                  guint                     width,
                  guint                     height,
                  double                    sx,
                  double                    sy,
                  double                   *px,
                  double                   *py)
{
  double qx = (sx / width - params->crop_x) / params->crop_width * size;
  double qy = (sy / height - params->crop_y) / params->crop_height * size;
  double theta = params->angle * G_PI / 180.0;
  double c = cos (theta), s = sin (theta);
  double centre = size / 2.0;
  double dx, dy;

  if (params->hflip)
    qx = size - qx;
  if (params->vflip)
    qy = size - qy;
  dx = qx - centre;
  dy = qy - centre;
  *px = centre + dx * c + dy * s;
  *py = centre - dx * s + dy * c;
}

guint
graft_augment_boxes (const GraftAugmentOptions *options,
                     const GraftAugmentParams  *params,
                     guint                      width,
                     guint                      height,
                     const GraftBox            *boxes,
                     guint                      n_boxes,
                     GArray                    *out)
{
  double size;
  guint kept = 0;

  g_return_val_if_fail (options != NULL && params != NULL && out != NULL, 0);
  g_return_val_if_fail (n_boxes == 0 || boxes != NULL, 0);
  g_return_val_if_fail (width > 0 && height > 0, 0);

  size = options->size;
  for (guint i = 0; i < n_boxes; i++)
    {
      const GraftBox *box = &boxes[i];
      const double cx[4] = { box->x, box->x + box->width, box->x, box->x + box->width };
      const double cy[4] = { box->y, box->y, box->y + box->height, box->y + box->height };
      double x0 = G_MAXDOUBLE, y0 = G_MAXDOUBLE, x1 = -G_MAXDOUBLE, y1 = -G_MAXDOUBLE;
      double area, clipped;
      GraftBox mapped;

      if (!(box->width > 0 && box->height > 0))
        continue;
      for (guint k = 0; k < 4; k++)
        {
          double px, py;

          source_to_output (params, size, width, height, cx[k], cy[k], &px, &py);
          x0 = MIN (x0, px);
          y0 = MIN (y0, py);
          x1 = MAX (x1, px);
          y1 = MAX (y1, py);
        }
      area = (x1 - x0) * (y1 - y0);
      x0 = CLAMP (x0, 0.0, size);
      y0 = CLAMP (y0, 0.0, size);
      x1 = CLAMP (x1, 0.0, size);
      y1 = CLAMP (y1, 0.0, size);
      clipped = (x1 - x0) * (y1 - y0);
      if (x1 - x0 < 1.0 || y1 - y0 < 1.0 || !(area > 0) ||
          clipped < options->box_min_visible * area)
        continue;
      mapped.label = box->label;
      mapped.x = (float) x0;
      mapped.y = (float) y0;
      mapped.width = (float) (x1 - x0);
      mapped.height = (float) (y1 - y0);
      g_array_append_val (out, mapped);
      kept++;
    }
  return kept;
}

GPtrArray *
graft_augment_preview (const GraftAugmentOptions  *options,
                       const GraftImage           *image,
                       const GArray               *boxes,
                       guint                       n,
                       guint64                     seed,
                       GPtrArray                 **out_boxes,
                       GError                    **error)
{
  g_autoptr(GPtrArray) images = NULL;
  g_autoptr(GPtrArray) all_boxes = NULL;

  g_return_val_if_fail (options != NULL && image != NULL, NULL);
  g_return_val_if_fail (image->channels == 1 || image->channels == 3, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!graft_augment_options_check (options, error))
    return NULL;

  images = g_ptr_array_new_full (n, (GDestroyNotify) graft_image_free);
  if (out_boxes != NULL)
    all_boxes = g_ptr_array_new_full (n, (GDestroyNotify) g_array_unref);
  for (guint i = 0; i < n; i++)
    {
      GraftAugmentParams params;
      GraftImage *version;

      graft_augment_draw (options, image->width, image->height,
                          graft_augment_seed (seed, 0, i), &params);
      version = graft_augment_render (options, &params, image);
      if (version == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                       "Not enough memory for %u previews of %u × %u pixels; ask for fewer",
                       n, options->size, options->size);
          return NULL;
        }
      g_ptr_array_add (images, version);
      if (all_boxes != NULL)
        {
          GArray *mapped = g_array_new (FALSE, FALSE, sizeof (GraftBox));

          if (boxes != NULL)
            graft_augment_boxes (options, &params, image->width, image->height,
                                 (const GraftBox *) (gpointer) boxes->data, boxes->len, mapped);
          g_ptr_array_add (all_boxes, mapped);
        }
    }
  if (out_boxes != NULL)
    *out_boxes = g_steal_pointer (&all_boxes);
  return g_steal_pointer (&images);
}
