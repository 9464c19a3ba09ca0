/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli demo-dataset: the target domain of the demo task (Fashion-MNIST classes 5–9) as
 * PNG class folders, the form in which any image dataset of a user's own arrives. */

#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-private.h"

/* A progress line on a terminal, redrawn when the percentage changes. */
typedef struct {
  gboolean shown;
  guint    percent;
} Progress;

static void
on_progress (guint    done,
             guint    total,
             gpointer user_data)
{
  Progress *progress = user_data;
  guint percent = total > 0 ? (guint) ((guint64) done * 100 / total) : 100;

  if (progress->shown && percent == progress->percent)
    return;
  progress->shown = TRUE;
  progress->percent = percent;
  fprintf (stderr, "\rWriting images: %u of %u (%u%%)", done, total, percent);
  fflush (stderr);
}

static void
print_json (const char                   *dir,
            guint                         per_class,
            guint64                       seed,
            double                        seconds,
            const GraftDemoDatasetCounts *counts)
{
  json_object *root = json_object_new_object ();
  json_object *classes = json_object_new_array ();
  guint n_train = 0, n_test = 0;

  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      json_object *obj = json_object_new_object ();

      json_object_object_add (obj, "name", json_object_new_string (graft_demo_dataset_class_name (c)));
      json_object_object_add (obj, "label", json_object_new_int ((int) (GRAFT_DEMO_DATASET_FIRST_LABEL + c)));
      json_object_object_add (obj, "train", json_object_new_int64 (counts->train[c]));
      json_object_object_add (obj, "test", json_object_new_int64 (counts->test[c]));
      json_object_array_add (classes, obj);
      n_train += counts->train[c];
      n_test += counts->test[c];
    }
  json_object_object_add (root, "dir", json_object_new_string (dir));
  json_object_object_add (root, "source", json_object_new_string (graft_fashion_mnist_default_dir ()));
  json_object_object_add (root, "per_class", json_object_new_int64 (per_class));
  json_object_object_add (root, "seed", json_object_new_int64 ((int64_t) seed));
  json_object_object_add (root, "classes", classes);
  json_object_object_add (root, "train", json_object_new_int64 (n_train));
  json_object_object_add (root, "test", json_object_new_int64 (n_test));
  json_object_object_add (root, "seconds", json_object_new_double (seconds));
  printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
}

static void
print_summary (const char                   *dir,
               guint                         per_class,
               guint64                       seed,
               double                        seconds,
               const GraftDemoDatasetCounts *counts)
{
  g_autofree char *train = g_build_filename (dir, "train", "CLASS", NULL);
  g_autofree char *test = g_build_filename (dir, "test", "CLASS", NULL);
  guint n_train = 0, n_test = 0;

  printf ("Wrote the demo task to %s in %.1f s: Fashion-MNIST classes 5–9,\n"
          "%u training images per class (seed %" G_GUINT64_FORMAT ") and every test image.\n\n",
          dir, seconds, per_class, seed);
  printf ("  %-12s %6s %6s\n", "Class", "Train", "Test");
  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      printf ("  %-12s %6u %6u\n", graft_demo_dataset_class_name (c), counts->train[c], counts->test[c]);
      n_train += counts->train[c];
      n_test += counts->test[c];
    }
  printf ("  %-12s %6u %6u\n\n", "Total", n_train, n_test);
  printf ("Training images are in %s, test images in %s.\n", train, test);
}

int
_graft_cli_demo_dataset (GraftCliGlobals  *globals,
                         int               argc,
                         char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GTimer) timer = NULL;
  GraftDemoDatasetCounts counts;
  Progress progress = { FALSE, 0 };
  gboolean show_progress;
  int per_class = GRAFT_DEMO_DATASET_DEFAULT_PER_CLASS;
  gint64 seed = GRAFT_DEMO_DATASET_DEFAULT_SEED;
  const char *dir;
  double seconds;
  const GOptionEntry entries[] = {
    { "per-class", 0, 0, G_OPTION_ARG_INT, &per_class, "Training images per class (default 20, at most 6000)", "N" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the draw of training images (default 0)", "N" },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "demo-dataset DIR",
                         "Write the target domain of Graft's demo task into DIR: the Fashion-MNIST\n"
                         "classes Sandal, Shirt, Sneaker, Bag and Ankle boot as PNG class folders,\n"
                         "DIR/train/CLASS with --per-class images of each class drawn from the\n"
                         "official training split, and DIR/test/CLASS with all of its test images.\n"
                         "Reads the package dataset-fashion-mnist, or $GRAFT_FASHION_MNIST_DIR.\n"
                         "DIR must be new, empty, or hold a demo dataset, which is replaced."))
    return GRAFT_CLI_EXIT_USAGE;

  if (argc != 2)
    {
      _graft_cli_error ("usage: graft-cli demo-dataset DIR [--per-class N] [--seed N] [--json]");
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (per_class < 1)
    {
      _graft_cli_error ("--per-class must be at least 1, not %d", per_class);
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (seed < 0)
    {
      _graft_cli_error ("--seed must be 0 or more, not %" G_GINT64_FORMAT, seed);
      return GRAFT_CLI_EXIT_USAGE;
    }
  dir = argv[1];

  /* An interrupted run leaves a hidden folder inside DIR, which the next run removes. */
  show_progress = !globals->json && isatty (STDERR_FILENO);
  timer = g_timer_new ();
  if (!graft_demo_dataset_write (dir, (guint) per_class, (guint64) seed,
                                 show_progress ? on_progress : NULL, &progress, NULL, &error))
    {
      if (progress.shown)
        fprintf (stderr, "\n");
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  seconds = g_timer_elapsed (timer, NULL);
  if (progress.shown)
    fprintf (stderr, "\n");

  if (!graft_demo_dataset_count (dir, &counts, &error))
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }

  if (globals->json)
    print_json (dir, (guint) per_class, (guint64) seed, seconds, &counts);
  else
    print_summary (dir, (guint) per_class, (guint64) seed, seconds, &counts);
  return GRAFT_CLI_EXIT_OK;
}
