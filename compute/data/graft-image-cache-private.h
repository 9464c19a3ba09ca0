/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Inside the preprocessing cache: graft-image-cache.c reads, checks and writes the index
 * and maps the data; graft-image-cache-fill.c decodes what is missing and appends it. */

#include "graft-image-cache.h"

G_BEGIN_DECLS

#define GRAFT_IMAGE_CACHE_INDEX "index"
#define GRAFT_IMAGE_CACHE_LOCK "lock"
#define GRAFT_IMAGE_CACHE_DATA_PREFIX "data-"
#define GRAFT_IMAGE_CACHE_MAX_PATH 65536u

typedef struct {
  char     *path;
  char     *message;    /* failed entries: why */
  guint64   file_size;
  gint64    mtime_ns;
  guint64   offset;
  guint32   width, height, source_width, source_height;
  guint32   failed;
  gboolean  seen;       /* during a fill: among its samples */
} Entry;

struct _GraftImageCache {
  char          *dir;
  char          *root;
  guint          size;
  guint          channels;
  guint          side;

  GArray        *entries;     /* Entry */
  GHashTable    *by_path;     /* path (owned by the entry) -> index + 1 */
  guint64        generation;
  guint64        data_length;
  gboolean       rebuilt;
  gboolean       on_disk;     /* the index on disk is the one in memory */
  guint          n_decoded;

  GMappedFile   *map;
  const guint8  *data;        /* the mapping, data_length bytes */
};

/* Bytes of pixels an entry holds (0 for a failure). */
gsize    _graft_image_cache_entry_bytes      (const Entry      *entry,
                                              guint             channels);
void     _graft_image_cache_entry_clear      (gpointer          data);
/* The data file of @generation. */
char    *_graft_image_cache_data_path        (GraftImageCache  *self,
                                              guint64           generation);
/* The path table made again from the entries. */
void     _graft_image_cache_rebuild_index    (GraftImageCache  *self);
/* The index read again from disk; a damaged one empties the cache. */
void     _graft_image_cache_reload           (GraftImageCache  *self);
/* The data file mapped (a failure empties the cache), or unmapped. */
void     _graft_image_cache_map              (GraftImageCache  *self);
void     _graft_image_cache_unmap            (GraftImageCache  *self);
/* The index as the bytes of its file. */
GBytes  *_graft_image_cache_serialise_index  (GraftImageCache  *self);

G_END_DECLS
