/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Softmax cross-entropy on the CPU backend against the formula of PyTorch 1.13's
 * cross_entropy written out in double precision, on random logits including large
 * magnitudes, with and without class weights and label smoothing, for one row, two
 * classes and a thousand; plus values printed by PyTorch itself, a finite-difference
 * check of dlogits and targets that name no class. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

/* The backend reduces each row in double and rounds once to float: per-sample losses and
 * gradients agree with the double reference to a few ulps (~1e-7 relative). 1e-5 of the
 * largest value leaves a margin; a wrong weight, a missing smoothing term or an
 * unstable log-sum-exp is off by 1e-2 or more (with logits of 80, exp overflows to inf). */
#define TOLERANCE 1e-5

typedef struct {
  gsize    n, c;
  gboolean weighted;
  float    eps;
  double   scale;     /* logits uniform in [-scale, scale] */
} Case;

/* The reference: log_softmax in double, then PyTorch's
 *   nll    = sum_i w[y_i] * -logp[i, y_i] / sum_i w[y_i]
 *   smooth = sum_i sum_c w[c] * -logp[i, c] / sum_i w[y_i]
 *   loss   = (1 - eps) * nll + eps / C * smooth
 * and its gradient p - onehot, weighted, term by term. Rows whose target is not in
 * [0, C) are left out. */
static double
reference (const Case   *k,
           const float  *x,
           const float  *target,
           const float  *weight,
           double       *losses,
           double       *grad)
{
  double total_w = 0.0, sum = 0.0, all_w = 0.0;

  for (gsize j = 0; j < k->c; j++)
    all_w += weight != NULL ? weight[j] : 1.0;

  for (gsize i = 0; i < k->n; i++)
    {
      const float *row = x + i * k->c;
      double m = -INFINITY, s = 0.0, lse, wy, smooth = 0.0;
      gint y = (target[i] >= 0.0f && target[i] < (float) k->c) ? (gint) target[i] : -1;

      for (gsize j = 0; j < k->c; j++)
        m = MAX (m, row[j]);
      for (gsize j = 0; j < k->c; j++)
        s += exp (row[j] - m);
      lse = m + log (s);

      if (y < 0)
        {
          losses[i] = 0.0;
          for (gsize j = 0; j < k->c; j++)
            grad[i * k->c + j] = 0.0;
          continue;
        }

      wy = weight != NULL ? weight[y] : 1.0;
      for (gsize j = 0; j < k->c; j++)
        smooth += (weight != NULL ? weight[j] : 1.0) * (lse - row[j]);
      losses[i] = (1.0 - k->eps) * wy * (lse - row[y]) + k->eps / k->c * smooth;
      total_w += wy;
      sum += losses[i];

      for (gsize j = 0; j < k->c; j++)
        {
          double p = exp (row[j] - lse);
          double wj = weight != NULL ? weight[j] : 1.0;
          grad[i * k->c + j] = (1.0 - k->eps) * wy * (p - ((gint) j == y ? 1.0 : 0.0)) +
                               k->eps / k->c * (all_w * p - wj);
        }
    }
  for (gsize e = 0; e < k->n * k->c; e++)
    grad[e] /= total_w;
  return sum / total_w;
}

static double
max_abs (const double *v,
         gsize         n)
{
  double m = 0.0;

  for (gsize i = 0; i < n; i++)
    m = MAX (m, fabs (v[i]));
  return m;
}

static void
run_op (GraftBackend *cpu,
        const Case   *k,
        const float  *x,
        const float  *target,
        const float  *weight,
        float        *loss,
        float        *losses,
        float        *grad)
{
  g_autoptr(GError) error = NULL;
  gsize sx[2] = { k->n, k->c }, sn[1] = { k->n }, sc[1] = { k->c }, s1[1] = { 1 };
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 2, sx, x);
  g_autoptr(GraftTensor) tt = graft_test_tensor (cpu, 1, sn, target);
  g_autoptr(GraftTensor) tw = weight != NULL ? graft_test_tensor (cpu, 1, sc, weight) : NULL;
  g_autoptr(GraftTensor) tl = graft_test_tensor (cpu, 1, s1, NULL);
  g_autoptr(GraftTensor) tls = graft_test_tensor (cpu, 1, sn, NULL);
  g_autoptr(GraftTensor) tg = grad != NULL ? graft_test_tensor (cpu, 2, sx, NULL) : NULL;

  g_assert_true (graft_op_cross_entropy (tx, tt, tw, k->eps, tl, tls, tg, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (tl, loss, 1, &error));
  g_assert_true (graft_tensor_download (tls, losses, k->n, &error));
  if (grad != NULL)
    g_assert_true (graft_tensor_download (tg, grad, k->n * k->c, &error));
  g_assert_no_error (error);
}

static void
check_case (GraftBackend *cpu,
            GRand        *rand,
            const Case   *k,
            gboolean      bad_targets)
{
  g_autofree float *x = g_new (float, k->n * k->c);
  g_autofree float *target = g_new (float, k->n);
  g_autofree float *weight = k->weighted ? g_new (float, k->c) : NULL;
  g_autofree float *losses = g_new (float, k->n);
  g_autofree float *grad = g_new (float, k->n * k->c);
  g_autofree double *ref_losses = g_new (double, k->n);
  g_autofree double *ref_grad = g_new (double, k->n * k->c);
  double ref, scale_l, scale_g;
  float loss;

  for (gsize e = 0; e < k->n * k->c; e++)
    x[e] = (float) g_rand_double_range (rand, -k->scale, k->scale);
  for (gsize i = 0; i < k->n; i++)
    target[i] = (float) g_rand_int_range (rand, 0, (gint32) k->c);
  if (bad_targets)
    {
      /* one row keeps a valid target so that the mean is defined */
      for (gsize i = 1; i < k->n; i += 2)
        target[i] = (i % 4 == 1) ? -1.0f : (float) k->c;
    }
  if (weight != NULL)
    for (gsize j = 0; j < k->c; j++)
      weight[j] = (float) g_rand_double_range (rand, 0.1, 3.0);

  ref = reference (k, x, target, weight, ref_losses, ref_grad);
  run_op (cpu, k, x, target, weight, &loss, losses, grad);

  scale_l = MAX (max_abs (ref_losses, k->n), 1e-30);
  scale_g = MAX (max_abs (ref_grad, k->n * k->c), 1e-30);
  g_assert_cmpfloat (fabs (loss - ref) / MAX (fabs (ref), 1e-30), <=, TOLERANCE);
  for (gsize i = 0; i < k->n; i++)
    g_assert_cmpfloat (fabs (losses[i] - ref_losses[i]) / scale_l, <=, TOLERANCE);
  for (gsize e = 0; e < k->n * k->c; e++)
    g_assert_cmpfloat (fabs (grad[e] - ref_grad[e]) / scale_g, <=, TOLERANCE);
}

static void
test_random (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  const gsize shapes[][2] = { { 1, 2 }, { 1, 1000 }, { 7, 2 }, { 16, 10 }, { 5, 1000 }, { 300, 3 } };
  const double scales[] = { 1.0, 80.0 };
  const float epss[] = { 0.0f, 0.1f };

  g_assert_no_error (error);
  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint w = 0; w < 2; w++)
      for (guint e = 0; e < G_N_ELEMENTS (epss); e++)
        for (guint m = 0; m < G_N_ELEMENTS (scales); m++)
          {
            Case k = { shapes[s][0], shapes[s][1], w == 1, epss[e], scales[m] };

            check_case (cpu, rand, &k, FALSE);
            if (k.n > 2)
              check_case (cpu, rand, &k, TRUE);
          }
}

/* Printed by PyTorch 1.13: F.cross_entropy (x, t, weight, label_smoothing) and its
 * reduction='none', and x.grad[0] after backward(). */
static void
test_pytorch (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  const float x[] = { 1.5f, -0.25f, 3.0f, 0.5f,  -2.0f, 0.75f, 0.1f, 4.0f,  80.0f, -80.0f, 10.0f, 0.0f };
  const float t[] = { 2, 0, 1 };
  const float w[] = { 0.5f, 2.0f, 1.0f, 3.0f };
  const struct {
    gboolean weighted;
    float    eps;
    double   loss, losses[3], grad0[4];
  } expect[] = {
    { FALSE, 0.0f, 55.4517707824707, { 0.2956423, 6.0596781, 160.0 },
      { 0.05534025654196739, 0.00961669534444809, -0.0853155106306076, 0.02035854384303093 } },
    { FALSE, 0.1f, 52.67177200317383, { 0.4768924, 5.7884278, 151.75 },
      { 0.04700691998004913, 0.0012833604123443365, -0.06031549349427223, 0.012025207281112671 } },
    { TRUE, 0.0f, 92.37871551513672, { 0.2956423, 3.029839, 320.0 },
      { 0.04743450507521629, 0.00824288185685873, -0.07312758266925812, 0.017450179904699326 } },
    { TRUE, 0.1f, 87.85840606689453, { 0.68287, 3.0715528, 303.75 },
      { 0.046827733516693115, -0.00552765280008316, -0.03841233253479004, -0.0028877560980618 } },
  };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (expect); i++)
    {
      Case k = { 3, 4, expect[i].weighted, expect[i].eps, 0 };
      float loss, losses[3], grad[12];

      run_op (cpu, &k, x, t, k.weighted ? w : NULL, &loss, losses, grad);
      g_assert_cmpfloat_with_epsilon (loss, expect[i].loss, 1e-5 * expect[i].loss);
      for (guint r = 0; r < 3; r++)
        g_assert_cmpfloat_with_epsilon (losses[r], expect[i].losses[r], 1e-5 * expect[i].losses[r] + 1e-6);
      for (guint j = 0; j < 4; j++)
        g_assert_cmpfloat_with_epsilon (grad[j], expect[i].grad0[j], 1e-6);
    }
}

/* dlogits against central differences of the op's own loss. With logits in [-2, 2] and
 * h = 1e-2 the truncation error is ~h^2 * |f'''| ~ 1e-5 and the float rounding of the
 * loss ~1e-7 / h ~ 1e-5; 1e-3 of the largest gradient is well above both and well below
 * the error of a wrong term. */
static void
test_finite_differences (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  const float h = 1e-2f;

  g_assert_no_error (error);
  for (guint variant = 0; variant < 4; variant++)
    {
      Case k = { 4, 5, variant & 1, (variant & 2) ? 0.1f : 0.0f, 2.0 };
      float x[20], t[4], w[5], grad[20], losses[4], loss, lp, lm, gmax = 0.0f;

      for (guint e = 0; e < 20; e++)
        x[e] = (float) g_rand_double_range (rand, -2.0, 2.0);
      for (guint i = 0; i < 4; i++)
        t[i] = (float) g_rand_int_range (rand, 0, 5);
      for (guint j = 0; j < 5; j++)
        w[j] = (float) g_rand_double_range (rand, 0.2, 2.0);

      run_op (cpu, &k, x, t, k.weighted ? w : NULL, &loss, losses, grad);
      for (guint e = 0; e < 20; e++)
        gmax = MAX (gmax, fabsf (grad[e]));
      for (guint e = 0; e < 20; e++)
        {
          float saved = x[e];
          double fd;

          x[e] = saved + h;
          run_op (cpu, &k, x, t, k.weighted ? w : NULL, &lp, losses, NULL);
          x[e] = saved - h;
          run_op (cpu, &k, x, t, k.weighted ? w : NULL, &lm, losses, NULL);
          x[e] = saved;
          fd = ((double) lp - lm) / (2.0 * h);
          g_assert_cmpfloat (fabs (fd - grad[e]) / gmax, <=, 1e-3);
        }
    }
}

static void
test_no_valid_target (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  const float x[] = { 1, 2, 3, 4 };
  const float t[] = { -1, NAN };
  Case k = { 2, 2, FALSE, 0.0f, 0 };
  float loss, losses[2];

  /* No row counts: 0 / 0, NaN as in PyTorch when the targets' weights sum to 0. */
  run_op (cpu, &k, x, t, NULL, &loss, losses, NULL);
  g_assert_true (isnan (loss));
  g_assert_cmpfloat (losses[0], ==, 0.0f);
  g_assert_cmpfloat (losses[1], ==, 0.0f);
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  gsize sx[2] = { 4, 3 }, s4[1] = { 4 }, s3[1] = { 3 }, s1[1] = { 1 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 2, sx, NULL);
  g_autoptr(GraftTensor) t = graft_test_tensor (cpu, 1, s4, NULL);
  g_autoptr(GraftTensor) w = graft_test_tensor (cpu, 1, s3, NULL);
  g_autoptr(GraftTensor) bad = graft_test_tensor (cpu, 1, s3, NULL);
  g_autoptr(GraftTensor) loss = graft_test_tensor (cpu, 1, s1, NULL);
  g_autoptr(GraftTensor) losses = graft_test_tensor (cpu, 1, s4, NULL);

  graft_tensor_set_name (bad, "labels");
  g_assert_false (graft_op_cross_entropy (x, bad, NULL, 0.0f, loss, losses, NULL, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "labels"));
  g_assert_nonnull (strstr (error->message, "[4]"));
  g_clear_error (&error);

  graft_tensor_set_name (w, "class weights");
  g_assert_false (graft_op_cross_entropy (x, t, t, 0.0f, loss, losses, NULL, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);

  g_assert_false (graft_op_cross_entropy (x, t, w, 1.5f, loss, losses, NULL, &error));
  g_assert_nonnull (strstr (error->message, "smoothing"));
  g_clear_error (&error);

  graft_tensor_set_name (x, "logits");
  g_assert_false (graft_op_cross_entropy (x, t, w, 0.0f, loss, losses, x, &error));
  g_assert_nonnull (strstr (error->message, "share storage"));
  g_clear_error (&error);

  g_assert_true (graft_op_cross_entropy (x, t, w, 0.1f, loss, losses, NULL, &error));
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cpu/loss/random", test_random);
  g_test_add_func ("/cpu/loss/pytorch", test_pytorch);
  g_test_add_func ("/cpu/loss/finite-differences", test_finite_differences);
  g_test_add_func ("/cpu/loss/no-valid-target", test_no_valid_target);
  g_test_add_func ("/cpu/loss/errors", test_errors);

  return g_test_run ();
}
