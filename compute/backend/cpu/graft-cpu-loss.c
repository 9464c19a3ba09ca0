/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Softmax cross-entropy on the CPU backend (see GraftCrossEntropyPlan). Each row is
 * reduced in double from its max-subtracted log-sum-exp, so logits of any magnitude
 * neither overflow nor lose the loss of confident rows; this backend is the reference
 * the Vulkan kernels are measured against. Rows are split across the worker threads;
 * the mean adds the rows' losses in row order, so results do not depend on the number
 * of threads. */

#include <math.h>

#include "graft-cpu-private.h"

typedef struct {
  const GraftCrossEntropyPlan *plan;
  const float *x;
  const float *target;
  const float *weight;   /* NULL: all 1 */
  float       *losses;
  double      *lse;      /* per row, for the gradient pass */
  double      *row_w;    /* w[y] per row, 0 for a target outside [0, c) */
  float       *dx;
  double       inv_total;
} LossCtx;

static inline double
class_weight (const LossCtx *c,
              guint32        j)
{
  return c->weight != NULL ? c->weight[j] : 1.0;
}

/* The row's target index, or -1 when it names no class. */
static inline gint64
row_target (const LossCtx *c,
            guint32        row)
{
  float t = c->target[row];

  if (!(t >= 0.0f && t < (float) c->plan->c))
    return -1;
  return (gint64) t;
}

static void
rows_range (gpointer ctx,
            guint32  start,
            guint32  end)
{
  LossCtx *c = ctx;
  guint32 nc = c->plan->c;
  double eps = c->plan->label_smoothing;

  for (guint32 i = start; i < end; i++)
    {
      const float *x = c->x + (gsize) i * nc;
      gint64 y = row_target (c, i);
      double m = x[0], s = 0.0, lse, smooth = 0.0, wy;

      for (guint32 j = 1; j < nc; j++)
        if (x[j] > m || isnan (x[j]))
          m = x[j];
      for (guint32 j = 0; j < nc; j++)
        s += exp (x[j] - m);
      lse = m + log (s);
      c->lse[i] = lse;

      if (y < 0)
        {
          c->row_w[i] = 0.0;
          c->losses[i] = 0.0f;
          continue;
        }

      wy = class_weight (c, (guint32) y);
      if (eps != 0.0)
        for (guint32 j = 0; j < nc; j++)
          smooth += class_weight (c, j) * (lse - x[j]);
      c->row_w[i] = wy;
      c->losses[i] = (float) ((1.0 - eps) * wy * (lse - x[y]) + eps / nc * smooth);
    }
}

static void
grad_range (gpointer ctx,
            guint32  start,
            guint32  end)
{
  LossCtx *c = ctx;
  guint32 nc = c->plan->c;
  double eps = c->plan->label_smoothing;
  double total_w = 0.0;

  if (eps != 0.0)
    for (guint32 j = 0; j < nc; j++)
      total_w += class_weight (c, j);

  for (guint32 i = start; i < end; i++)
    {
      const float *x = c->x + (gsize) i * nc;
      float *dx = c->dx + (gsize) i * nc;
      gint64 y = row_target (c, i);
      double a = (1.0 - eps) * c->row_w[i];

      if (y < 0)
        {
          for (guint32 j = 0; j < nc; j++)
            dx[j] = 0.0f;
          continue;
        }

      for (guint32 j = 0; j < nc; j++)
        {
          double p = exp (x[j] - c->lse[i]);
          double g = a * (p - (j == (guint32) y ? 1.0 : 0.0));

          if (eps != 0.0)
            g += eps / nc * (total_w * p - class_weight (c, j));
          dx[j] = (float) (g * c->inv_total);
        }
    }
}

gboolean
_graft_cpu_cross_entropy (GraftBackend                 *backend,
                          const GraftCrossEntropyPlan  *plan,
                          GraftBuffer                  *logits,
                          GraftBuffer                  *target,
                          GraftBuffer                  *weight,
                          GraftBuffer                  *loss,
                          GraftBuffer                  *losses,
                          GraftBuffer                  *dlogits,
                          GError                      **error)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;
  g_autofree double *lse = g_new (double, plan->n);
  g_autofree double *row_w = g_new (double, plan->n);
  LossCtx ctx = {
    .plan = plan,
    .x = logits->data,
    .target = target->data,
    .weight = plan->has_weight ? weight->data : NULL,
    .losses = losses->data,
    .lse = lse,
    .row_w = row_w,
    .dx = dlogits != NULL ? dlogits->data : NULL,
  };
  double sum = 0.0, total = 0.0;

  (void) error;

  /* Rows are the unit of work; a row of c logits costs about c elements. */
  _graft_cpu_parallel_for (self, plan->n, rows_range, &ctx);

  for (guint32 i = 0; i < plan->n; i++)
    {
      sum += losses->data[i];
      total += row_w[i];
    }
  /* 0 / 0 is NaN when no target has weight, as in PyTorch. */
  loss->data[0] = (float) (sum / total);
  ctx.inv_total = 1.0 / total;

  if (dlogits != NULL)
    _graft_cpu_parallel_for (self, plan->n, grad_range, &ctx);
  return TRUE;
}
