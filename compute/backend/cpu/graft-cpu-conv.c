/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* 2-D convolution on the CPU.
 *  - General case: each worker thread takes tiles of the batch in turn and, per tile,
 *    unfolds the tile's inputs into a column matrix [C_in/groups * kh * kw, columns]
 *    (im2col) and multiplies it by the weight with a single-threaded OpenBLAS GEMM while
 *    it is still in the core's cache. A tile is a band of output rows of one image where
 *    planes are large, or a few whole images side by side where planes are small (7 × 7
 *    at the end of a ResNet), so that every GEMM has a few hundred columns.
 *    Single-image tiles read and write the tensors in place (the output band of an image
 *    is a strided block of the NCHW tensor); multi-image tiles gather and spread through
 *    a small matrix. A 1 × 1 convolution with stride 1 and no padding is its own column
 *    matrix and is not unfolded at all.
 *    Backward deals whole images (or groups of them) out to the workers in a fixed
 *    order, so that no two workers fold into the same input plane and each worker's
 *    weight-gradient sum (GEMMs with beta = 1, the workers' sums added at the end) is
 *    the same from run to run; the input gradient is W^T times the output gradient,
 *    folded back into dx (col2im).
 *  - 3 x 3 with stride 1, at least 16 channels each way and 12 x 12 outputs: Winograd's
 *    F(2x2, 3x3) in graft-cpu-winograd.c, the same scheme with 2.25 times fewer
 *    multiplications.
 *  - Depthwise (one channel per group): direct loops threaded over the N x C planes, as
 *    a GEMM with one row per group would waste nearly all of BLAS's work.
 * Scratch: every worker's column matrix, its gathered outputs and its weight-gradient
 * sum live in the backend's working space (_graft_cpu_scratch), allocated once for the
 * largest layer. */

#include <cblas.h>
#include <string.h>

#include "graft-cpu-private.h"

typedef struct _ConvCtx ConvCtx;
typedef void (*ItemFunc) (const ConvCtx *c, guint32 item);

/* The depthwise loops and the bias gradient: items split across the workers. */
struct _ConvCtx {
  const GraftConvPlan *plan;
  ItemFunc      func;
  guint32       items;
  guint32       cost;     /* work units per item, for splitting */
  const float  *x;
  const float  *w;
  const float  *b;
  const float  *dy;
  float        *out;      /* y, dx, dweight or dbias */
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

/* ---- tiles -------------------------------------------------------------------------- */

/* Column-matrix values per single-image tile: with the GEMM's packed panels it stays
 * within a core's L2 cache. */
#define TILE_VALUES (384u << 10)
/* Columns below which a GEMM loses much of its speed: bands are at least this wide, and
 * images whose planes are smaller go several to a tile. */
#define TILE_MIN_COLUMNS 192
#define TILE_MULTI_COLUMNS 256

typedef struct {
  const GraftConvPlan *p;
  const float *x;
  const float *w;
  const float *b;
  const float *dy;
  float       *y;
  float       *dx;
  float       *dw;            /* dweight: worker 0's sum */
  float       *space;         /* the workers' working spaces, stride values apart */
  gsize        stride;
  gsize        tmp_at;        /* a worker's gathered matrix, after its column matrix */
  gsize        sum_at;        /* its weight-gradient sum (workers 1…), after that */
  guint32      k;             /* rows of the column matrix: cg * kh * kw */
  guint32      cg;
  guint32      og;
  gsize        hw;
  gsize        ohw;
  guint32      nb;            /* images per tile */
  guint32      band;          /* output rows per tile (out_h when nb > 1) */
  guint32      bands;         /* bands per image */
  guint32      units;         /* units of work the workers take in turn */
  gboolean     direct;        /* 1 x 1, stride 1, no padding: x is the column matrix */
  gint         next;          /* the next unit, taken atomically (forward) */
  guint        workers;
  gboolean     summed[GRAFT_CPU_MAX_WORKERS];   /* whether worker i's weight-gradient sum was written */
} Tiles;

static void
plan_tiles (GraftBackend        *backend,
            const GraftConvPlan *p,
            Tiles               *t)
{
  guint workers = _graft_cpu_n_workers ((GraftCpuBackend *) backend);
  guint32 rows_fit, rows_min;

  t->p = p;
  t->cg = p->c_in / p->groups;
  t->og = p->c_out / p->groups;
  t->k = t->cg * p->kernel_h * p->kernel_w;
  t->hw = (gsize) p->in_h * p->in_w;
  t->ohw = (gsize) p->out_h * p->out_w;
  t->direct = p->kernel_h == 1 && p->kernel_w == 1 && p->stride_h == 1 && p->stride_w == 1 &&
              p->pad_h == 0 && p->pad_w == 0 && p->out_h == p->in_h && p->out_w == p->in_w;

  rows_fit = (guint32) MIN ((guint64) TILE_VALUES / ((guint64) t->k * p->out_w), p->out_h);
  rows_min = (TILE_MIN_COLUMNS + p->out_w - 1) / p->out_w;
  t->band = CLAMP (MAX (rows_fit, rows_min), 1, p->out_h);
  t->nb = 1;
  if (t->band == p->out_h && t->ohw < TILE_MIN_COLUMNS)
    {
      /* small planes: several images per tile, but enough tiles to share out */
      guint32 want = (guint32) ((TILE_MULTI_COLUMNS + t->ohw - 1) / t->ohw);
      t->nb = CLAMP (want, 1, MAX (p->n / workers, 1));
    }
  t->bands = (p->out_h + t->band - 1) / t->band;
  t->next = 0;
  t->workers = workers;
  memset (t->summed, 0, sizeof t->summed);
}

/* Points the tiles at the workers' working spaces: a column matrix of k values per tile
 * column, a gathered matrix of og per tile column where tiles hold several images, and
 * a weight-gradient sum for workers past the first where @sums. FALSE with an error
 * when there is no memory for them. */
static gboolean
prepare_space (GraftBackend  *backend,
               Tiles         *t,
               gboolean       sums,
               GError       **error)
{
  const GraftConvPlan *p = t->p;
  guint64 columns = (guint64) t->nb * t->band * p->out_w;
  guint64 col = t->direct && t->nb == 1 ? 0 : (guint64) t->k * columns;
  guint64 tmp = t->nb > 1 ? (guint64) t->og * columns : 0;
  guint64 sum = sums && t->workers > 1 ? (guint64) p->c_out * t->k : 0;
  guint64 total;

  /* each part rounded up to a cache line */
  col = (col + 15) & ~(guint64) 15;
  tmp = (tmp + 15) & ~(guint64) 15;
  sum = (sum + 15) & ~(guint64) 15;
  t->tmp_at = (gsize) col;
  t->sum_at = (gsize) (col + tmp);
  t->stride = (gsize) MAX (col + tmp + sum, 16);
  total = (guint64) t->stride * t->workers;
  t->space = total < G_MAXSIZE / sizeof (float)
             ? _graft_cpu_scratch ((GraftCpuBackend *) backend, (gsize) total, NULL) : NULL;
  if (t->space != NULL)
    return TRUE;
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
               "conv2d: no memory for %" G_GUINT64_FORMAT " MiB of working space for a "
               "%ux%u kernel over %ux%u outputs; use smaller images",
               (total * sizeof (float)) >> 20, p->kernel_h, p->kernel_w, p->out_h, p->out_w);
  return FALSE;
}

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

/* im2col of output rows [oh0, oh1) of one image's group, whose first input plane is @x:
 * row r = (ci * kh + ki) * kw + kj of @col (ld values apart) is input channel ci shifted
 * by kernel tap (ki, kj), zero where the tap falls in the padding. */
static void
unfold (const Tiles *t,
        const float *x,
        guint32      oh0,
        guint32      oh1,
        float       *col,
        gsize        ld)
{
  const GraftConvPlan *p = t->p;
  guint32 taps = p->kernel_h * p->kernel_w;

  for (guint32 r = 0; r < t->k; r++)
    {
      guint32 ci = r / taps, ki = (r % taps) / p->kernel_w, kj = r % p->kernel_w;
      const float *plane = x + (gsize) ci * t->hw;
      float *row = col + (gsize) r * ld;
      guint32 lo, hi;

      valid_columns (p, kj, &lo, &hi);
      for (guint32 oh = oh0; oh < oh1; oh++)
        {
          gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
          float *dst = row + (gsize) (oh - oh0) * p->out_w;
          const float *src;

          if (h < 0 || h >= p->in_h)
            {
              for (guint32 ow = 0; ow < p->out_w; ow++)
                dst[ow] = 0.0f;
              continue;
            }
          /* output column ow reads src[ow * stride]; rows are short (7 to 112
           * values), so plain loops, which the compiler vectorises, beat calls */
          src = plane + h * p->in_w + (gint64) kj * p->dilation_w - p->pad_w;
          for (guint32 ow = 0; ow < lo; ow++)
            dst[ow] = 0.0f;
          /* strides 1 and 2 spelt out: the compiler vectorises those */
          if (p->stride_w == 1)
            for (guint32 ow = lo; ow < hi; ow++)
              dst[ow] = src[ow];
          else if (p->stride_w == 2)
            for (guint32 ow = lo; ow < hi; ow++)
              dst[ow] = src[(gsize) ow * 2];
          else
            for (guint32 ow = lo; ow < hi; ow++)
              dst[ow] = src[(gsize) ow * p->stride_w];
          for (guint32 ow = hi; ow < p->out_w; ow++)
            dst[ow] = 0.0f;
        }
    }
}

/* col2im: adds the column matrix of output rows [oh0, oh1) back into one image's group
 * of input-gradient planes, whose first plane is @dx, summing taps. */
static void
fold (const Tiles *t,
      const float *col,
      gsize        ld,
      guint32      oh0,
      guint32      oh1,
      float       *dx)
{
  const GraftConvPlan *p = t->p;
  guint32 taps = p->kernel_h * p->kernel_w;

  for (guint32 r = 0; r < t->k; r++)
    {
      guint32 ci = r / taps, ki = (r % taps) / p->kernel_w, kj = r % p->kernel_w;
      float *plane = dx + (gsize) ci * t->hw;
      const float *row = col + (gsize) r * ld;
      guint32 lo, hi;

      valid_columns (p, kj, &lo, &hi);
      for (guint32 oh = oh0; oh < oh1; oh++)
        {
          gint64 h = (gint64) oh * p->stride_h - p->pad_h + (gint64) ki * p->dilation_h;
          const float *src = row + (gsize) (oh - oh0) * p->out_w;
          float *dst;

          if (h < 0 || h >= p->in_h)
            continue;
          dst = plane + h * p->in_w + (gint64) kj * p->dilation_w - p->pad_w;
          if (p->stride_w == 1)
            for (guint32 ow = lo; ow < hi; ow++)
              dst[ow] += src[ow];
          else if (p->stride_w == 2)
            for (guint32 ow = lo; ow < hi; ow++)
              dst[(gsize) ow * 2] += src[ow];
          else
            for (guint32 ow = lo; ow < hi; ow++)
              dst[(gsize) ow * p->stride_w] += src[ow];
        }
    }
}

static inline const float *
image_input (const Tiles *t,
             const float *x,
             guint32      n,
             guint32      g)
{
  return x + ((gsize) n * t->p->c_in + (gsize) g * t->cg) * t->hw;
}

static inline gsize
output_at (const Tiles *t,
           guint32      n,
           guint32      g)
{
  return ((gsize) n * t->p->c_out + (gsize) g * t->og) * t->ohw;
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

/* The column matrix of group g of a tile (nb images from n0, output rows [oh0, oh1)):
 * the input itself for a 1x1 convolution of one image, or else unfolded into @col, the
 * images side by side. Returns it, with its row stride in *ld. */
static const float *
tile_columns (const Tiles *t,
              guint32      n0,
              guint32      nb,
              guint32      g,
              guint32      oh0,
              guint32      oh1,
              float       *col,
              gsize       *ld)
{
  gsize per_image = (gsize) (oh1 - oh0) * t->p->out_w;

  if (t->direct && nb == 1)
    {
      *ld = t->hw;
      return image_input (t, t->x, n0, g) + (gsize) oh0 * t->p->out_w;
    }
  *ld = nb * per_image;
  for (guint32 i = 0; i < nb; i++)
    unfold (t, image_input (t, t->x, n0 + i, g), oh0, oh1, col + i * per_image, *ld);
  return col;
}

/* ---- forward ------------------------------------------------------------------------ */

/* Unit u: band u % bands of the images of tile u / bands, every group. */
static void
forward_worker (gpointer ctx,
                guint    worker)
{
  Tiles *t = ctx;
  const GraftConvPlan *p = t->p;
  float *col = t->space + worker * t->stride, *tmp = col + t->tmp_at;
  guint u;

  while ((u = (guint) g_atomic_int_add (&t->next, 1)) < t->units)
    {
      guint32 n0 = (u / t->bands) * t->nb, nb = MIN (t->nb, p->n - n0);
      guint32 oh0 = (u % t->bands) * t->band, oh1 = MIN (oh0 + t->band, p->out_h);
      gsize per_image = (gsize) (oh1 - oh0) * p->out_w, cols = nb * per_image;

      for (guint32 g = 0; g < p->groups; g++)
        {
          const float *wg = t->w + (gsize) g * t->og * t->k;
          const float *b = t->b != NULL ? t->b + (gsize) g * t->og : NULL;
          gsize ldb;
          const float *src = tile_columns (t, n0, nb, g, oh0, oh1, col, &ldb);

          if (nb == 1)
            {
              /* straight into the image's band of y */
              float *y = t->y + output_at (t, n0, g) + (gsize) oh0 * p->out_w;

              cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans,
                           (blasint) t->og, (blasint) cols, (blasint) t->k,
                           1.0f, wg, (blasint) t->k, src, (blasint) ldb,
                           0.0f, y, (blasint) t->ohw);
              if (b != NULL)
                for (guint32 o = 0; o < t->og; o++)
                  for (gsize i = 0; i < cols; i++)
                    y[o * t->ohw + i] += b[o];
              continue;
            }

          cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans,
                       (blasint) t->og, (blasint) cols, (blasint) t->k,
                       1.0f, wg, (blasint) t->k, src, (blasint) ldb,
                       0.0f, tmp, (blasint) cols);
          /* spread [og, nb * ohw] into the images' planes, with the bias */
          for (guint32 i = 0; i < nb; i++)
            for (guint32 o = 0; o < t->og; o++)
              {
                const float *from = tmp + o * cols + i * per_image;
                float *to = t->y + output_at (t, n0 + i, g) + (gsize) o * t->ohw;
                float bias = b != NULL ? b[o] : 0.0f;

                for (gsize j = 0; j < per_image; j++)
                  to[j] = from[j] + bias;
              }
        }
    }
}

gboolean
_graft_cpu_conv2d (GraftBackend         *backend,
                   const GraftConvPlan  *p,
                   GraftBuffer          *x,
                   GraftBuffer          *weight,
                   GraftBuffer          *bias,
                   GraftBuffer          *y,
                   GError              **error)
{
  Tiles t;

  if (_graft_conv_plan_is_depthwise (p))
    {
      ConvCtx c = { .plan = p, .x = x->data, .w = weight->data,
                    .b = bias != NULL ? bias->data : NULL, .out = y->data };

      for_each_item (backend, &c, depthwise_forward_plane, p->n * p->c_in, (guint64) p->out_h * p->out_w);
      return TRUE;
    }

  if (_graft_cpu_winograd_applies (p))
    return _graft_cpu_winograd_forward (backend, p, x, weight, bias, y, error);

  plan_tiles (backend, p, &t);
  if (!prepare_space (backend, &t, FALSE, error))
    return FALSE;
  t.x = x->data;
  t.w = weight->data;
  t.b = bias != NULL ? bias->data : NULL;
  t.y = y->data;
  t.units = ((p->n + t.nb - 1) / t.nb) * t.bands;
  _graft_cpu_run_workers ((GraftCpuBackend *) backend, forward_worker, &t);
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

/* Unit u: every band and group of the images of tile u, so that only this worker folds
 * into their planes of dx. */
static void
backward_worker (gpointer ctx,
                 guint    worker)
{
  Tiles *t = ctx;
  const GraftConvPlan *p = t->p;
  float *col = t->space + worker * t->stride, *tmp = col + t->tmp_at;
  float *sum = worker == 0 ? t->dw : col + t->sum_at;

  /* units dealt out in a fixed order, not taken as workers free up: each worker's
   * weight-gradient sum then adds the same tiles in the same order on every run, and
   * training is reproducible bit for bit */
  for (guint u = worker; u < t->units; u += t->workers)
    {
      guint32 n0 = u * t->nb, nb = MIN (t->nb, p->n - n0);

      for (guint32 g = 0; g < p->groups; g++)
        {
          const float *wg = t->w + (gsize) g * t->og * t->k;
          gboolean dx_in_place = t->direct && nb == 1;

          if (t->dx != NULL && !dx_in_place)
            for (guint32 i = 0; i < nb; i++)
              memset (t->dx + ((gsize) (n0 + i) * p->c_in + (gsize) g * t->cg) * t->hw, 0,
                      t->cg * t->hw * sizeof (float));

          for (guint32 oh0 = 0; oh0 < p->out_h; oh0 += t->band)
            {
              guint32 oh1 = MIN (oh0 + t->band, p->out_h);
              gsize per_image = (gsize) (oh1 - oh0) * p->out_w, cols = nb * per_image;
              const float *dy = tmp;
              gsize lddy = cols;

              if (nb == 1)
                {
                  dy = t->dy + output_at (t, n0, g) + (gsize) oh0 * p->out_w;
                  lddy = t->ohw;
                }
              else
                for (guint32 i = 0; i < nb; i++)
                  for (guint32 o = 0; o < t->og; o++)
                    memcpy (tmp + o * cols + i * per_image,
                            t->dy + output_at (t, n0 + i, g) + (gsize) o * t->ohw,
                            per_image * sizeof (float));

              if (t->dw != NULL)
                {
                  /* sum_g [og, k] (+)= dy [og, cols] x col^T [cols, k] */
                  gsize ldb;
                  const float *src = tile_columns (t, n0, nb, g, oh0, oh1, col, &ldb);

                  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans,
                               (blasint) t->og, (blasint) t->k, (blasint) cols,
                               1.0f, dy, (blasint) lddy, src, (blasint) ldb,
                               t->summed[worker] || oh0 > 0 ? 1.0f : 0.0f,
                               sum + (gsize) g * t->og * t->k, (blasint) t->k);
                }

              if (t->dx != NULL)
                {
                  /* col [k, cols] = W_g^T [k, og] x dy [og, cols], folded into dx */
                  if (dx_in_place)
                    {
                      cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans,
                                   (blasint) t->k, (blasint) cols, (blasint) t->og,
                                   1.0f, wg, (blasint) t->k, dy, (blasint) lddy, 0.0f,
                                   t->dx + ((gsize) n0 * p->c_in + (gsize) g * t->cg) * t->hw
                                   + (gsize) oh0 * p->out_w, (blasint) t->hw);
                      continue;
                    }
                  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans,
                               (blasint) t->k, (blasint) cols, (blasint) t->og,
                               1.0f, wg, (blasint) t->k, dy, (blasint) lddy,
                               0.0f, col, (blasint) cols);
                  for (guint32 i = 0; i < nb; i++)
                    fold (t, col + i * per_image, cols, oh0, oh1,
                          t->dx + ((gsize) (n0 + i) * p->c_in + (gsize) g * t->cg) * t->hw);
                }
            }
        }
      t->summed[worker] = TRUE;
    }
}

/* dweight[start, end) = the sums of the workers that wrote one */
static void
add_sums_range (gpointer ctx,
                guint32  start,
                guint32  end)
{
  const Tiles *t = ctx;
  gboolean any = t->summed[0];

  for (guint w = 1; w < t->workers; w++)
    if (t->summed[w])
      {
        const float *from = t->space + w * t->stride + t->sum_at;

        if (!any)
          memcpy (t->dw + start, from + start, (end - start) * sizeof (float));
        else
          for (guint32 i = start; i < end; i++)
            t->dw[i] += from[i];
        any = TRUE;
      }
  if (!any)
    memset (t->dw + start, 0, (end - start) * sizeof (float));
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
  ConvCtx c = { .plan = p, .x = x->data, .w = weight->data, .dy = dy->data };
  guint32 ohw = p->out_h * p->out_w;
  gsize hw = (gsize) p->in_h * p->in_w;
  Tiles t;

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
  if (_graft_cpu_winograd_applies (p))
    return _graft_cpu_winograd_backward (backend, p, x, weight, dy, dx, dweight, error);
  plan_tiles (backend, p, &t);
  if (!prepare_space (backend, &t, dweight != NULL, error))
    return FALSE;
  t.x = x->data;
  t.w = weight->data;
  t.dy = dy->data;
  t.dx = dx != NULL ? dx->data : NULL;
  t.dw = dweight != NULL ? dweight->data : NULL;
  t.units = (p->n + t.nb - 1) / t.nb;
  _graft_cpu_run_workers ((GraftCpuBackend *) backend, backward_worker, &t);

  if (t.dw != NULL)
    {
      _graft_cpu_parallel_for ((GraftCpuBackend *) backend, p->c_out * t.k, add_sums_range, &t);
    }
  return TRUE;
}
