/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Image decoding. Every file is made here, with libpng and libjpeg directly: each PNG
 * layout (1 to 16 bits; grey, grey and alpha, palette with and without tRNS, RGB, RGBA;
 * Adam7) decodes to the pixels it holds, composited over black, as grey or RGB; JPEGs
 * decode as libjpeg decodes them, their EXIF orientation (1–8) turning the picture the way
 * a photo viewer would; damaged files (truncated, bits flipped, wrong magic, empty,
 * missing) are errors naming the file and never crash; a header claiming 100000×100000
 * pixels is refused at once; and resizing averages areas when shrinking and interpolates
 * when enlarging. */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  char *dir;  /* a temporary folder for the test's files */
} Fixture;

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  (void) data;
  fx->dir = g_dir_make_tmp ("graft-image-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  (void) data;
  graft_test_remove_tree (fx->dir);
  g_free (fx->dir);
}

static char *
write_file (Fixture      *fx,
            const char   *name,
            const guint8 *data,
            gsize         length)
{
  g_autoptr(GError) error = NULL;
  char *path = g_build_filename (fx->dir, name, NULL);

  g_file_set_contents (path, (const char *) data, (gssize) length, &error);
  g_assert_no_error (error);
  return path;
}

/* An error from decoding @name: in the data domain, saying which file. */
static void
assert_error_names (const GError *error,
                    const char   *name)
{
  g_assert_nonnull (error);
  g_assert_true (error->domain == GRAFT_DATA_ERROR);
  if (strstr (error->message, name) == NULL)
    g_error ("the error \"%s\" does not name %s", error->message, name);
}

/* ---- Writing PNGs with libpng ------------------------------------------------------ */

static void
on_png_write (png_structp png,
              png_bytep   data,
              png_size_t  length)
{
  g_byte_array_append (png_get_io_ptr (png), data, (guint) length);
}

static void
on_png_flush (png_structp png)
{
  (void) png;
}

typedef struct {
  int         color_type;
  int         bit_depth;
  gboolean    trns;        /* a tRNS chunk: palette alphas, or a transparent grey / RGB */
} PngLayout;

static guint
layout_samples (const PngLayout *layout)
{
  switch (layout->color_type)
    {
    case PNG_COLOR_TYPE_GRAY:       return 1;
    case PNG_COLOR_TYPE_PALETTE:    return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB:        return 3;
    default:                        return 4;
    }
}

/* The palette of palette images: 2^depth entries, the tRNS alphas for the first half. */
static void
palette_entry (guint          i,
               png_color     *color,
               guint8        *alpha)
{
  color->red = (png_byte) (i * 53 + 7);
  color->green = (png_byte) (i * 101 + 200);
  color->blue = (png_byte) (255 - i * 31);
  *alpha = (guint8) (i * 67 + 3);
}

/* Sample @c of pixel (@x, @y), below 2^depth. */
static guint
sample_value (const PngLayout *layout,
              guint            x,
              guint            y,
              guint            c)
{
  guint32 h = (x * 73856093u) ^ (y * 19349663u) ^ (c * 83492791u) ^ 0x9e3779b9u;

  h ^= h >> 13;
  h *= 0x5bd1e995u;
  h ^= h >> 15;
  return h & ((1u << layout->bit_depth) - 1);
}

/* The transparent colour of grey and RGB images with tRNS: the value of pixel (1, 0), so
 * that the image holds it at least once. */
static guint
trns_sample (const PngLayout *layout,
             guint            c)
{
  return sample_value (layout, 1, 0, c);
}

static GByteArray *
make_png (const PngLayout *layout,
          guint            width,
          guint            height,
          gboolean         interlaced)
{
  GByteArray *out = g_byte_array_new ();
  guint samples = layout_samples (layout);
  gsize rowbytes = ((gsize) width * samples * layout->bit_depth + 7) / 8;
  g_autofree guint8 *pixels = g_malloc0 (rowbytes * height);
  g_autofree png_bytep *rows = g_new (png_bytep, height);
  png_structp png = png_create_write_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);

  g_assert_nonnull (png);
  g_assert_nonnull (info);
  if (setjmp (png_jmpbuf (png)))
    g_error ("libpng could not write a test image");

  for (guint y = 0; y < height; y++)
    {
      guint8 *row = pixels + y * rowbytes;

      rows[y] = row;
      for (guint x = 0; x < width; x++)
        for (guint c = 0; c < samples; c++)
          {
            guint v = sample_value (layout, x, y, c);
            gsize bit = ((gsize) x * samples + c) * layout->bit_depth;

            if (layout->bit_depth == 16)
              {
                row[bit / 8] = (guint8) (v >> 8);
                row[bit / 8 + 1] = (guint8) v;
              }
            else /* MSB first */
              row[bit / 8] |= (guint8) (v << (8 - layout->bit_depth - bit % 8));
          }
    }

  png_set_write_fn (png, out, on_png_write, on_png_flush);
  png_set_IHDR (png, info, width, height, layout->bit_depth, layout->color_type,
                interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (layout->color_type == PNG_COLOR_TYPE_PALETTE)
    {
      png_color palette[256];
      guint8 alpha[256];
      guint n = 1u << layout->bit_depth;

      for (guint i = 0; i < n; i++)
        palette_entry (i, &palette[i], &alpha[i]);
      png_set_PLTE (png, info, palette, (int) n);
      if (layout->trns)
        png_set_tRNS (png, info, alpha, (int) MAX (n / 2, 1), NULL);
    }
  else if (layout->trns)
    {
      png_color_16 color = { 0 };

      if (layout->color_type == PNG_COLOR_TYPE_GRAY)
        color.gray = (png_uint_16) trns_sample (layout, 0);
      else
        {
          color.red = (png_uint_16) trns_sample (layout, 0);
          color.green = (png_uint_16) trns_sample (layout, 1);
          color.blue = (png_uint_16) trns_sample (layout, 2);
        }
      png_set_tRNS (png, info, NULL, 0, &color);
    }
  png_write_info (png, info);
  png_write_image (png, rows);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return out;
}

/* A sample at @depth bits as 8 bits, the way the decoder is documented to scale it. */
static guint
to_8_bits (guint v,
           int   depth)
{
  if (depth == 16)
    return (guint) floor (v / 257.0 + 0.5);
  return v * 255 / ((1u << depth) - 1);
}

/* What pixel (x, y) of @layout should decode to in @channels channels. */
static void
expected_pixel (const PngLayout *layout,
                guint            x,
                guint            y,
                guint            channels,
                guint8          *out)
{
  int depth = layout->bit_depth;
  double r, g, b, a = 255;

  switch (layout->color_type)
    {
    case PNG_COLOR_TYPE_PALETTE:
      {
        guint i = sample_value (layout, x, y, 0);
        png_color color;
        guint8 alpha;

        palette_entry (i, &color, &alpha);
        r = color.red, g = color.green, b = color.blue;
        if (layout->trns && i < MAX ((1u << depth) / 2, 1))
          a = alpha;
        break;
      }
    case PNG_COLOR_TYPE_GRAY:
      r = g = b = to_8_bits (sample_value (layout, x, y, 0), depth);
      if (layout->trns && sample_value (layout, x, y, 0) == trns_sample (layout, 0))
        a = 0;
      break;
    case PNG_COLOR_TYPE_GRAY_ALPHA:
      r = g = b = to_8_bits (sample_value (layout, x, y, 0), depth);
      a = to_8_bits (sample_value (layout, x, y, 1), depth);
      break;
    case PNG_COLOR_TYPE_RGB:
      r = to_8_bits (sample_value (layout, x, y, 0), depth);
      g = to_8_bits (sample_value (layout, x, y, 1), depth);
      b = to_8_bits (sample_value (layout, x, y, 2), depth);
      if (layout->trns && sample_value (layout, x, y, 0) == trns_sample (layout, 0)
          && sample_value (layout, x, y, 1) == trns_sample (layout, 1)
          && sample_value (layout, x, y, 2) == trns_sample (layout, 2))
        a = 0;
      break;
    default:
      r = to_8_bits (sample_value (layout, x, y, 0), depth);
      g = to_8_bits (sample_value (layout, x, y, 1), depth);
      b = to_8_bits (sample_value (layout, x, y, 2), depth);
      a = to_8_bits (sample_value (layout, x, y, 3), depth);
      break;
    }

  /* Over black; grey by ITU-R BT.601 luma, rounded to nearest. */
  if (channels == 3)
    {
      out[0] = (guint8) floor (r * a / 255 + 0.5);
      out[1] = (guint8) floor (g * a / 255 + 0.5);
      out[2] = (guint8) floor (b * a / 255 + 0.5);
    }
  else
    out[0] = (guint8) floor ((299 * r + 587 * g + 114 * b) * a / 255000 + 0.5);
}

static const PngLayout png_layouts[] = {
  { PNG_COLOR_TYPE_GRAY, 1, FALSE },
  { PNG_COLOR_TYPE_GRAY, 2, FALSE },
  { PNG_COLOR_TYPE_GRAY, 4, FALSE },
  { PNG_COLOR_TYPE_GRAY, 8, FALSE },
  { PNG_COLOR_TYPE_GRAY, 16, FALSE },
  { PNG_COLOR_TYPE_GRAY, 2, TRUE },
  { PNG_COLOR_TYPE_GRAY, 8, TRUE },
  { PNG_COLOR_TYPE_GRAY, 16, TRUE },
  { PNG_COLOR_TYPE_GRAY_ALPHA, 8, FALSE },
  { PNG_COLOR_TYPE_GRAY_ALPHA, 16, FALSE },
  { PNG_COLOR_TYPE_PALETTE, 1, FALSE },
  { PNG_COLOR_TYPE_PALETTE, 2, FALSE },
  { PNG_COLOR_TYPE_PALETTE, 4, FALSE },
  { PNG_COLOR_TYPE_PALETTE, 8, FALSE },
  { PNG_COLOR_TYPE_PALETTE, 2, TRUE },
  { PNG_COLOR_TYPE_PALETTE, 8, TRUE },
  { PNG_COLOR_TYPE_RGB, 8, FALSE },
  { PNG_COLOR_TYPE_RGB, 16, FALSE },
  { PNG_COLOR_TYPE_RGB, 8, TRUE },
  { PNG_COLOR_TYPE_RGB, 16, TRUE },
  { PNG_COLOR_TYPE_RGB_ALPHA, 8, FALSE },
  { PNG_COLOR_TYPE_RGB_ALPHA, 16, FALSE },
};

/* Each layout, plain and Adam7, decodes to the expected pixels as grey, as RGB and as the
 * file is (grey files to grey, the rest to RGB); the probe reports its header. 11×7 is
 * odd in both directions, so Adam7's passes are all partial. */
static void
test_png_layouts (Fixture       *fx,
                  gconstpointer  data)
{
  const guint width = 11, height = 7;

  (void) data;
  for (guint l = 0; l < G_N_ELEMENTS (png_layouts); l++)
    for (int interlaced = 0; interlaced <= 1; interlaced++)
      {
        const PngLayout *layout = &png_layouts[l];
        g_autoptr(GByteArray) png = make_png (layout, width, height, interlaced);
        g_autofree char *name = g_strdup_printf ("type%d-%dbit%s%s.png", layout->color_type,
                                                 layout->bit_depth, layout->trns ? "-trns" : "",
                                                 interlaced ? "-adam7" : "");
        g_autofree char *path = write_file (fx, name, png->data, png->len);
        gboolean grey_file = layout->color_type == PNG_COLOR_TYPE_GRAY
                             || layout->color_type == PNG_COLOR_TYPE_GRAY_ALPHA;
        guint file_channels = layout_samples (layout);
        g_autoptr(GError) error = NULL;
        GraftImageInfo info;

        g_test_message ("%s", name);
        if (layout->color_type == PNG_COLOR_TYPE_PALETTE)
          file_channels = layout->trns ? 4 : 3;
        else if (layout->trns)
          file_channels++;

        g_assert_true (graft_image_probe_file (path, &info, &error));
        g_assert_no_error (error);
        g_assert_cmpint (info.format, ==, GRAFT_IMAGE_FORMAT_PNG);
        g_assert_cmpuint (info.width, ==, width);
        g_assert_cmpuint (info.height, ==, height);
        g_assert_cmpuint (info.channels, ==, file_channels);
        g_assert_cmpuint (info.bit_depth, ==, (guint) layout->bit_depth);
        g_assert_cmpuint (info.orientation, ==, 1);

        for (guint channels = 0; channels <= 3; channels++)
          {
            g_autoptr(GraftImage) image = NULL;
            guint want = channels != 0 ? channels : (grey_file ? 1 : 3);

            if (channels == 2)
              continue;
            image = channels == 3 ? graft_image_load (path, channels, 0, &error)
                                  : graft_image_decode_bytes (png->data, png->len, name,
                                                              channels, 0, &error);
            g_assert_no_error (error);
            g_assert_nonnull (image);
            g_assert_cmpuint (image->width, ==, width);
            g_assert_cmpuint (image->height, ==, height);
            g_assert_cmpuint (image->channels, ==, want);
            g_assert_cmpuint (image->stride, >=, (gsize) width * want);
            for (guint y = 0; y < height; y++)
              for (guint x = 0; x < width; x++)
                {
                  const guint8 *got = image->pixels + y * image->stride + x * want;
                  guint8 expected[3];

                  expected_pixel (layout, x, y, want, expected);
                  for (guint c = 0; c < want; c++)
                    if (got[c] != expected[c])
                      g_error ("%s as %u channels: pixel (%u, %u) channel %u is %u, expected %u",
                               name, want, x, y, c, got[c], expected[c]);
                }
          }
      }
}

/* Pure colours to grey by BT.601 luma, and half-transparent ones over black. */
static void
test_png_luma (Fixture       *fx,
               gconstpointer  data)
{
  static const struct {
    guint8 rgba[4];
    guint8 grey;
    guint8 rgb[3];
  } cases[] = {
    { { 255, 0, 0, 255 }, 76, { 255, 0, 0 } },      /* 0.299 × 255 = 76.2 */
    { { 0, 255, 0, 255 }, 150, { 0, 255, 0 } },     /* 0.587 × 255 = 149.7 */
    { { 0, 0, 255, 255 }, 29, { 0, 0, 255 } },      /* 0.114 × 255 = 29.1 */
    { { 255, 255, 255, 255 }, 255, { 255, 255, 255 } },
    { { 200, 100, 50, 0 }, 0, { 0, 0, 0 } },        /* fully transparent: black */
    { { 255, 255, 255, 128 }, 128, { 128, 128, 128 } },
    { { 255, 0, 0, 128 }, 38, { 128, 0, 0 } },      /* 76.245 × 128 / 255 = 38.3 */
  };
  guint8 pixels[G_N_ELEMENTS (cases) * 4];
  g_autofree char *path = g_build_filename (fx->dir, "colours.png", NULL);
  g_autoptr(GraftImage) grey = NULL;
  g_autoptr(GraftImage) rgb = NULL;
  g_autoptr(GError) error = NULL;

  (void) data;
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    memcpy (pixels + i * 4, cases[i].rgba, 4);
  g_assert_true (graft_image_write_png (path, G_N_ELEMENTS (cases), 1, 4, sizeof pixels,
                                        pixels, &error));
  grey = graft_image_load (path, 1, 0, &error);
  g_assert_no_error (error);
  rgb = graft_image_load (path, 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (rgb->channels, ==, 3);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_assert_cmpuint (grey->pixels[i], ==, cases[i].grey);
      g_assert_cmpmem (rgb->pixels + i * 3, 3, cases[i].rgb, 3);
    }
}

/* ---- Writing JPEGs with libjpeg ------------------------------------------------------ */

typedef struct {
  guint          width, height;
  guint          components;   /* 1 grey, 3 RGB, 4 CMYK (stored inverted, as Adobe does) */
  int            quality;
  gboolean       progressive;
  const guint8  *exif;         /* an APP1 payload, or NULL */
  gsize          exif_length;
} JpegSpec;

static GByteArray *
make_jpeg (const JpegSpec *spec,
           const guint8   *pixels)
{
  struct jpeg_compress_struct cinfo;
  struct jpeg_error_mgr jerr;
  unsigned char *buffer = NULL;
  unsigned long size = 0;
  GByteArray *out;

  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_compress (&cinfo);
  jpeg_mem_dest (&cinfo, &buffer, &size);
  cinfo.image_width = spec->width;
  cinfo.image_height = spec->height;
  cinfo.input_components = (int) spec->components;
  cinfo.in_color_space = spec->components == 1 ? JCS_GRAYSCALE
                         : spec->components == 3 ? JCS_RGB : JCS_CMYK;
  jpeg_set_defaults (&cinfo);
  jpeg_set_quality (&cinfo, spec->quality, TRUE);
  if (spec->progressive)
    jpeg_simple_progression (&cinfo);
  jpeg_start_compress (&cinfo, TRUE);
  if (spec->exif != NULL)
    jpeg_write_marker (&cinfo, JPEG_APP0 + 1, spec->exif, (unsigned int) spec->exif_length);
  while (cinfo.next_scanline < cinfo.image_height)
    {
      JSAMPROW row = (JSAMPROW) pixels + (gsize) cinfo.next_scanline * spec->width * spec->components;

      jpeg_write_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_compress (&cinfo);
  jpeg_destroy_compress (&cinfo);
  out = g_byte_array_new ();
  g_byte_array_append (out, buffer, (guint) size);
  free (buffer);
  return out;
}

/* libjpeg's own decoding of @jpeg to grey or RGB, with its default settings: what Graft's
 * decoder must give for an upright image. */
static guint8 *
reference_decode (const GByteArray *jpeg,
                  guint            *width,
                  guint            *height,
                  guint            *components)
{
  struct jpeg_decompress_struct cinfo;
  struct jpeg_error_mgr jerr;
  guint8 *pixels;

  cinfo.err = jpeg_std_error (&jerr);
  jpeg_create_decompress (&cinfo);
  jpeg_mem_src (&cinfo, jpeg->data, jpeg->len);
  jpeg_read_header (&cinfo, TRUE);
  cinfo.out_color_space = cinfo.jpeg_color_space == JCS_GRAYSCALE ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_start_decompress (&cinfo);
  *width = cinfo.output_width;
  *height = cinfo.output_height;
  *components = (guint) cinfo.output_components;
  pixels = g_malloc ((gsize) *width * *height * *components);
  while (cinfo.output_scanline < cinfo.output_height)
    {
      JSAMPROW row = pixels + (gsize) cinfo.output_scanline * *width * *components;

      jpeg_read_scanlines (&cinfo, &row, 1);
    }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  return pixels;
}

/* Smooth gradients (a triangle wave, so without wrapping edges) and a few 16×16 blocks
 * inverted, @components samples a pixel. */
static guint8 *
make_photo (guint width,
            guint height,
            guint components)
{
  guint8 *pixels = g_malloc ((gsize) width * height * components);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < components; c++)
        {
          guint t = (x * 255 / width + y * 97 / height + c * 60) % 510;
          guint v = t < 256 ? t : 509 - t;

          if ((x / 16 + y / 16) % 3 == 0)
            v = 255 - v;
          pixels[((gsize) y * width + x) * components + c] = (guint8) v;
        }
  return pixels;
}

static double
mean_abs_difference (const guint8 *a,
                     const guint8 *b,
                     gsize         n)
{
  double sum = 0;

  for (gsize i = 0; i < n; i++)
    sum += ABS ((int) a[i] - (int) b[i]);
  return sum / n;
}

/* Grey and RGB JPEGs (baseline and progressive) decode as libjpeg decodes them and close
 * to the pixels that were encoded; an RGB JPEG asked for as grey is the BT.601 luma of
 * its RGB pixels. */
static void
test_jpeg_decode (Fixture       *fx,
                  gconstpointer  data)
{
  (void) data;
  for (guint components = 1; components <= 3; components += 2)
    for (int progressive = 0; progressive <= 1; progressive++)
      {
        JpegSpec spec = { 53, 37, components, 95, progressive, NULL, 0 };
        g_autofree guint8 *source = make_photo (spec.width, spec.height, components);
        g_autoptr(GByteArray) jpeg = make_jpeg (&spec, source);
        g_autofree char *name = g_strdup_printf ("photo-%u%s.jpg", components,
                                                 progressive ? "-progressive" : "");
        g_autofree char *path = write_file (fx, name, jpeg->data, jpeg->len);
        g_autofree guint8 *reference = NULL;
        g_autoptr(GraftImage) image = NULL;
        g_autoptr(GraftImage) grey = NULL;
        g_autoptr(GraftImage) rgb = NULL;
        g_autoptr(GError) error = NULL;
        guint rw, rh, rc;
        GraftImageInfo info;

        g_assert_true (graft_image_probe_file (path, &info, &error));
        g_assert_no_error (error);
        g_assert_cmpint (info.format, ==, GRAFT_IMAGE_FORMAT_JPEG);
        g_assert_cmpuint (info.width, ==, spec.width);
        g_assert_cmpuint (info.height, ==, spec.height);
        g_assert_cmpuint (info.channels, ==, components);
        g_assert_cmpuint (info.bit_depth, ==, 8);
        g_assert_cmpuint (info.orientation, ==, 1);

        image = graft_image_load (path, 0, 0, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (image->width, ==, spec.width);
        g_assert_cmpuint (image->height, ==, spec.height);
        g_assert_cmpuint (image->channels, ==, components);
        reference = reference_decode (jpeg, &rw, &rh, &rc);
        g_assert_cmpuint (rc, ==, components);
        g_assert_cmpmem (image->pixels, image->stride * image->height, reference,
                         (gsize) rw * rh * rc);
        g_assert_cmpfloat (mean_abs_difference (image->pixels, source,
                                                (gsize) spec.width * spec.height * components),
                           <, 6.0);  /* 4:2:0 chroma blurs the colour edges */

        grey = graft_image_decode_bytes (jpeg->data, jpeg->len, name, 1, 0, &error);
        g_assert_no_error (error);
        rgb = graft_image_decode_bytes (jpeg->data, jpeg->len, name, 3, 0, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (grey->channels, ==, 1);
        g_assert_cmpuint (rgb->channels, ==, 3);
        for (guint i = 0; i < spec.width * spec.height; i++)
          {
            const guint8 *p = rgb->pixels + i * 3;

            if (components == 1)
              g_assert_true (p[0] == grey->pixels[i] && p[1] == p[0] && p[2] == p[0]);
            else
              g_assert_cmpuint (grey->pixels[i], ==,
                                (guint) floor ((299 * p[0] + 587 * p[1] + 114 * p[2]) / 1000.0 + 0.5));
          }
      }
}

/* A CMYK JPEG as Adobe applications write it (inverted, with an Adobe marker) becomes RGB
 * R = (1 − C)(1 − K) and so on. */
static void
test_jpeg_cmyk (Fixture       *fx,
                gconstpointer  data)
{
  /* Stored (inverted) C, M, Y, K: 255 means no ink. */
  static const guint8 inks[4][4] = {
    { 255, 255, 255, 255 },  /* no ink: white */
    { 0, 255, 255, 255 },    /* full cyan: (0, 255, 255) */
    { 255, 255, 255, 0 },    /* full black */
    { 255, 128, 255, 255 },  /* half magenta: (255, 128, 255) */
  };
  static const guint8 expected[4][3] = {
    { 255, 255, 255 }, { 0, 255, 255 }, { 0, 0, 0 }, { 255, 128, 255 },
  };
  JpegSpec spec = { 32, 8, 4, 100, FALSE, NULL, 0 };
  guint8 pixels[32 * 8 * 4];
  g_autoptr(GByteArray) jpeg = NULL;
  g_autoptr(GraftImage) image = NULL;
  g_autoptr(GError) error = NULL;
  GraftImageInfo info;

  (void) fx, (void) data;
  for (guint y = 0; y < 8; y++)
    for (guint x = 0; x < 32; x++)
      memcpy (pixels + (y * 32 + x) * 4, inks[x / 8], 4);
  jpeg = make_jpeg (&spec, pixels);
  g_assert_true (graft_image_probe_bytes (jpeg->data, jpeg->len, "cmyk.jpg", &info, &error));
  g_assert_cmpuint (info.channels, ==, 3);
  image = graft_image_decode_bytes (jpeg->data, jpeg->len, "cmyk.jpg", 0, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (image->channels, ==, 3);
  for (guint block = 0; block < 4; block++)
    {
      const guint8 *p = image->pixels + 4 * image->stride + (block * 8 + 4) * 3;

      for (guint c = 0; c < 3; c++)
        g_assert_cmpint (ABS ((int) p[c] - expected[block][c]), <=, 3);
    }
}

/* ---- EXIF orientation -------------------------------------------------------------- */

static void
put_u16 (guint8   *p,
         guint     v,
         gboolean  little)
{
  p[little ? 0 : 1] = (guint8) v;
  p[little ? 1 : 0] = (guint8) (v >> 8);
}

static void
put_u32 (guint8   *p,
         guint32   v,
         gboolean  little)
{
  for (guint i = 0; i < 4; i++)
    p[little ? i : 3 - i] = (guint8) (v >> (8 * i));
}

/* An APP1 payload: "Exif\0\0", a TIFF header and IFD0 with one or two entries (an image
 * description first, so that the orientation is not always the first tag). */
static GByteArray *
make_exif (guint    orientation,
           gboolean little)
{
  GByteArray *exif = g_byte_array_new ();
  guint8 tiff[8 + 2 + 2 * 12 + 4] = { 0 };

  g_byte_array_append (exif, (const guint8 *) "Exif\0\0", 6);
  tiff[0] = tiff[1] = little ? 'I' : 'M';
  put_u16 (tiff + 2, 42, little);
  put_u32 (tiff + 4, 8, little);
  put_u16 (tiff + 8, 2, little);
  put_u16 (tiff + 10, 0x010e, little);   /* ImageDescription, ASCII "ab" inline */
  put_u16 (tiff + 12, 2, little);
  put_u32 (tiff + 14, 3, little);
  tiff[18] = 'a', tiff[19] = 'b';
  put_u16 (tiff + 22, 0x0112, little);   /* Orientation, SHORT */
  put_u16 (tiff + 24, 3, little);
  put_u32 (tiff + 26, 1, little);
  put_u16 (tiff + 30, orientation, little);
  g_byte_array_append (exif, tiff, sizeof tiff);
  return exif;
}

typedef enum { TOP_LEFT, TOP_RIGHT, BOTTOM_RIGHT, BOTTOM_LEFT } Corner;

static const guint8 *
corner_pixel (const GraftImage *image,
              Corner            corner)
{
  guint x = corner == TOP_LEFT || corner == BOTTOM_LEFT ? 2 : image->width - 3;
  guint y = corner == TOP_LEFT || corner == TOP_RIGHT ? 2 : image->height - 3;

  return image->pixels + y * image->stride + x * image->channels;
}

/* A 32×16 photo whose stored top-left corner is red and top-right corner green, tagged
 * with each orientation in both byte orders: the picture comes out 16×32 for 5–8, with the
 * red and green corners where a photo viewer shows them, and pixel for pixel the stored
 * picture turned or mirrored. */
static void
test_jpeg_orientation (Fixture       *fx,
                       gconstpointer  data)
{
  /* Where the stored top-left (red) and top-right (green) corners are displayed. */
  static const Corner red_at[9] = { 0, TOP_LEFT, TOP_RIGHT, BOTTOM_RIGHT, BOTTOM_LEFT,
                                    TOP_LEFT, TOP_RIGHT, BOTTOM_RIGHT, BOTTOM_LEFT };
  static const Corner green_at[9] = { 0, TOP_RIGHT, TOP_LEFT, BOTTOM_LEFT, BOTTOM_RIGHT,
                                      BOTTOM_LEFT, BOTTOM_RIGHT, TOP_RIGHT, TOP_LEFT };
  const guint w = 32, h = 16;
  g_autofree guint8 *pixels = g_malloc ((gsize) w * h * 3);
  g_autoptr(GraftImage) upright = NULL;
  g_autoptr(GError) error = NULL;

  (void) data;
  for (guint y = 0; y < h; y++)
    for (guint x = 0; x < w; x++)
      {
        guint8 *p = pixels + (y * w + x) * 3;

        p[0] = p[1] = p[2] = 200;
        if (y < 8 && x < 8)
          p[0] = 255, p[1] = 0, p[2] = 0;
        else if (y < 8 && x >= w - 8)
          p[0] = 0, p[1] = 255, p[2] = 0;
      }

  {
    JpegSpec spec = { w, h, 3, 95, FALSE, NULL, 0 };
    g_autoptr(GByteArray) plain = make_jpeg (&spec, pixels);

    upright = graft_image_decode_bytes (plain->data, plain->len, "upright.jpg", 3, 0, &error);
    g_assert_no_error (error);
  }

  for (guint orientation = 1; orientation <= 8; orientation++)
    for (int little = 0; little <= 1; little++)
      {
        g_autoptr(GByteArray) exif = make_exif (orientation, little);
        JpegSpec spec = { w, h, 3, 95, FALSE, exif->data, exif->len };
        g_autoptr(GByteArray) jpeg = make_jpeg (&spec, pixels);
        g_autofree char *name = g_strdup_printf ("orientation-%u-%s.jpg", orientation,
                                                 little ? "II" : "MM");
        g_autofree char *path = write_file (fx, name, jpeg->data, jpeg->len);
        g_autoptr(GraftImage) image = NULL;
        gboolean swap = orientation >= 5;
        GraftImageInfo info;
        const guint8 *red, *green;

        g_test_message ("%s", name);
        g_assert_true (graft_image_probe_file (path, &info, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (info.orientation, ==, orientation);
        g_assert_cmpuint (info.width, ==, swap ? h : w);
        g_assert_cmpuint (info.height, ==, swap ? w : h);

        image = graft_image_load (path, 3, 0, &error);
        g_assert_no_error (error);
        g_assert_cmpuint (image->width, ==, swap ? h : w);
        g_assert_cmpuint (image->height, ==, swap ? w : h);

        red = corner_pixel (image, red_at[orientation]);
        green = corner_pixel (image, green_at[orientation]);
        if (!(red[0] > 200 && red[1] < 60 && red[2] < 60))
          g_error ("%s: the red corner is not at corner %d", name, red_at[orientation]);
        if (!(green[1] > 200 && green[0] < 60 && green[2] < 60))
          g_error ("%s: the green corner is not at corner %d", name, green_at[orientation]);

        for (guint y = 0; y < image->height; y++)
          for (guint x = 0; x < image->width; x++)
            {
              guint sx, sy;

              switch (orientation)
                {
                case 1: sx = x, sy = y; break;
                case 2: sx = w - 1 - x, sy = y; break;
                case 3: sx = w - 1 - x, sy = h - 1 - y; break;
                case 4: sx = x, sy = h - 1 - y; break;
                case 5: sx = y, sy = x; break;
                case 6: sx = y, sy = h - 1 - x; break;
                case 7: sx = w - 1 - y, sy = h - 1 - x; break;
                default: sx = w - 1 - y, sy = x; break;
                }
              g_assert_cmpmem (image->pixels + y * image->stride + x * 3, 3,
                               upright->pixels + sy * upright->stride + sx * 3, 3);
            }
      }
}

/* EXIF blocks that lie (offsets past the end, huge entry counts, a value of 9, a wrong
 * type, a cut-off header) are read as orientation 1, and the picture still decodes. */
static void
test_jpeg_bad_exif (Fixture       *fx,
                    gconstpointer  data)
{
  const guint w = 16, h = 8;
  g_autofree guint8 *pixels = make_photo (w, h, 3);

  (void) fx, (void) data;
  for (guint variant = 0; variant < 9; variant++)
    {
      g_autoptr(GByteArray) exif = make_exif (6, variant % 2 == 0);
      g_autoptr(GByteArray) jpeg = NULL;
      g_autoptr(GraftImage) image = NULL;
      g_autoptr(GError) error = NULL;
      guint8 *tiff = exif->data + 6;
      gboolean little = variant % 2 == 0;
      GraftImageInfo info;
      JpegSpec spec = { w, h, 3, 90, FALSE, NULL, 0 };

      switch (variant)
        {
        case 0: put_u32 (tiff + 4, 0xfffffff0u, little); break;      /* IFD0 far past the end */
        case 1: put_u16 (tiff + 8, 0xffff, little);                  /* 65535 entries, 2 there */
                put_u16 (tiff + 22, 0x0001, little); break;
        case 2: put_u16 (tiff + 30, 9, little); break;               /* no such orientation */
        case 3: put_u16 (tiff + 24, 2, little); break;               /* ASCII, not SHORT */
        case 4: g_byte_array_set_size (exif, 6 + 20); break;         /* cut inside the entry */
        case 5: put_u16 (tiff + 2, 43, little); break;               /* not TIFF's 42 */
        case 6: tiff[0] = 'I', tiff[1] = 'M'; break;                 /* no byte order */
        case 7: put_u32 (tiff + 4, (guint32) exif->len - 6 - 1, little); break;  /* IFD at the last byte */
        default: g_byte_array_set_size (exif, 6 + 3); break;          /* "Exif" and 3 bytes */
        }
      spec.exif = exif->data;
      spec.exif_length = exif->len;
      jpeg = make_jpeg (&spec, pixels);
      g_assert_true (graft_image_probe_bytes (jpeg->data, jpeg->len, "bad-exif.jpg", &info, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (info.orientation, ==, 1);
      image = graft_image_decode_bytes (jpeg->data, jpeg->len, "bad-exif.jpg", 0, 0, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (image->width, ==, w);
      g_assert_cmpuint (image->height, ==, h);
    }
}

/* ---- Damaged files ----------------------------------------------------------------- */

static GByteArray *
make_rgb_png (guint width,
              guint height)
{
  static const PngLayout rgb = { PNG_COLOR_TYPE_RGB, 8, FALSE };

  return make_png (&rgb, width, height, FALSE);
}

static GByteArray *
make_photo_jpeg (guint    width,
                 guint    height,
                 gboolean progressive)
{
  JpegSpec spec = { width, height, 3, 90, progressive, NULL, 0 };
  g_autofree guint8 *pixels = make_photo (width, height, 3);

  return make_jpeg (&spec, pixels);
}

/* Every cut of a PNG before its IEND chunk, and of a JPEG before its last 16 bytes, is an
 * error that names the file; no cut crashes or yields a half-grey picture. */
static void
test_truncated (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GByteArray) png = make_rgb_png (40, 30);
  g_autoptr(GByteArray) interlaced = make_png (&png_layouts[15], 40, 30, TRUE);
  g_autoptr(GByteArray) jpeg = make_photo_jpeg (48, 40, FALSE);
  g_autoptr(GByteArray) progressive = make_photo_jpeg (48, 40, TRUE);
  GByteArray *files[] = { png, interlaced, jpeg, progressive };
  const char *names[] = { "cut.png", "cut-adam7.png", "cut.jpg", "cut-progressive.jpg" };

  (void) data;
  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    {
      gsize must_fail = f < 2 ? files[f]->len - 12 : files[f]->len - 16;

      for (gsize cut = 0; cut < files[f]->len; cut++)
        {
          g_autoptr(GraftImage) image = NULL;
          g_autoptr(GError) error = NULL;

          image = graft_image_decode_bytes (files[f]->data, cut, names[f], 0, 0, &error);
          if (image == NULL)
            assert_error_names (error, names[f]);
          else if (cut < must_fail)
            g_error ("%s cut at %" G_GSIZE_FORMAT " of %u bytes decoded", names[f], cut,
                     files[f]->len);
        }
    }

  /* A chunk that claims a gigabyte in a file of a few hundred bytes is the file ending
   * early. (That nothing is allocated for the claim, fuzz-png's allocation limit checks.) */
  {
    g_autoptr(GByteArray) liar = g_byte_array_new ();
    static const guint8 claim[8] = { 0x40, 0, 0, 0, 'z', 'T', 'X', 't' };
    g_autoptr(GError) error = NULL;

    g_byte_array_append (liar, png->data, 33);  /* signature and IHDR */
    g_byte_array_append (liar, claim, 8);
    g_byte_array_append (liar, png->data + 33, png->len - 33);
    g_assert_null (graft_image_decode_bytes (liar->data, liar->len, "liar.png", 0, 0, &error));
    g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
    assert_error_names (error, "liar.png");
  }

  /* And through a file: the error names its path. */
  {
    g_autofree char *path = write_file (fx, "half.png", png->data, png->len / 2);
    g_autoptr(GError) error = NULL;
    GraftImage *image = graft_image_load (path, 0, 0, &error);

    g_assert_null (image);
    g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
    assert_error_names (error, path);
  }
}

/* Rewrites every chunk's CRC so that a flipped bit reaches zlib and the filters instead of
 * stopping at the checksum. */
static void
fix_png_crcs (guint8 *data,
              gsize   length)
{
  for (gsize pos = 8; pos + 12 <= length;)
    {
      guint32 chunk = (guint32) data[pos] << 24 | (guint32) data[pos + 1] << 16
                      | (guint32) data[pos + 2] << 8 | data[pos + 3];
      guint32 crc;

      if (chunk > length - pos - 12)
        break;
      crc = (guint32) crc32 (0, data + pos + 4, chunk + 4);
      data[pos + 8 + chunk] = (guint8) (crc >> 24);
      data[pos + 9 + chunk] = (guint8) (crc >> 16);
      data[pos + 10 + chunk] = (guint8) (crc >> 8);
      data[pos + 11 + chunk] = (guint8) crc;
      pos += chunk + 12;
    }
}

/* Random bits flipped (one to three at a time) in PNGs (with and without their CRCs made
 * to match again) and JPEGs: each copy either decodes to an image within the limit or is
 * an error naming the file, asked for as grey, RGB or as the file is. */
static void
test_bit_flips (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GByteArray) png = make_rgb_png (24, 16);
  g_autoptr(GByteArray) palette = make_png (&png_layouts[15], 24, 16, TRUE);
  g_autoptr(GByteArray) grey16 = make_png (&png_layouts[7], 24, 16, FALSE);
  g_autoptr(GByteArray) jpeg = make_photo_jpeg (40, 24, FALSE);
  g_autoptr(GByteArray) progressive = make_photo_jpeg (40, 24, TRUE);
  GByteArray *files[] = { png, palette, grey16, jpeg, progressive };
  g_autoptr(GRand) rand = g_rand_new_with_seed (20240605);
  guint decoded = 0, refused = 0;

  (void) fx, (void) data;
  for (guint f = 0; f < G_N_ELEMENTS (files); f++)
    for (guint trial = 0; trial < 400; trial++)
      {
        g_autofree guint8 *copy = g_memdup2 (files[f]->data, files[f]->len);
        g_autoptr(GraftImage) image = NULL;
        g_autoptr(GError) error = NULL;
        guint flips = 1 + trial % 3;
        GraftImageInfo info;

        for (guint i = 0; i < flips; i++)
          {
            /* Keep the signature most of the time, to get past the magic number. */
            gsize at = g_rand_int_range (rand, trial % 8 == 0 ? 0 : 8, (gint32) files[f]->len);

            copy[at] ^= (guint8) (1u << g_rand_int_range (rand, 0, 8));
          }
        if (f < 3 && trial % 2 == 0)
          fix_png_crcs (copy, files[f]->len);

        if (!graft_image_probe_bytes (copy, files[f]->len, "flipped", &info, &error))
          assert_error_names (error, "flipped");
        g_clear_error (&error);

        image = graft_image_decode_bytes (copy, files[f]->len, "flipped", (trial % 3) == 2 ? 3 : trial % 3,
                                          1000 * 1000, &error);
        if (image == NULL)
          {
            assert_error_names (error, "flipped");
            refused++;
          }
        else
          {
            g_assert_cmpuint ((guint64) image->width * image->height, <=, 1000 * 1000);
            g_assert_true (image->channels == 1 || image->channels == 3);
            decoded++;
          }
      }
  g_test_message ("%u damaged copies decoded, %u refused", decoded, refused);
  g_assert_cmpuint (refused, >, 0);
}

/* A file that is not an image, or an image Graft does not read, or nothing at all. */
static void
test_wrong_magic (Fixture       *fx,
                  gconstpointer  data)
{
  static const guint8 gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
  static const char text[] = "<html>not a picture</html>\n";
  g_autofree char *text_path = write_file (fx, "page.png", (const guint8 *) text, strlen (text));
  g_autofree char *gif_path = write_file (fx, "anim.jpg", gif, sizeof gif - 1);
  g_autofree char *empty_path = write_file (fx, "empty.png", (const guint8 *) "", 0);
  g_autofree char *missing_path = g_build_filename (fx->dir, "missing.png", NULL);
  g_autoptr(GByteArray) png = make_rgb_png (4, 4);
  g_autoptr(GError) error = NULL;
  GraftImageInfo info;

  (void) data;
  g_assert_null (graft_image_load (text_path, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  assert_error_names (error, text_path);
  g_clear_error (&error);
  g_assert_false (graft_image_probe_file (text_path, &info, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  g_clear_error (&error);

  g_assert_null (graft_image_load (gif_path, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED);
  assert_error_names (error, gif_path);
  g_assert_nonnull (strstr (error->message, "GIF"));
  g_clear_error (&error);

  g_assert_null (graft_image_load (empty_path, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  assert_error_names (error, empty_path);
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);
  g_assert_false (graft_image_probe_file (empty_path, &info, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  g_clear_error (&error);

  g_assert_null (graft_image_load (missing_path, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
  assert_error_names (error, missing_path);
  g_clear_error (&error);
  g_assert_false (graft_image_probe_file (missing_path, &info, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
  g_clear_error (&error);

  g_assert_null (graft_image_load (fx->dir, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ);
  assert_error_names (error, fx->dir);
  g_clear_error (&error);

  /* A PNG whose first chunk is not IHDR, and a JPEG start with nothing after it. */
  memcpy (png->data + 12, "IHDX", 4);
  g_assert_null (graft_image_decode_bytes (png->data, png->len, "no-ihdr.png", 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  assert_error_names (error, "no-ihdr.png");
  g_clear_error (&error);
  g_assert_null (graft_image_decode_bytes ((const guint8 *) "\xff\xd8\xff", 3, "stub.jpg", 0, 0,
                                           &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT);
  assert_error_names (error, "stub.jpg");
}

/* ---- The pixel limit --------------------------------------------------------------- */

static void
append_png_chunk (GByteArray   *png,
                  const char   *type,
                  const guint8 *payload,
                  guint32       length)
{
  guint8 be[4];
  guint32 crc;

  be[0] = (guint8) (length >> 24), be[1] = (guint8) (length >> 16);
  be[2] = (guint8) (length >> 8), be[3] = (guint8) length;
  g_byte_array_append (png, be, 4);
  g_byte_array_append (png, (const guint8 *) type, 4);
  g_byte_array_append (png, payload, length);
  crc = (guint32) crc32 (0, (const guint8 *) type, 4);
  crc = (guint32) crc32 (crc, payload, length);
  be[0] = (guint8) (crc >> 24), be[1] = (guint8) (crc >> 16);
  be[2] = (guint8) (crc >> 8), be[3] = (guint8) crc;
  g_byte_array_append (png, be, 4);
}

/* A 120-byte PNG whose header claims @width × @height RGBA pixels. */
static GByteArray *
make_huge_png (guint32 width,
               guint32 height)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  GByteArray *png = g_byte_array_new ();
  guint8 ihdr[13] = { 0 };
  guint8 idat[64];
  uLongf idat_length = sizeof idat;
  guint8 row[1 + 8] = { 0 };

  ihdr[0] = (guint8) (width >> 24), ihdr[1] = (guint8) (width >> 16);
  ihdr[2] = (guint8) (width >> 8), ihdr[3] = (guint8) width;
  ihdr[4] = (guint8) (height >> 24), ihdr[5] = (guint8) (height >> 16);
  ihdr[6] = (guint8) (height >> 8), ihdr[7] = (guint8) height;
  ihdr[8] = 8, ihdr[9] = PNG_COLOR_TYPE_RGB_ALPHA;
  g_assert_cmpint (compress (idat, &idat_length, row, sizeof row), ==, Z_OK);
  g_byte_array_append (png, signature, 8);
  append_png_chunk (png, "IHDR", ihdr, 13);
  append_png_chunk (png, "IDAT", idat, (guint32) idat_length);
  append_png_chunk (png, "IEND", NULL, 0);
  return png;
}

/* @jpeg with its frame header rewritten to claim @width × @height. */
static void
patch_jpeg_size (GByteArray *jpeg,
                 guint       width,
                 guint       height)
{
  for (guint i = 2; i + 9 < jpeg->len; i++)
    if (jpeg->data[i] == 0xff && (jpeg->data[i + 1] == 0xc0 || jpeg->data[i + 1] == 0xc2))
      {
        jpeg->data[i + 5] = (guint8) (height >> 8), jpeg->data[i + 6] = (guint8) height;
        jpeg->data[i + 7] = (guint8) (width >> 8), jpeg->data[i + 8] = (guint8) width;
        return;
      }
  g_assert_not_reached ();
}

/* Headers claiming 100000×100000 (PNG) and 65500×65500 or 65535×65535 (JPEG, whose sizes
 * are 16 bits) are refused as TOO_LARGE within a fraction of a second, naming the file and
 * the size; the probe still reports the size. A limit is a limit to the pixel: 64×64
 * passes a limit of 4096 and not one of 4095. */
static void
test_too_large (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GByteArray) png = make_huge_png (100000, 100000);
  g_autofree char *png_path = write_file (fx, "huge.png", png->data, png->len);
  g_autoptr(GByteArray) small_png = make_rgb_png (64, 64);
  g_autoptr(GByteArray) small_jpeg = make_photo_jpeg (64, 64, FALSE);
  g_autoptr(GError) error = NULL;
  GraftImageInfo info;
  gint64 start = g_get_monotonic_time ();

  (void) data;
  g_assert_true (graft_image_probe_file (png_path, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (info.width, ==, 100000);
  g_assert_cmpuint (info.height, ==, 100000);
  g_assert_cmpuint (info.channels, ==, 4);

  g_assert_null (graft_image_load (png_path, 0, 0, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
  assert_error_names (error, png_path);
  g_assert_nonnull (strstr (error->message, "100000×100000"));
  g_clear_error (&error);
  /* Even a limit above 2^32 pixels is no reason to allocate 40 GB. */
  g_assert_null (graft_image_decode_bytes (png->data, png->len, "huge.png", 3,
                                           (guint64) 100000 * 99999, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
  g_clear_error (&error);

  for (guint side = 65500; side != 0; side = side == 65500 ? 65535 : 0)
    {
      g_autoptr(GByteArray) jpeg = make_photo_jpeg (16, 16, side == 65535);
      g_autofree char *name = g_strdup_printf ("huge-%u.jpg", side);
      g_autofree char *path = NULL;
      g_autofree char *size = g_strdup_printf ("%u×%u", side, side);

      patch_jpeg_size (jpeg, side, side);
      path = write_file (fx, name, jpeg->data, jpeg->len);
      g_assert_null (graft_image_load (path, 0, 0, &error));
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
      assert_error_names (error, path);
      g_assert_nonnull (strstr (error->message, size));
      g_clear_error (&error);
    }
  g_assert_cmpint (g_get_monotonic_time () - start, <, G_USEC_PER_SEC / 2);

  for (guint f = 0; f < 2; f++)
    {
      GByteArray *file = f == 0 ? small_png : small_jpeg;
      g_autoptr(GraftImage) image = NULL;

      g_assert_null (graft_image_decode_bytes (file->data, file->len, "64x64", 0, 4095, &error));
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE);
      g_clear_error (&error);
      image = graft_image_decode_bytes (file->data, file->len, "64x64", 0, 4096, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (image->width, ==, 64);
    }
}

/* ---- Resizing ---------------------------------------------------------------------- */

static GraftImage *
image_from (guint         width,
            guint         height,
            guint         channels,
            const guint8 *pixels)
{
  GraftImage *image = graft_image_new (width, height, channels);

  for (guint y = 0; y < height; y++)
    memcpy (image->pixels + y * image->stride, pixels + (gsize) y * width * channels,
            (gsize) width * channels);
  return image;
}

static void
assert_pixels (const GraftImage *image,
               const guint8     *expected)
{
  gsize row = (gsize) image->width * image->channels;

  for (guint y = 0; y < image->height; y++)
    g_assert_cmpmem (image->pixels + y * image->stride, row, expected + y * row, row);
}

/* Shrinking averages the area each output pixel covers (whole and fractional pixels);
 * enlarging interpolates between pixel centres and holds the edge values; a flat image
 * stays flat at any size; the same size is a copy; channels never mix. */
static void
test_resize (Fixture       *fx,
             gconstpointer  data)
{
  (void) fx, (void) data;

  {
    static const guint8 in[16] = { 10, 20, 100, 100,
                                   30, 40, 100, 101,
                                   0, 0, 255, 255,
                                   0, 2, 255, 255 };
    static const guint8 out[4] = { 25, 100, 1, 255 };  /* 100.25 → 100, 0.5 → 1 */
    g_autoptr(GraftImage) image = image_from (4, 4, 1, in);
    g_autoptr(GraftImage) half = graft_image_resize (image, 2, 2);

    assert_pixels (half, out);
  }
  {
    static const guint8 in[3] = { 0, 30, 60 };
    static const guint8 out[2] = { 10, 50 };  /* (0 + 30 / 2) / 1.5, (30 / 2 + 60) / 1.5 */
    g_autoptr(GraftImage) image = image_from (3, 1, 1, in);
    g_autoptr(GraftImage) small = graft_image_resize (image, 2, 1);

    assert_pixels (small, out);
  }
  {
    static const guint8 in[2] = { 0, 100 };
    static const guint8 out[4] = { 0, 25, 75, 100 };
    g_autoptr(GraftImage) image = image_from (2, 1, 1, in);
    g_autoptr(GraftImage) wide = graft_image_resize (image, 4, 1);

    assert_pixels (wide, out);
  }
  {
    /* Shrunk across, enlarged down: 4×2 → 2×4, RGB. */
    static const guint8 in[4 * 2 * 3] = {
      255, 0, 0,   255, 0, 0,   0, 0, 40,   0, 0, 60,
      255, 0, 100, 255, 0, 100, 0, 80, 40,  0, 80, 60,
    };
    static const guint8 out[2 * 4 * 3] = {
      255, 0, 0,    0, 0, 50,
      255, 0, 25,   0, 20, 50,
      255, 0, 75,   0, 60, 50,
      255, 0, 100,  0, 80, 50,
    };
    g_autoptr(GraftImage) image = image_from (4, 2, 3, in);
    g_autoptr(GraftImage) resized = graft_image_resize (image, 2, 4);

    assert_pixels (resized, out);
  }
  {
    g_autoptr(GraftImage) flat = graft_image_new (37, 23, 3);
    static const guint sizes[][2] = { { 5, 9 }, { 100, 61 }, { 1, 1 }, { 37, 23 }, { 36, 24 } };

    for (gsize i = 0; i < flat->stride * flat->height; i++)
      flat->pixels[i] = (guint8) (i % 3 == 0 ? 17 : i % 3 == 1 ? 128 : 250);
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      {
        g_autoptr(GraftImage) resized = graft_image_resize (flat, sizes[s][0], sizes[s][1]);

        g_assert_cmpuint (resized->width, ==, sizes[s][0]);
        g_assert_cmpuint (resized->height, ==, sizes[s][1]);
        for (gsize i = 0; i < resized->stride * resized->height; i++)
          g_assert_cmpuint (resized->pixels[i], ==, i % 3 == 0 ? 17 : i % 3 == 1 ? 128 : 250);
      }
  }
  {
    g_autofree guint8 *photo = make_photo (29, 31, 3);
    g_autoptr(GraftImage) image = image_from (29, 31, 3, photo);
    g_autoptr(GraftImage) same = graft_image_resize (image, 29, 31);

    assert_pixels (same, photo);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/data/image/png/layouts", test_png_layouts);
  ADD ("/data/image/png/luma", test_png_luma);
  ADD ("/data/image/jpeg/decode", test_jpeg_decode);
  ADD ("/data/image/jpeg/cmyk", test_jpeg_cmyk);
  ADD ("/data/image/jpeg/orientation", test_jpeg_orientation);
  ADD ("/data/image/jpeg/bad-exif", test_jpeg_bad_exif);
  ADD ("/data/image/truncated", test_truncated);
  ADD ("/data/image/bit-flips", test_bit_flips);
  ADD ("/data/image/wrong-magic", test_wrong_magic);
  ADD ("/data/image/too-large", test_too_large);
  ADD ("/data/image/resize", test_resize);
#undef ADD

  return g_test_run ();
}
