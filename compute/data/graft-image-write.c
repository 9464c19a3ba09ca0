/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <png.h>

#include "graft-data-error.h"
#include "graft-image-write.h"

typedef struct {
  GByteArray *out;
  char        reason[200];   /* libpng's message when it gives up */
  char        warning[200];  /* its last warning, often the more precise cause */
} PngWriter;

static void
on_png_error (png_structp     png,
              png_const_charp message)
{
  PngWriter *writer = png_get_error_ptr (png);

  g_strlcpy (writer->reason, message, sizeof writer->reason);
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp     png,
                png_const_charp message)
{
  PngWriter *writer = png_get_error_ptr (png);

  g_strlcpy (writer->warning, message, sizeof writer->warning);
  g_debug ("libpng: %s", message);
}

static void
on_png_write (png_structp png,
              png_bytep   data,
              png_size_t  len)
{
  PngWriter *writer = png_get_io_ptr (png);

  g_byte_array_append (writer->out, data, (guint) len);
}

static void
on_png_flush (png_structp png)
{
  (void) png;
}

/* Encodes the image into writer->out; on failure writer->reason says why. Nothing that
 * libpng's longjmp could skip over owns memory but the two structs it frees. */
static gboolean
encode_png (PngWriter    *writer,
            guint         width,
            guint         height,
            guint         channels,
            gsize         stride,
            const guint8 *pixels)
{
  static const int color_types[] = {
    PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA,
  };
  png_structp png;
  png_infop info;

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, writer, on_png_error, on_png_warning);
  if (png == NULL)
    {
      g_strlcpy (writer->reason, "libpng could not start (out of memory?)", sizeof writer->reason);
      return FALSE;
    }
  info = png_create_info_struct (png);
  if (info == NULL)
    {
      png_destroy_write_struct (&png, NULL);
      g_strlcpy (writer->reason, "libpng could not start (out of memory?)", sizeof writer->reason);
      return FALSE;
    }

  if (setjmp (png_jmpbuf (png)))
    {
      png_destroy_write_struct (&png, &info);
      return FALSE;
    }

  png_set_write_fn (png, writer, on_png_write, on_png_flush);
  png_set_IHDR (png, info, width, height, 8, color_types[channels - 1], PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info (png, info);
  for (guint y = 0; y < height; y++)
    png_write_row (png, pixels + (gsize) y * stride);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return TRUE;
}

gboolean
graft_image_write_png (const char    *path,
                       guint          width,
                       guint          height,
                       guint          channels,
                       gsize          stride,
                       const guint8  *pixels,
                       GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GByteArray) out = NULL;
  PngWriter writer = { 0 };

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (channels >= 1 && channels <= 4, FALSE);
  g_return_val_if_fail (width > 0 && height > 0, FALSE);
  g_return_val_if_fail (stride >= (gsize) width * channels, FALSE);
  g_return_val_if_fail (pixels != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  out = g_byte_array_new ();
  writer.out = out;
  if (!encode_png (&writer, width, height, channels, stride, pixels))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "Could not encode %s as a %u×%u PNG: %s%s%s%s", path, width, height,
                   writer.reason, writer.warning[0] != '\0' ? " (" : "", writer.warning,
                   writer.warning[0] != '\0' ? ")" : "");
      return FALSE;
    }

  /* A temporary file in the same folder, renamed over @path once complete. It is synced
   * to disk first when it replaces a file, so that a crash cannot lose the old one; a new
   * file is not, which keeps writing thousands of them (a dataset) fast. */
  if (!g_file_set_contents_full (path, (const char *) out->data, out->len,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_ONLY_EXISTING,
                                 0644, &local_error))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "Could not write the image %s: %s; check that its folder exists, is "
                   "writable and that the disk has room", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}
