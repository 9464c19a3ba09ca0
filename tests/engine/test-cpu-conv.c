/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Convolution on the CPU backend against plain double-precision loops written from
 * PyTorch's definition of conv2d, on random shapes (odd sizes, strides 1-3, padding,
 * dilation 1-2, groups 1, 2 and depthwise, bias on and off), 1x1 kernels and a 7x7
 * stride-2 stem; every gradient against double backward loops, plus finite differences
 * of the op's own forward pass. */

#include <float.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  gsize             in[4];
  gsize             weight[4];
  gsize             out[4];
  gboolean          has_bias;
  GraftConv2dParams p;
} Case;

/* Float32 sums of K products of values in [-1, 1] drift from the double sum by about
 * sqrt(K) * eps relative to its size (random rounding errors add like a random walk);
 * the normalised error over a tensor behaves the same. 16 * sqrt(K) * eps leaves room
 * for BLAS's blocking and col2im's extra additions, while a wrong tap, stride or group
 * gives errors of order 1. */
static double
tolerance (gsize k)
{
  return 16.0 * sqrt ((double) MAX (k, 1)) * FLT_EPSILON;
}

static double
rel_error (const float  *got,
           const double *want,
           gsize         n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      diff += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
  return norm == 0.0 ? sqrt (diff) : sqrt (diff / norm);
}

static gsize
n_of (const gsize *shape)
{
  return shape[0] * shape[1] * shape[2] * shape[3];
}

/* ---- the reference ---------------------------------------------------------------- */

/* Runs @body for every (image, output channel, output position, input channel, tap)
 * with yi, xi, wi the positions in y, x and weight, skipping taps in the padding. */
#define FOR_EACH_TERM(c, body)                                                          \
  for (gsize n = 0; n < (c)->in[0]; n++)                                                \
    for (gsize co = 0; co < (c)->out[1]; co++)                                          \
      for (gsize oh = 0; oh < (c)->out[2]; oh++)                                        \
        for (gsize ow = 0; ow < (c)->out[3]; ow++)                                      \
          for (gsize cil = 0; cil < (c)->weight[1]; cil++)                              \
            for (gsize ki = 0; ki < (c)->weight[2]; ki++)                               \
              for (gsize kj = 0; kj < (c)->weight[3]; kj++)                             \
                {                                                                       \
                  gsize og = (c)->out[1] / (c)->p.groups;                              \
                  gsize ci = (co / og) * (c)->weight[1] + cil;                          \
                  gint64 ih = (gint64) (oh * (c)->p.stride_h + ki * (c)->p.dilation_h) \
                             - (gint64) (c)->p.pad_h;                                   \
                  gint64 iw = (gint64) (ow * (c)->p.stride_w + kj * (c)->p.dilation_w) \
                             - (gint64) (c)->p.pad_w;                                   \
                  gsize yi, xi, wi;                                                     \
                  if (ih < 0 || iw < 0 || ih >= (gint64) (c)->in[2] || iw >= (gint64) (c)->in[3]) \
                    continue;                                                           \
                  yi = ((n * (c)->out[1] + co) * (c)->out[2] + oh) * (c)->out[3] + ow; \
                  xi = ((n * (c)->in[1] + ci) * (c)->in[2] + (gsize) ih) * (c)->in[3] + (gsize) iw; \
                  wi = ((co * (c)->weight[1] + cil) * (c)->weight[2] + ki) * (c)->weight[3] + kj; \
                  body;                                                                 \
                }

static void
ref_forward (const Case  *c,
             const float *x,
             const float *w,
             const float *b,
             double      *y)
{
  gsize plane = c->out[2] * c->out[3];

  for (gsize i = 0; i < n_of (c->out); i++)
    y[i] = b != NULL ? b[(i / plane) % c->out[1]] : 0.0;
  FOR_EACH_TERM (c, y[yi] += (double) w[wi] * x[xi]);
}

static void
ref_backward (const Case  *c,
              const float *x,
              const float *w,
              const float *dy,
              double      *dx,
              double      *dw,
              double      *db)
{
  gsize plane = c->out[2] * c->out[3];

  memset (dx, 0, n_of (c->in) * sizeof (double));
  memset (dw, 0, n_of (c->weight) * sizeof (double));
  memset (db, 0, c->out[1] * sizeof (double));
  for (gsize i = 0; i < n_of (c->out); i++)
    db[(i / plane) % c->out[1]] += dy[i];
  FOR_EACH_TERM (c, { dx[xi] += (double) w[wi] * dy[yi]; dw[wi] += (double) dy[yi] * x[xi]; });
}

/* ---- cases -------------------------------------------------------------------------- */

static gboolean
make_case (Case        *c,
           gsize        n,
           gsize        c_in,
           gsize        h,
           gsize        w,
           gsize        c_out,
           gsize        kh,
           gsize        kw,
           guint        groups,
           gboolean     has_bias)
{
  g_autoptr(GError) error = NULL;
  gsize in[4] = { n, c_in, h, w }, weight[4] = { c_out, c_in / groups, kh, kw };

  memcpy (c->in, in, sizeof in);
  memcpy (c->weight, weight, sizeof weight);
  c->has_bias = has_bias;
  c->p.groups = groups;
  return graft_conv2d_output_shape (c->in, c->weight, &c->p, c->out, &error);
}

static gboolean
random_case (GRand *rand,
             Case  *c)
{
  gint kind = g_rand_int_range (rand, 0, 3);   /* groups 1, 2, depthwise */
  gsize cg = (gsize) g_rand_int_range (rand, 1, 5), og = (gsize) g_rand_int_range (rand, 1, 5);
  guint groups = kind == 0 ? 1 : 2;

  if (kind == 2)
    {
      groups = (guint) g_rand_int_range (rand, 2, 7);
      cg = og = 1;
    }
  graft_conv2d_params_init (&c->p);
  c->p.stride_h = (guint) g_rand_int_range (rand, 1, 4);
  c->p.stride_w = (guint) g_rand_int_range (rand, 1, 4);
  c->p.pad_h = (guint) g_rand_int_range (rand, 0, 3);
  c->p.pad_w = (guint) g_rand_int_range (rand, 0, 3);
  c->p.dilation_h = (guint) g_rand_int_range (rand, 1, 3);
  c->p.dilation_w = (guint) g_rand_int_range (rand, 1, 3);
  return make_case (c, (gsize) g_rand_int_range (rand, 1, 4), cg * groups,
                    (gsize) g_rand_int_range (rand, 3, 14), (gsize) g_rand_int_range (rand, 3, 14),
                    og * groups, (gsize) g_rand_int_range (rand, 1, 6),
                    (gsize) g_rand_int_range (rand, 1, 6), groups, g_rand_boolean (rand));
}

/* ---- checks ------------------------------------------------------------------------- */

static void
check_case (GraftBackend *cpu,
            GRand        *rand,
            const Case   *c)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *x = graft_test_random (rand, n_of (c->in));
  g_autofree float *w = graft_test_random (rand, n_of (c->weight));
  g_autofree float *b = graft_test_random (rand, c->out[1]);
  g_autofree float *dy = graft_test_random (rand, n_of (c->out));
  g_autofree double *want_y = g_new (double, n_of (c->out));
  g_autofree double *want_dx = g_new (double, n_of (c->in));
  g_autofree double *want_dw = g_new (double, n_of (c->weight));
  g_autofree double *want_db = g_new (double, c->out[1]);
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 4, c->in, x);
  g_autoptr(GraftTensor) tw = graft_test_tensor (cpu, 4, c->weight, w);
  g_autoptr(GraftTensor) tb = graft_test_tensor (cpu, 1, &c->out[1], b);
  g_autoptr(GraftTensor) ty = graft_test_tensor (cpu, 4, c->out, NULL);
  g_autoptr(GraftTensor) tdy = graft_test_tensor (cpu, 4, c->out, dy);
  g_autoptr(GraftTensor) tdx = graft_test_tensor (cpu, 4, c->in, NULL);
  g_autoptr(GraftTensor) tdw = graft_test_tensor (cpu, 4, c->weight, NULL);
  g_autoptr(GraftTensor) tdb = graft_test_tensor (cpu, 1, &c->out[1], NULL);
  g_autofree float *y = NULL, *dx = NULL, *dw = NULL, *db = NULL;
  gsize k_fwd = c->weight[1] * c->weight[2] * c->weight[3];
  gsize k_dx = c->weight[0] / c->p.groups * c->weight[2] * c->weight[3];
  gsize k_dw = c->out[0] * c->out[2] * c->out[3];
  g_autofree char *what = g_strdup_printf ("x [%zu,%zu,%zu,%zu] w [%zu,%zu,%zu,%zu] s %ux%u "
                                           "p %ux%u d %ux%u g %u bias %d",
                                           c->in[0], c->in[1], c->in[2], c->in[3],
                                           c->weight[0], c->weight[1], c->weight[2], c->weight[3],
                                           c->p.stride_h, c->p.stride_w, c->p.pad_h, c->p.pad_w,
                                           c->p.dilation_h, c->p.dilation_w, c->p.groups,
                                           c->has_bias);

  g_test_message ("%s", what);
  ref_forward (c, x, w, c->has_bias ? b : NULL, want_y);
  ref_backward (c, x, w, dy, want_dx, want_dw, want_db);

  g_assert_true (graft_op_conv2d (tx, tw, c->has_bias ? tb : NULL, &c->p, ty, &error));
  g_assert_no_error (error);
  y = graft_test_download (ty);
  g_assert_cmpfloat (rel_error (y, want_y, n_of (c->out)), <=, tolerance (k_fwd));

  g_assert_true (graft_op_conv2d_backward (tx, tw, tdy, &c->p, tdx, tdw, tdb, &error));
  g_assert_no_error (error);
  dx = graft_test_download (tdx);
  dw = graft_test_download (tdw);
  db = graft_test_download (tdb);
  g_assert_cmpfloat (rel_error (dx, want_dx, n_of (c->in)), <=, tolerance (k_dx));
  g_assert_cmpfloat (rel_error (dw, want_dw, n_of (c->weight)), <=, tolerance (k_dw));
  g_assert_cmpfloat (rel_error (db, want_db, c->out[1]), <=, tolerance (k_dw));

  /* A frozen first layer asks for dweight alone; it must not depend on dx being there. */
  g_clear_pointer (&dw, g_free);
  graft_op_fill (tdw, 7.0f, &error);
  g_assert_no_error (error);
  g_assert_true (graft_op_conv2d_backward (tx, tw, tdy, &c->p, NULL, tdw, NULL, &error));
  g_assert_no_error (error);
  dw = graft_test_download (tdw);
  g_assert_cmpfloat (rel_error (dw, want_dw, n_of (c->weight)), <=, tolerance (k_dw));
}

static void
test_random (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (4242);
  guint done = 0;

  g_assert_no_error (error);
  for (guint t = 0; done < 80 && t < 1000; t++)
    {
      Case c = { 0 };

      if (!random_case (rand, &c))
        continue;
      check_case (cpu, rand, &c);
      done++;
    }
  g_assert_cmpuint (done, ==, 80);
}

/* Shapes from real networks: 1x1 projections (with stride 2, as in ResNet's downsampling
 * shortcut), a 7x7 stride-2 stem, a 3x3 depthwise with stride 2, a grouped 3x3, and one
 * large enough that unfolding and the depthwise loops run on the worker threads. */
static void
test_networks (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (77);
  Case c = { 0 };

  g_assert_no_error (error);

  graft_conv2d_params_init (&c.p);
  g_assert_true (make_case (&c, 2, 16, 9, 11, 24, 1, 1, 1, TRUE));
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.stride_h = c.p.stride_w = 2;
  g_assert_true (make_case (&c, 2, 16, 9, 11, 24, 1, 1, 1, FALSE));
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.stride_h = c.p.stride_w = 2;
  c.p.pad_h = c.p.pad_w = 3;
  g_assert_true (make_case (&c, 2, 3, 37, 33, 8, 7, 7, 1, FALSE));
  g_assert_cmpuint (c.out[2], ==, 19);
  g_assert_cmpuint (c.out[3], ==, 17);
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.stride_h = c.p.stride_w = 2;
  c.p.pad_h = c.p.pad_w = 1;
  g_assert_true (make_case (&c, 2, 12, 15, 15, 12, 3, 3, 12, TRUE));
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.pad_h = c.p.pad_w = 1;
  g_assert_true (make_case (&c, 2, 8, 10, 10, 12, 3, 3, 4, TRUE));
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.pad_h = c.p.pad_w = 1;
  g_assert_true (make_case (&c, 1, 16, 30, 30, 8, 3, 3, 1, TRUE));
  check_case (cpu, rand, &c);

  graft_conv2d_params_init (&c.p);
  c.p.pad_h = c.p.pad_w = 2;
  g_assert_true (make_case (&c, 2, 40, 40, 40, 40, 5, 5, 40, TRUE));
  check_case (cpu, rand, &c);

  /* a ResNet-sized 3x3: each image's column matrix (64 * 9 rows of 64 * 64 columns) is
   * too large for one tile, so images go in bands of output rows, the last one shorter */
  graft_conv2d_params_init (&c.p);
  c.p.pad_h = c.p.pad_w = 1;
  g_assert_true (make_case (&c, 7, 64, 64, 64, 8, 3, 3, 1, TRUE));
  check_case (cpu, rand, &c);
}

/* The CPU backend with @threads worker threads. */
static GraftBackend *
open_cpu (guint threads)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *count = g_strdup_printf ("%u", threads);
  GraftBackend *cpu;

  g_setenv ("GRAFT_CPU_THREADS", count, TRUE);
  cpu = graft_backend_open ("cpu", &error);
  g_unsetenv ("GRAFT_CPU_THREADS");
  g_assert_no_error (error);
  g_test_message ("%u threads", threads);
  return cpu;
}

/* Every way the CPU backend tiles a convolution, at 1, 2, 3 and 5 worker threads (the
 * tiling depends on the count): bands of output rows of one image (large planes),
 * several images per tile with a shorter last tile (small planes), 1x1 convolutions
 * read and written in place or gathered, groups, strides and padding within bands, and
 * more workers than tiles (a worker that takes no tile adds no weight gradient). */
static void
test_tiling (void)
{
  const guint threads[] = { 1, 2, 3, 5 };

  for (guint ti = 0; ti < G_N_ELEMENTS (threads); ti++)
    {
      g_autoptr(GraftBackend) cpu = open_cpu (threads[ti]);
      g_autoptr(GRand) rand = g_rand_new_with_seed (500 + threads[ti]);
      Case c = { 0 };

      /* bands: 32 * 9 rows by 48 columns per output row, two groups, stride 1 */
      graft_conv2d_params_init (&c.p);
      c.p.pad_h = c.p.pad_w = 1;
      g_assert_true (make_case (&c, 3, 64, 48, 45, 10, 3, 3, 2, TRUE));
      check_case (cpu, rand, &c);

      /* bands with stride 2, dilation and uneven padding */
      graft_conv2d_params_init (&c.p);
      c.p.stride_h = c.p.stride_w = 2;
      c.p.pad_h = 2;
      c.p.pad_w = 1;
      c.p.dilation_h = 2;
      g_assert_true (make_case (&c, 2, 96, 90, 77, 6, 3, 3, 1, FALSE));
      check_case (cpu, rand, &c);

      /* small planes, several images per tile (11 images: the last tile is shorter) */
      graft_conv2d_params_init (&c.p);
      c.p.pad_h = c.p.pad_w = 1;
      g_assert_true (make_case (&c, 11, 24, 7, 7, 20, 3, 3, 1, TRUE));
      check_case (cpu, rand, &c);

      /* 1x1, stride 1: in place on large planes (in two bands), gathered on small ones,
       * and grouped */
      graft_conv2d_params_init (&c.p);
      g_assert_true (make_case (&c, 2, 600, 37, 23, 12, 1, 1, 1, TRUE));
      check_case (cpu, rand, &c);
      graft_conv2d_params_init (&c.p);
      g_assert_true (make_case (&c, 9, 40, 5, 6, 12, 1, 1, 1, FALSE));
      check_case (cpu, rand, &c);
      graft_conv2d_params_init (&c.p);
      g_assert_true (make_case (&c, 9, 40, 5, 6, 12, 1, 1, 4, TRUE));
      check_case (cpu, rand, &c);
      graft_conv2d_params_init (&c.p);
      g_assert_true (make_case (&c, 2, 40, 30, 30, 12, 1, 1, 2, TRUE));
      check_case (cpu, rand, &c);

      /* one image and many workers: the rest take no tile */
      graft_conv2d_params_init (&c.p);
      c.p.pad_h = c.p.pad_w = 1;
      g_assert_true (make_case (&c, 1, 8, 6, 6, 5, 3, 3, 1, TRUE));
      check_case (cpu, rand, &c);
    }
}

/* 3x3 convolutions with stride 1, at least 16 channels each way and 144 outputs per
 * plane go through Winograd's F(2x2, 3x3): even and odd planes (a last, partial row and
 * column of 2x2 blocks), padding 0, 1 and 2 and uneven, rows of blocks split into
 * chunks on large planes and several images per chunk on small ones, with and without
 * bias, at 1, 2 and 3 worker threads. The tolerances are the direct sum's: the
 * transforms hold only 0, ±1 and ±1/2. */
static void
test_winograd (void)
{
  const guint threads[] = { 1, 2, 3 };
  const struct { guint n, c_in, h, w, c_out, pad_h, pad_w; gboolean bias; } cases[] = {
    { 2, 16, 12, 12, 16, 1, 1, TRUE },
    { 3, 17, 13, 15, 19, 1, 1, FALSE },
    { 2, 16, 14, 16, 24, 0, 0, TRUE },
    { 2, 20, 11, 12, 16, 2, 2, FALSE },
    { 2, 16, 14, 11, 16, 0, 2, TRUE },
    { 1, 32, 61, 57, 16, 1, 1, TRUE },
    { 9, 16, 12, 13, 16, 1, 1, FALSE },
    { 3, 128, 13, 15, 128, 1, 1, TRUE },    /* the longer chunks of wide layers */
  };

  for (guint ti = 0; ti < G_N_ELEMENTS (threads); ti++)
    {
      g_autoptr(GraftBackend) cpu = open_cpu (threads[ti]);
      g_autoptr(GRand) rand = g_rand_new_with_seed (900 + threads[ti]);
      for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
        {
          Case c = { 0 };

          graft_conv2d_params_init (&c.p);
          c.p.pad_h = cases[i].pad_h;
          c.p.pad_w = cases[i].pad_w;
          g_assert_true (make_case (&c, cases[i].n, cases[i].c_in, cases[i].h, cases[i].w,
                                    cases[i].c_out, 3, 3, 1, cases[i].bias));
          check_case (cpu, rand, &c);
        }
    }
}

/* The weight gradient is summed per worker thread and the sums added at the end; the
 * tiles each worker sums are fixed, so repeated runs give the same bits (training that
 * replays a step must match training op by op). Checked through im2col and Winograd at
 * three threads, over runs whose scheduling differs. */
static void
test_reproducible (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu (3);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234);
  const guint sizes[][2] = { { 24, 9 }, { 16, 20 } };   /* channels, plane: im2col, Winograd */

  for (guint si = 0; si < G_N_ELEMENTS (sizes); si++)
    {
      g_autoptr(GError) error = NULL;
      Case c = { 0 };
      g_autofree float *x = NULL, *w = NULL, *dy = NULL, *first = NULL;
      g_autoptr(GraftTensor) tx = NULL, tw = NULL, tdy = NULL, tdw = NULL;

      graft_conv2d_params_init (&c.p);
      c.p.pad_h = c.p.pad_w = 1;
      g_assert_true (make_case (&c, 12, sizes[si][0], sizes[si][1], sizes[si][1], sizes[si][0],
                                3, 3, 1, FALSE));
      x = graft_test_random (rand, n_of (c.in));
      w = graft_test_random (rand, n_of (c.weight));
      dy = graft_test_random (rand, n_of (c.out));
      tx = graft_test_tensor (cpu, 4, c.in, x);
      tw = graft_test_tensor (cpu, 4, c.weight, w);
      tdy = graft_test_tensor (cpu, 4, c.out, dy);
      tdw = graft_test_tensor (cpu, 4, c.weight, NULL);
      for (guint run = 0; run < 8; run++)
        {
          g_autofree float *dw = NULL;

          g_assert_true (graft_op_conv2d_backward (tx, tw, tdy, &c.p, NULL, tdw, NULL, &error));
          g_assert_no_error (error);
          dw = graft_test_download (tdw);
          if (first == NULL)
            first = g_steal_pointer (&dw);
          else
            g_assert_cmpmem (dw, n_of (c.weight) * sizeof (float), first, n_of (c.weight) * sizeof (float));
        }
    }
}

static double
loss_of (GraftTensor  *ty,
         const float  *r)
{
  g_autofree float *y = graft_test_download (ty);
  double sum = 0.0;

  for (gsize i = 0; i < graft_tensor_get_n_elements (ty); i++)
    sum += (double) y[i] * r[i];
  return sum;
}

/* d/dv of loss = sum (conv2d (x, w, b) * r) by central differences of the op's own
 * forward pass, at a few entries of x, w and b, against the backward pass with dy = r.
 * The loss is linear in each operand, so the quotient has no truncation error; its
 * rounding error is ~eps * |loss| / step, well under 1e-3 with steps of 0.05. */
static void
test_finite_differences (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  const guint groups[] = { 1, 2, 6 };

  g_assert_no_error (error);
  for (guint gi = 0; gi < G_N_ELEMENTS (groups); gi++)
    {
      Case c = { 0 };
      g_autofree float *x = NULL, *w = NULL, *b = NULL, *r = NULL;
      g_autofree float *dx = NULL, *dw = NULL, *db = NULL;
      g_autoptr(GraftTensor) tx = NULL, tw = NULL, tb = NULL, ty = NULL, tr = NULL;
      g_autoptr(GraftTensor) tdx = NULL, tdw = NULL, tdb = NULL;
      float *operands[3];
      float *grads[3];
      GraftTensor *tensors[3];
      const float step = 0.05f;

      graft_conv2d_params_init (&c.p);
      c.p.stride_h = 2;
      c.p.pad_h = 1;
      c.p.pad_w = 2;
      c.p.dilation_w = 2;
      g_assert_true (make_case (&c, 2, 6, 7, 8, 6, 3, 3, groups[gi], TRUE));
      x = graft_test_random (rand, n_of (c.in));
      w = graft_test_random (rand, n_of (c.weight));
      b = graft_test_random (rand, c.out[1]);
      r = graft_test_random (rand, n_of (c.out));
      tx = graft_test_tensor (cpu, 4, c.in, x);
      tw = graft_test_tensor (cpu, 4, c.weight, w);
      tb = graft_test_tensor (cpu, 1, &c.out[1], b);
      ty = graft_test_tensor (cpu, 4, c.out, NULL);
      tr = graft_test_tensor (cpu, 4, c.out, r);
      tdx = graft_test_tensor (cpu, 4, c.in, NULL);
      tdw = graft_test_tensor (cpu, 4, c.weight, NULL);
      tdb = graft_test_tensor (cpu, 1, &c.out[1], NULL);
      g_assert_true (graft_op_conv2d_backward (tx, tw, tr, &c.p, tdx, tdw, tdb, &error));
      g_assert_no_error (error);
      dx = graft_test_download (tdx);
      dw = graft_test_download (tdw);
      db = graft_test_download (tdb);

      operands[0] = x; operands[1] = w; operands[2] = b;
      grads[0] = dx; grads[1] = dw; grads[2] = db;
      tensors[0] = tx; tensors[1] = tw; tensors[2] = tb;
      for (guint o = 0; o < 3; o++)
        for (guint trial = 0; trial < 6; trial++)
          {
            gsize n = graft_tensor_get_n_elements (tensors[o]);
            gsize i = (gsize) g_rand_int_range (rand, 0, (gint32) n);
            float saved = operands[o][i];
            double plus, minus;

            operands[o][i] = saved + step;
            graft_tensor_upload (tensors[o], operands[o], n, &error);
            g_assert_true (graft_op_conv2d (tx, tw, tb, &c.p, ty, &error));
            plus = loss_of (ty, r);
            operands[o][i] = saved - step;
            graft_tensor_upload (tensors[o], operands[o], n, &error);
            g_assert_true (graft_op_conv2d (tx, tw, tb, &c.p, ty, &error));
            minus = loss_of (ty, r);
            operands[o][i] = saved;
            graft_tensor_upload (tensors[o], operands[o], n, &error);
            g_assert_no_error (error);

            g_assert_cmpfloat (fabs ((plus - minus) / (2.0 * step) - grads[o][i]), <=, 1e-3);
          }
    }
}

/* PyTorch's output sizes, including padding larger than half the kernel. */
static void
test_output_shape (void)
{
  static const struct { gsize size, k; guint s, pad, d; gsize want; } cases[] = {
    { 224, 7, 2, 3, 1, 112 }, { 56, 3, 1, 1, 1, 56 }, { 56, 1, 2, 0, 1, 28 },
    { 7, 3, 2, 1, 2, 3 },     { 5, 3, 1, 4, 1, 11 },  { 3, 3, 3, 0, 1, 1 },
    { 8, 3, 3, 0, 2, 2 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      GraftConv2dParams p;
      gsize in[4] = { 2, 6, cases[i].size, 9 }, weight[4] = { 4, 3, cases[i].k, 3 }, out[4];

      graft_conv2d_params_init (&p);
      p.stride_h = cases[i].s;
      p.pad_h = cases[i].pad;
      p.dilation_h = cases[i].d;
      p.groups = 2;
      g_assert_true (graft_conv2d_output_shape (in, weight, &p, out, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (out[0], ==, 2);
      g_assert_cmpuint (out[1], ==, 4);
      g_assert_cmpuint (out[2], ==, cases[i].want);
      g_assert_cmpuint (out[3], ==, 7);
    }
}

static void
expect_error (gboolean     ok,
              GError      *error,
              GQuark       domain,
              gint         code,
              const char  *fragment)
{
  g_assert_false (ok);
  g_assert_error (error, domain, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, fragment));
}

/* Wrong shapes are refused with messages naming the tensor and the shape expected. */
static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  gsize xs[4] = { 2, 4, 8, 8 }, ws[4] = { 6, 2, 3, 3 }, ys[4] = { 2, 6, 6, 6 };
  gsize bad_ws[4] = { 6, 4, 3, 3 }, bad_ys[4] = { 2, 6, 8, 8 }, bs = 6, bad_bs = 4;
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 4, xs, NULL);
  g_autoptr(GraftTensor) w = graft_test_tensor (cpu, 4, ws, NULL);
  g_autoptr(GraftTensor) bad_w = graft_test_tensor (cpu, 4, bad_ws, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 4, ys, NULL);
  g_autoptr(GraftTensor) bad_y = graft_test_tensor (cpu, 4, bad_ys, NULL);
  g_autoptr(GraftTensor) b = graft_test_tensor (cpu, 1, &bs, NULL);
  g_autoptr(GraftTensor) bad_b = graft_test_tensor (cpu, 1, &bad_bs, NULL);
  GraftConv2dParams p;
  gboolean ok;

  g_assert_no_error (error);
  graft_tensor_set_name (w, "conv1.weight");
  graft_tensor_set_name (bad_w, "conv1.weight");
  graft_tensor_set_name (bad_y, "conv1.out");
  graft_tensor_set_name (bad_b, "conv1.bias");
  graft_conv2d_params_init (&p);
  p.groups = 2;

  ok = graft_op_conv2d (x, w, b, &p, y, &error);
  g_assert_no_error (error);
  g_assert_true (ok);

  ok = graft_op_conv2d (x, bad_w, b, &p, y, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "conv1.weight");
  g_clear_error (&error);

  ok = graft_op_conv2d (x, w, b, &p, bad_y, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "[2, 6, 6, 6]");
  g_clear_error (&error);

  ok = graft_op_conv2d (x, w, bad_b, &p, y, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "conv1.bias");
  g_clear_error (&error);

  ok = graft_op_conv2d_backward (x, w, bad_y, &p, NULL, NULL, b, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "conv1.out");
  g_clear_error (&error);

  ok = graft_op_conv2d_backward (x, w, y, &p, x, NULL, NULL, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "share storage");
  g_clear_error (&error);

  p.groups = 3;
  ok = graft_op_conv2d (x, w, b, &p, y, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "groups");
  g_clear_error (&error);

  p.groups = 2;
  p.dilation_h = 4;
  ok = graft_op_conv2d (x, w, b, &p, y, &error);
  expect_error (ok, error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE, "empty");
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cpu/conv/output-shape", test_output_shape);
  g_test_add_func ("/cpu/conv/random", test_random);
  g_test_add_func ("/cpu/conv/networks", test_networks);
  g_test_add_func ("/cpu/conv/tiling", test_tiling);
  g_test_add_func ("/cpu/conv/winograd", test_winograd);
  g_test_add_func ("/cpu/conv/reproducible", test_reproducible);
  g_test_add_func ("/cpu/conv/finite-differences", test_finite_differences);
  g_test_add_func ("/cpu/conv/errors", test_errors);

  return g_test_run ();
}
