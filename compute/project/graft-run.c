/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-project"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "graft-project.h"
#include "graft-run.h"
#include "io/graft-file-util.h"
#include "io/graft-json.h"

struct _GraftRun {
  char           *dir;
  char           *file;
  char           *id;
  char           *name;
  char           *parent;
  gint64          created;      /* µs since 1970, UTC */
  gint64          finished;     /* 0 while running */
  GraftRunStatus  status;
  char           *reason;
  char           *device;
  char           *predictions;
  json_object    *config;
  json_object    *history;      /* array of objects */
  json_object    *timing;       /* object of numbers */
  json_object    *final_metrics;
  json_object    *extra;        /* members Graft does not know, kept */
};

static const char *const status_names[] = { "running", "finished", "cancelled", "failed" };

const char *
graft_run_status_to_string (GraftRunStatus status)
{
  return (guint) status < G_N_ELEMENTS (status_names) ? status_names[status] : "unknown";
}

static GraftRun *
run_new (const char *project_dir,
         const char *id)
{
  GraftRun *self = g_new0 (GraftRun, 1);

  self->dir = g_build_filename (project_dir, GRAFT_RUNS_FOLDER, id, NULL);
  self->file = g_build_filename (self->dir, GRAFT_RUN_FILE, NULL);
  self->id = g_strdup (id);
  self->history = json_object_new_array ();
  self->timing = json_object_new_object ();
  self->extra = json_object_new_object ();
  return self;
}

void
graft_run_free (GraftRun *self)
{
  if (self == NULL)
    return;
  g_free (self->dir);
  g_free (self->file);
  g_free (self->id);
  g_free (self->name);
  g_free (self->parent);
  g_free (self->reason);
  g_free (self->device);
  g_free (self->predictions);
  json_object_put (self->config);
  json_object_put (self->history);
  json_object_put (self->timing);
  json_object_put (self->final_metrics);
  json_object_put (self->extra);
  g_free (self);
}

/* Times */

static char *
time_to_string (gint64 usec)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autofree char *base = g_date_time_format (t, "%Y-%m-%dT%H:%M:%S");

  return g_strdup_printf ("%s.%06dZ", base, (int) (usec % G_USEC_PER_SEC));
}

static gboolean
time_from_string (const char *text,
                  gint64     *usec)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_iso8601 (text, NULL);

  if (t == NULL)
    return FALSE;
  *usec = g_date_time_to_unix (t) * G_USEC_PER_SEC + g_date_time_get_microsecond (t);
  return TRUE;
}

/* Names */

/* A name that is one folder entry of runs/: not empty, no separator, not hidden. */
static gboolean
is_plain_name (const char *id)
{
  return id != NULL && *id != '\0' && *id != '.' && strchr (id, '/') == NULL &&
         strchr (id, '\\') == NULL;
}

static gboolean
is_relative_file (const char *file)
{
  g_auto(GStrv) parts = NULL;

  if (file == NULL || *file == '\0' || g_path_is_absolute (file))
    return FALSE;
  parts = g_strsplit (file, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (g_str_equal (parts[i], "..") || g_str_equal (parts[i], ""))
      return FALSE;
  return TRUE;
}

/* Writing */

static json_object *
run_to_json (GraftRun *self)
{
  json_object *root = json_object_new_object ();
  g_autofree char *created = time_to_string (self->created);

  json_object_object_add (root, "schema", json_object_new_int (GRAFT_RUN_SCHEMA_VERSION));
  json_object_object_add (root, "id", json_object_new_string (self->id));
  json_object_object_add (root, "name", json_object_new_string (self->name));
  if (self->parent != NULL)
    json_object_object_add (root, "parent", json_object_new_string (self->parent));
  json_object_object_add (root, "created", json_object_new_string (created));
  if (self->finished != 0)
    {
      g_autofree char *finished = time_to_string (self->finished);

      json_object_object_add (root, "finished", json_object_new_string (finished));
    }
  json_object_object_add (root, "status",
                          json_object_new_string (graft_run_status_to_string (self->status)));
  if (self->reason != NULL)
    json_object_object_add (root, "reason", json_object_new_string (self->reason));
  if (self->device != NULL)
    json_object_object_add (root, "device", json_object_new_string (self->device));
  json_object_object_add (root, "config", json_object_get (self->config));
  json_object_object_add (root, "history", json_object_get (self->history));
  json_object_object_add (root, "timing", json_object_get (self->timing));
  if (self->final_metrics != NULL)
    json_object_object_add (root, "final_metrics", json_object_get (self->final_metrics));
  if (self->predictions != NULL)
    json_object_object_add (root, "predictions", json_object_new_string (self->predictions));
  {
    json_object_object_foreach (self->extra, key, value)
      json_object_object_add (root, key, json_object_get (value));
  }
  return root;
}

/* So that the rename of run.json survives a power cut, not only its data. */
static void
sync_folder (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0)
    return;
  if (fsync (fd) != 0)
    g_debug ("Could not sync the folder %s: %s", dir, g_strerror (errno));
  close (fd);
}

gboolean
graft_run_save (GraftRun  *self,
                GError   **error)
{
  g_autoptr(GError) local_error = NULL;
  json_object *root;
  const char *text;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root = run_to_json (self);
  text = json_object_to_json_string_ext (root, JSON_C_TO_STRING_PLAIN |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
  ok = g_file_set_contents_full (self->file, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local_error);
  json_object_put (root);
  if (!ok)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                   "Could not save the run “%s” (%s): %s; check that the folder is writable "
                   "and the disk has room", self->name, self->file, local_error->message);
      return FALSE;
    }
  sync_folder (self->dir);
  return TRUE;
}

/* Creating */

static char *
make_run_folder (const char  *runs,
                 gint64       now,
                 GError     **error)
{
  g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc (now / G_USEC_PER_SEC);
  g_autofree char *stamp = g_date_time_format (t, "%Y%m%d-%H%M%S");

  for (guint counter = 1; counter <= 999; counter++)
    {
      g_autofree char *id = g_strdup_printf ("%s-%03u", stamp, counter);
      g_autofree char *dir = g_build_filename (runs, id, NULL);
      int saved;

      if (g_mkdir (dir, 0755) == 0)
        return g_steal_pointer (&id);
      saved = errno;
      if (saved != EEXIST)
        {
          g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                       "Could not create the run folder %s: %s; check that the project "
                       "folder is writable", dir, g_strerror (saved));
          return NULL;
        }
    }
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS,
               "%s holds 999 runs created in the second %s already; try again", runs, stamp);
  return NULL;
}

GraftRun *
graft_run_create (const char   *project_dir,
                  const char   *name,
                  const char   *parent_id,
                  json_object  *config,
                  GError      **error)
{
  g_autoptr(GraftRun) self = NULL;
  g_autofree char *runs = NULL;
  g_autofree char *id = NULL;
  gint64 now = g_get_real_time ();

  g_return_val_if_fail (project_dir != NULL, NULL);
  g_return_val_if_fail (config == NULL || json_object_is_type (config, json_type_object), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (parent_id != NULL && !is_plain_name (parent_id))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "“%s” is not the id of a run of %s; give the name of a folder in %s",
                   parent_id, project_dir, GRAFT_RUNS_FOLDER);
      return NULL;
    }
  runs = g_build_filename (project_dir, GRAFT_RUNS_FOLDER, NULL);
  if (g_mkdir_with_parents (runs, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                   "Could not create the folder %s: %s; check that the project folder is "
                   "writable", runs, g_strerror (saved));
      return NULL;
    }
  id = make_run_folder (runs, now, error);
  if (id == NULL)
    return NULL;

  self = run_new (project_dir, id);
  self->name = g_strdup (name != NULL && *name != '\0' ? name : id);
  self->parent = g_strdup (parent_id);
  self->created = now;
  self->status = GRAFT_RUN_STATUS_RUNNING;
  self->config = config != NULL ? json_object_get (config) : json_object_new_object ();
  if (!graft_run_save (self, error))
    {
      g_rmdir (self->dir);
      return NULL;
    }
  return g_steal_pointer (&self);
}

/* Reading: every error names run.json and the field. */

G_GNUC_PRINTF (3, 4)
static void
set_field_error (GError     **error,
                 const char  *file,
                 const char  *format,
                 ...)
{
  g_autofree char *what = NULL;
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
               "%s: %s; correct it in a text editor, or delete the run", file, what);
}

static gboolean
is_number (json_object *value)
{
  return json_object_is_type (value, json_type_int) ||
         json_object_is_type (value, json_type_double);
}

static gboolean
get_member (json_object  *object,
            const char   *key,
            json_type     type,
            gboolean      required,
            json_object **value,
            const char   *file,
            GError      **error)
{
  const char *wanted;

  *value = NULL;
  if (!json_object_object_get_ex (object, key, value) || *value == NULL)
    {
      *value = NULL;
      if (required)
        set_field_error (error, file, "the field “%s” is missing", key);
      return !required;
    }
  if (json_object_is_type (*value, type))
    return TRUE;
  wanted = graft_json_describe_type (type);
  set_field_error (error, file, "the field “%s” must be %s, not %s", key, wanted,
                   graft_json_describe (*value));
  return FALSE;
}

/* @field is the name for messages: “history[3]” in a file, “the epoch” for a caller. */
static gboolean
check_epoch (json_object  *epoch,
             const char   *file,
             const char   *field,
             GError      **error)
{
  json_object *number;

  if (!json_object_is_type (epoch, json_type_object))
    {
      set_field_error (error, file, "the field “%s” must be an object, not %s", field,
                       graft_json_describe (epoch));
      return FALSE;
    }
  if (!json_object_object_get_ex (epoch, "epoch", &number) ||
      !json_object_is_type (number, json_type_int) || json_object_get_int64 (number) < 0)
    {
      set_field_error (error, file, "the field “%s.epoch” must be a whole number of 0 or more",
                       field);
      return FALSE;
    }
  {
    json_object_object_foreach (epoch, key, value)
      if (!is_number (value) || !isfinite (json_object_get_double (value)))
        {
          set_field_error (error, file, "the field “%s.%s” must be a finite number, not %s",
                           field, key, is_number (value) ? "infinite" : graft_json_describe (value));
          return FALSE;
        }
  }
  return TRUE;
}

static gboolean
get_time (json_object  *root,
          const char   *key,
          gboolean      required,
          gint64       *usec,
          const char   *file,
          GError      **error)
{
  json_object *value;

  if (!get_member (root, key, json_type_string, required, &value, file, error))
    return FALSE;
  if (value != NULL && !time_from_string (json_object_get_string (value), usec))
    {
      set_field_error (error, file, "the field “%s” must be a time such as "
                       "2026-01-31T12:00:00Z, not “%s”", key, json_object_get_string (value));
      return FALSE;
    }
  return TRUE;
}

static gboolean
parse_run (GraftRun     *self,
           json_object  *root,
           GError      **error)
{
  static const char *const known[] = { "schema", "id", "name", "parent", "created", "finished",
                                       "status", "reason", "device", "config", "history",
                                       "timing", "final_metrics", "predictions", NULL };
  json_object *schema, *id, *name, *parent, *status, *reason, *device, *config, *history;
  json_object *timing, *metrics, *predictions;
  const char *file = self->file;
  gint64 version;
  guint s;

  if (!get_member (root, "schema", json_type_int, TRUE, &schema, file, error))
    return FALSE;
  version = json_object_get_int64 (schema);
  if (version > GRAFT_RUN_SCHEMA_VERSION)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_VERSION,
                   "%s was written by a newer version of Graft (schema %" G_GINT64_FORMAT ", "
                   "this one reads %d); open it with that version", file, version,
                   GRAFT_RUN_SCHEMA_VERSION);
      return FALSE;
    }
  if (version < 1)
    {
      set_field_error (error, file, "the field “schema” must be %d, not %" G_GINT64_FORMAT,
                       GRAFT_RUN_SCHEMA_VERSION, version);
      return FALSE;
    }

  if (!get_member (root, "id", json_type_string, TRUE, &id, file, error))
    return FALSE;
  if (!g_str_equal (json_object_get_string (id), self->id))
    {
      set_field_error (error, file, "the field “id” is “%s”, but the run's folder is “%s”",
                       json_object_get_string (id), self->id);
      return FALSE;
    }
  if (!get_member (root, "name", json_type_string, TRUE, &name, file, error) ||
      !get_member (root, "parent", json_type_string, FALSE, &parent, file, error) ||
      !get_time (root, "created", TRUE, &self->created, file, error) ||
      !get_time (root, "finished", FALSE, &self->finished, file, error) ||
      !get_member (root, "status", json_type_string, TRUE, &status, file, error) ||
      !get_member (root, "reason", json_type_string, FALSE, &reason, file, error) ||
      !get_member (root, "device", json_type_string, FALSE, &device, file, error) ||
      !get_member (root, "config", json_type_object, TRUE, &config, file, error) ||
      !get_member (root, "history", json_type_array, TRUE, &history, file, error) ||
      !get_member (root, "timing", json_type_object, FALSE, &timing, file, error) ||
      !get_member (root, "predictions", json_type_string, FALSE, &predictions, file, error))
    return FALSE;
  if (json_object_object_get_ex (root, "final_metrics", &metrics) && metrics != NULL &&
      !json_object_is_type (metrics, json_type_object))
    {
      set_field_error (error, file, "the field “final_metrics” must be an object, not %s",
                       graft_json_describe (metrics));
      return FALSE;
    }

  for (s = 0; s < G_N_ELEMENTS (status_names); s++)
    if (g_str_equal (json_object_get_string (status), status_names[s]))
      break;
  if (s == G_N_ELEMENTS (status_names))
    {
      set_field_error (error, file, "the field “status” must be running, finished, cancelled "
                       "or failed, not “%s”", json_object_get_string (status));
      return FALSE;
    }
  if (parent != NULL && !is_plain_name (json_object_get_string (parent)))
    {
      set_field_error (error, file, "the field “parent” must be the id of a run, not “%s”",
                       json_object_get_string (parent));
      return FALSE;
    }
  if (predictions != NULL && !is_relative_file (json_object_get_string (predictions)))
    {
      set_field_error (error, file, "the field “predictions” must name a file in the run's "
                       "folder, not “%s”", json_object_get_string (predictions));
      return FALSE;
    }
  for (gsize i = 0; i < json_object_array_length (history); i++)
    {
      g_autofree char *field = g_strdup_printf ("history[%" G_GSIZE_FORMAT "]", i);

      if (!check_epoch (json_object_array_get_idx (history, i), file, field, error))
        return FALSE;
    }
  if (timing != NULL)
    {
      json_object_object_foreach (timing, key, value)
        if (!is_number (value))
          {
            set_field_error (error, file, "the field “timing.%s” must be a number, not %s",
                             key, graft_json_describe (value));
            return FALSE;
          }
    }

  self->status = (GraftRunStatus) s;
  self->name = g_strdup (json_object_get_string (name));
  self->parent = parent != NULL ? g_strdup (json_object_get_string (parent)) : NULL;
  self->reason = reason != NULL ? g_strdup (json_object_get_string (reason)) : NULL;
  self->device = device != NULL ? g_strdup (json_object_get_string (device)) : NULL;
  self->predictions = predictions != NULL ? g_strdup (json_object_get_string (predictions)) : NULL;
  self->config = json_object_get (config);
  json_object_put (self->history);
  self->history = json_object_get (history);
  if (timing != NULL)
    {
      json_object_put (self->timing);
      self->timing = json_object_get (timing);
    }
  self->final_metrics = metrics != NULL ? json_object_get (metrics) : NULL;
  {
    json_object_object_foreach (root, key, value)
      if (!g_strv_contains (known, key))
        json_object_object_add (self->extra, key, json_object_get (value));
  }
  return TRUE;
}

GraftRun *
graft_run_open (const char  *project_dir,
                const char  *id,
                GError     **error)
{
  g_autoptr(GraftRun) self = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  json_tokener *tokener;
  json_object *root;
  gsize length = 0;
  gboolean ok;

  g_return_val_if_fail (project_dir != NULL && id != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!is_plain_name (id))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "“%s” is not the id of a run of %s; give the name of a folder in %s",
                   id, project_dir, GRAFT_RUNS_FOLDER);
      return NULL;
    }
  self = run_new (project_dir, id);
  if (!g_file_get_contents (self->file, &data, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                     "%s: no such file; the run “%s” does not exist or was never saved "
                     "(delete its folder)", self->file, id);
      else
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ,
                     "Could not read %s: %s", self->file, local_error->message);
      return NULL;
    }

  tokener = json_tokener_new ();
  root = json_tokener_parse_ex (tokener, data, (int) MIN (length, (gsize) G_MAXINT));
  if (root == NULL || json_tokener_get_error (tokener) != json_tokener_success ||
      (gsize) json_tokener_get_parse_end (tokener) < length)
    {
      enum json_tokener_error jerr = json_tokener_get_error (tokener);

      if (root == NULL && jerr == json_tokener_continue)
        jerr = json_tokener_error_parse_eof;
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "%s: not valid JSON (%s, at character %" G_GSIZE_FORMAT "); correct it "
                   "in a text editor, or delete the run", self->file,
                   jerr != json_tokener_success ? json_tokener_error_desc (jerr)
                                                : "text after the end of the run",
                   (gsize) json_tokener_get_parse_end (tokener));
      json_object_put (root);
      json_tokener_free (tokener);
      return NULL;
    }
  json_tokener_free (tokener);

  if (!json_object_is_type (root, json_type_object))
    {
      set_field_error (error, self->file, "the file must hold an object, not %s",
                       graft_json_describe (root));
      json_object_put (root);
      return NULL;
    }
  ok = parse_run (self, root, error);
  json_object_put (root);
  return ok ? g_steal_pointer (&self) : NULL;
}

/* Listing */

static int
compare_runs (gconstpointer a,
              gconstpointer b)
{
  GraftRun *ra = *(GraftRun *const *) a;
  GraftRun *rb = *(GraftRun *const *) b;

  if (ra->created != rb->created)
    return ra->created < rb->created ? -1 : 1;
  return strcmp (ra->id, rb->id);
}

GPtrArray *
graft_run_list (const char  *project_dir,
                GPtrArray  **problems,
                GError     **error)
{
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GPtrArray) found = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *folder = NULL;
  GDir *dir;
  const char *entry;

  g_return_val_if_fail (project_dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  runs = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_run_free);
  if (problems != NULL)
    *problems = g_ptr_array_new_with_free_func ((GDestroyNotify) g_error_free);
  folder = g_build_filename (project_dir, GRAFT_RUNS_FOLDER, NULL);
  if (!g_file_test (folder, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&runs);
  dir = g_dir_open (folder, 0, &local_error);
  if (dir == NULL)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_READ,
                   "Could not read the runs of the project in %s: %s", project_dir,
                   local_error->message);
      if (problems != NULL)
        g_clear_pointer (problems, g_ptr_array_unref);
      return NULL;
    }
  found = g_ptr_array_new_with_free_func (g_free);
  while ((entry = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (folder, entry, NULL);

      /* Hidden entries are not runs; neither are files or links beside them. */
      if (is_plain_name (entry) && g_file_test (path, G_FILE_TEST_IS_DIR) &&
          !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        g_ptr_array_add (found, g_strdup (entry));
    }
  g_dir_close (dir);

  for (guint i = 0; i < found->len; i++)
    {
      g_autoptr(GError) run_error = NULL;
      GraftRun *run = graft_run_open (project_dir, g_ptr_array_index (found, i), &run_error);

      if (run != NULL)
        g_ptr_array_add (runs, run);
      else if (problems != NULL)
        g_ptr_array_add (*problems, g_steal_pointer (&run_error));
      else
        g_debug ("Skipping a run: %s", run_error->message);
    }
  g_ptr_array_sort (runs, compare_runs);
  return g_steal_pointer (&runs);
}

/* Deleting */

gboolean
graft_run_delete (const char  *project_dir,
                  const char  *id,
                  GError     **error)
{
  g_autofree char *dir = NULL;
  g_autofree char *file = NULL;
  GStatBuf info;

  g_return_val_if_fail (project_dir != NULL && id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!is_plain_name (id))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "“%s” is not the id of a run of %s; nothing was deleted", id, project_dir);
      return FALSE;
    }
  dir = g_build_filename (project_dir, GRAFT_RUNS_FOLDER, id, NULL);
  if (g_lstat (dir, &info) != 0)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                   "%s: no such run folder; it may have been deleted already", dir);
      return FALSE;
    }
  file = g_build_filename (dir, GRAFT_RUN_FILE, NULL);
  if (!S_ISDIR (info.st_mode) || !g_file_test (file, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "%s is not a run folder (a folder holding %s); nothing was deleted",
                   dir, GRAFT_RUN_FILE);
      return FALSE;
    }
  if (!graft_remove_tree (dir))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                   "Could not delete everything in %s; check that the folder is writable "
                   "and remove what is left by hand", dir);
      return FALSE;
    }
  return TRUE;
}

/* Changing */

gboolean
graft_run_rename (GraftRun    *self,
                  const char  *name,
                  GError     **error)
{
  char *old;

  g_return_val_if_fail (self != NULL && name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  old = self->name;
  self->name = g_strdup (name);
  if (!graft_run_save (self, error))
    {
      g_free (self->name);
      self->name = old;
      return FALSE;
    }
  g_free (old);
  return TRUE;
}

json_object *
graft_run_epoch_new (guint  epoch,
                     double train_loss,
                     double val_loss,
                     double val_accuracy,
                     double learning_rate,
                     double seconds)
{
  json_object *object = json_object_new_object ();
  const struct { const char *key; double value; } fields[] = {
    { "train_loss", train_loss }, { "val_loss", val_loss },
    { "val_accuracy", val_accuracy }, { "learning_rate", learning_rate },
    { "seconds", seconds },
  };

  json_object_object_add (object, "epoch", json_object_new_int64 (epoch));
  for (guint i = 0; i < G_N_ELEMENTS (fields); i++)
    if (isfinite (fields[i].value))
      json_object_object_add (object, fields[i].key, json_object_new_double (fields[i].value));
  return object;
}

static double
history_seconds (json_object *history)
{
  double total = 0.0;

  for (gsize i = 0; i < json_object_array_length (history); i++)
    {
      json_object *seconds;

      if (json_object_object_get_ex (json_object_array_get_idx (history, i), "seconds", &seconds))
        total += json_object_get_double (seconds);
    }
  return total;
}

static json_object *
copy_object (json_object *object)
{
  json_object *copy = NULL;

  json_object_deep_copy (object, &copy, NULL);
  return copy;
}

gboolean
graft_run_append_epoch (GraftRun     *self,
                        json_object  *epoch,
                        GError      **error)
{
  g_autofree char *field = NULL;
  json_object *old_history, *old_timing, *history;
  gint64 number;
  gsize n, keep = 0;

  g_return_val_if_fail (self != NULL && epoch != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  n = json_object_array_length (self->history);
  field = g_strdup_printf ("history[%" G_GSIZE_FORMAT "]", n);
  if (!check_epoch (epoch, self->file, field, error))
    return FALSE;
  number = json_object_get_int64 (json_object_object_get (epoch, "epoch"));

  /* A new array: the old one stays whole until the save has worked. */
  history = json_object_new_array ();
  for (keep = 0; keep < n; keep++)
    {
      json_object *item = json_object_array_get_idx (self->history, keep);

      if (json_object_get_int64 (json_object_object_get (item, "epoch")) >= number)
        break;
      json_object_array_add (history, json_object_get (item));
    }
  json_object_array_add (history, json_object_get (epoch));

  old_history = self->history;
  old_timing = self->timing;
  self->history = history;
  self->timing = copy_object (old_timing);
  json_object_object_add (self->timing, "train_seconds",
                          json_object_new_double (history_seconds (history)));
  if (!graft_run_save (self, error))
    {
      json_object_put (self->history);
      json_object_put (self->timing);
      self->history = old_history;
      self->timing = old_timing;
      return FALSE;
    }
  json_object_put (old_history);
  json_object_put (old_timing);
  return TRUE;
}

/* Sets the end of the run and saves, or leaves the run as it was. */
static gboolean
end_run (GraftRun        *self,
         GraftRunStatus   status,
         const char      *reason,
         json_object     *final_metrics,
         GError         **error)
{
  GraftRunStatus old_status = self->status;
  gint64 old_finished = self->finished;
  char *old_reason = self->reason;
  json_object *old_metrics = self->final_metrics;
  json_object *old_timing = self->timing;

  self->status = status;
  self->finished = MAX (g_get_real_time (), self->created);
  self->reason = g_strdup (reason);
  self->final_metrics = final_metrics != NULL ? json_object_get (final_metrics)
                                              : (old_metrics != NULL ? json_object_get (old_metrics)
                                                                     : NULL);
  self->timing = copy_object (old_timing);
  json_object_object_add (self->timing, "wall_seconds",
                          json_object_new_double ((double) (self->finished - self->created) /
                                                  G_USEC_PER_SEC));
  if (!graft_run_save (self, error))
    {
      g_free (self->reason);
      json_object_put (self->final_metrics);
      json_object_put (self->timing);
      self->status = old_status;
      self->finished = old_finished;
      self->reason = old_reason;
      self->final_metrics = old_metrics;
      self->timing = old_timing;
      return FALSE;
    }
  g_free (old_reason);
  json_object_put (old_metrics);
  json_object_put (old_timing);
  return TRUE;
}

gboolean
graft_run_finish (GraftRun     *self,
                  json_object  *final_metrics,
                  GError      **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (final_metrics == NULL ||
                        json_object_is_type (final_metrics, json_type_object), FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return end_run (self, GRAFT_RUN_STATUS_FINISHED, NULL, final_metrics, error);
}

gboolean
graft_run_stop (GraftRun        *self,
                GraftRunStatus   status,
                const char      *reason,
                GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (status == GRAFT_RUN_STATUS_CANCELLED ||
                        status == GRAFT_RUN_STATUS_FAILED, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return end_run (self, status, reason, NULL, error);
}

gboolean
graft_run_mark_running (GraftRun  *self,
                        GError   **error)
{
  GraftRunStatus old_status;
  gint64 old_finished;
  char *old_reason;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (self->status != GRAFT_RUN_STATUS_FINISHED, FALSE);

  old_status = self->status;
  old_finished = self->finished;
  old_reason = g_steal_pointer (&self->reason);
  self->status = GRAFT_RUN_STATUS_RUNNING;
  self->finished = 0;
  if (!graft_run_save (self, error))
    {
      self->status = old_status;
      self->finished = old_finished;
      self->reason = old_reason;
      return FALSE;
    }
  g_free (old_reason);
  return TRUE;
}

void
graft_run_set_device (GraftRun   *self,
                      const char *device)
{
  g_return_if_fail (self != NULL);
  g_free (self->device);
  self->device = g_strdup (device);
}

static const char *const known_members[] = {
  "schema", "id", "name", "parent", "created", "finished", "status", "reason", "device",
  "config", "history", "timing", "final_metrics", "predictions", NULL
};

gboolean
graft_run_set_member (GraftRun    *self,
                      const char  *key,
                      json_object *value)
{
  g_return_val_if_fail (self != NULL && key != NULL, FALSE);

  if (g_strv_contains (known_members, key))
    {
      json_object_put (value);
      return FALSE;
    }
  if (value == NULL)
    json_object_object_del (self->extra, key);
  else
    json_object_object_add (self->extra, key, value);
  return TRUE;
}

json_object *
graft_run_get_member (GraftRun   *self,
                      const char *key)
{
  json_object *value = NULL;

  g_return_val_if_fail (self != NULL && key != NULL, NULL);
  return json_object_object_get_ex (self->extra, key, &value) ? value : NULL;
}

gboolean
graft_run_set_predictions_file (GraftRun   *self,
                                const char *file)
{
  g_return_val_if_fail (self != NULL, FALSE);
  if (file != NULL && !is_relative_file (file))
    return FALSE;
  g_free (self->predictions);
  self->predictions = g_strdup (file);
  return TRUE;
}

void
graft_run_set_timing (GraftRun   *self,
                      const char *key,
                      double      seconds)
{
  g_return_if_fail (self != NULL && key != NULL && isfinite (seconds));
  json_object_object_add (self->timing, key, json_object_new_double (seconds));
}

/* Getters */

const char *
graft_run_get_id (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->id;
}

const char *
graft_run_get_name (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->name;
}

const char *
graft_run_get_parent_id (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->parent;
}

const char *
graft_run_get_dir (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->dir;
}

const char *
graft_run_get_file (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->file;
}

char *
graft_run_get_model_path (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_build_filename (self->dir, GRAFT_RUN_MODEL_FILE, NULL);
}

char *
graft_run_get_model_json_path (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return g_build_filename (self->dir, GRAFT_RUN_MODEL_JSON, NULL);
}

GraftRunStatus
graft_run_get_status (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, GRAFT_RUN_STATUS_FAILED);
  return self->status;
}

const char *
graft_run_get_reason (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->reason;
}

const char *
graft_run_get_device (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->device;
}

gint64
graft_run_get_created (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->created;
}

gint64
graft_run_get_finished (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->finished;
}

json_object *
graft_run_get_config (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->config;
}

json_object *
graft_run_get_history (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->history;
}

guint
graft_run_get_n_epochs (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return (guint) json_object_array_length (self->history);
}

json_object *
graft_run_get_final_metrics (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->final_metrics;
}

json_object *
graft_run_get_timing (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->timing;
}

const char *
graft_run_get_predictions_file (GraftRun *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->predictions;
}
