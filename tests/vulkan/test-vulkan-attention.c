/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The batched transpose and multi-head attention on Vulkan against the CPU backend,
 * attention with both kernel sets (for GPUs and for CPU devices), whatever the device.
 * The transpose moves values, so it must agree exactly. Attention sums at most L = 197
 * float32 products per value (and one exp per weight) in another order than OpenBLAS:
 * each value carries a relative error of a few 2^-24 times sqrt (L), so the normalised
 * error of a whole tensor stays near 1e-6; ATTENTION_TOLERANCE = 2e-5 leaves room, and a
 * wrong stride, head offset, scale or softmax axis gives errors of order 1e-1 or more. */

#include <string.h>

#include "graft-test-vulkan.h"

typedef GraftTestBackends Context;

#define ATTENTION_TOLERANCE 2e-5

static void
test_transpose (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (41);
  const gsize shapes[][3] = { { 3, 5, 7 }, { 1, 1, 13 }, { 32, 197, 192 } };

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint k = 0; k < G_N_ELEMENTS (shapes); k++)
    {
      gsize s[3] = { shapes[k][0], shapes[k][1], shapes[k][2] };
      gsize t[3] = { s[0], s[2], s[1] };
      gsize n = s[0] * s[1] * s[2];
      g_autofree float *x = graft_test_random (rand, n);
      g_autoptr(GraftTensor) x_cpu = graft_test_tensor (ctx->cpu, 3, s, x);
      g_autoptr(GraftTensor) x_vk = graft_test_tensor (ctx->vk, 3, s, x);
      g_autoptr(GraftTensor) y_cpu = graft_test_tensor (ctx->cpu, 3, t, NULL);
      g_autoptr(GraftTensor) y_vk = graft_test_tensor (ctx->vk, 3, t, NULL);
      g_autoptr(GraftTensor) back_vk = graft_test_tensor (ctx->vk, 3, s, NULL);
      g_autofree float *y_want = NULL, *y_got = NULL, *back = NULL;
      g_autoptr(GError) error = NULL;

      g_assert_true (graft_op_transpose_last2 (x_cpu, y_cpu, &error));
      g_assert_true (graft_op_transpose_last2 (x_vk, y_vk, &error));
      g_assert_true (graft_op_transpose_last2 (y_vk, back_vk, &error));
      g_assert_no_error (error);
      y_want = graft_test_download (y_cpu);
      y_got = graft_test_download (y_vk);
      back = graft_test_download (back_vk);
      g_assert_cmpmem (y_got, n * sizeof (float), y_want, n * sizeof (float));
      g_assert_cmpmem (back, n * sizeof (float), x, n * sizeof (float));
    }
}

static double
compare (GraftTensor *got,
         GraftTensor *want)
{
  g_autofree float *g = graft_test_download (got);
  g_autofree float *w = graft_test_download (want);

  g_assert_cmpuint (graft_tensor_get_n_elements (got), ==, graft_tensor_get_n_elements (want));
  return graft_test_rel_error (g, w, graft_tensor_get_n_elements (want));
}

/* Runs the cases with the GPU kernels (shared-memory tiles, a workgroup per softmax
 * row) or the CPU-device ones (register blocks on texel fetches, an invocation per row),
 * whichever the device would pick itself. */
static void
run_attention (Context           *ctx,
               GraftVkGemmKernel  kernel)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  /* N, L, E, heads: odd sizes that no 32 x 32 tile divides, one token, one head, a
   * random shape, and ViT-Ti/16's encoder (197 tokens, 192 wide, 3 heads of 64). */
  gsize cases[][4] = {
    { 2, 5, 12, 3 },
    { 3, 1, 6, 2 },
    { 1, 37, 20, 1 },
    { 0, 0, 0, 0 },
    { 2, 197, 192, 3 },
  };
  double worst = 0.0;

  _graft_vk_backend_set_gemm_kernel (ctx->vk, kernel);
  cases[3][3] = g_rand_int_range (rand, 1, 5);
  cases[3][0] = g_rand_int_range (rand, 1, 4);
  cases[3][1] = g_rand_int_range (rand, 2, 70);
  cases[3][2] = cases[3][3] * g_rand_int_range (rand, 1, 40);

  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      gsize n = cases[k][0], l = cases[k][1], e = cases[k][2];
      guint heads = (guint) cases[k][3];
      gsize qkv_shape[3] = { n, l, 3 * e }, out_shape[3] = { n, l, e };
      gsize probs_shape[4] = { n, heads, l, l };
      g_autofree float *qkv = graft_test_random (rand, n * l * 3 * e);
      g_autofree float *dout = graft_test_random (rand, n * l * e);
      GraftTensor *t[2][5];
      const char *names[5] = { "qkv", "probs", "out", "dout", "dqkv" };
      double err[5] = { 0 };
      g_autoptr(GError) error = NULL;

      /* Logits of a few units, as trained attention has: softmax is far from flat. */
      for (gsize i = 0; i < n * l * 3 * e; i++)
        qkv[i] *= 2.5f;

      for (guint b = 0; b < 2; b++)
        {
          GraftBackend *backend = b == 0 ? ctx->cpu : ctx->vk;

          t[b][0] = graft_test_tensor (backend, 3, qkv_shape, qkv);
          t[b][1] = graft_test_tensor (backend, 4, probs_shape, NULL);
          t[b][2] = graft_test_tensor (backend, 3, out_shape, NULL);
          t[b][3] = graft_test_tensor (backend, 3, out_shape, dout);
          t[b][4] = graft_test_tensor (backend, 3, qkv_shape, NULL);
          g_assert_true (graft_op_attention (t[b][0], heads, t[b][1], t[b][2], &error));
          g_assert_no_error (error);
          g_assert_true (graft_op_attention_backward (t[b][0], t[b][1], t[b][3], heads,
                                                      t[b][4], &error));
          g_assert_no_error (error);
        }

      for (guint i = 1; i < 5; i++)
        if (i != 3)
          {
            err[i] = compare (t[1][i], t[0][i]);
            worst = MAX (worst, err[i]);
          }
      g_test_message ("N=%" G_GSIZE_FORMAT " L=%" G_GSIZE_FORMAT " E=%" G_GSIZE_FORMAT
                      " heads=%u: %s %.3g, %s %.3g, %s %.3g", n, l, e, heads,
                      names[1], err[1], names[2], err[2], names[4], err[4]);
      for (guint i = 1; i < 5; i++)
        if (err[i] > ATTENTION_TOLERANCE)
          g_test_fail_printf ("%s differs from the CPU backend by %.3g for N=%" G_GSIZE_FORMAT
                              " L=%" G_GSIZE_FORMAT " E=%" G_GSIZE_FORMAT " heads=%u",
                              names[i], err[i], n, l, e, heads);

      for (guint b = 0; b < 2; b++)
        for (guint i = 0; i < 5; i++)
          graft_tensor_unref (t[b][i]);
    }
  g_test_message ("largest normalised error: %.3g", worst);
  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_AUTO);
}

static void
test_attention_tiled (gconstpointer data)
{
  Context *ctx = (Context *) data;

  if (graft_test_have_vulkan (ctx))
    run_attention (ctx, GRAFT_VK_GEMM_TILED);
}

static void
test_attention_cpu_kernels (gconstpointer data)
{
  Context *ctx = (Context *) data;

  if (graft_test_have_vulkan (ctx))
    run_attention (ctx, GRAFT_VK_GEMM_CPU);
}

int
main (int    argc,
      char **argv)
{
  Context ctx = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  graft_test_backends_open (&ctx);

  g_test_add_data_func ("/vulkan/attention/transpose", &ctx, test_transpose);
  g_test_add_data_func ("/vulkan/attention/gpu-kernels", &ctx, test_attention_tiled);
  g_test_add_data_func ("/vulkan/attention/cpu-kernels", &ctx, test_attention_cpu_kernels);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
