/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the image fuzz targets share: one input through the header probe, the decoder
 * (as grey, as RGB or as the file is, picked by the input's length) under a small pixel
 * limit, and a resize of whatever decoded. libFuzzer and the sanitizers catch the crashes;
 * what only this code can see (an error without the file's name, an image that disagrees
 * with its probe or breaks the limit) aborts, which libFuzzer reports as a crash too. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graft.h"

/* 512 × 512: large enough for every layout, small enough for thousands of runs a second. */
#define FUZZ_MAX_PIXELS (512u * 512u)

static inline void
fuzz_check (gboolean    ok,
            const char *what)
{
  if (!ok)
    {
      g_printerr ("fuzz check failed: %s\n", what);
      abort ();
    }
}

static inline void
fuzz_check_error (const GError *error,
                  const char   *name)
{
  fuzz_check (error != NULL, "a failure without a GError");
  fuzz_check (error->domain == GRAFT_DATA_ERROR, "an error outside GRAFT_DATA_ERROR");
  fuzz_check (strstr (error->message, name) != NULL, "an error that does not name the file");
}

/* GLib's criticals (a g_return_if_fail tripped) and warnings are bugs here: abort on them. */
static inline void
fuzz_image_init (void)
{
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
}

/* Returns -1 for an input of another format, so that libFuzzer does not keep it. */
static inline int
fuzz_image (const uint8_t    *data,
            size_t            size,
            GraftImageFormat  format,
            const char       *name)
{
  static const guint channel_choices[3] = { 0, 1, 3 };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftImage) image = NULL;
  GraftImageInfo info;
  gboolean probed;
  guint channels = channel_choices[size % 3];

  if (graft_image_sniff (data, size) != format)
    return -1;

  probed = graft_image_probe_bytes (data, size, name, &info, &error);
  if (probed)
    {
      fuzz_check (error == NULL, "a probe that succeeded and set an error");
      fuzz_check (info.format == format, "a probe that reports another format");
      fuzz_check (info.width > 0 && info.height > 0, "a probe without a size");
      fuzz_check (info.channels >= 1 && info.channels <= 4, "a probe with no channel count");
      fuzz_check (info.orientation >= 1 && info.orientation <= 8, "an orientation outside 1–8");
    }
  else
    fuzz_check_error (error, name);
  g_clear_error (&error);

  image = graft_image_decode_bytes (data, size, name, channels, FUZZ_MAX_PIXELS, &error);
  if (image == NULL)
    {
      fuzz_check_error (error, name);
      return 0;
    }
  fuzz_check (error == NULL, "an image and an error");
  fuzz_check (probed, "an image whose header did not probe");
  fuzz_check (image->width == info.width && image->height == info.height,
              "an image of another size than its probe");
  fuzz_check ((guint64) image->width * image->height <= FUZZ_MAX_PIXELS,
              "an image beyond the pixel limit");
  fuzz_check (image->channels == (channels != 0 ? channels : info.channels <= 2 ? 1 : 3),
              "an image with other channels than asked for");
  fuzz_check (image->stride >= (gsize) image->width * image->channels, "a short stride");

  /* Every pixel is read (MemorySanitizer or valgrind would see one left unset), and the
   * image is shrunk and enlarged to sizes picked by its content. */
  {
    guint sum = 0;
    g_autoptr(GraftImage) small = NULL;
    g_autoptr(GraftImage) large = NULL;

    for (guint y = 0; y < image->height; y++)
      for (gsize i = 0; i < (gsize) image->width * image->channels; i++)
        sum += image->pixels[y * image->stride + i];
    small = graft_image_resize (image, 1 + sum % 7, 1 + sum % 5);
    large = graft_image_resize (image, image->width + sum % 3, image->height * 2);
    fuzz_check (small != NULL && large != NULL, "a resize that failed");
    fuzz_check (small->channels == image->channels, "a resize that changed the channels");
  }
  return 0;
}
