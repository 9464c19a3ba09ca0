/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* PNG and JPEG files decoded into 8-bit grey or RGB: the public entry points, which pick a
 * decoder by the file's magic number (graft-image-png.c, graft-image-jpeg.c), and what
 * both decoders share: their errors, the pixel limit, the row converter and the readers
 * of big- and little-endian integers. Resizing lives in graft-image-resize.c.
 *
 * Pixels pass through one row converter: alpha is composited over black, grey becomes RGB
 * by repetition and RGB becomes grey by ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B),
 * rounded to nearest. 16-bit samples are scaled to 8 bits by libpng (png_set_scale_16,
 * rounded) before alpha is applied. CMYK and YCCK JPEGs are converted naively (no colour
 * profile): R = (1 − C)(1 − K) and so on, with Adobe's inverted storage honoured. */

#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "graft-data-error.h"
#include "graft-image-private.h"

/* What probe_file reads of a file first; a JPEG whose header lies further in is read whole. */
#define PROBE_PREFIX_BYTES (64u * 1024u)

GraftImage *
graft_image_new (guint width,
                 guint height,
                 guint channels)
{
  GraftImage *image;

  g_return_val_if_fail (width > 0 && height > 0, NULL);
  g_return_val_if_fail (channels == 1 || channels == 3, NULL);

  image = g_new0 (GraftImage, 1);
  image->width = width;
  image->height = height;
  image->channels = channels;
  image->stride = (gsize) width * channels;
  image->pixels = g_try_malloc0 (image->stride * height);
  if (image->pixels == NULL)
    {
      g_free (image);
      return NULL;
    }
  return image;
}

void
graft_image_free (GraftImage *image)
{
  if (image == NULL)
    return;
  g_free (image->pixels);
  g_free (image);
}

GraftImageFormat
graft_image_sniff (const guint8 *data,
                   gsize         length)
{
  static const guint8 png[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

  if (data == NULL)
    return GRAFT_IMAGE_FORMAT_UNKNOWN;
  if (length >= 8 && memcmp (data, png, 8) == 0)
    return GRAFT_IMAGE_FORMAT_PNG;
  if (length >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
    return GRAFT_IMAGE_FORMAT_JPEG;
  return GRAFT_IMAGE_FORMAT_UNKNOWN;
}

/* ---- Errors shared by both formats ------------------------------------------------- */

/* Another image format recognised by its magic number, for a better message. */
static const char *
other_format_name (const guint8 *data,
                   gsize         length)
{
  if (length >= 6 && (memcmp (data, "GIF87a", 6) == 0 || memcmp (data, "GIF89a", 6) == 0))
    return "GIF";
  if (length >= 12 && memcmp (data, "RIFF", 4) == 0 && memcmp (data + 8, "WEBP", 4) == 0)
    return "WebP";
  if (length >= 4 && (memcmp (data, "II*\0", 4) == 0 || memcmp (data, "MM\0*", 4) == 0))
    return "TIFF";
  if (length >= 12 && memcmp (data + 4, "ftyp", 4) == 0
      && (memcmp (data + 8, "heic", 4) == 0 || memcmp (data + 8, "heix", 4) == 0
          || memcmp (data + 8, "mif1", 4) == 0 || memcmp (data + 8, "avif", 4) == 0))
    return "HEIF/AVIF";
  if (length >= 2 && data[0] == 'B' && data[1] == 'M')
    return "BMP";
  return NULL;
}

static void
set_not_an_image (const guint8  *data,
                  gsize          length,
                  const char    *name,
                  GError       **error)
{
  const char *other;

  if (length == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s is empty (0 bytes): copy or download it again, or remove it", name);
      return;
    }
  other = other_format_name (data, length);
  if (other != NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                   "%s is a %s image; Graft reads PNG and JPEG: convert it to PNG", name, other);
      return;
    }
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
               "%s is not a PNG or JPEG image (it starts with the bytes %02x %02x %02x %02x): "
               "it may be damaged or another kind of file; replace or remove it",
               name, data[0], length > 1 ? data[1] : 0, length > 2 ? data[2] : 0,
               length > 3 ? data[3] : 0);
}

gboolean
_graft_image_check_pixel_limit (const char  *name,
                                guint        width,
                                guint        height,
                                guint64      max_pixels,
                                GError     **error)
{
  guint64 pixels = (guint64) width * height;

  if (max_pixels == 0)
    max_pixels = GRAFT_IMAGE_DEFAULT_MAX_PIXELS;
  if (pixels <= max_pixels)
    return TRUE;
  if (max_pixels >= 1000 * 1000)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                 "%s is %u×%u pixels (%.1f megapixels), more than the limit of %.1f "
                 "megapixels: scale it down or leave it out", name, width, height,
                 pixels / 1e6, max_pixels / 1e6);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                 "%s is %u×%u pixels, more than the limit of %" G_GUINT64_FORMAT " pixels: "
                 "scale it down or leave it out", name, width, height, max_pixels);
  return FALSE;
}

void
_graft_image_set_out_of_memory (const char  *name,
                                guint        width,
                                guint        height,
                                GError     **error)
{
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
               "There is not enough memory to decode %s (%u×%u pixels): close other "
               "programs, or scale the image down", name, width, height);
}

/* ---- Pixel conversion -------------------------------------------------------------- */

const guint _graft_image_layout_bytes[] = { 1, 2, 3, 4, 4, 4 };

/* Rounded c × a / 255 */
static inline guint
mul_div_255 (guint c,
             guint a)
{
  return (c * a + 127) / 255;
}

/* One row of @width pixels from @layout into @channels (1 or 3) channels. */
void
_graft_image_convert_row (const guint8     *src,
                          GraftImageLayout  layout,
                          guint8           *dst,
                          guint             channels,
                          guint             width)
{
  for (guint x = 0; x < width; x++)
    {
      guint r, g, b, a = 255;

      switch (layout)
        {
        case GRAFT_IMAGE_LAYOUT_GREY:
          r = g = b = src[0];
          break;
        case GRAFT_IMAGE_LAYOUT_GREY_ALPHA:
          r = g = b = src[0];
          a = src[1];
          break;
        case GRAFT_IMAGE_LAYOUT_RGB:
          r = src[0], g = src[1], b = src[2];
          break;
        case GRAFT_IMAGE_LAYOUT_RGBA:
          r = src[0], g = src[1], b = src[2], a = src[3];
          break;
        case GRAFT_IMAGE_LAYOUT_CMYK:
          r = mul_div_255 (255 - src[0], 255 - src[3]);
          g = mul_div_255 (255 - src[1], 255 - src[3]);
          b = mul_div_255 (255 - src[2], 255 - src[3]);
          break;
        case GRAFT_IMAGE_LAYOUT_CMYK_ADOBE:
        default:
          r = mul_div_255 (src[0], src[3]);
          g = mul_div_255 (src[1], src[3]);
          b = mul_div_255 (src[2], src[3]);
          break;
        }
      src += _graft_image_layout_bytes[layout];

      if (channels == 3)
        {
          dst[0] = (guint8) mul_div_255 (r, a);
          dst[1] = (guint8) mul_div_255 (g, a);
          dst[2] = (guint8) mul_div_255 (b, a);
          dst += 3;
        }
      else if (r == g && g == b)
        *dst++ = (guint8) mul_div_255 (r, a);
      else
        {
          /* round ((0.299 r + 0.587 g + 0.114 b) × a / 255), exactly */
          guint luma1000 = 299 * r + 587 * g + 114 * b;

          *dst++ = (guint8) ((luma1000 * a + 127500) / 255000);
        }
    }
}

/* ---- Byte order -------------------------------------------------------------------- */

guint
_graft_image_read_u16 (const guint8 *p,
                       gboolean      little)
{
  return little ? (guint) p[0] | (guint) p[1] << 8 : (guint) p[0] << 8 | (guint) p[1];
}

guint32
_graft_image_read_u32 (const guint8 *p,
                       gboolean      little)
{
  return little ? (guint32) p[0] | (guint32) p[1] << 8 | (guint32) p[2] << 16 | (guint32) p[3] << 24
                : (guint32) p[0] << 24 | (guint32) p[1] << 16 | (guint32) p[2] << 8 | (guint32) p[3];
}

/* ---- Public entry points ----------------------------------------------------------- */

/* Probes @data; *need_more is set when a JPEG's header runs past the end of @data, which
 * for a prefix of a file means that more of it should be read. */
static gboolean
probe_bytes (const guint8    *data,
             gsize            length,
             const char      *name,
             GraftImageInfo  *info,
             gboolean        *need_more,
             GError         **error)
{
  memset (info, 0, sizeof *info);
  *need_more = FALSE;

  switch (graft_image_sniff (data, length))
    {
    case GRAFT_IMAGE_FORMAT_PNG:
      return _graft_image_probe_png (data, length, name, info, error);
    case GRAFT_IMAGE_FORMAT_JPEG:
      return _graft_image_probe_jpeg (data, length, name, info, need_more, error);
    case GRAFT_IMAGE_FORMAT_UNKNOWN:
    default:
      set_not_an_image (data, length, name, error);
      return FALSE;
    }
}

gboolean
graft_image_probe_bytes (const guint8    *data,
                         gsize            length,
                         const char      *name,
                         GraftImageInfo  *info,
                         GError         **error)
{
  gboolean need_more;

  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return probe_bytes (data, length, name != NULL ? name : "the image", info, &need_more, error);
}

GraftImage *
graft_image_decode_bytes (const guint8  *data,
                          gsize          length,
                          const char    *name,
                          guint          channels,
                          guint64        max_pixels,
                          GError       **error)
{
  g_return_val_if_fail (data != NULL || length == 0, NULL);
  g_return_val_if_fail (channels == 0 || channels == 1 || channels == 3, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (name == NULL)
    name = "the image";
  if (max_pixels == 0)
    max_pixels = GRAFT_IMAGE_DEFAULT_MAX_PIXELS;

  switch (graft_image_sniff (data, length))
    {
    case GRAFT_IMAGE_FORMAT_PNG:
      return _graft_image_decode_png (data, length, name, channels, max_pixels, error);
    case GRAFT_IMAGE_FORMAT_JPEG:
      return _graft_image_decode_jpeg (data, length, name, channels, max_pixels, error);
    case GRAFT_IMAGE_FORMAT_UNKNOWN:
    default:
      set_not_an_image (data, length, name, error);
      return NULL;
    }
}

/* Reads up to @limit bytes of @path (all of it when @limit is 0). */
static gboolean
read_file (const char  *path,
           gsize        limit,
           guint8     **contents,
           gsize       *length,
           gboolean    *whole,
           GError     **error)
{
  g_autofree guint8 *buffer = NULL;
  GStatBuf st;
  gsize size, done = 0;
  int fd, saved_errno;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  saved_errno = errno;
  if (fd >= 0 && fstat (fd, &st) != 0)
    {
      saved_errno = errno;
      close (fd);
      fd = -1;
    }
  else if (fd >= 0 && S_ISDIR (st.st_mode))
    {
      saved_errno = EISDIR;
      close (fd);
      fd = -1;
    }
  if (fd < 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR,
                   saved_errno == ENOENT ? GRAFT_DATA_ERROR_NOT_FOUND : GRAFT_DATA_ERROR_READ,
                   "Could not open %s: %s", path, g_strerror (saved_errno));
      return FALSE;
    }

  size = (gsize) MAX (st.st_size, 0);
  if (limit != 0 && size > limit)
    size = limit;
  buffer = g_try_malloc (size + 1);
  if (buffer == NULL)
    {
      close (fd);
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "There is not enough memory to read %s (%" G_GSIZE_FORMAT " bytes)",
                   path, size);
      return FALSE;
    }
  while (done < size)
    {
      gssize n = read (fd, buffer + done, size - done);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          saved_errno = errno;
          close (fd);
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                       "Could not read %s: %s", path, g_strerror (saved_errno));
          return FALSE;
        }
      if (n == 0)
        break;  /* the file shrank meanwhile: what is there is what is decoded */
      done += (gsize) n;
    }
  close (fd);
  *whole = limit == 0 || (guint64) st.st_size <= limit;
  *length = done;
  *contents = g_steal_pointer (&buffer);
  return TRUE;
}

gboolean
graft_image_probe_file (const char      *path,
                        GraftImageInfo  *info,
                        GError         **error)
{
  g_autofree guint8 *contents = NULL;
  g_autoptr(GError) local_error = NULL;
  gboolean whole, need_more;
  gsize length;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (info != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!read_file (path, PROBE_PREFIX_BYTES, &contents, &length, &whole, error))
    return FALSE;
  if (probe_bytes (contents, length, path, info, &need_more, &local_error))
    return TRUE;
  if (!need_more || whole)
    {
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }

  /* A JPEG whose header lies past the prefix (large EXIF or ICC blocks). */
  g_clear_error (&local_error);
  g_clear_pointer (&contents, g_free);
  if (!read_file (path, 0, &contents, &length, &whole, error))
    return FALSE;
  return probe_bytes (contents, length, path, info, &need_more, error);
}

GraftImage *
graft_image_load (const char  *path,
                  guint        channels,
                  guint64      max_pixels,
                  GError     **error)
{
  g_autofree guint8 *contents = NULL;
  gboolean whole;
  gsize length;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (channels == 0 || channels == 1 || channels == 3, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!read_file (path, 0, &contents, &length, &whole, error))
    return NULL;
  return graft_image_decode_bytes (contents, length, path, channels, max_pixels, error);
}
