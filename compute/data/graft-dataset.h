/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A dataset as imported from the folder or file the user's images came in: its classes
 * and samples (an image file, its label or its boxes, its split), and the problems met on
 * the way. One bad file or line is a problem recorded with its name and the import goes
 * on; only a source that cannot be read at all (a missing folder, a layout that cannot be
 * recognised) fails the import.
 *
 * Layouts (GraftDatasetFormat), detected from what is on disk unless the caller says:
 *   FOLDER  a folder per class, optionally under train/, val/ (or valid/, validation/) and
 *           test/ folders, which then fix those samples' split;
 *   CSV     a file of path,label rows (a header row or not, quoted fields), paths relative
 *           to the CSV's folder;
 *   YOLO    images/ and labels/ folders (optionally split into train/val/test below each),
 *           labels/NAME.txt holding "class cx cy w h" lines normalised to the image, class
 *           names from data.yaml (names: list or mapping) or classes.txt;
 *   COCO    an instances JSON file (images, annotations with bbox [x, y, w, h] in pixels,
 *           categories), images relative to the file's folder or an images/ folder beside
 *           it.
 * Classification samples keep their label, detection samples their boxes. */

#include <gio/gio.h>

#include "graft-data-error.h"

G_BEGIN_DECLS

typedef enum {
  GRAFT_TASK_CLASSIFICATION,
  GRAFT_TASK_DETECTION,
} GraftTask;

typedef enum {
  GRAFT_DATASET_FORMAT_AUTO,
  GRAFT_DATASET_FORMAT_FOLDER,
  GRAFT_DATASET_FORMAT_CSV,
  GRAFT_DATASET_FORMAT_YOLO,
  GRAFT_DATASET_FORMAT_COCO,
} GraftDatasetFormat;

typedef enum {
  GRAFT_SPLIT_NONE,    /* not assigned yet */
  GRAFT_SPLIT_TRAIN,
  GRAFT_SPLIT_VAL,
  GRAFT_SPLIT_TEST,
} GraftSplit;

#define GRAFT_N_SPLITS 4

/* "folder", "csv", "yolo", "coco" (and "auto"); "train", "val", "test" ("none"). */
const char *graft_dataset_format_to_string (GraftDatasetFormat format);
gboolean    graft_dataset_format_from_string (const char       *text,
                                              GraftDatasetFormat *format);
const char *graft_split_to_string          (GraftSplit          split);

/* A box in pixels of the image as displayed (EXIF orientation applied), origin top left. */
typedef struct {
  guint label;
  float x, y, width, height;
} GraftBox;

typedef struct {
  char       *path;         /* absolute */
  char       *name;         /* relative to the dataset's root: how it is shown and saved */
  int         label;        /* classification: the class index; -1 for none */
  GArray     *boxes;        /* GraftBox; detection only, else NULL */
  GraftSplit  split;
  gboolean    split_fixed;  /* the source fixed the split (train/, val/, test/ folders) */
  gboolean    usable;       /* FALSE once the health check found it unusable (unreadable,
                             * unlabelled, an unknown class): it then has no split and no
                             * loader reads it */
  guint       width;        /* from the header once read (health check), else 0 */
  guint       height;
} GraftSample;

typedef enum {
  GRAFT_DATA_PROBLEM_UNREADABLE,     /* an image that cannot be read: the reason says why */
  GRAFT_DATA_PROBLEM_MISSING_FILE,   /* a label names an image that is not there */
  GRAFT_DATA_PROBLEM_PARSE,          /* a line or field of a label file that does not parse */
  GRAFT_DATA_PROBLEM_UNKNOWN_LABEL,  /* a label that names no known class */
  GRAFT_DATA_PROBLEM_DUPLICATE,      /* the same bytes as another image */
  GRAFT_DATA_PROBLEM_LEAKAGE,        /* a duplicate on the other side of the train/test line */
  GRAFT_DATA_PROBLEM_SMALL_IMAGE,    /* below the health check's minimum side */
  GRAFT_DATA_PROBLEM_BOX_OUTSIDE,    /* a box that leaves its image */
  GRAFT_DATA_PROBLEM_BOX_EMPTY,      /* a box with no area (or NaN) */
  GRAFT_DATA_PROBLEM_NO_LABEL,       /* an image without any label or box file */
} GraftDataProblemKind;

typedef struct {
  GraftDataProblemKind kind;
  char                *file;     /* the file at fault, as the user knows it */
  guint                line;     /* 1-based line of a label file, 0 if none */
  char                *message;  /* one sentence naming the file and what is wrong */
  char                *other;    /* DUPLICATE, LEAKAGE: the file it repeats; else NULL */
} GraftDataProblem;

const char *graft_data_problem_kind_to_string (GraftDataProblemKind kind);

typedef struct {
  GraftTask           task;
  GraftDatasetFormat  format;
  char               *root;      /* the folder (or the label file) imported */
  GPtrArray          *classes;   /* char *, index = label */
  GPtrArray          *samples;   /* GraftSample * */
  GPtrArray          *problems;  /* GraftDataProblem *, in the order met */
} GraftDataset;

GraftDataset *graft_dataset_new       (GraftTask           task,
                                       GraftDatasetFormat  format,
                                       const char         *root);
void          graft_dataset_free      (GraftDataset       *self);
/* Adds a class (or finds it) and returns its index. */
guint         graft_dataset_add_class (GraftDataset       *self,
                                       const char         *name);
int           graft_dataset_find_class (GraftDataset      *self,
                                       const char         *name);
/* Takes @path (absolute) and @name; the sample is the dataset's. */
GraftSample  *graft_dataset_add_sample (GraftDataset      *self,
                                       char               *path,
                                       char               *name,
                                       int                 label);
void          graft_dataset_add_problem (GraftDataset     *self,
                                       GraftDataProblemKind kind,
                                       const char         *file,
                                       guint               line,
                                       const char         *other,
                                       const char         *format,
                                       ...) G_GNUC_PRINTF (6, 7);

/* Which layout @path holds (a folder or a label file), or FALSE with a GRAFT_DATA_ERROR
 * saying what was found and which layouts Graft reads. */
gboolean      graft_dataset_detect    (const char         *path,
                                       GraftDatasetFormat *format,
                                       GError            **error);

typedef void (*GraftDatasetProgress) (guint     done,
                                      guint     total,   /* 0 while unknown */
                                      gpointer  user_data);

/* Imports @path as @format (AUTO: detected). Progress and cancel as for any long work;
 * call it from a worker thread. */
GraftDataset *graft_dataset_import    (const char          *path,
                                       GraftDatasetFormat   format,
                                       GraftDatasetProgress progress,
                                       gpointer             user_data,
                                       GCancellable        *cancellable,
                                       GError             **error);

/* The label-file parsers on their own, for memory buffers (@name in messages and
 * problems; @base_dir resolves relative paths). They add to @dataset and record problems
 * there; FALSE only when @data is not that kind of file at all. */
gboolean      graft_dataset_parse_csv  (GraftDataset      *dataset,
                                        const char        *data,
                                        gsize              length,
                                        const char        *name,
                                        const char        *base_dir,
                                        GError           **error);
/* One YOLO labels file for the image @sample (its size known in @sample or read from
 * the file), its boxes appended to @sample, its class ids checked against @dataset's
 * classes (a dataset with no classes yet gets "class N" for each id met). */
gboolean      graft_dataset_parse_yolo_labels (GraftDataset *dataset,
                                        GraftSample       *sample,
                                        const char        *data,
                                        gsize              length,
                                        const char        *name,
                                        GError           **error);
gboolean      graft_dataset_parse_coco (GraftDataset      *dataset,
                                        const char        *data,
                                        gsize              length,
                                        const char        *name,
                                        const char        *base_dir,
                                        GError           **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftDataset, graft_dataset_free)

G_END_DECLS
