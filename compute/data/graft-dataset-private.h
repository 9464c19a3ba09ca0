/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the dataset importers (folder, CSV, YOLO, COCO) and their dispatch share: reading
 * label files with a size limit, listing folders, telling images from other files, the
 * names of split folders, problems with a cap per file, and the importers themselves. */

#include "graft-dataset.h"
#include "graft-image.h"

#include <sys/stat.h>

G_BEGIN_DECLS

/* The largest label files read whole. A CSV or COCO file holds the whole dataset; a YOLO
 * labels file the boxes of one image; a data.yaml a few lines. */
#define _GRAFT_DATASET_MAX_CSV_BYTES   (G_GUINT64_CONSTANT (512) << 20)
#define _GRAFT_DATASET_MAX_COCO_BYTES  (G_GUINT64_CONSTANT (1) << 30)
#define _GRAFT_DATASET_MAX_YOLO_BYTES  (G_GUINT64_CONSTANT (4) << 20)
#define _GRAFT_DATASET_MAX_NAMES_BYTES (G_GUINT64_CONSTANT (1) << 20)
/* Folders below a class folder (or images/) are walked this deep, no deeper: a link that
 * loops back cannot make an import run forever. */
#define _GRAFT_DATASET_MAX_DEPTH       16
/* The most classes a label file may create (integer labels, YOLO ids, names lists). */
#define _GRAFT_DATASET_MAX_CLASSES     10000
/* Problems listed one by one per label file; the rest are counted in one more. */
#define _GRAFT_DATASET_MAX_PROBLEMS_PER_FILE 1000

/* The caller's progress callback and cancellable, and how many samples were handled
 * before the current file. */
typedef struct {
  GraftDatasetProgress  progress;
  gpointer              user_data;
  GCancellable         *cancellable;
  guint                 done;
} GraftDatasetJob;

void        _graft_dataset_job_step          (GraftDatasetJob    *job,
                                              guint               total);

/* Problems from one file, @limit of them listed (0: the default), the rest counted and
 * reported by _graft_problem_sink_finish(). Messages are made valid UTF-8. */
typedef struct {
  GraftDataset *dataset;
  const char   *file;
  guint         limit;
  guint         listed;
  guint         dropped;
  GraftDataProblemKind dropped_kind;
} GraftProblemSink;

void        _graft_problem_sink_init         (GraftProblemSink   *sink,
                                              GraftDataset       *dataset,
                                              const char         *file);
void        _graft_problem_sink_add          (GraftProblemSink   *sink,
                                              GraftDataProblemKind kind,
                                              guint               line,
                                              const char         *format,
                                              ...) G_GNUC_PRINTF (4, 5);
void        _graft_problem_sink_finish       (GraftProblemSink   *sink);

/* The bytes of @path (@name in errors), or NOT_FOUND, READ or TOO_LARGE (above
 * @max_bytes, refused before anything is read). */
GBytes     *_graft_dataset_load_file         (const char         *path,
                                              const char         *name,
                                              guint64             max_bytes,
                                              GError            **error);
/* The names in folder @path that are not hidden, sorted byte-wise; NULL and an error
 * naming @path if it cannot be read. */
GPtrArray  *_graft_dataset_list_dir          (const char         *path,
                                              GError            **error);
gboolean    _graft_dataset_is_hidden         (const char         *name);
/* train; val, valid, validation; test (any case); else GRAFT_SPLIT_NONE. */
GraftSplit  _graft_dataset_split_from_name   (const char         *name);
gboolean    _graft_dataset_has_image_extension (const char       *name);
/* TRUE for a PNG or JPEG file (by its first bytes). Otherwise FALSE, and where the file
 * looks like it was meant as an image (an image extension), *reason says why it is not
 * one, for an UNREADABLE problem. */
gboolean    _graft_dataset_sniff_image       (const char         *path,
                                              char              **reason);
/* @path relative to @root_dir when below it, else a copy of @fallback (or of @path). */
char       *_graft_dataset_relative_name     (const char         *root_dir,
                                              const char         *path,
                                              const char         *fallback);
/* The folder names are relative to: @dataset's root, or its folder when the root is a
 * file; NULL when the dataset has no root. */
char       *_graft_dataset_root_dir          (GraftDataset       *dataset);

/* Layouts, as detection sees them. */
gboolean    _graft_dataset_is_yolo_dir       (const char         *dir);
gboolean    _graft_dataset_has_class_folders (const char         *dir);
gboolean    _graft_dataset_looks_like_coco   (const char         *path);
/* The COCO files of folder @dir: annotations/instances_*.json, else COCO files in
 * annotations/, else COCO files in @dir itself; empty when there are none. */
GPtrArray  *_graft_dataset_find_coco_files   (const char         *dir);
/* The .csv files directly in @dir, sorted. */
GPtrArray  *_graft_dataset_find_csv_files    (const char         *dir);

/* The importers, for a path whose layout is known. */
GraftDataset *_graft_dataset_import_folder   (const char         *path,
                                              GraftDatasetJob    *job,
                                              GError            **error);
GraftDataset *_graft_dataset_import_csv      (const char         *path,
                                              GraftDatasetJob    *job,
                                              GError            **error);
GraftDataset *_graft_dataset_import_yolo     (const char         *path,
                                              GraftDatasetJob    *job,
                                              GError            **error);
GraftDataset *_graft_dataset_import_coco     (const char         *path,
                                              GraftDatasetJob    *job,
                                              GError            **error);

/* The parsers with a job (NULL: none). */
gboolean    _graft_dataset_parse_csv         (GraftDataset       *dataset,
                                              const char         *data,
                                              gsize               length,
                                              const char         *name,
                                              const char         *base_dir,
                                              GraftDatasetJob    *job,
                                              GError            **error);
/* @grow_classes: class ids beyond the dataset's classes add classes named "class N"
 * (there was no names list); otherwise they are UNKNOWN_LABEL problems. */
gboolean    _graft_dataset_parse_yolo_labels (GraftDataset       *dataset,
                                              GraftSample        *sample,
                                              const char         *data,
                                              gsize               length,
                                              const char         *name,
                                              gboolean            grow_classes,
                                              GError            **error);
/* The class names of a YOLO data.yaml: "names:" as a flow list, a block list or a
 * mapping of ids to names (or only "nc: N", giving "class 0" …). Adds them to @names;
 * FALSE and a PARSE error naming @name when there is no such key. */
gboolean    _graft_dataset_parse_yolo_names  (const char         *data,
                                              gsize               length,
                                              const char         *name,
                                              GPtrArray          *names,
                                              GError            **error);
/* Images are looked for in @search_dirs in turn; samples added get @split (fixed when it
 * is not NONE). */
gboolean    _graft_dataset_parse_coco        (GraftDataset       *dataset,
                                              const char         *data,
                                              gsize               length,
                                              const char         *name,
                                              const char * const *search_dirs,
                                              GraftSplit          split,
                                              GraftDatasetJob    *job,
                                              GError            **error);
/* Where the images of the COCO file in @json_dir may be: that folder, images/ in it and,
 * for a file in annotations/, the folder above, its images/ and the folder named after
 * @subset (instances_train2017.json: train2017). */
GStrv       _graft_dataset_coco_search_dirs  (const char         *json_dir,
                                              const char         *subset);

/* A file's modification time to the nanosecond: with its size, what the image cache and
 * the health check's memo take as the file's identity. */
static inline gint64
_graft_stat_mtime_ns (const struct stat *st)
{
  return (gint64) st->st_mtim.tv_sec * G_GINT64_CONSTANT (1000000000) + st->st_mtim.tv_nsec;
}

G_END_DECLS
