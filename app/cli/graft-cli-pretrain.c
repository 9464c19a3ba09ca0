/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli pretrain: the recipe of the bundled model (compute/train/graft-pretrain.h). */

#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-private.h"

typedef struct {
  GraftBackend         *backend;
  GraftPretrainOptions  options;
  const char           *output_dir;
  GCancellable         *cancellable;
  gboolean              terminal;
  gboolean              quiet;
  GraftPretrainResult   result;
  GError               *error;
  gboolean              ok;
} Job;

static void
on_progress (const GraftPretrainProgress *p,
             gpointer                     user_data)
{
  Job *job = user_data;

  if (job->quiet)
    return;
  if (job->terminal)
    {
      fprintf (stderr, "\rEpoch %u/%u  step %4u/%u  loss %.4f  lr %.4f  %.0f images/s ",
               p->epoch, p->epochs, p->step, p->steps, (double) p->loss, (double) p->lr,
               p->images_per_second);
      if (p->test_accuracy >= 0)
        fprintf (stderr, " test accuracy %.2f%%\n", 100.0 * p->test_accuracy);
      fflush (stderr);
    }
  else if (p->test_accuracy >= 0)
    fprintf (stderr, "epoch %u/%u: loss %.4f, test accuracy %.2f%%, %.0f images/s\n",
             p->epoch, p->epochs, (double) p->loss, 100.0 * p->test_accuracy,
             p->images_per_second);
}

static gpointer
run_job (gpointer data)
{
  Job *job = data;

  job->ok = graft_pretrain_run (job->backend, &job->options, job->output_dir, on_progress, job,
                                job->cancellable, &job->result, &job->error);
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

int
_graft_cli_pretrain (GraftCliGlobals  *globals,
                     int               argc,
                     char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *default_dir = NULL;
  g_autofree char *data_dir = NULL;
  g_autofree char *command = NULL;
  Job job = { 0 };
  gint epochs = 8, batch = 128, limit = 0;
  gint64 seed = 0;
  double max_lr = 0.0;
  gboolean quiet = FALSE;
  const GOptionEntry entries[] = {
    { "epochs", 0, 0, G_OPTION_ARG_INT, &epochs, "Epochs over the 30,000 source images (default 8)", "N" },
    { "batch-size", 0, 0, G_OPTION_ARG_INT, &batch, "Images per step (default 128)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &max_lr, "Peak learning rate of the one-cycle schedule (default 0.1)", "LR" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of the initialisation, order and augmentation (default 0)", "N" },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, "Use only the first N images of each split (a quick check of the recipe)", "N" },
    { "data", 0, 0, G_OPTION_ARG_FILENAME, &data_dir, "Folder of Fashion-MNIST's IDX files (default " GRAFT_FASHION_MNIST_SYSTEM_DIR ")", "DIR" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress lines", NULL },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "[OUTPUT_DIR]",
                         "Train Graft's bundled model from scratch: a ResNet-10 on Fashion-MNIST\n"
                         "classes 0–4 (T-shirt/top, Trouser, Pullover, Dress, Coat). Writes\n"
                         GRAFT_PRETRAIN_NAME ".safetensors and its model card " GRAFT_PRETRAIN_NAME ".json\n"
                         "into OUTPUT_DIR (default: your own models folder, where “graft-cli models”\n"
                         "finds them ahead of the bundled ones)."))
    return GRAFT_CLI_EXIT_USAGE;
  if (argc > 2 || epochs <= 0 || batch <= 0 || limit < 0 || max_lr < 0.0 || max_lr > 10.0)
    {
      _graft_cli_error ("usage: graft-cli pretrain [--epochs N] [--batch-size N] [--seed N] "
                        "[--limit N] [--data DIR] [OUTPUT_DIR]");
      return GRAFT_CLI_EXIT_USAGE;
    }

  default_dir = graft_catalog_get_user_dir ();
  job.output_dir = argc == 2 ? argv[1] : default_dir;
  graft_pretrain_options_init (&job.options);
  job.options.epochs = (guint) epochs;
  job.options.batch_size = (guint) batch;
  job.options.seed = (guint64) seed;
  job.options.limit = (guint) limit;
  if (max_lr > 0.0)
    job.options.max_lr = (float) max_lr;
  job.options.data_dir = data_dir;
  command = g_strdup_printf ("graft-cli --device=%s pretrain --epochs %d --batch-size %d --seed %"
                            G_GINT64_FORMAT "%s%s",
                            globals->device, epochs, batch, seed,
                            argc == 2 ? " " : "", argc == 2 ? argv[1] : "");
  if (limit > 0 || max_lr > 0.0)
    {
      g_autoptr(GString) more = g_string_new (command);

      if (max_lr > 0.0)
        g_string_append_printf (more, " --lr %g", max_lr);
      if (limit > 0)
        g_string_append_printf (more, " --limit %d", limit);
      g_free (command);
      command = g_string_free (g_steal_pointer (&more), FALSE);
    }
  job.options.command = command;
  job.cancellable = cancellable;
  job.terminal = isatty (STDERR_FILENO);
  job.quiet = quiet;

  job.backend = graft_backend_open (globals->device, &error);
  if (job.backend == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (!quiet)
    fprintf (stderr, "Training %s on %s…\n", GRAFT_PRETRAIN_NAME,
             graft_backend_get_info (job.backend)->name);

  _graft_cli_run_interruptible ("graft-pretrain", run_job, on_interrupt, &job);
  graft_backend_unref (job.backend);

  if (!job.ok)
    {
      _graft_cli_error ("%s", job.error->message);
      g_error_free (job.error);
      return GRAFT_CLI_EXIT_FAILURE;
    }

  if (globals->json)
    {
      json_object *root = json_object_new_object ();

      json_object_object_add (root, "weights", json_object_new_string (job.result.weights_path));
      json_object_object_add (root, "card", json_object_new_string (job.result.card_path));
      json_object_object_add (root, "source_test_accuracy",
                              json_object_new_double (job.result.test_accuracy));
      json_object_object_add (root, "train_images", json_object_new_int ((int) job.result.n_train));
      json_object_object_add (root, "test_images", json_object_new_int ((int) job.result.n_test));
      json_object_object_add (root, "seconds", json_object_new_double (job.result.seconds));
      printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (root);
    }
  else
    printf ("Source test accuracy: %.2f%% (%u test images; trained on %u in %.0f s)\n"
            "Wrote %s\n  and %s\n",
            100.0 * job.result.test_accuracy, job.result.n_test, job.result.n_train,
            job.result.seconds, job.result.weights_path, job.result.card_path);
  graft_pretrain_result_clear (&job.result);
  return GRAFT_CLI_EXIT_OK;
}
