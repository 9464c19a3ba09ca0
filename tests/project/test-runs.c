/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Runs in a project folder: created with unique sortable ids, listed oldest first,
 * renamed, deleted (only run folders), the history kept epoch by epoch, damaged run.json
 * files reported by name while the other runs load, saves that never leave half a file,
 * and two runs compared by configuration, metrics, classes and images. */

#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  char *dir;
} Fixture;

static void
fixture_setup (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  (void) data;
  fixture->dir = g_dir_make_tmp ("graft-runs-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *fixture,
                  gconstpointer  data)
{
  (void) data;
  graft_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static json_object *
parse (const char *text)
{
  json_object *object = json_tokener_parse (text);

  g_assert_nonnull (object);
  return object;
}

static GraftRun *
create_run (const char  *dir,
            const char  *name,
            const char  *config_text)
{
  g_autoptr(GError) error = NULL;
  json_object *config = config_text != NULL ? parse (config_text) : NULL;
  GraftRun *run = graft_run_create (dir, name, NULL, config, &error);

  g_assert_no_error (error);
  g_assert_nonnull (run);
  json_object_put (config);
  return run;
}

static char *
replace_text (const char *text,
              const char *from,
              const char *to)
{
  GString *result = g_string_new (text);

  g_assert_cmpuint (g_string_replace (result, from, to, 0), ==, 1);
  return g_string_free (result, FALSE);
}

/* The names in the run folder other than run.json and the model files. */
static char *
stray_files (GraftRun *run)
{
  g_autoptr(GString) names = g_string_new (NULL);
  GDir *dir = g_dir_open (graft_run_get_dir (run), 0, NULL);
  const char *entry;

  g_assert_nonnull (dir);
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (!g_str_equal (entry, GRAFT_RUN_FILE) && !g_str_equal (entry, GRAFT_RUN_MODEL_FILE))
      g_string_append_printf (names, "%s ", entry);
  g_dir_close (dir);
  return g_string_free (g_steal_pointer (&names), FALSE);
}

static void
test_create_list_rename_delete (Fixture       *fixture,
                                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GraftRun) reopened = NULL;
  g_auto(GStrv) ids = g_new0 (char *, 4);
  g_autofree char *model = NULL;
  g_autofree char *junk = NULL;
  g_autofree char *junk_file = NULL;
  g_autofree char *outside = NULL;
  const char *names[3] = { "scratch", "head only", "fine-tune all" };

  (void) data;
  /* No runs/ yet: an empty list, not an error. */
  runs = graft_run_list (fixture->dir, &problems, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 0);
  g_assert_cmpuint (problems->len, ==, 0);
  g_clear_pointer (&runs, g_ptr_array_unref);
  g_clear_pointer (&problems, g_ptr_array_unref);

  for (guint i = 0; i < 3; i++)
    {
      g_autoptr(GraftRun) run = create_run (fixture->dir, names[i], "{\"epochs\": 3}");

      ids[i] = g_strdup (graft_run_get_id (run));
      g_assert_true (g_file_test (graft_run_get_file (run), G_FILE_TEST_IS_REGULAR));
      g_assert_cmpint (graft_run_get_status (run), ==, GRAFT_RUN_STATUS_RUNNING);
      g_assert_cmpstr (graft_run_get_name (run), ==, names[i]);
      if (i > 0)
        g_assert_cmpstr (ids[i - 1], <, ids[i]);  /* unique, and sorted as created */
    }

  runs = graft_run_list (fixture->dir, &problems, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (problems->len, ==, 0);
  g_assert_cmpuint (runs->len, ==, 3);
  for (guint i = 0; i < 3; i++)
    {
      g_assert_cmpstr (graft_run_get_id (g_ptr_array_index (runs, i)), ==, ids[i]);
      g_assert_cmpstr (graft_run_get_name (g_ptr_array_index (runs, i)), ==, names[i]);
    }
  g_clear_pointer (&runs, g_ptr_array_unref);
  g_clear_pointer (&problems, g_ptr_array_unref);

  /* Renaming changes the name, not the folder. */
  reopened = graft_run_open (fixture->dir, ids[1], &error);
  g_assert_no_error (error);
  g_assert_true (graft_run_rename (reopened, "head only, lr 0.01", &error));
  g_assert_no_error (error);
  g_clear_pointer (&reopened, graft_run_free);
  reopened = graft_run_open (fixture->dir, ids[1], &error);
  g_assert_no_error (error);
  g_assert_cmpstr (graft_run_get_name (reopened), ==, "head only, lr 0.01");
  g_assert_cmpstr (graft_run_get_id (reopened), ==, ids[1]);
  model = graft_run_get_model_path (reopened);
  g_assert_true (g_str_has_prefix (model, graft_run_get_dir (reopened)));
  g_assert_true (g_file_set_contents (model, "weights", -1, NULL));

  /* Deleting removes the folder with the model in it. */
  g_assert_true (graft_run_delete (fixture->dir, ids[1], &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (graft_run_get_dir (reopened), G_FILE_TEST_EXISTS));
  g_assert_false (graft_run_delete (fixture->dir, ids[1], &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  g_clear_error (&error);

  /* Nothing but a run folder directly in runs/ is deleted. */
  outside = g_build_filename (fixture->dir, GRAFT_PROJECT_FILE, NULL);
  g_assert_true (g_file_set_contents (outside, "{}", -1, NULL));
  g_assert_false (graft_run_delete (fixture->dir, "..", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  g_assert_false (graft_run_delete (fixture->dir, "../..", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_clear_error (&error);
  junk = g_build_filename (fixture->dir, GRAFT_RUNS_FOLDER, "notes", NULL);
  g_assert_cmpint (g_mkdir (junk, 0755), ==, 0);
  junk_file = g_build_filename (junk, "todo.txt", NULL);
  g_assert_true (g_file_set_contents (junk_file, "keep me", -1, NULL));
  g_assert_false (graft_run_delete (fixture->dir, "notes", &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, junk));
  g_clear_error (&error);
  g_assert_true (g_file_test (junk_file, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (outside, G_FILE_TEST_EXISTS));

  /* The others are still there, in order; the folder without run.json is a problem. */
  runs = graft_run_list (fixture->dir, &problems, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 2);
  g_assert_cmpstr (graft_run_get_id (g_ptr_array_index (runs, 0)), ==, ids[0]);
  g_assert_cmpstr (graft_run_get_id (g_ptr_array_index (runs, 1)), ==, ids[2]);
  g_assert_cmpuint (problems->len, ==, 1);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (problems, 0))->message, junk));
}

static void
test_history (Fixture       *fixture,
              gconstpointer  data)
{
  const char *config_text =
    "{\"model\": \"resnet18\", \"optimizer\": {\"name\": \"sgd\", \"lr\": 0.01}, "
    "\"freeze\": [true, true, false], \"note\": null}";
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) run = NULL;
  g_autoptr(GraftRun) reopened = NULL;
  g_autoptr(GraftRun) child = NULL;
  g_autoptr(GraftMetrics) metrics = NULL;
  g_autoptr(GraftMetrics) read_back = NULL;
  json_object *config = parse (config_text);
  json_object *epoch, *history, *timing, *value;
  json_object *final;
  const int labels[2] = { 0, 1 };
  const float probs[4] = { 0.9f, 0.1f, 0.3f, 0.7f };
  GraftMetricsInput input = { .n_images = 2, .n_classes = 2, .labels = labels, .probs = probs };

  (void) data;
  run = create_run (fixture->dir, "fine-tune", config_text);
  graft_run_set_device (run, "CPU (OpenBLAS)");
  for (guint e = 1; e <= 3; e++)
    {
      epoch = graft_run_epoch_new (e, 1.0 / e, 1.5 / e, 0.5 + 0.1 * e, 0.01, 10.0 + e);
      json_object_object_add (epoch, "images_per_second", json_object_new_double (100.0 * e));
      g_assert_true (graft_run_append_epoch (run, epoch, &error));
      g_assert_no_error (error);
      json_object_put (epoch);
    }

  /* Not an object of numbers: refused, naming the field, nothing changed. */
  epoch = parse ("{\"epoch\": 4, \"train_loss\": \"low\"}");
  g_assert_false (graft_run_append_epoch (run, epoch, &error));
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "history[3].train_loss"));
  g_clear_error (&error);
  json_object_put (epoch);
  epoch = parse ("{\"train_loss\": 0.1}");
  g_assert_false (graft_run_append_epoch (run, epoch, &error));
  g_assert_nonnull (strstr (error->message, "history[3].epoch"));
  g_clear_error (&error);
  json_object_put (epoch);
  g_assert_cmpuint (graft_run_get_n_epochs (run), ==, 3);

  reopened = graft_run_open (fixture->dir, graft_run_get_id (run), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_run_get_n_epochs (reopened), ==, 3);
  history = graft_run_get_history (reopened);
  epoch = json_object_array_get_idx (history, 1);
  g_assert_cmpint (json_object_get_int (json_object_object_get (epoch, "epoch")), ==, 2);
  g_assert_cmpfloat (json_object_get_double (json_object_object_get (epoch, "train_loss")), ==, 0.5);
  g_assert_cmpfloat (json_object_get_double (json_object_object_get (epoch, "val_accuracy")), ==, 0.7);
  g_assert_cmpfloat (json_object_get_double (json_object_object_get (epoch, "images_per_second")), ==, 200.0);
  timing = graft_run_get_timing (reopened);
  g_assert_cmpfloat (json_object_get_double (json_object_object_get (timing, "train_seconds")), ==, 36.0);
  g_assert_cmpstr (graft_run_get_device (reopened), ==, "CPU (OpenBLAS)");
  /* The configuration comes back as given, nulls and all. */
  g_assert_true (json_object_equal (graft_run_get_config (reopened), config));
  g_assert_true (json_object_object_get_ex (graft_run_get_config (reopened), "note", &value));
  g_assert_null (value);
  g_clear_pointer (&reopened, graft_run_free);

  /* Resumed from the checkpoint of epoch 1: epoch 2 replaces the old 2 and 3. */
  epoch = graft_run_epoch_new (2, 0.4, NAN, NAN, 0.005, 5.0);
  g_assert_true (graft_run_append_epoch (run, epoch, &error));
  g_assert_no_error (error);
  json_object_put (epoch);
  reopened = graft_run_open (fixture->dir, graft_run_get_id (run), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_run_get_n_epochs (reopened), ==, 2);
  epoch = json_object_array_get_idx (graft_run_get_history (reopened), 1);
  g_assert_cmpfloat (json_object_get_double (json_object_object_get (epoch, "train_loss")), ==, 0.4);
  g_assert_false (json_object_object_get_ex (epoch, "val_loss", NULL));
  g_clear_pointer (&reopened, graft_run_free);

  /* Finished with real metrics: they read back as the same GraftMetrics. */
  metrics = graft_metrics_compute (&input, NULL, &error);
  g_assert_no_error (error);
  final = graft_metrics_to_json (metrics, GRAFT_METRICS_JSON_DEFAULT);
  g_assert_true (graft_run_set_predictions_file (run, "predictions.json"));
  g_assert_false (graft_run_set_predictions_file (run, "../other/predictions.json"));
  g_assert_true (graft_run_finish (run, final, &error));
  g_assert_no_error (error);
  json_object_put (final);
  reopened = graft_run_open (fixture->dir, graft_run_get_id (run), &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_run_get_status (reopened), ==, GRAFT_RUN_STATUS_FINISHED);
  g_assert_cmpint (graft_run_get_finished (reopened), >=, graft_run_get_created (reopened));
  g_assert_cmpint (graft_run_get_created (reopened), ==, graft_run_get_created (run));
  g_assert_cmpstr (graft_run_get_predictions_file (reopened), ==, "predictions.json");
  g_assert_true (json_object_object_get_ex (graft_run_get_timing (reopened), "wall_seconds", NULL));
  read_back = graft_metrics_from_json (graft_run_get_final_metrics (reopened), &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (read_back->accuracy, ==, 1.0);
  g_assert_cmpuint (read_back->n_predictions, ==, 2);

  /* A continued run names its parent; a cancelled one says why. */
  child = graft_run_create (fixture->dir, "more epochs", graft_run_get_id (run), config, &error);
  g_assert_no_error (error);
  g_assert_true (graft_run_stop (child, GRAFT_RUN_STATUS_CANCELLED, "stopped by the user", &error));
  g_assert_no_error (error);
  g_clear_pointer (&reopened, graft_run_free);
  reopened = graft_run_open (fixture->dir, graft_run_get_id (child), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (graft_run_get_parent_id (reopened), ==, graft_run_get_id (run));
  g_assert_cmpint (graft_run_get_status (reopened), ==, GRAFT_RUN_STATUS_CANCELLED);
  g_assert_cmpstr (graft_run_get_reason (reopened), ==, "stopped by the user");
  g_assert_null (graft_run_get_final_metrics (reopened));
  json_object_put (config);
}

static void
test_damaged (Fixture       *fixture,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) runs = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GraftRun) good = NULL;
  g_autoptr(GraftRun) cut = NULL;
  g_autoptr(GraftRun) wrong = NULL;
  g_autoptr(GraftRun) newer = NULL;
  g_autofree char *text = NULL;
  g_autofree char *changed = NULL;
  gboolean seen_cut = FALSE, seen_wrong = FALSE, seen_newer = FALSE;
  gsize length;

  (void) data;
  good = create_run (fixture->dir, "good", NULL);
  cut = create_run (fixture->dir, "cut", NULL);
  wrong = create_run (fixture->dir, "wrong", NULL);
  newer = create_run (fixture->dir, "newer", NULL);

  g_assert_true (g_file_get_contents (graft_run_get_file (cut), &text, &length, NULL));
  g_assert_true (g_file_set_contents (graft_run_get_file (cut), text, (gssize) length / 2, NULL));
  g_clear_pointer (&text, g_free);
  g_assert_true (g_file_get_contents (graft_run_get_file (wrong), &text, NULL, NULL));
  changed = replace_text (text, "\"running\"", "\"paused forever\"");
  g_assert_true (g_file_set_contents (graft_run_get_file (wrong), changed, -1, NULL));
  g_clear_pointer (&text, g_free);
  g_clear_pointer (&changed, g_free);
  g_assert_true (g_file_get_contents (graft_run_get_file (newer), &text, NULL, NULL));
  changed = replace_text (text, "\"schema\":1", "\"schema\":99");
  g_assert_true (g_file_set_contents (graft_run_get_file (newer), changed, -1, NULL));

  runs = graft_run_list (fixture->dir, &problems, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (runs->len, ==, 1);
  g_assert_cmpstr (graft_run_get_id (g_ptr_array_index (runs, 0)), ==, graft_run_get_id (good));
  g_assert_cmpuint (problems->len, ==, 3);
  for (guint i = 0; i < problems->len; i++)
    {
      GError *problem = g_ptr_array_index (problems, i);

      g_test_message ("%s", problem->message);
      if (strstr (problem->message, graft_run_get_file (cut)) != NULL)
        {
          g_assert_error (problem, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
          g_assert_nonnull (strstr (problem->message, "not valid JSON"));
          seen_cut = TRUE;
        }
      else if (strstr (problem->message, graft_run_get_file (wrong)) != NULL)
        {
          g_assert_error (problem, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_INVALID);
          g_assert_nonnull (strstr (problem->message, "“status”"));
          g_assert_nonnull (strstr (problem->message, "paused forever"));
          seen_wrong = TRUE;
        }
      else if (strstr (problem->message, graft_run_get_file (newer)) != NULL)
        {
          g_assert_error (problem, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_VERSION);
          seen_newer = TRUE;
        }
    }
  g_assert_true (seen_cut && seen_wrong && seen_newer);
}

static void
test_atomic_save (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftRun) run = NULL;
  g_autoptr(GraftRun) reopened = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autofree char *stray = NULL;
  struct rlimit saved, limit;
  void (*old_handler) (int);
  json_object *epoch;
  gboolean ok;

  (void) data;
  run = create_run (fixture->dir, "atomic", "{\"epochs\": 10}");
  for (guint e = 1; e <= 5; e++)
    {
      epoch = graft_run_epoch_new (e, 0.5, 0.6, 0.7, 0.01, 1.0);
      g_assert_true (graft_run_append_epoch (run, epoch, &error));
      g_assert_no_error (error);
      json_object_put (epoch);
    }
  g_assert_true (graft_run_rename (run, "atomic, renamed", &error));
  g_assert_no_error (error);
  stray = stray_files (run);
  g_assert_cmpstr (stray, ==, "");  /* no temporary file is left after saves */
  g_clear_pointer (&stray, g_free);
  g_assert_true (g_file_get_contents (graft_run_get_file (run), &before, NULL, NULL));

  /* A write that fails half-way (the file size limit bites even for root): the old
   * run.json stays whole and the run in memory unchanged. */
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  limit = saved;
  limit.rlim_cur = 64;
  old_handler = signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &limit), ==, 0);
  epoch = graft_run_epoch_new (6, 0.4, 0.5, 0.8, 0.01, 1.0);
  ok = graft_run_append_epoch (run, epoch, &error);
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &saved), ==, 0);
  signal (SIGXFSZ, old_handler);
  g_assert_false (ok);
  g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE);
  g_assert_nonnull (strstr (error->message, graft_run_get_file (run)));
  g_clear_error (&error);
  g_assert_cmpuint (graft_run_get_n_epochs (run), ==, 5);
  g_assert_true (g_file_get_contents (graft_run_get_file (run), &after, NULL, NULL));
  g_assert_cmpstr (after, ==, before);
  g_clear_pointer (&after, g_free);
  stray = stray_files (run);
  g_assert_cmpstr (stray, ==, "");
  g_clear_pointer (&stray, g_free);

  /* A folder that cannot be written: the same (permissions do not bind root). */
  if (geteuid () != 0)
    {
      g_assert_cmpint (g_chmod (graft_run_get_dir (run), 0555), ==, 0);
      ok = graft_run_rename (run, "never saved", &error);
      g_assert_cmpint (g_chmod (graft_run_get_dir (run), 0755), ==, 0);
      g_assert_false (ok);
      g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_WRITE);
      g_clear_error (&error);
      g_assert_cmpstr (graft_run_get_name (run), ==, "atomic, renamed");
      g_assert_true (g_file_get_contents (graft_run_get_file (run), &after, NULL, NULL));
      g_assert_cmpstr (after, ==, before);
      g_clear_pointer (&after, g_free);
    }
  else
    g_test_message ("Running as root: the read-only folder case is left out");

  /* The epoch that failed goes in once the disk takes it again. */
  g_assert_true (graft_run_append_epoch (run, epoch, &error));
  g_assert_no_error (error);
  json_object_put (epoch);
  reopened = graft_run_open (fixture->dir, graft_run_get_id (run), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_run_get_n_epochs (reopened), ==, 6);
  g_assert_cmpstr (graft_run_get_name (reopened), ==, "atomic, renamed");
}

/* Comparison. Six images of three classes, labels 0 0 1 1 2 2:
 *   A predicts 0 1 1 1 2 0: right on img0 img2 img3 img4 (accuracy 4/6);
 *   B predicts 0 0 1 2 2 2: right on img0 img1 img2 img4 img5 (accuracy 5/6).
 * Only A right: img3; only B right: img1, img5.
 * Per class (TP / predicted, TP / support):
 *   A: class 0 P 1/2 R 1/2, class 1 P 2/3 R 1, class 2 P 1/1 R 1/2;
 *   B: class 0 P 2/2 R 1,   class 1 P 1/1 R 1/2, class 2 P 2/3 R 1. */

static const int compare_labels[6] = { 0, 0, 1, 1, 2, 2 };
static const int predicted_a[6] = { 0, 1, 1, 1, 2, 0 };
static const int predicted_b[6] = { 0, 0, 1, 2, 2, 2 };
static const char *const image_names[6] = { "img0", "img1", "img2", "img3", "img4", "img5" };
static const char *const class_names[3] = { "cat", "dog", "fox" };

/* The metrics of @predicted, the images in the order of @order. */
static GraftMetrics *
make_metrics (const int   *predicted,
              const guint *order,
              gboolean     named)
{
  g_autoptr(GError) error = NULL;
  float probs[6 * 3];
  int labels[6];
  const char *names[6];
  GraftMetricsInput input = { .n_images = 6, .n_classes = 3, .labels = labels, .probs = probs,
                              .names = named ? names : NULL, .class_names = class_names };
  GraftMetrics *metrics;

  for (guint i = 0; i < 6; i++)
    {
      guint k = order[i];

      labels[i] = compare_labels[k];
      names[i] = image_names[k];
      for (guint c = 0; c < 3; c++)
        probs[i * 3 + c] = (int) c == predicted[k] ? 0.8f : 0.1f;
    }
  metrics = graft_metrics_compute (&input, NULL, &error);
  g_assert_no_error (error);
  return metrics;
}

static const GraftMetricDelta *
find_delta (const GraftRunComparison *comparison,
            const char               *path)
{
  for (guint i = 0; i < comparison->metrics->len; i++)
    {
      const GraftMetricDelta *delta = g_ptr_array_index (comparison->metrics, i);

      if (g_str_equal (delta->path, path))
        return delta;
    }
  return NULL;
}

static void
assert_images (GPtrArray          *images,
               const char * const *names)
{
  g_assert_cmpuint (images->len, ==, g_strv_length ((char **) names));
  for (guint i = 0; i < images->len; i++)
    {
      GraftImageChange *change = g_ptr_array_index (images, i);

      g_assert_cmpstr (change->name, ==, names[i]);
    }
}

static void
test_compare (Fixture       *fixture,
              gconstpointer  data)
{
  const guint in_order[6] = { 0, 1, 2, 3, 4, 5 };
  const guint shuffled[6] = { 5, 3, 1, 0, 4, 2 };
  const char *const only_a[] = { "img3", NULL };
  const char *const only_b[] = { "img1", "img5", NULL };
  const char *const only_b_reversed[] = { "img5", "img1", NULL };  /* B's order */
  const struct { const char *path; GraftConfigChangeKind kind; } want_config[] = {
    { "augment", GRAFT_CONFIG_ONLY_B },
    { "freeze[1]", GRAFT_CONFIG_CHANGED },
    { "optimizer.lr", GRAFT_CONFIG_CHANGED },
    { "optimizer.momentum", GRAFT_CONFIG_ONLY_B },
    { "schedule", GRAFT_CONFIG_CHANGED },
    { "seed", GRAFT_CONFIG_ONLY_A },
  };
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftMetrics) ma = make_metrics (predicted_a, in_order, TRUE);
  g_autoptr(GraftMetrics) mb = make_metrics (predicted_b, shuffled, TRUE);
  g_autoptr(GraftRunComparison) comparison = NULL;
  g_autoptr(GraftRun) run_a = NULL;
  g_autoptr(GraftRun) run_b = NULL;
  g_autoptr(GraftRun) open_a = NULL;
  g_autoptr(GraftRun) open_b = NULL;
  const GraftMetricDelta *delta;
  json_object *json_a, *json_b, *result, *list;

  (void) data;
  run_a = create_run (fixture->dir, "A",
                      "{\"epochs\": 30, \"optimizer\": {\"name\": \"sgd\", \"lr\": 0.1}, "
                      "\"freeze\": [true, false], \"seed\": 1, \"schedule\": [1, 2]}");
  run_b = create_run (fixture->dir, "B",
                      "{\"epochs\": 30.0, \"optimizer\": {\"name\": \"sgd\", \"lr\": 0.01, "
                      "\"momentum\": 0.9}, \"freeze\": [true, true], \"augment\": {}, "
                      "\"schedule\": [1, 2, 3]}");

  /* Not finished: the configurations still compare. */
  comparison = graft_run_compare (run_a, run_b);
  g_assert_cmpuint (comparison->config->len, ==, G_N_ELEMENTS (want_config));
  g_assert_false (comparison->classes_compared);
  g_assert_false (comparison->images_compared);
  g_assert_nonnull (comparison->images_note);
  g_clear_pointer (&comparison, graft_run_comparison_free);

  json_a = graft_metrics_to_json (ma, GRAFT_METRICS_JSON_DEFAULT);
  json_b = graft_metrics_to_json (mb, GRAFT_METRICS_JSON_DEFAULT);
  g_assert_true (graft_run_finish (run_a, json_a, &error));
  g_assert_true (graft_run_finish (run_b, json_b, &error));
  g_assert_no_error (error);
  open_a = graft_run_open (fixture->dir, graft_run_get_id (run_a), &error);
  open_b = graft_run_open (fixture->dir, graft_run_get_id (run_b), &error);
  g_assert_no_error (error);
  comparison = graft_run_compare (open_a, open_b);

  /* Configuration: sorted dotted paths; 30 and 30.0 are the same number. */
  for (guint i = 0; i < G_N_ELEMENTS (want_config); i++)
    {
      GraftConfigChange *change = g_ptr_array_index (comparison->config, i);

      g_assert_cmpstr (change->path, ==, want_config[i].path);
      g_assert_cmpint (change->kind, ==, want_config[i].kind);
    }
  {
    GraftConfigChange *lr = g_ptr_array_index (comparison->config, 2);

    g_assert_cmpfloat (json_object_get_double (lr->a), ==, 0.1);
    g_assert_cmpfloat (json_object_get_double (lr->b), ==, 0.01);
  }

  /* Overall: B − A. */
  delta = find_delta (comparison, "accuracy");
  g_assert_nonnull (delta);
  g_assert_cmpfloat_with_epsilon (delta->a, 4.0 / 6.0, 1e-12);
  g_assert_cmpfloat_with_epsilon (delta->delta, 1.0 / 6.0, 1e-12);
  delta = find_delta (comparison, "n_correct");
  g_assert_nonnull (delta);
  g_assert_cmpfloat (delta->delta, ==, 1.0);
  delta = find_delta (comparison, "macro.f1");
  g_assert_nonnull (delta);
  g_assert_cmpfloat_with_epsilon (delta->delta, mb->macro.f1 - ma->macro.f1, 1e-12);
  g_assert_nonnull (find_delta (comparison, "weighted.recall"));
  g_assert_nonnull (find_delta (comparison, "calibration.ece"));
  g_assert_null (find_delta (comparison, "schema"));

  /* Per class. */
  g_assert_true (comparison->classes_compared);
  g_assert_cmpuint (comparison->classes->len, ==, 3);
  {
    GraftClassDelta *c0 = g_ptr_array_index (comparison->classes, 0);
    GraftClassDelta *c1 = g_ptr_array_index (comparison->classes, 1);
    GraftClassDelta *c2 = g_ptr_array_index (comparison->classes, 2);

    g_assert_cmpstr (c0->name, ==, "cat");
    g_assert_cmpfloat_with_epsilon (c0->precision[2], 0.5, 1e-12);
    g_assert_cmpfloat_with_epsilon (c0->recall[2], 0.5, 1e-12);
    g_assert_cmpfloat_with_epsilon (c1->precision[2], 1.0 / 3.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (c1->recall[2], -0.5, 1e-12);
    g_assert_cmpfloat_with_epsilon (c2->precision[2], -1.0 / 3.0, 1e-12);
    g_assert_cmpfloat_with_epsilon (c2->recall[0], 0.5, 1e-12);
    g_assert_cmpfloat_with_epsilon (c2->f1[2], mb->per_class[2].f1 - ma->per_class[2].f1, 1e-12);
  }

  /* Images, matched by name although B lists them in another order. */
  g_assert_true (comparison->images_compared);
  assert_images (comparison->only_a_right, only_a);
  assert_images (comparison->only_b_right, only_b);
  {
    GraftImageChange *img3 = g_ptr_array_index (comparison->only_a_right, 0);

    g_assert_cmpint (img3->label, ==, 1);
    g_assert_cmpint (img3->predicted_a, ==, 1);
    g_assert_cmpint (img3->predicted_b, ==, 2);
  }

  /* The same as JSON. */
  result = graft_run_comparison_to_json (comparison);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (result, "a")), ==,
                   graft_run_get_id (run_a));
  list = json_object_object_get (result, "only_b_right");
  g_assert_cmpuint (json_object_array_length (list), ==, 2);
  g_assert_cmpstr (json_object_get_string (json_object_object_get (
                     json_object_array_get_idx (list, 1), "name")), ==, "img5");
  list = json_object_object_get (result, "config");
  g_assert_cmpstr (json_object_get_string (json_object_object_get (
                     json_object_array_get_idx (list, 5), "change")), ==, "only_a");
  g_assert_nonnull (json_object_object_get (result, "per_class"));
  json_object_put (result);
  g_clear_pointer (&comparison, graft_run_comparison_free);

  /* The other way round, everything flips; images come in the first run's order. */
  comparison = graft_run_compare (open_b, open_a);
  assert_images (comparison->only_a_right, only_b_reversed);
  assert_images (comparison->only_b_right, only_a);
  delta = find_delta (comparison, "accuracy");
  g_assert_cmpfloat_with_epsilon (delta->delta, -1.0 / 6.0, 1e-12);
  g_clear_pointer (&comparison, graft_run_comparison_free);

  json_object_put (json_a);
  json_object_put (json_b);
}

static void
test_compare_unmatched (void)
{
  const guint in_order[6] = { 0, 1, 2, 3, 4, 5 };
  const guint shuffled[6] = { 5, 3, 1, 0, 4, 2 };
  g_autoptr(GraftMetrics) ma = make_metrics (predicted_a, in_order, FALSE);
  g_autoptr(GraftMetrics) mb = make_metrics (predicted_b, in_order, FALSE);
  g_autoptr(GraftMetrics) mc = make_metrics (predicted_b, shuffled, FALSE);
  json_object *a = graft_metrics_to_json (ma, GRAFT_METRICS_JSON_DEFAULT);
  json_object *b = graft_metrics_to_json (mb, GRAFT_METRICS_JSON_DEFAULT);
  json_object *c = graft_metrics_to_json (mc, GRAFT_METRICS_JSON_DEFAULT);
  const char *const only_none[] = { NULL };
  GraftRunComparison *comparison;

  /* Without names, by place: the same images in the same order. */
  comparison = graft_run_compare_json ("a", NULL, a, "b", NULL, b);
  g_assert_cmpuint (comparison->config->len, ==, 0);
  g_assert_true (comparison->images_compared);
  g_assert_cmpuint (comparison->only_a_right->len, ==, 1);
  g_assert_cmpuint (((GraftImageChange *) g_ptr_array_index (comparison->only_a_right, 0))->index, ==, 3);
  g_assert_cmpuint (comparison->only_b_right->len, ==, 2);
  graft_run_comparison_free (comparison);

  /* By place with other labels in places: those are not the same images. */
  comparison = graft_run_compare_json ("a", NULL, a, "c", NULL, c);
  g_assert_true (comparison->images_compared);
  g_assert_nonnull (comparison->images_note);
  graft_run_comparison_free (comparison);

  /* Other classes: no per-class or image comparison, and the note says why. */
  json_object_array_put_idx (json_object_object_get (b, "classes"), 2,
                             json_object_new_string ("wolf"));
  comparison = graft_run_compare_json ("a", NULL, a, "b", NULL, b);
  g_assert_false (comparison->classes_compared);
  g_assert_false (comparison->images_compared);
  g_assert_nonnull (strstr (comparison->classes_note, "classes"));
  assert_images (comparison->only_a_right, only_none);
  g_assert_nonnull (find_delta (comparison, "accuracy"));
  graft_run_comparison_free (comparison);

  json_object_put (a);
  json_object_put (b);
  json_object_put (c);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/project/runs/create-list-rename-delete", Fixture, NULL, fixture_setup,
              test_create_list_rename_delete, fixture_teardown);
  g_test_add ("/project/runs/history", Fixture, NULL, fixture_setup, test_history,
              fixture_teardown);
  g_test_add ("/project/runs/damaged", Fixture, NULL, fixture_setup, test_damaged,
              fixture_teardown);
  g_test_add ("/project/runs/atomic-save", Fixture, NULL, fixture_setup, test_atomic_save,
              fixture_teardown);
  g_test_add ("/project/runs/compare", Fixture, NULL, fixture_setup, test_compare,
              fixture_teardown);
  g_test_add_func ("/project/runs/compare-unmatched", test_compare_unmatched);
  return g_test_run ();
}
