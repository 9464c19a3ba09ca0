/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* SGD and AdamW steps on the CPU backend, several steps in a row, against the update
 * rules of torch.optim.SGD and torch.optim.AdamW re-implemented in double precision;
 * the global gradient norm and clip_grad_norm_; hyperparameter and operand errors. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

/* A step changes each parameter by about lr; float32 rounding of the state and the
 * parameter gives ~1e-7 relative errors per step that stay that size over a few steps.
 * 1e-5 of the largest parameter is far below the effect of a missing bias correction,
 * a wrong first momentum step or coupled weight decay (1e-3 and more). */
#define TOLERANCE 1e-5
#define N 1037
#define STEPS 6

static double
max_rel (const float  *got,
         const double *want,
         gsize         n)
{
  double scale = 1e-30, err = 0.0;

  for (gsize i = 0; i < n; i++)
    scale = MAX (scale, fabs (want[i]));
  for (gsize i = 0; i < n; i++)
    err = MAX (err, fabs (got[i] - want[i]));
  return err / scale;
}

static void
check_sgd (const GraftSgdParams *p)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  gsize shape[1] = { N };
  g_autofree float *param0 = graft_test_random (rand, N);
  g_autoptr(GraftTensor) param = graft_test_tensor (cpu, 1, shape, param0);
  g_autoptr(GraftTensor) grad = graft_test_tensor (cpu, 1, shape, NULL);
  g_autoptr(GraftTensor) buf = graft_test_tensor (cpu, 1, shape, NULL);
  double ref[N], ref_buf[N];
  g_autofree float *got = NULL;

  for (gsize i = 0; i < N; i++)
    ref[i] = param0[i];

  for (guint step = 1; step <= STEPS; step++)
    {
      g_autofree float *g = graft_test_random (rand, N);

      g_assert_true (graft_tensor_upload (grad, g, N, &error));
      g_assert_true (graft_op_sgd_step (param, grad, p->momentum != 0.0f ? buf : NULL, p, step, &error));
      g_assert_no_error (error);

      /* torch.optim.SGD, _single_tensor_sgd */
      for (gsize i = 0; i < N; i++)
        {
          double d = g[i] + (double) p->weight_decay * ref[i];

          if (p->momentum != 0.0f)
            {
              ref_buf[i] = step == 1 ? d : p->momentum * ref_buf[i] + (1.0 - p->dampening) * d;
              d = p->nesterov ? d + p->momentum * ref_buf[i] : ref_buf[i];
            }
          ref[i] -= (double) p->lr * d;
        }
    }

  got = graft_test_download (param);
  g_assert_cmpfloat (max_rel (got, ref, N), <=, TOLERANCE);
}

static void
test_sgd (void)
{
  GraftSgdParams p;

  graft_sgd_params_init (&p, 0.1f);
  check_sgd (&p);

  p.momentum = 0.9f;
  p.weight_decay = 1e-2f;
  check_sgd (&p);

  p.dampening = 0.25f;
  check_sgd (&p);

  p.dampening = 0.0f;
  p.nesterov = TRUE;
  check_sgd (&p);
}

static void
check_adamw (const GraftAdamWParams *p)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (4);
  gsize shape[2] = { 17, N / 17 + 1 };
  gsize n = shape[0] * shape[1];
  g_autofree float *param0 = graft_test_random (rand, n);
  g_autoptr(GraftTensor) param = graft_test_tensor (cpu, 2, shape, param0);
  g_autoptr(GraftTensor) grad = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GraftTensor) m = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GraftTensor) v = graft_test_tensor (cpu, 2, shape, NULL);
  g_autofree double *ref = g_new (double, n);
  g_autofree double *rm = g_new0 (double, n);
  g_autofree double *rv = g_new0 (double, n);
  g_autofree float *got = NULL;
  g_autofree float *got_v = NULL;

  g_assert_true (graft_op_fill (m, 0.0f, &error));
  g_assert_true (graft_op_fill (v, 0.0f, &error));
  for (gsize i = 0; i < n; i++)
    ref[i] = param0[i];

  for (guint t = 1; t <= STEPS; t++)
    {
      g_autofree float *g = graft_test_random (rand, n);
      double bc1 = 1.0 - pow (p->beta1, t), bc2 = 1.0 - pow (p->beta2, t);

      /* some gradients tiny, so that eps matters */
      for (gsize i = 0; i < n; i += 7)
        g[i] *= 1e-6f;
      g_assert_true (graft_tensor_upload (grad, g, n, &error));
      g_assert_true (graft_op_adamw_step (param, grad, m, v, p, t, &error));
      g_assert_no_error (error);

      /* torch.optim.AdamW, _single_tensor_adamw */
      for (gsize i = 0; i < n; i++)
        {
          ref[i] *= 1.0 - (double) p->lr * p->weight_decay;
          rm[i] = p->beta1 * rm[i] + (1.0 - p->beta1) * g[i];
          rv[i] = p->beta2 * rv[i] + (1.0 - p->beta2) * (double) g[i] * g[i];
          ref[i] -= p->lr / bc1 * rm[i] / (sqrt (rv[i]) / sqrt (bc2) + p->eps);
        }
    }

  got = graft_test_download (param);
  got_v = graft_test_download (v);
  g_assert_cmpfloat (max_rel (got, ref, n), <=, TOLERANCE);
  g_assert_cmpfloat (max_rel (got_v, rv, n), <=, TOLERANCE);
}

static void
test_adamw (void)
{
  GraftAdamWParams p;

  graft_adamw_params_init (&p, 1e-2f);
  check_adamw (&p);

  p.weight_decay = 0.0f;
  p.beta1 = 0.5f;
  p.beta2 = 0.9f;
  p.eps = 1e-3f;
  check_adamw (&p);
}

static void
test_clip (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GRand) rand = g_rand_new_with_seed (8);
  const gsize sizes[] = { 1, 300, 4099 };
  GraftTensor *grads[3];
  float *data[3];
  gsize s1[1] = { 1 };
  g_autoptr(GraftTensor) norm = graft_test_tensor (cpu, 1, s1, NULL);
  const float max_norms[] = { 1e4f, 2.0f };
  double ref = 0.0;
  float got;

  for (guint t = 0; t < 3; t++)
    {
      data[t] = graft_test_random (rand, sizes[t]);
      grads[t] = graft_test_tensor (cpu, 1, &sizes[t], data[t]);
      for (gsize i = 0; i < sizes[t]; i++)
        ref += (double) data[t][i] * data[t][i];
    }
  ref = sqrt (ref);

  g_assert_true (graft_op_grad_norm (grads, 3, norm, &error));
  g_assert_true (graft_tensor_download (norm, &got, 1, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (fabs (got - ref) / ref, <=, 1e-6);

  for (guint c = 0; c < G_N_ELEMENTS (max_norms); c++)
    {
      /* clip_grad_norm_: coef = max_norm / (norm + 1e-6), clamped to at most 1 */
      double coef = MIN (1.0, max_norms[c] / (ref + 1e-6));

      for (guint t = 0; t < 3; t++)
        g_assert_true (graft_tensor_upload (grads[t], data[t], sizes[t], &error));
      g_assert_true (graft_op_clip_grad_norm (grads, 3, max_norms[c], norm, &error));
      g_assert_no_error (error);
      for (guint t = 0; t < 3; t++)
        {
          g_autofree float *clipped = graft_test_download (grads[t]);
          for (gsize i = 0; i < sizes[t]; i++)
            g_assert_cmpfloat (fabs (clipped[i] - coef * data[t][i]), <=, 1e-6 * fabs (data[t][i]) + 1e-12);
        }
      if (c == 1)
        {
          /* the clipped gradients have the largest norm */
          g_assert_true (graft_op_grad_norm (grads, 3, norm, &error));
          g_assert_true (graft_tensor_download (norm, &got, 1, &error));
          g_assert_cmpfloat (fabs (got - max_norms[c]), <=, 1e-5);
        }
    }

  for (guint t = 0; t < 3; t++)
    {
      graft_tensor_unref (grads[t]);
      g_free (data[t]);
    }
}

static void
test_errors (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  gsize s4[1] = { 4 }, s5[1] = { 5 };
  g_autoptr(GraftTensor) param = graft_test_tensor (cpu, 1, s4, NULL);
  g_autoptr(GraftTensor) grad = graft_test_tensor (cpu, 1, s5, NULL);
  g_autoptr(GraftTensor) m = graft_test_tensor (cpu, 1, s4, NULL);
  g_autoptr(GraftTensor) v = graft_test_tensor (cpu, 1, s4, NULL);
  GraftSgdParams sp;
  GraftAdamWParams ap;

  graft_tensor_set_name (param, "fc.weight");
  graft_tensor_set_name (grad, "fc.weight.grad");
  graft_sgd_params_init (&sp, 0.1f);
  g_assert_false (graft_op_sgd_step (param, grad, NULL, &sp, 1, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "fc.weight.grad"));
  g_clear_error (&error);

  sp.momentum = 0.9f;
  g_assert_false (graft_op_sgd_step (param, m, NULL, &sp, 1, &error));
  g_assert_nonnull (strstr (error->message, "momentum buffer"));
  g_clear_error (&error);

  sp.dampening = 0.5f;
  sp.nesterov = TRUE;
  g_assert_false (graft_op_sgd_step (param, m, v, &sp, 1, &error));
  g_assert_nonnull (strstr (error->message, "Nesterov"));
  g_clear_error (&error);

  graft_adamw_params_init (&ap, 1e-3f);
  ap.beta2 = 1.0f;
  g_assert_false (graft_op_adamw_step (param, m, v, grad, &ap, 1, &error));
  g_assert_nonnull (strstr (error->message, "beta2"));
  g_assert_nonnull (strstr (error->message, "fc.weight"));
  g_clear_error (&error);

  ap.beta2 = 0.999f;
  g_assert_false (graft_op_adamw_step (param, m, v, v, &ap, 1, &error));
  g_assert_nonnull (strstr (error->message, "share storage"));
  g_clear_error (&error);

  g_assert_false (graft_op_grad_norm ((GraftTensor *[]) { param }, 1, m, &error));
  g_assert_nonnull (strstr (error->message, "one value"));
  g_clear_error (&error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cpu/optim/sgd", test_sgd);
  g_test_add_func ("/cpu/optim/adamw", test_adamw);
  g_test_add_func ("/cpu/optim/clip", test_clip);
  g_test_add_func ("/cpu/optim/errors", test_errors);

  return g_test_run ();
}
