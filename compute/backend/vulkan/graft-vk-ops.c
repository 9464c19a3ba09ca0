/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Elementwise ops: fill, scale and the broadcasting binary ops. */

#include "graft-vk-private.h"

typedef struct {
  guint32 n;
  float   value;
} FillPush;

typedef struct {
  guint32 n;
  guint32 rank_shift;              /* rank, then 5 bits of shift per dimension d >= 1 */
  guint32 shape[GRAFT_MAX_RANK];
  guint32 a_strides[GRAFT_MAX_RANK];
  guint32 b_strides[GRAFT_MAX_RANK];
  guint32 magic[GRAFT_MAX_RANK];   /* division by shape[d] as a multiply-high, d >= 1 */
} BinaryPush;

/* With the three operands' device addresses (8 bytes each) it still fits the 128 bytes
 * of push constants every device offers. */
G_STATIC_ASSERT (sizeof (BinaryPush) + 3 * 8 <= 128);
G_STATIC_ASSERT (GRAFT_MAX_RANK <= 7 && 3 + 5 * (GRAFT_MAX_RANK - 1) <= 32);

/* Specialization constant 2 of binary.comp */
enum {
  BINARY_STRIDED = 0,    /* index through shape and strides */
  BINARY_CONTIGUOUS = 1, /* a, b and out share one contiguous shape */
  BINARY_B_SCALAR = 2,   /* a contiguous, b one value */
  BINARY_A_SCALAR = 3,   /* a one value, b contiguous */
  BINARY_STRIDED4 = 4,   /* strided, four elements of the innermost dimension at once */
};

/* Granlund-Montgomery for 32-bit unsigned division by d >= 2:
 * x / d == (t + ((x - t) >> 1)) >> shift with t = (x * magic) >> 32. */
static void
division_magic (guint32  d,
                guint32 *magic,
                guint32 *shift)
{
  guint l = 0;

  g_assert (d >= 2);
  while (((guint64) 1 << l) < d)
    l++;
  *magic = (guint32) ((((guint64) 1 << 32) * (((guint64) 1 << l) - d)) / d + 1);
  *shift = l - 1;
}

gboolean
_graft_vk_dispatch_1d (GraftVkBackend   *self,
                       GraftVkDispatch  *d,
                       guint32           n,
                       guint32           per_invocation,
                       GError          **error)
{
  guint64 invocations = ((guint64) n + per_invocation - 1) / per_invocation;

  d->spec[0] = self->wg_1d;
  d->n_spec = MAX (d->n_spec, 1);
  if (!_graft_vk_grid_1d (self, (invocations + self->wg_1d - 1) / self->wg_1d, d->groups, error))
    return FALSE;
  return _graft_vk_dispatch (self, d, error);
}

gboolean
_graft_vk_fill (GraftBackend  *backend,
                GraftBuffer   *out,
                guint32        n,
                float          value,
                GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  FillPush push = { n, value };
  GraftVkDispatch d = {
    .shader = "fill",
    .n_bindings = 1,
    .buffers = { out },
    .spec = { 0, 4 },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, n, 4, error);
}

gboolean
_graft_vk_scale (GraftBackend  *backend,
                 GraftBuffer   *a,
                 GraftBuffer   *out,
                 guint32        n,
                 float          s,
                 GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  FillPush push = { n, s };
  GraftVkDispatch d = {
    .shader = "scale",
    .n_bindings = 2,
    .buffers = { a, out },
    .spec = { 0, 4 },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, n, 4, error);
}

/* Drops dimensions of size 1 and merges neighbours that are contiguous in all three
 * operands ([2, 3, 4] + [2, 3, 4] becomes [24] + [24]; [8, 3, 4] + [4] becomes
 * [24, 4] + [4] with stride 0), so the shader walks as few dimensions as possible. */
static void
simplify (const GraftBroadcast *plan,
          BinaryPush           *push)
{
  gint r = 0;

  push->n = plan->n;
  /* Collected innermost first, reversed at the end. */
  for (gint d = (gint) plan->rank - 1; d >= 0; d--)
    {
      guint32 size = plan->shape[d];
      guint32 as = plan->a_strides[d];
      guint32 bs = plan->b_strides[d];

      if (size == 1)
        continue;
      if (r > 0 &&
          as == push->a_strides[r - 1] * push->shape[r - 1] &&
          bs == push->b_strides[r - 1] * push->shape[r - 1])
        {
          push->shape[r - 1] *= size;
          continue;
        }
      push->shape[r] = size;
      push->a_strides[r] = as;
      push->b_strides[r] = bs;
      r++;
    }

  if (r == 0)
    {
      /* One element: a[0] op b[0]. */
      push->shape[0] = 1;
      push->a_strides[0] = 1;
      push->b_strides[0] = 1;
      r = 1;
    }

  for (gint i = 0; i < r / 2; i++)
    {
      guint32 t;
      t = push->shape[i]; push->shape[i] = push->shape[r - 1 - i]; push->shape[r - 1 - i] = t;
      t = push->a_strides[i]; push->a_strides[i] = push->a_strides[r - 1 - i]; push->a_strides[r - 1 - i] = t;
      t = push->b_strides[i]; push->b_strides[i] = push->b_strides[r - 1 - i]; push->b_strides[r - 1 - i] = t;
    }
  push->rank_shift = (guint32) r;

  /* The outermost dimension's coordinate is what is left of the index: no division. */
  for (gint d = 1; d < r; d++)
    {
      guint32 shift;

      division_magic (push->shape[d], &push->magic[d], &shift);
      g_assert (shift < 32);
      push->rank_shift |= shift << (3 + 5 * (d - 1));
    }
}

gboolean
_graft_vk_binary (GraftBackend          *backend,
                  GraftBinaryOp          op,
                  const GraftBroadcast  *plan,
                  GraftBuffer           *a,
                  GraftBuffer           *b,
                  GraftBuffer           *out,
                  GError               **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  BinaryPush push = { 0 };
  guint push_rank;
  GraftVkDispatch d = {
    .shader = "binary",
    .n_bindings = 3,
    .buffers = { a, b, out },
    .n_spec = 3,
    .push = &push,
    .push_size = sizeof push,
  };

  g_return_val_if_fail (plan->rank >= 1 && plan->rank <= GRAFT_MAX_RANK, FALSE);

  simplify (plan, &push);
  push_rank = push.rank_shift & 7;
  d.spec[1] = op == GRAFT_BINARY_MUL ? 1 : 0;
  d.spec[2] = BINARY_STRIDED;
  if (push_rank == 1)
    {
      if (push.a_strides[0] == 1 && push.b_strides[0] == 1)
        d.spec[2] = BINARY_CONTIGUOUS;
      else if (push.a_strides[0] == 1 && push.b_strides[0] == 0)
        d.spec[2] = BINARY_B_SCALAR;
      else if (push.a_strides[0] == 0 && push.b_strides[0] == 1)
        d.spec[2] = BINARY_A_SCALAR;
    }

  else
    {
      guint inner = push_rank - 1;
      gboolean aligned = push.shape[inner] % 4 == 0 &&
                         push.a_strides[inner] <= 1 && push.b_strides[inner] <= 1;

      /* An operand read as vec4s must start each group of four on a multiple of 4; one
       * with stride 0 along the innermost dimension is read as one value. */
      for (guint dim = 0; dim < inner; dim++)
        aligned = aligned &&
                  (push.a_strides[inner] == 0 || push.a_strides[dim] % 4 == 0) &&
                  (push.b_strides[inner] == 0 || push.b_strides[dim] % 4 == 0);
      if (aligned)
        d.spec[2] = BINARY_STRIDED4;
    }

  /* All but the plain strided mode do four elements per invocation. */
  return _graft_vk_dispatch_1d (self, &d, plan->n, d.spec[2] == BINARY_STRIDED ? 1 : 4, error);
}
