/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Optimizer steps and gradient-norm clipping on the CPU backend. The updates are
 * float32 with the operations in the order torch.optim writes them; sums of squares
 * are accumulated in double, in index order, so the norm is deterministic and at least
 * as accurate as PyTorch's. */

#include <math.h>

#include "graft-cpu-private.h"

typedef struct {
  const GraftOptimPlan *plan;
  float       *param;
  const float *grad;
  float       *s0;
  float       *s1;
} OptimCtx;

static void
sgd_range (gpointer ctx,
           guint32  start,
           guint32  end)
{
  OptimCtx *c = ctx;
  const GraftOptimPlan *p = c->plan;

  for (guint32 i = start; i < end; i++)
    {
      float d = c->grad[i];

      if (p->weight_decay != 0.0f)
        d = d + p->weight_decay * c->param[i];
      if (c->s0 != NULL)
        {
          float buf = p->step == 1 ? d : p->momentum * c->s0[i] + (1.0f - p->dampening) * d;

          c->s0[i] = buf;
          d = p->nesterov ? d + p->momentum * buf : buf;
        }
      c->param[i] = c->param[i] - p->lr * d;
    }
}

static void
adamw_range (gpointer ctx,
             guint32  start,
             guint32  end)
{
  OptimCtx *c = ctx;
  const GraftOptimPlan *p = c->plan;
  float decay = 1.0f - p->lr * p->weight_decay;

  for (guint32 i = start; i < end; i++)
    {
      float g = c->grad[i];
      float m = p->beta1 * c->s0[i] + (1.0f - p->beta1) * g;
      float v = p->beta2 * c->s1[i] + (1.0f - p->beta2) * g * g;
      float denom = sqrtf (v) / p->bias2_sqrt + p->eps;

      c->s0[i] = m;
      c->s1[i] = v;
      c->param[i] = c->param[i] * decay - p->step_size * (m / denom);
    }
}

gboolean
_graft_cpu_optim_step (GraftBackend          *backend,
                       const GraftOptimPlan  *plan,
                       GraftBuffer           *param,
                       GraftBuffer           *grad,
                       GraftBuffer           *state0,
                       GraftBuffer           *state1,
                       GError               **error)
{
  OptimCtx ctx = {
    plan, param->data, grad->data,
    state0 != NULL ? state0->data : NULL,
    state1 != NULL ? state1->data : NULL,
  };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->n,
                           plan->kind == GRAFT_OPTIM_SGD ? sgd_range : adamw_range, &ctx);
  return TRUE;
}

gboolean
_graft_cpu_sum_squares (GraftBackend  *backend,
                        GraftBuffer   *x,
                        guint32        n,
                        GraftBuffer   *partial,
                        guint32        slot,
                        GError       **error)
{
  double sum = 0.0;

  (void) backend;
  (void) error;
  for (guint32 i = 0; i < n; i++)
    sum += (double) x->data[i] * x->data[i];
  partial->data[slot] = (float) sum;
  return TRUE;
}

gboolean
_graft_cpu_sqrt_sum (GraftBackend  *backend,
                     GraftBuffer   *partial,
                     guint32        n,
                     GraftBuffer   *out,
                     GError       **error)
{
  double sum = 0.0;

  (void) backend;
  (void) error;
  for (guint32 i = 0; i < n; i++)
    sum += partial->data[i];
  out->data[0] = (float) sqrt (sum);
  return TRUE;
}

typedef struct {
  float  coef;
  float *x;
} ClipCtx;

static void
clip_range (gpointer ctx,
            guint32  start,
            guint32  end)
{
  ClipCtx *c = ctx;

  for (guint32 i = start; i < end; i++)
    c->x[i] *= c->coef;
}

gboolean
_graft_cpu_clip_scale (GraftBackend  *backend,
                       GraftBuffer   *norm,
                       float          max_norm,
                       GraftBuffer   *x,
                       guint32        n,
                       GError       **error)
{
  /* clip_grad_norm_: clip_coef = max_norm / (total_norm + 1e-6), clamped to 1, in
   * float32 tensor arithmetic. A NaN norm gives a NaN coefficient, as in PyTorch. */
  float coef = max_norm / (norm->data[0] + 1e-6f);
  ClipCtx ctx = { coef > 1.0f ? 1.0f : coef, x->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, clip_range, &ctx);
  return TRUE;
}
