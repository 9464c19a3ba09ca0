/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* 2-D convolution.
 *  - conv_forward: an implicit GEMM per group (rows: output channels; columns: image and
 *    output position; reduction: the group's input channels and kernel taps), gathering
 *    the input window as operands are loaded, so no column matrix is ever materialised.
 *    Each invocation keeps a 4 x 4 block in registers and reads its operands directly,
 *    the layout gemm_cpu found best on CPU devices (lavapipe); on GPUs it is correct but
 *    not yet tiled through shared memory.
 * Shapes are push constants; the group is the grid's z, row blocks its y, column blocks
 * its x (split into several dispatches past maxComputeWorkGroupCount[0]). */

#include "graft-vk-private.h"

typedef struct {
  guint32 n, c_in, in_h, in_w;
  guint32 c_out, out_h, out_w;
  guint32 kernel_h, kernel_w;
  guint32 stride_h, stride_w;
  guint32 pad_h, pad_w;
  guint32 dilation_h, dilation_w;
  guint32 groups;
  guint32 m, ncols, k;
  guint32 col0;
  guint32 has_bias;
  guint32 total;
} ConvPush;

G_STATIC_ASSERT (sizeof (ConvPush) <= GRAFT_VK_MAX_PUSH);

/* Rows and columns of the block each invocation of an implicit GEMM computes. */
#define BLOCK 4

static ConvPush
make_push (const GraftConvPlan *plan)
{
  return (ConvPush) {
    .n = plan->n, .c_in = plan->c_in, .in_h = plan->in_h, .in_w = plan->in_w,
    .c_out = plan->c_out, .out_h = plan->out_h, .out_w = plan->out_w,
    .kernel_h = plan->kernel_h, .kernel_w = plan->kernel_w,
    .stride_h = plan->stride_h, .stride_w = plan->stride_w,
    .pad_h = plan->pad_h, .pad_w = plan->pad_w,
    .dilation_h = plan->dilation_h, .dilation_w = plan->dilation_w,
    .groups = plan->groups,
  };
}

/* Every operand must fit one storage-buffer binding; tensors that do not are split by a
 * later version, not here. */
static gboolean
check_ranges (GraftVkBackend  *self,
              GraftBuffer    **buffers,
              guint            n_buffers,
              GError         **error)
{
  guint32 range = self->props.limits.maxStorageBufferRange;

  for (guint i = 0; i < n_buffers; i++)
    if (buffers[i] != NULL && buffers[i]->size > range)
      {
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                     "conv2d: an operand of %" G_GSIZE_FORMAT " bytes exceeds the %u bytes "
                     "%s can bind at once; use a smaller batch or image size",
                     buffers[i]->size, range, self->parent.info->name);
        return FALSE;
      }
  return TRUE;
}

/* Launches push->m x push->ncols in BLOCK x BLOCK blocks for each group. */
static gboolean
dispatch_gemm (GraftVkBackend   *self,
               GraftVkDispatch  *d,
               ConvPush         *push,
               GError          **error)
{
  const guint32 *max = self->props.limits.maxComputeWorkGroupCount;
  guint32 wg = self->wg_1d;
  guint64 col_blocks = ((guint64) push->ncols + BLOCK - 1) / BLOCK;
  guint64 groups_x = (col_blocks + wg - 1) / wg;
  guint64 groups_y = ((guint64) push->m + BLOCK - 1) / BLOCK;

  if (groups_y > max[1] || push->groups > max[2])
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "conv2d: %u groups of %u channels need more workgroups than %s "
                   "can launch", push->groups, push->m, self->parent.info->name);
      return FALSE;
    }

  d->spec[0] = wg;
  d->n_spec = 1;
  d->push = push;
  d->push_size = sizeof *push;
  for (guint64 x = 0; x < groups_x; x += max[0])
    {
      push->col0 = (guint32) (x * wg);
      d->groups[0] = (guint32) MIN (groups_x - x, (guint64) max[0]);
      d->groups[1] = (guint32) groups_y;
      d->groups[2] = push->groups;
      if (!_graft_vk_dispatch (self, d, error))
        return FALSE;
    }
  return TRUE;
}

gboolean
_graft_vk_conv2d (GraftBackend         *backend,
                  const GraftConvPlan  *plan,
                  GraftBuffer          *x,
                  GraftBuffer          *weight,
                  GraftBuffer          *bias,
                  GraftBuffer          *y,
                  GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  ConvPush push = make_push (plan);
  GraftVkDispatch d = {
    .shader = "conv_forward",
    .n_bindings = 4,
    .buffers = { weight, x, bias, y },   /* a NULL bias binds the dummy buffer */
  };

  if (!check_ranges (self, d.buffers, 4, error))
    return FALSE;

  push.m = plan->c_out / plan->groups;
  push.ncols = plan->n * plan->out_h * plan->out_w;
  push.k = plan->c_in / plan->groups * plan->kernel_h * plan->kernel_w;
  push.has_bias = bias != NULL;
  return dispatch_gemm (self, &d, &push, error);
}
