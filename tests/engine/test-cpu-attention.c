/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The batched transpose and multi-head attention on the CPU backend against plain double
 * loops written from the definitions (torch's multi_head_attention_forward with
 * batch_first, before out_proj), on odd sizes, one token, one head; the backward pass
 * also against finite differences of the forward pass. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

static GraftBackend *cpu;

/* Sums of at most a few dozen float32 products and one exp per value, against double:
 * the normalised error is a few 2^-24; 1e-5 leaves room and a wrong head offset, scale
 * or softmax axis still gives errors of order 1e-1 or more. */
#define LOOP_TOLERANCE 1e-5

typedef struct {
  gsize n, l, e;
  guint heads;
} Case;

static const Case cases[] = {
  { 2, 5, 12, 3 },
  { 3, 1, 6, 2 },    /* one token: every weight is 1 */
  { 2, 7, 8, 1 },    /* one head */
  { 1, 4, 10, 5 },   /* heads of two columns */
  { 4, 33, 48, 3 },  /* large enough to be split across the worker threads */
};

static double
rel_error (const float  *got,
           const double *want,
           gsize         n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = (double) got[i] - want[i];
      diff += d * d;
      norm += want[i] * want[i];
    }
  return norm == 0.0 ? sqrt (diff) : sqrt (diff / norm);
}

/* The forward pass and, when dout is not NULL, the backward pass, in double. */
static void
reference (const Case   *c,
           const float  *qkv,
           const float  *dout,
           double       *probs,
           double       *out,
           double       *dqkv)
{
  gsize l = c->l, e = c->e, d = e / c->heads;
  double scale = 1.0 / sqrt ((double) d);
  g_autofree double *dp = g_new (double, l * l);

  for (gsize n = 0; n < c->n; n++)
    for (gsize h = 0; h < c->heads; h++)
      {
        const float *base = qkv + n * l * 3 * e + h * d;
        double *p = probs + (n * c->heads + h) * l * l;

#define Q(i, t) ((double) base[(i) * 3 * e + (t)])
#define K(i, t) ((double) base[(i) * 3 * e + e + (t)])
#define V(i, t) ((double) base[(i) * 3 * e + 2 * e + (t)])
        for (gsize i = 0; i < l; i++)
          {
            double max = -INFINITY, sum = 0.0;

            for (gsize j = 0; j < l; j++)
              {
                double s = 0.0;
                for (gsize t = 0; t < d; t++)
                  s += Q (i, t) * K (j, t);
                p[i * l + j] = s * scale;
                max = MAX (max, p[i * l + j]);
              }
            for (gsize j = 0; j < l; j++)
              sum += exp (p[i * l + j] - max);
            for (gsize j = 0; j < l; j++)
              p[i * l + j] = exp (p[i * l + j] - max) / sum;
            for (gsize t = 0; t < d; t++)
              {
                double o = 0.0;
                for (gsize j = 0; j < l; j++)
                  o += p[i * l + j] * V (j, t);
                out[(n * l + i) * e + h * d + t] = o;
              }
          }

        if (dout == NULL)
          continue;

        /* dP[i, j] = dO_i . V_j; dS = P (dP - sum_j dP P). */
        for (gsize i = 0; i < l; i++)
          {
            double dot = 0.0;

            for (gsize j = 0; j < l; j++)
              {
                double s = 0.0;
                for (gsize t = 0; t < d; t++)
                  s += (double) dout[(n * l + i) * e + h * d + t] * V (j, t);
                dp[i * l + j] = s;
                dot += s * p[i * l + j];
              }
            for (gsize j = 0; j < l; j++)
              dp[i * l + j] = p[i * l + j] * (dp[i * l + j] - dot);
          }
        for (gsize i = 0; i < l; i++)
          for (gsize t = 0; t < d; t++)
            {
              double dq = 0.0, dk = 0.0, dv = 0.0;

              for (gsize j = 0; j < l; j++)
                {
                  dq += dp[i * l + j] * K (j, t);
                  dk += dp[j * l + i] * Q (j, t);
                  dv += p[j * l + i] * (double) dout[(n * l + j) * e + h * d + t];
                }
              dqkv[(n * l + i) * 3 * e + h * d + t] = dq * scale;
              dqkv[(n * l + i) * 3 * e + e + h * d + t] = dk * scale;
              dqkv[(n * l + i) * 3 * e + 2 * e + h * d + t] = dv;
            }
#undef Q
#undef K
#undef V
      }
}

static void
test_attention_loops (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (31);

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const Case *c = &cases[k];
      gsize qkv_shape[3] = { c->n, c->l, 3 * c->e }, out_shape[3] = { c->n, c->l, c->e };
      gsize probs_shape[4] = { c->n, c->heads, c->l, c->l };
      gsize n_qkv = c->n * c->l * 3 * c->e, n_out = c->n * c->l * c->e;
      gsize n_probs = c->n * c->heads * c->l * c->l;
      g_autofree float *qkv = graft_test_random (rand, n_qkv);
      g_autofree float *dout = graft_test_random (rand, n_out);
      g_autofree double *want_probs = g_new (double, n_probs);
      g_autofree double *want_out = g_new (double, n_out);
      g_autofree double *want_dqkv = g_new (double, n_qkv);
      g_autoptr(GraftTensor) tqkv = NULL, tprobs = NULL, tout = NULL, tdout = NULL, tdqkv = NULL;
      g_autofree float *got_probs = NULL, *got_out = NULL, *got_dqkv = NULL;
      g_autoptr(GError) error = NULL;
      double err_probs, err_out, err_dqkv;

      /* Wider logits than uniform [-1, 1] inputs give, so softmax is far from flat. */
      for (gsize i = 0; i < n_qkv; i++)
        qkv[i] *= 2.5f;

      tqkv = graft_test_tensor (cpu, 3, qkv_shape, qkv);
      tprobs = graft_test_tensor (cpu, 4, probs_shape, NULL);
      tout = graft_test_tensor (cpu, 3, out_shape, NULL);
      tdout = graft_test_tensor (cpu, 3, out_shape, dout);
      tdqkv = graft_test_tensor (cpu, 3, qkv_shape, NULL);

      g_assert_true (graft_op_attention (tqkv, c->heads, tprobs, tout, &error));
      g_assert_no_error (error);
      g_assert_true (graft_op_attention_backward (tqkv, tprobs, tdout, c->heads, tdqkv, &error));
      g_assert_no_error (error);

      reference (c, qkv, dout, want_probs, want_out, want_dqkv);
      got_probs = graft_test_download (tprobs);
      got_out = graft_test_download (tout);
      got_dqkv = graft_test_download (tdqkv);
      err_probs = rel_error (got_probs, want_probs, n_probs);
      err_out = rel_error (got_out, want_out, n_out);
      err_dqkv = rel_error (got_dqkv, want_dqkv, n_qkv);
      g_test_message ("N=%" G_GSIZE_FORMAT " L=%" G_GSIZE_FORMAT " E=%" G_GSIZE_FORMAT
                      " heads=%u: probs %.3g, out %.3g, dqkv %.3g",
                      c->n, c->l, c->e, c->heads, err_probs, err_out, err_dqkv);
      g_assert_cmpfloat (err_probs, <, LOOP_TOLERANCE);
      g_assert_cmpfloat (err_out, <, LOOP_TOLERANCE);
      g_assert_cmpfloat (err_dqkv, <, LOOP_TOLERANCE);
    }
}

/* sum (out * dout) for the forward pass of @qkv, in double. */
static double
objective (GraftTensor *tqkv,
           GraftTensor *tprobs,
           GraftTensor *tout,
           guint        heads,
           const float *dout,
           gsize        n_out)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *out = NULL;
  double sum = 0.0;

  g_assert_true (graft_op_attention (tqkv, heads, tprobs, tout, &error));
  g_assert_no_error (error);
  out = graft_test_download (tout);
  for (gsize i = 0; i < n_out; i++)
    sum += (double) out[i] * dout[i];
  return sum;
}

/* Every entry of dqkv against a central difference of sum (out * dout) with step 1e-2.
 * The truncation error is step^2 / 6 times a third derivative of order 1 (~2e-5), and
 * the float32 forward pass leaves ~1e-7 relative noise on an objective of order 1,
 * i.e. ~1e-5 after dividing by 2 * step: the normalised error of the whole gradient is
 * then of order 1e-4. 2e-3 passes that with room, while a wrong sign, a missing scale
 * or the rowsum term left out gives errors above 1e-1. */
#define FD_STEP      1e-2f
#define FD_TOLERANCE 2e-3

static void
test_attention_gradient (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (32);
  const Case fd_cases[] = { { 2, 5, 12, 3 }, { 1, 6, 4, 1 }, { 2, 1, 6, 3 } };

  for (guint k = 0; k < G_N_ELEMENTS (fd_cases); k++)
    {
      const Case *c = &fd_cases[k];
      gsize qkv_shape[3] = { c->n, c->l, 3 * c->e }, out_shape[3] = { c->n, c->l, c->e };
      gsize probs_shape[4] = { c->n, c->heads, c->l, c->l };
      gsize n_qkv = c->n * c->l * 3 * c->e, n_out = c->n * c->l * c->e;
      g_autofree float *qkv = graft_test_random (rand, n_qkv);
      g_autofree float *dout = graft_test_random (rand, n_out);
      g_autofree double *numeric = g_new (double, n_qkv);
      g_autofree float *analytic = NULL;
      g_autoptr(GraftTensor) tqkv = graft_test_tensor (cpu, 3, qkv_shape, qkv);
      g_autoptr(GraftTensor) tprobs = graft_test_tensor (cpu, 4, probs_shape, NULL);
      g_autoptr(GraftTensor) tout = graft_test_tensor (cpu, 3, out_shape, NULL);
      g_autoptr(GraftTensor) tdout = graft_test_tensor (cpu, 3, out_shape, dout);
      g_autoptr(GraftTensor) tdqkv = graft_test_tensor (cpu, 3, qkv_shape, NULL);
      g_autoptr(GError) error = NULL;
      double err;

      for (gsize i = 0; i < n_qkv; i++)
        qkv[i] *= 2.0f;
      g_assert_true (graft_tensor_upload (tqkv, qkv, n_qkv, &error));
      g_assert_true (graft_op_attention (tqkv, c->heads, tprobs, tout, &error));
      g_assert_true (graft_op_attention_backward (tqkv, tprobs, tdout, c->heads, tdqkv, &error));
      g_assert_no_error (error);
      analytic = graft_test_download (tdqkv);

      for (gsize i = 0; i < n_qkv; i++)
        {
          float saved = qkv[i];
          double plus, minus;

          qkv[i] = saved + FD_STEP;
          g_assert_true (graft_tensor_upload (tqkv, qkv, n_qkv, &error));
          plus = objective (tqkv, tprobs, tout, c->heads, dout, n_out);
          qkv[i] = saved - FD_STEP;
          g_assert_true (graft_tensor_upload (tqkv, qkv, n_qkv, &error));
          minus = objective (tqkv, tprobs, tout, c->heads, dout, n_out);
          qkv[i] = saved;
          /* The step actually taken, as rounded to float. */
          numeric[i] = (plus - minus) / ((double) (saved + FD_STEP) - (double) (saved - FD_STEP));
        }
      g_assert_no_error (error);

      err = rel_error (analytic, numeric, n_qkv);
      g_test_message ("finite differences, N=%" G_GSIZE_FORMAT " L=%" G_GSIZE_FORMAT
                      " E=%" G_GSIZE_FORMAT " heads=%u: %.3g", c->n, c->l, c->e, c->heads, err);
      g_assert_cmpfloat (err, <, FD_TOLERANCE);
    }
}

static void
test_transpose (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (33);
  const gsize shapes[][3] = { { 3, 5, 7 }, { 1, 1, 9 }, { 2, 300, 257 } };

  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      gsize b = shapes[k][0], m = shapes[k][1], n = shapes[k][2];
      gsize s[3] = { b, m, n }, t[3] = { b, n, m };
      g_autofree float *x = graft_test_random (rand, b * m * n);
      g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 3, s, x);
      g_autoptr(GraftTensor) ty = graft_test_tensor (cpu, 3, t, NULL);
      g_autoptr(GraftTensor) tback = graft_test_tensor (cpu, 3, s, NULL);
      g_autofree float *y = NULL, *back = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (graft_op_transpose_last2 (tx, ty, &error));
      g_assert_no_error (error);
      y = graft_test_download (ty);
      for (gsize i = 0; i < b; i++)
        for (gsize r = 0; r < m; r++)
          for (gsize c = 0; c < n; c++)
            g_assert_cmpfloat (y[(i * n + c) * m + r], ==, x[(i * m + r) * n + c]);

      /* The backward pass is the same op: transposing back gives x bit for bit. */
      g_assert_true (graft_op_transpose_last2 (ty, tback, &error));
      g_assert_no_error (error);
      back = graft_test_download (tback);
      g_assert_cmpmem (back, b * m * n * sizeof (float), x, b * m * n * sizeof (float));
    }

  /* One matrix, rank 2. */
  {
    gsize s[2] = { 4, 6 }, t[2] = { 6, 4 };
    g_autofree float *x = graft_test_random (rand, 24);
    g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 2, s, x);
    g_autoptr(GraftTensor) ty = graft_test_tensor (cpu, 2, t, NULL);
    g_autofree float *y = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true (graft_op_transpose_last2 (tx, ty, &error));
    g_assert_no_error (error);
    y = graft_test_download (ty);
    for (gsize r = 0; r < 4; r++)
      for (gsize c = 0; c < 6; c++)
        g_assert_cmpfloat (y[c * 4 + r], ==, x[r * 6 + c]);
  }
}

static void
test_errors (void)
{
  gsize s3[3] = { 2, 3, 4 }, wrong3[3] = { 2, 3, 4 }, s4[4] = { 1, 2, 3, 4 };
  gsize qkv_shape[3] = { 2, 5, 12 }, out_shape[3] = { 2, 5, 4 };
  gsize probs_shape[4] = { 2, 2, 5, 5 }, bad_probs[4] = { 2, 2, 5, 4 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 3, s3, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 3, wrong3, NULL);
  g_autoptr(GraftTensor) x4 = graft_test_tensor (cpu, 4, s4, NULL);
  g_autoptr(GraftTensor) qkv = graft_test_tensor (cpu, 3, qkv_shape, NULL);
  g_autoptr(GraftTensor) out = graft_test_tensor (cpu, 3, out_shape, NULL);
  g_autoptr(GraftTensor) probs = graft_test_tensor (cpu, 4, probs_shape, NULL);
  g_autoptr(GraftTensor) probs_bad = graft_test_tensor (cpu, 4, bad_probs, NULL);
  g_autoptr(GraftTensor) dqkv = graft_test_tensor (cpu, 3, qkv_shape, NULL);
  g_autoptr(GError) error = NULL;

  graft_tensor_set_name (y, "blocks.0.attn.t");
  g_assert_false (graft_op_transpose_last2 (x, y, &error));   /* [2, 3, 4] is not [2, 4, 3] */
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "blocks.0.attn.t"));
  g_clear_error (&error);
  g_assert_false (graft_op_transpose_last2 (x4, y, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);

  /* Three heads do not divide E = 4. */
  graft_tensor_set_name (qkv, "encoder.layers.0.qkv");
  g_assert_false (graft_op_attention (qkv, 3, probs, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "encoder.layers.0.qkv"));
  g_clear_error (&error);
  g_assert_false (graft_op_attention (qkv, 0, probs, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_attention (qkv, 2, probs_bad, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_attention (qkv, 2, probs, dqkv, &error));   /* out is [2, 5, 4] */
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_attention_backward (qkv, probs, out, 2, qkv, &error));  /* in place */
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_attention_backward (qkv, probs, dqkv, 2, dqkv, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_true (graft_op_attention (qkv, 2, probs, out, &error));
  g_assert_true (graft_op_attention_backward (qkv, probs, out, 2, dqkv, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);

  g_test_add_func ("/cpu/attention/loops", test_attention_loops);
  g_test_add_func ("/cpu/attention/gradient", test_attention_gradient);
  g_test_add_func ("/cpu/attention/transpose", test_transpose);
  g_test_add_func ("/cpu/attention/errors", test_errors);

  status = g_test_run ();
  graft_backend_unref (cpu);
  return status;
}
