/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The CPU backend is the reference every Vulkan kernel is compared with, so it is itself
 * checked here against plain double-precision loops. */

#include <math.h>

#include "graft.h"
#include "graft-test-util.h"

/* float32 results against a double-precision reference: the error of a length-k dot
 * product grows like sqrt(k)·2^-24 relative to the norm; 1e-5 leaves a wide margin for
 * k up to a few thousand while any indexing or transpose mistake gives errors near 1. */
#define TOLERANCE 1e-5

static double
rel_error (const float  *got,
           const double *want,
           gsize         n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      diff += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
  return sqrt (diff) / MAX (sqrt (norm), 1e-30);
}

static void
check_gemm (GraftBackend *cpu,
            GRand        *rand,
            guint         m,
            guint         n,
            guint         k,
            gboolean      ta,
            gboolean      tb,
            gboolean      with_bias,
            float         alpha,
            float         beta)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *a = graft_test_random (rand, (gsize) m * k);
  g_autofree float *b = graft_test_random (rand, (gsize) k * n);
  g_autofree float *c0 = graft_test_random (rand, (gsize) m * n);
  g_autofree float *bias = graft_test_random (rand, n);
  g_autofree float *got = g_new (float, (gsize) m * n);
  g_autofree double *want = g_new (double, (gsize) m * n);
  gsize sa[2] = { ta ? k : m, ta ? m : k };
  gsize sb[2] = { tb ? n : k, tb ? k : n };
  gsize sc[2] = { m, n };
  gsize sbias[1] = { n };
  g_autoptr(GraftTensor) ta_t = graft_test_tensor (cpu, 2, sa, a);
  g_autoptr(GraftTensor) tb_t = graft_test_tensor (cpu, 2, sb, b);
  g_autoptr(GraftTensor) tc_t = graft_test_tensor (cpu, 2, sc, c0);
  g_autoptr(GraftTensor) tbias = graft_test_tensor (cpu, 1, sbias, bias);

  for (guint i = 0; i < m; i++)
    for (guint j = 0; j < n; j++)
      {
        double sum = 0.0;
        for (guint p = 0; p < k; p++)
          {
            double x = ta ? a[(gsize) p * m + i] : a[(gsize) i * k + p];
            double y = tb ? b[(gsize) j * k + p] : b[(gsize) p * n + j];
            sum += x * y;
          }
        want[(gsize) i * n + j] = alpha * sum + (beta != 0.0f ? beta * c0[(gsize) i * n + j] : 0.0)
                                  + (with_bias ? bias[j] : 0.0);
      }

  g_assert_true (graft_op_gemm (ta_t, ta, tb_t, tb, with_bias ? tbias : NULL, alpha, beta, tc_t, &error));
  g_assert_true (graft_tensor_download (tc_t, got, (gsize) m * n, &error));
  g_assert_no_error (error);
  if (rel_error (got, want, (gsize) m * n) > TOLERANCE)
    g_error ("gemm %ux%ux%u ta=%d tb=%d bias=%d: relative error %g", m, n, k, ta, tb, with_bias,
             rel_error (got, want, (gsize) m * n));
}

static void
test_gemm (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  GRand *rand = g_rand_new_with_seed (7);
  /* the last two are large enough to be split across the worker threads: by panels of
   * rows (m >= n) and by panels of columns */
  const guint sizes[][3] = { { 1, 1, 1 }, { 3, 5, 7 }, { 17, 1, 33 }, { 64, 64, 64 }, { 65, 31, 129 },
                             { 151, 97, 160 }, { 37, 301, 203 } };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (guint t = 0; t < 4; t++)
      {
        check_gemm (cpu, rand, sizes[s][0], sizes[s][1], sizes[s][2], t & 1, t >> 1, FALSE, 1.0f, 0.0f);
        check_gemm (cpu, rand, sizes[s][0], sizes[s][1], sizes[s][2], t & 1, t >> 1, TRUE, 0.5f, 0.0f);
        check_gemm (cpu, rand, sizes[s][0], sizes[s][1], sizes[s][2], t & 1, t >> 1, TRUE, 1.5f, -2.0f);
      }
  g_rand_free (rand);
}

static void
check_binary (GraftBackend *cpu,
              GRand        *rand,
              gboolean      mul,
              guint         rank_a,
              const gsize  *shape_a,
              guint         rank_b,
              const gsize  *shape_b)
{
  g_autoptr(GError) error = NULL;
  guint rank = MAX (rank_a, rank_b);
  gsize shape[GRAFT_TENSOR_MAX_RANK], na = 1, nb = 1, n = 1;
  g_autofree float *a = NULL, *b = NULL, *got = NULL;
  g_autofree double *want = NULL;
  g_autoptr(GraftTensor) ta = NULL, tb = NULL, out = NULL;

  for (guint d = 0; d < rank; d++)
    {
      gsize da = d + rank_a >= rank ? shape_a[d + rank_a - rank] : 1;
      gsize db = d + rank_b >= rank ? shape_b[d + rank_b - rank] : 1;
      shape[d] = MAX (da, db);
      n *= shape[d];
    }
  for (guint d = 0; d < rank_a; d++)
    na *= shape_a[d];
  for (guint d = 0; d < rank_b; d++)
    nb *= shape_b[d];

  a = graft_test_random (rand, na);
  b = graft_test_random (rand, nb);
  got = g_new (float, n);
  want = g_new (double, n);

  /* Reference: walk every output coordinate and find each input's element by hand. */
  for (gsize i = 0; i < n; i++)
    {
      gsize rest = i, ia = 0, ib = 0, stride_a = 1, stride_b = 1;
      for (guint d = rank; d-- > 0;)
        {
          gsize coord = rest % shape[d];
          rest /= shape[d];
          if (d + rank_a >= rank)
            {
              gsize dim = shape_a[d + rank_a - rank];
              ia += (dim == 1 ? 0 : coord) * stride_a;
              stride_a *= dim;
            }
          if (d + rank_b >= rank)
            {
              gsize dim = shape_b[d + rank_b - rank];
              ib += (dim == 1 ? 0 : coord) * stride_b;
              stride_b *= dim;
            }
        }
      want[i] = mul ? (double) a[ia] * b[ib] : (double) a[ia] + b[ib];
    }

  ta = graft_test_tensor (cpu, rank_a, shape_a, a);
  tb = graft_test_tensor (cpu, rank_b, shape_b, b);
  out = graft_test_tensor (cpu, rank, shape, NULL);
  if (mul)
    g_assert_true (graft_op_mul (ta, tb, out, &error));
  else
    g_assert_true (graft_op_add (ta, tb, out, &error));
  g_assert_true (graft_tensor_download (out, got, n, &error));
  g_assert_no_error (error);
  /* One rounding of an exact float op: 2^-24 relative per element. */
  g_assert_cmpfloat (rel_error (got, want, n), <=, 1e-7);
}

static void
test_broadcast (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  GRand *rand = g_rand_new_with_seed (11);
  const gsize s234[] = { 2, 3, 4 }, s4[] = { 4 }, s1[] = { 1 }, s31[] = { 3, 1 };
  const gsize s2345[] = { 2, 3, 4, 5 }, s15[] = { 1, 5 }, s1311[] = { 1, 3, 1, 1 };
  const gsize big[] = { 300, 1024 }, bigrow[] = { 1024 }, bigcol[] = { 300, 1 };

  for (int mul = 0; mul < 2; mul++)
    {
      check_binary (cpu, rand, mul, 3, s234, 3, s234);
      check_binary (cpu, rand, mul, 3, s234, 1, s4);
      check_binary (cpu, rand, mul, 1, s1, 3, s234);
      check_binary (cpu, rand, mul, 2, s31, 1, s4);
      check_binary (cpu, rand, mul, 4, s2345, 2, s15);
      check_binary (cpu, rand, mul, 4, s2345, 4, s1311);
      /* large enough to be split across the worker threads */
      check_binary (cpu, rand, mul, 2, big, 1, bigrow);
      check_binary (cpu, rand, mul, 2, big, 2, bigcol);
    }
  g_rand_free (rand);
}

static void
test_fill_scale_inplace (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  g_autoptr(GError) error = NULL;
  const gsize shape[] = { 3, 100000 };
  const gsize n = 300000;
  g_autoptr(GraftTensor) t = graft_test_tensor (cpu, 2, shape, NULL);
  g_autoptr(GraftTensor) u = graft_test_tensor (cpu, 2, shape, NULL);
  g_autofree float *got = g_new (float, n);

  g_assert_true (graft_op_fill (t, 1.25f, &error));
  g_assert_true (graft_op_scale (t, -4.0f, t, &error));
  g_assert_true (graft_op_fill (u, 0.5f, &error));
  g_assert_true (graft_op_add (t, u, u, &error));   /* in place: u = t + u */
  g_assert_true (graft_tensor_download (u, got, n, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++)
    g_assert_cmpfloat (got[i], ==, -4.5f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/cpu/gemm", test_gemm);
  g_test_add_func ("/cpu/broadcast", test_broadcast);
  g_test_add_func ("/cpu/fill-scale-inplace", test_fill_scale_inplace);

  return g_test_run ();
}
