/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* torch.optim.SGD and AdamW over a model's trainable parameters, with a learning-rate
 * multiplier per block and gradient-norm clipping. Each parameter keeps its own step
 * count, as PyTorch's per-parameter state does, so a layer unfrozen later starts its
 * bias correction (or momentum) afresh. */

#include <string.h>

#include "graft-model-private.h"

typedef struct {
  GraftTensor *state[2];
  guint        step;
} ParamState;

struct _GraftOptimizer {
  GraftModel       *model;
  GraftOptimKind    kind;
  GraftSgdParams    sgd;
  GraftAdamWParams  adamw;
  float             lr;
  float             clip_norm;
  GHashTable       *block_scale;  /* block name -> float scale */
  ParamState       *states;       /* one per model parameter */
  guint             n_states;
  guint             step;
  GraftTensor      *norm;
  GPtrArray        *grads;        /* the trainable gradients of this step */
  GraftTensor      *scalars;      /* [params * GRAFT_OPTIM_N_SCALARS], per-step values */
  guint             generation;   /* bumped by settings that change a step's ops */
};

static GraftOptimizer *
optimizer_new (GraftModel *model)
{
  GraftOptimizer *self = g_new0 (GraftOptimizer, 1);

  self->model = graft_model_ref (model);
  self->block_scale = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->n_states = model->params->len;
  self->states = g_new0 (ParamState, self->n_states);
  self->grads = g_ptr_array_new ();
  return self;
}

GraftOptimizer *
graft_optimizer_new_sgd (GraftModel           *model,
                         const GraftSgdParams *params)
{
  GraftOptimizer *self;

  g_return_val_if_fail (model != NULL && params != NULL, NULL);

  self = optimizer_new (model);
  self->kind = GRAFT_OPTIM_SGD;
  self->sgd = *params;
  self->lr = params->lr;
  return self;
}

GraftOptimizer *
graft_optimizer_new_adamw (GraftModel             *model,
                           const GraftAdamWParams *params)
{
  GraftOptimizer *self;

  g_return_val_if_fail (model != NULL && params != NULL, NULL);

  self = optimizer_new (model);
  self->kind = GRAFT_OPTIM_ADAMW;
  self->adamw = *params;
  self->lr = params->lr;
  return self;
}

void
graft_optimizer_free (GraftOptimizer *self)
{
  if (self == NULL)
    return;

  _graft_model_forget_optimizer (self->model, self);
  for (guint i = 0; i < self->n_states; i++)
    {
      g_clear_pointer (&self->states[i].state[0], graft_tensor_unref);
      g_clear_pointer (&self->states[i].state[1], graft_tensor_unref);
    }
  g_free (self->states);
  g_hash_table_unref (self->block_scale);
  g_ptr_array_unref (self->grads);
  g_clear_pointer (&self->norm, graft_tensor_unref);
  g_clear_pointer (&self->scalars, graft_tensor_unref);
  graft_model_unref (self->model);
  g_free (self);
}

void
graft_optimizer_set_lr (GraftOptimizer *self,
                        float           lr)
{
  g_return_if_fail (self != NULL);
  self->lr = lr;
}

void
graft_optimizer_set_block_lr_scale (GraftOptimizer *self,
                                    const char     *block,
                                    float           scale)
{
  g_return_if_fail (self != NULL && block != NULL);
  g_hash_table_insert (self->block_scale, g_strdup (block), g_memdup2 (&scale, sizeof scale));
}

void
graft_optimizer_set_clip_norm (GraftOptimizer *self,
                               float           max_norm)
{
  g_return_if_fail (self != NULL);
  if (max_norm != self->clip_norm)
    self->generation++;
  self->clip_norm = max_norm;
}

guint
graft_optimizer_get_step (GraftOptimizer *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->step;
}

static GraftTensor *
state_tensor (GraftParam  *param,
              const char  *what,
              GError     **error)
{
  GraftTensor *t = graft_tensor_new (graft_tensor_get_backend (param->value), param->rank,
                                     param->shape, error);
  g_autofree char *name = NULL;

  if (t == NULL)
    return NULL;
  name = g_strdup_printf ("%s %s", param->name, what);
  graft_tensor_set_name (t, name);
  if (!graft_op_fill (t, 0.0f, error))
    g_clear_pointer (&t, graft_tensor_unref);
  return t;
}

GraftModel *
_graft_optimizer_get_model (GraftOptimizer *self)
{
  return self->model;
}

guint
_graft_optimizer_get_generation (GraftOptimizer *self)
{
  return self->generation;
}

static float
param_lr (GraftOptimizer *self,
          GraftParam     *param)
{
  const char *block = g_ptr_array_index (self->model->blocks, param->block);
  float *scale = g_hash_table_lookup (self->block_scale, block);

  return self->lr * (scale != NULL ? *scale : 1.0f);
}

gboolean
_graft_optimizer_write_scalars (GraftOptimizer  *self,
                                GError         **error)
{
  GraftModel *model = self->model;
  g_autofree float *values = NULL;
  gsize n = (gsize) self->n_states * GRAFT_OPTIM_N_SCALARS;

  if (self->scalars == NULL)
    {
      self->scalars = graft_tensor_new (model->backend, 1, (const gsize[]) { MAX (n, 1) }, error);
      if (self->scalars == NULL)
        return FALSE;
      graft_tensor_set_name (self->scalars, "optimizer step values");
    }

  values = g_new0 (float, MAX (n, 1));
  for (guint i = 0; i < model->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (model->params, i);
      float *slot = values + (gsize) i * GRAFT_OPTIM_N_SCALARS;
      guint step = self->states[i].step + 1;

      if (!param->trainable)
        continue;
      if (self->kind == GRAFT_OPTIM_SGD)
        {
          GraftSgdParams p = self->sgd;

          p.lr = param_lr (self, param);
          graft_sgd_step_scalars (&p, step, slot);
        }
      else
        {
          GraftAdamWParams p = self->adamw;

          p.lr = param_lr (self, param);
          graft_adamw_step_scalars (&p, step, slot);
        }
    }
  return graft_tensor_upload (self->scalars, values, MAX (n, 1), error);
}

gboolean
_graft_optimizer_run (GraftOptimizer  *self,
                      gboolean         from_scalars,
                      GError         **error)
{
  GraftModel *model = self->model;
  GraftTensor *scalars = from_scalars ? self->scalars : NULL;

  g_return_val_if_fail (!from_scalars || self->scalars != NULL, FALSE);

  if (!model->backward_done)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
                   "%s: an optimizer step needs gradients from a backward pass first", model->arch);
      return FALSE;
    }

  g_ptr_array_set_size (self->grads, 0);
  for (guint i = 0; i < model->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (model->params, i);

      if (param->trainable)
        g_ptr_array_add (self->grads, param->grad);
    }
  if (self->grads->len == 0)
    return TRUE;

  if (self->clip_norm > 0.0f)
    {
      if (self->norm == NULL &&
          (self->norm = graft_tensor_new (model->backend, 1, (const gsize[]) { 1 }, error)) == NULL)
        return FALSE;
      if (!graft_op_clip_grad_norm ((GraftTensor *const *) self->grads->pdata, self->grads->len,
                                    self->clip_norm, self->norm, error))
        return FALSE;
    }

  for (guint i = 0; i < model->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (model->params, i);
      ParamState *state = &self->states[i];
      float lr = param_lr (self, param);
      gboolean ok;

      if (!param->trainable)
        continue;

      if (self->kind == GRAFT_OPTIM_SGD)
        {
          GraftSgdParams p = self->sgd;

          p.lr = lr;
          if (p.momentum != 0.0f && state->state[0] == NULL &&
              (state->state[0] = state_tensor (param, "momentum", error)) == NULL)
            return FALSE;
          ok = graft_op_sgd_step_from (param->value, param->grad, state->state[0], &p,
                                       state->step + 1, scalars, i, error);
        }
      else
        {
          GraftAdamWParams p = self->adamw;

          p.lr = lr;
          if (state->state[0] == NULL &&
              ((state->state[0] = state_tensor (param, "exp_avg", error)) == NULL ||
               (state->state[1] = state_tensor (param, "exp_avg_sq", error)) == NULL))
            return FALSE;
          ok = graft_op_adamw_step_from (param->value, param->grad, state->state[0],
                                         state->state[1], &p, state->step + 1, scalars, i,
                                         error);
        }
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

void
_graft_optimizer_advance (GraftOptimizer *self)
{
  GraftModel *model = self->model;
  gboolean any = FALSE;

  for (guint i = 0; i < model->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (model->params, i);

      if (param->trainable)
        {
          self->states[i].step++;
          any = TRUE;
        }
    }
  if (any)
    self->step++;
}

gboolean
graft_optimizer_step (GraftOptimizer  *self,
                      GError         **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!_graft_optimizer_run (self, FALSE, error))
    return FALSE;
  _graft_optimizer_advance (self);
  return TRUE;
}

/* ---- state for exact resume ------------------------------------------------------------ */

#define STATE_PREFIX "optimizer/"

static const char *
kind_name (GraftOptimKind kind)
{
  return kind == GRAFT_OPTIM_SGD ? "sgd" : "adamw";
}

/* The name of state buffer @slot for this kind of optimizer, or NULL. */
static const char *
state_name (GraftOptimKind kind,
            guint          slot)
{
  static const char *const sgd[2] = { "momentum", NULL };
  static const char *const adamw[2] = { "exp_avg", "exp_avg_sq" };

  return kind == GRAFT_OPTIM_SGD ? sgd[slot] : adamw[slot];
}

/* Whether this optimizer's steps read state buffer @slot. */
static gboolean
uses_state (GraftOptimizer *self,
            guint           slot)
{
  if (self->kind == GRAFT_OPTIM_SGD)
    return slot == 0 && self->sgd.momentum != 0.0f;
  return TRUE;
}

gboolean
graft_optimizer_save_state (GraftOptimizer  *self,
                            GraftWeights    *into,
                            GError         **error)
{
  GraftModel *model;
  g_autoptr(GPtrArray) data = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *step = NULL;

  g_return_val_if_fail (self != NULL && into != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  model = self->model;
  /* everything downloaded before anything is added, so that a failure adds nothing */
  for (guint i = 0; i < self->n_states; i++)
    for (guint s = 0; s < 2; s++)
      {
        GraftTensor *t = self->states[i].state[s];
        gsize n;
        float *values;

        if (t == NULL)
          continue;
        n = graft_tensor_get_n_elements (t);
        values = g_try_new (float, MAX (n, 1));
        if (values == NULL)
          {
            g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ,
                         "Out of memory saving the optimizer state of %s",
                         _graft_model_param (model, i)->name);
            return FALSE;
          }
        g_ptr_array_add (data, values);
        if (!graft_tensor_download (t, values, n, error))
          {
            g_prefix_error (error, "Saving the optimizer state of %s: ",
                            _graft_model_param (model, i)->name);
            return FALSE;
          }
      }

  for (guint i = 0, d = 0; i < self->n_states; i++)
    {
      ParamState *state = &self->states[i];
      GraftParam *param = _graft_model_param (model, i);
      g_autofree char *key = NULL;
      g_autofree char *value = NULL;

      if (state->state[0] == NULL && state->state[1] == NULL && state->step == 0)
        continue;
      for (guint s = 0; s < 2; s++)
        if (state->state[s] != NULL)
          {
            g_autofree char *name = g_strdup_printf (STATE_PREFIX "%s/%s", param->name,
                                                     state_name (self->kind, s));

            graft_weights_take (into, name, param->rank, param->shape,
                                g_steal_pointer (&data->pdata[d++]));
          }
      key = g_strdup_printf (STATE_PREFIX "%s/step", param->name);
      value = g_strdup_printf ("%u", state->step);
      graft_weights_set_metadata (into, key, value);
    }
  step = g_strdup_printf ("%u", self->step);
  graft_weights_set_metadata (into, STATE_PREFIX "kind", kind_name (self->kind));
  graft_weights_set_metadata (into, STATE_PREFIX "step", step);
  return TRUE;
}

static gboolean
parse_step (const char  *key,
            const char  *value,
            guint       *out,
            GError     **error)
{
  guint64 n;

  if (g_ascii_string_to_unsigned (value, 10, 0, G_MAXUINT, &n, NULL))
    {
      *out = (guint) n;
      return TRUE;
    }
  g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT,
               "Optimizer state: %s is “%s”, not a step count", key, value);
  return FALSE;
}

/* Whether @name ("optimizer/<parameter>/<what>") is an entry this optimizer knows: a
 * parameter of the model and a buffer of this kind, or (for metadata) its step. */
static gboolean
known_entry (GraftOptimizer *self,
             const char     *name,
             gboolean        metadata)
{
  const char *rest = name + strlen (STATE_PREFIX);
  const char *slash = strrchr (rest, '/');
  g_autofree char *param = NULL;

  if (slash == NULL)
    return metadata;   /* "optimizer/kind", "optimizer/step" and any later settings */
  param = g_strndup (rest, slash - rest);
  if (!g_hash_table_contains (self->model->param_index, param))
    return FALSE;
  if (metadata)
    return g_str_equal (slash + 1, "step");
  for (guint s = 0; s < 2; s++)
    if (state_name (self->kind, s) != NULL && g_str_equal (slash + 1, state_name (self->kind, s)))
      return TRUE;
  return FALSE;
}

gboolean
graft_optimizer_load_state (GraftOptimizer  *self,
                            GraftWeights    *from,
                            GError         **error)
{
  GraftModel *model;
  const char *kind, *value;
  g_autofree const char **keys = NULL;
  g_autofree guint *steps = NULL;
  g_autofree GraftWeightsEntry **entries = NULL;   /* [n_states * 2], NULL where none */
  g_autofree GraftTensor **tensors = NULL;
  guint step;

  g_return_val_if_fail (self != NULL && from != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  model = self->model;
  kind = graft_weights_get_metadata (from, STATE_PREFIX "kind");
  if (kind == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                   "Optimizer state: " STATE_PREFIX "kind is missing; these weights hold "
                   "no optimizer state");
      return FALSE;
    }
  if (!g_str_equal (kind, kind_name (self->kind)))
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT,
                   "Optimizer state: " STATE_PREFIX "kind is “%s” but this optimizer is "
                   "“%s”; resume with the optimizer the run was saved with", kind,
                   kind_name (self->kind));
      return FALSE;
    }
  value = graft_weights_get_metadata (from, STATE_PREFIX "step");
  if (value == NULL)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                   "Optimizer state: " STATE_PREFIX "step is missing");
      return FALSE;
    }
  if (!parse_step (STATE_PREFIX "step", value, &step, error))
    return FALSE;

  /* nothing for another model */
  for (guint i = 0; i < graft_weights_get_n (from); i++)
    {
      const char *name = graft_weights_get (from, i)->name;

      if (g_str_has_prefix (name, STATE_PREFIX) && !known_entry (self, name, FALSE))
        {
          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY,
                       "Optimizer state: %s is not state of this %s optimizer over %s", name,
                       kind, model->arch);
          return FALSE;
        }
    }
  keys = graft_weights_get_metadata_keys (from);
  for (guint i = 0; keys[i] != NULL; i++)
    if (g_str_has_prefix (keys[i], STATE_PREFIX) && !known_entry (self, keys[i], TRUE))
      {
        g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY,
                     "Optimizer state: %s is not state of this %s optimizer over %s", keys[i],
                     kind, model->arch);
        return FALSE;
      }

  /* each parameter's step and buffers, checked before anything changes */
  steps = g_new0 (guint, self->n_states);
  entries = g_new0 (GraftWeightsEntry *, (gsize) self->n_states * 2);
  for (guint i = 0; i < self->n_states; i++)
    {
      GraftParam *param = _graft_model_param (model, i);
      g_autofree char *key = g_strdup_printf (STATE_PREFIX "%s/step", param->name);
      const char *own = graft_weights_get_metadata (from, key);
      gboolean any = FALSE;

      for (guint s = 0; s < 2; s++)
        {
          g_autofree char *name = NULL;
          GraftWeightsEntry *entry;
          g_autofree char *got = NULL;
          g_autofree char *want = NULL;

          if (state_name (self->kind, s) == NULL)
            continue;
          name = g_strdup_printf (STATE_PREFIX "%s/%s", param->name, state_name (self->kind, s));
          entry = graft_weights_lookup (from, name);
          if (entry == NULL)
            continue;
          any = TRUE;
          if (!_graft_param_check_shape (param, entry, &got, &want))
            {
              g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                           "Optimizer state: %s is %s, the parameter is %s", name, got, want);
              return FALSE;
            }
          /* a buffer this optimizer never reads (SGD without momentum) stays out */
          if (uses_state (self, s))
            entries[i * 2 + s] = entry;
        }

      if (own == NULL)
        {
          if (any)
            {
              g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                           "Optimizer state: %s is missing", key);
              return FALSE;
            }
          continue;   /* a parameter that never had state */
        }
      if (!parse_step (key, own, &steps[i], error))
        return FALSE;
      /* a step taken reads its buffers at the next one */
      for (guint s = 0; s < 2; s++)
        if (steps[i] > 0 && uses_state (self, s) && entries[i * 2 + s] == NULL)
          {
            g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                         "Optimizer state: " STATE_PREFIX "%s/%s is missing (%s has taken %u "
                         "steps)", param->name, state_name (self->kind, s), param->name,
                         steps[i]);
            return FALSE;
          }
    }

  /* new tensors, so that a failure leaves the old state */
  tensors = g_new0 (GraftTensor *, (gsize) self->n_states * 2);
  for (guint i = 0; i < self->n_states * 2; i++)
    {
      GraftParam *param = _graft_model_param (model, i / 2);
      GraftWeightsEntry *entry = entries[i];

      if (entry == NULL)
        continue;
      tensors[i] = state_tensor (param, state_name (self->kind, i % 2), error);
      if (tensors[i] == NULL ||
          !graft_tensor_upload (tensors[i], entry->data, entry->n_elements, error))
        {
          for (guint j = 0; j <= i; j++)
            g_clear_pointer (&tensors[j], graft_tensor_unref);
          g_prefix_error (error, "Optimizer state of %s: ", param->name);
          return FALSE;
        }
    }

  for (guint i = 0; i < self->n_states; i++)
    {
      ParamState *state = &self->states[i];

      for (guint s = 0; s < 2; s++)
        {
          g_clear_pointer (&state->state[s], graft_tensor_unref);
          state->state[s] = g_steal_pointer (&tensors[i * 2 + s]);
        }
      state->step = steps[i];
    }
  self->step = step;
  /* a recorded step holds the old tensors */
  self->generation++;
  return TRUE;
}
