/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

#include <json-c/json.h>
#include <stdio.h>

#include "graft.h"
#include "graft-cli-private.h"

typedef struct {
  guint32 m, n, k;
} Shape;

static gboolean
parse_shapes (const char  *text,
              GArray      *shapes)
{
  g_auto(GStrv) items = g_strsplit (text, ",", -1);

  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto(GStrv) dims = g_strsplit (g_strstrip (items[i]), "x", -1);
      guint n_dims = g_strv_length (dims);
      guint64 v[3];

      if (n_dims != 1 && n_dims != 3)
        return FALSE;
      for (guint d = 0; d < n_dims; d++)
        if (!g_ascii_string_to_unsigned (dims[d], 10, 1, 1 << 16, &v[d], NULL))
          return FALSE;
      if (n_dims == 1)
        v[1] = v[2] = v[0];
      g_array_append_val (shapes, ((Shape) { (guint32) v[0], (guint32) v[1], (guint32) v[2] }));
    }
  return shapes->len > 0;
}

static json_object *
result_to_json (const GraftGemmBench *r,
                double                openblas_gflops)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "m", json_object_new_int ((int) r->m));
  json_object_object_add (obj, "n", json_object_new_int ((int) r->n));
  json_object_object_add (obj, "k", json_object_new_int ((int) r->k));
  json_object_object_add (obj, "iterations", json_object_new_int ((int) r->iterations));
  json_object_object_add (obj, "seconds", json_object_new_double (r->seconds));
  json_object_object_add (obj, "gflops", json_object_new_double (r->gflops));
  json_object_object_add (obj, "ratio_to_openblas", json_object_new_double (r->gflops / openblas_gflops));
  json_object_object_add (obj, "max_rel_error", json_object_new_double (r->max_rel_error));
  return obj;
}

/* Runs OpenBLAS on each shape and keeps the best GFLOPS in @peer; with @jpeer, also
 * records the results (with the best rate) there. */
static void
measure_openblas (GArray      *shapes,
                  double       min_seconds,
                  double      *peer,
                  json_object *jpeer)
{
  for (guint s = 0; s < shapes->len; s++)
    {
      const Shape *shape = &g_array_index (shapes, Shape, s);
      GraftGemmBench r;

      graft_bench_gemm_openblas (shape->m, shape->n, shape->k, min_seconds, &r);
      peer[s] = MAX (peer[s], r.gflops);
      if (jpeer != NULL)
        {
          r.gflops = peer[s];
          json_object_array_add (jpeer, result_to_json (&r, peer[s]));
        }
    }
}

static int
bench_gemm (GraftCliGlobals *globals,
            GArray          *shapes,
            double           min_seconds,
            gboolean         all_devices)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) vulkan_error = NULL;
  g_autofree double *peer = g_new0 (double, shapes->len);
  json_object *root = json_object_new_object ();
  json_object *jdevices = json_object_new_array ();
  json_object *jpeer = json_object_new_array ();
  int status = GRAFT_CLI_EXIT_OK;

  devices = graft_device_list (&vulkan_error);
  if (!all_devices)
    {
      g_autoptr(GError) error = NULL;
      const GraftDeviceInfo *info = graft_device_select (devices, globals->device, &error);
      GraftDeviceInfo *keep;

      if (info == NULL)
        {
          _graft_cli_error ("%s; “graft-cli devices” lists them", error->message);
          json_object_put (root);
          json_object_put (jdevices);
          json_object_put (jpeer);
          return GRAFT_CLI_EXIT_FAILURE;
        }
      keep = graft_device_info_copy (info);
      g_ptr_array_set_size (devices, 0);
      g_ptr_array_add (devices, keep);
    }

  if (!globals->json)
    {
      printf ("GEMM C = A·B, float32, row-major; GFLOPS = 2·m·n·k per run / time, after a warm-up run.\n");
      printf ("The peer is OpenBLAS called directly on the same machine.\n\n");
      printf ("%-44s %16s %10s %10s %9s\n", "device", "m×n×k", "GFLOPS", "OpenBLAS", "ratio");
    }

  /* The peer runs twice and keeps its better result, so a cold start (thread pool,
   * caches, clock) never flatters the devices' ratios. */
  measure_openblas (shapes, min_seconds, peer, NULL);
  measure_openblas (shapes, min_seconds, peer, jpeer);

  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_autoptr(GraftBackend) backend = NULL;
      g_autoptr(GError) error = NULL;
      json_object *jdev = json_object_new_object ();
      json_object *jresults = json_object_new_array ();

      json_object_object_add (jdev, "id", json_object_new_string (info->id));
      json_object_object_add (jdev, "name", json_object_new_string (info->name));
      json_object_object_add (jdev, "results", jresults);
      json_object_array_add (jdevices, jdev);

      backend = graft_backend_open_device (info, &error);
      for (guint s = 0; backend != NULL && s < shapes->len; s++)
        {
          const Shape *shape = &g_array_index (shapes, Shape, s);
          GraftGemmBench r;
          g_autofree char *dims = g_strdup_printf ("%u×%u×%u", shape->m, shape->n, shape->k);

          if (!graft_bench_gemm (backend, shape->m, shape->n, shape->k, min_seconds, &r, &error))
            break;
          json_object_array_add (jresults, result_to_json (&r, peer[s]));
          if (!globals->json)
            {
              printf ("%-44.44s %16s %10.1f %10.1f %8.2fx\n", info->name, dims, r.gflops, peer[s], r.gflops / peer[s]);
              fflush (stdout);
            }
        }

      if (error != NULL)
        {
          _graft_cli_error ("%s: %s", info->name, error->message);
          json_object_object_add (jdev, "error", json_object_new_string (error->message));
          status = GRAFT_CLI_EXIT_FAILURE;
        }
    }

  if (!globals->json && vulkan_error != NULL)
    printf ("\n%s\n", vulkan_error->message);

  json_object_object_add (root, "openblas", jpeer);
  json_object_object_add (root, "devices", jdevices);
  if (globals->json)
    printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
  return status;
}

static int
bench_train_step (GraftCliGlobals *globals,
                  const char      *model,
                  guint            batch,
                  guint            size,
                  guint            classes,
                  double           min_seconds)
{
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GError) error = NULL;
  GraftTrainStepBench r;

  backend = graft_backend_open (globals->device, &error);
  if (backend == NULL)
    {
      _graft_cli_error ("%s; “graft-cli devices” lists the devices", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (!globals->json)
    {
      printf ("Training step of %s (forward, cross-entropy backward, SGD with momentum) on %u "
              "random %u×%u images, %u classes,\non %s\n", model, batch, size, size, classes,
              graft_backend_get_info (backend)->name);
      fflush (stdout);
    }
  if (!graft_bench_train_step (backend, model, batch, size, classes, min_seconds, &r, &error))
    {
      _graft_cli_error ("%s on %s: %s", model, graft_backend_get_info (backend)->name, error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }

  if (globals->json)
    {
      json_object *root = json_object_new_object ();

      json_object_object_add (root, "model", json_object_new_string (model));
      json_object_object_add (root, "device", json_object_new_string (graft_backend_get_info (backend)->id));
      json_object_object_add (root, "device_name", json_object_new_string (graft_backend_get_info (backend)->name));
      json_object_object_add (root, "batch", json_object_new_int ((int) batch));
      json_object_object_add (root, "size", json_object_new_int ((int) size));
      json_object_object_add (root, "steps", json_object_new_int ((int) r.steps));
      json_object_object_add (root, "seconds", json_object_new_double (r.seconds));
      json_object_object_add (root, "images_per_second", json_object_new_double (r.images_per_second));
      json_object_object_add (root, "first_step_seconds", json_object_new_double (r.first_step_seconds));
      json_object_object_add (root, "activation_bytes", json_object_new_int64 ((gint64) r.activation_bytes));
      json_object_object_add (root, "loss", json_object_new_double (r.loss));
      printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (root);
    }
  else
    printf ("%.2f images/s (%u steps in %.1f s; first step %.1f s; activations %.0f MiB; loss %.3f)\n",
            r.images_per_second, r.steps, r.seconds, r.first_step_seconds,
            r.activation_bytes / 1048576.0, r.loss);
  return GRAFT_CLI_EXIT_OK;
}

int
_graft_cli_bench (GraftCliGlobals  *globals,
                  int               argc,
                  char            **argv)
{
  g_autofree char *sizes = NULL;
  g_autofree char *model = NULL;
  g_autofree char *corpus = NULL;
  gint images = 0, threads = 0;
  g_autoptr(GArray) shapes = g_array_new (FALSE, FALSE, sizeof (Shape));
  double min_seconds = -1;
  gint batch = 32, size = 224, classes = 1000;
  const GOptionEntry entries[] = {
    { "sizes", 0, 0, G_OPTION_ARG_STRING, &sizes, "gemm: comma-separated sizes: N (square) or MxNxK (default 256,512,1024)", "SIZES" },
    { "seconds", 0, 0, G_OPTION_ARG_DOUBLE, &min_seconds, "Time each measurement for at least this long (default 0.5 for gemm, 10 for train-step, 5 for the data loader)", "S" },
    { "model", 0, 0, G_OPTION_ARG_STRING, &model, "train-step: zoo architecture (default resnet18); data: the model trained beside the loader (default mobilenet_v3_small, none to leave it out)", "NAME" },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "train-step, data: images per batch (default 32)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &size, "train-step, data: image side in pixels (default 224)", "PIXELS" },
    { "classes", 0, 0, G_OPTION_ARG_INT, &classes, "train-step: classes of the head (default 1000)", "N" },
    { "images", 0, 0, G_OPTION_ARG_INT, &images, "data: how many Fashion-MNIST images (default all 60000)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "data: loader threads (default one per processor)", "N" },
    { "corpus", 0, 0, G_OPTION_ARG_FILENAME, &corpus, "data: folder for the PNG files (default in the user cache)", "DIR" },
    G_OPTION_ENTRY_NULL
  };
  const char *usage = "usage: graft-cli bench gemm [--sizes=256,512,1024] [--seconds=0.5] [--device=DEVICE] [--json]\n"
                      "       graft-cli bench train-step [--model=resnet18] [--batch=32] [--size=224] [--classes=1000] [--seconds=10] [--device=DEVICE] [--json]\n"
                      "       graft-cli bench data [--images=60000] [--model=mobilenet_v3_small|none] [--batch=32] [--size=224] [--threads=N] [--seconds=5] [--corpus=DIR] [--device=DEVICE] [--json]";

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "gemm|train-step|data",
                         "gemm: measure GEMM speed on every device (or the one --device names)\n"
                         "beside OpenBLAS on the same machine.\n"
                         "train-step: measure images per second of whole training steps of a\n"
                         "zoo model on one device (tests/bench/train_step.py measures PyTorch).\n"
                         "data: import and health-check Fashion-MNIST as PNG files, then the\n"
                         "loader's augmented images per second beside a training step's."))
    return GRAFT_CLI_EXIT_USAGE;

  if (argc != 2 || (!g_str_equal (argv[1], "gemm") && !g_str_equal (argv[1], "train-step") &&
                    !g_str_equal (argv[1], "data")))
    {
      _graft_cli_error ("%s", usage);
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (min_seconds > 600)
    {
      _graft_cli_error ("--seconds must lie between 0 and 600");
      return GRAFT_CLI_EXIT_USAGE;
    }

  if (g_str_equal (argv[1], "data"))
    {
      if (batch < 1 || batch > 4096 || size < 8 || size > 4096 || images < 0 || threads < 0 || threads > 64)
        {
          _graft_cli_error ("--batch, --size, --images or --threads is out of range");
          return GRAFT_CLI_EXIT_USAGE;
        }
      return _graft_cli_bench_data (globals, model != NULL ? model : "mobilenet_v3_small", batch, size,
                                    images, threads, min_seconds >= 0 ? min_seconds : 5.0, corpus);
    }

  if (g_str_equal (argv[1], "train-step"))
    {
      if (batch < 1 || batch > 4096 || size < 8 || size > 4096 || classes < 1 || classes > 100000)
        {
          _graft_cli_error ("--batch, --size or --classes is out of range");
          return GRAFT_CLI_EXIT_USAGE;
        }
      return bench_train_step (globals, model != NULL ? model : "resnet18", batch, size, classes,
                               min_seconds >= 0 ? min_seconds : 10.0);
    }

  if (!parse_shapes (sizes != NULL ? sizes : "256,512,1024", shapes))
    {
      _graft_cli_error ("--sizes: “%s” is not a list like 256,512 or 1024x512x256", sizes);
      return GRAFT_CLI_EXIT_USAGE;
    }

  /* --device (or $GRAFT_DEVICE) narrows the run to one device; else every device runs. */
  return bench_gemm (globals, shapes, min_seconds >= 0 ? min_seconds : 0.5, !globals->device_given);
}
