/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Shape ops, one invocation per output value each:
 *  - copy_strided: a block copy at a stride (channel concatenation, both directions).
 *  - upsample_nearest, upsample_nearest_backward: the backward pass gathers each input's
 *    block, so there are no atomics and the sum's order is the CPU backend's.
 *  - dropout: the mask hashed from the element index and the seed's key, the same
 *    integer arithmetic as the CPU backend, so the masks agree bit for bit. */

#include "graft-vk-private.h"

typedef struct {
  guint32 outer, block;
  guint32 src_stride, src_offset;
  guint32 dst_stride, dst_offset;
  guint32 total;
} CopyPush;

typedef struct {
  guint32 planes, in_h, in_w, scale;
  guint32 total;
} UpsamplePush;

typedef struct {
  guint32 n;
  guint32 key;
  guint32 threshold;
  float   scale;
  guint32 key_slot;
} DropoutPush;

G_STATIC_ASSERT (sizeof (CopyPush) <= GRAFT_VK_MAX_PUSH);

gboolean
_graft_vk_copy_strided (GraftBackend         *backend,
                        const GraftCopyPlan  *plan,
                        GraftBuffer          *src,
                        GraftBuffer          *dst,
                        GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  CopyPush push = {
    .outer = plan->outer, .block = plan->block,
    .src_stride = plan->src_stride, .src_offset = plan->src_offset,
    .dst_stride = plan->dst_stride, .dst_offset = plan->dst_offset,
    .total = plan->outer * plan->block,
  };
  GraftVkDispatch d = {
    .shader = "copy_strided",
    .n_bindings = 2,
    .buffers = { src, dst },
    .n_spec = 1,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, push.total, 1, error);
}

static gboolean
upsample (GraftBackend             *backend,
          const char               *shader,
          const GraftUpsamplePlan  *plan,
          guint32                   total,
          GraftBuffer              *src,
          GraftBuffer              *dst,
          GError                  **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  UpsamplePush push = {
    .planes = plan->planes, .in_h = plan->in_h, .in_w = plan->in_w,
    .scale = plan->scale, .total = total,
  };
  GraftVkDispatch d = {
    .shader = shader,
    .n_bindings = 2,
    .buffers = { src, dst },
    .n_spec = 1,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, total, 1, error);
}

gboolean
_graft_vk_upsample_nearest (GraftBackend             *backend,
                            const GraftUpsamplePlan  *plan,
                            GraftBuffer              *x,
                            GraftBuffer              *out,
                            GError                  **error)
{
  return upsample (backend, "upsample_nearest", plan,
                   plan->planes * plan->in_h * plan->in_w * plan->scale * plan->scale,
                   x, out, error);
}

gboolean
_graft_vk_upsample_nearest_backward (GraftBackend             *backend,
                                     const GraftUpsamplePlan  *plan,
                                     GraftBuffer              *grad_out,
                                     GraftBuffer              *grad_in,
                                     GError                  **error)
{
  return upsample (backend, "upsample_nearest_backward", plan,
                   plan->planes * plan->in_h * plan->in_w, grad_out, grad_in, error);
}

gboolean
_graft_vk_dropout (GraftBackend            *backend,
                   const GraftDropoutPlan  *plan,
                   GraftBuffer             *x,
                   GraftBuffer             *y,
                   GError                 **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  DropoutPush push = { plan->n, plan->key, plan->threshold, plan->scale, plan->key_slot };
  GraftVkDispatch d = {
    .shader = "dropout",
    .n_bindings = 3,
    .buffers = { x, y, plan->keys },   /* NULL: the dummy */
    .spec = { 0, plan->keys != NULL ? 1 : 0 },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, plan->n, 1, error);
}
