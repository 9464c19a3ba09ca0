/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli: the engine without a window, for scripts and machines without a display. */

#include <glib-unix.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "graft-config.h"
#include "graft.h"
#include "graft-cli-private.h"

typedef struct {
  const char *name;
  int       (*run) (GraftCliGlobals *globals, int argc, char **argv);
  const char *summary;
} Command;

static const Command commands[] = {
  { "devices", _graft_cli_devices, "List the compute devices of this machine and their limits" },
  { "demo-dataset", _graft_cli_demo_dataset, "Write the demo task (Fashion-MNIST classes 5–9) as PNG class folders" },
  { "import",  _graft_cli_import,  "Import a dataset into a project: health report and stratified split" },
  { "models",  _graft_cli_models,  "The catalog of pre-trained models; fetch or import weights" },
  { "train",    _graft_cli_train,    "Train a model on a project: a saved, evaluated run (resume, continue, baseline)" },
  { "evaluate", _graft_cli_evaluate, "Evaluate a run's model: accuracy, per-class scores, confusion, calibration" },
  { "predict",  _graft_cli_predict,  "Classify images with a run's model" },
  { "pretrain", _graft_cli_pretrain, "Train the bundled model (ResNet-10 on Fashion-MNIST classes 0–4)" },
  { "forward", _graft_cli_forward, "Run a model on tensors in safetensors files (and its gradients)" },
  { "bench",   _graft_cli_bench,   "Measure speed: GEMM per device, training steps, the data pipeline (bench gemm|train-step|data)" },
  { "runs",    _graft_cli_runs,    "The runs saved in a project: list, show one, rename, delete" },
  { "compare", _graft_cli_compare, "Two runs side by side: configuration, metric deltas, images won and lost" },
};

void
_graft_cli_error (const char *format,
                  ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  fprintf (stderr, "graft-cli: %s\n", message);
}

typedef struct {
  GThreadFunc  work;
  gpointer     data;
  GMainLoop   *loop;
} Interruptible;

static gboolean
quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static gpointer
run_work (gpointer user_data)
{
  Interruptible *job = user_data;

  job->work (job->data);
  g_idle_add (quit_loop, job->loop);
  return NULL;
}

void
_graft_cli_run_interruptible (const char  *name,
                              GThreadFunc  work,
                              GSourceFunc  interrupt,
                              gpointer     data)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Interruptible job = { work, data, loop };
  guint sigint = g_unix_signal_add (SIGINT, interrupt, data);
  guint sigterm = g_unix_signal_add (SIGTERM, interrupt, data);
  GThread *thread = g_thread_new (name, run_work, &job);

  g_main_loop_run (loop);
  g_thread_join (thread);
  g_source_remove (sigint);
  g_source_remove (sigterm);
}

gboolean
_graft_cli_parse (GraftCliGlobals    *globals,
                  int                *argc,
                  char             ***argv,
                  const GOptionEntry *entries,
                  const char         *parameters,
                  const char         *summary)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *device = NULL;
  gboolean json = FALSE;
  const GOptionEntry common[] = {
    { "device", 0, 0, G_OPTION_ARG_STRING, &device, "Compute device (see “graft-cli devices”)", "DEVICE" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print machine-readable JSON", NULL },
    G_OPTION_ENTRY_NULL
  };

  context = g_option_context_new (parameters);
  g_option_context_set_summary (context, summary);
  g_option_context_add_main_entries (context, common, NULL);
  if (entries != NULL)
    g_option_context_add_main_entries (context, entries, NULL);

  if (!g_option_context_parse (context, argc, argv, &error))
    {
      _graft_cli_error ("%s", error->message);
      return FALSE;
    }

  if (device != NULL)
    {
      g_free (globals->device);
      globals->device = g_steal_pointer (&device);
      globals->device_given = TRUE;
    }
  globals->json |= json;
  return TRUE;
}

static void
print_usage (FILE *out)
{
  fprintf (out,
           "Usage: graft-cli [--device=DEVICE] [--json] COMMAND [ARGS…]\n"
           "\n"
           "Commands:\n");
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    fprintf (out, "  %-13s %s\n", commands[i].name, commands[i].summary);
  fprintf (out,
           "\n"
           "Options:\n"
           "  --device=DEVICE  auto (default), cpu, a number or id from “graft-cli devices”,\n"
           "                   or part of a device name (e.g. llvmpipe); $GRAFT_DEVICE also works\n"
           "  --json           print machine-readable JSON\n"
           "  --version        print the version\n"
           "\n"
           "“graft-cli COMMAND --help” describes a command.\n");
}

int
main (int    argc,
      char **argv)
{
  GraftCliGlobals globals = { 0 };
  int first = 1;
  int status = GRAFT_CLI_EXIT_USAGE;

  graft_cpu_blas_restart_if_slow (argv);
  setlocale (LC_ALL, "");
  g_set_prgname ("graft-cli");

  /* Global options come before the command name. */
  for (; first < argc && g_str_has_prefix (argv[first], "-"); first++)
    {
      const char *arg = argv[first];

      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        {
          print_usage (stdout);
          g_free (globals.device);
          return GRAFT_CLI_EXIT_OK;
        }
      else if (g_str_equal (arg, "--version"))
        {
          printf ("graft-cli %s\n", GRAFT_VERSION);
          g_free (globals.device);
          return GRAFT_CLI_EXIT_OK;
        }
      else if (g_str_equal (arg, "--json"))
        globals.json = TRUE;
      else if (g_str_has_prefix (arg, "--device="))
        {
          g_free (globals.device);
          globals.device = g_strdup (arg + strlen ("--device="));
          globals.device_given = TRUE;
        }
      else if (g_str_equal (arg, "--device") && first + 1 < argc)
        {
          g_free (globals.device);
          globals.device = g_strdup (argv[++first]);
          globals.device_given = TRUE;
        }
      else
        {
          _graft_cli_error ("unknown option “%s” (see graft-cli --help)", arg);
          g_free (globals.device);
          return GRAFT_CLI_EXIT_USAGE;
        }
    }

  if (globals.device == NULL && g_getenv ("GRAFT_DEVICE") != NULL)
    {
      globals.device = g_strdup (g_getenv ("GRAFT_DEVICE"));
      globals.device_given = TRUE;
    }
  if (globals.device == NULL)
    globals.device = g_strdup ("auto");

  if (first >= argc)
    {
      print_usage (stderr);
    }
  else
    {
      const Command *command = NULL;

      for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
        if (g_str_equal (argv[first], commands[i].name))
          command = &commands[i];

      if (command != NULL)
        status = command->run (&globals, argc - first, argv + first);
      else
        _graft_cli_error ("unknown command “%s” (see graft-cli --help)", argv[first]);
    }

  g_free (globals.device);
  return status;
}
