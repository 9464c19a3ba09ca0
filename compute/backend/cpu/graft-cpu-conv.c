/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* 2-D convolution on the CPU.
 *  - General case: per image and group, im2col unfolds the group's input into a column
 *    matrix [C_in/groups * kh * kw, out_h * out_w] and OpenBLAS multiplies the weight by
 *    it. The input gradient is a GEMM into a column matrix folded back by col2im; the
 *    weight gradient is a GEMM per image accumulated over the batch (beta = 1). A 1x1
 *    kernel with stride 1 and no padding needs no column matrix: the input is one.
 *  - Depthwise (one channel per group): direct loops threaded over the N x C planes, as
 *    a GEMM with one row per group would waste nearly all of BLAS's work.
 * Scratch: the column matrix (one image and group at a time) is allocated per call with
 * g_try_malloc and freed before returning; a later activation-memory plan will own it.
 * Unfolding, folding and the depthwise loops run on the worker threads, GEMM on
 * OpenBLAS's own. */

#include <cblas.h>
#include <string.h>

#include "graft-cpu-private.h"

typedef struct _ConvCtx ConvCtx;
typedef void (*ItemFunc) (const ConvCtx *c, guint32 item);

struct _ConvCtx {
  const GraftConvPlan *plan;
  ItemFunc      func;
  guint32       items;
  guint32       cost;     /* work units per item, for splitting */
  const float  *x;        /* the whole input, or one image's group for im2col */
  const float  *w;
  const float  *b;
  const float  *dy;
  float        *out;      /* y, dx, dweight, or one image's group for col2im */
  float        *col;
};

/* Item i is done by whichever range holds unit i * cost, as in graft-cpu-pool.c. */
static void
items_range (gpointer ctx,
             guint32  start,
             guint32  end)
{
  const ConvCtx *c = ctx;
  guint32 first = (guint32) (((guint64) start + c->cost - 1) / c->cost);
  guint32 last = (guint32) (((guint64) end + c->cost - 1) / c->cost);

  for (guint32 i = first; i < last && i < c->items; i++)
    c->func (c, i);
}

/* Callers keep items * cost below 2^32. */
static void
for_each_item (GraftBackend *backend,
               ConvCtx      *c,
               ItemFunc      func,
               guint32       items,
               guint64       cost)
{
  c->func = func;
  c->items = items;
  c->cost = (guint32) MAX (cost, 1);
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, items * c->cost, items_range, c);
}

static gboolean
is_pointwise (const GraftConvPlan *p)
{
  return p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
         p->pad_h == 0 && p->pad_w == 0;
}

/* ---- im2col / col2im ---------------------------------------------------------------- */

/* Row r = (ci * kh + ki) * kw + kj of the column matrix: input channel ci shifted by
 * kernel tap (ki, kj), zero where the tap falls in the padding. */
static void
im2col_row (const ConvCtx *c,
            guint32        r)
{
  const GraftConvPlan *p = c->plan;
  guint32 taps = p->kernel_h * p->kernel_w;
  guint32 ci = r / taps, ki = (r % taps) / p->kernel_w, kj = r % p->kernel_w;
  const float *x = c->x + (gsize) ci * p->in_h * p->in_w;
  float *row = c->col + (gsize) r * p->out_h * p->out_w;

  for (guint32 oh = 0; oh < p->out_h; oh++)
    {
      gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
      float *dst = row + (gsize) oh * p->out_w;

      if (h < 0 || h >= p->in_h)
        {
          memset (dst, 0, p->out_w * sizeof (float));
          continue;
        }
      for (guint32 ow = 0; ow < p->out_w; ow++)
        {
          gint64 w = (gint64) ow * p->stride_w - p->pad_w + (gint64) kj * p->dilation_w;
          dst[ow] = (w < 0 || w >= p->in_w) ? 0.0f : x[h * p->in_w + w];
        }
    }
}

/* Folds the rows of input channel ci back into its plane of c->out, summing taps. */
static void
col2im_channel (const ConvCtx *c,
                guint32        ci)
{
  const GraftConvPlan *p = c->plan;
  guint32 taps = p->kernel_h * p->kernel_w;
  float *dx = c->out + (gsize) ci * p->in_h * p->in_w;

  memset (dx, 0, (gsize) p->in_h * p->in_w * sizeof (float));
  for (guint32 t = 0; t < taps; t++)
    {
      guint32 ki = t / p->kernel_w, kj = t % p->kernel_w;
      const float *row = c->col + ((gsize) ci * taps + t) * p->out_h * p->out_w;

      for (guint32 oh = 0; oh < p->out_h; oh++)
        {
          gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;

          if (h < 0 || h >= p->in_h)
            continue;
          for (guint32 ow = 0; ow < p->out_w; ow++)
            {
              gint64 w = (gint64) ow * p->stride_w - p->pad_w + (gint64) kj * p->dilation_w;
              if (w >= 0 && w < p->in_w)
                dx[h * p->in_w + w] += row[(gsize) oh * p->out_w + ow];
            }
        }
    }
}

static void
im2col (GraftBackend  *backend,
        ConvCtx       *c,
        const float   *x_group,
        guint32        rows)
{
  const GraftConvPlan *p = c->plan;

  c->x = x_group;
  for_each_item (backend, c, im2col_row, rows, (guint64) p->out_h * p->out_w);
}

static void
col2im (GraftBackend  *backend,
        ConvCtx       *c,
        float         *dx_group,
        guint32        channels)
{
  const GraftConvPlan *p = c->plan;

  c->out = dx_group;
  for_each_item (backend, c, col2im_channel, channels,
                 (guint64) p->kernel_h * p->kernel_w * p->out_h * p->out_w);
}

/* The column matrix for one image and group, or NULL with an error. */
static float *
alloc_col (const GraftConvPlan  *p,
           GError              **error)
{
  guint64 n = (guint64) (p->c_in / p->groups) * p->kernel_h * p->kernel_w * p->out_h * p->out_w;
  float *col = NULL;

  if (n < G_MAXUINT32)
    col = g_try_malloc (n * sizeof (float));
  if (col == NULL)
    g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                 "conv2d: no memory for the %" G_GUINT64_FORMAT "-value column matrix of a "
                 "%ux%u kernel over %ux%u outputs; use smaller images",
                 n, p->kernel_h, p->kernel_w, p->out_h, p->out_w);
  return col;
}

/* ---- depthwise ---------------------------------------------------------------------- */

/* Plane (n, c) of y. */
static void
depthwise_forward_plane (const ConvCtx *c,
                         guint32        plane)
{
  const GraftConvPlan *p = c->plan;
  guint32 ch = plane % p->c_in;
  const float *x = c->x + (gsize) plane * p->in_h * p->in_w;
  const float *w = c->w + (gsize) ch * p->kernel_h * p->kernel_w;
  float *y = c->out + (gsize) plane * p->out_h * p->out_w;
  float b = c->b != NULL ? c->b[ch] : 0.0f;

  for (guint32 oh = 0; oh < p->out_h; oh++)
    for (guint32 ow = 0; ow < p->out_w; ow++)
      {
        float acc = b;

        for (guint32 ki = 0; ki < p->kernel_h; ki++)
          {
            gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
            if (h < 0 || h >= p->in_h)
              continue;
            for (guint32 kj = 0; kj < p->kernel_w; kj++)
              {
                gint64 iw = (gint64) ow * p->stride_w - p->pad_w + (gint64) kj * p->dilation_w;
                if (iw >= 0 && iw < p->in_w)
                  acc += w[ki * p->kernel_w + kj] * x[h * p->in_w + iw];
              }
          }
        y[(gsize) oh * p->out_w + ow] = acc;
      }
}

/* Plane (n, c) of dx: every output's gradient scattered over its window. */
static void
depthwise_dx_plane (const ConvCtx *c,
                    guint32        plane)
{
  const GraftConvPlan *p = c->plan;
  guint32 ch = plane % p->c_in;
  const float *dy = c->dy + (gsize) plane * p->out_h * p->out_w;
  const float *w = c->w + (gsize) ch * p->kernel_h * p->kernel_w;
  float *dx = c->out + (gsize) plane * p->in_h * p->in_w;

  memset (dx, 0, (gsize) p->in_h * p->in_w * sizeof (float));
  for (guint32 oh = 0; oh < p->out_h; oh++)
    for (guint32 ow = 0; ow < p->out_w; ow++)
      {
        float g = dy[(gsize) oh * p->out_w + ow];

        for (guint32 ki = 0; ki < p->kernel_h; ki++)
          {
            gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
            if (h < 0 || h >= p->in_h)
              continue;
            for (guint32 kj = 0; kj < p->kernel_w; kj++)
              {
                gint64 iw = (gint64) ow * p->stride_w - p->pad_w + (gint64) kj * p->dilation_w;
                if (iw >= 0 && iw < p->in_w)
                  dx[h * p->in_w + iw] += w[ki * p->kernel_w + kj] * g;
              }
          }
      }
}

/* dweight of channel ch: each tap sums dy * x over the batch and the outputs, in double. */
static void
depthwise_dweight_channel (const ConvCtx *c,
                           guint32        ch)
{
  const GraftConvPlan *p = c->plan;
  float *dw = c->out + (gsize) ch * p->kernel_h * p->kernel_w;

  for (guint32 ki = 0; ki < p->kernel_h; ki++)
    for (guint32 kj = 0; kj < p->kernel_w; kj++)
      {
        double sum = 0.0;

        for (guint32 n = 0; n < p->n; n++)
          {
            gsize plane = (gsize) n * p->c_in + ch;
            const float *x = c->x + plane * p->in_h * p->in_w;
            const float *dy = c->dy + plane * p->out_h * p->out_w;

            for (guint32 oh = 0; oh < p->out_h; oh++)
              {
                gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
                if (h < 0 || h >= p->in_h)
                  continue;
                for (guint32 ow = 0; ow < p->out_w; ow++)
                  {
                    gint64 iw = (gint64) ow * p->stride_w - p->pad_w + (gint64) kj * p->dilation_w;
                    if (iw >= 0 && iw < p->in_w)
                      sum += (double) dy[(gsize) oh * p->out_w + ow] * x[h * p->in_w + iw];
                  }
              }
          }
        dw[ki * p->kernel_w + kj] = (float) sum;
      }
}

/* ---- forward ------------------------------------------------------------------------ */

gboolean
_graft_cpu_conv2d (GraftBackend         *backend,
                   const GraftConvPlan  *p,
                   GraftBuffer          *x,
                   GraftBuffer          *weight,
                   GraftBuffer          *bias,
                   GraftBuffer          *y,
                   GError              **error)
{
  guint32 cg = p->c_in / p->groups, og = p->c_out / p->groups;
  guint32 k = cg * p->kernel_h * p->kernel_w, ohw = p->out_h * p->out_w;
  gsize hw = (gsize) p->in_h * p->in_w;
  gboolean pointwise = is_pointwise (p);
  g_autofree float *col = NULL;
  ConvCtx c = { .plan = p, .x = x->data, .w = weight->data,
                .b = bias != NULL ? bias->data : NULL, .out = y->data };

  if (_graft_conv_plan_is_depthwise (p))
    {
      for_each_item (backend, &c, depthwise_forward_plane, p->n * p->c_in, ohw);
      return TRUE;
    }

  if (!pointwise && (col = alloc_col (p, error)) == NULL)
    return FALSE;
  c.col = col;

  for (guint32 n = 0; n < p->n; n++)
    for (guint32 g = 0; g < p->groups; g++)
      {
        const float *xg = x->data + ((gsize) n * p->c_in + (gsize) g * cg) * hw;
        float *yg = y->data + ((gsize) n * p->c_out + (gsize) g * og) * ohw;
        const float *wg = weight->data + (gsize) g * og * k;
        float beta = 0.0f;

        if (!pointwise)
          im2col (backend, &c, xg, k);
        if (bias != NULL)
          {
            for (guint32 o = 0; o < og; o++)
              for (guint32 i = 0; i < ohw; i++)
                yg[(gsize) o * ohw + i] = bias->data[g * og + o];
            beta = 1.0f;
          }
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans,
                     (blasint) og, (blasint) ohw, (blasint) k,
                     1.0f, wg, (blasint) k, pointwise ? xg : col, (blasint) ohw,
                     beta, yg, (blasint) ohw);
      }
  return TRUE;
}

/* ---- backward ----------------------------------------------------------------------- */

static void
bias_gradient (const GraftConvPlan *p,
               const float         *dy,
               float               *dbias)
{
  gsize ohw = (gsize) p->out_h * p->out_w;

  for (guint32 co = 0; co < p->c_out; co++)
    {
      double sum = 0.0;

      for (guint32 n = 0; n < p->n; n++)
        {
          const float *d = dy + ((gsize) n * p->c_out + co) * ohw;
          for (gsize i = 0; i < ohw; i++)
            sum += d[i];
        }
      dbias[co] = (float) sum;
    }
}

gboolean
_graft_cpu_conv2d_backward (GraftBackend         *backend,
                            const GraftConvPlan  *p,
                            GraftBuffer          *x,
                            GraftBuffer          *weight,
                            GraftBuffer          *dy,
                            GraftBuffer          *dx,
                            GraftBuffer          *dweight,
                            GraftBuffer          *dbias,
                            GError              **error)
{
  guint32 cg = p->c_in / p->groups, og = p->c_out / p->groups;
  guint32 k = cg * p->kernel_h * p->kernel_w, ohw = p->out_h * p->out_w;
  gsize hw = (gsize) p->in_h * p->in_w;
  gboolean pointwise = is_pointwise (p);
  g_autofree float *col = NULL;
  ConvCtx c = { .plan = p, .x = x->data, .w = weight->data, .dy = dy->data };

  if (dbias != NULL)
    bias_gradient (p, dy->data, dbias->data);

  if (_graft_conv_plan_is_depthwise (p))
    {
      if (dx != NULL)
        {
          c.out = dx->data;
          for_each_item (backend, &c, depthwise_dx_plane, p->n * p->c_in, MAX (hw, ohw));
        }
      if (dweight != NULL)
        {
          c.out = dweight->data;
          for_each_item (backend, &c, depthwise_dweight_channel, p->c_in, (guint64) p->n * ohw);
        }
      return TRUE;
    }

  if (dx == NULL && dweight == NULL)
    return TRUE;
  if (!pointwise && (col = alloc_col (p, error)) == NULL)
    return FALSE;
  c.col = col;

  for (guint32 n = 0; n < p->n; n++)
    for (guint32 g = 0; g < p->groups; g++)
      {
        const float *xg = x->data + ((gsize) n * p->c_in + (gsize) g * cg) * hw;
        const float *dyg = dy->data + ((gsize) n * p->c_out + (gsize) g * og) * ohw;
        const float *wg = weight->data + (gsize) g * og * k;

        if (dweight != NULL)
          {
            /* dW_g [og, k] (+)= dy_g [og, ohw] x col^T [ohw, k], summed over images */
            if (!pointwise)
              im2col (backend, &c, xg, k);
            cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans,
                         (blasint) og, (blasint) k, (blasint) ohw,
                         1.0f, dyg, (blasint) ohw, pointwise ? xg : col, (blasint) ohw,
                         n == 0 ? 0.0f : 1.0f,
                         dweight->data + (gsize) g * og * k, (blasint) k);
          }
        if (dx != NULL)
          {
            /* col [k, ohw] = W_g^T [k, og] x dy_g [og, ohw], folded into dx */
            float *dxg = dx->data + ((gsize) n * p->c_in + (gsize) g * cg) * hw;

            cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans,
                         (blasint) k, (blasint) ohw, (blasint) og,
                         1.0f, wg, (blasint) k, dyg, (blasint) ohw,
                         0.0f, pointwise ? dxg : col, (blasint) ohw);
            if (!pointwise)
              col2im (backend, &c, dxg, cg);
          }
      }
  return TRUE;
}
