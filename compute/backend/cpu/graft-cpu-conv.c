/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* 2-D convolution on the CPU.
 *  - General case: images go in chunks of nb (as many as keep the column matrix within
 *    COL_BUDGET values). Per chunk and group, im2col unfolds the images' inputs side by
 *    side into one column matrix [C_in/groups * kh * kw, nb * out_h * out_w] and one
 *    OpenBLAS GEMM multiplies the weight by it, whose result is spread back into the
 *    images' planes. Backward gathers the chunk's output gradient the same way: the
 *    weight gradient is one GEMM per chunk with an inner dimension of nb * out_h * out_w
 *    (accumulated over chunks, beta = 1), the input gradient a GEMM into a column matrix
 *    folded back by col2im. Few, large GEMMs keep BLAS near its peak where a layer's
 *    planes are small (7 × 7 at the end of a ResNet).
 *  - Depthwise (one channel per group): direct loops threaded over the N x C planes, as
 *    a GEMM with one row per group would waste nearly all of BLAS's work.
 * Scratch: the column matrix and the gathered outputs of one chunk live in the backend's
 * working space (_graft_cpu_scratch), allocated once for the largest layer.
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
  float        *tmp;      /* a chunk's outputs or output gradients, [og, nb * ohw] */
  guint32       nb;       /* images in the chunk */
  guint32       n0;       /* its first image */
  guint32       group;
  guint32       rows;     /* rows of the column matrix per image: cg * kh * kw */
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

/* ---- im2col / col2im ---------------------------------------------------------------- */

/* Row r = (ci * kh + ki) * kw + kj of the column matrix: input channel ci shifted by
 * kernel tap (ki, kj), zero where the tap falls in the padding. */
/* The outputs ow in [*lo, *hi) whose tap at kernel column kj reads an input column
 * ow * stride - pad + kj * dilation inside [0, in_w); the rest read padding. */
static inline void
valid_columns (const GraftConvPlan *p,
               guint32              kj,
               guint32             *lo,
               guint32             *hi)
{
  gint64 offset = (gint64) kj * p->dilation_w - p->pad_w;   /* input column of ow = 0 */
  gint64 first = offset >= 0 ? 0 : (-offset + p->stride_w - 1) / p->stride_w;
  gint64 last = offset >= p->in_w ? 0 : (p->in_w - 1 - offset) / p->stride_w + 1;

  *lo = (guint32) MIN (first, (gint64) p->out_w);
  *hi = (guint32) CLAMP (last, (gint64) *lo, (gint64) p->out_w);
}

static void
im2col_row (const ConvCtx *c,
            guint32        item)
{
  const GraftConvPlan *p = c->plan;
  guint32 img = item / c->rows, r = item % c->rows;
  guint32 taps = p->kernel_h * p->kernel_w;
  guint32 ci = r / taps, ki = (r % taps) / p->kernel_w, kj = r % p->kernel_w;
  gsize ohw = (gsize) p->out_h * p->out_w;
  const float *x = c->x + ((gsize) (c->n0 + img) * p->c_in + (gsize) c->group * (p->c_in / p->groups) + ci)
                          * p->in_h * p->in_w;
  float *row = c->col + (gsize) r * c->nb * ohw + (gsize) img * ohw;

  guint32 lo, hi;

  valid_columns (p, kj, &lo, &hi);
  for (guint32 oh = 0; oh < p->out_h; oh++)
    {
      gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
      float *dst = row + (gsize) oh * p->out_w;
      gint64 base;

      if (h < 0 || h >= p->in_h)
        {
          memset (dst, 0, p->out_w * sizeof (float));
          continue;
        }
      /* index of the input value that output column ow reads: base + ow * stride */
      base = h * p->in_w + (gint64) kj * p->dilation_w - p->pad_w;
      memset (dst, 0, lo * sizeof (float));
      if (p->stride_w == 1)
        memcpy (dst + lo, x + base + lo, (hi - lo) * sizeof (float));
      else
        for (guint32 ow = lo; ow < hi; ow++)
          dst[ow] = x[base + (gint64) ow * p->stride_w];
      memset (dst + hi, 0, (p->out_w - hi) * sizeof (float));
    }
}

/* Folds the rows of image img's input channel ci (item img * cg + ci) back into its plane
 * of dx, summing taps. */
static void
col2im_channel (const ConvCtx *c,
                guint32        item)
{
  const GraftConvPlan *p = c->plan;
  guint32 cg = p->c_in / p->groups;
  guint32 img = item / cg, ci = item % cg;
  guint32 taps = p->kernel_h * p->kernel_w;
  gsize ohw = (gsize) p->out_h * p->out_w;
  float *dx = c->out + ((gsize) (c->n0 + img) * p->c_in + (gsize) c->group * cg + ci) * p->in_h * p->in_w;

  memset (dx, 0, (gsize) p->in_h * p->in_w * sizeof (float));
  for (guint32 t = 0; t < taps; t++)
    {
      guint32 ki = t / p->kernel_w, kj = t % p->kernel_w;
      const float *row = c->col + ((gsize) ci * taps + t) * c->nb * ohw + (gsize) img * ohw;
      guint32 lo, hi;

      valid_columns (p, kj, &lo, &hi);
      for (guint32 oh = 0; oh < p->out_h; oh++)
        {
          gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
          const float *src = row + (gsize) oh * p->out_w;
          gint64 base;

          if (h < 0 || h >= p->in_h)
            continue;
          base = h * p->in_w + (gint64) kj * p->dilation_w - p->pad_w;
          if (p->stride_w == 1)
            {
              float *dst = dx + base + lo;   /* in bounds: lo is a valid column */

              for (guint32 ow = 0; ow < hi - lo; ow++)
                dst[ow] += src[lo + ow];
            }
          else
            for (guint32 ow = lo; ow < hi; ow++)
              dx[base + (gint64) ow * p->stride_w] += src[ow];
        }
    }
}

/* Row o of image img (item img * og + o) between the chunk's matrix [og, nb * ohw] and
 * the image's plane of y (with the bias) or dy. */
static void
spread_row (const ConvCtx *c,
            guint32        item)
{
  const GraftConvPlan *p = c->plan;
  guint32 og = p->c_out / p->groups;
  guint32 img = item / og, o = item % og, co = c->group * og + o;
  gsize ohw = (gsize) p->out_h * p->out_w;
  const float *src = c->tmp + (gsize) o * c->nb * ohw + (gsize) img * ohw;
  float *dst = c->out + ((gsize) (c->n0 + img) * p->c_out + co) * ohw;
  float b = c->b != NULL ? c->b[co] : 0.0f;

  for (gsize i = 0; i < ohw; i++)
    dst[i] = src[i] + b;
}

static void
gather_row (const ConvCtx *c,
            guint32        item)
{
  const GraftConvPlan *p = c->plan;
  guint32 og = p->c_out / p->groups;
  guint32 img = item / og, o = item % og, co = c->group * og + o;
  gsize ohw = (gsize) p->out_h * p->out_w;

  memcpy (c->tmp + (gsize) o * c->nb * ohw + (gsize) img * ohw,
          c->dy + ((gsize) (c->n0 + img) * p->c_out + co) * ohw, ohw * sizeof (float));
}

/* Values a chunk's column matrix may hold: enough images side by side for large GEMMs,
 * few enough to stay within a few tens of megabytes. */
#define COL_BUDGET (8u << 20)

static guint32
chunk_images (const GraftConvPlan *p)
{
  guint64 per_image = (guint64) (p->c_in / p->groups) * p->kernel_h * p->kernel_w * p->out_h * p->out_w;

  return (guint32) CLAMP (COL_BUDGET / MAX (per_image, 1), 1, p->n);
}

/* Points @c at the working space of one chunk of images (chunk_images() of them): the
 * column matrix and the gathered outputs, in the backend's working space. Returns the
 * chunk size, or 0 with an error. */
static guint32
prepare_chunks (GraftBackend         *backend,
                const GraftConvPlan  *p,
                ConvCtx              *c,
                GError              **error)
{
  guint32 nb = chunk_images (p);
  guint64 cols = (guint64) nb * p->out_h * p->out_w;
  guint64 n_col = (guint64) (p->c_in / p->groups) * p->kernel_h * p->kernel_w * cols;
  guint64 n_tmp = (guint64) (p->c_out / p->groups) * cols;
  float *space = NULL;

  if (n_col < G_MAXUINT32 && n_tmp < G_MAXUINT32)
    space = _graft_cpu_scratch ((GraftCpuBackend *) backend, n_col + n_tmp, NULL);
  if (space != NULL)
    {
      c->col = space;
      c->tmp = space + n_col;
      c->rows = (p->c_in / p->groups) * p->kernel_h * p->kernel_w;
      return nb;
    }
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
               "conv2d: no memory for the %" G_GUINT64_FORMAT "-value column matrix of a "
               "%ux%u kernel over %ux%u outputs; use smaller images",
               n_col, p->kernel_h, p->kernel_w, p->out_h, p->out_w);
  return 0;
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
  guint32 nb;
  ConvCtx c = { .plan = p, .x = x->data, .w = weight->data,
                .b = bias != NULL ? bias->data : NULL, .out = y->data };

  if (_graft_conv_plan_is_depthwise (p))
    {
      for_each_item (backend, &c, depthwise_forward_plane, p->n * p->c_in, ohw);
      return TRUE;
    }

  nb = prepare_chunks (backend, p, &c, error);
  if (nb == 0)
    return FALSE;

  for (guint32 n0 = 0; n0 < p->n; n0 += nb)
    for (guint32 g = 0; g < p->groups; g++)
      {
        const float *wg = weight->data + (gsize) g * og * k;

        c.n0 = n0;
        c.nb = MIN (nb, p->n - n0);
        c.group = g;
        for_each_item (backend, &c, im2col_row, c.nb * k, ohw);
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans,
                     (blasint) og, (blasint) (c.nb * ohw), (blasint) k,
                     1.0f, wg, (blasint) k, c.col, (blasint) (c.nb * ohw),
                     0.0f, c.tmp, (blasint) (c.nb * ohw));
        for_each_item (backend, &c, spread_row, c.nb * og, ohw);
      }
  return TRUE;
}

/* ---- backward ----------------------------------------------------------------------- */

/* dbias[co]: output channel co's gradient summed over the batch and the plane. */
static void
bias_gradient_channel (const ConvCtx *c,
                       guint32        co)
{
  const GraftConvPlan *p = c->plan;
  gsize ohw = (gsize) p->out_h * p->out_w;
  double sum = 0.0;

  for (guint32 n = 0; n < p->n; n++)
    {
      const float *d = c->dy + ((gsize) n * p->c_out + co) * ohw;
      for (gsize i = 0; i < ohw; i++)
        sum += d[i];
    }
  c->out[co] = (float) sum;
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
  guint32 nb;
  ConvCtx c = { .plan = p, .x = x->data, .w = weight->data, .dy = dy->data };

  if (dbias != NULL)
    {
      c.out = dbias->data;
      for_each_item (backend, &c, bias_gradient_channel, p->c_out, (guint64) p->n * ohw);
    }

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
  nb = prepare_chunks (backend, p, &c, error);
  if (nb == 0)
    return FALSE;

  for (guint32 n0 = 0; n0 < p->n; n0 += nb)
    for (guint32 g = 0; g < p->groups; g++)
      {
        const float *wg = weight->data + (gsize) g * og * k;
        blasint cols;

        c.n0 = n0;
        c.nb = MIN (nb, p->n - n0);
        c.group = g;
        /* the chunk's matrices are packed for its own image count: the last chunk may
         * hold fewer than nb */
        cols = (blasint) (c.nb * ohw);
        /* tmp [og, nb * ohw] = the chunk's dy for this group, images side by side */
        for_each_item (backend, &c, gather_row, c.nb * og, ohw);

        if (dweight != NULL)
          {
            /* dW_g [og, k] (+)= dy [og, nb * ohw] x col^T [nb * ohw, k], summed over chunks */
            for_each_item (backend, &c, im2col_row, c.nb * k, ohw);
            cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans,
                         (blasint) og, (blasint) k, cols,
                         1.0f, c.tmp, cols, c.col, cols,
                         n0 == 0 ? 0.0f : 1.0f,
                         dweight->data + (gsize) g * og * k, (blasint) k);
          }
        if (dx != NULL)
          {
            /* col [k, nb * ohw] = W_g^T [k, og] x dy [og, nb * ohw], folded into dx */
            cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans,
                         (blasint) k, cols, (blasint) og,
                         1.0f, wg, (blasint) k, c.tmp, cols,
                         0.0f, c.col, cols);
            c.out = dx->data;
            for_each_item (backend, &c, col2im_channel, c.nb * cg,
                           (guint64) p->kernel_h * p->kernel_w * ohw);
          }
      }
  return TRUE;
}
