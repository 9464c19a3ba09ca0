/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Softmax cross-entropy on Vulkan against the CPU backend, through the public op:
 * mean loss, per-sample losses and dlogits, with and without class weights and label
 * smoothing, logits up to +-80, one row, two classes and a thousand, and targets that
 * name no class. */

#include <float.h>

#include "graft-test-vulkan.h"

/* The CPU reduces each row in double; Vulkan in float, as trees over up to 1000 values
 * of exp (x - max) <= 1 and of lse - x <= 160. Each sum is off by at most
 * ~log2(C) * FLT_EPSILON relative, lse by that much of |lse| <= 80 absolute, and
 * exp (x - lse) inherits it: 1e-4 normalised error leaves a factor of ten over
 * 10 * 1.2e-7 * 80, while a dropped weight or smoothing term is off by 1e-2 or more. */
#define TOLERANCE 1e-4

typedef GraftTestBackends Context;

static void
run (GraftBackend *backend,
     gsize         n,
     gsize         c,
     const float  *x,
     const float  *target,
     const float  *weight,
     float         eps,
     float        *loss,
     float       **losses,
     float       **grad)
{
  g_autoptr(GError) error = NULL;
  gsize sx[2] = { n, c }, sn[1] = { n }, sc[1] = { c }, s1[1] = { 1 };
  g_autoptr(GraftTensor) tx = graft_test_tensor (backend, 2, sx, x);
  g_autoptr(GraftTensor) tt = graft_test_tensor (backend, 1, sn, target);
  g_autoptr(GraftTensor) tw = weight != NULL ? graft_test_tensor (backend, 1, sc, weight) : NULL;
  g_autoptr(GraftTensor) tl = graft_test_tensor (backend, 1, s1, NULL);
  g_autoptr(GraftTensor) tls = graft_test_tensor (backend, 1, sn, NULL);
  g_autoptr(GraftTensor) tg = graft_test_tensor (backend, 2, sx, NULL);

  g_assert_true (graft_op_cross_entropy (tx, tt, tw, eps, tl, tls, tg, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (tl, loss, 1, &error));
  g_assert_no_error (error);
  *losses = graft_test_download (tls);
  *grad = graft_test_download (tg);
}

static void
test_random (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (21);
  const gsize shapes[][2] = { { 1, 2 }, { 1, 1000 }, { 9, 2 }, { 33, 10 }, { 6, 1000 }, { 300, 3 }, { 2, 1 } };
  const double scales[] = { 1.0, 80.0 };
  const float epss[] = { 0.0f, 0.1f };

  if (ctx->vk == NULL)
    {
      graft_test_no_vulkan (ctx->reason);
      return;
    }

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint w = 0; w < 2; w++)
      for (guint e = 0; e < G_N_ELEMENTS (epss); e++)
        for (guint m = 0; m < G_N_ELEMENTS (scales); m++)
          {
            gsize n = shapes[s][0], c = shapes[s][1];
            g_autofree float *x = g_new (float, n * c);
            g_autofree float *t = g_new (float, n);
            g_autofree float *wt = g_new (float, c);
            g_autofree float *ls_cpu = NULL, *ls_vk = NULL, *g_cpu = NULL, *g_vk = NULL;
            float l_cpu, l_vk;

            for (gsize i = 0; i < n * c; i++)
              x[i] = (float) g_rand_double_range (rand, -scales[m], scales[m]);
            for (gsize i = 0; i < n; i++)
              t[i] = (float) g_rand_int_range (rand, 0, (gint32) c);
            /* some rows name no class and must contribute nothing on both backends */
            for (gsize i = 1; i < n; i += 3)
              t[i] = (i % 2) ? -1.0f : (float) c;
            for (gsize j = 0; j < c; j++)
              wt[j] = (float) g_rand_double_range (rand, 0.1, 3.0);

            run (ctx->cpu, n, c, x, t, w ? wt : NULL, epss[e], &l_cpu, &ls_cpu, &g_cpu);
            run (ctx->vk, n, c, x, t, w ? wt : NULL, epss[e], &l_vk, &ls_vk, &g_vk);

            g_assert_cmpfloat (graft_test_rel_error (&l_vk, &l_cpu, 1), <=, TOLERANCE);
            g_assert_cmpfloat (graft_test_rel_error (ls_vk, ls_cpu, n), <=, TOLERANCE);
            g_assert_cmpfloat (graft_test_rel_error (g_vk, g_cpu, n * c), <=, TOLERANCE);
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

  g_test_add_data_func ("/vulkan/loss/cross-entropy", &ctx, test_random);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
