/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* PNG through libpng, decoded into 8-bit grey or RGB.
 *
 * The decoder runs inside setjmp: libpng reports a fatal error by calling back into this
 * file, which copies the message and longjmps out. Nothing it prints reaches stderr
 * (warnings go to g_debug). Everything libpng could leave behind on such a jump lives in a
 * decoder struct that the caller frees afterwards, never in a local.
 *
 * The pixel limit is checked against the header (the IHDR chunk, read here before libpng
 * starts) before the pixel buffer exists. libpng is also held to the limit per side, to
 * 8 MiB per ancillary chunk and to 256 such chunks.
 *
 * Rows that are not already what was asked for pass through the shared row converter
 * (graft-image.c); 16-bit samples are scaled to 8 bits by libpng (png_set_scale_16,
 * rounded) before alpha is applied. */

#include <setjmp.h>
#include <string.h>

#include <png.h>

#include "graft-data-error.h"
#include "graft-image-private.h"

#define PNG_CHUNK_MALLOC_MAX (8u * 1024u * 1024u)
#define PNG_CHUNK_CACHE_MAX 256u

typedef struct {
  guint32 width, height;
  guint   bit_depth, color_type, interlace;
  gboolean has_trns;
} PngHeader;

static guint32
read_be32 (const guint8 *p)
{
  return _graft_image_read_u32 (p, FALSE);
}

/* The IHDR chunk (and whether a tRNS chunk comes before the image data), read and
 * checked here so that nothing of libpng runs on a header that is refused. With
 * @whole_file, the chunks before the image data must also fit in @data: libpng allocates
 * what a chunk claims before reading it, 1 GB for a 100-byte file that says so. */
static gboolean
png_parse_header (const guint8  *data,
                  gsize          length,
                  gboolean       whole_file,
                  const char    *name,
                  PngHeader     *header,
                  GError       **error)
{
  const guint8 *ihdr = data + 16;
  gboolean depth_ok;
  gsize pos;

  if (length < 8 + 8 + 13)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s ends inside its PNG header (%" G_GSIZE_FORMAT " bytes): copy or download "
                   "it again, or remove it", name, length);
      return FALSE;
    }
  if (read_be32 (data + 8) != 13 || memcmp (data + 12, "IHDR", 4) != 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s is damaged: its PNG header (IHDR) is missing; copy or download it "
                   "again, or remove it", name);
      return FALSE;
    }

  header->width = read_be32 (ihdr);
  header->height = read_be32 (ihdr + 4);
  header->bit_depth = ihdr[8];
  header->color_type = ihdr[9];
  header->interlace = ihdr[12];
  switch (header->color_type)
    {
    case PNG_COLOR_TYPE_GRAY:
      depth_ok = header->bit_depth == 1 || header->bit_depth == 2 || header->bit_depth == 4
                 || header->bit_depth == 8 || header->bit_depth == 16;
      break;
    case PNG_COLOR_TYPE_PALETTE:
      depth_ok = header->bit_depth == 1 || header->bit_depth == 2 || header->bit_depth == 4
                 || header->bit_depth == 8;
      break;
    case PNG_COLOR_TYPE_RGB:
    case PNG_COLOR_TYPE_GRAY_ALPHA:
    case PNG_COLOR_TYPE_RGB_ALPHA:
      depth_ok = header->bit_depth == 8 || header->bit_depth == 16;
      break;
    default:
      depth_ok = FALSE;
      break;
    }
  if (header->width == 0 || header->height == 0 || header->width > PNG_UINT_31_MAX
      || header->height > PNG_UINT_31_MAX || !depth_ok || ihdr[10] != 0 || ihdr[11] != 0
      || header->interlace > 1)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s is damaged: its PNG header is invalid (%u×%u pixels, colour type %u, "
                   "%u bits); copy or download it again, or remove it", name, header->width,
                   header->height, header->color_type, header->bit_depth);
      return FALSE;
    }

  /* tRNS, if any, lies between IHDR and the first IDAT. */
  header->has_trns = FALSE;
  for (pos = 8; length - pos >= 8;)
    {
      guint32 chunk = read_be32 (data + pos);
      const guint8 *type = data + pos + 4;

      if (memcmp (type, "IDAT", 4) == 0 || memcmp (type, "IEND", 4) == 0
          || chunk > PNG_UINT_31_MAX)
        break;
      if (memcmp (type, "tRNS", 4) == 0)
        header->has_trns = TRUE;
      if ((guint64) chunk + 12 > length - pos)
        {
          if (!whole_file)
            break;
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                       "%s ends early: a PNG chunk at byte %" G_GSIZE_FORMAT " claims %u "
                       "bytes and only %" G_GSIZE_FORMAT " follow; copy or download it "
                       "again, or remove it", name, pos, chunk, length - pos - 8);
          return FALSE;
        }
      pos += (gsize) chunk + 12;
    }
  return TRUE;
}

static guint
png_header_channels (const PngHeader *header)
{
  switch (header->color_type)
    {
    case PNG_COLOR_TYPE_GRAY:       return header->has_trns ? 2 : 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB_ALPHA:  return 4;
    default:                        return header->has_trns ? 4 : 3;
    }
}

gboolean
_graft_image_probe_png (const guint8    *data,
                        gsize            length,
                        const char      *name,
                        GraftImageInfo  *info,
                        GError         **error)
{
  PngHeader header;

  if (!png_parse_header (data, length, FALSE, name, &header, error))
    return FALSE;
  info->format = GRAFT_IMAGE_FORMAT_PNG;
  info->width = header.width;
  info->height = header.height;
  info->channels = png_header_channels (&header);
  info->bit_depth = header.bit_depth;
  info->orientation = 1;
  return TRUE;
}

typedef struct {
  const guint8 *data;
  gsize         length;
  gsize         offset;
  guint         channels;       /* wanted: 1 or 3 */
  guint64       max_pixels;
  gboolean      truncated;
  gboolean      out_of_memory;
  char          message[256];   /* libpng's reason for giving up */
  /* Freed by the caller, whether libpng returned or jumped. */
  GraftImage   *image;
  guint8       *buffer;
  png_bytep    *rows;
} PngDecoder;

static void
on_png_error (png_structp     png,
              png_const_charp message)
{
  PngDecoder *d = png_get_error_ptr (png);

  g_strlcpy (d->message, message, sizeof d->message);
  png_longjmp (png, 1);
}

static void
on_png_warning (png_structp     png,
                png_const_charp message)
{
  (void) png;
  g_debug ("libpng: %s", message);
}

static void
on_png_read (png_structp png,
             png_bytep   out,
             png_size_t  length)
{
  PngDecoder *d = png_get_io_ptr (png);

  if (length > d->length - d->offset)
    {
      d->truncated = TRUE;
      png_error (png, "the file ends early");
    }
  memcpy (out, d->data + d->offset, length);
  d->offset += length;
}

/* Decodes into d->image (as stored); FALSE with d->message, d->truncated or
 * d->out_of_memory saying why. */
static gboolean
png_decode (PngDecoder *d)
{
  png_structp png;
  png_infop info;
  png_uint_32 width, height;
  guint64 side_max;
  GraftImageLayout layout;
  gsize rowbytes;
  int passes;

  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, d, on_png_error, on_png_warning);
  if (png == NULL)
    {
      d->out_of_memory = TRUE;
      return FALSE;
    }
  info = png_create_info_struct (png);
  if (info == NULL)
    {
      png_destroy_read_struct (&png, NULL, NULL);
      d->out_of_memory = TRUE;
      return FALSE;
    }
  if (setjmp (png_jmpbuf (png)))
    {
      png_destroy_read_struct (&png, &info, NULL);
      return FALSE;
    }

  side_max = MIN (d->max_pixels, (guint64) PNG_UINT_31_MAX);
  png_set_user_limits (png, (png_uint_32) side_max, (png_uint_32) side_max);
  png_set_chunk_cache_max (png, PNG_CHUNK_CACHE_MAX);
  png_set_chunk_malloc_max (png, PNG_CHUNK_MALLOC_MAX);
  png_set_read_fn (png, d, on_png_read);
  png_read_info (png, info);

  /* Palette to RGB, grey below 8 bits to 8, tRNS to an alpha channel, 16 bits to 8. */
  png_set_expand (png);
  png_set_scale_16 (png);
  passes = png_set_interlace_handling (png);
  png_read_update_info (png, info);

  width = png_get_image_width (png, info);
  height = png_get_image_height (png, info);
  rowbytes = png_get_rowbytes (png, info);
  switch (png_get_channels (png, info))
    {
    case 1: layout = GRAFT_IMAGE_LAYOUT_GREY; break;
    case 2: layout = GRAFT_IMAGE_LAYOUT_GREY_ALPHA; break;
    case 3: layout = GRAFT_IMAGE_LAYOUT_RGB; break;
    case 4: layout = GRAFT_IMAGE_LAYOUT_RGBA; break;
    default: png_error (png, "unexpected channel count"); break;
    }
  if (png_get_bit_depth (png, info) != 8
      || rowbytes != (gsize) width * _graft_image_layout_bytes[layout])
    png_error (png, "unexpected row layout after conversion");

  d->image = graft_image_new (width, height, d->channels);
  if (d->image == NULL)
    {
      d->out_of_memory = TRUE;
      png_error (png, "out of memory");
    }

  if ((layout == GRAFT_IMAGE_LAYOUT_GREY && d->channels == 1)
      || (layout == GRAFT_IMAGE_LAYOUT_RGB && d->channels == 3))
    {
      /* The rows are already what was asked for: straight into the image. */
      d->rows = g_try_new (png_bytep, height);
      if (d->rows == NULL)
        {
          d->out_of_memory = TRUE;
          png_error (png, "out of memory");
        }
      for (guint y = 0; y < height; y++)
        d->rows[y] = d->image->pixels + (gsize) y * d->image->stride;
      png_read_image (png, d->rows);
    }
  else if (passes == 1)
    {
      d->buffer = g_try_malloc (rowbytes);
      if (d->buffer == NULL)
        {
          d->out_of_memory = TRUE;
          png_error (png, "out of memory");
        }
      for (guint y = 0; y < height; y++)
        {
          png_read_row (png, d->buffer, NULL);
          _graft_image_convert_row (d->buffer, layout,
                                    d->image->pixels + (gsize) y * d->image->stride,
                                    d->channels, width);
        }
    }
  else
    {
      /* Adam7 fills rows in seven passes: the whole image is read before converting. */
      d->buffer = g_try_malloc ((gsize) height * rowbytes);
      d->rows = g_try_new (png_bytep, height);
      if (d->buffer == NULL || d->rows == NULL)
        {
          d->out_of_memory = TRUE;
          png_error (png, "out of memory");
        }
      for (guint y = 0; y < height; y++)
        d->rows[y] = d->buffer + (gsize) y * rowbytes;
      png_read_image (png, d->rows);
      for (guint y = 0; y < height; y++)
        _graft_image_convert_row (d->rows[y], layout,
                                  d->image->pixels + (gsize) y * d->image->stride,
                                  d->channels, width);
    }

  /* What follows the image data (text, time) is not needed: png_read_end is skipped. */
  png_destroy_read_struct (&png, &info, NULL);
  return TRUE;
}

GraftImage *
_graft_image_decode_png (const guint8  *data,
                         gsize          length,
                         const char    *name,
                         guint          channels,
                         guint64        max_pixels,
                         GError       **error)
{
  PngDecoder d = { 0 };
  PngHeader header;
  GraftImage *image;

  if (!png_parse_header (data, length, TRUE, name, &header, error)
      || !_graft_image_check_pixel_limit (name, header.width, header.height, max_pixels, error))
    return NULL;

  d.data = data;
  d.length = length;
  d.channels = channels != 0 ? channels : (png_header_channels (&header) <= 2 ? 1 : 3);
  d.max_pixels = max_pixels;
  if (png_decode (&d))
    image = g_steal_pointer (&d.image);
  else
    {
      image = NULL;
      if (d.out_of_memory)
        _graft_image_set_out_of_memory (name, header.width, header.height, error);
      else if (d.truncated)
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                     "%s ends early (after %" G_GSIZE_FORMAT " bytes, inside the PNG data): "
                     "copy or download it again, or remove it", name, length);
      else
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                     "%s is a damaged PNG (%s): copy or download it again, or remove it",
                     name, d.message);
    }
  graft_image_free (d.image);
  g_free (d.buffer);
  g_free (d.rows);
  return image;
}

