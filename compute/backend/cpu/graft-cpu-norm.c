/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Batch and layer normalisation on the CPU, forward and backward (see GraftNormPlan).
 * Work is split across the worker threads by whole groups (a channel, or a row), each
 * reduced in double in two passes (mean, then the squared deviations from it), so that
 * a channel of a million values with a large mean keeps a variance accurate to float
 * precision. Layer norm's weight and bias gradients are sums over rows, done in a second
 * split by feature. This backend is the reference the Vulkan kernels are held to. */

#include <math.h>

#include "graft-cpu-private.h"

typedef struct _NormCtx NormCtx;
typedef void (*GroupFunc) (const NormCtx *c, guint32 group);

struct _NormCtx {
  const GraftNormPlan *plan;
  GroupFunc            func;
  guint32              cost;      /* work units per group, for splitting */
  guint32              count;     /* groups (or features) */
  const float         *x, *dy, *weight, *bias;
  float               *running_mean, *running_var;
  float               *y, *mean, *invstd;
  float               *dx, *dweight, *dbias;
};

/* As graft-cpu-pool.c: group p is done by the range holding unit p * cost. */
static void
groups_range (gpointer ctx,
              guint32  start,
              guint32  end)
{
  const NormCtx *c = ctx;
  guint32 first = (guint32) (((guint64) start + c->cost - 1) / c->cost);
  guint32 last = (guint32) (((guint64) end + c->cost - 1) / c->cost);

  for (guint32 g = first; g < last && g < c->count; g++)
    c->func (c, g);
}

static void
for_each (GraftBackend *backend,
          NormCtx      *c,
          GroupFunc     func,
          guint32       count,
          guint64       cost)
{
  c->func = func;
  c->count = count;
  /* The front end keeps x below 2^32 values, and count * cost is its size. */
  c->cost = (guint32) MAX (cost, 1);
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, count * c->cost, groups_range, c);
}

/* The offset of element (o, g, 0). */
static inline gsize
row_of (const GraftNormPlan *p,
        guint32              o,
        guint32              g)
{
  return ((gsize) o * p->groups + g) * p->inner;
}

static inline float
affine_weight (const NormCtx *c,
               guint32        g,
               guint32        i)
{
  if (c->weight == NULL)
    return 1.0f;
  return c->weight[c->plan->kind == GRAFT_NORM_BATCH ? g : i];
}

/* Pairs of doubles: the reductions below keep their running sums in these, so that the
 * compiler converts and adds two values per instruction (it may not reorder a scalar
 * floating-point sum by itself). */
typedef double GraftV2d __attribute__ ((vector_size (16)));

static inline GraftV2d
pair_at (const float *v,
         guint32      i)
{
  return (GraftV2d) { v[i], v[i + 1] };
}

/* Sums over a row of @n floats in double, with four running sums (values i, i + 1,
 * i + 2, i + 3 of every four; the first also takes the last n mod 4) so that the
 * additions do not wait on one another; the order is fixed, so results are
 * deterministic. */
static inline double
row_sum (const float *v,
         guint32      n)
{
  GraftV2d lo = { 0.0, 0.0 }, hi = { 0.0, 0.0 };
  double first;
  guint32 i = 0;

  for (; i + 4 <= n; i += 4)
    {
      lo += pair_at (v, i);
      hi += pair_at (v, i + 2);
    }
  first = lo[0];
  for (; i < n; i++)
    first += v[i];
  return (first + lo[1]) + (hi[0] + hi[1]);
}

/* Σ (v - mu)² over a row, the same way. */
static inline double
row_sq_dev (const float *v,
            guint32      n,
            double       mu)
{
  GraftV2d lo = { 0.0, 0.0 }, hi = { 0.0, 0.0 }, m = { mu, mu };
  double first;
  guint32 i = 0;

  for (; i + 4 <= n; i += 4)
    {
      GraftV2d d0 = pair_at (v, i) - m, d1 = pair_at (v, i + 2) - m;

      lo += d0 * d0;
      hi += d1 * d1;
    }
  first = lo[0];
  for (; i < n; i++)
    first += (v[i] - mu) * (v[i] - mu);
  return (first + lo[1]) + (hi[0] + hi[1]);
}

/* Σ dy and Σ dy · (x - mu) over a row, with two running sums each. */
static inline void
row_grad_sums (const float *dy,
               const float *x,
               guint32      n,
               double       mu,
               double      *sum_dy,
               double      *sum_dy_dev)
{
  GraftV2d a = { 0.0, 0.0 }, b = { 0.0, 0.0 }, m = { mu, mu };
  double a0, b0;
  guint32 i = 0;

  for (; i + 2 <= n; i += 2)
    {
      GraftV2d g = pair_at (dy, i);

      a += g;
      b += g * (pair_at (x, i) - m);
    }
  a0 = a[0];
  b0 = b[0];
  for (; i < n; i++)
    {
      a0 += dy[i];
      b0 += dy[i] * (x[i] - mu);
    }
  *sum_dy += a0 + a[1];
  *sum_dy_dev += b0 + b[1];
}

/* ---- forward ------------------------------------------------------------------------ */

static void
forward_group (const NormCtx *c,
               guint32        g)
{
  const GraftNormPlan *p = c->plan;
  gsize m = (gsize) p->outer * p->inner;
  float mean, invstd;

  if (p->training)
    {
      double sum = 0.0, sq = 0.0, mu, var;

      for (guint32 o = 0; o < p->outer; o++)
        sum += row_sum (c->x + row_of (p, o, g), p->inner);
      mu = sum / (double) m;
      for (guint32 o = 0; o < p->outer; o++)
        sq += row_sq_dev (c->x + row_of (p, o, g), p->inner, mu);
      var = sq / (double) m;

      mean = (float) mu;
      invstd = (float) (1.0 / sqrt (var + (double) p->eps));
      if (c->running_mean != NULL)
        {
          double mom = p->momentum;
          /* The front end allows training only with m >= 2. */
          double unbiased = sq / (double) (m - 1);

          c->running_mean[g] = (float) ((1.0 - mom) * c->running_mean[g] + mom * mu);
          c->running_var[g] = (float) ((1.0 - mom) * c->running_var[g] + mom * unbiased);
        }
    }
  else
    {
      mean = c->running_mean[g];
      invstd = (float) (1.0 / sqrt ((double) c->running_var[g] + (double) p->eps));
    }
  c->mean[g] = mean;
  c->invstd[g] = invstd;

  if (p->kind == GRAFT_NORM_BATCH)
    {
      /* one weight and bias for the whole group: a loop the compiler vectorises */
      float w = c->weight != NULL ? c->weight[g] : 1.0f;
      float b = c->bias != NULL ? c->bias[g] : 0.0f;

      for (guint32 o = 0; o < p->outer; o++)
        {
          const float *x = c->x + row_of (p, o, g);
          float *y = c->y + row_of (p, o, g);

          for (guint32 i = 0; i < p->inner; i++)
            y[i] = (x[i] - mean) * invstd * w + b;
        }
      return;
    }

  for (guint32 o = 0; o < p->outer; o++)
    {
      gsize r = row_of (p, o, g);

      for (guint32 i = 0; i < p->inner; i++)
        {
          float xhat = (c->x[r + i] - mean) * invstd;
          float v = xhat * affine_weight (c, g, i);

          if (c->bias != NULL)
            v += c->bias[p->kind == GRAFT_NORM_BATCH ? g : i];
          c->y[r + i] = v;
        }
    }
}

gboolean
_graft_cpu_norm (GraftBackend         *backend,
                 const GraftNormPlan  *plan,
                 GraftBuffer          *x,
                 GraftBuffer          *weight,
                 GraftBuffer          *bias,
                 GraftBuffer          *running_mean,
                 GraftBuffer          *running_var,
                 GraftBuffer          *y,
                 GraftBuffer          *mean,
                 GraftBuffer          *invstd,
                 GError              **error)
{
  NormCtx c = {
    .plan = plan,
    .x = x->data,
    .weight = weight != NULL ? weight->data : NULL,
    .bias = bias != NULL ? bias->data : NULL,
    .running_mean = running_mean != NULL ? running_mean->data : NULL,
    .running_var = running_var != NULL ? running_var->data : NULL,
    .y = y->data,
    .mean = mean->data,
    .invstd = invstd->data,
  };

  (void) error;
  for_each (backend, &c, forward_group, plan->groups, (guint64) plan->outer * plan->inner);
  return TRUE;
}

/* ---- backward ----------------------------------------------------------------------- */

/* dx of one group; for batch norm also its dweight and dbias, sums over the group. */
static void
backward_group (const NormCtx *c,
                guint32        g)
{
  const GraftNormPlan *p = c->plan;
  double m = (double) p->outer * p->inner;
  double mean = c->mean[g], invstd = c->invstd[g];
  double s1 = 0.0, s2 = 0.0;   /* Σg and Σg·xhat, g = dy (batch) or dy·weight (layer) */
  gboolean batch = p->kind == GRAFT_NORM_BATCH;

  if (batch)
    {
      double w = c->weight != NULL ? c->weight[g] : 1.0;
      double scale = invstd * w;
      float a, bx, k;

      for (guint32 o = 0; o < p->outer; o++)
        row_grad_sums (c->dy + row_of (p, o, g), c->x + row_of (p, o, g), p->inner, mean, &s1, &s2);
      s2 *= invstd;
      if (c->dbias != NULL)
        c->dbias[g] = (float) s1;
      if (c->dweight != NULL)
        c->dweight[g] = (float) s2;

      /* dx = scale / m · (m·dy - Σdy - xhat·Σdy·xhat), as a · dy + bx · (x - mean) + k */
      a = (float) scale;
      bx = p->training ? (float) (-scale * invstd * s2 / m) : 0.0f;
      k = p->training ? (float) (-scale * s1 / m) : 0.0f;
      for (guint32 o = 0; o < p->outer; o++)
        {
          const float *dy = c->dy + row_of (p, o, g);
          const float *x = c->x + row_of (p, o, g);
          float *dx = c->dx + row_of (p, o, g);
          float fmean = (float) mean;

          for (guint32 i = 0; i < p->inner; i++)
            dx[i] = a * dy[i] + bx * (x[i] - fmean) + k;
        }
      return;
    }

  for (guint32 o = 0; o < p->outer; o++)
    {
      gsize r = row_of (p, o, g);

      for (guint32 i = 0; i < p->inner; i++)
        {
          double gv = c->dy[r + i] * (batch ? 1.0 : (double) affine_weight (c, g, i));

          s1 += gv;
          s2 += gv * ((c->x[r + i] - mean) * invstd);
        }
    }

  if (batch)
    {
      if (c->dbias != NULL)
        c->dbias[g] = (float) s1;
      if (c->dweight != NULL)
        c->dweight[g] = (float) s2;
    }

  for (guint32 o = 0; o < p->outer; o++)
    {
      gsize r = row_of (p, o, g);

      for (guint32 i = 0; i < p->inner; i++)
        {
          double w = affine_weight (c, g, i);
          double gv = c->dy[r + i] * (batch ? 1.0 : w);
          double xhat = (c->x[r + i] - mean) * invstd;
          double scale = batch ? invstd * w : invstd;

          if (p->training)
            c->dx[r + i] = (float) (scale / m * (m * gv - s1 - xhat * s2));
          else
            c->dx[r + i] = (float) (scale * gv);
        }
    }
}

/* Layer norm's dweight and dbias of feature i: sums over the rows. */
static void
backward_feature (const NormCtx *c,
                  guint32        i)
{
  const GraftNormPlan *p = c->plan;
  double s1 = 0.0, s2 = 0.0;

  for (guint32 g = 0; g < p->groups; g++)
    {
      gsize j = (gsize) g * p->inner + i;
      double dy = c->dy[j];

      s1 += dy;
      s2 += dy * ((c->x[j] - (double) c->mean[g]) * (double) c->invstd[g]);
    }
  if (c->dbias != NULL)
    c->dbias[i] = (float) s1;
  if (c->dweight != NULL)
    c->dweight[i] = (float) s2;
}

gboolean
_graft_cpu_norm_backward (GraftBackend         *backend,
                          const GraftNormPlan  *plan,
                          GraftBuffer          *x,
                          GraftBuffer          *dy,
                          GraftBuffer          *weight,
                          GraftBuffer          *mean,
                          GraftBuffer          *invstd,
                          GraftBuffer          *dx,
                          GraftBuffer          *dweight,
                          GraftBuffer          *dbias,
                          GError              **error)
{
  NormCtx c = {
    .plan = plan,
    .x = x->data,
    .dy = dy->data,
    .weight = weight != NULL ? weight->data : NULL,
    .mean = mean->data,
    .invstd = invstd->data,
    .dx = dx->data,
    .dweight = dweight != NULL ? dweight->data : NULL,
    .dbias = dbias != NULL ? dbias->data : NULL,
  };

  (void) error;
  for_each (backend, &c, backward_group, plan->groups, (guint64) plan->outer * plan->inner);
  if (plan->kind == GRAFT_NORM_LAYER && (c.dweight != NULL || c.dbias != NULL))
    for_each (backend, &c, backward_feature, plan->inner, plan->groups);
  return TRUE;
}
