/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Concatenation, nearest upsampling and dropout on Vulkan against the CPU backend.
 * Concatenation and upsampling forward are copies and the dropout mask is integer
 * arithmetic followed by one float product, so they must agree exactly. Upsampling
 * backward sums scale^2 (at most 9) floats in the same order on both backends; IEEE
 * addition is correctly rounded on both, so it is compared exactly as well. */

#include <string.h>

#include "graft-test-vulkan.h"

typedef GraftTestBackends Context;

static void
assert_same (GraftTensor *a,
             GraftTensor *b)
{
  g_autofree float *da = graft_test_download (a);
  g_autofree float *db = graft_test_download (b);
  gsize n = graft_tensor_get_n_elements (a);

  g_assert_cmpuint (n, ==, graft_tensor_get_n_elements (b));
  g_assert_cmpmem (da, n * sizeof (float), db, n * sizeof (float));
}

static void
test_concat (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (21);
  const gsize channels[] = { 3, 1, 5 };
  gsize n = 3, h = 7, w = 9;
  GraftTensor *in[2][3], *grad[2][3];
  g_autoptr(GraftTensor) out_cpu = NULL, out_vk = NULL;
  gsize shape[4] = { n, 9, h, w };
  g_autoptr(GError) error = NULL;

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint i = 0; i < 3; i++)
    {
      gsize s[4] = { n, channels[i], h, w };
      g_autofree float *x = graft_test_random (rand, n * channels[i] * h * w);

      in[0][i] = graft_test_tensor (ctx->cpu, 4, s, x);
      in[1][i] = graft_test_tensor (ctx->vk, 4, s, x);
      grad[0][i] = graft_test_tensor (ctx->cpu, 4, s, NULL);
      grad[1][i] = graft_test_tensor (ctx->vk, 4, s, NULL);
    }
  out_cpu = graft_test_tensor (ctx->cpu, 4, shape, NULL);
  out_vk = graft_test_tensor (ctx->vk, 4, shape, NULL);

  g_assert_true (graft_op_concat_channels (in[0], 3, out_cpu, &error));
  g_assert_true (graft_op_concat_channels (in[1], 3, out_vk, &error));
  g_assert_no_error (error);
  assert_same (out_vk, out_cpu);

  g_assert_true (graft_op_concat_channels_backward (out_vk, grad[1], 3, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 3; i++)
    {
      assert_same (grad[1][i], in[0][i]);
      for (guint b = 0; b < 2; b++)
        {
          graft_tensor_unref (in[b][i]);
          graft_tensor_unref (grad[b][i]);
        }
    }
}

static void
test_upsample (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (22);

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint s = 1; s <= 3; s++)
    {
      gsize small[4] = { 2, 3, 5, 7 }, big[4] = { 2, 3, 5 * s, 7 * s };
      g_autofree float *x = graft_test_random (rand, 2 * 3 * 5 * 7);
      g_autofree float *dy = graft_test_random (rand, 2 * 3 * 5 * 7 * s * s);
      g_autoptr(GraftTensor) x_cpu = graft_test_tensor (ctx->cpu, 4, small, x);
      g_autoptr(GraftTensor) x_vk = graft_test_tensor (ctx->vk, 4, small, x);
      g_autoptr(GraftTensor) y_cpu = graft_test_tensor (ctx->cpu, 4, big, NULL);
      g_autoptr(GraftTensor) y_vk = graft_test_tensor (ctx->vk, 4, big, NULL);
      g_autoptr(GraftTensor) dy_cpu = graft_test_tensor (ctx->cpu, 4, big, dy);
      g_autoptr(GraftTensor) dy_vk = graft_test_tensor (ctx->vk, 4, big, dy);
      g_autoptr(GraftTensor) dx_cpu = graft_test_tensor (ctx->cpu, 4, small, NULL);
      g_autoptr(GraftTensor) dx_vk = graft_test_tensor (ctx->vk, 4, small, NULL);
      g_autoptr(GError) error = NULL;

      g_assert_true (graft_op_upsample_nearest2d (x_cpu, s, y_cpu, &error));
      g_assert_true (graft_op_upsample_nearest2d (x_vk, s, y_vk, &error));
      g_assert_true (graft_op_upsample_nearest2d_backward (dy_cpu, s, dx_cpu, &error));
      g_assert_true (graft_op_upsample_nearest2d_backward (dy_vk, s, dx_vk, &error));
      g_assert_no_error (error);
      assert_same (y_vk, y_cpu);
      assert_same (dx_vk, dx_cpu);
    }
}

static void
test_dropout (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (23);
  const float ps[] = { 0.0f, 0.1f, 0.5f };
  gsize shape[2] = { 13, 7919 };
  g_autofree float *x = graft_test_random (rand, shape[0] * shape[1]);

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint k = 0; k < G_N_ELEMENTS (ps); k++)
    for (guint64 seed = 1; seed < (G_GUINT64_CONSTANT (1) << 40); seed = seed * 1000003 + 7)
      {
        g_autoptr(GraftTensor) x_cpu = graft_test_tensor (ctx->cpu, 2, shape, x);
        g_autoptr(GraftTensor) x_vk = graft_test_tensor (ctx->vk, 2, shape, x);
        g_autoptr(GraftTensor) y_cpu = graft_test_tensor (ctx->cpu, 2, shape, NULL);
        g_autoptr(GraftTensor) y_vk = graft_test_tensor (ctx->vk, 2, shape, NULL);
        g_autoptr(GraftTensor) dx_vk = graft_test_tensor (ctx->vk, 2, shape, NULL);
        g_autoptr(GError) error = NULL;

        g_assert_true (graft_op_dropout (x_cpu, ps[k], seed, TRUE, y_cpu, &error));
        g_assert_true (graft_op_dropout (x_vk, ps[k], seed, TRUE, y_vk, &error));
        g_assert_true (graft_op_dropout_backward (x_vk, ps[k], seed, TRUE, dx_vk, &error));
        g_assert_no_error (error);
        assert_same (y_vk, y_cpu);
        assert_same (dx_vk, y_cpu);
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

  g_test_add_data_func ("/vulkan/shape/concat", &ctx, test_concat);
  g_test_add_data_func ("/vulkan/shape/upsample", &ctx, test_upsample);
  g_test_add_data_func ("/vulkan/shape/dropout", &ctx, test_dropout);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
