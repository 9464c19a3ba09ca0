/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A run: one training of a model in a project, kept in the folder runs/<id>/ of the
 * project with run.json (what was trained, how it went, how well it did) beside the
 * model.safetensors and model.json the trainer writes there.
 *
 * run.json (schema 1), on one line (the final metrics can hold thousands of predictions):
 *   {
 *     "schema": 1,
 *     "id": "20261126-155600-001",          the folder's name
 *     "name": "head only, lr 0.01",         shown to the user; renaming changes only this
 *     "parent": "20261120-101500-001",      the run this one continues (absent if none)
 *     "created": "2026-11-26T15:56:00.123456Z", "finished": "…Z" (absent while running)
 *     "status": "running" | "finished" | "cancelled" | "failed",
 *     "reason": "…",                        why it was cancelled or failed (absent if not)
 *     "device": "NVIDIA H100 (Vulkan)",     where it trained (absent if not given)
 *     "config": { … },                      the caller's configuration, kept verbatim
 *     "history": [ { "epoch": 1, "train_loss": 0.9, "val_loss": 1.1, "val_accuracy": 0.6,
 *                    "learning_rate": 0.01, "seconds": 12.5, … } … ],
 *     "timing": { "train_seconds": 37.5, "wall_seconds": 40.2, … },
 *     "final_metrics": { … },               graft_metrics_to_json()'s object, verbatim
 *     "predictions": "predictions.json"     a file in the run folder (absent if none)
 *   }
 * Each epoch of the history is an object of numbers: "epoch" (a whole number) and any
 * others. Members Graft does not know are kept as they were.
 *
 * Every save writes a temporary file in the run folder (g_file_set_contents_full() with
 * G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE: the data is fsync()ed
 * before the rename), renames it over run.json and then fsync()s the folder so that the
 * rename itself survives a power cut. A crash leaves the old run.json or the new one,
 * never half of one; a failed save removes its temporary file and leaves the old run.json
 * (and the run in memory) as they were.
 *
 * Ids are the UTC creation time and a counter, "YYYYMMDD-HHMMSS-NNN": they sort in the
 * order the runs were created, and the folder is made with mkdir(), which fails if another
 * process took the same id first, so two runs never share a folder. */

#include <gio/gio.h>

G_BEGIN_DECLS

/* json-c's object, without its header. */
struct json_object;

#define GRAFT_RUNS_FOLDER        "runs"
#define GRAFT_RUN_FILE           "run.json"
#define GRAFT_RUN_MODEL_FILE     "model.safetensors"
#define GRAFT_RUN_MODEL_JSON     "model.json"
#define GRAFT_RUN_SCHEMA_VERSION 1

typedef enum {
  GRAFT_RUN_STATUS_RUNNING,
  GRAFT_RUN_STATUS_FINISHED,
  GRAFT_RUN_STATUS_CANCELLED,
  GRAFT_RUN_STATUS_FAILED,
} GraftRunStatus;

const char *graft_run_status_to_string (GraftRunStatus status);

typedef struct _GraftRun GraftRun;

/* A new run in the project folder @project_dir: a fresh id, the folder runs/<id>/ and its
 * run.json (status running, an empty history) are written before it returns. @name may be
 * NULL (the id is then the name); @parent_id names the run this one continues, or NULL;
 * @config (may be NULL for {}) is referenced, not copied: do not change it afterwards.
 * Errors are GRAFT_PROJECT_ERROR's; nothing is left behind on failure. */
GraftRun           *graft_run_create        (const char          *project_dir,
                                             const char          *name,
                                             const char          *parent_id,
                                             struct json_object  *config,
                                             GError             **error);
/* The run @id of the project in @project_dir, checked field by field: NOT_FOUND if there
 * is no such run, INVALID naming run.json and the field at fault, VERSION if newer. */
GraftRun           *graft_run_open          (const char          *project_dir,
                                             const char          *id,
                                             GError             **error);
/* The runs of the project, oldest first (GraftRun *, freed with the array; empty when the
 * project has no runs/ yet). A run folder that cannot be read (damaged or missing
 * run.json) is left out and added to @problems (may be NULL) as a GError * naming the
 * file and the field, so one damaged run never hides the others. NULL with @error only if
 * runs/ itself cannot be read. */
GPtrArray          *graft_run_list          (const char          *project_dir,
                                             GPtrArray          **problems,
                                             GError             **error);
/* Removes runs/<id>/ and everything in it. Refuses (INVALID) an id that is not the name
 * of a folder directly inside runs/ (a path, “..”, a link) or a folder holding no
 * run.json; NOT_FOUND if there is no such folder. */
gboolean            graft_run_delete        (const char          *project_dir,
                                             const char          *id,
                                             GError             **error);

gboolean            graft_run_save          (GraftRun            *self,
                                             GError             **error);
void                graft_run_free          (GraftRun            *self);

/* Sets the name (not the folder's, which stays the id) and saves; on failure the run
 * keeps its old name. */
gboolean            graft_run_rename        (GraftRun            *self,
                                             const char          *name,
                                             GError             **error);
/* Adds @epoch (an object of numbers with a whole "epoch"; referenced) to the history and
 * saves. An epoch numbered at or below ones already recorded replaces them and those after
 * (a run resumed from an earlier checkpoint). INVALID, with nothing changed, for another
 * shape; on a failed save the history is as before. */
gboolean            graft_run_append_epoch  (GraftRun            *self,
                                             struct json_object  *epoch,
                                             GError             **error);
/* A history entry with the usual fields (a new reference); NAN leaves a field out. More
 * numbers can be added to it with json_object_object_add(). */
struct json_object *graft_run_epoch_new     (guint                epoch,
                                             double               train_loss,
                                             double               val_loss,
                                             double               val_accuracy,
                                             double               learning_rate,
                                             double               seconds);
/* Status finished, the finish time and wall time set, @final_metrics (referenced; may be
 * NULL) kept, saved. On failure the run is as before. */
gboolean            graft_run_finish        (GraftRun            *self,
                                             struct json_object  *final_metrics,
                                             GError             **error);
/* Status @status (cancelled or failed) with @reason (may be NULL), saved. */
gboolean            graft_run_stop          (GraftRun            *self,
                                             GraftRunStatus       status,
                                             const char          *reason,
                                             GError             **error);
/* A cancelled or failed run going on again (resumed): status running, no reason, no
 * finish time, saved. On failure the run is as before. */
gboolean            graft_run_mark_running  (GraftRun            *self,
                                             GError             **error);

/* Set in memory; graft_run_save() writes them. */
void                graft_run_set_device    (GraftRun            *self,
                                             const char          *device);
/* @file is a name relative to the run folder (no “..”, not absolute); FALSE otherwise. */
gboolean            graft_run_set_predictions_file (GraftRun     *self,
                                             const char          *file);
/* A member of run.json of the caller's own (the trainer's "training" object: how the
 * data was fed, which blocks learned; "transfer": the verdict against a baseline), which
 * @value (taken; NULL removes it) replaces; FALSE for one of run.json's own members
 * above. graft_run_save() writes it. */
gboolean            graft_run_set_member    (GraftRun            *self,
                                             const char          *key,
                                             struct json_object  *value);
/* Borrowed; NULL when absent. */
struct json_object *graft_run_get_member    (GraftRun            *self,
                                             const char          *key);
/* A number under "timing" (say "eval_seconds"); train_seconds (the sum of the history's
 * seconds) and wall_seconds (created to finished) are kept by the run itself. */
void                graft_run_set_timing    (GraftRun            *self,
                                             const char          *key,
                                             double               seconds);

const char         *graft_run_get_id        (GraftRun            *self);
const char         *graft_run_get_name      (GraftRun            *self);
/* The id of the run this one continues, or NULL. */
const char         *graft_run_get_parent_id (GraftRun            *self);
/* The run folder, and the paths of run.json and of the model files in it. */
const char         *graft_run_get_dir       (GraftRun            *self);
const char         *graft_run_get_file      (GraftRun            *self);
char               *graft_run_get_model_path      (GraftRun      *self);
char               *graft_run_get_model_json_path (GraftRun      *self);
GraftRunStatus      graft_run_get_status    (GraftRun            *self);
/* Why the run was cancelled or failed, or NULL. */
const char         *graft_run_get_reason    (GraftRun            *self);
const char         *graft_run_get_device    (GraftRun            *self);
/* Microseconds since 1970 (UTC); finished is 0 while the run has not ended. */
gint64              graft_run_get_created   (GraftRun            *self);
gint64              graft_run_get_finished  (GraftRun            *self);
/* Borrowed: the configuration object, the history array, the final metrics (NULL before
 * graft_run_finish()) and the timing object. */
struct json_object *graft_run_get_config    (GraftRun            *self);
struct json_object *graft_run_get_history   (GraftRun            *self);
guint               graft_run_get_n_epochs  (GraftRun            *self);
struct json_object *graft_run_get_final_metrics (GraftRun        *self);
struct json_object *graft_run_get_timing    (GraftRun            *self);
/* The predictions file (relative to the run folder) or NULL. */
const char         *graft_run_get_predictions_file (GraftRun     *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftRun, graft_run_free)

G_END_DECLS
