/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal API shared by the files of the CPU backend.
 *
 *   graft-cpu-backend.c     buffers, the worker threads, fill, scale, binary, GEMM
 *   graft-cpu-activation.c  activation functions, forward and backward
 *   graft-cpu-pool.c        max, average and adaptive average pooling */

#include "backend/graft-backend-private.h"

G_BEGIN_DECLS

struct _GraftBuffer {
  gsize  size;
  float *data;
};

typedef struct _GraftCpuBackend GraftCpuBackend;

/* Work on the elements [start, end) of an op described by @ctx. */
typedef void (*GraftCpuRangeFunc) (gpointer ctx,
                                   guint32  start,
                                   guint32  end);

/* Calls @func on disjoint ranges covering [0, n), on the worker threads and the calling
 * thread when @n is large enough to pay for it; returns when all have finished. */
void     _graft_cpu_parallel_for         (GraftCpuBackend    *self,
                                          guint32             n,
                                          GraftCpuRangeFunc   func,
                                          gpointer            ctx);

gboolean _graft_cpu_activation           (GraftBackend       *backend,
                                          GraftActivation     act,
                                          GraftBuffer        *x,
                                          GraftBuffer        *y,
                                          guint32             n,
                                          GError            **error);
gboolean _graft_cpu_activation_backward  (GraftBackend       *backend,
                                          GraftActivation     act,
                                          GraftBuffer        *x,
                                          GraftBuffer        *dy,
                                          GraftBuffer        *dx,
                                          guint32             n,
                                          GError            **error);

/* graft-cpu-pool.c */
gboolean _graft_cpu_pool2d               (GraftBackend         *backend,
                                          const GraftPoolPlan  *plan,
                                          GraftBuffer          *x,
                                          GraftBuffer          *out,
                                          GraftBuffer          *indices,
                                          GError              **error);
gboolean _graft_cpu_pool2d_backward      (GraftBackend         *backend,
                                          const GraftPoolPlan  *plan,
                                          GraftBuffer          *grad_out,
                                          GraftBuffer          *indices,
                                          GraftBuffer          *grad_in,
                                          GError              **error);

G_END_DECLS
