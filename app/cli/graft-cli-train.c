/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli train, evaluate and predict: a project's runs from the command line
 * (compute/train/graft-trainer.h). */

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-private.h"

/* ---- Running the trainer off the main thread, Ctrl-C cancelling it ---------------------- */

typedef struct {
  GraftTrainRequest   request;
  GraftTrainControl  *control;
  gboolean            terminal;
  gboolean            quiet;
  guint               last_width;
  GraftTrainResult    result;
  GError             *error;
  gboolean            ok;
  gboolean            interrupted;
} Job;

static void
clear_line (Job *job)
{
  if (job->terminal && job->last_width > 0)
    {
      fprintf (stderr, "\r%*s\r", (int) job->last_width, "");
      job->last_width = 0;
    }
}

static void
format_duration (double seconds,
                 char  *out,
                 gsize  size)
{
  guint s = seconds > 0 && seconds < 1e7 ? (guint) (seconds + 0.5) : 0;

  if (s >= 3600)
    g_snprintf (out, size, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  else
    g_snprintf (out, size, "%u:%02u", s / 60, s % 60);
}

static void
on_progress (const GraftTrainProgress *p,
             gpointer                  user_data)
{
  Job *job = user_data;
  char eta[32];

  if (job->quiet)
    return;
  switch (p->phase)
    {
    case GRAFT_TRAIN_PHASE_TRAINING:
      if (job->terminal)
        {
          guint width = 20, filled = p->steps > 0 ? p->step * width / p->steps : 0;
          char bar[32];
          int n;

          for (guint i = 0; i < width; i++)
            bar[i] = i < filled ? '#' : '.';
          bar[width] = '\0';
          format_duration (p->eta_seconds, eta, sizeof eta);
          n = fprintf (stderr, "\rEpoch %u/%u [%s] %u/%u  loss %.4f  lr %.3g  %.0f img/s  ETA %s ",
                       p->epoch, p->epochs, bar, p->step, p->steps, p->loss, p->lr,
                       p->images_per_second, eta);
          job->last_width = MAX (job->last_width, (guint) MAX (n, 0));
          fflush (stderr);
        }
      break;

    case GRAFT_TRAIN_PHASE_EPOCH_END:
      clear_line (job);
      fprintf (stderr, "epoch %u/%u: train loss %.4f", p->epoch, p->epochs, p->train_loss);
      if (!isnan (p->val_loss))
        fprintf (stderr, ", val loss %.4f, val accuracy %.2f%%", p->val_loss,
                 100.0 * p->val_accuracy);
      fprintf (stderr, ", %.0f images/s\n", p->images_per_second);
      break;

    case GRAFT_TRAIN_PHASE_PREPARING:
    case GRAFT_TRAIN_PHASE_CACHING:
    case GRAFT_TRAIN_PHASE_EVALUATING:
      if (job->terminal && p->total > 0)
        {
          int n = fprintf (stderr, "\r%s %u/%u images ",
                           p->phase == GRAFT_TRAIN_PHASE_PREPARING ? "Reading images:"
                           : p->phase == GRAFT_TRAIN_PHASE_CACHING ? "Caching frozen features:"
                                                                   : "Evaluating:",
                           p->done, p->total);
          job->last_width = MAX (job->last_width, (guint) MAX (n, 0));
          fflush (stderr);
        }
      break;

    case GRAFT_TRAIN_PHASE_PAUSED:
      clear_line (job);
      fprintf (stderr, "Paused.\n");
      break;

    case GRAFT_TRAIN_PHASE_VALIDATING:
    default:
      break;
    }
}

static gpointer
run_job (gpointer data)
{
  Job *job = data;

  job->ok = graft_train (&job->request, on_progress, job, job->control, &job->result,
                         &job->error);
  return NULL;
}

static gboolean
on_interrupt (gpointer user_data)
{
  Job *job = user_data;

  clear_line (job);
  fprintf (stderr, "Stopping after the current step…\n");
  job->interrupted = TRUE;
  graft_train_control_cancel (job->control);
  return G_SOURCE_CONTINUE;
}

/* Trains on a thread of its own while the main loop waits for Ctrl-C. */
static void
run_training (Job *job)
{
  job->control = graft_train_control_new ();
  _graft_cli_run_interruptible ("graft-train", run_job, on_interrupt, job);
  clear_line (job);
  graft_train_control_free (job->control);
  job->control = NULL;
}

/* ---- Output ------------------------------------------------------------------------ */

/* run.json without the per-image predictions (they stay in the file). */
static json_object *
run_summary_json (GraftRun *run)
{
  g_autofree char *text = NULL;
  json_object *root, *metrics = NULL;

  if (!g_file_get_contents (graft_run_get_file (run), &text, NULL, NULL))
    return json_object_new_object ();
  root = json_tokener_parse (text);
  if (root == NULL)
    return json_object_new_object ();
  if (json_object_object_get_ex (root, "final_metrics", &metrics))
    json_object_object_del (metrics, "predictions");
  return root;
}

static void
print_metrics_text (const GraftMetrics *m,
                    const char         *split)
{
  guint width = 5;

  printf ("%s accuracy: %.2f%% (%u of %u images)", split, 100.0 * m->accuracy, m->n_correct,
          m->n_images);
  if (m->top_k < m->n_classes)
    printf (", top-%u %.2f%%", m->top_k, 100.0 * m->top_k_accuracy);
  printf ("\nMacro F1 %.3f, weighted F1 %.3f, mean loss %.4f, calibration error (ECE) %.3f\n",
          m->macro.f1, m->weighted.f1, m->mean_loss, m->ece);
  for (guint c = 0; c < m->n_classes; c++)
    if (m->class_names != NULL)
      width = MAX (width, (guint) g_utf8_strlen (m->class_names[c], -1));
  printf ("\n  %-*s  support  precision  recall     F1\n", (int) width, "class");
  for (guint c = 0; c < m->n_classes; c++)
    {
      const GraftClassMetrics *k = &m->per_class[c];
      g_autofree char *name = m->class_names != NULL ? g_strdup (m->class_names[c])
                                                     : g_strdup_printf ("%u", c);
      int pad = (int) width - (int) g_utf8_strlen (name, -1);

      printf ("  %s%*s  %7u  %9.3f  %6.3f  %5.3f\n", name, MAX (pad, 0), "", k->support,
              k->precision, k->recall, k->f1);
    }
  printf ("\nConfusion (rows: true class, columns: predicted as class 1, 2, …)\n");
  for (guint r = 0; r < m->n_classes; r++)
    {
      g_autofree char *name = m->class_names != NULL ? g_strdup (m->class_names[r])
                                                     : g_strdup_printf ("%u", r);
      int pad = (int) width - (int) g_utf8_strlen (name, -1);

      printf ("  %2u %s%*s |", r + 1, name, MAX (pad, 0), "");
      for (guint c = 0; c < m->n_classes; c++)
        printf (" %5u", m->confusion[r * m->n_classes + c]);
      printf ("\n");
    }
  if (m->brightness.present)
    {
      printf ("\nAccuracy by brightness quartile (darkest first):");
      for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
        printf (" %.1f%%", 100.0 * m->brightness.accuracy[q]);
      printf ("\n");
    }
  if (m->size.present && m->size.count[0] < m->n_images)
    {
      printf ("Accuracy by size quartile (smallest first):");
      for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
        printf (m->size.count[q] > 0 ? " %.1f%%" : " —", 100.0 * m->size.accuracy[q]);
      printf ("\n");
    }
}

static void
print_shift (json_object *shift)
{
  json_object *score = NULL, *text = NULL;

  if (shift == NULL || !json_object_object_get_ex (shift, "score", &score) ||
      !json_object_object_get_ex (shift, "recommendation", &text))
    return;
  printf ("Domain shift %.2f: %s\n", json_object_get_double (score), json_object_get_string (text));
}

/* ---- train ------------------------------------------------------------------------- */

typedef struct {
  char    *model;
  gboolean scratch;
  char    *unfreeze;
  char    *freeze;
  char   **lr_factors;
  double   backbone_factor;
  char    *head;
  gint     epochs, batch, image_size, step_epochs, patience;
  double   lr, momentum, weight_decay, warmup, step_gamma, smoothing, clip;
  char    *optimizer, *schedule, *balance, *augment, *early, *feature_cache;
  gboolean no_restore_best;
  gint64   seed;
} TrainFlags;

static gboolean
usage_error (const char *format,
             ...) G_GNUC_PRINTF (1, 2);

static gboolean
usage_error (const char *format,
             ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  _graft_cli_error ("%s", text);
  return FALSE;
}

/* The flags given over @config (which holds the defaults, a --config file's or a parent
 * run's configuration). */
static gboolean
apply_flags (const TrainFlags *f,
             GraftTrainConfig *config)
{
  if (f->model != NULL)
    {
      g_free (config->model);
      config->model = g_strdup (f->model);
    }
  if (f->scratch)
    config->scratch = TRUE;
  if (f->unfreeze != NULL && !graft_unfreeze_from_string (f->unfreeze, &config->unfreeze))
    return usage_error ("--unfreeze takes head, all or a number of blocks, not “%s”", f->unfreeze);
  if (f->freeze != NULL)
    {
      g_auto(GStrv) blocks = g_strsplit (f->freeze, ",", -1);

      for (guint i = 0; blocks[i] != NULL; i++)
        if (blocks[i][0] != '\0')
          graft_train_config_set_block (config, g_strstrip (blocks[i]), 1, -1.0f);
    }
  for (guint i = 0; f->lr_factors != NULL && f->lr_factors[i] != NULL; i++)
    {
      const char *eq = strchr (f->lr_factors[i], '=');
      g_autofree char *block = NULL;
      char *end = NULL;
      double factor;

      if (eq == NULL || eq == f->lr_factors[i])
        return usage_error ("--lr-factor takes BLOCK=FACTOR, not “%s”", f->lr_factors[i]);
      block = g_strndup (f->lr_factors[i], eq - f->lr_factors[i]);
      factor = g_ascii_strtod (eq + 1, &end);
      if (end == eq + 1 || *end != '\0' || !(factor >= 0.0))
        return usage_error ("--lr-factor %s: “%s” is not a factor", block, eq + 1);
      graft_train_config_set_block (config, block, -1, (float) factor);
    }
  if (!isnan (f->backbone_factor))
    config->backbone_lr_factor = (float) f->backbone_factor;
  if (f->head != NULL)
    {
      if (g_str_equal (f->head, "linear"))
        config->head = GRAFT_ZOO_HEAD_LINEAR;
      else if (g_str_equal (f->head, "mlp"))
        config->head = GRAFT_ZOO_HEAD_MLP;
      else
        return usage_error ("--head takes linear or mlp, not “%s”", f->head);
    }
  if (f->epochs >= 0)
    config->epochs = (guint) f->epochs;
  if (f->batch >= 0)
    config->batch_size = (guint) f->batch;
  if (f->image_size >= 0)
    config->image_size = (guint) f->image_size;
  if (f->step_epochs >= 0)
    config->step_epochs = (guint) f->step_epochs;
  if (!isnan (f->lr))
    config->lr = (float) f->lr;
  if (!isnan (f->momentum))
    config->momentum = (float) f->momentum;
  if (!isnan (f->weight_decay))
    config->weight_decay = (float) f->weight_decay;
  if (!isnan (f->warmup))
    config->warmup_epochs = (float) f->warmup;
  if (!isnan (f->step_gamma))
    config->step_gamma = (float) f->step_gamma;
  if (!isnan (f->smoothing))
    config->label_smoothing = (float) f->smoothing;
  if (!isnan (f->clip))
    config->clip_norm = (float) f->clip;
  if (f->optimizer != NULL)
    {
      if (g_ascii_strcasecmp (f->optimizer, "sgd") == 0)
        config->optimizer = GRAFT_TRAIN_OPTIMIZER_SGD;
      else if (g_ascii_strcasecmp (f->optimizer, "adamw") == 0)
        config->optimizer = GRAFT_TRAIN_OPTIMIZER_ADAMW;
      else
        return usage_error ("--optimizer takes sgd or adamw, not “%s”", f->optimizer);
    }
  if (f->schedule != NULL && !graft_schedule_from_string (f->schedule, &config->schedule))
    return usage_error ("--schedule takes constant, step, cosine or one-cycle, not “%s”", f->schedule);
  if (f->balance != NULL && !graft_balance_from_string (f->balance, &config->balance))
    return usage_error ("--balance takes none, weights or sampler, not “%s”", f->balance);
  if (f->augment != NULL && !graft_augment_level_from_string (f->augment, &config->augment))
    return usage_error ("--augment takes none, light or standard, not “%s”", f->augment);
  if (f->early != NULL)
    {
      g_auto(GStrv) parts = g_strsplit (f->early, ":", 2);
      guint64 patience;

      if (parts[0] == NULL || parts[1] == NULL ||
          !g_ascii_string_to_unsigned (parts[1], 10, 1, 100000, &patience, NULL))
        return usage_error ("--early-stop takes METRIC:PATIENCE (val_accuracy:5), not “%s”", f->early);
      g_free (config->early_metric);
      config->early_metric = g_strdup (parts[0]);
      config->patience = (guint) patience;
    }
  if (f->no_restore_best)
    config->restore_best = FALSE;
  if (f->feature_cache != NULL)
    {
      if (!g_str_equal (f->feature_cache, "auto") && !g_str_equal (f->feature_cache, "off"))
        return usage_error ("--feature-cache takes auto or off, not “%s”", f->feature_cache);
      config->feature_cache = g_str_equal (f->feature_cache, "auto");
    }
  if (f->seed >= 0)
    config->seed = (guint64) f->seed;
  return TRUE;
}

static gboolean
read_config_file (const char       *path,
                  GraftTrainConfig *config,
                  GError          **error)
{
  g_autofree char *text = NULL;
  json_object *object;
  gboolean ok;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  object = json_tokener_parse (text);
  if (object == NULL)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG, "%s is not JSON", path);
      return FALSE;
    }
  ok = graft_train_config_from_json (object, config, error);
  json_object_put (object);
  if (!ok)
    g_prefix_error (error, "%s: ", path);
  return ok;
}

/* Trains one run; prints what it did. Returns the exit code. */
static int
train_one (GraftCliGlobals   *globals,
           Job               *job,
           const char        *project_dir,
           GraftRun         **run_out)
{
  run_training (job);
  if (job->result.run_id != NULL)
    *run_out = graft_run_open (project_dir, job->result.run_id, NULL);
  if (!job->ok)
    {
      gboolean cancelled = g_error_matches (job->error, G_IO_ERROR, G_IO_ERROR_CANCELLED);

      if (cancelled && job->result.run_id != NULL)
        fprintf (stderr, "Run %s stopped after %u epochs. Resume it with:\n"
                 "  graft-cli train %s --resume %s\n", job->result.run_id,
                 job->result.epochs_done, project_dir, job->result.run_id);
      else
        _graft_cli_error ("%s", job->error->message);
      if (globals->json && *run_out != NULL)
        {
          json_object *summary = run_summary_json (*run_out);

          printf ("%s\n", json_object_to_json_string_ext (summary, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
          json_object_put (summary);
        }
      return cancelled ? GRAFT_CLI_EXIT_INTERRUPTED : GRAFT_CLI_EXIT_FAILURE;
    }
  return GRAFT_CLI_EXIT_OK;
}

static void
print_run (GraftRun         *run,
           GraftTrainResult *result,
           json_object      *verdict)
{
  printf ("Run %s “%s”: %s after %u epoch%s in %.1f s\n", graft_run_get_id (run),
          graft_run_get_name (run), graft_run_status_to_string (graft_run_get_status (run)),
          result->epochs_done, result->epochs_done == 1 ? "" : "s", result->train_seconds);
  printf ("Feature cache %s\n", result->feature_cache);
  if (result->best_epoch > 0)
    printf ("Early stopping kept the weights of epoch %u\n", result->best_epoch);
  print_shift (graft_run_get_member (run, "domain_shift"));
  if (result->metrics != NULL)
    print_metrics_text (result->metrics, g_strcmp0 (result->evaluated_on, "test") == 0
                                         ? "Test" : "Validation");
  if (verdict != NULL)
    {
      json_object *v = NULL, *advice = NULL;

      json_object_object_get_ex (verdict, "verdict", &v);
      printf ("\n%s\n", json_object_get_string (v));
      if (json_object_object_get_ex (verdict, "advice", &advice))
        printf ("%s\n", json_object_get_string (advice));
    }
}

int
_graft_cli_train (GraftCliGlobals  *globals,
                  int               argc,
                  char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GraftRun) run = NULL;
  g_autoptr(GraftRun) baseline_run = NULL;
  g_auto(GraftTrainConfig) config = { 0 };
  g_autofree char *config_file = NULL;
  g_autofree char *name = NULL;
  g_autofree char *resume = NULL;
  g_autofree char *parent = NULL;
  json_object *verdict = NULL;
  gboolean baseline = FALSE, quiet = FALSE;
  TrainFlags f = { 0 };
  Job job = { 0 };
  int code;
  const GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_STRING, &f.model, "Pre-trained model to start from (see “graft-cli models”)", "NAME" },
    { "scratch", 0, 0, G_OPTION_ARG_NONE, &f.scratch, "Random weights of the model's architecture, every block trained", NULL },
    { "unfreeze", 0, 0, G_OPTION_ARG_STRING, &f.unfreeze, "Blocks that learn: head (default), all, or N (the last N and the head)", "WHICH" },
    { "freeze", 0, 0, G_OPTION_ARG_STRING, &f.freeze, "Keep these blocks frozen whatever --unfreeze says", "BLOCK,…" },
    { "lr-factor", 0, 0, G_OPTION_ARG_STRING_ARRAY, &f.lr_factors, "Learning rate of BLOCK × FACTOR (repeatable)", "BLOCK=FACTOR" },
    { "backbone-lr-factor", 0, 0, G_OPTION_ARG_DOUBLE, &f.backbone_factor, "Learning rate of every block but the head × FACTOR (default 1)", "FACTOR" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &f.head, "New head: linear (default) or mlp", "KIND" },
    { "epochs", 0, 0, G_OPTION_ARG_INT, &f.epochs, "Epochs (default 20)", "N" },
    { "batch-size", 0, 0, G_OPTION_ARG_INT, &f.batch, "Images per step (default 32)", "N" },
    { "image-size", 0, 0, G_OPTION_ARG_INT, &f.image_size, "Input side in pixels (default: the model's)", "N" },
    { "lr", 0, 0, G_OPTION_ARG_DOUBLE, &f.lr, "Learning rate, the peak of one-cycle (default 0.01)", "LR" },
    { "optimizer", 0, 0, G_OPTION_ARG_STRING, &f.optimizer, "sgd (default, Nesterov momentum) or adamw", "NAME" },
    { "momentum", 0, 0, G_OPTION_ARG_DOUBLE, &f.momentum, "SGD momentum (default 0.9)", "M" },
    { "weight-decay", 0, 0, G_OPTION_ARG_DOUBLE, &f.weight_decay, "Weight decay (default 5e-4)", "WD" },
    { "schedule", 0, 0, G_OPTION_ARG_STRING, &f.schedule, "constant, step, cosine or one-cycle (default)", "NAME" },
    { "warmup", 0, 0, G_OPTION_ARG_DOUBLE, &f.warmup, "Warm-up epochs (default 0; one-cycle: 30 % of the run)", "N" },
    { "step-epochs", 0, 0, G_OPTION_ARG_INT, &f.step_epochs, "Step schedule: epochs between steps (default 10)", "N" },
    { "step-gamma", 0, 0, G_OPTION_ARG_DOUBLE, &f.step_gamma, "Step schedule: factor at each step (default 0.1)", "G" },
    { "label-smoothing", 0, 0, G_OPTION_ARG_DOUBLE, &f.smoothing, "Label smoothing (default 0)", "E" },
    { "balance", 0, 0, G_OPTION_ARG_STRING, &f.balance, "Unbalanced classes: none (default), weights or sampler", "HOW" },
    { "augment", 0, 0, G_OPTION_ARG_STRING, &f.augment, "none, light (default) or standard", "LEVEL" },
    { "early-stop", 0, 0, G_OPTION_ARG_STRING, &f.early, "Stop when val_accuracy or val_loss has not improved for PATIENCE epochs", "METRIC:PATIENCE" },
    { "no-restore-best", 0, 0, G_OPTION_ARG_NONE, &f.no_restore_best, "With --early-stop, keep the last epoch's weights, not the best", NULL },
    { "clip", 0, 0, G_OPTION_ARG_DOUBLE, &f.clip, "Clip the gradient norm at this value (default: off)", "NORM" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &f.seed, "Seed of the head, the order and the augmentation (default 0)", "N" },
    { "feature-cache", 0, 0, G_OPTION_ARG_STRING, &f.feature_cache, "auto (default) or off", "MODE" },
    { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_file, "Start from this JSON configuration (run.json's “config”)", "FILE" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &name, "The run's name", "NAME" },
    { "resume", 0, 0, G_OPTION_ARG_STRING, &resume, "Resume this interrupted run from its last checkpoint", "RUN" },
    { "continue", 0, 0, G_OPTION_ARG_STRING, &parent, "Continue this finished run as a new run (more epochs, new images)", "RUN" },
    { "baseline", 0, 0, G_OPTION_ARG_NONE, &baseline, "Also train from scratch with the same configuration, and compare", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress", NULL },
    G_OPTION_ENTRY_NULL
  };

  f.backbone_factor = f.lr = f.momentum = f.weight_decay = f.warmup = NAN;
  f.step_gamma = f.smoothing = f.clip = NAN;
  f.epochs = f.batch = f.image_size = f.step_epochs = -1;
  f.seed = -1;
  code = GRAFT_CLI_EXIT_USAGE;
  if (!_graft_cli_parse (globals, &argc, &argv, entries, "PROJECT",
                         "Train a model on a project's images and keep the run in PROJECT/runs/.\n"
                         "Ctrl-C stops after the current step; --resume RUN goes on from the last\n"
                         "completed epoch."))
    goto out;
  if (argc != 2)
    {
      _graft_cli_error ("usage: graft-cli train PROJECT --model NAME [options] | --resume RUN | --continue RUN");
      goto out;
    }
  if (resume != NULL && (parent != NULL || baseline || config_file != NULL))
    {
      _graft_cli_error ("--resume goes on with the run's own configuration: give it alone");
      goto out;
    }

  graft_train_config_init (&config);
  if (parent != NULL)
    {
      g_autoptr(GraftRun) p = graft_run_open (argv[1], parent, &error);

      if (p == NULL ||
          (graft_train_config_clear (&config),
           !graft_train_config_from_json (graft_run_get_config (p), &config, &error)))
        {
          _graft_cli_error ("%s", error->message);
          code = GRAFT_CLI_EXIT_FAILURE;
          goto out;
        }
    }
  else if (config_file != NULL)
    {
      graft_train_config_clear (&config);
      if (!read_config_file (config_file, &config, &error))
        {
          _graft_cli_error ("%s", error->message);
          code = GRAFT_CLI_EXIT_FAILURE;
          goto out;
        }
    }
  if (resume == NULL)
    {
      if (!apply_flags (&f, &config))
        goto out;
      if (config.model == NULL)
        {
          _graft_cli_error ("name the model to start from with --model (see “graft-cli models”)");
          goto out;
        }
      if (!graft_train_config_check (&config, &error))
        {
          _graft_cli_error ("%s", error->message);
          goto out;
        }
    }

  backend = graft_backend_open (globals->device, &error);
  if (backend == NULL)
    {
      _graft_cli_error ("%s", error->message);
      code = GRAFT_CLI_EXIT_FAILURE;
      goto out;
    }

  job.request.project_dir = argv[1];
  job.request.backend = backend;
  job.request.config = resume != NULL ? NULL : &config;
  job.request.name = name;
  job.request.resume_id = resume;
  job.request.parent_id = parent;
  job.terminal = isatty (STDERR_FILENO);
  job.quiet = quiet;
  if (!quiet)
    fprintf (stderr, "Training on %s…\n", graft_backend_get_info (backend)->name);
  code = train_one (globals, &job, argv[1], &run);
  if (code != GRAFT_CLI_EXIT_OK)
    goto out;

  if (baseline)
    {
      g_auto(GraftTrainConfig) scratch = { 0 };
      g_autofree char *scratch_name = NULL;
      Job twin = { 0 };

      graft_train_config_copy (&config, &scratch);
      scratch.scratch = TRUE;
      scratch_name = g_strdup_printf ("from scratch (baseline of %s)", graft_run_get_id (run));
      twin.request = job.request;
      twin.request.config = &scratch;
      twin.request.name = scratch_name;
      twin.request.parent_id = NULL;
      twin.terminal = job.terminal;
      twin.quiet = quiet;
      if (!quiet)
        fprintf (stderr, "Training the from-scratch baseline…\n");
      code = train_one (globals, &twin, argv[1], &baseline_run);
      graft_train_result_clear (&twin.result);
      g_clear_error (&twin.error);
      if (code != GRAFT_CLI_EXIT_OK)
        goto out;
      verdict = graft_transfer_verdict (run, baseline_run);
      if (verdict != NULL)
        {
          graft_run_set_member (run, "transfer", json_object_get (verdict));
          graft_run_set_member (baseline_run, "transfer", json_object_get (verdict));
          if (!graft_run_save (run, &error) || !graft_run_save (baseline_run, &error))
            {
              _graft_cli_error ("%s", error->message);
              code = GRAFT_CLI_EXIT_FAILURE;
              goto out;
            }
        }
    }

  if (globals->json)
    {
      json_object *summary = run_summary_json (run);

      json_object_object_add (summary, "feature_cache", json_object_new_string (job.result.feature_cache));
      if (baseline_run != NULL)
        json_object_object_add (summary, "baseline", run_summary_json (baseline_run));
      printf ("%s\n", json_object_to_json_string_ext (summary, JSON_C_TO_STRING_PRETTY |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (summary);
    }
  else
    print_run (run, &job.result, verdict);

out:
  json_object_put (verdict);
  graft_train_result_clear (&job.result);
  g_clear_error (&job.error);
  g_free (f.model);
  g_free (f.unfreeze);
  g_free (f.freeze);
  g_strfreev (f.lr_factors);
  g_free (f.head);
  g_free (f.optimizer);
  g_free (f.schedule);
  g_free (f.balance);
  g_free (f.augment);
  g_free (f.early);
  g_free (f.feature_cache);
  return code;
}

/* ---- evaluate and predict ----------------------------------------------------------- */

/* The run @id of @project_dir, its model loaded for batches of @batch. */
static GraftModel *
load_run_model (const char             *project_dir,
                const char             *id,
                GraftBackend           *backend,
                guint                   batch,
                GraftTrainedModelInfo  *info,
                GraftRun              **run_out,
                GError                **error)
{
  g_autoptr(GraftRun) run = graft_run_open (project_dir, id, error);
  GraftModel *model;

  if (run == NULL)
    return NULL;
  model = graft_trained_model_load (backend, graft_run_get_dir (run), batch, info, error);
  if (model != NULL && run_out != NULL)
    *run_out = g_steal_pointer (&run);
  return model;
}

static gboolean
same_classes (GraftDataset                *dataset,
              const GraftTrainedModelInfo *info,
              const char                  *id,
              GError                     **error)
{
  gboolean same = dataset->classes->len == info->n_classes;

  for (guint c = 0; same && c < info->n_classes; c++)
    same = g_str_equal (g_ptr_array_index (dataset->classes, c), info->classes[c]);
  if (!same)
    g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                 "The project's classes are no longer those run %s was trained on: "
                 "continue the run to train on them", id);
  return same;
}

/* The image cache for an evaluation of @split; without one (the note says why) the files
 * are read, slower but the same. FALSE only when cancelled. */
static gboolean
open_image_cache (GraftDataset                *dataset,
                  GraftSplit                   split,
                  const GraftTrainedModelInfo *info,
                  GraftImageCache            **cache,
                  GError                     **error)
{
  g_autofree char *note = NULL;

  *cache = graft_image_cache_prepare (NULL, dataset, split, info->input.size,
                                      info->input.channels, NULL, NULL, NULL, &note, error);
  if (*cache == NULL && note != NULL)
    g_debug ("Image cache %s", note);
  return *cache != NULL || note != NULL;
}

int
_graft_cli_evaluate (GraftCliGlobals  *globals,
                     int               argc,
                     char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftMetrics) metrics = NULL;
  g_autoptr(GraftImageCache) cache = NULL;
  g_auto(GraftTrainedModelInfo) info = { 0 };
  g_autofree char *split_text = NULL;
  GraftPredictions p = { 0 };
  GraftSplit split = GRAFT_SPLIT_TEST;
  gboolean with_predictions = FALSE;
  const GOptionEntry entries[] = {
    { "split", 0, 0, G_OPTION_ARG_STRING, &split_text, "Images to evaluate on: test (default), val or train", "SPLIT" },
    { "predictions", 0, 0, G_OPTION_ARG_NONE, &with_predictions, "With --json, every image's prediction too", NULL },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "PROJECT RUN",
                         "Evaluate a run's model on the project's images as they are now."))
    return GRAFT_CLI_EXIT_USAGE;
  if (argc != 3)
    {
      _graft_cli_error ("usage: graft-cli evaluate PROJECT RUN [--split test|val|train] [--json]");
      return GRAFT_CLI_EXIT_USAGE;
    }
  if (split_text != NULL)
    {
      if (g_str_equal (split_text, "test"))
        split = GRAFT_SPLIT_TEST;
      else if (g_str_equal (split_text, "val"))
        split = GRAFT_SPLIT_VAL;
      else if (g_str_equal (split_text, "train"))
        split = GRAFT_SPLIT_TRAIN;
      else
        {
          _graft_cli_error ("--split takes test, val or train, not “%s”", split_text);
          return GRAFT_CLI_EXIT_USAGE;
        }
    }

  backend = graft_backend_open (globals->device, &error);
  if (backend == NULL ||
      (model = load_run_model (argv[1], argv[2], backend, 32, &info, NULL, &error)) == NULL ||
      (dataset = graft_train_open_dataset (argv[1], NULL, NULL, &error)) == NULL ||
      !same_classes (dataset, &info, argv[2], &error) ||
      !open_image_cache (dataset, split, &info, &cache, &error) ||
      !graft_predict_split (model, 0, dataset, split, cache, &info.input, NULL, NULL, NULL, &p,
                            &error) ||
      (metrics = graft_predictions_metrics (&p, (const char * const *) info.classes, &error)) == NULL)
    {
      graft_predictions_clear (&p);
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  graft_predictions_clear (&p);

  if (globals->json)
    {
      json_object *o = graft_metrics_to_json (metrics, with_predictions ? GRAFT_METRICS_JSON_DEFAULT
                                                                        : GRAFT_METRICS_JSON_NO_PREDICTIONS);

      json_object_object_add (o, "run", json_object_new_string (argv[2]));
      json_object_object_add (o, "split", json_object_new_string (graft_split_to_string (split)));
      printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (o);
    }
  else
    {
      g_autofree char *title = g_strdup (graft_split_to_string (split));

      title[0] = g_ascii_toupper (title[0]);
      print_metrics_text (metrics, title);
    }
  return GRAFT_CLI_EXIT_OK;
}

int
_graft_cli_predict (GraftCliGlobals  *globals,
                    int               argc,
                    char            **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftDataset) dataset = NULL;
  g_auto(GraftTrainedModelInfo) info = { 0 };
  g_autoptr(GPtrArray) missing = g_ptr_array_new_with_free_func (g_free);
  GraftPredictions p = { 0 };
  json_object *list = NULL;
  gint top = 3;
  int code = GRAFT_CLI_EXIT_OK;
  const GOptionEntry entries[] = {
    { "top", 0, 0, G_OPTION_ARG_INT, &top, "Classes to show per image (default 3)", "K" },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "PROJECT RUN IMAGE…",
                         "Classify images with a run's model."))
    return GRAFT_CLI_EXIT_USAGE;
  if (argc < 4 || top < 1)
    {
      _graft_cli_error ("usage: graft-cli predict PROJECT RUN IMAGE… [--top K] [--json]");
      return GRAFT_CLI_EXIT_USAGE;
    }

  backend = graft_backend_open (globals->device, &error);
  if (backend == NULL ||
      (model = load_run_model (argv[1], argv[2], backend, (guint) MIN (argc - 3, 32), &info, NULL,
                               &error)) == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }

  /* The images as a dataset of the model's classes, each labelled 0 (the label is not read). */
  dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, "/");
  for (guint c = 0; c < info.n_classes; c++)
    graft_dataset_add_class (dataset, info.classes[c]);
  for (int i = 3; i < argc; i++)
    {
      g_autoptr(GFile) file = g_file_new_for_commandline_arg (argv[i]);
      GraftSample *sample;

      if (!g_file_test (argv[i], G_FILE_TEST_IS_REGULAR))
        {
          g_ptr_array_add (missing, g_strdup_printf ("%s: no such image file", argv[i]));
          continue;
        }
      sample = graft_dataset_add_sample (dataset, g_file_get_path (file), g_strdup (argv[i]), 0);
      sample->usable = TRUE;
    }
  for (guint i = 0; i < missing->len; i++)
    _graft_cli_error ("%s", (char *) g_ptr_array_index (missing, i));
  if (dataset->samples->len == 0)
    return GRAFT_CLI_EXIT_FAILURE;
  if (!graft_predict_split (model, 0, dataset, GRAFT_SPLIT_NONE, NULL, &info.input, NULL, NULL,
                            NULL, &p,
                            &error))
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  for (guint i = 0; p.problems != NULL && i < p.problems->len; i++)
    _graft_cli_error ("%s", (char *) g_ptr_array_index (p.problems, i));
  if (missing->len > 0 || (p.problems != NULL && p.problems->len > 0))
    code = GRAFT_CLI_EXIT_FAILURE;

  if (globals->json)
    list = json_object_new_array ();
  for (guint i = 0; i < p.n_images; i++)
    {
      const float *probs = p.probs + (gsize) i * p.n_classes;
      g_autofree guint *order = g_new (guint, p.n_classes);
      guint k = MIN ((guint) top, p.n_classes);
      json_object *entry = NULL, *classes = NULL;

      for (guint c = 0; c < p.n_classes; c++)
        order[c] = c;
      for (guint a = 0; a < k; a++)
        for (guint b = a + 1; b < p.n_classes; b++)
          if (probs[order[b]] > probs[order[a]])
            {
              guint tmp = order[a];
              order[a] = order[b];
              order[b] = tmp;
            }
      if (list != NULL)
        {
          entry = json_object_new_object ();
          classes = json_object_new_array ();
          json_object_object_add (entry, "image", json_object_new_string (p.names[i]));
          json_object_object_add (entry, "predicted", json_object_new_string (info.classes[order[0]]));
          json_object_object_add (entry, "confidence", json_object_new_double (probs[order[0]]));
        }
      else
        printf ("%s: %s %.1f%%", p.names[i], info.classes[order[0]], 100.0 * probs[order[0]]);
      for (guint a = 0; a < k; a++)
        if (classes != NULL)
          {
            json_object *c = json_object_new_object ();

            json_object_object_add (c, "class", json_object_new_string (info.classes[order[a]]));
            json_object_object_add (c, "probability", json_object_new_double (probs[order[a]]));
            json_object_array_add (classes, c);
          }
        else if (a > 0)
          printf ("%s %s %.1f%%", a == 1 ? "  (then" : ",", info.classes[order[a]],
                  100.0 * probs[order[a]]);
      if (entry != NULL)
        {
          json_object_object_add (entry, "top", classes);
          json_object_array_add (list, entry);
        }
      else
        printf ("%s\n", k > 1 ? ")" : "");
    }
  if (list != NULL)
    {
      json_object *root = json_object_new_object ();

      json_object_object_add (root, "run", json_object_new_string (argv[2]));
      json_object_object_add (root, "predictions", list);
      printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (root);
    }
  graft_predictions_clear (&p);
  return code;
}
