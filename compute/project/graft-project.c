/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-project"

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "graft-project.h"
#include "io/graft-json.h"

G_DEFINE_QUARK (graft-project-error-quark, graft_project_error)

struct _GraftProject {
  char               *dir;
  char               *file;
  GraftTask           task;
  GPtrArray          *classes;     /* char *, NULL-terminated */
  char               *source;
  GraftDatasetFormat  format;
  GraftSplitOptions   split;
  GHashTable         *assignment;  /* name → GraftSplit */
  json_object        *extra;       /* members of the file Graft does not know, kept */
};

static const char *const split_keys[3] = { "train", "val", "test" };

static const char *
task_to_string (GraftTask task)
{
  return task == GRAFT_TASK_DETECTION ? "detection" : "classification";
}

static GraftProject *
project_new (const char *dir,
             GraftTask   task)
{
  GraftProject *self = g_new0 (GraftProject, 1);

  self->dir = g_strdup (dir);
  self->file = g_build_filename (dir, GRAFT_PROJECT_FILE, NULL);
  self->task = task;
  self->classes = g_ptr_array_new_null_terminated (0, g_free, TRUE);
  self->format = GRAFT_DATASET_FORMAT_AUTO;
  graft_split_options_init (&self->split);
  self->assignment = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->extra = json_object_new_object ();
  return self;
}

void
graft_project_free (GraftProject *self)
{
  if (self == NULL)
    return;
  g_free (self->dir);
  g_free (self->file);
  g_ptr_array_unref (self->classes);
  g_free (self->source);
  g_hash_table_unref (self->assignment);
  json_object_put (self->extra);
  g_free (self);
}

GraftProject *
graft_project_create (const char  *dir,
                      GraftTask    task,
                      GError     **error)
{
  g_autofree char *file = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  file = g_build_filename (dir, GRAFT_PROJECT_FILE, NULL);
  if (g_file_test (file, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS,
                   "%s holds a project already; open it, or choose another folder for a "
                   "new one", dir);
      return NULL;
    }
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;

      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                   "Could not create the project folder %s: %s; choose a folder you may "
                   "write to", dir, g_strerror (saved));
      return NULL;
    }
  return project_new (dir, task);
}

/* Parsing: every error names project.json and the field. */

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
               "%s: %s; correct it in a text editor, or remove the file to start the "
               "project again (its split is then drawn anew)", file, what);
}

static gboolean
get_member (json_object  *object,
            const char   *key,
            const char   *field,
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
        set_field_error (error, file, "the field “%s” is missing", field);
      return !required;
    }
  if (json_object_is_type (*value, type) ||
      (type == json_type_double && json_object_is_type (*value, json_type_int)))
    return TRUE;
  wanted = graft_json_describe_type (type);
  set_field_error (error, file, "the field “%s” must be %s, not %s", field, wanted,
                   graft_json_describe (*value));
  return FALSE;
}

static gboolean
parse_classes (GraftProject  *self,
               json_object   *classes,
               GError       **error)
{
  g_autoptr(GHashTable) names = g_hash_table_new (g_str_hash, g_str_equal);
  gsize n = json_object_array_length (classes);

  for (gsize i = 0; i < n; i++)
    {
      json_object *item = json_object_array_get_idx (classes, i);
      const char *name;

      if (!json_object_is_type (item, json_type_string) ||
          *(name = json_object_get_string (item)) == '\0')
        {
          set_field_error (error, self->file, "the field “classes[%" G_GSIZE_FORMAT "]” must "
                           "be the name of a class, not %s", i,
                           item == NULL ? "null" : json_object_is_type (item, json_type_string)
                                                   ? "an empty string" : graft_json_describe (item));
          return FALSE;
        }
      if (!g_hash_table_add (names, (gpointer) name))
        {
          set_field_error (error, self->file, "the field “classes[%" G_GSIZE_FORMAT "]” names "
                           "the class “%s” a second time", i, name);
          return FALSE;
        }
      g_ptr_array_add (self->classes, g_strdup (name));
    }
  return TRUE;
}

static gboolean
parse_dataset (GraftProject  *self,
               json_object   *dataset,
               GError       **error)
{
  json_object *source, *format;

  if (!get_member (dataset, "source", "dataset.source", json_type_string, TRUE, &source,
                   self->file, error) ||
      !get_member (dataset, "format", "dataset.format", json_type_string, TRUE, &format,
                   self->file, error))
    return FALSE;
  if (!graft_dataset_format_from_string (json_object_get_string (format), &self->format))
    {
      set_field_error (error, self->file, "the field “dataset.format” is “%s”, which is none "
                       "of auto, folder, csv, yolo and coco", json_object_get_string (format));
      return FALSE;
    }
  self->source = g_strdup (json_object_get_string (source));
  return TRUE;
}

static gboolean
parse_split (GraftProject  *self,
             json_object   *split,
             GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  json_object *seed, *fractions, *assignment;

  if (!get_member (split, "seed", "split.seed", json_type_int, TRUE, &seed, self->file, error) ||
      !get_member (split, "fractions", "split.fractions", json_type_object, TRUE, &fractions,
                   self->file, error) ||
      !get_member (split, "assignment", "split.assignment", json_type_object, FALSE,
                   &assignment, self->file, error))
    return FALSE;

  if (json_object_get_int64 (seed) < 0)
    {
      set_field_error (error, self->file, "the field “split.seed” must be 0 or more, not %s",
                       json_object_get_string (seed));
      return FALSE;
    }
  self->split.seed = json_object_get_uint64 (seed);

  for (guint s = 0; s < 3; s++)
    {
      g_autofree char *field = g_strdup_printf ("split.fractions.%s", split_keys[s]);
      json_object *value;
      double v;

      if (!get_member (fractions, split_keys[s], field, json_type_double, TRUE, &value,
                       self->file, error))
        return FALSE;
      v = json_object_get_double (value);
      if (!isfinite (v) || v < 0.0)
        {
          set_field_error (error, self->file, "the field “%s” must be 0 or more, not %s",
                           field, json_object_get_string (value));
          return FALSE;
        }
      self->split.fractions[s] = v;
    }
  if (!graft_split_options_check (&self->split, &local_error))
    {
      set_field_error (error, self->file, "the field “split.fractions” gives no part to any "
                       "of train, val and test");
      return FALSE;
    }

  if (assignment != NULL)
    {
      json_object_object_foreach (assignment, name, value)
        {
          const char *text = json_object_is_type (value, json_type_string)
                             ? json_object_get_string (value) : NULL;
          GraftSplit split_value = GRAFT_SPLIT_NONE;

          for (guint s = 0; text != NULL && s < 3; s++)
            if (g_str_equal (text, split_keys[s]))
              split_value = (GraftSplit) (s + 1);
          if (split_value == GRAFT_SPLIT_NONE)
            {
              set_field_error (error, self->file, "the field “split.assignment.%s” must be "
                               "“train”, “val” or “test”, not %s", name,
                               text != NULL ? text : value == NULL ? "null" : graft_json_describe (value));
              return FALSE;
            }
          g_hash_table_replace (self->assignment, g_strdup (name), GINT_TO_POINTER (split_value));
        }
    }
  return TRUE;
}

static gboolean
parse_project (GraftProject  *self,
               json_object   *root,
               GError       **error)
{
  json_object *schema, *task, *classes, *dataset, *split;
  const char *task_name;
  int64_t version;

  if (!get_member (root, "schema", "schema", json_type_int, TRUE, &schema, self->file, error))
    return FALSE;
  version = json_object_get_int64 (schema);
  if (version > GRAFT_PROJECT_SCHEMA_VERSION)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_VERSION,
                   "%s was written by a newer version of Graft (schema %" G_GINT64_FORMAT ", "
                   "this one reads %d); open it with that version", self->file,
                   (gint64) version, GRAFT_PROJECT_SCHEMA_VERSION);
      return FALSE;
    }
  if (version < 1)
    {
      set_field_error (error, self->file, "the field “schema” must be %d, not %" G_GINT64_FORMAT,
                       GRAFT_PROJECT_SCHEMA_VERSION, (gint64) version);
      return FALSE;
    }

  if (!get_member (root, "task", "task", json_type_string, TRUE, &task, self->file, error))
    return FALSE;
  task_name = json_object_get_string (task);
  if (g_str_equal (task_name, "classification"))
    self->task = GRAFT_TASK_CLASSIFICATION;
  else if (g_str_equal (task_name, "detection"))
    self->task = GRAFT_TASK_DETECTION;
  else
    {
      set_field_error (error, self->file, "the field “task” must be “classification” or "
                       "“detection”, not “%s”", task_name);
      return FALSE;
    }

  if (!get_member (root, "classes", "classes", json_type_array, TRUE, &classes, self->file, error) ||
      !parse_classes (self, classes, error))
    return FALSE;
  if (!get_member (root, "dataset", "dataset", json_type_object, FALSE, &dataset, self->file, error) ||
      (dataset != NULL && !parse_dataset (self, dataset, error)))
    return FALSE;
  if (!get_member (root, "split", "split", json_type_object, TRUE, &split, self->file, error) ||
      !parse_split (self, split, error))
    return FALSE;

  json_object_object_foreach (root, key, value)
    {
      if (g_str_equal (key, "schema") || g_str_equal (key, "task") ||
          g_str_equal (key, "classes") || g_str_equal (key, "dataset") ||
          g_str_equal (key, "split"))
        continue;
      json_object_object_add (self->extra, key, json_object_get (value));
    }
  return TRUE;
}

GraftProject *
graft_project_open (const char  *dir,
                    GError     **error)
{
  g_autoptr(GraftProject) self = NULL;
  g_autoptr(GError) local_error = NULL;
  g_autofree char *data = NULL;
  json_tokener *tokener;
  json_object *root;
  gsize length = 0;
  gboolean ok;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  self = project_new (dir, GRAFT_TASK_CLASSIFICATION);
  if (!g_file_get_contents (self->file, &data, &length, &local_error))
    {
      if (g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND,
                     "%s holds no project (no %s); import a dataset into it to create one",
                     dir, GRAFT_PROJECT_FILE);
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
      gsize end = MIN ((gsize) json_tokener_get_parse_end (tokener), length);
      enum json_tokener_error jerr = json_tokener_get_error (tokener);
      guint line = 1;
      gsize last = length;

      /* At the last character, not past the newline that ends the file. */
      while (last > 0 && g_ascii_isspace (data[last - 1]))
        last--;
      end = MIN (end, last);
      for (gsize i = 0; i < end; i++)
        line += data[i] == '\n';
      if (root == NULL && jerr == json_tokener_continue)
        jerr = json_tokener_error_parse_eof;
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                   "%s, line %u: not valid JSON (%s); correct it in a text editor, or "
                   "remove the file to start the project again",
                   self->file, line,
                   jerr != json_tokener_success ? json_tokener_error_desc (jerr)
                                                : "text after the end of the project");
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
  ok = parse_project (self, root, error);
  json_object_put (root);
  return ok ? g_steal_pointer (&self) : NULL;
}

/* The shortest text that reads back as the same fraction: 0.7, not 0.69999999999999996. */
static json_object *
new_fraction (double value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  char format[8];

  for (int digits = 6; digits <= 17; digits++)
    {
      g_snprintf (format, sizeof format, "%%.%dg", digits);
      g_ascii_formatd (text, sizeof text, format, value);
      if (g_ascii_strtod (text, NULL) == value)
        break;
    }
  return json_object_new_double_s (value, text);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

gboolean
graft_project_save (GraftProject  *self,
                    GError       **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) names = NULL;
  json_object *root, *classes, *split, *fractions, *assignment;
  GHashTableIter iter;
  gpointer key, value;
  const char *text;
  gboolean ok;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  root = json_object_new_object ();
  json_object_object_add (root, "schema", json_object_new_int (GRAFT_PROJECT_SCHEMA_VERSION));
  json_object_object_add (root, "task", json_object_new_string (task_to_string (self->task)));
  classes = json_object_new_array ();
  for (guint i = 0; i < self->classes->len; i++)
    json_object_array_add (classes, json_object_new_string (g_ptr_array_index (self->classes, i)));
  json_object_object_add (root, "classes", classes);
  if (self->source != NULL)
    {
      json_object *dataset = json_object_new_object ();

      json_object_object_add (dataset, "source", json_object_new_string (self->source));
      json_object_object_add (dataset, "format",
                              json_object_new_string (graft_dataset_format_to_string (self->format)));
      json_object_object_add (root, "dataset", dataset);
    }

  split = json_object_new_object ();
  json_object_object_add (split, "seed", json_object_new_uint64 (self->split.seed));
  fractions = json_object_new_object ();
  for (guint s = 0; s < 3; s++)
    json_object_object_add (fractions, split_keys[s], new_fraction (self->split.fractions[s]));
  json_object_object_add (split, "fractions", fractions);
  assignment = json_object_new_object ();
  names = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, self->assignment);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, key);
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      value = g_hash_table_lookup (self->assignment, g_ptr_array_index (names, i));
      json_object_object_add (assignment, g_ptr_array_index (names, i),
                              json_object_new_string (split_keys[GPOINTER_TO_INT (value) - 1]));
    }
  json_object_object_add (split, "assignment", assignment);
  json_object_object_add (root, "split", split);

  {
    json_object_object_foreach (self->extra, extra_key, extra_value)
      json_object_object_add (root, extra_key, json_object_get (extra_value));
  }

  /* A temporary file beside project.json, synced and renamed over it. */
  text = json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                               JSON_C_TO_STRING_NOSLASHESCAPE);
  ok = g_file_set_contents_full (self->file, text, -1,
                                 G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, &local_error);
  json_object_put (root);
  if (!ok)
    g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE,
                 "Could not save the project: %s; check that the folder is writable and "
                 "the disk has room", local_error->message);
  return ok;
}

const char *
graft_project_get_dir (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->dir;
}

const char *
graft_project_get_file (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->file;
}

GraftTask
graft_project_get_task (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, GRAFT_TASK_CLASSIFICATION);
  return self->task;
}

const char * const *
graft_project_get_classes (GraftProject *self)
{
  static const char *const none[] = { NULL };

  g_return_val_if_fail (self != NULL, NULL);
  return self->classes->len > 0 ? (const char * const *) self->classes->pdata : none;
}

void
graft_project_set_classes (GraftProject       *self,
                           const char * const *classes)
{
  g_return_if_fail (self != NULL);

  g_ptr_array_set_size (self->classes, 0);
  for (guint i = 0; classes != NULL && classes[i] != NULL; i++)
    g_ptr_array_add (self->classes, g_strdup (classes[i]));
}

const char *
graft_project_get_source (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->source;
}

GraftDatasetFormat
graft_project_get_format (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, GRAFT_DATASET_FORMAT_AUTO);
  return self->format;
}

void
graft_project_set_source (GraftProject       *self,
                          const char         *source,
                          GraftDatasetFormat  format)
{
  g_return_if_fail (self != NULL);

  g_free (self->source);
  self->source = g_strdup (source);
  self->format = format;
}

void
graft_project_get_split_options (GraftProject      *self,
                                 GraftSplitOptions *options)
{
  g_return_if_fail (self != NULL && options != NULL);
  *options = self->split;
}

void
graft_project_set_split_options (GraftProject            *self,
                                 const GraftSplitOptions *options)
{
  g_return_if_fail (self != NULL && options != NULL);
  self->split = *options;
}

GraftSplit
graft_project_lookup_split (GraftProject *self,
                            const char   *name)
{
  g_return_val_if_fail (self != NULL && name != NULL, GRAFT_SPLIT_NONE);
  return (GraftSplit) GPOINTER_TO_INT (g_hash_table_lookup (self->assignment, name));
}

guint
graft_project_get_n_assigned (GraftProject *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return g_hash_table_size (self->assignment);
}

void
graft_project_clear_split (GraftProject *self)
{
  g_return_if_fail (self != NULL);
  g_hash_table_remove_all (self->assignment);
}

void
graft_project_record_split (GraftProject *self,
                            GraftDataset *dataset)
{
  g_return_if_fail (self != NULL && dataset != NULL);

  g_hash_table_remove_all (self->assignment);
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (sample->split >= GRAFT_SPLIT_TRAIN && sample->split <= GRAFT_SPLIT_TEST)
        g_hash_table_replace (self->assignment, g_strdup (sample->name),
                              GINT_TO_POINTER (sample->split));
    }
}

void
graft_project_changes_clear (GraftProjectChanges *changes)
{
  g_return_if_fail (changes != NULL);

  g_clear_pointer (&changes->vanished, g_ptr_array_unref);
  g_clear_pointer (&changes->new_classes, g_ptr_array_unref);
  memset (changes, 0, sizeof *changes);
}

gboolean
graft_project_apply (GraftProject         *self,
                     GraftDataset         *dataset,
                     GraftDatasetHealth   *health,
                     GraftProjectChanges  *changes,
                     GError              **error)
{
  g_autoptr(GHashTable) present = NULL;
  GraftProjectChanges local = { 0 };
  GHashTableIter iter;
  gpointer key;
  guint n_assigned = 0;

  g_return_val_if_fail (self != NULL && dataset != NULL, FALSE);
  g_return_val_if_fail (health == NULL || health->n_samples == dataset->samples->len, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (dataset->task != self->task)
    {
      g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_MISMATCH,
                   "The project in %s is for %s, but %s holds a %s dataset; import it into "
                   "a project of its own", self->dir, task_to_string (self->task),
                   dataset->root, task_to_string (dataset->task));
      return FALSE;
    }
  if (!graft_split_options_check (&self->split, error))
    return FALSE;

  local.vanished = g_ptr_array_new_with_free_func (g_free);
  local.new_classes = g_ptr_array_new_with_free_func (g_free);

  for (guint c = 0; c < dataset->classes->len; c++)
    {
      const char *name = g_ptr_array_index (dataset->classes, c);

      if (!g_strv_contains (graft_project_get_classes (self), name))
        {
          g_ptr_array_add (self->classes, g_strdup (name));
          g_ptr_array_add (local.new_classes, g_strdup (name));
        }
    }

  present = g_hash_table_new (g_str_hash, g_str_equal);
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      GraftSplit saved;

      /* Out of every split: the health check found it unusable. */
      if ((health != NULL && !health->usable[i]) || !sample->usable)
        continue;
      g_hash_table_add (present, sample->name);
      saved = graft_project_lookup_split (self, sample->name);
      if (saved == GRAFT_SPLIT_NONE)
        local.n_new++;
      else if (sample->split_fixed && sample->split != GRAFT_SPLIT_NONE && sample->split != saved)
        local.n_moved++;
      else
        {
          sample->split = saved;
          local.n_kept++;
        }
    }

  g_hash_table_iter_init (&iter, self->assignment);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (present, key))
      g_ptr_array_add (local.vanished, g_strdup (key));
  g_ptr_array_sort (local.vanished, compare_names);

  if (!graft_dataset_split (dataset, &self->split, health, &n_assigned, error))
    {
      graft_project_changes_clear (&local);
      return FALSE;
    }
  local.n_drawn = n_assigned;

  graft_project_set_source (self, dataset->root, dataset->format);
  graft_project_record_split (self, dataset);
  if (health != NULL)
    graft_dataset_health_update (health, dataset);

  if (changes != NULL)
    *changes = local;
  else
    graft_project_changes_clear (&local);
  return TRUE;
}
