/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Shape ops on the CPU: strided copies (channel concatenation), nearest upsampling and
 * dropout. All split their output across the worker threads by element ranges; the
 * upsampling backward pass sums each block in the same order as the Vulkan kernel. */

#include <string.h>

#include "graft-cpu-private.h"

typedef struct {
  gconstpointer  plan;
  const float   *src;
  float         *dst;
} ShapeCtx;

/* ---- strided copy ------------------------------------------------------------------- */

static void
copy_range (gpointer ctx,
            guint32  start,
            guint32  end)
{
  const ShapeCtx *c = ctx;
  const GraftCopyPlan *p = c->plan;

  /* Element e of the copy is row e / block, column e % block: copy run by run. */
  while (start < end)
    {
      guint32 o = start / p->block, i = start - o * p->block;
      guint32 len = MIN (p->block - i, end - start);

      memcpy (c->dst + (gsize) o * p->dst_stride + p->dst_offset + i,
              c->src + (gsize) o * p->src_stride + p->src_offset + i,
              (gsize) len * sizeof (float));
      start += len;
    }
}

gboolean
_graft_cpu_copy_strided (GraftBackend         *backend,
                         const GraftCopyPlan  *plan,
                         GraftBuffer          *src,
                         GraftBuffer          *dst,
                         GError              **error)
{
  ShapeCtx c = { plan, src->data, dst->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->outer * plan->block, copy_range, &c);
  return TRUE;
}

/* ---- nearest upsampling ------------------------------------------------------------- */

/* Over output elements. */
static void
upsample_range (gpointer ctx,
                guint32  start,
                guint32  end)
{
  const ShapeCtx *c = ctx;
  const GraftUpsamplePlan *p = c->plan;
  guint32 out_w = p->in_w * p->scale, out_h = p->in_h * p->scale;

  for (guint32 i = start; i < end; i++)
    {
      guint32 t = i / out_w, w = i - t * out_w;
      guint32 plane = t / out_h, h = t - plane * out_h;

      c->dst[i] = c->src[((gsize) plane * p->in_h + h / p->scale) * p->in_w + w / p->scale];
    }
}

/* Over input elements: the sum of the block, rows then columns, in float. */
static void
upsample_backward_range (gpointer ctx,
                         guint32  start,
                         guint32  end)
{
  const ShapeCtx *c = ctx;
  const GraftUpsamplePlan *p = c->plan;
  guint32 s = p->scale, out_w = p->in_w * s, out_h = p->in_h * s;

  for (guint32 i = start; i < end; i++)
    {
      guint32 t = i / p->in_w, w = i - t * p->in_w;
      guint32 plane = t / p->in_h, h = t - plane * p->in_h;
      const float *go = c->src + ((gsize) plane * out_h + (gsize) h * s) * out_w + (gsize) w * s;
      float sum = 0.0f;

      for (guint32 dh = 0; dh < s; dh++)
        for (guint32 dw = 0; dw < s; dw++)
          sum += go[(gsize) dh * out_w + dw];
      c->dst[i] = sum;
    }
}

gboolean
_graft_cpu_upsample_nearest (GraftBackend             *backend,
                             const GraftUpsamplePlan  *plan,
                             GraftBuffer              *x,
                             GraftBuffer              *out,
                             GError                  **error)
{
  ShapeCtx c = { plan, x->data, out->data };
  guint32 n = plan->planes * plan->in_h * plan->in_w * plan->scale * plan->scale;

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, upsample_range, &c);
  return TRUE;
}

gboolean
_graft_cpu_upsample_nearest_backward (GraftBackend             *backend,
                                      const GraftUpsamplePlan  *plan,
                                      GraftBuffer              *grad_out,
                                      GraftBuffer              *grad_in,
                                      GError                  **error)
{
  ShapeCtx c = { plan, grad_out->data, grad_in->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->planes * plan->in_h * plan->in_w,
                           upsample_backward_range, &c);
  return TRUE;
}

/* ---- dropout ------------------------------------------------------------------------ */

static void
dropout_range (gpointer ctx,
               guint32  start,
               guint32  end)
{
  const ShapeCtx *c = ctx;
  const GraftDropoutPlan *p = c->plan;

  for (guint32 i = start; i < end; i++)
    {
      gboolean keep = (_graft_dropout_hash (i, p->key) >> 8) >= p->threshold;
      c->dst[i] = keep ? c->src[i] * p->scale : 0.0f;
    }
}

gboolean
_graft_cpu_dropout (GraftBackend            *backend,
                    const GraftDropoutPlan  *plan,
                    GraftBuffer             *x,
                    GraftBuffer             *y,
                    GError                 **error)
{
  ShapeCtx c = { plan, x->data, y->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->n, dropout_range, &c);
  return TRUE;
}
