/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* graft_image_resize: separable, a horizontal pass into floats and then a vertical one,
 * each output sample a weighted sum of input samples (see filter_init for the weights),
 * rounded half up to a byte. */

#include <math.h>
#include <string.h>

#include "graft-image.h"

/* The input samples that make one output sample along one axis, and their weights. */
typedef struct {
  guint  max_taps;
  guint *first;    /* [out] */
  guint *count;    /* [out] */
  float *weights;  /* [out × max_taps] */
} Filter;

/* Shrinking: output i averages the input interval [i·s, (i + 1)·s), s = in / out, each
 * input pixel weighted by how much of it the interval covers (area averaging, as PIL's
 * Image.BOX and OpenCV's INTER_AREA). Growing (and keeping the size): bilinear between
 * pixel centres, output i sampling input position (i + 0.5)·s − 0.5 clamped to the edge
 * pixels (PIL's BILINEAR and torchvision's align_corners=False when enlarging). */
static void
filter_init (Filter *f,
             guint   in,
             guint   out)
{
  double scale = (double) in / out;

  f->max_taps = out < in ? (guint) ceil (scale) + 1 : 2;
  f->first = g_new (guint, out);
  f->count = g_new0 (guint, out);
  f->weights = g_new0 (float, (gsize) out * f->max_taps);

  for (guint i = 0; i < out; i++)
    {
      float *w = f->weights + (gsize) i * f->max_taps;

      if (out < in)
        {
          double lo = i * scale, hi = (i + 1) * scale;
          guint first = (guint) floor (lo);

          f->first[i] = first;
          for (guint k = 0; k < f->max_taps && first + k < in; k++)
            {
              double cover = MIN (hi, first + k + 1.0) - MAX (lo, (double) (first + k));

              if (cover <= 0)
                break;
              w[k] = (float) (cover / scale);
              f->count[i] = k + 1;
            }
        }
      else
        {
          double pos = CLAMP ((i + 0.5) * scale - 0.5, 0.0, (double) (in - 1));
          guint left = (guint) floor (pos);
          double frac = pos - left;

          f->first[i] = left;
          w[0] = (float) (1.0 - frac);
          f->count[i] = 1;
          if (left + 1 < in && frac > 0)
            {
              w[1] = (float) frac;
              f->count[i] = 2;
            }
        }
    }
}

static void
filter_clear (Filter *f)
{
  g_free (f->first);
  g_free (f->count);
  g_free (f->weights);
}

GraftImage *
graft_image_resize (const GraftImage *image,
                    guint             width,
                    guint             height)
{
  g_autofree float *rows = NULL;
  g_autofree float *acc = NULL;
  GraftImage *out;
  Filter fx, fy;
  guint c;

  g_return_val_if_fail (image != NULL && image->pixels != NULL, NULL);
  g_return_val_if_fail (width > 0 && height > 0, NULL);

  c = image->channels;
  out = graft_image_new (width, height, c);
  if (out == NULL)
    return NULL;
  /* The horizontal pass, into floats: every input row resized to @width. */
  rows = g_try_new (float, (gsize) image->height * width * c);
  acc = g_try_new (float, (gsize) width * c);
  if (rows == NULL || acc == NULL)
    {
      graft_image_free (out);
      return NULL;
    }

  filter_init (&fx, image->width, width);
  filter_init (&fy, image->height, height);

  for (guint y = 0; y < image->height; y++)
    {
      const guint8 *src = image->pixels + (gsize) y * image->stride;
      float *dst = rows + (gsize) y * width * c;

      for (guint x = 0; x < width; x++)
        {
          const float *w = fx.weights + (gsize) x * fx.max_taps;
          const guint8 *s = src + (gsize) fx.first[x] * c;

          if (c == 1)
            {
              float sum = 0;

              for (guint k = 0; k < fx.count[x]; k++)
                sum += w[k] * s[k];
              dst[x] = sum;
            }
          else
            {
              float r = 0, g = 0, b = 0;

              for (guint k = 0; k < fx.count[x]; k++, s += 3)
                r += w[k] * s[0], g += w[k] * s[1], b += w[k] * s[2];
              dst[x * 3] = r, dst[x * 3 + 1] = g, dst[x * 3 + 2] = b;
            }
        }
    }

  /* The vertical pass, a weighted sum of whole rows, rounded to the nearest byte. */
  for (guint y = 0; y < height; y++)
    {
      const float *w = fy.weights + (gsize) y * fy.max_taps;
      guint8 *dst = out->pixels + (gsize) y * out->stride;
      gsize row_len = (gsize) width * c;

      memset (acc, 0, row_len * sizeof *acc);
      for (guint k = 0; k < fy.count[y]; k++)
        {
          const float *s = rows + (gsize) (fy.first[y] + k) * row_len;
          float wk = w[k];

          for (gsize i = 0; i < row_len; i++)
            acc[i] += wk * s[i];
        }
      for (gsize i = 0; i < row_len; i++)
        dst[i] = (guint8) CLAMP (acc[i] + 0.5f, 0.0f, 255.0f);
    }

  filter_clear (&fx);
  filter_clear (&fy);
  return out;
}
