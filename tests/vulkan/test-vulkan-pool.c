/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Pooling on Vulkan against the CPU backend, forward and backward, through the public
 * ops on the same inputs: random small shapes that reach every window rule, ties for
 * max pooling, and the feature-map sizes where networks pool (the stem's 3 x 3 max pool,
 * global average pooling of 7 x 7 and of large planes). */

#include <float.h>

#include "graft-test-vulkan.h"

/* Average pooling: the CPU sums a window in double, Vulkan in float. The float sum of k
 * values is off by about sqrt(k)·eps of its size (errors of random sign), so the
 * normalised error stays below sqrt(k)·eps; a factor 8 of margin keeps a correct kernel
 * inside (2e-5 for a 7 x 7 window, 5e-5 for a 56 x 56 plane) while a wrong window or
 * divisor gives errors of 1e-2 or more. The backward passes add the same float terms in
 * the same order on both sides; the same bound, with k the number of windows that can
 * cover an input, leaves room for a division rounded differently. */
static double
tolerance (gsize k)
{
  return 8.0 * sqrt ((double) k + 2.0) * FLT_EPSILON;
}

typedef enum { KIND_MAX, KIND_AVG, KIND_ADAPTIVE } Kind;

typedef GraftTestBackends Context;

typedef struct {
  Kind              kind;
  gsize             in[4];
  gsize             out[4];
  GraftPool2dParams p;
} Case;

static gsize
n_of (const gsize shape[4])
{
  return shape[0] * shape[1] * shape[2] * shape[3];
}

static void
forward (GraftBackend  *backend,
         const Case    *c,
         const float   *x,
         float        **out,
         float        **indices)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tx = graft_test_tensor (backend, 4, c->in, x);
  g_autoptr(GraftTensor) tout = graft_test_tensor (backend, 4, c->out, NULL);
  g_autoptr(GraftTensor) tidx = graft_test_tensor (backend, 4, c->out, NULL);

  if (c->kind == KIND_MAX)
    graft_op_max_pool2d (tx, &c->p, tout, tidx, &error);
  else if (c->kind == KIND_AVG)
    graft_op_avg_pool2d (tx, &c->p, tout, &error);
  else
    graft_op_adaptive_avg_pool2d (tx, tout, &error);
  g_assert_no_error (error);

  *out = graft_test_download (tout);
  *indices = c->kind == KIND_MAX ? graft_test_download (tidx) : NULL;
}

static float *
backward (GraftBackend *backend,
          const Case   *c,
          const float  *grad_out,
          const float  *indices)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tgo = graft_test_tensor (backend, 4, c->out, grad_out);
  g_autoptr(GraftTensor) tidx = indices != NULL ? graft_test_tensor (backend, 4, c->out, indices) : NULL;
  g_autoptr(GraftTensor) tgi = graft_test_tensor (backend, 4, c->in, NULL);

  /* Every input gradient must be written: start from the value it should not keep. */
  graft_op_fill (tgi, NAN, &error);
  g_assert_no_error (error);

  if (c->kind == KIND_MAX)
    graft_op_max_pool2d_backward (tgo, tidx, &c->p, tgi, &error);
  else if (c->kind == KIND_AVG)
    graft_op_avg_pool2d_backward (tgo, &c->p, tgi, &error);
  else
    graft_op_adaptive_avg_pool2d_backward (tgo, tgi, &error);
  g_assert_no_error (error);
  return graft_test_download (tgi);
}

static void
check_case (Context    *ctx,
            GRand      *rand,
            const Case *c,
            gboolean    ties)
{
  gsize n_in = n_of (c->in), n_out = n_of (c->out);
  g_autofree float *x = graft_test_random (rand, n_in);
  g_autofree float *r = graft_test_random (rand, n_out);
  float *out[2] = { NULL, NULL };
  float *idx[2] = { NULL, NULL };
  float *grad[2] = { NULL, NULL };
  GraftBackend *backends[2] = { ctx->vk, ctx->cpu };
  g_autofree char *what = NULL;
  gsize k;
  double err;

  what = g_strdup_printf ("%s in [%zu,%zu,%zu,%zu] out %zux%zu k %ux%u s %ux%u p %ux%u d %ux%u ceil %d cip %d",
                          c->kind == KIND_MAX ? "max" : c->kind == KIND_AVG ? "avg" : "adaptive",
                          c->in[0], c->in[1], c->in[2], c->in[3], c->out[2], c->out[3],
                          c->p.kernel_h, c->p.kernel_w, c->p.stride_h, c->p.stride_w,
                          c->p.pad_h, c->p.pad_w, c->p.dilation_h, c->p.dilation_w,
                          c->p.ceil_mode, c->p.count_include_pad);

  if (ties)
    for (gsize i = 0; i < n_in; i++)
      x[i] = (float) g_rand_int_range (rand, -1, 2);

  for (guint b = 0; b < 2; b++)
    forward (backends[b], c, x, &out[b], &idx[b]);

  if (c->kind == KIND_MAX)
    {
      /* Both select the same input: identical values and positions. */
      for (gsize i = 0; i < n_out; i++)
        if (out[0][i] != out[1][i] || idx[0][i] != idx[1][i])
          g_error ("%s: output %zu is %g at %g on Vulkan, %g at %g on the CPU",
                   what, i, out[0][i], idx[0][i], out[1][i], idx[1][i]);
      k = c->p.kernel_h * c->p.kernel_w;
    }
  else
    {
      k = c->kind == KIND_AVG ? c->p.kernel_h * c->p.kernel_w : c->in[2] * c->in[3];
      err = graft_test_rel_error (out[0], out[1], n_out);
      if (!(err <= tolerance (k)))
        g_error ("%s: forward error %.3g > %.3g", what, err, tolerance (k));
    }

  for (guint b = 0; b < 2; b++)
    grad[b] = backward (backends[b], c, r, idx[1]);
  err = graft_test_rel_error (grad[0], grad[1], n_in);
  if (!(err <= tolerance (k)))
    g_error ("%s: backward error %.3g > %.3g", what, err, tolerance (k));

  for (guint b = 0; b < 2; b++)
    {
      g_free (out[b]);
      g_free (idx[b]);
      g_free (grad[b]);
    }
}

static void
test_random (Context *ctx,
             Kind     kind)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (99 + kind);
  guint done = 0;

  if (!graft_test_have_vulkan (ctx))
    return;

  while (done < 40)
    {
      g_autoptr(GError) error = NULL;
      Case c = { .kind = kind };

      c.in[0] = g_rand_int_range (rand, 1, 3);
      c.in[1] = g_rand_int_range (rand, 1, 4);
      c.in[2] = g_rand_int_range (rand, 1, 16);
      c.in[3] = g_rand_int_range (rand, 1, 16);
      graft_pool2d_params_init (&c.p, g_rand_int_range (rand, 1, 5), g_rand_int_range (rand, 1, 5));

      if (kind == KIND_ADAPTIVE)
        {
          c.out[0] = c.in[0];
          c.out[1] = c.in[1];
          c.out[2] = g_rand_int_range (rand, 1, (gint32) c.in[2] + 3);
          c.out[3] = g_rand_int_range (rand, 1, (gint32) c.in[3] + 3);
        }
      else
        {
          c.p.stride_h = g_rand_int_range (rand, 1, 4);
          c.p.stride_w = g_rand_int_range (rand, 1, 4);
          c.p.pad_h = g_rand_int_range (rand, 0, (gint32) c.p.kernel_h / 2 + 1);
          c.p.pad_w = g_rand_int_range (rand, 0, (gint32) c.p.kernel_w / 2 + 1);
          if (kind == KIND_MAX)
            {
              c.p.dilation_h = g_rand_int_range (rand, 1, 3);
              c.p.dilation_w = g_rand_int_range (rand, 1, 3);
            }
          c.p.ceil_mode = g_rand_boolean (rand);
          c.p.count_include_pad = g_rand_boolean (rand);
          if (!graft_pool2d_output_shape (c.in, &c.p, c.out, &error))
            continue;
        }

      check_case (ctx, rand, &c, FALSE);
      if (kind == KIND_MAX)
        check_case (ctx, rand, &c, TRUE);
      done++;
    }
}

static void
test_max (gconstpointer data)
{
  test_random ((Context *) data, KIND_MAX);
}

static void
test_avg (gconstpointer data)
{
  test_random ((Context *) data, KIND_AVG);
}

static void
test_adaptive (gconstpointer data)
{
  test_random ((Context *) data, KIND_ADAPTIVE);
}

/* Where networks pool: ResNet's stem (3 x 3, stride 2, padding 1 on 112 x 112), and
 * global average pooling of 7 x 7 maps (one invocation per plane) and of larger ones
 * (one workgroup per plane on GPUs; on CPU devices only for a few planes, as the 15
 * here, so that lavapipe runs both kernels). */
static void
test_networks (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  Case stem = { .kind = KIND_MAX, .in = { 2, 16, 112, 112 } };
  Case gap7 = { .kind = KIND_ADAPTIVE, .in = { 8, 512, 7, 7 }, .out = { 8, 512, 1, 1 } };
  Case gap56 = { .kind = KIND_ADAPTIVE, .in = { 2, 64, 56, 56 }, .out = { 2, 64, 1, 1 } };
  Case gap_odd = { .kind = KIND_ADAPTIVE, .in = { 3, 5, 33, 31 }, .out = { 3, 5, 1, 1 } };
  Case avg = { .kind = KIND_AVG, .in = { 2, 32, 28, 28 } };
  g_autoptr(GError) error = NULL;

  if (!graft_test_have_vulkan (ctx))
    return;

  graft_pool2d_params_init (&stem.p, 3, 3);
  stem.p.stride_h = stem.p.stride_w = 2;
  stem.p.pad_h = stem.p.pad_w = 1;
  g_assert_true (graft_pool2d_output_shape (stem.in, &stem.p, stem.out, &error));
  g_assert_cmpuint (stem.out[2], ==, 56);

  graft_pool2d_params_init (&avg.p, 2, 2);
  g_assert_true (graft_pool2d_output_shape (avg.in, &avg.p, avg.out, &error));

  check_case (ctx, rand, &stem, FALSE);
  check_case (ctx, rand, &gap7, FALSE);
  check_case (ctx, rand, &gap56, FALSE);
  check_case (ctx, rand, &gap_odd, FALSE);
  check_case (ctx, rand, &avg, FALSE);
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

  g_test_add_data_func ("/vulkan/pool/max", &ctx, test_max);
  g_test_add_data_func ("/vulkan/pool/avg", &ctx, test_avg);
  g_test_add_data_func ("/vulkan/pool/adaptive", &ctx, test_adaptive);
  g_test_add_data_func ("/vulkan/pool/networks", &ctx, test_networks);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
