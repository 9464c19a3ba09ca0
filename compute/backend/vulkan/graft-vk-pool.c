/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Pooling: max, average and adaptive average, forward and backward.
 *  - pool_max, pool_avg: one invocation per output, looping over its window.
 *  - pool_global: global average pooling of large planes, one workgroup per plane with
 *    a reduction in shared memory (the end of every ResNet and MobileNet).
 *  - pool_max_backward, pool_avg_backward: one invocation per input, gathering the
 *    gradients of the windows that cover it. No atomics, so results are deterministic,
 *    and outputs are visited in the order the CPU backend adds them.
 * Max pooling's forward pass stores each argmax as a float position within its plane;
 * the backward pass compares against it. Shapes are push constants; the kind of window
 * and whether indices are written are specialization constants. */

#include "graft-vk-private.h"

typedef struct {
  guint32 planes;
  guint32 in_h, in_w;
  guint32 out_h, out_w;
  guint32 kernel_h, kernel_w;
  guint32 stride_h, stride_w;
  guint32 pad_h, pad_w;
  guint32 dilation_h, dilation_w;
  guint32 count_include_pad;
  guint32 total;
} PoolPush;

G_STATIC_ASSERT (sizeof (PoolPush) <= GRAFT_VK_MAX_PUSH);

/* Planes at least this large are averaged by a workgroup each; smaller ones (7 x 7 at
 * the end of a ResNet) by one invocation each, which keeps every lane busy. CPU devices
 * (lavapipe) run a workgroup's lanes on one core, where one invocation per plane reads
 * memory faster (24 against 39 ms for 32 x 256 planes of 56 x 56 on two cores), unless
 * there are too few planes to fill the lanes. */
#define GLOBAL_MIN_PLANE      256
#define GLOBAL_CPU_MAX_PLANES 64
#define GLOBAL_WORKGROUP      64

static PoolPush
make_push (const GraftPoolPlan *plan,
           guint32              total)
{
  return (PoolPush) {
    .planes = plan->planes,
    .in_h = plan->in_h, .in_w = plan->in_w,
    .out_h = plan->out_h, .out_w = plan->out_w,
    .kernel_h = plan->kernel_h, .kernel_w = plan->kernel_w,
    .stride_h = plan->stride_h, .stride_w = plan->stride_w,
    .pad_h = plan->pad_h, .pad_w = plan->pad_w,
    .dilation_h = plan->dilation_h, .dilation_w = plan->dilation_w,
    .count_include_pad = plan->count_include_pad ? 1 : 0,
    .total = total,
  };
}

/* One invocation per element of @total, in workgroups of the 1-D size. */
static gboolean
dispatch_elements (GraftVkBackend   *self,
                   GraftVkDispatch  *d,
                   guint32           total,
                   GError          **error)
{
  d->spec[0] = self->wg_1d;
  if (!_graft_vk_grid_1d (self, ((guint64) total + self->wg_1d - 1) / self->wg_1d, d->groups, error))
    return FALSE;
  return _graft_vk_dispatch (self, d, error);
}

static gboolean
global_average (GraftVkBackend       *self,
                const GraftPoolPlan  *plan,
                GraftBuffer          *x,
                GraftBuffer          *out,
                GError              **error)
{
  PoolPush push = make_push (plan, plan->planes);
  guint32 wg = 1;
  GraftVkDispatch d = {
    .shader = "pool_global",
    .n_bindings = 2,
    .buffers = { x, out },
    .n_spec = 1,
    .push = &push,
    .push_size = sizeof push,
  };

  /* The tree reduction needs a power of two. */
  while (wg * 2 <= MIN (GLOBAL_WORKGROUP, self->wg_1d))
    wg *= 2;
  d.spec[0] = wg;
  if (!_graft_vk_grid_1d (self, plan->planes, d.groups, error))
    return FALSE;
  return _graft_vk_dispatch (self, &d, error);
}

gboolean
_graft_vk_pool2d (GraftBackend         *backend,
                  const GraftPoolPlan  *plan,
                  GraftBuffer          *x,
                  GraftBuffer          *out,
                  GraftBuffer          *indices,
                  GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  PoolPush push = make_push (plan, plan->planes * plan->out_h * plan->out_w);
  GraftVkDispatch d = {
    .n_bindings = 2,
    .buffers = { x, out },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };
  /* Loop iterations of one output's window (an adaptive bin spans at most
   * in / out + 1 rows and columns), for devices that limit them (llvmpipe). */
  guint64 window = plan->kind == GRAFT_POOL_ADAPTIVE_AVG
    ? (guint64) (plan->in_h / plan->out_h + 1) * (plan->in_w / plan->out_w + 2)
    : (guint64) plan->kernel_h * (plan->kernel_w + 1);

  switch (plan->kind)
    {
    case GRAFT_POOL_MAX:
      d.shader = "pool_max";
      d.n_bindings = 3;
      d.buffers[2] = indices;   /* NULL binds the backend's dummy buffer */
      d.spec[1] = indices != NULL ? 1 : 0;
      break;

    case GRAFT_POOL_ADAPTIVE_AVG:
      if (plan->out_h == 1 && plan->out_w == 1 &&
          (guint64) plan->in_h * plan->in_w >= GLOBAL_MIN_PLANE &&
          (backend->info->type != GRAFT_DEVICE_TYPE_CPU || plan->planes < GLOBAL_CPU_MAX_PLANES ||
           window > _graft_vk_loop_budget (self)))
        return global_average (self, plan, x, out, error);
      d.shader = "pool_avg";
      d.spec[1] = 1;
      break;

    case GRAFT_POOL_AVG:
    default:
      d.shader = "pool_avg";
      d.spec[1] = 0;
      break;
    }

  if (!_graft_vk_check_loop (self, window, d.shader, error))
    return FALSE;
  return dispatch_elements (self, &d, push.total, error);
}

gboolean
_graft_vk_pool2d_backward (GraftBackend         *backend,
                           const GraftPoolPlan  *plan,
                           GraftBuffer          *grad_out,
                           GraftBuffer          *indices,
                           GraftBuffer          *grad_in,
                           GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  PoolPush push = make_push (plan, plan->planes * plan->in_h * plan->in_w);
  GraftVkDispatch d = {
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  if (plan->kind == GRAFT_POOL_MAX)
    {
      d.shader = "pool_max_backward";
      d.n_bindings = 3;
      d.buffers[0] = grad_out;
      d.buffers[1] = indices;
      d.buffers[2] = grad_in;
    }
  else
    {
      d.shader = "pool_avg_backward";
      d.n_bindings = 2;
      d.buffers[0] = grad_out;
      d.buffers[1] = grad_in;
      d.spec[1] = plan->kind == GRAFT_POOL_ADAPTIVE_AVG ? 1 : 0;
    }

  return dispatch_elements (self, &d, push.total, error);
}
