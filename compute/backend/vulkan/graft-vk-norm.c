/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Batch and layer normalisation, forward and backward, as a few kernels that each bind
 * at most four buffers (the least a device must allow):
 *   forward:  norm_stats (a workgroup per group: mean, invstd, unbiased variance),
 *             norm_running (running statistics: update, or copy for eval),
 *             norm_apply (xhat), norm_affine (xhat * weight + bias, in place).
 *   backward: norm_affine (g = dy * weight, layer norm), norm_pack (per-group values),
 *             norm_backward (a workgroup per group: sums, then dx),
 *             norm_param (dweight, dbias).
 * Reductions are trees in shared memory in a fixed order, so results are deterministic;
 * no subgroup size is assumed. Scratch buffers are freed once the work is done. */

#include <string.h>

#include "graft-vk-private.h"

typedef struct {
  guint32 outer, groups, inner;
  guint32 total;
  float   eps;
  float   momentum;
} NormPush;

G_STATIC_ASSERT (sizeof (NormPush) <= GRAFT_VK_MAX_PUSH);

#define NORM_WORKGROUP 64

static NormPush
make_push (const GraftNormPlan *plan,
           guint32              total)
{
  return (NormPush) {
    .outer = plan->outer, .groups = plan->groups, .inner = plan->inner,
    .total = total, .eps = plan->eps, .momentum = plan->momentum,
  };
}

/* A workgroup per group, its size a power of two for the tree reduction. Each lane
 * makes @passes strided passes over the group's @m values; where the device limits an
 * invocation's loop iterations (llvmpipe), the workgroup grows until they fit. */
static gboolean
dispatch_groups (GraftVkBackend   *self,
                 GraftVkDispatch  *d,
                 guint32           groups,
                 guint64           m,
                 guint32           passes,
                 GError          **error)
{
  const VkPhysicalDeviceLimits *limits = &self->props.limits;
  guint32 most = MIN (limits->maxComputeWorkGroupInvocations, limits->maxComputeWorkGroupSize[0]);
  guint32 budget = _graft_vk_loop_budget (self);
  guint32 wg = 1;

  while (wg * 2 <= MIN (NORM_WORKGROUP, self->wg_1d))
    wg *= 2;
  while (passes * ((m + wg - 1) / wg) > budget && wg * 2 <= most)
    wg *= 2;
  if (!_graft_vk_check_loop (self, passes * ((m + wg - 1) / wg),
                             d->shader, error))
    return FALSE;
  d->spec[0] = wg;
  if (!_graft_vk_grid_1d (self, groups, d->groups, error))
    return FALSE;
  return _graft_vk_dispatch (self, d, error);
}

static gboolean
affine (GraftVkBackend       *self,
        const GraftNormPlan  *plan,
        GraftBuffer          *src,
        GraftBuffer          *weight,
        GraftBuffer          *bias,
        GraftBuffer          *dst,
        GError              **error)
{
  guint32 n = plan->outer * plan->groups * plan->inner;
  NormPush push = make_push (plan, n);
  GraftVkDispatch d = {
    .shader = "norm_affine",
    .n_bindings = 4,
    .buffers = { src, weight, bias, dst },
    .spec = { 0, weight != NULL, bias != NULL, plan->kind == GRAFT_NORM_LAYER },
    .n_spec = 4,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, n, 1, error);
}

gboolean
_graft_vk_norm (GraftBackend         *backend,
                const GraftNormPlan  *plan,
                GraftBuffer          *x,
                GraftBuffer          *weight,
                GraftBuffer          *bias,
                GraftBuffer          *running_mean,
                GraftBuffer          *running_var,
                GraftBuffer          *y,
                GraftBuffer          *mean,
                GraftBuffer          *invstd,
                GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  guint32 n = plan->outer * plan->groups * plan->inner;
  NormPush push = make_push (plan, n);
  gboolean update = plan->training && running_mean != NULL;
  GraftBuffer *uvar = NULL;
  gboolean ok = FALSE;

  if (update)
    {
      uvar = _graft_vk_buffer_new (backend, (gsize) plan->groups * sizeof (float), error);
      if (uvar == NULL)
        return FALSE;
    }

  if (plan->training)
    {
      GraftVkDispatch d = {
        .shader = "norm_stats",
        .n_bindings = 4,
        .buffers = { x, mean, invstd, uvar },
        .spec = { 0, update },
        .n_spec = 2,
        .push = &push,
        .push_size = sizeof push,
      };

      if (!dispatch_groups (self, &d, plan->groups, (guint64) plan->outer * plan->inner, 2, error))
        goto out;
    }
  if (update || !plan->training)
    {
      GraftVkDispatch d = {
        .shader = "norm_running",
        .n_bindings = 4,
        .n_spec = 2,
        .push = &push,
        .push_size = sizeof push,
      };

      if (update)
        {
          GraftBuffer *b[4] = { mean, uvar, running_mean, running_var };
          memcpy (d.buffers, b, sizeof b);
        }
      else
        {
          GraftBuffer *b[4] = { running_mean, running_var, mean, invstd };
          memcpy (d.buffers, b, sizeof b);
          d.spec[1] = 1;
        }
      if (!_graft_vk_dispatch_1d (self, &d, plan->groups, 1, error))
        goto out;
    }

  {
    GraftVkDispatch d = {
      .shader = "norm_apply",
      .n_bindings = 4,
      .buffers = { x, mean, invstd, y },
      .n_spec = 1,
      .push = &push,
      .push_size = sizeof push,
    };

    if (!_graft_vk_dispatch_1d (self, &d, n, 1, error))
      goto out;
  }
  if ((weight != NULL || bias != NULL) && !affine (self, plan, y, weight, bias, y, error))
    goto out;
  ok = TRUE;

out:
  _graft_vk_buffer_free (backend, uvar);
  return ok;
}

gboolean
_graft_vk_norm_backward (GraftBackend         *backend,
                         const GraftNormPlan  *plan,
                         GraftBuffer          *x,
                         GraftBuffer          *dy,
                         GraftBuffer          *weight,
                         GraftBuffer          *mean,
                         GraftBuffer          *invstd,
                         GraftBuffer          *dx,
                         GraftBuffer          *dweight,
                         GraftBuffer          *dbias,
                         GError              **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  gboolean layer = plan->kind == GRAFT_NORM_LAYER;
  NormPush push = make_push (plan, plan->groups);
  GraftBuffer *gy = dy;
  GraftBuffer *pk;
  gboolean ok = FALSE;

  pk = _graft_vk_buffer_new (backend, (gsize) plan->groups * 8 * sizeof (float), error);
  if (pk == NULL)
    return FALSE;

  /* Layer norm's weight varies along the row: fold it into g = dy * weight first. */
  if (layer && weight != NULL)
    {
      if (!affine (self, plan, dy, weight, NULL, dx, error))
        goto out;
      gy = dx;
    }

  {
    GraftVkDispatch d = {
      .shader = "norm_pack",
      .n_bindings = 4,
      .buffers = { mean, invstd, weight, pk },
      .spec = { 0, !layer && weight != NULL },
      .n_spec = 2,
      .push = &push,
      .push_size = sizeof push,
    };

    if (!_graft_vk_dispatch_1d (self, &d, plan->groups, 1, error))
      goto out;
  }
  {
    GraftVkDispatch d = {
      .shader = "norm_backward",
      .n_bindings = 4,
      .buffers = { x, gy, pk, dx },
      .spec = { 0, plan->training },
      .n_spec = 2,
      .push = &push,
      .push_size = sizeof push,
    };

    if (!dispatch_groups (self, &d, plan->groups, (guint64) plan->outer * plan->inner, 2, error))
      goto out;
  }

  for (guint which = 0; which < 2; which++)
    {
      GraftBuffer *target = which == 0 ? dbias : dweight;
      guint32 count = layer ? plan->inner : plan->groups;
      NormPush ppush = make_push (plan, count);
      GraftVkDispatch d = {
        .shader = "norm_param",
        .n_bindings = 4,
        .buffers = { x, dy, pk, target },
        .spec = { 0, layer, which },
        .n_spec = 3,
        .push = &ppush,
        .push_size = sizeof ppush,
      };

      if (target == NULL)
        continue;
      /* Layer norm sums each feature over the rows in one invocation. */
      if (layer && !_graft_vk_check_loop (self, plan->groups, "layer_norm weight gradient", error))
        goto out;
      if (!_graft_vk_dispatch_1d (self, &d, count, 1, error))
        goto out;
    }
  ok = TRUE;

out:
  _graft_vk_buffer_free (backend, pk);
  return ok;
}
