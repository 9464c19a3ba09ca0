/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The preprocessing cache: every image of a dataset decoded and resized once, kept in a
 * memory-mapped file so that each epoch reads pixels instead of decoding files.
 *
 * Where. One folder per dataset root, input size and channel count, named by a hash of
 * the three: $XDG_CACHE_HOME/graft/images/HASH/ (or below the folder the caller names).
 * It holds `data-GEN` (the pixels, appended to), `index` (the entries, small, replaced
 * whole) and `lock`.
 *
 * Keys. An entry is found by the image's absolute path and is valid while the file's size
 * and modification time (to the nanosecond) are those recorded; a changed or new file is
 * decoded again at the next fill, an unchanged one never. A file that cannot be decoded
 * is remembered as such (with the reason) under the same key, so it is reported at every
 * fill without being read again until it changes. Entries whose files are gone are
 * dropped, and the data file is compacted when half of it is dead.
 *
 * Geometry. An image is kept whole, its aspect ratio unchanged, at most as large as the
 * model needs: when its shorter side exceeds graft_image_cache_side_for (size) — 8/7 of
 * the input size, 256 for 224, the margin torchvision's evaluation resize uses — it is
 * shrunk (area averaging) so that the shorter side is that length; its longer side is
 * also kept within 4 times that length. Smaller images are stored as decoded: never
 * enlarged, so 28×28 Fashion-MNIST costs 28×28 pixels whatever the model's size, and the
 * augmentation (graft-augment.h) enlarges on the fly. Keeping the whole image leaves a
 * random resized crop free to choose any region, and a box (in pixels of the original
 * image) maps into the cached image by the factors width / source_width and
 * height / source_height. Pixels are 8-bit, channels as asked (grey repeated into RGB,
 * colour turned into luma, as graft_image_load does).
 *
 * Crash safety. New pixels are appended to the data file and flushed; only then is the
 * index written to a temporary file, flushed and renamed over the old one. A crash
 * leaves the old index (describing only data that was flushed) or the new one, never a
 * mix; data past the end the index records is cut off at the next fill. On open the
 * index is checked (magic, version, the size, channels and root it was made for, a
 * CRC-32 of its contents, every entry within the data file); a damaged one is treated
 * as empty and the cache is rebuilt, never trusted and never a crash.
 *
 * Threads. graft_image_cache_fill() runs on the caller's thread (a worker thread, never
 * a main loop) and decodes with a few threads of its own; it takes the folder's lock, so
 * that two processes filling the same cache wait for each other. Lookups are read-only
 * and may be made from any number of threads at once, but not while a fill of the same
 * GraftImageCache runs. */

#include <gio/gio.h>

#include "graft-dataset.h"
#include "graft-image.h"

G_BEGIN_DECLS

typedef struct _GraftImageCache GraftImageCache;

/* The shorter side kept for a model input of @size pixels: ceil (size × 8 / 7). */
guint             graft_image_cache_side_for    (guint               size);

/* The cache of the images below @root (the dataset's root; it names the cache) for a
 * model input of @size pixels and @channels (1 or 3) channels, in @cache_dir (NULL:
 * $XDG_CACHE_HOME/graft/images). Reads the index if there is one; a damaged one is
 * put aside (graft_image_cache_was_rebuilt() says so) and the cache starts empty. Fails
 * only when the folder cannot be created (GRAFT_DATA_ERROR_WRITE, naming it). */
GraftImageCache  *graft_image_cache_open        (const char         *cache_dir,
                                                 const char         *root,
                                                 guint               size,
                                                 guint               channels,
                                                 GError            **error);
void              graft_image_cache_free        (GraftImageCache    *self);

/* The folder of this cache. */
const char       *graft_image_cache_get_dir     (GraftImageCache    *self);
guint             graft_image_cache_get_side    (GraftImageCache    *self);
guint             graft_image_cache_get_channels (GraftImageCache   *self);
/* Entries held, images and remembered failures together. */
guint             graft_image_cache_get_n_entries (GraftImageCache  *self);
/* Images this object decoded since it was opened: what a fill could not reuse. */
guint             graft_image_cache_get_n_decoded (GraftImageCache  *self);
/* Whether the index found on disk was damaged (or made for something else) and the
 * cache was started again from nothing. */
gboolean          graft_image_cache_was_rebuilt (GraftImageCache    *self);

typedef struct {
  guint      n_reused;    /* up to date already: not read */
  guint      n_decoded;   /* decoded now (new or changed files), failures included */
  guint      n_failed;    /* that cannot be read, now or remembered */
  guint      n_removed;   /* entries dropped because their files are gone */
  gboolean   compacted;   /* the data file was rewritten without its dead parts */
  GPtrArray *failures;    /* GError *, one per image that cannot be read, naming it */
} GraftImageCacheFillResult;

void              graft_image_cache_fill_result_clear (GraftImageCacheFillResult *result);

/* Brings the entries of @samples (GraftSample *) up to date: files new or changed since
 * they were cached are decoded and resized with @n_threads threads (0: as many as there
 * are processors, at most 8), the rest reused. An image that cannot be read is a
 * failure in @result, never a stop. Progress counts samples (reused ones at once) and
 * is called on the caller's thread. On cancel (G_IO_ERROR_CANCELLED) what was decoded
 * so far is kept for the next fill. Fails (GRAFT_DATA_ERROR_WRITE, naming the file) when
 * the cache cannot be written, keeping what was written before. */
gboolean          graft_image_cache_fill        (GraftImageCache            *self,
                                                 GPtrArray                  *samples,
                                                 guint                       n_threads,
                                                 GraftDatasetProgress        progress,
                                                 gpointer                    user_data,
                                                 GCancellable               *cancellable,
                                                 GraftImageCacheFillResult  *result,
                                                 GError                    **error);

/* The cache of @dataset's images for a model input of @size pixels and @channels
 * channels in @cache_dir (NULL: the default), opened and brought up to date for the
 * usable samples of @split (GRAFT_SPLIT_NONE: all of them) with graft_image_cache_fill(), for a trainer or an evaluation that would otherwise
 * decode each file at each use. A cache that cannot be opened or written is not a
 * failure of the work it would speed up: it returns NULL with *@note saying why (the
 * caller then reads the files), and NULL with @error only when cancelled. On success
 * *@note says how many images were decoded and how many reused. */
GraftImageCache  *graft_image_cache_prepare     (const char                 *cache_dir,
                                                 GraftDataset               *dataset,
                                                 GraftSplit                  split,
                                                 guint                       size,
                                                 guint                       channels,
                                                 GraftDatasetProgress        progress,
                                                 gpointer                    user_data,
                                                 GCancellable               *cancellable,
                                                 char                      **note,
                                                 GError                    **error);

/* A cached image: @image views the mapped file (its pixels must not be written or
 * freed, and last as long as the cache or until its next fill). */
typedef struct {
  GraftImage image;
  guint      source_width;   /* of the file, as displayed */
  guint      source_height;
} GraftCachedImage;

/* The entry of the image at @path. FALSE when there is none or the image could not be
 * read; then *@failure (if not NULL) is the remembered reason, or NULL for no entry. */
gboolean          graft_image_cache_lookup      (GraftImageCache    *self,
                                                 const char         *path,
                                                 GraftCachedImage   *cached,
                                                 const char        **failure);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftImageCache, graft_image_cache_free)

G_END_DECLS
