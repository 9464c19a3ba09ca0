/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Softmax cross-entropy (see GraftCrossEntropyPlan) in two dispatches:
 *  - ce_rows: one workgroup per row reduces its max, log-sum-exp and weighted sums in
 *    shared memory and writes the row's loss and unscaled gradient;
 *  - ce_reduce: a single workgroup sums the rows' losses and the targets' weights in a
 *    fixed order (deterministic), writes the mean and divides the gradient by the sum
 *    of weights, so the loss never travels through the host.
 * Whether there are class weights and a gradient are specialization constants. */

#include "graft-vk-private.h"

typedef struct {
  guint32 n, c;
  float   eps;
} RowsPush;

typedef struct {
  guint32 n, c;
} ReducePush;

/* Lanes per row and of the reduction; a power of two for the trees, small enough for
 * any device (maxComputeWorkGroupSize is at least 128). */
#define LOSS_WORKGROUP 64

static guint32
workgroup (GraftVkBackend *self)
{
  guint32 wg = 1;

  while (wg * 2 <= MIN (LOSS_WORKGROUP, self->wg_1d))
    wg *= 2;
  return wg;
}

gboolean
_graft_vk_cross_entropy (GraftBackend                 *backend,
                         const GraftCrossEntropyPlan  *plan,
                         GraftBuffer                  *logits,
                         GraftBuffer                  *target,
                         GraftBuffer                  *weight,
                         GraftBuffer                  *loss,
                         GraftBuffer                  *losses,
                         GraftBuffer                  *dlogits,
                         GError                      **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  guint32 wg = workgroup (self);
  guint32 has_weight = plan->has_weight ? 1 : 0;
  guint32 want_grad = dlogits != NULL ? 1 : 0;
  RowsPush rows_push = { plan->n, plan->c, plan->label_smoothing };
  ReducePush reduce_push = { plan->n, plan->c };
  GraftVkDispatch rows = {
    .shader = "ce_rows",
    .n_bindings = 5,
    .buffers = { logits, target, weight, losses, dlogits },  /* NULL: the dummy */
    .spec = { wg, has_weight, want_grad },
    .n_spec = 3,
    .push = &rows_push,
    .push_size = sizeof rows_push,
  };
  GraftVkDispatch reduce = {
    .shader = "ce_reduce",
    .n_bindings = 5,
    .buffers = { target, weight, losses, loss, dlogits },
    .spec = { wg, has_weight, want_grad },
    .n_spec = 3,
    .push = &reduce_push,
    .push_size = sizeof reduce_push,
    .groups = { 1, 1, 1 },
  };

  if (!_graft_vk_grid_1d (self, plan->n, rows.groups, error) ||
      !_graft_vk_dispatch (self, &rows, error))
    return FALSE;
  return _graft_vk_dispatch (self, &reduce, error);
}
