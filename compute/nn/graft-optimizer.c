/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* torch.optim.SGD and AdamW over a model's trainable parameters, with a learning-rate
 * multiplier per block and gradient-norm clipping. Each parameter keeps its own step
 * count, as PyTorch's per-parameter state does, so a layer unfrozen later starts its
 * bias correction (or momentum) afresh. */

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
