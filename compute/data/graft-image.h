/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Image files: PNG through libpng (1 to 16 bits, palette, grey, alpha, interlaced) and
 * JPEG through libjpeg-turbo (its EXIF orientation applied), decoded to 8-bit grey or RGB.
 * A header that claims more pixels than the limit is refused before anything is allocated
 * for the pixels. Every error is a GRAFT_DATA_ERROR naming the file and what is wrong
 * (CORRUPT, UNSUPPORTED, TOO_LARGE, READ, NOT_FOUND). */

#include <gio/gio.h>

G_BEGIN_DECLS

/* 100 megapixels */
#define GRAFT_IMAGE_DEFAULT_MAX_PIXELS (100u * 1000u * 1000u)

typedef enum {
  GRAFT_IMAGE_FORMAT_UNKNOWN,
  GRAFT_IMAGE_FORMAT_PNG,
  GRAFT_IMAGE_FORMAT_JPEG,
} GraftImageFormat;

/* What a file's header says, read without decoding the pixels. */
typedef struct {
  GraftImageFormat format;
  guint            width;        /* as displayed: after the EXIF orientation */
  guint            height;
  guint            channels;     /* of the file: 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA */
  guint            bit_depth;    /* 8 or 16 (PNG 1, 2, 4 too) */
  guint            orientation;  /* EXIF orientation 1–8; 1 when absent */
} GraftImageInfo;

/* Decoded pixels: rows of width × channels bytes, stride bytes apart. */
typedef struct {
  guint   width;
  guint   height;
  guint   channels;  /* 1 or 3 */
  gsize   stride;
  guint8 *pixels;
} GraftImage;

GraftImage      *graft_image_new          (guint              width,
                                           guint              height,
                                           guint              channels);
void             graft_image_free         (GraftImage        *image);

/* The format from the first bytes (magic numbers), not the file name. */
GraftImageFormat graft_image_sniff        (const guint8      *data,
                                           gsize              length);

/* The header of the image in @data (@name in messages). */
gboolean         graft_image_probe_bytes  (const guint8      *data,
                                           gsize              length,
                                           const char        *name,
                                           GraftImageInfo    *info,
                                           GError           **error);
gboolean         graft_image_probe_file   (const char        *path,
                                           GraftImageInfo    *info,
                                           GError           **error);

/* Decodes to @channels (1: grey, luma of RGB by ITU-R BT.601 weights; 3: RGB, grey
 * repeated; 0: 1 for grey files, else 3), alpha composited over black, 16 bits rounded
 * to 8, the EXIF orientation applied. @max_pixels 0 means the default limit. */
GraftImage      *graft_image_decode_bytes (const guint8      *data,
                                           gsize              length,
                                           const char        *name,
                                           guint              channels,
                                           guint64            max_pixels,
                                           GError           **error);
GraftImage      *graft_image_load         (const char        *path,
                                           guint              channels,
                                           guint64            max_pixels,
                                           GError           **error);

/* @image resized to @width × @height, same channels. Along each axis on its own: when
 * shrinking, an area average (like PIL's BOX: each output pixel the mean of the input
 * area it covers, partly covered pixels weighted by their share); when enlarging or
 * keeping the size, bilinear between pixel centres with half-pixel centring (like PIL's
 * BILINEAR and torchvision's align_corners=False), clamped at the edges. Results are
 * rounded half up to the nearest byte. NULL when out of memory. */
GraftImage      *graft_image_resize       (const GraftImage  *image,
                                           guint              width,
                                           guint              height);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImage, graft_image_free)

G_END_DECLS
