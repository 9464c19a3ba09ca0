/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli bench data: import and health check of Fashion-MNIST as PNG files, the
 * preprocessing cache, the loader's augmented images per second and a training step's
 * consumption on the same machine. */

#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>

#include "graft.h"
#include "bench/graft-bench-data.h"
#include "graft-cli-private.h"

typedef struct {
  gboolean  show;
  gint64    last;
} Progress;

/* A line on a terminal, rewritten at most a few times a second. */
static void
show_progress (const char *stage,
               guint       done,
               guint       total,
               gpointer    user_data)
{
  Progress *progress = user_data;
  gint64 now = g_get_monotonic_time ();

  if (!progress->show || (now - progress->last < 250 * 1000 && done != total))
    return;
  progress->last = now;
  if (total > 0)
    fprintf (stderr, "\r%-10s %u / %u   ", stage, done, total);
  else
    fprintf (stderr, "\r%-10s %u   ", stage, done);
  fflush (stderr);
}

static void
clear_progress (Progress *progress)
{
  if (progress->show)
    fprintf (stderr, "\r%60s\r", "");
}

int
_graft_cli_bench_data (GraftCliGlobals *globals,
                       const char      *model,
                       guint            batch,
                       guint            size,
                       guint            n_images,
                       guint            n_threads,
                       double           seconds,
                       const char      *corpus_dir)
{
  g_autofree char *corpus = corpus_dir != NULL ? g_strdup (corpus_dir) : graft_bench_data_default_corpus ();
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  Progress progress = { !globals->json && isatty (STDERR_FILENO), 0 };
  GraftBenchDataCorpus written;
  GraftBenchDataImport imported;
  GraftBenchDataLoader loaded;
  GraftTrainStepBench trained = { 0 };
  gboolean train = g_strcmp0 (model, "none") != 0;
  json_object *root;

  if (!globals->json)
    {
      printf ("Data pipeline on this machine (%u processors): Fashion-MNIST's %s training images "
              "as PNG files,\nimported and checked, cached, then augmented at %u×%u×3 and "
              "batched (%u per batch).\n\n", g_get_num_processors (),
              n_images > 0 ? "first" : "60,000", size, size, batch);
      fflush (stdout);
    }

  if (!graft_bench_data_corpus (corpus, n_images, show_progress, &progress, NULL, &written, &error))
    {
      clear_progress (&progress);
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  clear_progress (&progress);
  if (!globals->json)
    {
      if (written.written)
        printf ("%-15s %u PNG files written to %s in %.1f s\n", "corpus", written.n_images, corpus,
                written.write_seconds);
      else
        printf ("%-15s %u PNG files in %s (written before)\n", "corpus", written.n_images, corpus);
      fflush (stdout);
    }

  dataset = graft_bench_data_import (corpus, show_progress, &progress, NULL, &imported, &error);
  clear_progress (&progress);
  if (dataset == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (!globals->json)
    {
      printf ("%-15s %u images in %.2f s (%.0f images/s)\n", "import", imported.n_images,
              imported.import_seconds, imported.n_images / MAX (imported.import_seconds, 1e-9));
      printf ("%-15s %u images in %.2f s (%.0f images/s), %u problems\n", "health check",
              imported.n_images, imported.health_seconds,
              imported.n_images / MAX (imported.health_seconds, 1e-9), imported.n_problems);
      fflush (stdout);
    }

  if (!graft_bench_data_loader (dataset, NULL, size, 3, batch, n_threads, seconds,
                                show_progress, &progress, NULL, &loaded, &error))
    {
      clear_progress (&progress);
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  clear_progress (&progress);
  if (!globals->json)
    {
      if (loaded.n_decoded > 0)
        printf ("%-15s %u images decoded into the cache in %.2f s\n", "cache fill",
                loaded.n_decoded, loaded.fill_seconds);
      else
        printf ("%-15s %u images up to date, checked in %.2f s\n", "cache fill",
                loaded.n_cached, loaded.fill_seconds);
      printf ("%-15s %.0f images/s (%u images in %.1f s; %u threads; random resized crop, "
              "flip, colour jitter)\n", "loader", loaded.images_per_second, loaded.n_images,
              loaded.seconds, loaded.n_threads);
      fflush (stdout);
    }

  if (train)
    {
      backend = graft_backend_open (globals->device, &error);
      if (backend == NULL)
        {
          _graft_cli_error ("%s; “graft-cli devices” lists the devices", error->message);
          return GRAFT_CLI_EXIT_FAILURE;
        }
      if (!graft_bench_train_step (backend, model, batch, size, GRAFT_FASHION_MNIST_N_CLASSES,
                                   0.0, &trained, &error))
        {
          _graft_cli_error ("%s on %s: %s", model, graft_backend_get_info (backend)->name, error->message);
          return GRAFT_CLI_EXIT_FAILURE;
        }
      if (!globals->json)
        {
          double ratio = loaded.images_per_second / trained.images_per_second;

          printf ("%-15s %.1f images/s (%s, %u steps of %u on %s)\n", "training step",
                  trained.images_per_second, model, trained.steps, batch,
                  graft_backend_get_info (backend)->name);
          printf ("\nThe loader supplies %.1f× what the training step consumes: %s\n", ratio,
                  ratio >= 1.0 ? "the trainer never waits for images"
                               : "the trainer would wait for images; give the loader more threads");
          if (graft_backend_get_info (backend)->backend == GRAFT_BACKEND_KIND_CPU)
            printf ("(Measured one after the other: training on the CPU, the two share its processors.)\n");
        }
    }

  if (!globals->json)
    return GRAFT_CLI_EXIT_OK;

  root = json_object_new_object ();
  {
    json_object *j = json_object_new_object ();

    json_object_object_add (j, "folder", json_object_new_string (corpus));
    json_object_object_add (j, "images", json_object_new_int ((int) written.n_images));
    json_object_object_add (j, "written", json_object_new_boolean (written.written));
    json_object_object_add (j, "write_seconds", json_object_new_double (written.write_seconds));
    json_object_object_add (root, "corpus", j);
  }
  {
    json_object *j = json_object_new_object ();

    json_object_object_add (j, "images", json_object_new_int ((int) imported.n_images));
    json_object_object_add (j, "import_seconds", json_object_new_double (imported.import_seconds));
    json_object_object_add (j, "health_seconds", json_object_new_double (imported.health_seconds));
    json_object_object_add (j, "problems", json_object_new_int ((int) imported.n_problems));
    json_object_object_add (root, "import", j);
  }
  {
    json_object *j = json_object_new_object ();

    json_object_object_add (j, "size", json_object_new_int ((int) loaded.size));
    json_object_object_add (j, "channels", json_object_new_int ((int) loaded.channels));
    json_object_object_add (j, "batch", json_object_new_int ((int) loaded.batch));
    json_object_object_add (j, "threads", json_object_new_int ((int) loaded.n_threads));
    json_object_object_add (j, "cache_fill_seconds", json_object_new_double (loaded.fill_seconds));
    json_object_object_add (j, "cache_decoded", json_object_new_int ((int) loaded.n_decoded));
    json_object_object_add (j, "images", json_object_new_int ((int) loaded.n_images));
    json_object_object_add (j, "seconds", json_object_new_double (loaded.seconds));
    json_object_object_add (j, "images_per_second", json_object_new_double (loaded.images_per_second));
    json_object_object_add (root, "loader", j);
  }
  if (train)
    {
      json_object *j = json_object_new_object ();

      json_object_object_add (j, "model", json_object_new_string (model));
      json_object_object_add (j, "device", json_object_new_string (graft_backend_get_info (backend)->id));
      json_object_object_add (j, "device_name", json_object_new_string (graft_backend_get_info (backend)->name));
      json_object_object_add (j, "batch", json_object_new_int ((int) batch));
      json_object_object_add (j, "steps", json_object_new_int ((int) trained.steps));
      json_object_object_add (j, "seconds", json_object_new_double (trained.seconds));
      json_object_object_add (j, "images_per_second", json_object_new_double (trained.images_per_second));
      json_object_object_add (root, "train_step", j);
      json_object_object_add (root, "loader_to_train_ratio",
                              json_object_new_double (loaded.images_per_second / trained.images_per_second));
    }
  printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
  return GRAFT_CLI_EXIT_OK;
}
