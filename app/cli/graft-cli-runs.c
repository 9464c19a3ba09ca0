/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli runs: the saved runs of a project (list, show, rename, delete). Everything
 * read here comes from runs/<id>/run.json through GraftRun. */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-output.h"
#include "graft-cli-private.h"

static json_object *
new_string_or_null (const char *text)
{
  return text != NULL ? json_object_new_string (text) : NULL;
}

/* "2026-01-31 13:00" in the local time zone. */
static char *
local_time (gint64 usec)
{
  g_autoptr(GDateTime) utc = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) local = utc != NULL ? g_date_time_to_local (utc) : NULL;

  return local != NULL ? g_date_time_format (local, "%Y-%m-%d %H:%M") : g_strdup ("?");
}

/* ISO 8601 in UTC, as run.json writes it. */
static char *
utc_time (gint64 usec)
{
  g_autoptr(GDateTime) seconds = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) t = seconds != NULL
                           ? g_date_time_add (seconds, usec % G_USEC_PER_SEC) : NULL;

  return t != NULL ? g_date_time_format_iso8601 (t) : g_strdup ("");
}

static char *
format_percent (double ratio)
{
  return g_strdup_printf ("%.2f %%", 100.0 * ratio);
}

/* "12.5 s", "3 min 20 s", "1 h 02 min". */
static char *
format_seconds (double seconds)
{
  if (seconds < 60.0)
    return g_strdup_printf ("%.1f s", seconds);
  if (seconds < 3600.0)
    return g_strdup_printf ("%d min %02d s", (int) (seconds / 60), (int) fmod (seconds, 60.0));
  return g_strdup_printf ("%d h %02d min", (int) (seconds / 3600),
                          (int) fmod (seconds / 60.0, 60.0));
}

/* The project and its runs */

/* final_metrics.accuracy, or NAN. */
static double
run_accuracy (GraftRun *run)
{
  json_object *metrics = graft_run_get_final_metrics (run);
  json_object *value = NULL;

  if (metrics == NULL || !json_object_object_get_ex (metrics, "accuracy", &value) ||
      !(json_object_is_type (value, json_type_double) ||
        json_object_is_type (value, json_type_int)))
    return NAN;
  return json_object_get_double (value);
}

static char *
status_text (GraftRun *run)
{
  const char *status = graft_run_status_to_string (graft_run_get_status (run));
  const char *reason = graft_run_get_reason (run);

  return reason != NULL ? g_strdup_printf ("%s (%s)", status, reason) : g_strdup (status);
}

/* graft-cli runs PROJECT */

static int
list_runs (GraftCliGlobals *globals,
           const char      *project)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GPtrArray) runs = graft_run_list (project, &problems, &error);
  int name_width = 4, status_width = 6, parent_width = 6;

  if (runs == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  for (guint i = 0; i < problems->len; i++)
    _graft_cli_error ("%s", ((GError *) g_ptr_array_index (problems, i))->message);

  if (globals->json)
    {
      json_object *root = json_object_new_object ();
      json_object *list = json_object_new_array ();
      json_object *problem_list = json_object_new_array ();

      for (guint i = 0; i < runs->len; i++)
        {
          GraftRun *run = g_ptr_array_index (runs, i);
          json_object *item = json_object_new_object ();
          g_autofree char *created = utc_time (graft_run_get_created (run));
          double accuracy = run_accuracy (run);

          json_object_object_add (item, "id", json_object_new_string (graft_run_get_id (run)));
          json_object_object_add (item, "name", json_object_new_string (graft_run_get_name (run)));
          json_object_object_add (item, "status", json_object_new_string (
                                    graft_run_status_to_string (graft_run_get_status (run))));
          json_object_object_add (item, "parent", new_string_or_null (graft_run_get_parent_id (run)));
          json_object_object_add (item, "created", json_object_new_string (created));
          json_object_object_add (item, "epochs", json_object_new_int64 (graft_run_get_n_epochs (run)));
          json_object_object_add (item, "accuracy",
                                  isnan (accuracy) ? NULL : json_object_new_double (accuracy));
          json_object_object_add (item, "device", new_string_or_null (graft_run_get_device (run)));
          json_object_array_add (list, item);
        }
      for (guint i = 0; i < problems->len; i++)
        json_object_array_add (problem_list, json_object_new_string (
                                 ((GError *) g_ptr_array_index (problems, i))->message));
      json_object_object_add (root, "runs", list);
      json_object_object_add (root, "problems", problem_list);
      _graft_cli_print_json (root, FALSE);
      json_object_put (root);
      return GRAFT_CLI_EXIT_OK;
    }

  if (runs->len == 0)
    {
      printf ("No %sruns in %s yet.\n", problems->len > 0 ? "readable " : "", project);
      return GRAFT_CLI_EXIT_OK;
    }
  for (guint i = 0; i < runs->len; i++)
    {
      GraftRun *run = g_ptr_array_index (runs, i);
      const char *parent = graft_run_get_parent_id (run);

      name_width = MAX (name_width, _graft_cli_text_width (graft_run_get_name (run)));
      status_width = MAX (status_width, _graft_cli_text_width (graft_run_status_to_string (
                                                      graft_run_get_status (run))));
      parent_width = MAX (parent_width, parent != NULL ? _graft_cli_text_width (parent) : 1);
    }
  name_width = MIN (name_width, 32);

  printf ("%-19s  ", "ID");
  _graft_cli_print_cell ("Name", name_width, FALSE);
  printf ("  %-*s  %-*s  %-16s  %6s  %8s  %s\n", status_width, "Status", parent_width, "Parent",
          "Created", "Epochs", "Accuracy", "Device");
  for (guint i = 0; i < runs->len; i++)
    {
      GraftRun *run = g_ptr_array_index (runs, i);
      g_autofree char *created = local_time (graft_run_get_created (run));
      double accuracy = run_accuracy (run);
      g_autofree char *accuracy_text = isnan (accuracy) ? g_strdup ("—") : format_percent (accuracy);
      const char *parent = graft_run_get_parent_id (run);
      const char *device = graft_run_get_device (run);

      _graft_cli_print_cell (graft_run_get_id (run), 19, FALSE);
      printf ("  ");
      _graft_cli_print_cell (graft_run_get_name (run), name_width, FALSE);
      printf ("  %-*s  ", status_width, graft_run_status_to_string (graft_run_get_status (run)));
      _graft_cli_print_cell (parent != NULL ? parent : "—", parent_width, FALSE);
      printf ("  %-16s  %6u  ", created, graft_run_get_n_epochs (run));
      _graft_cli_print_cell (accuracy_text, 8, TRUE);
      printf ("  %s\n", device != NULL ? device : "—");
    }
  printf ("\n%u run%s", runs->len, runs->len == 1 ? "" : "s");
  if (problems->len > 0)
    printf (", %u more that cannot be read (see above)", problems->len);
  printf (".\n");
  return GRAFT_CLI_EXIT_OK;
}

/* graft-cli runs PROJECT show ID */

/* The history's columns: the usual ones first, then any others in the order they come. */
typedef enum {
  FORMAT_WHOLE,
  FORMAT_LOSS,
  FORMAT_PERCENT,
  FORMAT_RATE,
  FORMAT_SECONDS,
  FORMAT_OTHER,
} Format;

typedef struct {
  const char *key;
  const char *title;
  Format      format;
} Column;

static const Column known_columns[] = {
  { "epoch", "Epoch", FORMAT_WHOLE },
  { "train_loss", "Train loss", FORMAT_LOSS },
  { "val_loss", "Val loss", FORMAT_LOSS },
  { "val_accuracy", "Val accuracy", FORMAT_PERCENT },
  { "learning_rate", "LR", FORMAT_RATE },
  { "seconds", "Seconds", FORMAT_SECONDS },
};

static char *
format_number (Format format,
               double value)
{
  switch (format)
    {
    case FORMAT_WHOLE: return g_strdup_printf ("%.0f", value);
    case FORMAT_LOSS: return g_strdup_printf ("%.4f", value);
    case FORMAT_PERCENT: return format_percent (value);
    case FORMAT_RATE: return g_strdup_printf ("%.3g", value);
    case FORMAT_SECONDS: return g_strdup_printf ("%.1f", value);
    case FORMAT_OTHER:
    default: return g_strdup_printf ("%.4g", value);
    }
}

static void
print_history (const GraftCliStyle *style,
               GraftRun    *run)
{
  json_object *history = graft_run_get_history (run);
  gsize n = json_object_array_length (history);
  g_autoptr(GPtrArray) columns = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GArray) widths = g_array_new (FALSE, FALSE, sizeof (int));

  printf ("\n");
  if (n == 0)
    {
      _graft_cli_print_heading (style, "History: no epoch finished yet");
      return;
    }
  for (guint k = 0; k < G_N_ELEMENTS (known_columns); k++)
    for (gsize i = 0; i < n; i++)
      if (json_object_object_get_ex (json_object_array_get_idx (history, i),
                                     known_columns[k].key, NULL))
        {
          Column *column = g_new (Column, 1);

          *column = known_columns[k];
          g_ptr_array_add (columns, column);
          break;
        }
  for (gsize i = 0; i < n; i++)
    {
      json_object_object_foreach (json_object_array_get_idx (history, i), key, value)
        {
          gboolean seen = FALSE;

          (void) value;
          for (guint c = 0; c < columns->len && !seen; c++)
            seen = g_str_equal (((Column *) g_ptr_array_index (columns, c))->key, key);
          if (!seen)
            {
              Column *column = g_new (Column, 1);

              /* The keys live as long as the run. */
              column->key = key;
              column->title = key;
              column->format = FORMAT_OTHER;
              g_ptr_array_add (columns, column);
            }
        }
    }

  _graft_cli_print_heading (style, "History (%" G_GSIZE_FORMAT " epoch%s):", n, n == 1 ? "" : "s");
  for (guint c = 0; c < columns->len; c++)
    {
      const Column *column = g_ptr_array_index (columns, c);
      int width = MAX (_graft_cli_text_width (column->title), 6);

      g_array_append_val (widths, width);
      printf ("  ");
      _graft_cli_print_cell (column->title, width, TRUE);
    }
  printf ("\n");
  for (gsize i = 0; i < n; i++)
    {
      json_object *epoch = json_object_array_get_idx (history, i);

      for (guint c = 0; c < columns->len; c++)
        {
          const Column *column = g_ptr_array_index (columns, c);
          json_object *value = NULL;
          g_autofree char *text = NULL;

          if (!json_object_object_get_ex (epoch, column->key, &value))
            text = g_strdup ("—");
          else
            text = format_number (column->format, json_object_get_double (value));
          printf ("  ");
          _graft_cli_print_cell (text, g_array_index (widths, int, c), TRUE);
        }
      printf ("\n");
    }
}

/* The class names: the metrics', else the project's when it has as many, else numbers. */
static char **
class_names (const char         *project,
             const GraftMetrics *metrics)
{
  g_autoptr(GraftProject) opened = NULL;
  char **names = g_new0 (char *, metrics->n_classes + 1);
  const char * const *from_project = NULL;

  if (metrics->class_names == NULL)
    {
      opened = graft_project_open (project, NULL);
      if (opened != NULL)
        {
          from_project = graft_project_get_classes (opened);
          if (from_project != NULL && g_strv_length ((char **) from_project) != metrics->n_classes)
            from_project = NULL;
        }
    }
  for (guint c = 0; c < metrics->n_classes; c++)
    if (metrics->class_names != NULL)
      names[c] = g_strdup (metrics->class_names[c]);
    else if (from_project != NULL)
      names[c] = g_strdup (from_project[c]);
    else
      names[c] = g_strdup_printf ("class %u", c);
  return names;
}

static void
print_slices (const GraftCliStyle               *style,
              const char                *title,
              gboolean                   pixels,
              const GraftQuartileSlices *slices)
{
  if (!slices->present)
    return;
  printf ("\n");
  _graft_cli_print_heading (style, "Accuracy by %s quartile:", title);
  printf ("  %-8s  %-24s  %6s  %8s\n", "Quartile", "Range", "Images", "Accuracy");
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    {
      g_autofree char *range = pixels
        ? g_strdup_printf ("%.0f – %.0f px", slices->edges[q], slices->edges[q + 1])
        : g_strdup_printf ("%.1f – %.1f", slices->edges[q], slices->edges[q + 1]);
      g_autofree char *accuracy = slices->count[q] > 0 ? format_percent (slices->accuracy[q])
                                                       : g_strdup ("—");

      printf ("  Q%-7u  ", q + 1);
      _graft_cli_print_cell (range, 24, FALSE);
      printf ("  %6u  ", slices->count[q]);
      _graft_cli_print_cell (accuracy, 8, TRUE);
      printf ("\n");
    }
}

static void
print_metrics (const GraftCliStyle        *style,
               const char         *project,
               const GraftMetrics *m)
{
  g_auto(GStrv) names = class_names (project, m);
  int name_width = 5, cell = 3;
  guint most = 0;

  printf ("\n");
  _graft_cli_print_heading (style, "Final metrics (%u test images, %u classes):", m->n_images, m->n_classes);
  printf ("  %-16s %6.2f %% (%u of %u)\n", "Accuracy", 100.0 * m->accuracy, m->n_correct,
          m->n_images);
  printf ("  Top-%-12u %6.2f %% (%u of %u)\n", m->top_k, 100.0 * m->top_k_accuracy,
          m->top_k_correct, m->n_images);
  printf ("  %-16s %8.4f  (precision %.4f, recall %.4f)\n", "Macro F1", m->macro.f1,
          m->macro.precision, m->macro.recall);
  printf ("  %-16s %8.4f  (precision %.4f, recall %.4f)\n", "Weighted F1", m->weighted.f1,
          m->weighted.precision, m->weighted.recall);
  printf ("  %-16s %8.4f  (%s)\n", "Mean loss", m->mean_loss,
          m->losses_given ? "the training loss" : "cross-entropy");
  printf ("  %-16s %8.4f  (MCE %.4f, %u bins)\n", "ECE", m->ece, m->mce, m->n_bins);

  for (guint c = 0; c < m->n_classes; c++)
    name_width = MAX (name_width, _graft_cli_text_width (names[c]));
  name_width = MIN (name_width, 24);
  printf ("\n");
  _graft_cli_print_heading (style, "Per class:");
  printf ("  ");
  _graft_cli_print_cell ("Class", name_width, FALSE);
  printf ("  %7s  %9s  %7s  %7s\n", "Support", "Precision", "Recall", "F1");
  for (guint c = 0; c < m->n_classes; c++)
    {
      const GraftClassMetrics *k = &m->per_class[c];

      printf ("  ");
      _graft_cli_print_cell (names[c], name_width, FALSE);
      printf ("  %7u  %9.4f  %7.4f  %7.4f\n", k->support, k->precision, k->recall, k->f1);
    }

  /* Columns as wide as the largest count, and the names cut to at most 10 characters. */
  for (guint i = 0; i < m->n_classes * m->n_classes; i++)
    most = MAX (most, m->confusion[i]);
  {
    char digits[16];

    cell = MAX (cell, g_snprintf (digits, sizeof digits, "%u", most));
  }
  for (guint c = 0; c < m->n_classes; c++)
    cell = MAX (cell, MIN (_graft_cli_text_width (names[c]), 10));
  printf ("\n");
  _graft_cli_print_heading (style, "Confusion matrix (rows: true class, columns: predicted):");
  printf ("  %*s", name_width, "");
  for (guint p = 0; p < m->n_classes; p++)
    {
      printf ("  ");
      _graft_cli_print_cell (names[p], cell, TRUE);
    }
  printf ("\n");
  for (guint t = 0; t < m->n_classes; t++)
    {
      printf ("  ");
      _graft_cli_print_cell (names[t], name_width, FALSE);
      for (guint p = 0; p < m->n_classes; p++)
        printf ("  %*u", cell, graft_metrics_get_confusion (m, t, p));
      printf ("\n");
    }

  print_slices (style, "brightness", FALSE, &m->brightness);
  print_slices (style, "size", TRUE, &m->size);
}

static void
print_timing (GraftRun *run)
{
  json_object *timing = graft_run_get_timing (run);
  const char *sep = "";

  if (json_object_object_length (timing) == 0)
    return;
  printf ("  %-9s ", "Timing:");
  {
    json_object_object_foreach (timing, key, value)
      {
        g_autofree char *name = g_strdup (key);
        g_autofree char *seconds = format_seconds (json_object_get_double (value));

        if (g_str_has_suffix (name, "_seconds"))
          name[strlen (name) - strlen ("_seconds")] = '\0';
        printf ("%s%s %s", sep, name, seconds);
        sep = ", ";
      }
  }
  printf ("\n");
}

/* The whole run.json, as the file holds it. */
static json_object *
read_run_file (GraftRun  *run,
               GError   **error)
{
  g_autofree char *data = NULL;
  json_object *root;

  if (!g_file_get_contents (graft_run_get_file (run), &data, NULL, error))
    return NULL;
  root = json_tokener_parse (data);
  if (root == NULL)
    g_set_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID,
                 "%s: not valid JSON any more; it changed while it was read",
                 graft_run_get_file (run));
  return root;
}

static int
show_run (GraftCliGlobals *globals,
          const char      *project,
          const char      *id)
{
  g_autoptr(GraftRun) run = _graft_cli_open_run (project, id);
  g_autoptr(GraftMetrics) metrics = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *status = NULL;
  g_autofree char *created = NULL;
  json_object *final_metrics;
  GraftCliStyle style;

  if (run == NULL)
    return GRAFT_CLI_EXIT_FAILURE;

  if (globals->json)
    {
      json_object *root = read_run_file (run, &error);

      if (root == NULL)
        {
          _graft_cli_error ("%s", error->message);
          return GRAFT_CLI_EXIT_FAILURE;
        }
      /* One line, as run.json is: thousands of predictions would take a line each. */
      _graft_cli_print_json (root, TRUE);
      json_object_put (root);
      return GRAFT_CLI_EXIT_OK;
    }

  _graft_cli_style_init (&style);
  status = status_text (run);
  created = local_time (graft_run_get_created (run));
  _graft_cli_print_heading (&style, "Run %s “%s”", graft_run_get_id (run), graft_run_get_name (run));
  printf ("  %-9s %s\n", "Status:", status);
  if (graft_run_get_parent_id (run) != NULL)
    printf ("  %-9s %s\n", "Parent:", graft_run_get_parent_id (run));
  printf ("  %-9s %s\n", "Device:", graft_run_get_device (run) != NULL ? graft_run_get_device (run) : "—");
  printf ("  %-9s %s\n", "Created:", created);
  if (graft_run_get_finished (run) != 0)
    {
      g_autofree char *finished = local_time (graft_run_get_finished (run));

      printf ("  %-9s %s\n", "Finished:", finished);
    }
  print_timing (run);
  printf ("  %-9s %s\n", "Folder:", graft_run_get_dir (run));

  print_history (&style, run);

  final_metrics = graft_run_get_final_metrics (run);
  if (final_metrics == NULL)
    {
      printf ("\n");
      _graft_cli_print_heading (&style, "Final metrics: none (the run has not finished)");
    }
  else
    {
      metrics = graft_metrics_from_json (final_metrics, &error);
      if (metrics != NULL)
        print_metrics (&style, project, metrics);
    }

  printf ("\n");
  _graft_cli_print_heading (&style, "Configuration:");
  {
    g_auto(GStrv) lines = g_strsplit (json_object_to_json_string_ext (
                                        graft_run_get_config (run),
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                        JSON_C_TO_STRING_NOSLASHESCAPE), "\n", -1);

    for (guint i = 0; lines[i] != NULL; i++)
      printf ("  %s\n", lines[i]);
  }

  if (final_metrics != NULL && metrics == NULL)
    {
      _graft_cli_error ("%s: the field “final_metrics” cannot be read: %s",
                        graft_run_get_file (run), error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  return GRAFT_CLI_EXIT_OK;
}

/* graft-cli runs PROJECT rename ID NAME, delete ID */

static int
rename_run (GraftCliGlobals *globals,
            const char      *project,
            const char      *id,
            const char      *name)
{
  g_autoptr(GraftRun) run = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *old = NULL;

  if (*name == '\0')
    {
      _graft_cli_error ("the new name of run %s is empty; give a name", id);
      return GRAFT_CLI_EXIT_USAGE;
    }
  run = _graft_cli_open_run (project, id);
  if (run == NULL)
    return GRAFT_CLI_EXIT_FAILURE;
  old = g_strdup (graft_run_get_name (run));
  if (!graft_run_rename (run, name, &error))
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (globals->json)
    {
      json_object *root = json_object_new_object ();

      json_object_object_add (root, "id", json_object_new_string (graft_run_get_id (run)));
      json_object_object_add (root, "name", json_object_new_string (graft_run_get_name (run)));
      _graft_cli_print_json (root, FALSE);
      json_object_put (root);
    }
  else
    printf ("Renamed run %s: “%s” → “%s”.\n", graft_run_get_id (run), old, name);
  return GRAFT_CLI_EXIT_OK;
}

static int
delete_run (GraftCliGlobals *globals,
            const char      *project,
            const char      *id)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) run = NULL;
  g_autofree char *name = NULL;
  g_autofree char *dir = NULL;

  /* Only for the message: a damaged run can be deleted too. */
  run = graft_run_open (project, id, NULL);
  if (run != NULL)
    name = g_strdup (graft_run_get_name (run));
  if (!graft_run_delete (project, id, &error))
    {
      _graft_cli_error ("run %s: %s", id, error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (globals->json)
    {
      json_object *root = json_object_new_object ();

      json_object_object_add (root, "deleted", json_object_new_string (id));
      _graft_cli_print_json (root, FALSE);
      json_object_put (root);
      return GRAFT_CLI_EXIT_OK;
    }
  dir = g_build_filename (project, GRAFT_RUNS_FOLDER, id, NULL);
  if (name != NULL)
    printf ("Deleted run %s “%s” and its folder %s.\n", id, name, dir);
  else
    printf ("Deleted run %s and its folder %s.\n", id, dir);
  return GRAFT_CLI_EXIT_OK;
}

#define RUNS_USAGE "usage: graft-cli runs PROJECT [show ID | rename ID NAME | delete ID] [--json]"

int
_graft_cli_runs (GraftCliGlobals  *globals,
                 int               argc,
                 char            **argv)
{
  const char *project, *action;

  if (!_graft_cli_parse (globals, &argc, &argv, NULL,
                         "runs PROJECT [show ID | rename ID NAME | delete ID]",
                         "The runs saved in the project folder PROJECT.\n"
                         "\n"
                         "Without more arguments: every run, oldest first, with its status,\n"
                         "the run it continues, when it was created, its epochs, its test\n"
                         "accuracy and its device. A run whose run.json cannot be read is\n"
                         "reported on stderr, naming the file and the field; the others are\n"
                         "still listed.\n"
                         "show ID: one run in full: its history per epoch, its final metrics\n"
                         "  (per class, confusion matrix, slices) and its configuration; with\n"
                         "  --json the whole run.json.\n"
                         "rename ID NAME: give the run another name (its id stays).\n"
                         "delete ID: remove the run's folder and everything in it.\n"
                         "\n"
                         "Exit status: 0 done, 1 a project or run that cannot be read or\n"
                         "changed, 2 usage."))
    return GRAFT_CLI_EXIT_USAGE;

  action = argc >= 3 ? argv[2] : NULL;
  if (argc < 2 ||
      (action != NULL && !((g_str_equal (action, "show") && argc == 4) ||
                           (g_str_equal (action, "rename") && argc == 5) ||
                           (g_str_equal (action, "delete") && argc == 4))))
    {
      _graft_cli_error (RUNS_USAGE);
      return GRAFT_CLI_EXIT_USAGE;
    }
  project = argv[1];
  if (!_graft_cli_check_project (project))
    return GRAFT_CLI_EXIT_FAILURE;

  if (action == NULL)
    return list_runs (globals, project);
  if (g_str_equal (action, "show"))
    return show_run (globals, project, argv[3]);
  if (g_str_equal (action, "rename"))
    return rename_run (globals, project, argv[3], argv[4]);
  return delete_run (globals, project, argv[3]);
}
