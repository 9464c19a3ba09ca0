/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-dataset-health.h"

G_BEGIN_DECLS

/* What one reader learned about one file, and the file's identity when it was read. */
typedef struct {
  gboolean ok;         /* read and decoded */
  gboolean hashed;
  guint    width;
  guint    height;
  char    *reason;     /* why not, else NULL */
  guint8   hash[GRAFT_HEALTH_HASH_SIZE];
  gboolean stated;     /* size and mtime_ns were taken before the file was read */
  gint64   size;
  gint64   mtime_ns;
} GraftHealthFileResult;

/* The remembered results of the files below @root, read from @dir; NULL when there are
 * none or they were made for another decoder limit (@max_pixels) or cannot be read (a
 * damaged memo is never trusted). Keys are absolute paths, values GraftHealthFileResult *
 * owned by the table. */
GHashTable *_graft_health_memo_load (const char                  *dir,
                                     const char                  *root,
                                     guint64                      max_pixels);

/* Remembers @results (one per sample of @dataset) in @dir, replacing what was there
 * atomically. Only files read in full and stated are kept. FALSE with @error when the
 * memo cannot be written: a slower next check, nothing else. */
gboolean    _graft_health_memo_save (const char                  *dir,
                                     const char                  *root,
                                     guint64                      max_pixels,
                                     GraftDataset                *dataset,
                                     const GraftHealthFileResult *results,
                                     GError                     **error);

G_END_DECLS
