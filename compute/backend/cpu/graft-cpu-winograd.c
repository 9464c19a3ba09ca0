/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* 3 x 3 convolutions with stride 1 on the CPU by Winograd's minimal filtering F(2x2, 3x3)
 * (Lavin and Gray, 2016): each 2 x 2 block of outputs is 16 element-wise products of
 * transformed 4 x 4 input tiles and transformed kernels instead of 36, so the 16 GEMMs
 * that do the products (one per position ξ in the 4 x 4 transform, summing over input
 * channels) multiply 2.25 times fewer numbers than im2col's.
 *
 *   forward   Y  = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *   dweight   dg = Gᵀ [ Σ_tiles (A dy Aᵀ) ⊙ (Bᵀ d B) ] G
 *
 * The weight gradient is the forward formula's trilinear form Σ dy·y differentiated by
 * g. The input gradient is itself such a convolution, of dy with the kernels turned by
 * 180° and their channels swapped, over padding 2 - pad, so it runs the forward pass
 * and nothing scatters. The transforms hold only 0, ±1 and ±1/2, so rounding stays
 * close to that of a direct sum.
 *
 * Work is shared out as in graft-cpu-conv.c: each worker takes
 * chunks of tiles (rows of tiles of one image, or several small images), transforms
 * them into its own working space row by row in loops the compiler vectorises, runs
 * the 16 GEMMs single-threaded and transforms back while the chunk is in cache. The
 * weight-gradient products accumulate per worker and are added at the end. */

#include <cblas.h>
#include <string.h>

#include "graft-cpu-private.h"

/* Tiles per chunk: GEMMs with about this many columns, twice as many from 128 channels
 * on, where the longer GEMMs gain more than the chunk's spill out of L2 costs. */
#define CHUNK_TILES 196
#define CHUNK_TILES_WIDE 392

/* One pass: a stride-1 3 x 3 convolution of src into dst (forward: x into y; input
 * gradient: dy into dx), or the weight gradient's products of x and dy. */
typedef struct {
  guint32      n;
  const float *src;           /* [n, cs, sh, sw] */
  guint32      cs, sh, sw;
  float       *dst;           /* [n, cd, dh, dw]: the pass's output planes */
  guint32      cd, dh, dw;
  guint32      pad_h, pad_w;
  const float *u;             /* transformed kernels [16][cd][cs] */
  const float *bias;          /* [cd] or NULL */
  const float *dy;            /* the weight gradient's pass: dy [n, cd, dh, dw] */
  float       *sum0;          /* and worker 0's products [16][cd][cs] */
  float       *space;         /* the workers' working spaces, stride values apart */
  gsize        stride;
  gsize        m_at;          /* a worker's products (or transformed dy) after its tiles */
  gsize        row_at;        /* and its row buffers */
  gsize        sum_at;        /* and its weight-gradient products (workers 1…) */
  guint32      tiles_h;       /* 2 x 2 blocks of dst down and across a plane */
  guint32      tiles_w;
  guint32      rows;          /* rows of blocks per chunk (tiles_h when nb > 1) */
  guint32      chunks_per_image;
  guint32      nb;            /* images per chunk */
  guint32      units;
  gint         next;          /* the next unit, taken atomically (convolutions) */
  guint        workers;
  gboolean     summed[GRAFT_CPU_MAX_WORKERS];
} Pass;

gboolean
_graft_cpu_winograd_applies (const GraftConvPlan *p)
{
  /* below 16 channels, or on planes smaller than 12 x 12 (7 x 7 at the end of a ResNet,
   * where 2 x 2 blocks also overhang by a fifth), the transforms cost more than the
   * products they save */
  return p->kernel_h == 3 && p->kernel_w == 3 && p->stride_h == 1 && p->stride_w == 1 &&
         p->dilation_h == 1 && p->dilation_w == 1 && p->groups == 1 &&
         p->c_in >= 16 && p->c_out >= 16 && p->pad_h <= 2 && p->pad_w <= 2 &&
         (guint64) p->out_h * p->out_w >= 144;
}

/* ---- transforms --------------------------------------------------------------------- */

/* u = G g Gᵀ for a 3 x 3 kernel g. */
static inline void
kernel_transform (const float g[9],
                  float       u[16])
{
  float t[12];

  for (int j = 0; j < 3; j++)
    {
      t[0 * 3 + j] = g[0 * 3 + j];
      t[1 * 3 + j] = 0.5f * (g[0 * 3 + j] + g[1 * 3 + j] + g[2 * 3 + j]);
      t[2 * 3 + j] = 0.5f * (g[0 * 3 + j] - g[1 * 3 + j] + g[2 * 3 + j]);
      t[3 * 3 + j] = g[2 * 3 + j];
    }
  for (int i = 0; i < 4; i++)
    {
      u[i * 4 + 0] = t[i * 3 + 0];
      u[i * 4 + 1] = 0.5f * (t[i * 3 + 0] + t[i * 3 + 1] + t[i * 3 + 2]);
      u[i * 4 + 2] = 0.5f * (t[i * 3 + 0] - t[i * 3 + 1] + t[i * 3 + 2]);
      u[i * 4 + 3] = t[i * 3 + 2];
    }
}

/* dg = Gᵀ m G: a kernel's 3 x 3 gradient from its summed products. */
static inline void
kernel_gradient_transform (const float m[16],
                           float       dg[9])
{
  float t[12];

  for (int j = 0; j < 4; j++)
    {
      t[0 * 4 + j] = m[0 * 4 + j] + 0.5f * (m[1 * 4 + j] + m[2 * 4 + j]);
      t[1 * 4 + j] = 0.5f * (m[1 * 4 + j] - m[2 * 4 + j]);
      t[2 * 4 + j] = 0.5f * (m[1 * 4 + j] + m[2 * 4 + j]) + m[3 * 4 + j];
    }
  for (int i = 0; i < 3; i++)
    {
      dg[i * 3 + 0] = t[i * 4 + 0] + 0.5f * (t[i * 4 + 1] + t[i * 4 + 2]);
      dg[i * 3 + 1] = 0.5f * (t[i * 4 + 1] - t[i * 4 + 2]);
      dg[i * 3 + 2] = 0.5f * (t[i * 4 + 1] + t[i * 4 + 2]) + t[i * 4 + 3];
    }
}

/* ---- kernels in and out ------------------------------------------------------------ */

typedef struct {
  const float *weight;        /* [c_out, c_in, 3, 3] */
  float       *u;
  guint32      c_out;
  guint32      c_in;
  gboolean     turned;        /* for the input gradient: u [16][c_in][c_out], turned 180° */
  const Pass  *pass;          /* kernels_out_range: the pass whose products to sum */
  float       *dweight;
} KernelCtx;

/* The transformed kernels of the pairs [start, end) of the output of u. */
static void
kernels_in_range (gpointer ctx,
                  guint32  start,
                  guint32  end)
{
  const KernelCtx *k = ctx;
  gsize pairs = (gsize) k->c_out * k->c_in;

  for (guint32 pair = start; pair < end; pair++)
    {
      float g[9], u[16];

      if (k->turned)
        {
          /* pair = ci * c_out + co */
          const float *from = k->weight + ((gsize) (pair % k->c_out) * k->c_in + pair / k->c_out) * 9;

          for (int i = 0; i < 9; i++)
            g[i] = from[8 - i];
        }
      else
        memcpy (g, k->weight + (gsize) pair * 9, sizeof g);
      kernel_transform (g, u);
      for (int xi = 0; xi < 16; xi++)
        k->u[xi * pairs + pair] = u[xi];
    }
}

/* dweight for the pairs [start, end): the workers' products summed, transformed back */
static void
kernels_out_range (gpointer ctx,
                   guint32  start,
                   guint32  end)
{
  const KernelCtx *k = ctx;
  const Pass *w = k->pass;
  gsize pairs = (gsize) k->c_out * k->c_in;

  for (guint32 pair = start; pair < end; pair++)
    {
      float m[16] = { 0 };

      for (guint wk = 0; wk < w->workers; wk++)
        {
          const float *sum = wk == 0 ? w->sum0 : w->space + wk * w->stride + w->sum_at;

          if (!w->summed[wk])
            continue;
          for (int xi = 0; xi < 16; xi++)
            m[xi] += sum[xi * pairs + pair];
        }
      kernel_gradient_transform (m, k->dweight + (gsize) pair * 9);
    }
}

/* ---- chunks and row-wise transforms --------------------------------------------------- */

/* Where chunk u starts: its first image and row of blocks, and its size. */
static inline void
chunk_of (const Pass *w,
          guint       u,
          guint32    *n0,
          guint32    *nb,
          guint32    *r0,
          guint32    *r1)
{
  guint32 image_chunk = u / w->chunks_per_image, part = u % w->chunks_per_image;

  *n0 = image_chunk * w->nb;
  *nb = MIN (w->nb, w->n - *n0);
  *r0 = part * w->rows;
  *r1 = MIN (*r0 + w->rows, w->tiles_h);
}

/* r[j] = row h of @plane (sh x sw) at column j - pad, for j < len; zero outside. */
static inline void
load_row (const float *plane,
          gint64       h,
          guint32      sh,
          guint32      sw,
          guint32      pad,
          guint32      len,
          float       *r)
{
  guint32 lo = MIN (pad, len), hi = (guint32) MIN ((guint64) sw + pad, len);

  if (h < 0 || h >= sh)
    hi = lo;
  for (guint32 j = 0; j < lo; j++)
    r[j] = 0.0f;
  if (hi > lo)
    {
      const float *row = plane + h * sw - (gint64) pad;   /* row[j] for j >= pad */

      for (gsize j = lo; j < hi; j++)
        r[j] = row[j];
    }
  for (guint32 j = MAX (hi, lo); j < len; j++)
    r[j] = 0.0f;
}

/* Bᵀ applied down four rows (restrict: the rows do not overlap, which lets the
 * compiler vectorise without checking). */
static inline void
combine_rows_bt (const float *restrict r0,
                 const float *restrict r1,
                 const float *restrict r2,
                 const float *restrict r3,
                 float *restrict       t0,
                 float *restrict       t1,
                 float *restrict       t2,
                 float *restrict       t3,
                 gsize                 len)
{
  for (gsize j = 0; j < len; j++)
    {
      t0[j] = r0[j] - r2[j];
      t1[j] = r1[j] + r2[j];
      t2[j] = r2[j] - r1[j];
      t3[j] = r1[j] - r3[j];
    }
}

/* A applied down two rows of output gradients, giving four. */
static inline void
combine_rows_a (const float *restrict g0,
                const float *restrict g1,
                float *restrict       t0,
                float *restrict       t1,
                float *restrict       t2,
                float *restrict       t3,
                gsize                 len)
{
  for (gsize j = 0; j < len; j++)
    {
      t0[j] = g0[j];
      t1[j] = g0[j] + g1[j];
      t2[j] = g0[j] - g1[j];
      t3[j] = -g1[j];
    }
}

/* v[ξ][c][t] = Bᵀ d B of every 4 x 4 tile d of src in the chunk. A row of tiles reads
 * four rows of the plane: Bᵀ combines the rows, B then pairs of columns. */
static void
transform_inputs (const Pass *w,
                  guint32     n0,
                  guint32     nb,
                  guint32     r0,
                  guint32     r1,
                  float      *v,
                  float      *rows)
{
  gsize tiles = (gsize) nb * (r1 - r0) * w->tiles_w, slab = (gsize) w->cs * tiles;
  guint32 tw = w->tiles_w, len = 2 * tw + 2;
  float *r[4], *t[4];

  for (int a = 0; a < 4; a++)
    {
      r[a] = rows + (gsize) a * len;
      t[a] = rows + (gsize) (4 + a) * len;
    }
  for (guint32 c = 0; c < w->cs; c++)
    {
      gsize at = (gsize) c * tiles;

      for (guint32 i = 0; i < nb; i++)
        {
          const float *plane = w->src + ((gsize) (n0 + i) * w->cs + c) * w->sh * w->sw;

          for (guint32 tr = r0; tr < r1; tr++, at += tw)
            {
              gint64 h0 = (gint64) tr * 2 - w->pad_h;

              for (int a = 0; a < 4; a++)
                load_row (plane, h0 + a, w->sh, w->sw, w->pad_w, len, r[a]);
              combine_rows_bt (r[0], r[1], r[2], r[3], t[0], t[1], t[2], t[3], len);
              for (int a = 0; a < 4; a++)
                {
                  const float *ta = t[a];
                  float *v0 = v + (gsize) (a * 4 + 0) * slab + at;
                  float *v1 = v + (gsize) (a * 4 + 1) * slab + at;
                  float *v2 = v + (gsize) (a * 4 + 2) * slab + at;
                  float *v3 = v + (gsize) (a * 4 + 3) * slab + at;

                  for (gsize tc = 0; tc < tw; tc++)
                    {
                      float e0 = ta[2 * tc], e1 = ta[2 * tc + 1], e2 = ta[2 * tc + 2], e3 = ta[2 * tc + 3];

                      v0[tc] = e0 - e2;
                      v1[tc] = e1 + e2;
                      v2[tc] = e2 - e1;
                      v3[tc] = e1 - e3;
                    }
                }
            }
        }
    }
}

/* ---- the passes --------------------------------------------------------------------- */

/* Convolution: dst = Aᵀ [u ⊙ (Bᵀ d B)] A + bias, chunk by chunk. */
static void
convolve_worker (gpointer ctx,
                 guint    worker)
{
  Pass *w = ctx;
  float *v = w->space + worker * w->stride, *m = v + w->m_at, *rows = v + w->row_at;
  gsize dhw = (gsize) w->dh * w->dw;
  guint32 tw = w->tiles_w;
  guint u;

  while ((u = (guint) g_atomic_int_add (&w->next, 1)) < w->units)
    {
      guint32 n0, nb, r0, r1;
      gsize tiles;

      chunk_of (w, u, &n0, &nb, &r0, &r1);
      tiles = (gsize) nb * (r1 - r0) * tw;
      transform_inputs (w, n0, nb, r0, r1, v, rows);

      /* m[ξ] [cd, tiles] = u[ξ] [cd, cs] x v[ξ] [cs, tiles] */
      for (int xi = 0; xi < 16; xi++)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans,
                     (blasint) w->cd, (blasint) tiles, (blasint) w->cs,
                     1.0f, w->u + (gsize) xi * w->cd * w->cs, (blasint) w->cs,
                     v + (gsize) xi * w->cs * tiles, (blasint) tiles,
                     0.0f, m + (gsize) xi * w->cd * tiles, (blasint) tiles);

      /* Aᵀ m A: Aᵀ combines the four rows of products, A then each block's columns */
      for (guint32 o = 0; o < w->cd; o++)
        {
          float bias = w->bias != NULL ? w->bias[o] : 0.0f;
          gsize at = 0;

          for (guint32 i = 0; i < nb; i++)
            {
              float *plane = w->dst + ((gsize) (n0 + i) * w->cd + o) * dhw;

              for (guint32 tr = r0; tr < r1; tr++, at += tw)
                {
                  float *s = rows, *line = rows + 8 * (gsize) tw;

                  for (int b = 0; b < 4; b++)
                    {
                      const float *m0 = m + ((gsize) (0 * 4 + b) * w->cd + o) * tiles + at;
                      const float *m1 = m + ((gsize) (1 * 4 + b) * w->cd + o) * tiles + at;
                      const float *m2 = m + ((gsize) (2 * 4 + b) * w->cd + o) * tiles + at;
                      const float *m3 = m + ((gsize) (3 * 4 + b) * w->cd + o) * tiles + at;
                      float *s0 = s + (gsize) b * tw, *s1 = s + (gsize) (4 + b) * tw;

                      for (gsize tc = 0; tc < tw; tc++)
                        {
                          s0[tc] = m0[tc] + m1[tc] + m2[tc];
                          s1[tc] = m1[tc] - m2[tc] - m3[tc];
                        }
                    }
                  for (guint32 a = 0; a < 2 && tr * 2 + a < w->dh; a++)
                    {
                      const float *q0 = s + (gsize) (a * 4 + 0) * tw, *q1 = s + (gsize) (a * 4 + 1) * tw;
                      const float *q2 = s + (gsize) (a * 4 + 2) * tw, *q3 = s + (gsize) (a * 4 + 3) * tw;
                      float *out = plane + (gsize) (tr * 2 + a) * w->dw;

                      for (gsize tc = 0; tc < tw; tc++)
                        {
                          line[2 * tc] = q0[tc] + q1[tc] + q2[tc] + bias;
                          line[2 * tc + 1] = q1[tc] - q2[tc] - q3[tc] + bias;
                        }
                      for (gsize x = 0; x < w->dw; x++)
                        out[x] = line[x];
                    }
                }
            }
        }
    }
}

/* Weight gradient: sum[ξ] (+)= (A dy Aᵀ) [cd, tiles] x (Bᵀ x B)ᵀ [tiles, cs], chunk by
 * chunk; dst's shape is dy's. */
static void
products_worker (gpointer ctx,
                 guint    worker)
{
  Pass *w = ctx;
  float *v = w->space + worker * w->stride, *e = v + w->m_at, *rows = v + w->row_at;
  float *sum = worker == 0 ? w->sum0 : v + w->sum_at;
  gsize dhw = (gsize) w->dh * w->dw;
  guint32 tw = w->tiles_w, len = 2 * tw;

  /* chunks dealt out in a fixed order (see graft-cpu-conv.c): reproducible sums */
  for (guint u = worker; u < w->units; u += w->workers)
    {
      guint32 n0, nb, r0, r1;
      gsize tiles, slab;

      chunk_of (w, u, &n0, &nb, &r0, &r1);
      tiles = (gsize) nb * (r1 - r0) * tw;
      slab = (gsize) w->cd * tiles;
      transform_inputs (w, n0, nb, r0, r1, v, rows);

      /* e[ξ][o][t] = A g Aᵀ of every 2 x 2 block g of dy, zero past its edges: A
       * spreads the two rows over four, then each block's two columns over four */
      for (guint32 o = 0; o < w->cd; o++)
        {
          gsize at = (gsize) o * tiles;

          for (guint32 i = 0; i < nb; i++)
            {
              const float *plane = w->dy + ((gsize) (n0 + i) * w->cd + o) * dhw;

              for (guint32 tr = r0; tr < r1; tr++, at += tw)
                {
                  float *g0 = rows, *g1 = rows + len, *t[4];

                  for (int a = 0; a < 4; a++)
                    t[a] = rows + (gsize) (2 + a) * len;
                  load_row (plane, (gint64) tr * 2, w->dh, w->dw, 0, len, g0);
                  load_row (plane, (gint64) tr * 2 + 1, w->dh, w->dw, 0, len, g1);
                  combine_rows_a (g0, g1, t[0], t[1], t[2], t[3], len);
                  for (int a = 0; a < 4; a++)
                    {
                      const float *ta = t[a];
                      float *e0 = e + (gsize) (a * 4 + 0) * slab + at;
                      float *e1 = e + (gsize) (a * 4 + 1) * slab + at;
                      float *e2 = e + (gsize) (a * 4 + 2) * slab + at;
                      float *e3 = e + (gsize) (a * 4 + 3) * slab + at;

                      for (gsize tc = 0; tc < tw; tc++)
                        {
                          float x0 = ta[2 * tc], x1 = ta[2 * tc + 1];

                          e0[tc] = x0;
                          e1[tc] = x0 + x1;
                          e2[tc] = x0 - x1;
                          e3[tc] = -x1;
                        }
                    }
                }
            }
        }

      for (int xi = 0; xi < 16; xi++)
        cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans,
                     (blasint) w->cd, (blasint) w->cs, (blasint) tiles,
                     1.0f, e + (gsize) xi * slab, (blasint) tiles,
                     v + (gsize) xi * w->cs * tiles, (blasint) tiles,
                     w->summed[worker] ? 1.0f : 0.0f,
                     sum + (gsize) xi * w->cd * w->cs, (blasint) w->cs);
      w->summed[worker] = TRUE;
    }
}

/* Chunks and working space of a pass whose output planes are dh x dw; the kernels'
 * transforms (and worker 0's products where @sums) come first in the working space.
 * FALSE with an error without memory. */
static gboolean
plan (GraftBackend  *backend,
      Pass          *w,
      gboolean       sums,
      GError       **error)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;
  guint workers = _graft_cpu_n_workers (self);
  guint32 target = MIN (w->cs, w->cd) >= 128 ? CHUNK_TILES_WIDE : CHUNK_TILES;
  guint64 tiles, v, m, r, s, shared, total;

  w->tiles_h = (w->dh + 1) / 2;
  w->tiles_w = (w->dw + 1) / 2;
  w->nb = 1;
  w->rows = CLAMP (target / w->tiles_w, 1, w->tiles_h);
  if (w->rows == w->tiles_h && (guint64) w->tiles_h * w->tiles_w < target)
    {
      guint32 want = target / (w->tiles_h * w->tiles_w);
      w->nb = CLAMP (want, 1, MAX (w->n / workers, 1));
    }
  w->chunks_per_image = (w->tiles_h + w->rows - 1) / w->rows;
  w->units = ((w->n + w->nb - 1) / w->nb) * w->chunks_per_image;
  w->next = 0;
  w->workers = workers;
  memset (w->summed, 0, sizeof w->summed);

  tiles = (guint64) w->nb * w->rows * w->tiles_w;
  v = 16 * (guint64) w->cs * tiles;
  m = 16 * (guint64) w->cd * tiles;
  r = 8 * (2 * (guint64) w->tiles_w + 2);
  s = sums ? 16 * (guint64) w->cd * w->cs : 0;
  v = (v + 15) & ~(guint64) 15;
  m = (m + 15) & ~(guint64) 15;
  r = (r + 15) & ~(guint64) 15;
  s = (s + 15) & ~(guint64) 15;
  w->m_at = (gsize) v;
  w->row_at = (gsize) (v + m);
  w->sum_at = (gsize) (v + m + r);
  w->stride = (gsize) (v + m + r + s);
  shared = 16 * (guint64) w->cd * w->cs;
  total = shared + (guint64) w->stride * workers;
  w->space = total < G_MAXSIZE / sizeof (float) ? _graft_cpu_scratch (self, (gsize) total, NULL) : NULL;
  if (w->space == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "conv2d: no memory for %" G_GUINT64_FORMAT " MiB of working space for a "
                   "3x3 convolution over %ux%u outputs; use smaller images",
                   (total * sizeof (float)) >> 20, w->dh, w->dw);
      return FALSE;
    }
  /* the shared part holds u for a convolution, worker 0's products for the gradient */
  w->u = w->space;
  w->sum0 = sums ? w->space : NULL;
  w->space += shared;
  return TRUE;
}

gboolean
_graft_cpu_winograd_forward (GraftBackend         *backend,
                             const GraftConvPlan  *p,
                             GraftBuffer          *x,
                             GraftBuffer          *weight,
                             GraftBuffer          *bias,
                             GraftBuffer          *y,
                             GError              **error)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;
  Pass w = { .n = p->n, .src = x->data, .cs = p->c_in, .sh = p->in_h, .sw = p->in_w,
             .dst = y->data, .cd = p->c_out, .dh = p->out_h, .dw = p->out_w,
             .pad_h = p->pad_h, .pad_w = p->pad_w,
             .bias = bias != NULL ? bias->data : NULL };
  KernelCtx k = { .weight = weight->data, .c_out = p->c_out, .c_in = p->c_in };

  if (!plan (backend, &w, FALSE, error))
    return FALSE;
  k.u = (float *) w.u;
  _graft_cpu_parallel_for (self, p->c_out * p->c_in, kernels_in_range, &k);
  _graft_cpu_run_workers (self, convolve_worker, &w);
  return TRUE;
}

gboolean
_graft_cpu_winograd_backward (GraftBackend         *backend,
                              const GraftConvPlan  *p,
                              GraftBuffer          *x,
                              GraftBuffer          *weight,
                              GraftBuffer          *dy,
                              GraftBuffer          *dx,
                              GraftBuffer          *dweight,
                              GError              **error)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;

  if (dweight != NULL)
    {
      /* tiles of the forward's output (dy's shape) over x */
      Pass w = { .n = p->n, .src = x->data, .cs = p->c_in, .sh = p->in_h, .sw = p->in_w,
                 .dy = dy->data, .cd = p->c_out, .dh = p->out_h, .dw = p->out_w,
                 .pad_h = p->pad_h, .pad_w = p->pad_w };
      KernelCtx k = { .c_out = p->c_out, .c_in = p->c_in, .pass = &w,
                      .dweight = dweight->data };

      if (!plan (backend, &w, TRUE, error))
        return FALSE;
      _graft_cpu_run_workers (self, products_worker, &w);
      _graft_cpu_parallel_for (self, p->c_out * p->c_in, kernels_out_range, &k);
    }

  if (dx != NULL)
    {
      /* dx = dy convolved with the kernels turned 180°, c_out -> c_in, padding 2 - pad */
      Pass w = { .n = p->n, .src = dy->data, .cs = p->c_out, .sh = p->out_h, .sw = p->out_w,
                 .dst = dx->data, .cd = p->c_in, .dh = p->in_h, .dw = p->in_w,
                 .pad_h = 2 - p->pad_h, .pad_w = 2 - p->pad_w };
      KernelCtx k = { .weight = weight->data, .c_out = p->c_out, .c_in = p->c_in, .turned = TRUE };

      if (!plan (backend, &w, FALSE, error))
        return FALSE;
      k.u = (float *) w.u;
      _graft_cpu_parallel_for (self, p->c_out * p->c_in, kernels_in_range, &k);
      _graft_cpu_run_workers (self, convolve_worker, &w);
    }
  return TRUE;
}
