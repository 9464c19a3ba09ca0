/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "backend/graft-backend.h"

G_BEGIN_DECLS

typedef struct {
  guint32 m, n, k;
  guint   iterations;     /* timed runs, after one untimed warm-up */
  double  seconds;        /* wall time of the timed runs, upload excluded */
  double  gflops;         /* 2 m n k iterations / seconds / 1e9 */
  double  max_rel_error;  /* |C - reference| / (|A| |B| row-column norm bound) on a sample */
} GraftGemmBench;

/* Times C = A B on @backend (A: m x k, B: k x n, random values) for at least
 * @min_seconds and at least 2 runs, waiting for the device after each run. */
gboolean graft_bench_gemm           (GraftBackend    *backend,
                                     guint32          m,
                                     guint32          n,
                                     guint32          k,
                                     double           min_seconds,
                                     GraftGemmBench  *result,
                                     GError         **error);

/* The same measurement with OpenBLAS called directly on host memory: the peer every
 * device is compared with. */
void     graft_bench_gemm_openblas  (guint32          m,
                                     guint32          n,
                                     guint32          k,
                                     double           min_seconds,
                                     GraftGemmBench  *result);

G_END_DECLS
