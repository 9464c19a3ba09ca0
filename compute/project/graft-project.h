/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A project: a folder holding project.json, what Graft needs to reopen the work on a
 * dataset the way it was left (and, later, runs/ with the models trained in it).
 *
 * project.json (schema 1):
 *   {
 *     "schema": 1,
 *     "task": "classification" | "detection",
 *     "classes": ["cat", "dog"],
 *     "dataset": { "source": "/data/pets", "format": "folder" },
 *     "split": {
 *       "seed": 0,
 *       "fractions": { "train": 0.7, "val": 0.15, "test": 0.15 },
 *       "assignment": { "cat/1.png": "train", "dog/7.png": "test", … }
 *     }
 *   }
 * The assignment maps each usable sample's name (relative to the dataset's root) to its
 * split, sorted by name. Members Graft does not know are kept as they were. Every save
 * writes a temporary file in the folder, syncs it to disk and renames it over
 * project.json: a crash leaves the old file or the new one, never half of one. Opening
 * checks the whole file and names the field at fault. */

#include <gio/gio.h>

#include "data/graft-dataset.h"
#include "data/graft-dataset-health.h"
#include "data/graft-dataset-split.h"

G_BEGIN_DECLS

#define GRAFT_PROJECT_ERROR (graft_project_error_quark ())
GQuark graft_project_error_quark (void);

typedef enum {
  GRAFT_PROJECT_ERROR_NOT_FOUND,  /* no project.json in the folder */
  GRAFT_PROJECT_ERROR_EXISTS,     /* creating a project where one is already */
  GRAFT_PROJECT_ERROR_READ,       /* the folder or file could not be read */
  GRAFT_PROJECT_ERROR_WRITE,      /* the folder or file could not be written */
  GRAFT_PROJECT_ERROR_INVALID,    /* not JSON, or a field missing or of the wrong kind */
  GRAFT_PROJECT_ERROR_VERSION,    /* written by a newer Graft */
  GRAFT_PROJECT_ERROR_MISMATCH,   /* a dataset of another task than the project's */
} GraftProjectError;

#define GRAFT_PROJECT_FILE           "project.json"
#define GRAFT_PROJECT_SCHEMA_VERSION 1

typedef struct _GraftProject GraftProject;

/* A new project in @dir (created with its parents if missing); nothing is written until
 * graft_project_save(). Fails with EXISTS if @dir holds a project.json already. */
GraftProject       *graft_project_create       (const char               *dir,
                                                GraftTask                 task,
                                                GError                  **error);
/* The project in @dir, checked field by field. */
GraftProject       *graft_project_open         (const char               *dir,
                                                GError                  **error);
gboolean            graft_project_save         (GraftProject             *self,
                                                GError                  **error);
void                graft_project_free         (GraftProject             *self);

const char         *graft_project_get_dir      (GraftProject             *self);
/* The path of project.json. */
const char         *graft_project_get_file     (GraftProject             *self);
GraftTask           graft_project_get_task     (GraftProject             *self);
/* The class names, in the order of the project (NULL-terminated). */
const char * const *graft_project_get_classes  (GraftProject             *self);
void                graft_project_set_classes  (GraftProject             *self,
                                                const char * const       *classes);
/* The dataset's source (a folder or label file) and layout; NULL before one is set. */
const char         *graft_project_get_source   (GraftProject             *self);
GraftDatasetFormat  graft_project_get_format   (GraftProject             *self);
void                graft_project_set_source   (GraftProject             *self,
                                                const char               *source,
                                                GraftDatasetFormat        format);
void                graft_project_get_split_options (GraftProject        *self,
                                                GraftSplitOptions        *options);
void                graft_project_set_split_options (GraftProject        *self,
                                                const GraftSplitOptions  *options);

/* The saved split of the sample called @name, GRAFT_SPLIT_NONE if it has none. */
GraftSplit          graft_project_lookup_split (GraftProject             *self,
                                                const char               *name);
guint               graft_project_get_n_assigned (GraftProject           *self);
/* Forgets the saved split: the next graft_project_apply() draws every split anew (with
 * the split options then set). */
void                graft_project_clear_split  (GraftProject             *self);
/* Replaces the assignment with the splits of @dataset's samples (those with none are
 * left out). */
void                graft_project_record_split (GraftProject             *self,
                                                GraftDataset             *dataset);

/* What graft_project_apply() did. */
typedef struct {
  guint      n_kept;       /* samples that got their saved split back */
  guint      n_moved;      /* saved split overruled by the source's train/val/test folders */
  guint      n_new;        /* samples the project had not seen */
  guint      n_drawn;      /* samples split by the seed and fractions now (new, not fixed) */
  GPtrArray *vanished;     /* char *: saved names no longer among the usable samples */
  GPtrArray *new_classes;  /* char *: classes the project did not have */
} GraftProjectChanges;

void                graft_project_changes_clear (GraftProjectChanges     *changes);

/* Brings @dataset (freshly imported and health-checked with @health, or NULL) and the
 * project together: samples the project knows get their saved split back (unless the
 * source fixed another), the others are split by the project's seed and fractions, names
 * that vanished are dropped from the assignment, the classes and the assignment are
 * updated, and @health (if given) is recounted. The project is changed in memory only:
 * save it. MISMATCH if @dataset's task is not the project's. */
gboolean            graft_project_apply        (GraftProject             *self,
                                                GraftDataset             *dataset,
                                                GraftDatasetHealth       *health,
                                                GraftProjectChanges      *changes,
                                                GError                  **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftProject, graft_project_free)

G_END_DECLS
