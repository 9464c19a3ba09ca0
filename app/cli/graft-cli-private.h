/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Exit codes scripts can rely on. */
typedef enum {
  GRAFT_CLI_EXIT_OK = 0,
  GRAFT_CLI_EXIT_FAILURE = 1,  /* the work failed: a device, a file, a shape */
  GRAFT_CLI_EXIT_USAGE = 2,    /* the command line was wrong */
  GRAFT_CLI_EXIT_INTERRUPTED = 130,  /* stopped by Ctrl-C or SIGTERM (a run stays resumable) */
} GraftCliExit;

/* Options every command understands. */
typedef struct {
  char     *device;        /* --device, else $GRAFT_DEVICE, else "auto" */
  gboolean  device_given;  /* whether --device or $GRAFT_DEVICE chose it */
  gboolean  json;    /* --json: machine-readable output on stdout */
} GraftCliGlobals;

/* Each command parses its own argv (argv[0] is the command name). */
int _graft_cli_devices (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_bench   (GraftCliGlobals *globals, int argc, char **argv);
/* graft-cli bench data (graft-cli-bench-data.c); @model "none" leaves out the training step. */
int _graft_cli_bench_data (GraftCliGlobals *globals, const char *model, guint batch, guint size,
                           guint n_images, guint n_threads, double seconds, const char *corpus);
int _graft_cli_forward (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_models  (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_pretrain (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_demo_dataset (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_import  (GraftCliGlobals *globals, int argc, char **argv);
/* graft-cli-runs.c, graft-cli-compare.c */
int _graft_cli_runs    (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_compare (GraftCliGlobals *globals, int argc, char **argv);
/* graft-cli-train.c */
int _graft_cli_train    (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_evaluate (GraftCliGlobals *globals, int argc, char **argv);
int _graft_cli_predict  (GraftCliGlobals *globals, int argc, char **argv);

/* Parses a command's options: @entries (may be NULL) plus --device and --json, which may
 * also follow the command name. On a usage error prints it and returns FALSE. argv keeps
 * the command name and the positional arguments. */
gboolean _graft_cli_parse (GraftCliGlobals    *globals,
                           int                *argc,
                           char             ***argv,
                           const GOptionEntry *entries,
                           const char         *parameters,
                           const char         *summary);

/* Runs @work (@data) on a thread called @name while the main loop waits, and returns when
 * it has returned; meanwhile SIGINT and SIGTERM call @interrupt (@data) on the main thread
 * (it cancels the work, which then ends by itself). */
void _graft_cli_run_interruptible (const char  *name,
                                   GThreadFunc  work,
                                   GSourceFunc  interrupt,
                                   gpointer     data);

/* Prints "graft-cli: MESSAGE" to stderr. */
void _graft_cli_error  (const char *format, ...) G_GNUC_PRINTF (1, 2);

G_END_DECLS
