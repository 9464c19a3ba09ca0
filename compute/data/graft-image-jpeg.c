/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* JPEG through libjpeg-turbo, decoded into 8-bit grey or RGB with its EXIF orientation
 * applied.
 *
 * The decoder runs inside setjmp: libjpeg reports a fatal error by calling back into this
 * file, which copies the message and longjmps out. Nothing it prints reaches stderr
 * (warnings go to g_debug). Everything libjpeg could leave behind on such a jump lives in a
 * decoder struct that the caller frees afterwards, never in a local.
 *
 * The pixel limit is checked against the frame header (after jpeg_read_header) before the
 * pixel buffer exists. A JPEG is held to 500 scans, as libjpeg-turbo's own tools are.
 * Rows that are not already what was asked for (CMYK and YCCK among them) pass through the
 * shared row converter (graft-image.c).
 *
 * EXIF orientation (APP1 "Exif\0\0", TIFF header, IFD0 tag 0x0112) is applied after
 * decoding; every offset into the EXIF block is checked against its length, and a block
 * that does not parse counts as orientation 1. */

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

#include "graft-data-error.h"
#include "graft-image-private.h"

#define JPEG_MAX_SCANS 500
#define JPEG_MAX_SIDE 65500u  /* libjpeg's JPEG_MAX_DIMENSION */

/* ---- Orientation ------------------------------------------------------------------- */

/* Where output pixel (x, y) comes from for each EXIF orientation: source column
 * sx = x0 (w − 1 if set) + x·xx + y·yx, source row sy likewise (h − 1 if set). */
static const struct {
  gboolean from_right, from_bottom;
  int      xx, xy, yx, yy;   /* source column and row steps per output column and row */
} orientations[9] = {
  [1] = { FALSE, FALSE,  1,  0,  0,  1 },  /* as stored */
  [2] = { TRUE,  FALSE, -1,  0,  0,  1 },  /* mirrored left to right */
  [3] = { TRUE,  TRUE,  -1,  0,  0, -1 },  /* turned 180° */
  [4] = { FALSE, TRUE,   1,  0,  0, -1 },  /* mirrored top to bottom */
  [5] = { FALSE, FALSE,  0,  1,  1,  0 },  /* transposed */
  [6] = { FALSE, TRUE,   0, -1,  1,  0 },  /* turned 90° clockwise */
  [7] = { TRUE,  TRUE,   0, -1, -1,  0 },  /* transversed */
  [8] = { TRUE,  FALSE,  0,  1, -1,  0 },  /* turned 90° anticlockwise */
};

/* @image as displayed under EXIF @orientation (2–8); NULL when out of memory. */
static GraftImage *
apply_orientation (const GraftImage *image,
                   guint             orientation)
{
  guint w = image->width, h = image->height, c = image->channels;
  gboolean swap = orientation >= 5;
  GraftImage *out = graft_image_new (swap ? h : w, swap ? w : h, c);
  gssize step_x, step_y, start;

  if (out == NULL)
    return NULL;

  /* A step of the output's x moves the source by xx columns and xy rows; the step of y by
   * yx columns and yy rows. */
  step_x = (gssize) orientations[orientation].xx * c
           + (gssize) orientations[orientation].xy * (gssize) image->stride;
  step_y = (gssize) orientations[orientation].yx * c
           + (gssize) orientations[orientation].yy * (gssize) image->stride;
  start = (orientations[orientation].from_right ? (gssize) (w - 1) * c : 0)
          + (orientations[orientation].from_bottom ? (gssize) (h - 1) * (gssize) image->stride : 0);

  /* Offsets rather than pointers: a pointer stepped past the start of the source would be
   * undefined even if never read. */
  for (guint y = 0; y < out->height; y++)
    {
      gssize at = start + (gssize) y * step_y;
      guint8 *dst = out->pixels + (gsize) y * out->stride;

      if (c == 1)
        for (guint x = 0; x < out->width; x++, at += step_x)
          dst[x] = image->pixels[at];
      else
        for (guint x = 0; x < out->width; x++, at += step_x, dst += 3)
          memcpy (dst, image->pixels + at, 3);
    }
  return out;
}

/* ---- EXIF ---------------------------------------------------------------------------- */

/* The orientation (1–8) in the payload of an APP1 marker; 0 when it holds no EXIF block,
 * 1 when the block has no valid orientation. */
static guint
exif_orientation (const guint8 *data,
                  gsize         length)
{
  static const guint8 exif_id[6] = { 'E', 'x', 'i', 'f', 0, 0 };
  const guint8 *tiff;
  gsize tiff_length, ifd;
  gboolean little;
  guint count;

  if (length < sizeof exif_id || memcmp (data, exif_id, sizeof exif_id) != 0)
    return 0;
  tiff = data + sizeof exif_id;
  tiff_length = length - sizeof exif_id;
  if (tiff_length < 8)
    return 1;
  if (tiff[0] == 'I' && tiff[1] == 'I')
    little = TRUE;
  else if (tiff[0] == 'M' && tiff[1] == 'M')
    little = FALSE;
  else
    return 1;
  if (_graft_image_read_u16 (tiff + 2, little) != 42)
    return 1;

  ifd = _graft_image_read_u32 (tiff + 4, little);
  if (ifd > tiff_length || tiff_length - ifd < 2)
    return 1;
  count = _graft_image_read_u16 (tiff + ifd, little);
  for (guint i = 0; i < count; i++)
    {
      gsize entry = ifd + 2 + (gsize) i * 12;  /* at most 65535 + 2 + 65535 × 12 */
      guint type, value;

      if (entry > tiff_length || tiff_length - entry < 12)
        break;
      if (_graft_image_read_u16 (tiff + entry, little) != 0x0112)
        continue;
      type = _graft_image_read_u16 (tiff + entry + 2, little);
      if (_graft_image_read_u32 (tiff + entry + 4, little) < 1)
        return 1;
      if (type == 3)        /* SHORT, in the first two bytes of the value field */
        value = _graft_image_read_u16 (tiff + entry + 8, little);
      else if (type == 4)   /* LONG, from writers that ignore the specification */
        value = _graft_image_read_u32 (tiff + entry + 8, little);
      else
        return 1;
      return value >= 1 && value <= 8 ? value : 1;
    }
  return 1;
}

/* ---- JPEG -------------------------------------------------------------------------- */

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf               jump;
  char                  message[JMSG_LENGTH_MAX];
  int                   code;        /* libjpeg's message code for the failure */
  gboolean              truncated;
  gboolean              too_many_scans;
} JpegErrors;

typedef struct {
  struct jpeg_decompress_struct cinfo;
  struct jpeg_progress_mgr      progress;
  JpegErrors                    errors;
  const guint8                 *data;
  gsize                         length;
  gboolean                      header_only;
  guint                         channels;      /* wanted: 1 or 3; 0 as the file */
  guint64                       max_pixels;
  /* What the header says (set as soon as it is known, kept after a failure). */
  guint                         width, height; /* as stored */
  guint                         file_channels;
  guint                         precision;
  guint                         orientation;
  int                           components;
  gboolean                      unsupported_colour;
  gboolean                      too_large;
  gboolean                      out_of_memory;
  GraftImage                   *image;         /* as stored; freed by the caller */
} JpegDecoder;

static void
on_jpeg_error_exit (j_common_ptr cinfo)
{
  JpegErrors *errors = (JpegErrors *) cinfo->err;

  errors->pub.format_message (cinfo, errors->message);
  errors->code = errors->pub.msg_code;
  longjmp (errors->jump, 1);
}

static void
on_jpeg_output_message (j_common_ptr cinfo)
{
  char message[JMSG_LENGTH_MAX];

  cinfo->err->format_message (cinfo, message);
  g_debug ("libjpeg: %s", message);
}

/* Warnings (level −1) other than the end of the file are logged and decoding goes on, as
 * other readers do with the "corrupt data" that some cameras write; a file that ends before
 * its image does is an error rather than a picture padded with grey. */
static void
on_jpeg_emit_message (j_common_ptr cinfo,
                      int          level)
{
  JpegErrors *errors = (JpegErrors *) cinfo->err;

  if (level >= 0)
    return;
  if (errors->pub.msg_code == JWRN_JPEG_EOF)
    {
      errors->truncated = TRUE;
      on_jpeg_error_exit (cinfo);
    }
  if (errors->pub.num_warnings++ == 0)
    on_jpeg_output_message (cinfo);
}

/* Progressive files may hold any number of scans, each a pass over the whole image; a
 * crafted one makes decoding take minutes. */
static void
on_jpeg_progress (j_common_ptr cinfo)
{
  j_decompress_ptr dinfo = (j_decompress_ptr) cinfo;
  JpegErrors *errors = (JpegErrors *) cinfo->err;

  if (dinfo->input_scan_number > JPEG_MAX_SCANS)
    {
      errors->too_many_scans = TRUE;
      g_snprintf (errors->message, sizeof errors->message, "more than %d scans",
                  JPEG_MAX_SCANS);
      errors->code = -1;
      longjmp (errors->jump, 1);
    }
}

/* Reads the header (and, unless d->header_only, the pixels into d->image); FALSE with
 * d->errors or the flags of d saying why. */
static gboolean
jpeg_decode (JpegDecoder *d)
{
  struct jpeg_decompress_struct *cinfo = &d->cinfo;
  gboolean direct;
  GraftImageLayout layout;
  JSAMPARRAY buffer = NULL;

  cinfo->err = jpeg_std_error (&d->errors.pub);
  d->errors.pub.error_exit = on_jpeg_error_exit;
  d->errors.pub.emit_message = on_jpeg_emit_message;
  d->errors.pub.output_message = on_jpeg_output_message;
  if (setjmp (d->errors.jump))
    {
      /* The size, if the frame header was read, for the message. */
      d->width = cinfo->image_width;
      d->height = cinfo->image_height;
      jpeg_destroy_decompress (cinfo);
      return FALSE;
    }

  jpeg_create_decompress (cinfo);
  d->progress.progress_monitor = on_jpeg_progress;
  cinfo->progress = &d->progress;
  jpeg_mem_src (cinfo, d->data, d->length);
  jpeg_save_markers (cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header (cinfo, TRUE);

  d->width = cinfo->image_width;
  d->height = cinfo->image_height;
  d->precision = (guint) cinfo->data_precision;
  d->components = cinfo->num_components;
  d->orientation = 1;
  for (jpeg_saved_marker_ptr m = cinfo->marker_list; m != NULL; m = m->next)
    {
      guint o = m->marker == JPEG_APP0 + 1 ? exif_orientation (m->data, m->data_length) : 0;

      if (o != 0)
        {
          d->orientation = o;
          break;
        }
    }

  switch (cinfo->jpeg_color_space)
    {
    case JCS_GRAYSCALE:
      d->file_channels = 1;
      layout = GRAFT_IMAGE_LAYOUT_GREY;
      cinfo->out_color_space = JCS_GRAYSCALE;
      break;
    case JCS_YCbCr:
    case JCS_RGB:
      d->file_channels = 3;
      layout = GRAFT_IMAGE_LAYOUT_RGB;
      cinfo->out_color_space = JCS_RGB;
      break;
    case JCS_CMYK:
    case JCS_YCCK:
      d->file_channels = 3;  /* converted to RGB; CMYK has no alpha */
      layout = cinfo->saw_Adobe_marker ? GRAFT_IMAGE_LAYOUT_CMYK_ADOBE : GRAFT_IMAGE_LAYOUT_CMYK;
      cinfo->out_color_space = JCS_CMYK;
      break;
    default:
      d->unsupported_colour = TRUE;
      jpeg_destroy_decompress (cinfo);
      return FALSE;
    }

  if (d->header_only)
    {
      jpeg_destroy_decompress (cinfo);
      return TRUE;
    }
  if (d->max_pixels != 0 && (guint64) d->width * d->height > d->max_pixels)
    {
      d->too_large = TRUE;
      jpeg_destroy_decompress (cinfo);
      return FALSE;
    }
  if (d->channels == 0)
    d->channels = d->file_channels;

  jpeg_start_decompress (cinfo);
  if (cinfo->output_width != d->width || cinfo->output_height != d->height
      || (guint) cinfo->output_components != _graft_image_layout_bytes[layout])
    ERREXIT (cinfo, JERR_CONVERSION_NOTIMPL);

  d->image = graft_image_new (d->width, d->height, d->channels);
  if (d->image == NULL)
    {
      d->out_of_memory = TRUE;
      jpeg_destroy_decompress (cinfo);
      return FALSE;
    }
  direct = (layout == GRAFT_IMAGE_LAYOUT_GREY && d->channels == 1)
           || (layout == GRAFT_IMAGE_LAYOUT_RGB && d->channels == 3);
  if (!direct)
    buffer = (*cinfo->mem->alloc_sarray) ((j_common_ptr) cinfo, JPOOL_IMAGE, (JDIMENSION)
                                          (d->width * _graft_image_layout_bytes[layout]), 1);
  while (cinfo->output_scanline < cinfo->output_height)
    {
      guint8 *row = d->image->pixels + (gsize) cinfo->output_scanline * d->image->stride;
      JSAMPROW target = direct ? row : buffer[0];

      if (jpeg_read_scanlines (cinfo, &target, 1) != 1)
        ERREXIT (cinfo, JERR_INPUT_EMPTY);
      if (!direct)
        _graft_image_convert_row (target, layout, row, d->channels, d->width);
    }
  /* The rest of the file (its end marker) is not needed: no jpeg_finish_decompress. */
  jpeg_destroy_decompress (cinfo);
  return TRUE;
}

static void
set_jpeg_error (const JpegDecoder  *d,
                const char         *name,
                GError            **error)
{
  const JpegErrors *e = &d->errors;

  if (d->unsupported_colour)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                 "%s is a JPEG with %d colour components in a colour space Graft does not "
                 "know: convert it to RGB", name, d->components);
  else if (d->out_of_memory || e->code == JERR_OUT_OF_MEMORY)
    _graft_image_set_out_of_memory (name, d->width, d->height, error);
  else if (e->code == JERR_IMAGE_TOO_BIG)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                 "%s is %u×%u pixels, more than the %u pixels a side that JPEG decoding "
                 "allows: scale it down or leave it out", name, d->width, d->height,
                 JPEG_MAX_SIDE);
  else if (e->truncated)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 "%s ends early (after %" G_GSIZE_FORMAT " bytes, inside the JPEG data): copy "
                 "or download it again, or remove it", name, d->length);
  else if (e->code == JERR_BAD_PRECISION || e->code == JERR_SOF_UNSUPPORTED
           || e->code == JERR_NOT_COMPILED || e->code == JERR_CONVERSION_NOTIMPL)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                 "%s is a kind of JPEG Graft does not read (%s): save it again as an "
                 "ordinary 8-bit JPEG or as PNG", name, e->message);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 "%s is a damaged JPEG (%s): copy or download it again, or remove it",
                 name, e->message);
}

gboolean
_graft_image_probe_jpeg (const guint8    *data,
                         gsize            length,
                         const char      *name,
                         GraftImageInfo  *info,
                         gboolean        *need_more,
                         GError         **error)
{
  g_autofree JpegDecoder *d = g_new0 (JpegDecoder, 1);

  d->data = data;
  d->length = length;
  d->header_only = TRUE;
  if (!jpeg_decode (d))
    {
      *need_more = d->errors.truncated;
      set_jpeg_error (d, name, error);
      return FALSE;
    }
  info->format = GRAFT_IMAGE_FORMAT_JPEG;
  info->width = d->orientation >= 5 ? d->height : d->width;
  info->height = d->orientation >= 5 ? d->width : d->height;
  info->channels = d->file_channels;
  info->bit_depth = d->precision;
  info->orientation = d->orientation;
  return TRUE;
}

GraftImage *
_graft_image_decode_jpeg (const guint8  *data,
                          gsize          length,
                          const char    *name,
                          guint          channels,
                          guint64        max_pixels,
                          GError       **error)
{
  g_autofree JpegDecoder *d = g_new0 (JpegDecoder, 1);
  g_autoptr(GraftImage) image = NULL;

  d->data = data;
  d->length = length;
  d->channels = channels;
  d->max_pixels = max_pixels != 0 ? max_pixels : GRAFT_IMAGE_DEFAULT_MAX_PIXELS;
  if (!jpeg_decode (d))
    {
      graft_image_free (d->image);
      if (d->too_large)
        _graft_image_check_pixel_limit (name, d->width, d->height, d->max_pixels, error);
      else
        set_jpeg_error (d, name, error);
      return NULL;
    }
  image = g_steal_pointer (&d->image);
  if (d->orientation != 1)
    {
      GraftImage *oriented = apply_orientation (image, d->orientation);

      if (oriented == NULL)
        {
          _graft_image_set_out_of_memory (name, d->width, d->height, error);
          return NULL;
        }
      graft_image_free (image);
      image = oriented;
    }
  return g_steal_pointer (&image);
}

