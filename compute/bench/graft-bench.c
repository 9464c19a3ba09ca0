/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-bench"

#include <cblas.h>
#include <math.h>

#include "graft-bench.h"
#include "tensor/graft-ops.h"

static void
random_fill (float   *data,
             gsize    n,
             guint32  seed)
{
  GRand *rand = g_rand_new_with_seed (seed);

  for (gsize i = 0; i < n; i++)
    data[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  g_rand_free (rand);
}

/* Checks a few entries of C against a double-precision dot product; returns the largest
 * error relative to sum |a||b| along that dot product (so it is scale free). */
static double
spot_check (const float *a,
            const float *b,
            const float *c,
            guint32      m,
            guint32      n,
            guint32      k)
{
  double worst = 0.0;

  for (guint s = 0; s < 16; s++)
    {
      guint32 row = (guint32) (((guint64) s * 7919u) % m);
      guint32 col = (guint32) (((guint64) s * 104729u) % n);
      double sum = 0.0, bound = 0.0;

      for (guint32 i = 0; i < k; i++)
        {
          double x = a[(gsize) row * k + i], y = b[(gsize) i * n + col];
          sum += x * y;
          bound += fabs (x * y);
        }
      worst = MAX (worst, fabs (c[(gsize) row * n + col] - sum) / MAX (bound, 1e-30));
    }
  return worst;
}

static void
finish (GraftGemmBench *r,
        guint32         m,
        guint32         n,
        guint32         k,
        guint           iterations,
        double          seconds)
{
  r->m = m;
  r->n = n;
  r->k = k;
  r->iterations = iterations;
  r->seconds = seconds;
  r->gflops = 2.0 * m * n * (double) k * iterations / MAX (seconds, 1e-9) / 1e9;
}

gboolean
graft_bench_gemm (GraftBackend    *backend,
                  guint32          m,
                  guint32          n,
                  guint32          k,
                  double           min_seconds,
                  GraftGemmBench  *result,
                  GError         **error)
{
  g_autoptr(GraftTensor) ta = NULL, tb = NULL, tc = NULL;
  g_autofree float *a = g_new (float, (gsize) m * k);
  g_autofree float *b = g_new (float, (gsize) k * n);
  g_autofree float *c = g_new (float, (gsize) m * n);
  guint iterations = 0;
  gint64 start;

  g_return_val_if_fail (backend != NULL && result != NULL, FALSE);

  random_fill (a, (gsize) m * k, 1);
  random_fill (b, (gsize) k * n, 2);

  if ((ta = graft_tensor_new_2d (backend, m, k, error)) == NULL ||
      (tb = graft_tensor_new_2d (backend, k, n, error)) == NULL ||
      (tc = graft_tensor_new_2d (backend, m, n, error)) == NULL ||
      !graft_tensor_upload (ta, a, (gsize) m * k, error) ||
      !graft_tensor_upload (tb, b, (gsize) k * n, error))
    return FALSE;

  /* Warm-up: pipeline creation, first-touch of memory. */
  if (!graft_op_gemm (ta, FALSE, tb, FALSE, NULL, 1.0f, 0.0f, tc, error) ||
      !graft_backend_synchronize (backend, error))
    return FALSE;

  start = g_get_monotonic_time ();
  while (iterations < 2 || (g_get_monotonic_time () - start) < min_seconds * G_USEC_PER_SEC)
    {
      if (!graft_op_gemm (ta, FALSE, tb, FALSE, NULL, 1.0f, 0.0f, tc, error) ||
          !graft_backend_synchronize (backend, error))
        return FALSE;
      iterations++;
    }
  finish (result, m, n, k, iterations, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);

  if (!graft_tensor_download (tc, c, (gsize) m * n, error))
    return FALSE;
  result->max_rel_error = spot_check (a, b, c, m, n, k);
  return TRUE;
}

void
graft_bench_gemm_openblas (guint32          m,
                           guint32          n,
                           guint32          k,
                           double           min_seconds,
                           GraftGemmBench  *result)
{
  g_autofree float *a = g_new (float, (gsize) m * k);
  g_autofree float *b = g_new (float, (gsize) k * n);
  g_autofree float *c = g_new (float, (gsize) m * n);
  guint iterations = 0;
  gint64 start;
  /* the peer runs on every core (a CPU backend, once opened, leaves OpenBLAS at one
   * thread and does its own threading) */
  int threads = openblas_get_num_threads ();

  openblas_set_num_threads ((int) g_get_num_processors ());
  random_fill (a, (gsize) m * k, 1);
  random_fill (b, (gsize) k * n, 2);

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint) m, (blasint) n, (blasint) k,
               1.0f, a, (blasint) k, b, (blasint) n, 0.0f, c, (blasint) n);

  start = g_get_monotonic_time ();
  while (iterations < 2 || (g_get_monotonic_time () - start) < min_seconds * G_USEC_PER_SEC)
    {
      cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint) m, (blasint) n, (blasint) k,
                   1.0f, a, (blasint) k, b, (blasint) n, 0.0f, c, (blasint) n);
      iterations++;
    }
  finish (result, m, n, k, iterations, (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC);
  result->max_rel_error = spot_check (a, b, c, m, n, k);  openblas_set_num_threads (threads);
}
