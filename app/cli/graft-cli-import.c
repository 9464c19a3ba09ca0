/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli import: a dataset into a project, with its health report. The import, the
 * check of every image and the split run on a worker thread; Ctrl-C cancels them and
 * nothing is written. */

#include <glib-unix.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-private.h"

/* Problems of one kind listed in full before "… and N more". */
#define SHOWN_PER_KIND 8

typedef struct {
  /* Input */
  const char          *path;
  GraftDatasetFormat   format;
  const char          *project_dir;
  GraftProject        *project;       /* opened here if the folder holds one, else NULL */
  GraftSplitOptions    split;         /* for a new project, or with --resplit */
  gboolean             resplit;
  GraftHealthOptions   health_options;
  GCancellable        *cancellable;
  GMainLoop           *loop;
  gboolean             show_progress;

  /* Output */
  GraftDataset        *dataset;
  GraftDatasetHealth  *health;
  GraftProjectChanges  changes;
  gboolean             created;
  gboolean             saved;
  double               seconds;
  GError              *error;
  gboolean             progress_shown;
  guint                percent;
  const char          *stage;
} Job;

static void
on_progress (guint    done,
             guint    total,
             gpointer user_data)
{
  Job *job = user_data;
  guint percent = total > 0 ? (guint) ((guint64) done * 100 / total) : 0;

  if (!job->show_progress)
    return;
  if (job->progress_shown && percent == job->percent && total > 0)
    return;
  job->progress_shown = TRUE;
  job->percent = percent;
  if (total > 0)
    fprintf (stderr, "\r%s: %u of %u (%u%%)   ", job->stage, done, total, percent);
  else
    fprintf (stderr, "\r%s: %u   ", job->stage, done);
  fflush (stderr);
}

static void
end_progress_line (Job *job)
{
  if (job->progress_shown)
    fprintf (stderr, "\n");
  job->progress_shown = FALSE;
}

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gboolean
run_steps (Job *job)
{
  g_autoptr(GTimer) timer = g_timer_new ();

  job->stage = "Reading the dataset";
  job->dataset = graft_dataset_import (job->path, job->format, on_progress, job,
                                       job->cancellable, &job->error);
  end_progress_line (job);
  if (job->dataset == NULL)
    return FALSE;

  job->stage = "Checking images";
  job->health = graft_dataset_check_health (job->dataset, &job->health_options, on_progress, job,
                                            job->cancellable, &job->error);
  end_progress_line (job);
  if (job->health == NULL)
    return FALSE;
  job->seconds = g_timer_elapsed (timer, NULL);
  if (job->health->n_usable == 0)
    return TRUE;

  if (job->project == NULL)
    {
      job->project = graft_project_create (job->project_dir, job->dataset->task, &job->error);
      if (job->project == NULL)
        return FALSE;
      graft_project_set_split_options (job->project, &job->split);
      job->created = TRUE;
    }
  else if (job->resplit)
    {
      graft_project_set_split_options (job->project, &job->split);
      graft_project_clear_split (job->project);
    }
  if (!graft_project_apply (job->project, job->dataset, job->health, &job->changes, &job->error))
    return FALSE;
  if (g_cancellable_set_error_if_cancelled (job->cancellable, &job->error))
    return FALSE;
  if (!graft_project_save (job->project, &job->error))
    return FALSE;
  job->saved = TRUE;
  return TRUE;
}

static gpointer
run_job (gpointer data)
{
  Job *job = data;

  run_steps (job);
  g_idle_add (quit_loop, job->loop);
  return NULL;
}

static gboolean
on_interrupt (gpointer user_data)
{
  Job *job = user_data;

  fprintf (stderr, "\nStopping…\n");
  g_cancellable_cancel (job->cancellable);
  return G_SOURCE_CONTINUE;
}

/* PATH-project beside the data: the folder's name, or the label file's without its
 * extension. */
static char *
default_project_dir (const char *path)
{
  g_autofree char *absolute = g_canonicalize_filename (path, NULL);
  g_autofree char *parent = g_path_get_dirname (absolute);
  g_autofree char *base = g_path_get_basename (absolute);
  g_autofree char *name = NULL;

  if (!g_file_test (absolute, G_FILE_TEST_IS_DIR) && strrchr (base, '.') != NULL &&
      strrchr (base, '.') != base)
    *strrchr (base, '.') = '\0';
  if (g_str_equal (base, "/"))
    return g_strdup ("dataset-project");
  name = g_strconcat (base, "-project", NULL);
  return g_build_filename (parent, name, NULL);
}

static const char *
kind_title (GraftDataProblemKind kind)
{
  switch (kind)
    {
    case GRAFT_DATA_PROBLEM_UNREADABLE: return "Files that cannot be read";
    case GRAFT_DATA_PROBLEM_MISSING_FILE: return "Labelled images that are missing";
    case GRAFT_DATA_PROBLEM_PARSE: return "Label lines that do not parse";
    case GRAFT_DATA_PROBLEM_UNKNOWN_LABEL: return "Labels that name no class";
    case GRAFT_DATA_PROBLEM_DUPLICATE: return "Exact duplicates";
    case GRAFT_DATA_PROBLEM_LEAKAGE: return "Leakage: copies on both sides of the split";
    case GRAFT_DATA_PROBLEM_SMALL_IMAGE: return "Small images";
    case GRAFT_DATA_PROBLEM_BOX_OUTSIDE: return "Boxes outside their image";
    case GRAFT_DATA_PROBLEM_BOX_EMPTY: return "Boxes without area";
    case GRAFT_DATA_PROBLEM_NO_LABEL: return "Images without a label";
    default: return "Other problems";
    }
}

/* In the order a person should look at them: what breaks training first. */
static const GraftDataProblemKind kind_order[] = {
  GRAFT_DATA_PROBLEM_LEAKAGE,
  GRAFT_DATA_PROBLEM_UNREADABLE,
  GRAFT_DATA_PROBLEM_MISSING_FILE,
  GRAFT_DATA_PROBLEM_PARSE,
  GRAFT_DATA_PROBLEM_UNKNOWN_LABEL,
  GRAFT_DATA_PROBLEM_NO_LABEL,
  GRAFT_DATA_PROBLEM_BOX_OUTSIDE,
  GRAFT_DATA_PROBLEM_BOX_EMPTY,
  GRAFT_DATA_PROBLEM_DUPLICATE,
  GRAFT_DATA_PROBLEM_SMALL_IMAGE,
};

static const char *
task_name (GraftTask task)
{
  return task == GRAFT_TASK_DETECTION ? "detection" : "classification";
}

static guint
split_total (const GraftDatasetHealth *health,
             GraftSplit                split)
{
  return health->per_split[split];
}

/* @text in @width columns, cut with "…" if longer (characters, not bytes). */
static void
print_cell (const char *text,
            int         width)
{
  glong length = g_utf8_strlen (text, -1);

  if (length > width)
    {
      g_autofree char *cut = g_utf8_substring (text, 0, width - 1);

      printf ("%s…", cut);
    }
  else
    printf ("%s%*s", text, (int) (width - length), "");
}

static void
print_counts (Job *job)
{
  const GraftDatasetHealth *health = job->health;
  GraftDataset *dataset = job->dataset;
  gboolean unassigned = split_total (health, GRAFT_SPLIT_NONE) > 0;
  gboolean unlabelled = FALSE;
  int width = 5;

  for (guint s = 0; s < GRAFT_N_SPLITS; s++)
    unlabelled |= health->unlabelled[s] > 0;
  for (guint c = 0; c < health->n_classes; c++)
    width = MAX (width, (int) g_utf8_strlen (g_ptr_array_index (dataset->classes, c), -1));
  width = MIN (width, 32);
  if (unlabelled)
    width = MAX (width, (int) strlen ("(no boxes)"));

  printf ("  %-*s %7s %7s %7s %7s%s\n", width, "Class", "Train", "Val", "Test", "Total",
          unassigned ? "    None" : "");
  for (guint c = 0; c <= health->n_classes; c++)
    {
      const char *name;
      guint counts[GRAFT_N_SPLITS], total = 0;

      if (c == health->n_classes && !unlabelled)
        break;
      for (guint s = 0; s < GRAFT_N_SPLITS; s++)
        {
          counts[s] = c < health->n_classes ? graft_dataset_health_count (health, c, (GraftSplit) s)
                                            : health->unlabelled[s];
          total += counts[s];
        }
      name = c < health->n_classes ? g_ptr_array_index (dataset->classes, c) : "(no boxes)";
      printf ("  ");
      print_cell (name, width);
      printf (" %7u %7u %7u %7u", counts[GRAFT_SPLIT_TRAIN], counts[GRAFT_SPLIT_VAL],
              counts[GRAFT_SPLIT_TEST], total);
      if (unassigned)
        printf (" %7u", counts[GRAFT_SPLIT_NONE]);
      printf ("\n");
    }
  printf ("  %-*s %7u %7u %7u %7u", width, "Total", split_total (health, GRAFT_SPLIT_TRAIN),
          split_total (health, GRAFT_SPLIT_VAL), split_total (health, GRAFT_SPLIT_TEST),
          health->n_usable);
  if (unassigned)
    printf (" %7u", split_total (health, GRAFT_SPLIT_NONE));
  printf ("\n");
  if (dataset->task == GRAFT_TASK_DETECTION)
    printf ("  (images holding a box of the class; an image with several classes counts in each)\n");
}

static void
print_report (Job *job)
{
  const GraftDatasetHealth *health = job->health;
  GraftDataset *dataset = job->dataset;

  printf ("Imported %s (%s layout, %s): %u images in %u classes, %u of them usable (%.1f s).\n\n",
          dataset->root, graft_dataset_format_to_string (dataset->format), task_name (dataset->task),
          dataset->samples->len, dataset->classes->len, health->n_usable, job->seconds);

  if (health->n_classes > 0)
    {
      print_counts (job);
      printf ("\n");
    }

  if (health->largest_class >= 0)
    {
      const char *largest = g_ptr_array_index (dataset->classes, health->largest_class);
      const char *smallest = g_ptr_array_index (dataset->classes, health->smallest_class);

      guint most = graft_dataset_health_total (health, (guint) health->largest_class);
      guint least = graft_dataset_health_total (health, (guint) health->smallest_class);

      if (most == least)
        printf ("Imbalance: 1.0 (%u images in each class)\n\n", most);
      else
        printf ("Imbalance: %.1f (%s %u, %s %u)%s\n\n", health->imbalance, largest, most,
                smallest, least,
                health->imbalance >= 10.0 ? ": consider collecting more of the small classes "
                                            "or weighting them" : "");
    }

  if (health->problems->len == 0)
    printf ("No problems found.\n\n");
  else
    {
      printf ("Problems: %u (images that cannot be used are left out of every split)\n",
              health->problems->len);
      for (guint k = 0; k < G_N_ELEMENTS (kind_order); k++)
        {
          guint count = graft_dataset_health_count_problems (health, kind_order[k]);
          guint shown = 0;

          if (count == 0)
            continue;
          printf ("  %s (%u):\n", kind_title (kind_order[k]), count);
          for (guint i = 0; i < health->problems->len && shown < SHOWN_PER_KIND; i++)
            {
              const GraftDataProblem *problem = g_ptr_array_index (health->problems, i);

              if (problem->kind != kind_order[k])
                continue;
              printf ("    %s\n", problem->message);
              shown++;
            }
          if (count > shown)
            printf ("    … and %u more\n", count - shown);
        }
      printf ("\n");
    }
}

static void
print_split (Job *job)
{
  const GraftDatasetHealth *health = job->health;
  GraftSplitOptions options;
  guint n_fixed = 0;
  const char *sep = "";

  for (guint i = 0; i < job->dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (job->dataset->samples, i);

      n_fixed += health->usable[i] && sample->split_fixed;
    }
  graft_project_get_split_options (job->project, &options);
  printf ("Split (seed %" G_GUINT64_FORMAT "; train %.2f, val %.2f, test %.2f; stratified by %s):",
          options.seed, options.fractions[0], options.fractions[1], options.fractions[2],
          job->dataset->task == GRAFT_TASK_DETECTION ? "each image's rarest class" : "class");
  if (job->changes.n_drawn > 0)
    {
      printf (" %u drawn now", job->changes.n_drawn);
      sep = ",";
    }
  if (job->changes.n_kept > 0)
    {
      printf ("%s %u kept their saved split", sep, job->changes.n_kept);
      sep = ",";
    }
  if (n_fixed > 0)
    printf ("%s %u placed by the source's train/val/test folders", sep, n_fixed);
  printf (".\n");
  if (job->changes.n_moved > 0)
    printf ("%u images moved to another folder of the source: they follow the folder, not the "
            "saved split.\n", job->changes.n_moved);
  for (guint s = GRAFT_SPLIT_TRAIN; s <= GRAFT_SPLIT_TEST; s++)
    if (options.fractions[s - 1] > 0.0 && n_fixed == health->n_usable &&
        split_total (health, (GraftSplit) s) == 0)
      printf ("No %s images: the source's folders fix the split of every image and it has "
              "no %s/ folder.\n", graft_split_to_string ((GraftSplit) s),
              graft_split_to_string ((GraftSplit) s));
  if (job->changes.vanished != NULL && job->changes.vanished->len > 0)
    {
      guint n = job->changes.vanished->len;

      printf ("Dropped from the saved split, gone or no longer usable (%u): ", n);
      for (guint i = 0; i < MIN (n, SHOWN_PER_KIND); i++)
        printf ("%s%s", i > 0 ? ", " : "", (const char *) g_ptr_array_index (job->changes.vanished, i));
      if (n > SHOWN_PER_KIND)
        printf (" … and %u more", n - SHOWN_PER_KIND);
      printf ("\n");
    }
  if (job->changes.new_classes != NULL && job->changes.new_classes->len > 0 && !job->created)
    {
      printf ("New classes:");
      for (guint i = 0; i < job->changes.new_classes->len; i++)
        printf (" %s", (const char *) g_ptr_array_index (job->changes.new_classes, i));
      printf ("\n");
    }
  printf ("Project %s: %s\n", job->created ? "created" : "updated",
          graft_project_get_file (job->project));
}

static json_object *
new_fraction (double value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  return json_object_new_double_s (value, g_ascii_formatd (text, sizeof text, "%.15g", value));
}

static json_object *
strings_to_json (GPtrArray *strings)
{
  json_object *array = json_object_new_array ();

  for (guint i = 0; strings != NULL && i < strings->len; i++)
    json_object_array_add (array, json_object_new_string (g_ptr_array_index (strings, i)));
  return array;
}

static void
print_json (Job *job)
{
  const GraftDatasetHealth *health = job->health;
  GraftDataset *dataset = job->dataset;
  json_object *root = json_object_new_object ();
  json_object *classes = json_object_new_array ();
  json_object *problems = json_object_new_array ();
  json_object *by_kind = json_object_new_object ();
  json_object *totals = json_object_new_object ();

  json_object_object_add (root, "source", json_object_new_string (dataset->root));
  json_object_object_add (root, "format", json_object_new_string (graft_dataset_format_to_string (dataset->format)));
  json_object_object_add (root, "task", json_object_new_string (task_name (dataset->task)));
  json_object_object_add (root, "images", json_object_new_int64 (dataset->samples->len));
  json_object_object_add (root, "usable", json_object_new_int64 (health->n_usable));

  for (guint c = 0; c < health->n_classes; c++)
    {
      json_object *obj = json_object_new_object ();

      json_object_object_add (obj, "name", json_object_new_string (g_ptr_array_index (dataset->classes, c)));
      for (guint s = 0; s < GRAFT_N_SPLITS; s++)
        json_object_object_add (obj, graft_split_to_string ((GraftSplit) s),
                                json_object_new_int64 (graft_dataset_health_count (health, c, (GraftSplit) s)));
      json_object_object_add (obj, "total", json_object_new_int64 (graft_dataset_health_total (health, c)));
      json_object_array_add (classes, obj);
    }
  json_object_object_add (root, "classes", classes);
  for (guint s = 0; s < GRAFT_N_SPLITS; s++)
    json_object_object_add (totals, graft_split_to_string ((GraftSplit) s),
                            json_object_new_int64 (split_total (health, (GraftSplit) s)));
  json_object_object_add (root, "splits", totals);
  {
    json_object *unlabelled = json_object_new_object ();

    for (guint s = 0; s < GRAFT_N_SPLITS; s++)
      json_object_object_add (unlabelled, graft_split_to_string ((GraftSplit) s),
                              json_object_new_int64 (health->unlabelled[s]));
    json_object_object_add (root, "unlabelled", unlabelled);
  }
  json_object_object_add (root, "imbalance", json_object_new_double (health->imbalance));

  for (guint i = 0; i < health->problems->len; i++)
    {
      const GraftDataProblem *problem = g_ptr_array_index (health->problems, i);
      json_object *obj = json_object_new_object ();

      json_object_object_add (obj, "kind", json_object_new_string (graft_data_problem_kind_to_string (problem->kind)));
      json_object_object_add (obj, "file", problem->file != NULL ? json_object_new_string (problem->file) : NULL);
      if (problem->line > 0)
        json_object_object_add (obj, "line", json_object_new_int64 (problem->line));
      if (problem->other != NULL)
        json_object_object_add (obj, "other", json_object_new_string (problem->other));
      json_object_object_add (obj, "message", json_object_new_string (problem->message));
      json_object_array_add (problems, obj);
    }
  for (guint k = 0; k < G_N_ELEMENTS (kind_order); k++)
    json_object_object_add (by_kind, graft_data_problem_kind_to_string (kind_order[k]),
                            json_object_new_int64 (graft_dataset_health_count_problems (health, kind_order[k])));
  json_object_object_add (root, "problem_counts", by_kind);
  json_object_object_add (root, "problems", problems);

  if (job->project != NULL && job->saved)
    {
      json_object *split = json_object_new_object ();
      json_object *fractions = json_object_new_object ();
      GraftSplitOptions options;

      graft_project_get_split_options (job->project, &options);
      json_object_object_add (split, "seed", json_object_new_uint64 (options.seed));
      json_object_object_add (fractions, "train", new_fraction (options.fractions[0]));
      json_object_object_add (fractions, "val", new_fraction (options.fractions[1]));
      json_object_object_add (fractions, "test", new_fraction (options.fractions[2]));
      json_object_object_add (split, "fractions", fractions);
      json_object_object_add (split, "kept", json_object_new_int64 (job->changes.n_kept));
      json_object_object_add (split, "new", json_object_new_int64 (job->changes.n_new));
      json_object_object_add (split, "drawn", json_object_new_int64 (job->changes.n_drawn));
      json_object_object_add (split, "moved", json_object_new_int64 (job->changes.n_moved));
      json_object_object_add (split, "dropped", strings_to_json (job->changes.vanished));
      json_object_object_add (split, "new_classes", strings_to_json (job->changes.new_classes));
      json_object_object_add (root, "split", split);
      json_object_object_add (root, "project", json_object_new_string (graft_project_get_file (job->project)));
      json_object_object_add (root, "project_created", json_object_new_boolean (job->created));
    }
  else
    json_object_object_add (root, "project", NULL);
  json_object_object_add (root, "seconds", json_object_new_double (job->seconds));

  printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
}

static gboolean
same_split_options (const GraftSplitOptions *a,
                    const GraftSplitOptions *b)
{
  double sa = a->fractions[0] + a->fractions[1] + a->fractions[2];
  double sb = b->fractions[0] + b->fractions[1] + b->fractions[2];

  if (a->seed != b->seed)
    return FALSE;
  for (guint s = 0; s < 3; s++)
    if (ABS (a->fractions[s] / sa - b->fractions[s] / sb) > 1e-9)
      return FALSE;
  return TRUE;
}

int
_graft_cli_import (GraftCliGlobals  *globals,
                   int               argc,
                   char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree char *format_text = NULL;
  g_autofree char *split_text = NULL;
  g_autofree char *project_dir = NULL;
  g_autofree char *project_file = NULL;
  gint64 seed = -1;
  gint min_side = GRAFT_HEALTH_DEFAULT_MIN_SIDE;
  gboolean resplit = FALSE;
  Job job = { 0 };
  GThread *thread;
  guint sigint;
  int status;
  const GOptionEntry entries[] = {
    { "format", 0, 0, G_OPTION_ARG_STRING, &format_text, "Layout: auto (default), folder, csv, yolo or coco", "FORMAT" },
    { "split", 0, 0, G_OPTION_ARG_STRING, &split_text, "Parts for train, val and test (default 0.7,0.15,0.15)", "T,V,T" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the split (default 0)", "N" },
    { "project", 0, 0, G_OPTION_ARG_FILENAME, &project_dir, "Project folder (default: PATH-project beside the data)", "DIR" },
    { "resplit", 0, 0, G_OPTION_ARG_NONE, &resplit, "Draw the split of an existing project anew", NULL },
    { "min-side", 0, 0, G_OPTION_ARG_INT, &min_side, "Report images smaller than N pixels on a side (default 32)", "N" },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "import PATH",
                         "Import the dataset at PATH (a folder per class, optionally under train/,\n"
                         "val/ and test/; a CSV of path,label; YOLO images/ and labels/; or a COCO\n"
                         "JSON file), check every image, split it and save the project.\n"
                         "\n"
                         "The project goes to DIR (--project), by default to a folder beside the\n"
                         "data named after it: /data/pets → /data/pets-project, /data/boxes.json →\n"
                         "/data/boxes-project. A new project is split by --split and --seed,\n"
                         "stratified by class; train/, val/ and test/ folders of the source keep\n"
                         "their split. Importing again into the same project keeps every image's\n"
                         "saved split, splits new images by the saved seed and fractions and drops\n"
                         "images that are gone; --resplit draws the whole split anew.\n"
                         "\n"
                         "Prints the images per class and split, the imbalance and every problem\n"
                         "found (unreadable files, duplicates, leakage between splits, small\n"
                         "images, bad boxes and labels); images that cannot be used are left out.\n"
                         "Exit status: 0 imported (even with problems), 1 nothing could be\n"
                         "imported, 2 usage."))
    return GRAFT_CLI_EXIT_USAGE;

  if (argc != 2)
    {
      _graft_cli_error ("usage: graft-cli import PATH [--format auto|folder|csv|yolo|coco] "
                        "[--split 0.7,0.15,0.15] [--seed N] [--project DIR] [--resplit] [--json]");
      return GRAFT_CLI_EXIT_USAGE;
    }
  job.path = argv[1];
  job.format = GRAFT_DATASET_FORMAT_AUTO;
  if (format_text != NULL && !graft_dataset_format_from_string (format_text, &job.format))
    {
      _graft_cli_error ("--format must be auto, folder, csv, yolo or coco, not “%s”", format_text);
      return GRAFT_CLI_EXIT_USAGE;
    }
  graft_split_options_init (&job.split);
  if (split_text != NULL && !graft_split_parse_fractions (split_text, job.split.fractions, &error))
    {
      _graft_cli_error ("--split: %s", error->message);
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (seed < -1)
    {
      _graft_cli_error ("--seed must be 0 or more, not %" G_GINT64_FORMAT, seed);
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (seed >= 0)
    job.split.seed = (guint64) seed;
  if (min_side < 0)
    {
      _graft_cli_error ("--min-side must be 0 or more, not %d", min_side);
      return GRAFT_CLI_EXIT_USAGE;
    }
  graft_health_options_init (&job.health_options);
  job.health_options.remember = TRUE;
  job.health_options.min_side = (guint) min_side;

  if (project_dir == NULL)
    project_dir = default_project_dir (job.path);
  job.project_dir = project_dir;
  project_file = g_build_filename (project_dir, GRAFT_PROJECT_FILE, NULL);
  if (g_file_test (project_file, G_FILE_TEST_EXISTS))
    {
      GraftSplitOptions saved;

      job.project = graft_project_open (project_dir, &error);
      if (job.project == NULL)
        {
          _graft_cli_error ("%s", error->message);
          return GRAFT_CLI_EXIT_FAILURE;
        }
      graft_project_get_split_options (job.project, &saved);
      if (!resplit)
        {
          GraftSplitOptions asked = job.split;

          /* What was not given on the command line is the project's. */
          if (split_text == NULL)
            memcpy (asked.fractions, saved.fractions, sizeof asked.fractions);
          if (seed < 0)
            asked.seed = saved.seed;
          if (!same_split_options (&asked, &saved))
            {
              _graft_cli_error ("%s keeps the split it was saved with (seed %" G_GUINT64_FORMAT
                                ", %g,%g,%g); leave out --split and --seed to keep it, or add "
                                "--resplit to draw a new one", project_file, saved.seed,
                                saved.fractions[0], saved.fractions[1], saved.fractions[2]);
              graft_project_free (job.project);
              return GRAFT_CLI_EXIT_USAGE;
            }
        }
      else
        {
          if (split_text == NULL)
            memcpy (job.split.fractions, saved.fractions, sizeof job.split.fractions);
          if (seed < 0)
            job.split.seed = saved.seed;
        }
    }
  job.resplit = resplit && job.project != NULL;
  job.cancellable = cancellable;
  job.loop = loop;
  job.show_progress = !globals->json && isatty (STDERR_FILENO);

  sigint = g_unix_signal_add (SIGINT, on_interrupt, &job);
  thread = g_thread_new ("graft-import", run_job, &job);
  g_main_loop_run (loop);
  g_thread_join (thread);
  g_source_remove (sigint);

  if (job.error != NULL)
    {
      if (g_error_matches (job.error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        _graft_cli_error ("import cancelled; the project was not changed");
      else
        _graft_cli_error ("%s", job.error->message);
      status = GRAFT_CLI_EXIT_FAILURE;
    }
  else
    {
      if (globals->json)
        print_json (&job);
      else
        {
          print_report (&job);
          if (job.saved)
            print_split (&job);
        }
      if (job.saved)
        status = GRAFT_CLI_EXIT_OK;
      else
        {
          _graft_cli_error ("no image of %s can be used, so no project was written; see the "
                            "problems above", job.path);
          status = GRAFT_CLI_EXIT_FAILURE;
        }
    }

  g_clear_error (&job.error);
  graft_project_changes_clear (&job.changes);
  g_clear_pointer (&job.health, graft_dataset_health_free);
  g_clear_pointer (&job.dataset, graft_dataset_free);
  g_clear_pointer (&job.project, graft_project_free);
  return status;
}
