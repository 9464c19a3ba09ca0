/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Pooling on the CPU backend against plain double-precision loops written from PyTorch's
 * definitions, on random shapes (odd sizes, strides, padding, dilation, ceil_mode,
 * count_include_pad, ties), plus finite-difference checks of every backward pass. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

/* Average pooling sums at most a few dozen values: float32 against double differs by a
 * few ulps of the result, ~1e-7 relative; 1e-5 leaves a wide margin while a window off
 * by one row or a wrong divisor gives errors of 1e-2 or more. */
#define TOLERANCE 1e-5

typedef enum { KIND_MAX, KIND_AVG, KIND_ADAPTIVE } Kind;

typedef struct {
  Kind              kind;
  gsize             in[4];
  gsize             out[4];
  GraftPool2dParams p;
} Case;

/* ---- the reference ---------------------------------------------------------------- */

/* PyTorch's pooling_output_shape, written out again; 0 for an empty output. */
static gint64
ref_out_size (gint64   size,
              gint64   k,
              gint64   s,
              gint64   pad,
              gint64   d,
              gboolean ceil_mode)
{
  gint64 num = size + 2 * pad - d * (k - 1) - 1 + (ceil_mode ? s - 1 : 0);
  gint64 o = (gint64) floor ((double) num / (double) s) + 1;

  if (ceil_mode && (o - 1) * s >= size + pad)
    o--;
  return MAX (o, 0);
}

static void
ref_window (const Case *c,
            guint       axis,   /* 0: rows, 1: columns */
            gint64      o,
            gint64     *start,
            gint64     *end,
            gint64     *count)
{
  gint64 size = (gint64) c->in[2 + axis], n = (gint64) c->out[2 + axis];

  if (c->kind == KIND_ADAPTIVE)
    {
      *start = (gint64) floor ((double) (o * size) / (double) n);
      *end = (gint64) ceil ((double) ((o + 1) * size) / (double) n);
      *count = *end - *start;
      return;
    }
  else
    {
      gint64 k = axis == 0 ? c->p.kernel_h : c->p.kernel_w;
      gint64 s = axis == 0 ? c->p.stride_h : c->p.stride_w;
      gint64 pad = axis == 0 ? c->p.pad_h : c->p.pad_w;
      gint64 lo = o * s - pad, hi = MIN (lo + k, size + pad);

      *start = MAX (lo, 0);
      *end = MIN (hi, size);
      *count = c->p.count_include_pad ? hi - lo : *end - *start;
    }
}

/* Forward in double; for max pooling also the argmax positions (-1: none). */
static void
ref_forward (const Case  *c,
             const float *x,
             double      *out,
             gint64      *argmax)
{
  gsize planes = c->in[0] * c->in[1], H = c->in[2], W = c->in[3];
  gsize OH = c->out[2], OW = c->out[3];

  for (gsize pl = 0; pl < planes; pl++)
    for (gsize oh = 0; oh < OH; oh++)
      for (gsize ow = 0; ow < OW; ow++)
        {
          gsize o = (pl * OH + oh) * OW + ow;
          const float *xp = x + pl * H * W;

          if (c->kind == KIND_MAX)
            {
              double best = -INFINITY;
              gint64 best_i = -1;

              for (gint64 kh = 0; kh < c->p.kernel_h; kh++)
                for (gint64 kw = 0; kw < c->p.kernel_w; kw++)
                  {
                    gint64 h = (gint64) oh * c->p.stride_h - c->p.pad_h + kh * c->p.dilation_h;
                    gint64 w = (gint64) ow * c->p.stride_w - c->p.pad_w + kw * c->p.dilation_w;
                    if (h < 0 || w < 0 || h >= (gint64) H || w >= (gint64) W)
                      continue;
                    /* strictly greater: the first maximum in scan order stays; a NaN
                     * beats everything (the last NaN in scan order) */
                    if (best_i < 0 || xp[h * W + w] > best || isnan (xp[h * W + w]))
                      {
                        best = xp[h * W + w];
                        best_i = h * (gint64) W + w;
                      }
                  }
              out[o] = best;
              argmax[o] = best_i;
            }
          else
            {
              gint64 h0, h1, ch, w0, w1, cw;
              double sum = 0.0;

              ref_window (c, 0, (gint64) oh, &h0, &h1, &ch);
              ref_window (c, 1, (gint64) ow, &w0, &w1, &cw);
              for (gint64 h = h0; h < h1; h++)
                for (gint64 w = w0; w < w1; w++)
                  sum += xp[h * W + w];
              out[o] = (h0 >= h1 || w0 >= w1) ? 0.0 : sum / (double) (ch * cw);
            }
        }
}

static void
ref_backward (const Case   *c,
              const float  *grad_out,
              const gint64 *argmax,
              double       *grad_in)
{
  gsize planes = c->in[0] * c->in[1], H = c->in[2], W = c->in[3];
  gsize OH = c->out[2], OW = c->out[3];

  for (gsize i = 0; i < planes * H * W; i++)
    grad_in[i] = 0.0;

  for (gsize pl = 0; pl < planes; pl++)
    for (gsize oh = 0; oh < OH; oh++)
      for (gsize ow = 0; ow < OW; ow++)
        {
          gsize o = (pl * OH + oh) * OW + ow;
          double *gp = grad_in + pl * H * W;

          if (c->kind == KIND_MAX)
            {
              if (argmax[o] >= 0)
                gp[argmax[o]] += grad_out[o];
            }
          else
            {
              gint64 h0, h1, ch, w0, w1, cw;

              ref_window (c, 0, (gint64) oh, &h0, &h1, &ch);
              ref_window (c, 1, (gint64) ow, &w0, &w1, &cw);
              for (gint64 h = h0; h < h1; h++)
                for (gint64 w = w0; w < w1; w++)
                  gp[h * W + w] += grad_out[o] / (double) (ch * cw);
            }
        }
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
  return sqrt (diff) / MAX (sqrt (norm), 1e-30);
}

static char *
describe (const Case *c)
{
  return g_strdup_printf ("%s in [%zu,%zu,%zu,%zu] out %zux%zu k %ux%u s %ux%u p %ux%u d %ux%u ceil %d cip %d",
                          c->kind == KIND_MAX ? "max" : c->kind == KIND_AVG ? "avg" : "adaptive",
                          c->in[0], c->in[1], c->in[2], c->in[3], c->out[2], c->out[3],
                          c->p.kernel_h, c->p.kernel_w, c->p.stride_h, c->p.stride_w,
                          c->p.pad_h, c->p.pad_w, c->p.dilation_h, c->p.dilation_w,
                          c->p.ceil_mode, c->p.count_include_pad);
}

/* ---- running the ops ---------------------------------------------------------------- */

static float *
run_forward (GraftBackend *cpu,
             const Case   *c,
             const float  *x,
             float       **indices)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 4, c->in, x);
  g_autoptr(GraftTensor) tout = graft_test_tensor (cpu, 4, c->out, NULL);
  g_autoptr(GraftTensor) tidx = c->kind == KIND_MAX ? graft_test_tensor (cpu, 4, c->out, NULL) : NULL;

  if (c->kind == KIND_MAX)
    graft_op_max_pool2d (tx, &c->p, tout, indices != NULL ? tidx : NULL, &error);
  else if (c->kind == KIND_AVG)
    graft_op_avg_pool2d (tx, &c->p, tout, &error);
  else
    graft_op_adaptive_avg_pool2d (tx, tout, &error);
  g_assert_no_error (error);

  if (indices != NULL)
    *indices = tidx != NULL ? graft_test_download (tidx) : NULL;
  return graft_test_download (tout);
}

static float *
run_backward (GraftBackend *cpu,
              const Case   *c,
              const float  *grad_out,
              const float  *indices)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tgo = graft_test_tensor (cpu, 4, c->out, grad_out);
  g_autoptr(GraftTensor) tidx = indices != NULL ? graft_test_tensor (cpu, 4, c->out, indices) : NULL;
  g_autoptr(GraftTensor) tgi = graft_test_tensor (cpu, 4, c->in, NULL);
  g_autofree float *poison = g_new (float, graft_tensor_get_n_elements (tgi));

  /* grad_in is overwritten, not accumulated into: start it as NaN. */
  for (gsize i = 0; i < graft_tensor_get_n_elements (tgi); i++)
    poison[i] = NAN;
  g_assert_true (graft_tensor_upload (tgi, poison, graft_tensor_get_n_elements (tgi), &error));

  if (c->kind == KIND_MAX)
    graft_op_max_pool2d_backward (tgo, tidx, &c->p, tgi, &error);
  else if (c->kind == KIND_AVG)
    graft_op_avg_pool2d_backward (tgo, &c->p, tgi, &error);
  else
    graft_op_adaptive_avg_pool2d_backward (tgo, tgi, &error);
  g_assert_no_error (error);
  return graft_test_download (tgi);
}

/* L(x) = sum(out(x) * r) in double. */
static double
loss (GraftBackend *cpu,
      const Case   *c,
      const float  *x,
      const float  *r)
{
  g_autofree float *out = run_forward (cpu, c, x, NULL);
  gsize n = c->out[0] * c->out[1] * c->out[2] * c->out[3];
  double sum = 0.0;

  for (gsize i = 0; i < n; i++)
    sum += (double) out[i] * r[i];
  return sum;
}

/* Inputs: max pooling either has many ties (values from {-1, 0, 1}) or, for finite
 * differences, distinct values a multiple of 1/4 apart so that a step of 1/16 never
 * changes a window's argmax; all these values and steps are exact in float32. */
static float *
make_input (GRand      *rand,
            const Case *c,
            gboolean    ties)
{
  gsize n = c->in[0] * c->in[1] * c->in[2] * c->in[3];
  float *x;

  if (c->kind != KIND_MAX)
    return graft_test_random (rand, n);

  x = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    x[i] = ties ? (float) g_rand_int_range (rand, -1, 2) : (float) i * 0.25f - (float) n * 0.125f;
  if (!ties)
    for (gsize i = n; i > 1; i--)
      {
        gsize j = g_rand_int_range (rand, 0, (gint32) i);
        float t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
      }
  return x;
}

static void
check_case (GraftBackend *cpu,
            GRand        *rand,
            const Case   *c,
            gboolean      ties)
{
  g_autofree char *what = describe (c);
  gsize n_in = c->in[0] * c->in[1] * c->in[2] * c->in[3];
  gsize n_out = c->out[0] * c->out[1] * c->out[2] * c->out[3];
  g_autofree float *x = make_input (rand, c, ties);
  g_autofree float *r = graft_test_random (rand, n_out);
  g_autofree double *want = g_new (double, n_out);
  g_autofree gint64 *argmax = g_new (gint64, n_out);
  g_autofree double *want_grad = g_new (double, n_in);
  g_autofree float *indices = NULL;
  g_autofree float *got = run_forward (cpu, c, x, &indices);
  g_autofree float *grad = NULL;
  double err;

  ref_forward (c, x, want, argmax);
  if (c->kind == KIND_MAX)
    {
      /* Selection is exact: values and positions must be identical. */
      for (gsize i = 0; i < n_out; i++)
        {
          if (got[i] != (float) want[i] || indices[i] != (float) argmax[i])
            g_error ("%s: output %zu is %g at %g, expected %g at %" G_GINT64_FORMAT,
                     what, i, got[i], indices[i], want[i], argmax[i]);
        }
    }
  else if ((err = rel_error (got, want, n_out)) > TOLERANCE)
    g_error ("%s: forward error %g", what, err);

  grad = run_backward (cpu, c, r, indices);
  ref_backward (c, r, argmax, want_grad);
  /* Overlapping windows add a few float32 gradients per input: same margin. */
  if ((err = rel_error (grad, want_grad, n_in)) > TOLERANCE)
    g_error ("%s: backward error %g", what, err);

  if (ties)
    return;

  /* Finite differences on a few inputs. Every op here is piecewise linear and the step
   * never crosses a kink, so the central difference is exact up to rounding of the
   * outputs (~1e-7 relative, divided by the step 1/16): 1e-4 of the gradient's scale. */
  for (guint t = 0; t < 12; t++)
    {
      gsize i = g_rand_int_range (rand, 0, (gint32) n_in);
      const float step = 0.0625f;
      float saved = x[i];
      double lp, lm, fd;

      x[i] = saved + step;
      lp = loss (cpu, c, x, r);
      x[i] = saved - step;
      lm = loss (cpu, c, x, r);
      x[i] = saved;
      fd = (lp - lm) / (2.0 * step);
      if (fabs (fd - grad[i]) > 1e-4 * MAX (1.0, fabs (fd)))
        g_error ("%s: d/dx[%zu] is %g by finite differences, backward gave %g", what, i, fd, grad[i]);
    }
}

/* A random valid case of @kind; FALSE when the draw gave an empty output. */
static gboolean
random_case (GRand *rand,
             Kind   kind,
             Case  *c)
{
  g_autoptr(GError) error = NULL;
  gboolean ok;
  gint64 oh, ow;

  c->kind = kind;
  c->in[0] = g_rand_int_range (rand, 1, 3);
  c->in[1] = g_rand_int_range (rand, 1, 4);
  c->in[2] = g_rand_int_range (rand, 1, 14);
  c->in[3] = g_rand_int_range (rand, 1, 14);

  if (kind == KIND_ADAPTIVE)
    {
      c->out[0] = c->in[0];
      c->out[1] = c->in[1];
      /* smaller, equal and larger than the input, bins that overlap and that do not */
      c->out[2] = g_rand_int_range (rand, 1, (gint32) c->in[2] + 3);
      c->out[3] = g_rand_int_range (rand, 1, (gint32) c->in[3] + 3);
      return TRUE;
    }

  graft_pool2d_params_init (&c->p, g_rand_int_range (rand, 1, 5), g_rand_int_range (rand, 1, 5));
  c->p.stride_h = g_rand_int_range (rand, 1, 4);
  c->p.stride_w = g_rand_int_range (rand, 1, 4);
  c->p.pad_h = g_rand_int_range (rand, 0, (gint32) c->p.kernel_h / 2 + 1);
  c->p.pad_w = g_rand_int_range (rand, 0, (gint32) c->p.kernel_w / 2 + 1);
  if (kind == KIND_MAX)
    {
      c->p.dilation_h = g_rand_int_range (rand, 1, 3);
      c->p.dilation_w = g_rand_int_range (rand, 1, 3);
    }
  c->p.ceil_mode = g_rand_boolean (rand);
  c->p.count_include_pad = g_rand_boolean (rand);

  oh = ref_out_size (c->in[2], c->p.kernel_h, c->p.stride_h, c->p.pad_h, c->p.dilation_h, c->p.ceil_mode);
  ow = ref_out_size (c->in[3], c->p.kernel_w, c->p.stride_w, c->p.pad_w, c->p.dilation_w, c->p.ceil_mode);
  ok = graft_pool2d_output_shape (c->in, &c->p, c->out, &error);

  /* The engine's shape must agree with the reference, including when it is empty. */
  if (oh < 1 || ow < 1)
    {
      g_assert_false (ok);
      g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
      return FALSE;
    }
  g_assert_no_error (error);
  g_assert_cmpuint (c->out[0], ==, c->in[0]);
  g_assert_cmpuint (c->out[1], ==, c->in[1]);
  g_assert_cmpint (c->out[2], ==, oh);
  g_assert_cmpint (c->out[3], ==, ow);
  return TRUE;
}

static void
test_random (gconstpointer data)
{
  Kind kind = GPOINTER_TO_INT (data);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (1234 + kind);
  guint done = 0;

  g_assert_no_error (error);
  for (guint t = 0; done < 60 && t < 1000; t++)
    {
      Case c = { 0 };

      if (!random_case (rand, kind, &c))
        continue;
      check_case (cpu, rand, &c, FALSE);
      if (kind == KIND_MAX)
        check_case (cpu, rand, &c, TRUE);
      done++;
    }
  g_assert_cmpuint (done, ==, 60);
}

/* Sizes PyTorch gives, including the ceil_mode rule that drops a last window starting
 * in the right padding (5 with kernel 3, stride 3, padding 1: 2, not 3; likewise 4 with kernel 4, stride 3,
 * padding 2). */
static void
test_output_shape (void)
{
  static const struct { guint size, k, s, pad, d; gboolean ceil; guint want; } cases[] = {
    { 5, 2, 2, 0, 1, FALSE, 2 }, { 5, 2, 2, 0, 1, TRUE, 3 },
    { 5, 3, 3, 1, 1, TRUE, 2 },  { 5, 3, 3, 1, 1, FALSE, 2 },
    { 112, 3, 2, 1, 1, FALSE, 56 }, { 7, 3, 2, 1, 2, FALSE, 3 },
    { 6, 3, 2, 1, 1, TRUE, 4 },  { 1, 1, 1, 0, 1, TRUE, 1 },
    { 4, 4, 3, 2, 1, TRUE, 2 },  { 4, 4, 3, 2, 1, FALSE, 2 },
    { 6, 4, 3, 2, 1, TRUE, 3 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      GraftPool2dParams p;
      gsize in[4] = { 2, 3, cases[i].size, 9 }, out[4];

      graft_pool2d_params_init (&p, cases[i].k, 3);
      p.stride_h = cases[i].s;
      p.pad_h = cases[i].pad;
      p.dilation_h = cases[i].d;
      p.ceil_mode = cases[i].ceil;
      g_assert_true (graft_pool2d_output_shape (in, &p, out, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (out[2], ==, cases[i].want);
      g_assert_cmpuint (out[3], ==, 3);
    }
}

/* Max pooling propagates NaN as PyTorch does, in the windows inside the plane (which
 * take a vectorised path) as at its edges: values and positions equal the reference's. */
static void
test_max_nan (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (31);
  const guint strides[] = { 1, 2 };

  g_assert_no_error (error);
  for (guint si = 0; si < G_N_ELEMENTS (strides); si++)
    {
      Case c = { .kind = KIND_MAX, .in = { 2, 3, 17, 23 } };
      gsize n_in = 2 * 3 * 17 * 23, n_out, nans = 0;
      g_autofree float *x = graft_test_random (rand, n_in);
      g_autofree float *indices = NULL, *got = NULL;
      g_autofree double *want = NULL;
      g_autofree gint64 *argmax = NULL;

      graft_pool2d_params_init (&c.p, 3, 3);
      c.p.stride_h = c.p.stride_w = strides[si];
      c.p.pad_h = c.p.pad_w = 1;
      g_assert_true (graft_pool2d_output_shape (c.in, &c.p, c.out, &error));
      g_assert_no_error (error);
      for (gsize i = 0; i < n_in; i++)
        if (g_rand_int_range (rand, 0, 20) == 0)
          {
            x[i] = NAN;
            nans++;
          }
      g_assert_cmpuint (nans, >, 10);
      n_out = c.out[0] * c.out[1] * c.out[2] * c.out[3];
      want = g_new (double, n_out);
      argmax = g_new (gint64, n_out);
      ref_forward (&c, x, want, argmax);
      got = run_forward (cpu, &c, x, &indices);
      for (gsize i = 0; i < n_out; i++)
        if (isnan (got[i]) != isnan (want[i]) || (!isnan (got[i]) && got[i] != (float) want[i]) ||
            indices[i] != (float) argmax[i])
          g_error ("stride %u: output %zu is %g at %g, expected %g at %" G_GINT64_FORMAT,
                   strides[si], i, got[i], indices[i], want[i], argmax[i]);
    }
}

/* Global average pooling of a ResNet-sized feature map, checked against double sums. */
static void
test_global (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  Case c = { .kind = KIND_ADAPTIVE, .in = { 4, 512, 7, 7 }, .out = { 4, 512, 1, 1 } };
  g_autofree float *x = graft_test_random (rand, 4 * 512 * 49);
  g_autofree float *got = run_forward (cpu, &c, x, NULL);
  g_autofree double *want = g_new (double, 4 * 512);

  g_assert_no_error (error);
  ref_forward (&c, x, want, NULL);
  g_assert_cmpfloat (rel_error (got, want, 4 * 512), <=, TOLERANCE);
}

/* Large enough that the planes are split across the worker threads. */
static void
test_threads (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  Case c = { .in = { 2, 24, 57, 43 } };

  g_assert_no_error (error);
  for (Kind kind = KIND_MAX; kind <= KIND_ADAPTIVE; kind++)
    {
      c.kind = kind;
      graft_pool2d_params_init (&c.p, 3, 3);
      c.p.stride_h = c.p.stride_w = 2;
      c.p.pad_h = c.p.pad_w = 1;
      c.p.ceil_mode = TRUE;
      c.p.count_include_pad = FALSE;
      if (kind == KIND_ADAPTIVE)
        {
          c.out[0] = c.in[0];
          c.out[1] = c.in[1];
          c.out[2] = 5;
          c.out[3] = 7;
        }
      else
        g_assert_true (graft_pool2d_output_shape (c.in, &c.p, c.out, &error));
      check_case (cpu, rand, &c, TRUE);
    }
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  gsize s3[3] = { 3, 8, 8 }, s4[4] = { 1, 3, 8, 8 }, bad[4] = { 1, 3, 3, 3 };
  g_autoptr(GraftTensor) x3 = graft_test_tensor (cpu, 3, s3, NULL);
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 4, s4, NULL);
  g_autoptr(GraftTensor) out = graft_test_tensor (cpu, 4, bad, NULL);
  GraftPool2dParams p;

  graft_tensor_set_name (x3, "features");
  graft_tensor_set_name (out, "pooled");
  graft_pool2d_params_init (&p, 2, 2);

  g_assert_false (graft_op_max_pool2d (x3, &p, out, NULL, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "features"));
  g_clear_error (&error);

  /* 8 x 8 with a 2 x 2 kernel gives 4 x 4, not 3 x 3 */
  g_assert_false (graft_op_avg_pool2d (x, &p, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "pooled"));
  g_assert_nonnull (strstr (error->message, "[1, 3, 4, 4]"));
  g_clear_error (&error);

  p.pad_h = 2;
  g_assert_false (graft_op_max_pool2d (x, &p, out, NULL, &error));
  g_assert_nonnull (strstr (error->message, "padding"));
  g_clear_error (&error);

  graft_pool2d_params_init (&p, 3, 3);
  p.dilation_w = 2;
  g_assert_false (graft_op_avg_pool2d (x, &p, out, &error));
  g_assert_nonnull (strstr (error->message, "dilation"));
  g_clear_error (&error);

  graft_pool2d_params_init (&p, 9, 9);
  g_assert_false (graft_op_max_pool2d (x, &p, out, NULL, &error));
  g_assert_nonnull (strstr (error->message, "empty"));
  g_clear_error (&error);

  g_assert_false (graft_op_adaptive_avg_pool2d (x, x, &error));
  g_assert_nonnull (strstr (error->message, "in place"));
  g_clear_error (&error);

  g_assert_false (graft_op_adaptive_avg_pool2d (x, x3, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cpu/pool/output-shape", test_output_shape);
  g_test_add_data_func ("/cpu/pool/max", GINT_TO_POINTER (KIND_MAX), test_random);
  g_test_add_data_func ("/cpu/pool/avg", GINT_TO_POINTER (KIND_AVG), test_random);
  g_test_add_data_func ("/cpu/pool/adaptive", GINT_TO_POINTER (KIND_ADAPTIVE), test_random);
  g_test_add_func ("/cpu/pool/max-nan", test_max_nan);
  g_test_add_func ("/cpu/pool/global", test_global);
  g_test_add_func ("/cpu/pool/threads", test_threads);
  g_test_add_func ("/cpu/pool/errors", test_errors);

  return g_test_run ();
}
