/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-trainer.h"
#include "graft-trainer-private.h"
#include "graft-transfer.h"
#include "data/graft-dataset-health.h"
#include "data/graft-loader.h"
#include "nn/zoo/graft-catalog.h"
#include "nn/zoo/graft-zoo-adapt.h"
#include "project/graft-project.h"

#define CHECKPOINT_FILE "checkpoint.safetensors"
#define BEST_FILE       "best.safetensors"
#define META_PREFIX     "graft/"

/* ---- Control ------------------------------------------------------------------------ */

struct _GraftTrainControl {
  GMutex        lock;
  GCond         cond;
  gboolean      paused;
  GCancellable *cancellable;
};

GraftTrainControl *
graft_train_control_new (void)
{
  GraftTrainControl *self = g_new0 (GraftTrainControl, 1);

  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->cancellable = g_cancellable_new ();
  return self;
}

void
graft_train_control_free (GraftTrainControl *self)
{
  if (self == NULL)
    return;
  g_object_unref (self->cancellable);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  g_free (self);
}

void
graft_train_control_cancel (GraftTrainControl *self)
{
  g_return_if_fail (self != NULL);
  g_cancellable_cancel (self->cancellable);
  g_mutex_lock (&self->lock);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

void
graft_train_control_pause (GraftTrainControl *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->lock);
  self->paused = TRUE;
  g_mutex_unlock (&self->lock);
}

void
graft_train_control_resume (GraftTrainControl *self)
{
  g_return_if_fail (self != NULL);
  g_mutex_lock (&self->lock);
  self->paused = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

gboolean
graft_train_control_is_paused (GraftTrainControl *self)
{
  gboolean paused;

  g_return_val_if_fail (self != NULL, FALSE);
  g_mutex_lock (&self->lock);
  paused = self->paused;
  g_mutex_unlock (&self->lock);
  return paused;
}

GCancellable *
graft_train_control_get_cancellable (GraftTrainControl *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->cancellable;
}

const char *
graft_train_phase_to_string (GraftTrainPhase phase)
{
  static const char *const names[] = {
    "preparing", "caching", "training", "validating", "epoch-end", "paused", "evaluating",
  };
  return (guint) phase < G_N_ELEMENTS (names) ? names[phase] : "?";
}

void
graft_train_result_clear (GraftTrainResult *result)
{
  if (result == NULL)
    return;
  g_free (result->run_id);
  g_free (result->feature_cache);
  g_free (result->evaluated_on);
  g_clear_pointer (&result->metrics, graft_metrics_free);
  memset (result, 0, sizeof *result);
}

char *
graft_train_config_describe (const GraftTrainConfig *config)
{
  GString *text = g_string_new (NULL);
  char lr[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (lr, sizeof lr, "%g", (double) config->lr);
  if (config->scratch)
    g_string_append (text, "from scratch");
  else if (config->unfreeze == GRAFT_UNFREEZE_HEAD)
    g_string_append (text, "head only");
  else if (config->unfreeze == GRAFT_UNFREEZE_ALL)
    g_string_append (text, "fine-tune all");
  else
    g_string_append_printf (text, "last %d block%s + head", config->unfreeze,
                            config->unfreeze == 1 ? "" : "s");
  g_string_append_printf (text, ", lr %s, %u epochs", lr, config->epochs);
  return g_string_free (text, FALSE);
}

/* ---- The trainer's state -------------------------------------------------------------- */

static void
feature_set_clear (FeatureSet *set)
{
  g_clear_pointer (&set->data, g_free);
  g_clear_pointer (&set->labels, g_free);
  g_clear_pointer (&set->samples, g_free);
  set->n = 0;
}

static void
trainer_clear (Trainer *t)
{
  feature_set_clear (&t->train_features);
  feature_set_clear (&t->val_features);
  g_clear_pointer (&t->optimizer, graft_optimizer_free);
  g_clear_pointer (&t->target, graft_tensor_unref);
  g_clear_pointer (&t->class_weight, graft_tensor_unref);
  g_clear_pointer (&t->model, graft_model_unref);
  g_clear_pointer (&t->image_cache, graft_image_cache_free);
  g_clear_pointer (&t->train_set, graft_dataset_free);
  g_clear_pointer (&t->dataset, graft_dataset_free);
  g_clear_pointer (&t->project, graft_project_free);
  g_clear_pointer (&t->entry, graft_catalog_entry_free);
  g_clear_pointer (&t->run, graft_run_free);
  g_clear_pointer (&t->rows, g_array_unref);
  g_clear_pointer (&t->cache_note, g_free);
  g_clear_pointer (&t->image_cache_note, g_free);
  g_clear_pointer (&t->plan, json_object_put);
  g_clear_pointer (&t->adapt_lines, json_object_put);
  g_clear_pointer (&t->timer, g_timer_destroy);
  graft_trained_model_info_clear (&t->info);
  graft_train_config_clear (&t->config);
}

static void
report (Trainer         *t,
        GraftTrainPhase  phase)
{
  t->progress_state.phase = phase;
  t->progress_state.run_id = t->run != NULL ? graft_run_get_id (t->run) : NULL;
  if (t->progress != NULL)
    t->progress (&t->progress_state, t->user_data);
}

/* Images done of total, in the phase set before the work began (caching, validating,
 * evaluating, preparing). */
static void
on_images_progress (guint    done,
                    guint    total,
                    gpointer user_data)
{
  Trainer *t = user_data;

  t->progress_state.done = done;
  t->progress_state.total = total;
  report (t, t->progress_state.phase);
}

/* Holds the trainer while paused; FALSE with G_IO_ERROR_CANCELLED once cancelled. */
static gboolean
checkpoint_control (Trainer *t,
                    GError **error)
{
  GraftTrainControl *control = t->control;

  if (control != NULL)
    {
      gboolean reported = FALSE;

      g_mutex_lock (&control->lock);
      while (control->paused && !g_cancellable_is_cancelled (control->cancellable))
        {
          if (!reported)
            {
              g_mutex_unlock (&control->lock);
              report (t, GRAFT_TRAIN_PHASE_PAUSED);
              g_mutex_lock (&control->lock);
              reported = TRUE;
              continue;
            }
          g_cond_wait (&control->cond, &control->lock);
        }
      g_mutex_unlock (&control->lock);
    }
  return !g_cancellable_set_error_if_cancelled (t->cancellable, error);
}

/* ---- Data ----------------------------------------------------------------------------- */

static guint
count_split (GraftDataset *dataset,
             GraftSplit    split)
{
  guint n = 0;

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      const GraftSample *s = g_ptr_array_index (dataset->samples, i);
      n += s->usable && s->label >= 0 && s->split == split;
    }
  return n;
}

GraftDataset *
graft_train_open_dataset (const char    *project_dir,
                          GraftProject **project_out,
                          GCancellable  *cancellable,
                          GError       **error)
{
  g_autoptr(GraftProject) project = NULL;
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftDatasetHealth) health = NULL;
  GraftHealthOptions health_options;
  GraftProjectChanges changes = { 0 };
  gboolean ok;

  g_return_val_if_fail (project_dir != NULL, NULL);

  project = graft_project_open (project_dir, error);
  if (project == NULL)
    return NULL;
  if (graft_project_get_task (project) != GRAFT_TASK_CLASSIFICATION)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "%s is a detection project; the trainer trains classifiers",
                   graft_project_get_file (project));
      return NULL;
    }
  if (graft_project_get_source (project) == NULL)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "%s has no images yet: import a dataset into it first",
                   graft_project_get_file (project));
      return NULL;
    }
  dataset = graft_dataset_import (graft_project_get_source (project),
                                  graft_project_get_format (project),
                                  NULL, NULL, cancellable, error);
  if (dataset == NULL)
    return NULL;
  graft_health_options_init (&health_options);
  health_options.remember = TRUE;   /* a run reads only the images changed since the last */
  health = graft_dataset_check_health (dataset, &health_options, NULL, NULL, cancellable, error);
  if (health == NULL)
    return NULL;
  ok = graft_project_apply (project, dataset, health, &changes, error);
  graft_project_changes_clear (&changes);
  if (!ok)
    return NULL;
  if (project_out != NULL)
    *project_out = g_steal_pointer (&project);
  return g_steal_pointer (&dataset);
}

static gboolean
load_data (Trainer *t,
           GError **error)
{
  t->dataset = graft_train_open_dataset (t->request->project_dir, &t->project, t->cancellable,
                                         error);
  if (t->dataset == NULL)
    return FALSE;

  t->n_train = count_split (t->dataset, GRAFT_SPLIT_TRAIN);
  t->n_val = count_split (t->dataset, GRAFT_SPLIT_VAL);
  t->n_test = count_split (t->dataset, GRAFT_SPLIT_TEST);
  t->n_classes = t->dataset->classes->len;
  if (t->n_train == 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "The project in %s has no usable training images",
                   t->request->project_dir);
      return FALSE;
    }
  if (t->n_classes < 2)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "The project in %s has %u class; a classifier needs two or more",
                   t->request->project_dir, t->n_classes);
      return FALSE;
    }
  if (t->config.patience > 0 && t->n_val == 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG,
                   "Early stopping watches the validation images, and the project in %s has "
                   "none: give it a validation split or turn early stopping off",
                   t->request->project_dir);
      return FALSE;
    }
  return TRUE;
}

/* Per-class image counts of the training split. */
static guint *
class_counts (Trainer *t)
{
  guint *counts = g_new0 (guint, t->n_classes);

  for (guint i = 0; i < t->dataset->samples->len; i++)
    {
      const GraftSample *s = g_ptr_array_index (t->dataset->samples, i);

      if (s->usable && s->label >= 0 && s->split == GRAFT_SPLIT_TRAIN)
        counts[s->label]++;
    }
  return counts;
}

/* Balanced sampling: the training samples of each class repeated, in turn, up to the
 * largest class's count; the loader's dataset in whole-network mode. */
static void
build_balanced_rows (Trainer *t)
{
  g_autofree guint *counts = class_counts (t);
  GPtrArray *per_class = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  guint max = 0;

  for (guint c = 0; c < t->n_classes; c++)
    {
      g_ptr_array_add (per_class, g_array_new (FALSE, FALSE, sizeof (guint)));
      max = MAX (max, counts[c]);
    }
  for (guint i = 0; i < t->dataset->samples->len; i++)
    {
      const GraftSample *s = g_ptr_array_index (t->dataset->samples, i);

      if (s->usable && s->label >= 0 && s->split == GRAFT_SPLIT_TRAIN)
        g_array_append_val (g_ptr_array_index (per_class, s->label), i);
    }
  t->rows = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint c = 0; c < t->n_classes; c++)
    {
      GArray *members = g_ptr_array_index (per_class, c);

      for (guint k = 0; members->len > 0 && k < max; k++)
        g_array_append_val (t->rows, g_array_index (members, guint, k % members->len));
    }
  g_ptr_array_unref (per_class);
}

static GraftDataset *
dataset_of_rows (Trainer *t)
{
  GraftDataset *set = graft_dataset_new (t->dataset->task, t->dataset->format, t->dataset->root);

  for (guint c = 0; c < t->n_classes; c++)
    graft_dataset_add_class (set, g_ptr_array_index (t->dataset->classes, c));
  for (guint r = 0; r < t->rows->len; r++)
    {
      const GraftSample *s = g_ptr_array_index (t->dataset->samples, g_array_index (t->rows, guint, r));
      GraftSample *copy = graft_dataset_add_sample (set, g_strdup (s->path), g_strdup (s->name), s->label);

      copy->split = GRAFT_SPLIT_TRAIN;
      copy->usable = TRUE;
      copy->width = s->width;
      copy->height = s->height;
    }
  return set;
}

/* ---- Model ------------------------------------------------------------------------------ */

static gboolean
resolve_model (Trainer *t,
               GError **error)
{
  const GraftTrainRequest *req = t->request;

  t->info.classes = g_new0 (char *, t->n_classes + 1);
  for (guint c = 0; c < t->n_classes; c++)
    t->info.classes[c] = g_strdup (g_ptr_array_index (t->dataset->classes, c));
  t->info.n_classes = t->n_classes;
  t->info.head = t->config.head;
  t->info.head_hidden = t->config.head_hidden;
  t->info.head_dropout = t->config.head_dropout;
  t->info.scratch = t->config.scratch;

  if (req->parent_id != NULL)
    {
      g_autoptr(GraftRun) parent = graft_run_open (req->project_dir, req->parent_id, error);
      GraftTrainedModelInfo pinfo;

      if (parent == NULL)
        return FALSE;
      if (graft_run_get_status (parent) != GRAFT_RUN_STATUS_FINISHED)
        {
          g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_STATE,
                       "Run %s is %s, not finished: resume it rather than continue it",
                       req->parent_id, graft_run_status_to_string (graft_run_get_status (parent)));
          return FALSE;
        }
      if (!graft_trained_model_read_info (graft_run_get_dir (parent), &pinfo, error))
        return FALSE;
      t->info.arch = g_strdup (pinfo.arch);
      t->info.source = g_strdup (pinfo.source);
      t->info.input = pinfo.input;
      t->info.head = pinfo.head;
      t->info.head_hidden = pinfo.head_hidden;
      t->info.head_dropout = pinfo.head_dropout;
      t->info.scratch = FALSE;
      t->parent_keeps_head = g_strv_equal ((const char * const *) pinfo.classes,
                                           (const char * const *) t->info.classes);
      t->parent_weights = g_build_filename (graft_run_get_dir (parent), GRAFT_RUN_MODEL_FILE, NULL);
      graft_trained_model_info_clear (&pinfo);
      return TRUE;
    }

  t->entry = graft_catalog_find (t->config.model, error);
  if (t->entry == NULL)
    return FALSE;
  if (!t->config.scratch && !graft_catalog_entry_is_available (t->entry))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
                   "The weights of %s are not on this machine yet: fetch them first "
                   "(graft-cli models fetch %s)", t->entry->name, t->entry->name);
      return FALSE;
    }
  t->info.arch = g_strdup (t->entry->arch);
  t->info.source = g_strdup (t->entry->name);
  t->info.input.size = t->config.image_size > 0 ? t->config.image_size : t->entry->image_size;
  t->info.input.channels = t->config.channels > 0 ? t->config.channels : t->entry->in_channels;
  graft_zoo_adapt_normalisation (t->entry->in_channels, t->entry->mean, t->entry->std,
                                 t->info.input.channels, t->info.input.mean, t->info.input.std);
  return TRUE;
}

static gboolean
build_model (Trainer *t,
             GError **error)
{
  GraftZooOptions zoo;
  g_autoptr(GraftWeights) weights = NULL;
  g_auto(GraftZooAdaptReport) adapt_report = { 0 };

  graft_zoo_options_init (&zoo);
  zoo.n_classes = t->n_classes;
  zoo.in_channels = t->info.input.channels;
  zoo.image_size = t->info.input.size;
  zoo.seed = t->config.seed;
  zoo.head = t->info.head;
  zoo.head_hidden = t->info.head_hidden;
  zoo.head_dropout = t->info.head_dropout;

  if (t->info.scratch)
    {
      t->model = graft_zoo_build (t->request->backend, t->info.arch, &zoo, error);
      return t->model != NULL;
    }

  weights = graft_weights_read_file (t->parent_weights != NULL ? t->parent_weights
                                                               : t->entry->weights_path, error);
  if (weights == NULL)
    return FALSE;
  zoo.keep_head = t->parent_keeps_head;
  graft_zoo_adapt_report_init (&adapt_report);
  t->model = graft_zoo_adapt (t->request->backend, t->info.arch, weights, &zoo, &adapt_report,
                              error);
  if (t->model == NULL)
    return FALSE;
  t->adapt_lines = json_object_new_array ();
  for (guint i = 0; i < adapt_report.lines->len; i++)
    {
      const GraftZooFitLine *line = g_ptr_array_index (adapt_report.lines, i);
      json_object_array_add (t->adapt_lines, json_object_new_string (line->text));
    }
  return TRUE;
}

static const GraftBlockOverride *
find_override (const GraftTrainConfig *config,
               const char             *block)
{
  for (guint i = 0; i < config->blocks->len; i++)
    {
      const GraftBlockOverride *o = g_ptr_array_index (config->blocks, i);

      if (g_str_equal (o->block, block))
        return o;
    }
  return NULL;
}

/* Which blocks learn, at which rate; the plan as run.json records it. */
static gboolean
apply_plan (Trainer *t,
            GError **error)
{
  const char *const *blocks = graft_model_get_blocks (t->model);
  guint n_blocks = g_strv_length ((char **) blocks);
  guint n_body = n_blocks > 0 ? n_blocks - 1 : 0;  /* every block but the head, the last */

  for (guint i = 0; i < t->config.blocks->len; i++)
    {
      const GraftBlockOverride *o = g_ptr_array_index (t->config.blocks, i);

      if (!g_strv_contains (blocks, o->block))
        {
          g_autofree char *list = g_strjoinv (", ", (char **) blocks);
          g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG,
                       "Training configuration, “blocks”: %s has no block “%s” (it has %s)",
                       t->info.arch, o->block, list);
          return FALSE;
        }
    }

  t->plan = json_object_new_array ();
  t->first_trainable = -1;
  for (guint b = 0; b < n_blocks; b++)
    {
      const GraftBlockOverride *o = find_override (&t->config, blocks[b]);
      gboolean is_head = b + 1 == n_blocks;
      gboolean frozen;
      float factor = is_head ? 1.0f : t->config.backbone_lr_factor;
      json_object *entry = json_object_new_object ();

      if (t->info.scratch || t->config.unfreeze == GRAFT_UNFREEZE_ALL)
        frozen = FALSE;
      else if (t->config.unfreeze == GRAFT_UNFREEZE_HEAD)
        frozen = !is_head;
      else
        frozen = !is_head && b + (guint) t->config.unfreeze < n_body;
      if (o != NULL && o->frozen >= 0 && !t->info.scratch)
        frozen = o->frozen;
      if (o != NULL && o->lr_factor >= 0.0f)
        factor = o->lr_factor;
      if (!graft_model_set_trainable (t->model, blocks[b], !frozen, error))
        return FALSE;
      if (!frozen)
        {
          graft_optimizer_set_block_lr_scale (t->optimizer, blocks[b], factor);
          if (t->first_trainable < 0)
            t->first_trainable = (int) b;
        }
      json_object_object_add (entry, "block", json_object_new_string (blocks[b]));
      json_object_object_add (entry, "frozen", json_object_new_boolean (frozen));
      if (!frozen)
        json_object_object_add (entry, "lr_factor", json_object_new_double (factor));
      json_object_array_add (t->plan, entry);
    }
  if (t->first_trainable < 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG,
                   "Training configuration: every block of %s is frozen, so nothing would learn",
                   t->info.arch);
      return FALSE;
    }
  graft_model_set_freeze_norm (t->model, TRUE);
  return TRUE;
}

/* Whether (and where) the frozen blocks' output can be computed once per image. */
static void
decide_cache (Trainer *t)
{
  const char *const *blocks = graft_model_get_blocks (t->model);

  t->cut_layer = 0;
  if (!t->config.feature_cache)
    {
      t->cache_note = g_strdup ("off: the configuration turns the feature cache off");
      return;
    }
  if (t->first_trainable <= 0)
    {
      t->cache_note = g_strdup ("off: the first block learns, so every block runs each step");
      return;
    }
  if (t->config.augment != GRAFT_AUGMENT_LEVEL_NONE)
    {
      t->cache_note = g_strdup_printf ("off: augmentation (%s) shows the frozen blocks a new "
                                       "view of each image every epoch, so they run each step",
                                       graft_augment_level_to_string (t->config.augment));
      return;
    }
  for (int b = t->first_trainable - 1; b >= 0; b--)
    {
      int layer = graft_model_get_block_output (t->model, blocks[b]);

      if (layer > 0)
        {
          t->cut_layer = layer;
          t->cut_block = blocks[b];
          t->cache_note = g_strdup_printf ("on: the output of %s (blocks %s to %s, frozen) is "
                                           "computed once per image and the rest trains from it",
                                           blocks[b], blocks[0], blocks[b]);
          return;
        }
    }
  t->cache_note = g_strdup ("off: no frozen block's output is all the later blocks read");
}

static gboolean
make_optimizer (Trainer *t)
{
  if (t->config.optimizer == GRAFT_TRAIN_OPTIMIZER_ADAMW)
    {
      GraftAdamWParams p;

      graft_adamw_params_init (&p, t->config.lr);
      p.weight_decay = t->config.weight_decay;
      t->optimizer = graft_optimizer_new_adamw (t->model, &p);
    }
  else
    {
      GraftSgdParams p;

      graft_sgd_params_init (&p, t->config.lr);
      p.momentum = t->config.momentum;
      p.nesterov = t->config.nesterov && t->config.momentum > 0.0f;
      p.weight_decay = t->config.weight_decay;
      t->optimizer = graft_optimizer_new_sgd (t->model, &p);
    }
  graft_optimizer_set_clip_norm (t->optimizer, t->config.clip_norm);
  return TRUE;
}

static gboolean
prepare (Trainer *t,
         GError **error)
{
  guint n_rows = t->rows != NULL ? t->rows->len : t->n_train;

  t->batch = MIN (t->config.batch_size, n_rows);
  t->steps_per_epoch = n_rows / t->batch;
  if (!graft_model_prepare (t->model, t->batch, t->info.input.size, t->info.input.size, error))
    return FALSE;
  t->target = graft_tensor_new (t->request->backend, 1, (const gsize[]) { t->batch }, error);
  if (t->target == NULL)
    return FALSE;
  if (t->config.balance == GRAFT_BALANCE_WEIGHTS)
    {
      g_autofree guint *counts = class_counts (t);
      g_autofree float *w = g_new (float, t->n_classes);

      for (guint c = 0; c < t->n_classes; c++)
        w[c] = counts[c] > 0 ? (float) t->n_train / ((float) t->n_classes * counts[c]) : 0.0f;
      t->class_weight = graft_tensor_new (t->request->backend, 1,
                                          (const gsize[]) { t->n_classes }, error);
      if (t->class_weight == NULL ||
          !graft_tensor_upload (t->class_weight, w, t->n_classes, error))
        return FALSE;
    }
  return TRUE;
}

/* ---- Feature cache ------------------------------------------------------------------- */

/* The cut layer's output for every labelled image of @split, in sample order. */
static gboolean
cache_split (Trainer    *t,
             GraftSplit  split,
             FeatureSet *set,
             GError    **error)
{
  GraftTensor *input = graft_model_get_input (t->model);
  GraftTensor *cut = graft_model_get_layer_output (t->model, t->cut_layer);
  gsize image_len = (gsize) t->info.input.channels * t->info.input.size * t->info.input.size;
  g_autoptr(GraftLoader) loader = NULL;
  g_autofree float *host = g_new0 (float, t->batch * image_len);
  g_autofree float *features = NULL;
  GraftLoaderOptions options;
  const GraftBatch *b;
  guint capacity;

  set->dim = graft_tensor_get_n_elements (cut) / t->batch;
  t->progress_state.phase = GRAFT_TRAIN_PHASE_CACHING;
  graft_input_spec_loader_options (&t->info.input, FALSE, GRAFT_AUGMENT_LEVEL_NONE, t->batch, 0,
                                   &options);
  loader = graft_loader_new (t->dataset, split, t->image_cache, &options, t->cancellable, error);
  if (loader == NULL)
    return FALSE;
  capacity = graft_loader_get_n_samples (loader);
  set->data = g_try_new (float, MAX ((gsize) capacity * set->dim, 1));
  if (set->data == NULL)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                   "Out of memory caching the features of %u images (%" G_GSIZE_FORMAT " MB)",
                   capacity, (gsize) capacity * set->dim * sizeof (float) >> 20);
      return FALSE;
    }
  set->labels = g_new (float, capacity);
  set->samples = g_new (guint, capacity);
  features = g_new (float, (gsize) t->batch * set->dim);

  graft_loader_start_epoch (loader, 0);
  while ((b = graft_loader_next (loader, error)) != NULL)
    {
      guint n = MIN (b->n, capacity - set->n);

      if (!checkpoint_control (t, error))
        return FALSE;
      memcpy (host, b->images, (gsize) b->n * image_len * sizeof (float));
      if (b->n < t->batch)
        memset (host + (gsize) b->n * image_len, 0, (t->batch - b->n) * image_len * sizeof (float));
      if (!graft_tensor_upload (input, host, t->batch * image_len, error) ||
          !graft_model_forward_to (t->model, t->cut_layer, error) ||
          !graft_tensor_download (cut, features, (gsize) t->batch * set->dim, error))
        return FALSE;
      memcpy (set->data + (gsize) set->n * set->dim, features, (gsize) n * set->dim * sizeof (float));
      memcpy (set->labels + set->n, b->labels, n * sizeof (float));
      memcpy (set->samples + set->n, b->samples, n * sizeof (guint));
      set->n += n;
      on_images_progress (set->n, capacity, t);
    }
  return error == NULL || *error == NULL;
}

/* Mean loss and accuracy of the rest of the network on cached features. */
static gboolean
evaluate_features (Trainer    *t,
                   FeatureSet *set,
                   double     *loss,
                   double     *accuracy,
                   GError    **error)
{
  GraftTensor *cut = graft_model_get_layer_output (t->model, t->cut_layer);
  guint n_classes = t->n_classes;
  g_autofree float *host = g_new0 (float, (gsize) t->batch * set->dim);
  g_autofree float *logits = g_new (float, (gsize) t->batch * n_classes);
  double sum = 0.0;
  guint correct = 0;

  for (guint start = 0; start < set->n; start += t->batch)
    {
      guint n = MIN (t->batch, set->n - start);

      memcpy (host, set->data + (gsize) start * set->dim, (gsize) n * set->dim * sizeof (float));
      if (!graft_tensor_upload (cut, host, (gsize) t->batch * set->dim, error) ||
          !graft_model_forward (t->model, FALSE, 0, error) ||
          !graft_tensor_download (graft_model_get_output (t->model), logits,
                                  (gsize) t->batch * n_classes, error))
        return FALSE;
      for (guint i = 0; i < n; i++)
        {
          const float *z = logits + (gsize) i * n_classes;
          int label = (int) set->labels[start + i];
          float max = z[0];
          guint best = 0;
          double s = 0.0;

          for (guint c = 1; c < n_classes; c++)
            if (z[c] > z[best])
              best = c;
          max = z[best];
          for (guint c = 0; c < n_classes; c++)
            s += exp ((double) z[c] - max);
          sum += log (s) + max - z[label];
          correct += (int) best == label;
        }
    }
  *loss = sum / MAX (set->n, 1);
  *accuracy = (double) correct / MAX (set->n, 1);
  return TRUE;
}

/* ---- Checkpoints ----------------------------------------------------------------------- */

static void
set_meta_number (GraftWeights *w,
                 const char   *key,
                 double        value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *name = g_strconcat (META_PREFIX, key, NULL);

  g_ascii_formatd (text, sizeof text, "%.17g", value);
  graft_weights_set_metadata (w, name, text);
}

static gboolean
get_meta_number (GraftWeights *w,
                 const char   *key,
                 double       *value)
{
  g_autofree char *name = g_strconcat (META_PREFIX, key, NULL);
  const char *text = graft_weights_get_metadata (w, name);
  char *end = NULL;

  if (text == NULL)
    return FALSE;
  *value = g_ascii_strtod (text, &end);
  return end != text && *end == '\0';
}

static gboolean
save_checkpoint (Trainer *t,
                 guint    epochs_done,
                 GError **error)
{
  g_autofree char *path = g_build_filename (graft_run_get_dir (t->run), CHECKPOINT_FILE, NULL);
  g_autoptr(GraftWeights) state = graft_model_get_state (t->model, error);

  if (state == NULL || !graft_optimizer_save_state (t->optimizer, state, error))
    return FALSE;
  graft_weights_set_metadata (state, META_PREFIX "run", graft_run_get_id (t->run));
  set_meta_number (state, "epochs_done", epochs_done);
  set_meta_number (state, "best_epoch", t->best_epoch);
  set_meta_number (state, "best_value", t->best_value);
  set_meta_number (state, "bad_epochs", t->bad_epochs);
  set_meta_number (state, "train_seconds", t->train_seconds);
  return graft_weights_save (state, path, FALSE, error);
}

/* The run's last checkpoint into the model and optimizer; *epochs_done 0 when there is
 * none yet (the run stopped in its first epoch). */
static gboolean
load_checkpoint (Trainer *t,
                 guint   *epochs_done,
                 GError **error)
{
  g_autofree char *path = g_build_filename (graft_run_get_dir (t->run), CHECKPOINT_FILE, NULL);
  g_autoptr(GraftWeights) state = NULL;
  g_autoptr(GPtrArray) drop = g_ptr_array_new_with_free_func (g_free);
  const char *run;
  double done, best_epoch, best_value, bad, seconds;

  *epochs_done = 0;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    return TRUE;
  state = graft_weights_read_file (path, error);
  if (state == NULL)
    {
      g_prefix_error (error, "The checkpoint of run %s cannot be read: ", graft_run_get_id (t->run));
      return FALSE;
    }
  run = graft_weights_get_metadata (state, META_PREFIX "run");
  if (run == NULL || !g_str_equal (run, graft_run_get_id (t->run)) ||
      !get_meta_number (state, "epochs_done", &done) ||
      !get_meta_number (state, "best_epoch", &best_epoch) ||
      !get_meta_number (state, "best_value", &best_value) ||
      !get_meta_number (state, "bad_epochs", &bad) ||
      !get_meta_number (state, "train_seconds", &seconds) ||
      done < 0 || done > t->config.epochs)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CHECKPOINT,
                   "%s is not a checkpoint of run %s, or is damaged", path,
                   graft_run_get_id (t->run));
      return FALSE;
    }
  if (!graft_optimizer_load_state (t->optimizer, state, error))
    return FALSE;
  for (guint i = 0; i < graft_weights_get_n (state); i++)
    {
      const char *name = graft_weights_get (state, i)->name;

      if (g_str_has_prefix (name, "optimizer/"))
        g_ptr_array_add (drop, g_strdup (name));
    }
  for (guint i = 0; i < drop->len; i++)
    graft_weights_remove (state, g_ptr_array_index (drop, i));
  if (!graft_model_load_state (t->model, state, error))
    return FALSE;
  *epochs_done = (guint) done;
  t->best_epoch = (guint) best_epoch;
  t->best_value = best_value;
  t->bad_epochs = (guint) bad;
  t->train_seconds = seconds;
  return TRUE;
}

/* ---- Epochs --------------------------------------------------------------------------- */

static gboolean
train_step (Trainer *t,
            guint    epoch,
            guint    step,
            double  *loss_sum,
            GError **error)
{
  guint global = epoch * t->steps_per_epoch + step;
  guint total = t->config.epochs * t->steps_per_epoch;
  double lr = graft_train_config_lr_at (&t->config, global, total, t->steps_per_epoch);
  float loss;

  graft_optimizer_set_lr (t->optimizer, (float) lr);
  if (!graft_model_train_step (t->model, t->optimizer, t->target, t->class_weight,
                               t->config.label_smoothing, t->config.seed * 1000003u + global,
                               error) ||
      !graft_tensor_download (graft_model_get_loss (t->model), &loss, 1, error))
    return FALSE;
  if (!isfinite (loss))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DIVERGED,
                   "Training diverged at epoch %u, step %u (the loss is %g): try a smaller "
                   "learning rate than %g", epoch + 1, step + 1, (double) loss,
                   (double) t->config.lr);
      return FALSE;
    }
  *loss_sum += loss;
  t->progress_state.lr = lr;
  return TRUE;
}

static void
step_progress (Trainer *t,
               guint    epoch,
               guint    step,
               double   loss_sum,
               double   epoch_start)
{
  double elapsed = g_timer_elapsed (t->timer, NULL) - epoch_start;
  double per_step = elapsed / (step + 1);
  guint left = (t->config.epochs - epoch - 1) * t->steps_per_epoch + (t->steps_per_epoch - step - 1);

  t->progress_state.epoch = epoch + 1;
  t->progress_state.epochs = t->config.epochs;
  t->progress_state.step = step + 1;
  t->progress_state.steps = t->steps_per_epoch;
  t->progress_state.loss = loss_sum / (step + 1);
  t->progress_state.images_per_second = elapsed > 0 ? (step + 1) * t->batch / elapsed : 0.0;
  t->progress_state.eta_seconds = per_step * left;
  report (t, GRAFT_TRAIN_PHASE_TRAINING);
}

static gboolean
train_epoch_cached (Trainer *t,
                    guint    epoch,
                    double  *train_loss,
                    GError **error)
{
  FeatureSet *set = &t->train_features;
  GraftTensor *cut = graft_model_get_layer_output (t->model, t->cut_layer);
  guint n_rows = t->rows != NULL ? t->rows->len : set->n;
  g_autofree guint *order = g_new (guint, n_rows);
  g_autofree float *host = g_new (float, (gsize) t->batch * set->dim);
  g_autofree float *labels = g_new (float, t->batch);
  double loss_sum = 0.0, epoch_start = g_timer_elapsed (t->timer, NULL);

  graft_loader_epoch_order (t->config.seed, epoch, n_rows, order);
  for (guint step = 0; step < t->steps_per_epoch; step++)
    {
      if (!checkpoint_control (t, error))
        return FALSE;
      for (guint i = 0; i < t->batch; i++)
        {
          guint row = order[step * t->batch + i];

          if (t->rows != NULL)
            row = t->row_feature[row];
          memcpy (host + (gsize) i * set->dim, set->data + (gsize) row * set->dim,
                  set->dim * sizeof (float));
          labels[i] = set->labels[row];
        }
      if (!graft_tensor_upload (cut, host, (gsize) t->batch * set->dim, error) ||
          !graft_tensor_upload (t->target, labels, t->batch, error) ||
          !train_step (t, epoch, step, &loss_sum, error))
        return FALSE;
      step_progress (t, epoch, step, loss_sum, epoch_start);
    }
  *train_loss = loss_sum / MAX (t->steps_per_epoch, 1);
  return TRUE;
}

static gboolean
train_epoch_loader (Trainer     *t,
                    GraftLoader *loader,
                    guint        epoch,
                    double      *train_loss,
                    GError     **error)
{
  double loss_sum = 0.0, epoch_start = g_timer_elapsed (t->timer, NULL);

  graft_loader_start_epoch (loader, epoch);
  for (guint step = 0; step < t->steps_per_epoch; step++)
    {
      const GraftBatch *b;

      if (!checkpoint_control (t, error))
        return FALSE;
      b = graft_loader_next_upload (loader, graft_model_get_input (t->model), t->target, error);
      if (b == NULL)
        {
          if (error != NULL && *error == NULL)
            g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_DATA,
                         "Epoch %u ended after %u of %u batches: images became unreadable",
                         epoch + 1, step, t->steps_per_epoch);
          return FALSE;
        }
      if (!train_step (t, epoch, step, &loss_sum, error))
        return FALSE;
      step_progress (t, epoch, step, loss_sum, epoch_start);
    }
  *train_loss = loss_sum / MAX (t->steps_per_epoch, 1);
  return TRUE;
}

static gboolean
validate (Trainer *t,
          double  *loss,
          double  *accuracy,
          GError **error)
{
  GraftPredictions p = { 0 };

  *loss = *accuracy = NAN;
  if (t->n_val == 0)
    return TRUE;
  t->progress_state.phase = GRAFT_TRAIN_PHASE_VALIDATING;
  if (t->cut_layer > 0)
    return evaluate_features (t, &t->val_features, loss, accuracy, error);
  if (!graft_predict_split (t->model, 0, t->dataset, GRAFT_SPLIT_VAL, t->image_cache,
                            &t->info.input, on_images_progress, t, t->cancellable, &p, error))
    return FALSE;
  graft_predictions_summary (&p, loss, accuracy);
  graft_predictions_clear (&p);
  return TRUE;
}

/* Whether @value (of the early-stopping metric) beats the best so far. */
static gboolean
improves (Trainer *t,
          double   value)
{
  gboolean lower = g_strcmp0 (t->config.early_metric, "val_loss") == 0;

  if (t->best_epoch == 0)
    return TRUE;
  return lower ? value < t->best_value : value > t->best_value;
}

static gboolean
run_epochs (Trainer *t,
            guint    first_epoch,
            GError **error)
{
  g_autoptr(GraftLoader) loader = NULL;
  g_autofree char *best_path = g_build_filename (graft_run_get_dir (t->run), BEST_FILE, NULL);

  if (t->cut_layer == 0)
    {
      GraftLoaderOptions options;

      graft_input_spec_loader_options (&t->info.input, TRUE, t->config.augment, t->batch,
                                       t->config.seed, &options);
      loader = graft_loader_new (t->train_set != NULL ? t->train_set : t->dataset,
                                 GRAFT_SPLIT_TRAIN, t->image_cache, &options, t->cancellable,
                                 error);
      if (loader == NULL)
        return FALSE;
    }

  for (guint epoch = first_epoch; epoch < t->config.epochs; epoch++)
    {
      double start = g_timer_elapsed (t->timer, NULL);
      double train_loss, val_loss, val_accuracy, seconds;
      json_object *entry;

      if (!(t->cut_layer > 0 ? train_epoch_cached (t, epoch, &train_loss, error)
                             : train_epoch_loader (t, loader, epoch, &train_loss, error)))
        return FALSE;
      seconds = g_timer_elapsed (t->timer, NULL) - start;
      t->train_seconds += seconds;
      if (!validate (t, &val_loss, &val_accuracy, error))
        return FALSE;

      entry = graft_run_epoch_new (epoch + 1, train_loss, val_loss, val_accuracy,
                                   t->progress_state.lr, seconds);
      json_object_object_add (entry, "images_per_second",
                              json_object_new_double (seconds > 0
                                                      ? t->steps_per_epoch * t->batch / seconds
                                                      : 0.0));
      if (!graft_run_append_epoch (t->run, entry, error))
        {
          json_object_put (entry);
          return FALSE;
        }
      json_object_put (entry);

      if (t->config.patience > 0)
        {
          double value = g_strcmp0 (t->config.early_metric, "val_loss") == 0 ? val_loss : val_accuracy;

          if (improves (t, value))
            {
              t->best_epoch = epoch + 1;
              t->best_value = value;
              t->bad_epochs = 0;
              if (t->config.restore_best && !graft_model_save_weights (t->model, best_path, error))
                return FALSE;
            }
          else
            t->bad_epochs++;
        }
      if (!save_checkpoint (t, epoch + 1, error))
        return FALSE;
      t->epochs_done = epoch + 1;

      t->progress_state.train_loss = train_loss;
      t->progress_state.val_loss = val_loss;
      t->progress_state.val_accuracy = val_accuracy;
      report (t, GRAFT_TRAIN_PHASE_EPOCH_END);

      if (t->config.patience > 0 && t->bad_epochs >= t->config.patience)
        {
          t->stopped_early = TRUE;
          break;
        }
    }

  if (t->config.patience > 0 && t->config.restore_best && t->best_epoch > 0 &&
      t->best_epoch != t->epochs_done)
    {
      if (!graft_model_load_weights_file (t->model, best_path, error))
        return FALSE;
      t->restored_epoch = t->best_epoch;
    }
  return TRUE;
}

/* ---- The run ------------------------------------------------------------------------- */

static json_object *
training_member (Trainer *t)
{
  json_object *o = json_object_new_object ();
  json_object *images = json_object_new_object ();
  json_object *classes = json_object_new_array ();

  for (guint c = 0; c < t->n_classes; c++)
    json_object_array_add (classes, json_object_new_string (t->info.classes[c]));
  json_object_object_add (images, "train", json_object_new_int ((int) t->n_train));
  json_object_object_add (images, "val", json_object_new_int ((int) t->n_val));
  json_object_object_add (images, "test", json_object_new_int ((int) t->n_test));
  json_object_object_add (o, "arch", json_object_new_string (t->info.arch));
  json_object_object_add (o, "classes", classes);
  json_object_object_add (o, "images", images);
  json_object_object_add (o, "batch_size", json_object_new_int ((int) t->batch));
  json_object_object_add (o, "steps_per_epoch", json_object_new_int ((int) t->steps_per_epoch));
  json_object_object_add (o, "plan", json_object_get (t->plan));
  json_object_object_add (o, "feature_cache", json_object_new_string (t->cache_note));
  json_object_object_add (o, "image_cache", json_object_new_string (t->image_cache_note));
  if (t->adapt_lines != NULL)
    json_object_object_add (o, "adapted", json_object_get (t->adapt_lines));
  return o;
}

/* Every image of the project decoded once into the preprocessing cache (kept between runs,
 * so a second run on the same images decodes none), for the loaders to read pixels from
 * in place of files. A cache that cannot be used costs speed, not the run. */
static gboolean
open_image_cache (Trainer *t,
                  GError **error)
{
  t->progress_state.phase = GRAFT_TRAIN_PHASE_PREPARING;
  t->image_cache = graft_image_cache_prepare (t->request->image_cache_dir, t->dataset,
                                              GRAFT_SPLIT_NONE, t->info.input.size, t->info.input.channels,
                                              on_images_progress, t, t->cancellable,
                                              &t->image_cache_note, error);
  t->progress_state.done = t->progress_state.total = 0;
  return t->image_cache != NULL || t->image_cache_note != NULL;
}

static gboolean
open_run (Trainer *t,
          GError **error)
{
  const GraftTrainRequest *req = t->request;
  g_autofree char *name = NULL;
  json_object *config;

  if (req->resume_id != NULL)
    return TRUE;   /* opened before the configuration was known */
  name = req->name != NULL ? g_strdup (req->name) : graft_train_config_describe (&t->config);
  if (req->parent_id != NULL && req->name == NULL)
    {
      g_autofree char *plain = g_steal_pointer (&name);
      name = g_strdup_printf ("%s (continued)", plain);
    }
  config = graft_train_config_to_json (&t->config);
  t->run = graft_run_create (req->project_dir, name, req->parent_id, config, error);
  json_object_put (config);
  return t->run != NULL;
}

static gboolean
finish (Trainer          *t,
        GraftTrainResult *result,
        GError          **error)
{
  GraftSplit split = t->n_test > 0 ? GRAFT_SPLIT_TEST : GRAFT_SPLIT_VAL;
  GraftPredictions p = { 0 };
  g_autoptr(GraftMetrics) metrics = NULL;
  double start = g_timer_elapsed (t->timer, NULL);
  g_autofree char *checkpoint = NULL;
  g_autofree char *best = NULL;

  if (t->n_test > 0 || t->n_val > 0)
    {
      /* Training is over: evaluate in larger batches (faster GEMMs), within 1 GiB of
       * activations. */
      guint64 per_image = graft_model_get_activation_bytes (t->model) / MAX (t->batch, 1);
      guint eval_batch = (guint) CLAMP ((G_GUINT64_CONSTANT (1) << 30) / MAX (per_image, 1),
                                        t->batch, 256);

      if (eval_batch > t->batch &&
          !graft_model_prepare (t->model, eval_batch, t->info.input.size, t->info.input.size, error))
        return FALSE;
      t->progress_state.phase = GRAFT_TRAIN_PHASE_EVALUATING;
      if (!graft_predict_split (t->model, t->cut_layer, t->dataset, split, t->image_cache,
                                &t->info.input, on_images_progress, t, t->cancellable, &p, error))
        return FALSE;
      metrics = graft_predictions_metrics (&p, (const char * const *) t->info.classes, error);
      graft_predictions_clear (&p);
      if (metrics == NULL)
        return FALSE;
    }
  graft_run_set_timing (t->run, "eval_seconds", g_timer_elapsed (t->timer, NULL) - start);
  graft_run_set_timing (t->run, "total_train_seconds", t->train_seconds);
  graft_run_set_member (t->run, "training", training_member (t));
  if (t->stopped_early || t->restored_epoch > 0)
    {
      json_object *early = json_object_new_object ();

      json_object_object_add (early, "stopped_after", json_object_new_int ((int) t->epochs_done));
      json_object_object_add (early, "kept_epoch",
                              json_object_new_int ((int) (t->restored_epoch > 0 ? t->restored_epoch
                                                                                : t->epochs_done)));
      graft_run_set_member (t->run, "early_stopping", early);
    }
  json_object_object_add (graft_run_get_member (t->run, "training"), "evaluated_on",
                          json_object_new_string (split == GRAFT_SPLIT_TEST ? "test" : "val"));
  if (!graft_trained_model_save (graft_run_get_dir (t->run), &t->info, t->model, error))
    return FALSE;
  {
    json_object *final = metrics != NULL ? graft_metrics_to_json (metrics, GRAFT_METRICS_JSON_DEFAULT)
                                         : NULL;
    gboolean saved = graft_run_finish (t->run, final, error);

    json_object_put (final);
    if (!saved)
      return FALSE;
  }

  checkpoint = g_build_filename (graft_run_get_dir (t->run), CHECKPOINT_FILE, NULL);
  best = g_build_filename (graft_run_get_dir (t->run), BEST_FILE, NULL);
  g_unlink (checkpoint);
  g_unlink (best);

  if (result != NULL)
    {
      result->accuracy = metrics != NULL ? metrics->accuracy : NAN;
      result->evaluated_on = g_strdup (split == GRAFT_SPLIT_TEST ? "test" : "val");
      result->metrics = g_steal_pointer (&metrics);
    }
  return TRUE;
}

gboolean
graft_train (const GraftTrainRequest *request,
             GraftTrainProgressFunc   progress,
             gpointer                 user_data,
             GraftTrainControl       *control,
             GraftTrainResult        *result,
             GError                 **error)
{
  Trainer t = { 0 };
  guint first_epoch = 0;
  GError *local = NULL;
  gboolean ok = FALSE;

  g_return_val_if_fail (request != NULL && request->project_dir != NULL && request->backend != NULL, FALSE);
  g_return_val_if_fail (request->config != NULL || request->resume_id != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (result != NULL)
    {
      memset (result, 0, sizeof *result);
      result->accuracy = NAN;
    }
  t.request = request;
  t.progress = progress;
  t.user_data = user_data;
  t.control = control;
  t.cancellable = control != NULL ? control->cancellable : NULL;
  t.timer = g_timer_new ();
  t.progress_state.train_loss = t.progress_state.val_loss = t.progress_state.val_accuracy = NAN;
  t.progress_state.eta_seconds = -1.0;

  if (request->resume_id != NULL)
    {
      t.run = graft_run_open (request->project_dir, request->resume_id, &local);
      if (t.run == NULL)
        goto out;
      if (graft_run_get_status (t.run) == GRAFT_RUN_STATUS_FINISHED)
        {
          g_set_error (&local, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_STATE,
                       "Run %s has finished; continue it as a new run instead",
                       request->resume_id);
          goto out;
        }
      if (!graft_train_config_from_json (graft_run_get_config (t.run), &t.config, &local))
        {
          g_prefix_error (&local, "%s: ", graft_run_get_file (t.run));
          goto out;
        }
      if (graft_run_get_parent_id (t.run) != NULL)
        {
          /* A continued run resumes from its parent's model, as it started. */
          t.resumed_parent = g_strdup (graft_run_get_parent_id (t.run));
        }
    }
  else
    {
      graft_train_config_copy (request->config, &t.config);
      /* from scratch every block learns: the run.json says so, not the plan it ignored */
      if (t.config.scratch)
        t.config.unfreeze = GRAFT_UNFREEZE_ALL;
      if (!graft_train_config_check (&t.config, &local))
        goto out;
    }

  report (&t, GRAFT_TRAIN_PHASE_PREPARING);
  {
    GraftTrainRequest effective = *request;

    if (t.resumed_parent != NULL)
      effective.parent_id = t.resumed_parent;
    t.request = &effective;
    ok = load_data (&t, &local) && resolve_model (&t, &local) && build_model (&t, &local);
    t.request = request;
    t.effective_parent = g_strdup (effective.parent_id);
    if (!ok)
      goto out;
    ok = FALSE;
  }
  if (!make_optimizer (&t) || !apply_plan (&t, &local))
    goto out;
  if (t.config.balance == GRAFT_BALANCE_SAMPLER)
    build_balanced_rows (&t);
  decide_cache (&t);
  if (t.config.balance == GRAFT_BALANCE_SAMPLER && t.cut_layer == 0 && t.train_set == NULL)
    t.train_set = dataset_of_rows (&t);
  if (!prepare (&t, &local) || !open_image_cache (&t, &local))
    goto out;

  if (!open_run (&t, &local))
    goto out;
  graft_run_set_device (t.run, graft_backend_get_info (request->backend)->name);
  graft_run_set_member (t.run, "training", training_member (&t));
  if (result != NULL)
    {
      result->run_id = g_strdup (graft_run_get_id (t.run));
      result->feature_cache = g_strdup (t.cache_note);
    }

  if (request->resume_id != NULL)
    {
      if (!load_checkpoint (&t, &first_epoch, &local))
        goto failed;
      /* the run goes on: running again, its reason gone */
      if (!graft_run_mark_running (t.run, &local))
        goto failed;
    }
  else if (!graft_run_save (t.run, &local))
    goto failed;

  if (!t.info.scratch && first_epoch == 0 && t.n_train > 0)
    {
      json_object *shift = graft_transfer_measure_shift (t.model, t.dataset, GRAFT_SPLIT_TRAIN,
                                                         t.image_cache, &t.info.input,
                                                         t.cancellable, NULL);
      if (shift != NULL)
        graft_run_set_member (t.run, "domain_shift", shift);
    }

  if (t.cut_layer > 0)
    {
      double start = g_timer_elapsed (t.timer, NULL);

      if (!cache_split (&t, GRAFT_SPLIT_TRAIN, &t.train_features, &local) ||
          (t.n_val > 0 && !cache_split (&t, GRAFT_SPLIT_VAL, &t.val_features, &local)))
        goto failed;
      if (t.rows != NULL)
        {
          /* balanced rows name dataset samples; map them to feature rows */
          g_autoptr(GHashTable) where = g_hash_table_new (NULL, NULL);

          for (guint i = 0; i < t.train_features.n; i++)
            g_hash_table_insert (where, GUINT_TO_POINTER (t.train_features.samples[i]),
                                 GUINT_TO_POINTER (i + 1));
          t.row_feature = g_new (guint, t.rows->len);
          for (guint r = 0; r < t.rows->len; r++)
            t.row_feature[r] = GPOINTER_TO_UINT (g_hash_table_lookup (where,
                                  GUINT_TO_POINTER (g_array_index (t.rows, guint, r)))) - 1;
        }
      if (!graft_model_set_start_layer (t.model, t.cut_layer, &local))
        goto failed;
      graft_run_set_timing (t.run, "cache_seconds", g_timer_elapsed (t.timer, NULL) - start);
    }

  if (!run_epochs (&t, first_epoch, &local) || !finish (&t, result, &local))
    goto failed;
  ok = TRUE;
  goto out;

failed:
  {
    gboolean cancelled = g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED);
    g_autofree char *reason = cancelled
      ? g_strdup_printf ("Stopped after %u of %u epochs; resume the run to go on",
                         t.epochs_done > 0 ? t.epochs_done : first_epoch, t.config.epochs)
      : g_strdup (local->message);

    graft_run_stop (t.run, cancelled ? GRAFT_RUN_STATUS_CANCELLED : GRAFT_RUN_STATUS_FAILED,
                    reason, NULL);
  }

out:
  if (result != NULL)
    {
      if (t.run != NULL)
        {
          result->status = graft_run_get_status (t.run);
          if (result->run_id == NULL)
            result->run_id = g_strdup (graft_run_get_id (t.run));
        }
      result->epochs_done = t.epochs_done;
      result->best_epoch = t.restored_epoch;
      result->train_seconds = t.train_seconds;
    }
  if (local != NULL)
    g_propagate_error (error, local);
  g_free (t.parent_weights);
  g_free (t.row_feature);
  g_free (t.resumed_parent);
  g_free (t.effective_parent);
  trainer_clear (&t);
  return ok;
}
