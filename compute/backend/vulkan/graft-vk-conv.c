/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* 2-D convolution.
 *  - conv_forward: an implicit GEMM per group (rows: output channels; columns: image and
 *    output position; reduction: the group's input channels and kernel taps), gathering
 *    the input window as operands are loaded, so no column matrix is ever materialised.
 *    Each invocation keeps a 4 x 4 block in registers and reads its operands directly,
 *    the layout gemm_cpu found best on CPU devices (lavapipe); on GPUs it is correct but
 *    not yet tiled through shared memory.
 *  - conv_dx: the input gradient as an implicit GEMM over (output channel, tap), each
 *    input gathering the outputs whose windows cover it: no atomics, a fixed order.
 *  - conv_dweight: the weight gradient as an implicit GEMM reducing over images and
 *    output positions. A long reduction onto a small weight is split by images into
 *    slices written to a scratch buffer and added in slice order (conv_reduce), so the
 *    result does not depend on scheduling. The scratch buffer is allocated per call and
 *    released once the work has run; a later activation-memory plan will own it.
 *  - conv_depthwise: depthwise convolution (one channel per group) forward, input and
 *    weight gradients by direct loops, one invocation per value, since an implicit GEMM
 *    would have one row per group; its weight gradient is sliced the same way.
 *  - conv_reduce: the bias gradient, and the sum of the slices.
 * Shapes are push constants; the group is the grid's z, row blocks its y, column blocks
 * its x (split into several dispatches past maxComputeWorkGroupCount[0]). Operands past
 * maxStorageBufferRange are reached by device address (see _graft_vk_dispatch), and past
 * maxTexelBufferElements through storage buffers rather than texels. */

#include <math.h>

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
  guint32 images;
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

/* Where GEMM uses gemm_cpu (CPU devices such as lavapipe, or GRAFT_VK_GEMM=cpu), the
 * implicit GEMMs read their two input operands through texel buffers, one gather per
 * fetch instead of a loop over the lanes: twice as fast for a ResNet 3x3 layer on
 * lavapipe. Elsewhere, and for operands past the texel limit, storage buffers. */
static void
use_texels (GraftVkBackend   *self,
            GraftVkDispatch  *d,
            const char       *texel_shader)
{
  guint32 max = self->props.limits.maxTexelBufferElements;
  GraftVkGemmKernel kernel = self->gemm_kernel;

  if (kernel == GRAFT_VK_GEMM_AUTO)
    kernel = self->parent.info->type == GRAFT_DEVICE_TYPE_CPU ? GRAFT_VK_GEMM_CPU : GRAFT_VK_GEMM_TILED;
  if (kernel != GRAFT_VK_GEMM_CPU)
    return;
  for (guint i = 0; i < 2; i++)
    if (d->buffers[i]->size / sizeof (float) > max)
      return;
  d->shader = texel_shader;
  d->texel_mask = 0x3;
}

/* Launches push->m x push->ncols in BLOCK x BLOCK blocks for each of @layers (groups,
 * or groups x slices). */
static gboolean
dispatch_gemm (GraftVkBackend   *self,
               GraftVkDispatch  *d,
               ConvPush         *push,
               guint32           layers,
               GError          **error)
{
  const guint32 *max = self->props.limits.maxComputeWorkGroupCount;
  guint32 wg = self->wg_1d;
  guint64 col_blocks = ((guint64) push->ncols + BLOCK - 1) / BLOCK;
  guint64 groups_x = (col_blocks + wg - 1) / wg;
  guint64 groups_y = ((guint64) push->m + BLOCK - 1) / BLOCK;

  if (groups_y > max[1] || layers > max[2])
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
      d->groups[2] = layers;
      if (!_graft_vk_dispatch (self, d, error))
        return FALSE;
    }
  return TRUE;
}

/* conv_depthwise in @mode over @total invocations, binding a, b, bias and out. */
static gboolean
depthwise (GraftVkBackend       *self,
           const GraftConvPlan  *plan,
           guint32               mode,
           GraftBuffer          *a,
           GraftBuffer          *b,
           GraftBuffer          *bias,
           GraftBuffer          *out,
           guint32               total,
           GError              **error)
{
  ConvPush push = make_push (plan);
  GraftVkDispatch d = {
    .shader = "conv_depthwise",
    .n_bindings = 4,
    .buffers = { a, b, bias, out },
    .spec = { 0, mode },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  push.has_bias = bias != NULL;
  push.total = total;
  push.images = plan->n;
  return _graft_vk_dispatch_1d (self, &d, total, 1, error);
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

  push.has_bias = bias != NULL;
  if (_graft_conv_plan_is_depthwise (plan))
    return depthwise (self, plan, 0, x, weight, bias, y, plan->n * plan->c_out * plan->out_h * plan->out_w, error);

  push.m = plan->c_out / plan->groups;
  push.ncols = plan->n * plan->out_h * plan->out_w;
  push.k = plan->c_in / plan->groups * plan->kernel_h * plan->kernel_w;
  use_texels (self, &d, "conv_forward_texel");
  return dispatch_gemm (self, &d, &push, plan->groups, error);
}

/* The reduction length (images x output positions) each slice of the weight gradient
 * aims for, and the number of blocks below which the weight is too small to keep the
 * device busy without slicing. A slice holds whole images. */
#define SLICE_POSITIONS   1024
#define SLICE_MAX_BLOCKS  1024
#define SLICE_MAX_BYTES   (64u << 20)

/* Loop iterations of one invocation of the weight-gradient kernels per image: the
 * output rows, and the positions in each. */
static guint64
iterations_per_image (const GraftConvPlan *plan)
{
  return (guint64) plan->out_h * (plan->out_w + 1) + 1;
}

static guint32
images_per_slice (const GraftConvPlan *plan,
                  guint64              blocks,
                  guint32              budget)
{
  guint64 ohw = (guint64) plan->out_h * plan->out_w;
  guint64 per = MAX ((SLICE_POSITIONS + ohw - 1) / ohw, 1);
  guint64 weight = (guint64) plan->c_out * (plan->c_in / plan->groups) * plan->kernel_h * plan->kernel_w;
  /* Where the device limits an invocation's loop iterations (llvmpipe), so are a
   * slice's images, however few blocks the weight has. */
  guint64 most = MAX (budget / iterations_per_image (plan), 1);
  guint64 slices;

  if (blocks >= SLICE_MAX_BLOCKS || per >= plan->n)
    return (guint32) MIN (plan->n, most);
  slices = (plan->n + per - 1) / per;
  while (slices > 1 && slices * weight * sizeof (float) > SLICE_MAX_BYTES && per * 2 <= most)
    {
      per *= 2;
      slices = (plan->n + per - 1) / per;
    }
  return (guint32) MIN (per, most);
}

static gboolean
weight_gradient (GraftVkBackend       *self,
                 const GraftConvPlan  *plan,
                 GraftBuffer          *x,
                 GraftBuffer          *dy,
                 GraftBuffer          *dweight,
                 GError              **error)
{
  ConvPush push = make_push (plan);
  gboolean dw = _graft_conv_plan_is_depthwise (plan);
  guint32 og = plan->c_out / plan->groups;
  guint32 cols = plan->c_in / plan->groups * plan->kernel_h * plan->kernel_w;
  guint32 weight = plan->c_out * cols;
  /* Values per implicit-GEMM invocation: BLOCK x BLOCK; per depthwise one: 1. */
  guint64 blocks = dw ? (weight + BLOCK * BLOCK - 1) / (BLOCK * BLOCK)
                      : (guint64) ((og + BLOCK - 1) / BLOCK) * ((cols + BLOCK - 1) / BLOCK) * plan->groups;
  guint32 per = images_per_slice (plan, blocks, _graft_vk_loop_budget (self));
  guint32 slices = (plan->n + per - 1) / per;
  GraftBuffer *target = dweight;
  gboolean ok;

  if (!_graft_vk_check_loop (self, MAX (per * iterations_per_image (plan), slices),
                             "conv2d weight gradient", error))
    return FALSE;

  if (slices > 1)
    {
      target = _graft_vk_buffer_new (&self->parent, (gsize) slices * weight * sizeof (float), error);
      if (target == NULL)
        return FALSE;
    }

  if (dw)
    {
      GraftVkDispatch d = {
        .shader = "conv_depthwise",
        .n_bindings = 4,
        .buffers = { dy, x, NULL, target },
        .spec = { 0, 2 },
        .n_spec = 2,
        .push = &push,
        .push_size = sizeof push,
      };

      push.total = slices * weight;
      push.images = per;
      ok = _graft_vk_dispatch_1d (self, &d, push.total, 1, error);
    }
  else
    {
      GraftVkDispatch d = {
        .shader = "conv_dweight",
        .n_bindings = 3,
        .buffers = { dy, x, target },
      };

      push.m = og;
      push.ncols = cols;
      push.k = plan->n * plan->out_h * plan->out_w;
      push.images = per;
      use_texels (self, &d, "conv_dweight_texel");
      ok = dispatch_gemm (self, &d, &push, plan->groups * slices, error);
    }

  if (ok && slices > 1)
    {
      GraftVkDispatch r = {
        .shader = "conv_reduce",
        .n_bindings = 2,
        .buffers = { target, dweight },
        .spec = { 0, 1 },
        .n_spec = 2,
        .push = &push,
        .push_size = sizeof push,
      };

      push.n = slices;
      push.total = weight;
      ok = _graft_vk_dispatch_1d (self, &r, weight, 1, error);
    }
  if (target != dweight)
    _graft_vk_buffer_free (&self->parent, target);   /* released after the work runs */
  return ok;
}

/* dbias: one invocation per channel sums its n x out_h x out_w values of dy in order.
 * Where the device limits an invocation's loop iterations (llvmpipe) and that is too
 * many, each channel is summed in chunks of whole positions, then the chunks in order. */
static gboolean
bias_gradient (GraftVkBackend       *self,
               const GraftConvPlan  *plan,
               GraftBuffer          *dy,
               GraftBuffer          *dbias,
               GError              **error)
{
  ConvPush push = make_push (plan);
  guint64 values = (guint64) plan->n * plan->out_h * plan->out_w;
  guint32 budget = _graft_vk_loop_budget (self);
  GraftVkDispatch d = {
    .shader = "conv_reduce",
    .n_bindings = 2,
    .buffers = { dy, dbias },
    .spec = { 0, 0 },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };
  guint64 chunk, chunks;
  GraftBuffer *partial;
  gboolean ok;

  if (values + plan->n <= budget)
    {
      push.total = plan->c_out;
      return _graft_vk_dispatch_1d (self, &d, plan->c_out, 1, error);
    }

  /* As many chunks as values per chunk, at least budget / 4 values each. */
  chunk = MAX ((guint64) sqrt ((double) values) + 1, budget / 4);
  chunks = (values + chunk - 1) / chunk;
  if (!_graft_vk_check_loop (self, MAX (chunk, chunks), "conv2d bias gradient", error))
    return FALSE;
  partial = _graft_vk_buffer_new (&self->parent, chunks * plan->c_out * sizeof (float), error);
  if (partial == NULL)
    return FALSE;

  d.buffers[1] = partial;
  d.spec[1] = 2;
  push.k = (guint32) chunk;
  push.total = (guint32) (chunks * plan->c_out);
  ok = _graft_vk_dispatch_1d (self, &d, push.total, 1, error);
  if (ok)
    {
      d.buffers[0] = partial;
      d.buffers[1] = dbias;
      d.spec[1] = 1;
      push.n = (guint32) chunks;
      push.total = plan->c_out;
      ok = _graft_vk_dispatch_1d (self, &d, plan->c_out, 1, error);
    }
  _graft_vk_buffer_free (&self->parent, partial);   /* released after the work runs */
  return ok;
}

gboolean
_graft_vk_conv2d_backward (GraftBackend         *backend,
                           const GraftConvPlan  *plan,
                           GraftBuffer          *x,
                           GraftBuffer          *weight,
                           GraftBuffer          *dy,
                           GraftBuffer          *dx,
                           GraftBuffer          *dweight,
                           GraftBuffer          *dbias,
                           GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  if (dbias != NULL && !bias_gradient (self, plan, dy, dbias, error))
    return FALSE;

  if (dx != NULL && _graft_conv_plan_is_depthwise (plan))
    {
      if (!depthwise (self, plan, 1, dy, weight, NULL, dx,
                      plan->n * plan->c_in * plan->in_h * plan->in_w, error))
        return FALSE;
    }
  else if (dx != NULL)
    {
      ConvPush push = make_push (plan);
      GraftVkDispatch d = {
        .shader = "conv_dx",
        .n_bindings = 3,
        .buffers = { weight, dy, dx },
      };

      push.m = plan->c_in / plan->groups;
      push.ncols = plan->n * plan->in_h * plan->in_w;
      push.k = plan->c_out / plan->groups * plan->kernel_h * plan->kernel_w;
      use_texels (self, &d, "conv_dx_texel");
      if (!dispatch_gemm (self, &d, &push, plan->groups, error))
        return FALSE;
    }

  if (dweight != NULL && !weight_gradient (self, plan, x, dy, dweight, error))
    return FALSE;
  return TRUE;
}
