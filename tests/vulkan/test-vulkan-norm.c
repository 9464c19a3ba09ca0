/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Batch and layer normalisation on Vulkan against the CPU backend, forward (y, saved
 * statistics, running statistics) and backward (dx, dweight, dbias), on random small
 * shapes and on sizes where networks normalise: a ResNet stage's 8 x 64 x 56 x 56 (a
 * reduction of 25088 values per channel) and ViT-Tiny's rows of 192. */

#include "graft-test-vulkan.h"

/* The CPU reduces in double, Vulkan in float: 64 strided partial sums and a tree, an
 * error of about sqrt(M / 64)·eps relative to the sum, 2e-6 for M = 25088; the layer
 * norm weight gradient adds R rows in order (R·eps, 1e-4 worst case for R = 1000, of
 * random sign, so far less). 2e-4 keeps correct kernels inside while a wrong index, a
 * missing term or a biased variance is off by 1e-3 or more. */
#define TOL 2e-4

typedef GraftTestBackends Context;

typedef struct {
  gboolean batch, has_w, has_b, training;
  gsize    shape[4];
  guint    rank;
} Case;

/* Runs the case on @backend: outputs in order y, mean, invstd, running mean, running
 * var, dx, dweight, dbias. */
static void
run (GraftBackend *backend,
     const Case   *c,
     float       **in,
     float       **out,
     gsize        *sizes)
{
  g_autoptr(GError) error = NULL;
  gsize n = 1, rows, np, vs[1], ss[1];
  GraftTensor *t[13] = { NULL };
  GraftNormParams params;

  for (guint d = 0; d < c->rank; d++)
    n *= c->shape[d];
  np = c->batch ? c->shape[1] : c->shape[c->rank - 1];
  rows = c->batch ? c->shape[1] : n / np;
  vs[0] = np;
  ss[0] = rows;
  sizes[0] = sizes[5] = n;
  sizes[1] = sizes[2] = sizes[3] = sizes[4] = rows;
  sizes[6] = sizes[7] = np;

  graft_norm_params_init (&params);
  params.training = c->training;
  t[0] = graft_test_tensor (backend, c->rank, c->shape, in[0]);   /* x */
  t[1] = c->has_w ? graft_test_tensor (backend, 1, vs, in[1]) : NULL;
  t[2] = c->has_b ? graft_test_tensor (backend, 1, vs, in[2]) : NULL;
  t[3] = graft_test_tensor (backend, c->rank, c->shape, NULL);   /* y */
  t[4] = graft_test_tensor (backend, 1, ss, NULL);
  t[5] = graft_test_tensor (backend, 1, ss, NULL);
  t[6] = graft_test_tensor (backend, 1, ss, in[3]);   /* running */
  t[7] = graft_test_tensor (backend, 1, ss, in[4]);
  t[8] = graft_test_tensor (backend, c->rank, c->shape, in[5]);   /* dy */
  t[9] = graft_test_tensor (backend, c->rank, c->shape, NULL);
  t[10] = graft_test_tensor (backend, 1, vs, NULL);
  t[11] = graft_test_tensor (backend, 1, vs, NULL);

  if (c->batch)
    {
      graft_op_batch_norm2d (t[0], t[1], t[2], t[6], t[7], &params, t[3], t[4], t[5], &error);
      g_assert_no_error (error);
      graft_op_batch_norm2d_backward (t[8], t[0], t[1], t[4], t[5], &params, t[9], t[10],
                                      t[11], &error);
    }
  else
    {
      graft_op_layer_norm (t[0], t[1], t[2], 1e-5f, t[3], t[4], t[5], &error);
      g_assert_no_error (error);
      graft_op_layer_norm_backward (t[8], t[0], t[1], t[4], t[5], t[9], t[10], t[11], &error);
    }
  g_assert_no_error (error);

  out[0] = graft_test_download (t[3]);
  out[1] = graft_test_download (t[4]);
  out[2] = graft_test_download (t[5]);
  out[3] = graft_test_download (t[6]);
  out[4] = graft_test_download (t[7]);
  out[5] = graft_test_download (t[9]);
  out[6] = graft_test_download (t[10]);
  out[7] = graft_test_download (t[11]);
  for (guint i = 0; i < G_N_ELEMENTS (t); i++)
    g_clear_pointer (&t[i], graft_tensor_unref);
}

static void
check_case (Context    *ctx,
            GRand      *rand,
            const Case *c)
{
  static const char *names[8] = { "y", "mean", "invstd", "running_mean", "running_var",
                                  "dx", "dweight", "dbias" };
  gsize n = 1, big;
  float *in[6];
  float *vk[8], *cpu[8];
  gsize sizes[8];

  for (guint d = 0; d < c->rank; d++)
    n *= c->shape[d];
  big = MAX (n, 1);
  in[0] = graft_test_random (rand, big);
  for (gsize i = 0; i < n; i++)
    in[0][i] = in[0][i] * 2.0f + 0.5f;
  in[1] = graft_test_random (rand, big);
  in[2] = graft_test_random (rand, big);
  in[3] = graft_test_random (rand, big);
  in[4] = graft_test_random (rand, big);
  for (gsize i = 0; i < big; i++)
    in[4][i] = fabsf (in[4][i]) + 0.1f;
  in[5] = graft_test_random (rand, big);

  run (ctx->vk, c, in, vk, sizes);
  run (ctx->cpu, c, in, cpu, sizes);
  for (guint k = 0; k < 8; k++)
    {
      double err = graft_test_rel_error (vk[k], cpu[k], sizes[k]);

      if (err > TOL)
        g_error ("%s [%zu,%zu,%zu,%zu] w %d b %d train %d: %s off by %g",
                 c->batch ? "batch" : "layer", c->shape[0], c->shape[1], c->shape[2],
                 c->shape[3], c->has_w, c->has_b, c->training, names[k], err);
      g_free (vk[k]);
      g_free (cpu[k]);
    }
  for (guint k = 0; k < 6; k++)
    g_free (in[k]);
}

static void
test_random (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (21);

  if (!graft_test_have_vulkan (ctx))
    return;
  for (guint t = 0; t < 24; t++)
    {
      Case c = {
        .batch = t % 2 == 0, .has_w = g_rand_boolean (rand), .has_b = g_rand_boolean (rand),
        .training = g_rand_boolean (rand),
      };

      if (c.batch)
        {
          c.rank = 4;
          c.shape[0] = g_rand_int_range (rand, 1, 5);
          c.shape[1] = g_rand_int_range (rand, 1, 9);
          c.shape[2] = g_rand_int_range (rand, 1, 12);
          c.shape[3] = g_rand_int_range (rand, 1, 12);
          if (c.shape[0] * c.shape[2] * c.shape[3] < 2)
            c.training = FALSE;
        }
      else
        {
          c.rank = 2;
          c.training = TRUE;
          c.shape[0] = g_rand_int_range (rand, 1, 40);
          c.shape[1] = g_rand_int_range (rand, 2, 300);
        }
      check_case (ctx, rand, &c);
    }
}

static void
test_networks (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (22);
  Case resnet = { .batch = TRUE, .has_w = TRUE, .has_b = TRUE, .training = TRUE,
                  .shape = { 8, 64, 56, 56 }, .rank = 4 };
  Case frozen = { .batch = TRUE, .has_w = TRUE, .has_b = TRUE, .training = FALSE,
                  .shape = { 4, 256, 14, 14 }, .rank = 4 };
  Case vit = { .batch = FALSE, .has_w = TRUE, .has_b = TRUE, .training = TRUE,
               .shape = { 4, 197, 192 }, .rank = 3 };

  if (!graft_test_have_vulkan (ctx))
    return;
  check_case (ctx, rand, &resnet);
  check_case (ctx, rand, &frozen);
  check_case (ctx, rand, &vit);
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

  g_test_add_data_func ("/vulkan/norm/random", &ctx, test_random);
  g_test_add_data_func ("/vulkan/norm/networks", &ctx, test_networks);

  status = g_test_run ();
  graft_test_backends_close (&ctx);
  return status;
}
