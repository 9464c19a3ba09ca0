/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Image files out of pixels in memory. */

#include <glib.h>

G_BEGIN_DECLS

/* Writes an 8-bit PNG of @width × @height pixels with @channels channels: 1 grey, 2 grey
 * and alpha, 3 RGB, 4 RGBA (interleaved). Row y starts at @pixels + y × @stride bytes.
 * The image is encoded in memory and written to a temporary file in the folder of @path,
 * which then replaces @path in one rename: a reader sees the old file or the whole new
 * one, never half a PNG. Errors are GRAFT_DATA_ERROR_WRITE and name @path. */
gboolean graft_image_write_png (const char    *path,
                                guint          width,
                                guint          height,
                                guint          channels,
                                gsize          stride,
                                const guint8  *pixels,
                                GError       **error);

G_END_DECLS
