/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Channel concatenation, nearest upsampling and dropout on the CPU backend against plain
 * loops written from PyTorch's definitions (torch.cat dim=1, F.interpolate nearest with
 * an integer scale factor, F.dropout), on odd sizes. */

#include <math.h>

#include "graft.h"
#include "graft-test-util.h"

static GraftBackend *cpu;

static GraftTensor *
tensor4 (gsize        n,
         gsize        c,
         gsize        h,
         gsize        w,
         const float *data)
{
  gsize shape[4] = { n, c, h, w };
  return graft_test_tensor (cpu, 4, shape, data);
}

static void
test_concat (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  const gsize channels[][4] = { { 3, 0, 0, 0 }, { 1, 2, 0, 0 }, { 5, 1, 4, 0 }, { 2, 3, 1, 7 } };

  for (guint k = 0; k < G_N_ELEMENTS (channels); k++)
    {
      gsize n = 3, h = 5, w = 7, total = 0;
      guint count = 0;
      GraftTensor *in[4], *grad[4];
      float *data[4];
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftTensor) out = NULL;
      g_autofree float *got = NULL;

      while (count < 4 && channels[k][count] != 0)
        {
          data[count] = graft_test_random (rand, n * channels[k][count] * h * w);
          in[count] = tensor4 (n, channels[k][count], h, w, data[count]);
          grad[count] = tensor4 (n, channels[k][count], h, w, NULL);
          total += channels[k][count];
          count++;
        }
      out = tensor4 (n, total, h, w, NULL);
      g_assert_true (graft_op_concat_channels (in, count, out, &error));
      g_assert_no_error (error);
      got = graft_test_download (out);

      /* y[b, c0 + c, :] = in_i[b, c, :] with c0 the channels before input i. */
      for (gsize b = 0; b < n; b++)
        {
          gsize c0 = 0;
          for (guint i = 0; i < count; i++)
            {
              for (gsize c = 0; c < channels[k][i]; c++)
                for (gsize s = 0; s < h * w; s++)
                  g_assert_cmpfloat (got[((b * total) + c0 + c) * h * w + s], ==,
                                     data[i][((b * channels[k][i]) + c) * h * w + s]);
              c0 += channels[k][i];
            }
        }

      /* The backward pass splits it back into the inputs. */
      g_assert_true (graft_op_concat_channels_backward (out, grad, count, &error));
      g_assert_no_error (error);
      for (guint i = 0; i < count; i++)
        {
          g_autofree float *back = graft_test_download (grad[i]);
          g_assert_cmpmem (back, n * channels[k][i] * h * w * sizeof (float),
                           data[i], n * channels[k][i] * h * w * sizeof (float));
          graft_tensor_unref (in[i]);
          graft_tensor_unref (grad[i]);
          g_free (data[i]);
        }
    }
}

static void
test_concat_errors (void)
{
  g_autoptr(GraftTensor) a = tensor4 (2, 3, 4, 5, NULL);
  g_autoptr(GraftTensor) b = tensor4 (2, 2, 4, 6, NULL);
  g_autoptr(GraftTensor) out = tensor4 (2, 5, 4, 5, NULL);
  g_autoptr(GError) error = NULL;
  GraftTensor *both[2] = { a, b };
  GraftTensor *same[2] = { a, a };

  g_assert_false (graft_op_concat_channels (both, 2, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_concat_channels (both, 0, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_concat_channels (same, 1, out, &error));   /* 3 != 5 channels */
  g_assert_nonnull (error);
}

static void
test_upsample (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);

  for (guint s = 1; s <= 3; s++)
    {
      gsize n = 2, c = 3, h = 5, w = 7, oh = h * s, ow = w * s;
      g_autofree float *x = graft_test_random (rand, n * c * h * w);
      g_autofree float *dy = graft_test_random (rand, n * c * oh * ow);
      g_autoptr(GraftTensor) tx = tensor4 (n, c, h, w, x);
      g_autoptr(GraftTensor) tout = tensor4 (n, c, oh, ow, NULL);
      g_autoptr(GraftTensor) tdy = tensor4 (n, c, oh, ow, dy);
      g_autoptr(GraftTensor) tdx = tensor4 (n, c, h, w, NULL);
      g_autoptr(GError) error = NULL;
      g_autofree float *out = NULL, *dx = NULL;

      g_assert_true (graft_op_upsample_nearest2d (tx, s, tout, &error));
      g_assert_true (graft_op_upsample_nearest2d_backward (tdy, s, tdx, &error));
      g_assert_no_error (error);
      out = graft_test_download (tout);
      dx = graft_test_download (tdx);

      /* PyTorch nearest: source index floor (dst * (1 / s)), which is dst / s. */
      for (gsize p = 0; p < n * c; p++)
        for (gsize i = 0; i < oh; i++)
          for (gsize j = 0; j < ow; j++)
            g_assert_cmpfloat (out[(p * oh + i) * ow + j], ==,
                               x[(p * h + (gsize) floor ((double) i / s)) * w + (gsize) floor ((double) j / s)]);

      /* The backward pass in double: at most 9 float terms, so float32 differs by a few
       * ulps of the sum (< 1e-6 for values in [-9, 9]); a missed term is off by ~0.5. */
      for (gsize p = 0; p < n * c; p++)
        for (gsize i = 0; i < h; i++)
          for (gsize j = 0; j < w; j++)
            {
              double sum = 0.0;
              for (gsize a = 0; a < oh; a++)
                for (gsize b = 0; b < ow; b++)
                  if (a / s == i && b / s == j)
                    sum += dy[(p * oh + a) * ow + b];
              g_assert_cmpfloat_with_epsilon (dx[(p * h + i) * w + j], sum, 1e-5);
            }
    }
}

static void
test_upsample_errors (void)
{
  g_autoptr(GraftTensor) x = tensor4 (1, 2, 3, 4, NULL);
  g_autoptr(GraftTensor) out = tensor4 (1, 2, 6, 9, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (graft_op_upsample_nearest2d (x, 2, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_upsample_nearest2d (x, 0, out, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
}

/* Runs dropout of @x (n values) and returns the output. */
static float *
dropout (const float *x,
         gsize        n,
         float        p,
         guint64      seed,
         gboolean     training,
         gboolean     backward)
{
  gsize shape[2] = { 7, n / 7 };
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 2, shape, x);
  g_autoptr(GraftTensor) ty = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GError) error = NULL;

  if (backward)
    g_assert_true (graft_op_dropout_backward (tx, p, seed, training, ty, &error));
  else
    g_assert_true (graft_op_dropout (tx, p, seed, training, ty, &error));
  g_assert_no_error (error);
  return graft_test_download (ty);
}

static void
test_dropout (void)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  const float ps[] = { 0.0f, 0.1f, 0.5f };
  gsize n = 7 * 14287;   /* 100009 values */
  g_autofree float *x = graft_test_random (rand, n);

  for (guint k = 0; k < G_N_ELEMENTS (ps); k++)
    {
      float p = ps[k];
      float scale = (float) (1.0 / (1.0 - (double) p));
      g_autofree float *y = dropout (x, n, p, 42, TRUE, FALSE);
      g_autofree float *again = dropout (x, n, p, 42, TRUE, FALSE);
      g_autofree float *other = dropout (x, n, p, 43, TRUE, FALSE);
      g_autofree float *dx = dropout (x, n, p, 42, TRUE, TRUE);
      g_autofree float *eval = dropout (x, n, p, 42, FALSE, FALSE);
      gsize zeros = 0, differ = 0;
      double mean = n * (double) p, sd = sqrt (n * (double) p * (1.0 - p));

      for (gsize i = 0; i < n; i++)
        {
          /* x is never exactly 0, so a 0 is a dropped value; the rest scaled exactly. */
          if (y[i] == 0.0f)
            zeros++;
          else
            g_assert_cmpfloat (y[i], ==, x[i] * scale);
          if ((other[i] == 0.0f) != (y[i] == 0.0f))
            differ++;
          g_assert_cmpfloat (eval[i], ==, x[i]);
        }
      /* Same seed, same mask; the backward pass uses it too (dx = dy * mask * scale with
       * dy = x here, so it equals the forward output). */
      g_assert_cmpmem (again, n * sizeof (float), y, n * sizeof (float));
      g_assert_cmpmem (dx, n * sizeof (float), y, n * sizeof (float));

      /* Dropped values are Binomial (n, p): within 6 standard deviations of n p (fails
       * by chance with probability ~2e-9). */
      g_test_message ("p = %g: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " dropped", p, zeros, n);
      g_assert_cmpfloat (fabs ((double) zeros - mean), <=, 6.0 * sd);
      if (p == 0.0f)
        g_assert_cmpmem (y, n * sizeof (float), x, n * sizeof (float));
      else
        /* Two seeds' masks are independent: they differ at 2 p (1 - p) n places. */
        g_assert_cmpfloat (fabs ((double) differ - 2.0 * mean * (1.0 - p)), <=,
                           6.0 * sqrt (2.0 * mean * (1.0 - p)) + 1.0);
    }
}

static void
test_dropout_errors (void)
{
  gsize shape[2] = { 3, 4 }, other[2] = { 4, 3 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 2, other, NULL);
  g_autoptr(GraftTensor) z = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GError) error = NULL;

  g_assert_false (graft_op_dropout (x, 0.5f, 1, TRUE, y, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_false (graft_op_dropout (x, 1.5f, 1, TRUE, z, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
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

  g_test_add_func ("/cpu/shape/concat", test_concat);
  g_test_add_func ("/cpu/shape/concat-errors", test_concat_errors);
  g_test_add_func ("/cpu/shape/upsample", test_upsample);
  g_test_add_func ("/cpu/shape/upsample-errors", test_upsample_errors);
  g_test_add_func ("/cpu/shape/dropout", test_dropout);
  g_test_add_func ("/cpu/shape/dropout-errors", test_dropout_errors);

  status = g_test_run ();
  graft_backend_unref (cpu);
  return status;
}
