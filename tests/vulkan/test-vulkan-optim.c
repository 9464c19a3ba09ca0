/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* SGD and AdamW steps, the gradient norm and clipping on Vulkan against the CPU
 * backend, several steps in a row, through the public ops. */

#include <float.h>

#include "graft-test-vulkan.h"

/* The updates are the same float32 operations in the same order on both backends; only
 * fused multiply-adds and sqrt/division rounding may differ, a few ulps per step, so
 * 1e-5 normalised error after six steps is generous while a wrong rule is off by 1e-3.
 * The norm: a float tree against a double sum over 5e3 squares, ~log2(n) * FLT_EPSILON. */
#define TOLERANCE 1e-5
#define STEPS 6

typedef GraftTestBackends Context;

/* Runs STEPS steps of SGD (adamw FALSE) or AdamW on @backend; returns param and state. */
static void
run_steps (GraftBackend            *backend,
           gboolean                 adamw,
           const GraftSgdParams    *sp,
           const GraftAdamWParams  *ap,
           gsize                    n,
           guint32                  seed,
           float                  **param_out,
           float                  **state_out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  gsize shape[1] = { n };
  g_autofree float *p0 = graft_test_random (rand, n);
  g_autoptr(GraftTensor) param = graft_test_tensor (backend, 1, shape, p0);
  g_autoptr(GraftTensor) grad = graft_test_tensor (backend, 1, shape, NULL);
  g_autoptr(GraftTensor) s0 = graft_test_tensor (backend, 1, shape, NULL);
  g_autoptr(GraftTensor) s1 = graft_test_tensor (backend, 1, shape, NULL);

  g_assert_true (graft_op_fill (s0, 0.0f, &error));
  g_assert_true (graft_op_fill (s1, 0.0f, &error));
  for (guint step = 1; step <= STEPS; step++)
    {
      g_autofree float *g = graft_test_random (rand, n);

      g_assert_true (graft_tensor_upload (grad, g, n, &error));
      if (adamw)
        g_assert_true (graft_op_adamw_step (param, grad, s0, s1, ap, step, &error));
      else
        g_assert_true (graft_op_sgd_step (param, grad, sp->momentum != 0.0f ? s0 : NULL, sp, step, &error));
      g_assert_no_error (error);
    }
  *param_out = graft_test_download (param);
  *state_out = graft_test_download (adamw ? s1 : s0);
}

static void
compare (Context                 *ctx,
         gboolean                 adamw,
         const GraftSgdParams    *sp,
         const GraftAdamWParams  *ap)
{
  const gsize n = 4099;
  g_autofree float *p_cpu = NULL, *s_cpu = NULL, *p_vk = NULL, *s_vk = NULL;

  run_steps (ctx->cpu, adamw, sp, ap, n, 9, &p_cpu, &s_cpu);
  run_steps (ctx->vk, adamw, sp, ap, n, 9, &p_vk, &s_vk);
  g_assert_cmpfloat (graft_test_rel_error (p_vk, p_cpu, n), <=, TOLERANCE);
  g_assert_cmpfloat (graft_test_rel_error (s_vk, s_cpu, n), <=, TOLERANCE);
}

static void
test_sgd (gconstpointer data)
{
  Context *ctx = (Context *) data;
  GraftSgdParams p;

  if (!graft_test_have_vulkan (ctx))
    return;
  graft_sgd_params_init (&p, 0.1f);
  compare (ctx, FALSE, &p, NULL);
  p.momentum = 0.9f;
  p.weight_decay = 1e-2f;
  compare (ctx, FALSE, &p, NULL);
  p.dampening = 0.25f;
  compare (ctx, FALSE, &p, NULL);
  p.dampening = 0.0f;
  p.nesterov = TRUE;
  compare (ctx, FALSE, &p, NULL);
}

static void
test_adamw (gconstpointer data)
{
  Context *ctx = (Context *) data;
  GraftAdamWParams p;

  if (!graft_test_have_vulkan (ctx))
    return;
  graft_adamw_params_init (&p, 1e-2f);
  compare (ctx, TRUE, NULL, &p);
  p.eps = 1e-3f;
  p.beta1 = 0.5f;
  compare (ctx, TRUE, NULL, &p);
}

static void
clip (GraftBackend *backend,
      float         max_norm,
      float        *norm,
      float       **clipped)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (31);
  const gsize sizes[] = { 1, 777, 5000 };
  GraftTensor *grads[3];
  gsize s1[1] = { 1 }, off = 0;
  g_autoptr(GraftTensor) tn = graft_test_tensor (backend, 1, s1, NULL);

  *clipped = g_new (float, 1 + 777 + 5000);
  for (guint t = 0; t < 3; t++)
    {
      g_autofree float *d = graft_test_random (rand, sizes[t]);
      grads[t] = graft_test_tensor (backend, 1, &sizes[t], d);
    }
  g_assert_true (graft_op_clip_grad_norm (grads, 3, max_norm, tn, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (tn, norm, 1, &error));
  for (guint t = 0; t < 3; t++)
    {
      g_assert_true (graft_tensor_download (grads[t], *clipped + off, sizes[t], &error));
      off += sizes[t];
      graft_tensor_unref (grads[t]);
    }
  g_assert_no_error (error);
}

static void
test_clip (gconstpointer data)
{
  Context *ctx = (Context *) data;
  const float max_norms[] = { 1e4f, 3.0f };

  if (!graft_test_have_vulkan (ctx))
    return;
  for (guint i = 0; i < G_N_ELEMENTS (max_norms); i++)
    {
      g_autofree float *c_cpu = NULL, *c_vk = NULL;
      float n_cpu, n_vk;

      clip (ctx->cpu, max_norms[i], &n_cpu, &c_cpu);
      clip (ctx->vk, max_norms[i], &n_vk, &c_vk);
      g_assert_cmpfloat (graft_test_rel_error (&n_vk, &n_cpu, 1), <=, TOLERANCE);
      g_assert_cmpfloat (graft_test_rel_error (c_vk, c_cpu, 5778), <=, TOLERANCE);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Context ctx = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  graft_test_backends_open (&ctx);

  g_test_add_data_func ("/vulkan/optim/sgd", &ctx, test_sgd);
  g_test_add_data_func ("/vulkan/optim/adamw", &ctx, test_adamw);
  g_test_add_data_func ("/vulkan/optim/clip", &ctx, test_clip);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
