/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Inside image decoding: graft-image.c holds the public entry points, which pick a decoder
 * by magic number, and what the decoders share (errors, the pixel limit, the row converter,
 * byte order); graft-image-png.c decodes PNG, graft-image-jpeg.c JPEG with its EXIF
 * orientation. */

#include "graft-image.h"

G_BEGIN_DECLS

/* How a decoder hands a row of samples to the row converter. */
typedef enum {
  GRAFT_IMAGE_LAYOUT_GREY,        /* 1 byte a pixel */
  GRAFT_IMAGE_LAYOUT_GREY_ALPHA,  /* 2 */
  GRAFT_IMAGE_LAYOUT_RGB,         /* 3 */
  GRAFT_IMAGE_LAYOUT_RGBA,        /* 4 */
  GRAFT_IMAGE_LAYOUT_CMYK,        /* 4, 0 means no ink */
  GRAFT_IMAGE_LAYOUT_CMYK_ADOBE,  /* 4, inverted as Adobe applications write it: 255 means no ink */
} GraftImageLayout;

/* Bytes a pixel, by GraftImageLayout. */
extern const guint _graft_image_layout_bytes[];

/* graft-image.c */
/* FALSE and TOO_LARGE naming @name when @width × @height is more than @max_pixels (0: the
 * default limit). */
gboolean     _graft_image_check_pixel_limit (const char        *name,
                                             guint              width,
                                             guint              height,
                                             guint64            max_pixels,
                                             GError           **error);
/* TOO_LARGE: not enough memory to decode @name. */
void         _graft_image_set_out_of_memory (const char        *name,
                                             guint              width,
                                             guint              height,
                                             GError           **error);
/* One row of @width pixels from @layout into @channels (1 or 3) channels. */
void         _graft_image_convert_row       (const guint8      *src,
                                             GraftImageLayout   layout,
                                             guint8            *dst,
                                             guint              channels,
                                             guint              width);
/* 16 and 32 bits at @p, little- or big-endian. */
guint        _graft_image_read_u16          (const guint8      *p,
                                             gboolean           little);
guint32      _graft_image_read_u32          (const guint8      *p,
                                             gboolean           little);

/* graft-image-png.c: the header of the PNG in @data (which may be a prefix of the file),
 * and the PNG decoded as graft_image_decode_bytes() does (@max_pixels not 0). */
gboolean     _graft_image_probe_png         (const guint8      *data,
                                             gsize              length,
                                             const char        *name,
                                             GraftImageInfo    *info,
                                             GError           **error);
GraftImage  *_graft_image_decode_png        (const guint8      *data,
                                             gsize              length,
                                             const char        *name,
                                             guint              channels,
                                             guint64            max_pixels,
                                             GError           **error);

/* graft-image-jpeg.c: the header of the JPEG in @data, *need_more set when it runs past
 * the end of @data; and the JPEG decoded as graft_image_decode_bytes() does. */
gboolean     _graft_image_probe_jpeg        (const guint8      *data,
                                             gsize              length,
                                             const char        *name,
                                             GraftImageInfo    *info,
                                             gboolean          *need_more,
                                             GError           **error);
GraftImage  *_graft_image_decode_jpeg       (const guint8      *data,
                                             gsize              length,
                                             const char        *name,
                                             guint              channels,
                                             guint64            max_pixels,
                                             GError           **error);

G_END_DECLS
