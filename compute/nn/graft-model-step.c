/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* Whole training steps: forward, cross-entropy backward and optimizer step. On a backend
 * that records (Vulkan), the ops of a step are recorded once and replayed on later
 * calls, so that a step costs one submission instead of a few hundred dispatches
 * encoded anew. The first step with given settings runs eagerly, because gradients and
 * optimizer state are allocated by it; the next one is recorded (and run by replaying
 * the recording), later ones replay it. What changes from step to step without changing
 * the ops lives in device tensors written before each step: the dropout keys (one per
 * node) and the optimizer's step values (learning rate, bias corrections, step number).
 * Anything else that shapes the ops (trainable flags, dropout on or off, prepared sizes,
 * the optimizer's clipping, the target tensors) makes the next step eager again, then
 * recorded anew. */

#include "graft-model-private.h"

void
_graft_model_step_reset (GraftModel *self)
{
  GraftModelStep *step = &self->step;

  if (step->recording != NULL)
    graft_backend_recording_free (self->backend, g_steal_pointer (&step->recording));
  g_clear_pointer (&step->target, graft_tensor_unref);
  g_clear_pointer (&step->class_weight, graft_tensor_unref);
  step->optimizer = NULL;
  step->warm = FALSE;
}

void
_graft_model_forget_optimizer (GraftModel     *self,
                               GraftOptimizer *optimizer)
{
  if (self->step.optimizer == optimizer)
    _graft_model_step_reset (self);
}

/* Whether the ops of the last step would be the same for these settings. */
static gboolean
same_settings (GraftModel     *self,
               GraftOptimizer *optimizer,
               GraftTensor    *target,
               GraftTensor    *class_weight,
               float           label_smoothing)
{
  GraftModelStep *step = &self->step;

  return step->warm &&
         step->generation == self->generation &&
         step->optimizer == optimizer &&
         step->optimizer_generation == _graft_optimizer_get_generation (optimizer) &&
         step->target == target &&
         step->class_weight == class_weight &&
         step->label_smoothing == label_smoothing;
}

static gboolean
write_keys (GraftModel  *self,
            guint64      seed,
            GError     **error)
{
  GraftModelStep *step = &self->step;
  guint n = self->nodes->len;
  g_autofree guint64 *seeds = NULL;

  if (step->keys == NULL)
    {
      step->keys = graft_tensor_new (self->backend, 1, (const gsize[]) { n }, error);
      if (step->keys == NULL)
        return FALSE;
      graft_tensor_set_name (step->keys, "dropout keys");
    }
  seeds = g_new (guint64, n);
  for (guint i = 0; i < n; i++)
    seeds[i] = _graft_model_node_seed (seed, (int) i);
  return graft_dropout_write_keys (step->keys, seeds, n, error);
}

/* The ops of one step, reading the step's keys and optimizer values from tensors. */
static gboolean
run_ops (GraftModel      *self,
         GraftOptimizer  *optimizer,
         GraftTensor     *target,
         GraftTensor     *class_weight,
         float            label_smoothing,
         guint64          seed,
         GError         **error)
{
  gboolean ok;

  self->step.keyed = TRUE;
  ok = graft_model_forward (self, TRUE, seed, error) &&
       graft_model_backward_cross_entropy (self, target, class_weight, label_smoothing, error) &&
       _graft_optimizer_run (optimizer, TRUE, error);
  self->step.keyed = FALSE;
  return ok;
}

static gboolean
record (GraftModel      *self,
        GraftOptimizer  *optimizer,
        GraftTensor     *target,
        GraftTensor     *class_weight,
        float            label_smoothing,
        guint64          seed,
        GError         **error)
{
  GraftRecording *recording;
  gboolean ok;

  if (!graft_backend_record_begin (self->backend, error))
    return FALSE;
  ok = run_ops (self, optimizer, target, class_weight, label_smoothing, seed, error);
  /* The recording ends even when an op failed, and then goes. */
  recording = graft_backend_record_end (self->backend, ok ? error : NULL);
  if (!ok || recording == NULL)
    {
      graft_backend_recording_free (self->backend, recording);
      return FALSE;
    }
  self->step.recording = recording;
  return TRUE;
}

gboolean
graft_model_train_step (GraftModel      *self,
                        GraftOptimizer  *optimizer,
                        GraftTensor     *target,
                        GraftTensor     *class_weight,
                        float            label_smoothing,
                        guint64          seed,
                        GError         **error)
{
  GraftModelStep *step;

  g_return_val_if_fail (self != NULL && optimizer != NULL && target != NULL, FALSE);
  g_return_val_if_fail (_graft_optimizer_get_model (optimizer) == self, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  step = &self->step;
  if (self->batch == 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
                   "%s has not been prepared for a batch size", self->arch);
      return FALSE;
    }

  /* This step's values, before anything that reads them (recorded or not). */
  if (!write_keys (self, seed, error) || !_graft_optimizer_write_scalars (optimizer, error))
    return FALSE;

  if (!same_settings (self, optimizer, target, class_weight, label_smoothing))
    {
      /* Eagerly, allocating what the step needs; recorded next time. */
      _graft_model_step_reset (self);
      if (!run_ops (self, optimizer, target, class_weight, label_smoothing, seed, error))
        return FALSE;
      step->warm = TRUE;
      step->generation = self->generation;
      step->optimizer = optimizer;
      step->optimizer_generation = _graft_optimizer_get_generation (optimizer);
      step->target = graft_tensor_ref (target);
      step->class_weight = class_weight != NULL ? graft_tensor_ref (class_weight) : NULL;
      step->label_smoothing = label_smoothing;
    }
  else if (!graft_backend_can_record (self->backend))
    {
      if (!run_ops (self, optimizer, target, class_weight, label_smoothing, seed, error))
        return FALSE;
    }
  else
    {
      if (step->recording == NULL &&
          !record (self, optimizer, target, class_weight, label_smoothing, seed, error))
        {
          _graft_model_step_reset (self);
          return FALSE;
        }
      if (!graft_backend_replay (self->backend, step->recording, error))
        return FALSE;
      /* What the passes would have noted on the host. */
      self->forward_done = TRUE;
      self->last_training = TRUE;
      self->last_seed = seed;
    }

  _graft_optimizer_advance (optimizer);
  return TRUE;
}
