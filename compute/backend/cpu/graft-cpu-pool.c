/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Pooling on the CPU: max, average and adaptive average, forward and backward. Work is
 * split across the worker threads by whole planes (one image channel each). Windows sum
 * in double on the way forward; the backward pass scatters each output's gradient into
 * a zeroed plane in output order, float by float, which is the order in which the Vulkan
 * kernels gather it. */

#include <math.h>
#include <string.h>

#include "graft-cpu-private.h"

typedef struct _PoolCtx PoolCtx;
typedef void (*PlaneFunc) (const PoolCtx *c, guint32 plane);

struct _PoolCtx {
  const GraftPoolPlan *plan;
  PlaneFunc            func;
  guint32              cost;      /* work units per plane, for splitting */
  const float         *src;       /* x, or grad_out */
  float               *dst;       /* out, or grad_in */
  float               *indices;   /* max pooling's argmax positions, or NULL */
};

/* The plane p is done by whichever range holds unit p * cost: every plane exactly once,
 * and a range is as long as its planes' work, so small ops stay on one thread. */
static void
planes_range (gpointer ctx,
              guint32  start,
              guint32  end)
{
  const PoolCtx *c = ctx;
  guint32 first = (guint32) (((guint64) start + c->cost - 1) / c->cost);
  guint32 last = (guint32) (((guint64) end + c->cost - 1) / c->cost);

  for (guint32 p = first; p < last && p < c->plan->planes; p++)
    c->func (c, p);
}

static void
for_each_plane (GraftBackend *backend,
                PoolCtx      *c)
{
  const GraftPoolPlan *p = c->plan;
  guint64 cost = MAX ((guint64) p->in_h * p->in_w, (guint64) p->out_h * p->out_w);

  /* The front end keeps both tensors below 2^32 values, so planes * cost fits. */
  c->cost = (guint32) MAX (cost, 1);
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, p->planes * c->cost, planes_range, c);
}

/* Rows (or columns) [*start, *end) of the input in output row @o's window, clipped to
 * the input; returns the divisor's share along this axis. */
static guint32
avg_window (guint32  o,
            guint32  size,
            guint32  kernel,
            guint32  stride,
            guint32  pad,
            gboolean count_pad,
            gint64  *start,
            gint64  *end)
{
  gint64 s = (gint64) o * stride - pad;
  gint64 e = MIN (s + kernel, (gint64) size + pad);
  gint64 padded = e - s;

  s = MAX (s, 0);
  e = MIN (e, (gint64) size);
  *start = s;
  *end = e;
  return (guint32) (count_pad ? padded : MAX (e - s, 0));
}

static void
adaptive_window (guint32  o,
                 guint32  size,
                 guint32  out_size,
                 gint64  *start,
                 gint64  *end)
{
  *start = ((guint64) o * size) / out_size;
  *end = ((guint64) (o + 1) * size + out_size - 1) / out_size;
}

/* ---- forward ------------------------------------------------------------------------ */

/* The outputs [*lo, *hi) along one axis whose whole window lies inside the input. */
static void
inner_outputs (guint32  out,
               guint32  in,
               guint32  kernel,
               guint32  stride,
               guint32  pad,
               guint32  dilation,
               guint32 *lo,
               guint32 *hi)
{
  gint64 span = (gint64) (kernel - 1) * dilation;
  gint64 first = ((gint64) pad + stride - 1) / stride;        /* o * stride >= pad */
  gint64 last = (gint64) in - 1 - span + pad;                  /* o * stride <= last */

  *lo = (guint32) MIN (first, (gint64) out);
  *hi = last < 0 ? *lo : (guint32) CLAMP (last / stride + 1, (gint64) *lo, (gint64) out);
}

/* One output of max pooling, its window clipped to the plane. */
static inline void
max_output (const GraftPoolPlan *p,
            const float         *x,
            guint32              oh,
            guint32              ow,
            float               *out,
            float               *index)
{
  gint64 h0 = (gint64) oh * p->stride_h - p->pad_h;
  gint64 w0 = (gint64) ow * p->stride_w - p->pad_w;
  float best = -INFINITY;
  gint64 best_i = -1;

  for (guint32 kh = 0; kh < p->kernel_h; kh++)
    {
      gint64 h = h0 + (gint64) kh * p->dilation_h;
      if (h < 0 || h >= p->in_h)
        continue;
      for (guint32 kw = 0; kw < p->kernel_w; kw++)
        {
          gint64 w = w0 + (gint64) kw * p->dilation_w;
          float v;

          if (w < 0 || w >= p->in_w)
            continue;
          v = x[h * p->in_w + w];
          /* As PyTorch: the first maximum wins, a NaN beats everything. */
          if (best_i < 0 || v > best || isnan (v))
            {
              best = v;
              best_i = h * p->in_w + w;
            }
        }
    }
  *out = best;
  if (index != NULL)
    *index = (float) best_i;
}

/* Outputs [lo, hi) of row oh, whose windows lie inside the plane: tap by tap across
 * the row, with the same order and rule as max_output, written so that the compiler
 * vectorises the loops (a bitwise | and an arithmetic blend of the index: two selects
 * on one condition defeat it). Indices are whole numbers below 2^24 (the front end's
 * limit for a plane), exact in float, and so is the blend. */
static void
max_inner_row (const GraftPoolPlan *p,
               const float         *x,
               guint32              oh,
               guint32              lo,
               guint32              hi,
               float *restrict      out,
               float *restrict      index)
{
  gint64 h0 = (gint64) oh * p->stride_h - p->pad_h;
  gint64 w0 = (gint64) lo * p->stride_w - p->pad_w;
  guint32 n = hi - lo, s = p->stride_w;

  for (guint32 kh = 0; kh < p->kernel_h; kh++)
    for (guint32 kw = 0; kw < p->kernel_w; kw++)
      {
        gint64 at = (h0 + (gint64) kh * p->dilation_h) * p->in_w + w0 + (gint64) kw * p->dilation_w;
        const float *restrict in = x + at;
        float first = (float) at;

        if (kh == 0 && kw == 0)
          {
            for (guint32 i = 0; i < n; i++)
              out[i] = in[(gsize) i * s];
            if (index != NULL)
              for (guint32 i = 0; i < n; i++)
                index[i] = first + (float) (gint32) (i * s);
            continue;
          }
        if (index == NULL)
          for (guint32 i = 0; i < n; i++)
            {
              float v = in[(gsize) i * s];
              int take = (v > out[i]) | (v != v);

              out[i] = take ? v : out[i];
            }
        else
          for (guint32 i = 0; i < n; i++)
            {
              float v = in[(gsize) i * s];
              int take = (v > out[i]) | (v != v);

              out[i] = take ? v : out[i];
              index[i] += (float) take * (first + (float) (gint32) (i * s) - index[i]);
            }
      }
}

static void
max_plane (const PoolCtx *c,
           guint32        plane)
{
  const GraftPoolPlan *p = c->plan;
  const float *x = c->src + (gsize) plane * p->in_h * p->in_w;
  gsize o = (gsize) plane * p->out_h * p->out_w;
  float *index = c->indices != NULL ? c->indices + o : NULL;
  float *out = c->dst + o;
  guint32 row_lo, row_hi, col_lo, col_hi;

  inner_outputs (p->out_h, p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->dilation_h, &row_lo, &row_hi);
  inner_outputs (p->out_w, p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->dilation_w, &col_lo, &col_hi);

  for (guint32 oh = 0; oh < p->out_h; oh++)
    {
      gsize row = (gsize) oh * p->out_w;
      guint32 lo = 0, hi = 0;

      if (oh >= row_lo && oh < row_hi)
        {
          lo = col_lo;
          hi = col_hi;
          max_inner_row (p, x, oh, lo, hi, out + row + lo, index != NULL ? index + row + lo : NULL);
        }
      for (guint32 ow = 0; ow < p->out_w; ow++)
        {
          if (ow == lo && hi > lo)
            ow = hi;
          if (ow >= p->out_w)
            break;
          max_output (p, x, oh, ow, out + row + ow, index != NULL ? index + row + ow : NULL);
        }
    }
}

static void
avg_plane (const PoolCtx *c,
           guint32        plane)
{
  const GraftPoolPlan *p = c->plan;
  const float *x = c->src + (gsize) plane * p->in_h * p->in_w;
  gsize o = (gsize) plane * p->out_h * p->out_w;

  for (guint32 oh = 0; oh < p->out_h; oh++)
    {
      gint64 h0, h1, w0, w1;
      guint32 dh;

      if (p->kind == GRAFT_POOL_AVG)
        dh = avg_window (oh, p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->count_include_pad, &h0, &h1);
      else
        {
          adaptive_window (oh, p->in_h, p->out_h, &h0, &h1);
          dh = (guint32) (h1 - h0);
        }

      for (guint32 ow = 0; ow < p->out_w; ow++, o++)
        {
          double sum = 0.0;
          guint32 dw;

          if (p->kind == GRAFT_POOL_AVG)
            dw = avg_window (ow, p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->count_include_pad, &w0, &w1);
          else
            {
              adaptive_window (ow, p->in_w, p->out_w, &w0, &w1);
              dw = (guint32) (w1 - w0);
            }

          if (h0 >= h1 || w0 >= w1)
            {
              c->dst[o] = 0.0f;   /* a window wholly in the padding */
              continue;
            }
          for (gint64 h = h0; h < h1; h++)
            for (gint64 w = w0; w < w1; w++)
              sum += x[h * p->in_w + w];
          c->dst[o] = (float) (sum / ((double) dh * dw));
        }
    }
}

gboolean
_graft_cpu_pool2d (GraftBackend         *backend,
                   const GraftPoolPlan  *plan,
                   GraftBuffer          *x,
                   GraftBuffer          *out,
                   GraftBuffer          *indices,
                   GError              **error)
{
  PoolCtx c = {
    .plan = plan,
    .func = plan->kind == GRAFT_POOL_MAX ? max_plane : avg_plane,
    .src = x->data,
    .dst = out->data,
    .indices = indices != NULL ? indices->data : NULL,
  };

  (void) error;
  for_each_plane (backend, &c);
  return TRUE;
}

/* ---- backward ----------------------------------------------------------------------- */

static void
max_backward_plane (const PoolCtx *c,
                    guint32        plane)
{
  const GraftPoolPlan *p = c->plan;
  gsize plane_size = (gsize) p->in_h * p->in_w;
  gsize out_size = (gsize) p->out_h * p->out_w;
  float *gi = c->dst + plane * plane_size;
  const float *go = c->src + plane * out_size;
  const float *idx = c->indices + plane * out_size;

  memset (gi, 0, plane_size * sizeof (float));
  for (gsize o = 0; o < out_size; o++)
    {
      /* Positions outside the plane (an empty window's -1) receive nothing. */
      if (idx[o] >= 0.0f && idx[o] < (float) plane_size)
        gi[(gsize) idx[o]] += go[o];
    }
}

static void
avg_backward_plane (const PoolCtx *c,
                    guint32        plane)
{
  const GraftPoolPlan *p = c->plan;
  float *gi = c->dst + (gsize) plane * p->in_h * p->in_w;
  gsize o = (gsize) plane * p->out_h * p->out_w;

  memset (gi, 0, (gsize) p->in_h * p->in_w * sizeof (float));
  for (guint32 oh = 0; oh < p->out_h; oh++)
    {
      gint64 h0, h1, w0, w1;
      guint32 dh;

      if (p->kind == GRAFT_POOL_AVG)
        dh = avg_window (oh, p->in_h, p->kernel_h, p->stride_h, p->pad_h, p->count_include_pad, &h0, &h1);
      else
        {
          adaptive_window (oh, p->in_h, p->out_h, &h0, &h1);
          dh = (guint32) (h1 - h0);
        }

      for (guint32 ow = 0; ow < p->out_w; ow++, o++)
        {
          guint32 dw;
          float share;

          if (p->kind == GRAFT_POOL_AVG)
            dw = avg_window (ow, p->in_w, p->kernel_w, p->stride_w, p->pad_w, p->count_include_pad, &w0, &w1);
          else
            {
              adaptive_window (ow, p->in_w, p->out_w, &w0, &w1);
              dw = (guint32) (w1 - w0);
            }
          if (h0 >= h1 || w0 >= w1)
            continue;

          share = c->src[o] / (float) (dh * dw);
          for (gint64 h = h0; h < h1; h++)
            for (gint64 w = w0; w < w1; w++)
              gi[h * p->in_w + w] += share;
        }
    }
}

gboolean
_graft_cpu_pool2d_backward (GraftBackend         *backend,
                            const GraftPoolPlan  *plan,
                            GraftBuffer          *grad_out,
                            GraftBuffer          *indices,
                            GraftBuffer          *grad_in,
                            GError              **error)
{
  PoolCtx c = {
    .plan = plan,
    .func = plan->kind == GRAFT_POOL_MAX ? max_backward_plane : avg_backward_plane,
    .src = grad_out->data,
    .dst = grad_in->data,
    .indices = indices != NULL ? indices->data : NULL,
  };

  (void) error;
  for_each_plane (backend, &c);
  return TRUE;
}
