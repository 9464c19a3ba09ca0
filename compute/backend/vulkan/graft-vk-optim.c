/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Optimizer steps and gradient-norm clipping.
 *  - optim_step: SGD or AdamW (specialization constant 1), one parameter per
 *    invocation; step number, learning rate and bias corrections are push constants,
 *    or read from the plan's scalars buffer (specialization constant 3) so that a
 *    recorded step can be replayed with each step's values.
 *  - reduce_sum: one workgroup per tensor writes its sum of squares into a slot of a
 *    scratch buffer, then one more the square root of their sum: a fixed order, so
 *    the norm is deterministic.
 *  - clip_scale: scales a gradient by min (1, max_norm / (norm + 1e-6)), reading the
 *    norm on the device. */

#include "graft-vk-private.h"

typedef struct {
  guint32 n;
  guint32 step;
  float   lr;
  float   weight_decay;
  float   momentum, dampening;
  guint32 nesterov;
  float   beta1, beta2, eps;
  float   step_size, bias2_sqrt;
  guint32 slot;
} OptimPush;

G_STATIC_ASSERT (sizeof (OptimPush) <= GRAFT_VK_MAX_PUSH);

typedef struct {
  guint32 n;
  guint32 slot;
} ReducePush;

typedef struct {
  guint32 n;
  float   max_norm;
} ClipPush;

/* Lanes of the single-workgroup reductions: a power of two. */
#define REDUCE_WORKGROUP 256

gboolean
_graft_vk_optim_step (GraftBackend          *backend,
                      const GraftOptimPlan  *plan,
                      GraftBuffer           *param,
                      GraftBuffer           *grad,
                      GraftBuffer           *state0,
                      GraftBuffer           *state1,
                      GError               **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  OptimPush push = {
    .n = plan->n,
    .step = plan->step,
    .lr = plan->lr,
    .weight_decay = plan->weight_decay,
    .momentum = plan->momentum,
    .dampening = plan->dampening,
    .nesterov = plan->nesterov ? 1 : 0,
    .beta1 = plan->beta1,
    .beta2 = plan->beta2,
    .eps = plan->eps,
    .step_size = plan->step_size,
    .bias2_sqrt = plan->bias2_sqrt,
    .slot = plan->scalars_slot,
  };
  GraftVkDispatch d = {
    .shader = "optim_step",
    .n_bindings = 5,
    .buffers = { param, grad, state0, state1, plan->scalars },   /* NULL: the dummy */
    .spec = { 0, plan->kind == GRAFT_OPTIM_ADAMW ? 1 : 0, state0 != NULL ? 1 : 0,
              plan->scalars != NULL ? 1 : 0 },
    .n_spec = 4,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, plan->n, 1, error);
}

static gboolean
reduce (GraftVkBackend  *self,
        GraftBuffer     *x,
        guint32          n,
        GraftBuffer     *out,
        guint32          slot,
        gboolean         square,
        gboolean         root,
        GError         **error)
{
  ReducePush push = { n, slot };
  guint32 wg = 1;
  GraftVkDispatch d = {
    .shader = "reduce_sum",
    .n_bindings = 2,
    .buffers = { x, out },
    .n_spec = 3,
    .push = &push,
    .push_size = sizeof push,
    .groups = { 1, 1, 1 },
  };

  while (wg * 2 <= MIN (REDUCE_WORKGROUP, self->props.limits.maxComputeWorkGroupSize[0]))
    wg *= 2;
  d.spec[0] = wg;
  d.spec[1] = square ? 1 : 0;
  d.spec[2] = root ? 1 : 0;
  return _graft_vk_dispatch (self, &d, error);
}

gboolean
_graft_vk_sum_squares (GraftBackend  *backend,
                       GraftBuffer   *x,
                       guint32        n,
                       GraftBuffer   *partial,
                       guint32        slot,
                       GError       **error)
{
  return reduce (GRAFT_VK_BACKEND (backend), x, n, partial, slot, TRUE, FALSE, error);
}

gboolean
_graft_vk_sqrt_sum (GraftBackend  *backend,
                    GraftBuffer   *partial,
                    guint32        n,
                    GraftBuffer   *out,
                    GError       **error)
{
  return reduce (GRAFT_VK_BACKEND (backend), partial, n, out, 0, FALSE, TRUE, error);
}

gboolean
_graft_vk_clip_scale (GraftBackend  *backend,
                      GraftBuffer   *norm,
                      float          max_norm,
                      GraftBuffer   *x,
                      guint32        n,
                      GError       **error)
{
  ClipPush push = { n, max_norm };
  GraftVkDispatch d = {
    .shader = "clip_scale",
    .n_bindings = 2,
    .buffers = { norm, x },
    .n_spec = 1,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (GRAFT_VK_BACKEND (backend), &d, n, 1, error);
}
