/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Attention (see GraftAttentionPlan):
 *  - transpose_last2: one invocation per output value.
 *  - attn_gemm: a batched GEMM whose operands are strided views (offsets, per-sequence
 *    and per-head strides, row and column strides in push constants), so q k^T, P v and
 *    the backward products read the heads straight out of the packed qkv and write
 *    straight into out or dqkv. The items (sequence, head) are the grid's z. Tiles go
 *    through shared memory, for GPUs; attn_gemm_texel computes the same product with
 *    register blocks and texel fetches, for CPU devices (the choice follows GEMM's,
 *    see graft-vk-gemm.c).
 *  - attn_softmax: the row softmax of the scores, in place in probs, one workgroup (or
 *    with the CPU kernels one invocation) per row; attn_softmax_backward turns dP into
 *    dS the same way.
 * Forward: S = scale q k^T into probs, softmax in place, out = P v. Backward: dV = P^T dO,
 * dP = dO V^T into a scratch buffer, dS in place, dQ = scale dS K, dK = scale dS^T Q.
 * The scratch buffer (probs' size) is allocated per call and released once the work has
 * run, as graft-vk-conv.c does with its slices. */

#include "graft-vk-private.h"

typedef struct {
  guint32 batch, rows, cols;
  guint32 total;
} TransposePush;

/* One operand of attn_gemm: element (i, j) of item (s, h) is at
 * off + s * seq + h * head + i * row + j * col. */
typedef struct {
  guint32 off, seq, head, row, col;
} View;

typedef struct {
  guint32 m, n, k;
  guint32 heads;
  float   alpha;
  guint32 row0, col0, item0;
  View    a;
  View    b;
  guint32 c_off, c_seq, c_head, c_row;   /* C's columns are contiguous */
} GemmPush;

typedef struct {
  guint32 rows, len;
} RowsPush;

G_STATIC_ASSERT (sizeof (GemmPush) <= GRAFT_VK_MAX_PUSH);

/* Tile of attn_gemm: 32 x 32 outputs, 16 k steps staged, 4 x 4 per invocation: 64
 * invocations and 4.2 KiB of shared memory, within every device's minimum limits. */
#define TILE_M  32
#define TILE_N  32
#define TILE_K  16
#define MICRO   4
#define TILE_INVOCATIONS ((TILE_M / MICRO) * (TILE_N / MICRO))

/* Lanes per row of the softmax kernels; a power of two for the trees. */
#define ROWS_WORKGROUP 64

gboolean
_graft_vk_transpose_last2 (GraftBackend              *backend,
                           const GraftTransposePlan  *plan,
                           GraftBuffer               *x,
                           GraftBuffer               *out,
                           GError                   **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  TransposePush push = {
    .batch = plan->batch, .rows = plan->rows, .cols = plan->cols,
    .total = plan->batch * plan->rows * plan->cols,
  };
  GraftVkDispatch d = {
    .shader = "transpose_last2",
    .n_bindings = 2,
    .buffers = { x, out },
    .n_spec = 1,
    .push = &push,
    .push_size = sizeof push,
  };

  return _graft_vk_dispatch_1d (self, &d, push.total, 1, error);
}

/* Launches @d over tiles_x x tiles_y x items workgroups, in several dispatches where
 * that exceeds maxComputeWorkGroupCount; col0 advances by @col_step per workgroup. */
static gboolean
dispatch_grid (GraftVkBackend   *self,
               GraftVkDispatch  *d,
               GemmPush         *push,
               guint64           tiles_x,
               guint32           col_step,
               guint64           tiles_y,
               guint32           row_step,
               guint64           items,
               GError          **error)
{
  const guint32 *max = self->props.limits.maxComputeWorkGroupCount;

  for (guint64 z = 0; z < items; z += max[2])
    for (guint64 y = 0; y < tiles_y; y += max[1])
      for (guint64 x = 0; x < tiles_x; x += max[0])
        {
          push->item0 = (guint32) z;
          push->row0 = (guint32) (y * row_step);
          push->col0 = (guint32) (x * col_step);
          d->groups[0] = (guint32) MIN (tiles_x - x, (guint64) max[0]);
          d->groups[1] = (guint32) MIN (tiles_y - y, (guint64) max[1]);
          d->groups[2] = (guint32) MIN (items - z, (guint64) max[2]);
          if (!_graft_vk_dispatch (self, d, error))
            return FALSE;
        }
  return TRUE;
}

/* Whether to use the kernels laid out for CPU devices: where GEMM uses gemm_cpu (CPU
 * devices such as lavapipe, or GRAFT_VK_GEMM=cpu; tests switch it). */
static gboolean
cpu_kernels (GraftVkBackend *self)
{
  GraftVkGemmKernel kernel = self->gemm_kernel;

  if (kernel == GRAFT_VK_GEMM_AUTO)
    kernel = self->parent.info->type == GRAFT_DEVICE_TYPE_CPU ? GRAFT_VK_GEMM_CPU : GRAFT_VK_GEMM_TILED;
  return kernel == GRAFT_VK_GEMM_CPU;
}

/* Whether the products go to attn_gemm_texel: CPU kernels, and both operands fit a
 * texel buffer. */
static gboolean
use_texels (GraftVkBackend *self,
            GraftBuffer    *a,
            GraftBuffer    *b)
{
  guint32 max = self->props.limits.maxTexelBufferElements;

  return cpu_kernels (self) && a->size / sizeof (float) <= max && b->size / sizeof (float) <= max;
}

/* C = alpha A B for every item (sequence, head). */
static gboolean
batched_gemm (GraftVkBackend            *self,
              const GraftAttentionPlan  *plan,
              GraftBuffer               *a,
              GraftBuffer               *b,
              GraftBuffer               *c,
              GemmPush                  *push,
              GError                   **error)
{
  guint64 items = (guint64) plan->n * plan->heads;
  GraftVkDispatch d = {
    .shader = "attn_gemm",
    .n_bindings = 3,
    .buffers = { a, b, c },
    .spec = { TILE_INVOCATIONS, TILE_M, TILE_N, TILE_K, MICRO, MICRO },
    .n_spec = 6,
    .push = push,
    .push_size = sizeof *push,
  };

  push->heads = plan->heads;
  if (use_texels (self, a, b))
    {
      /* One invocation per 4 x 4 block; a workgroup spans the row's column blocks (up
       * to 64 of them), so narrow products leave few lanes idle. */
      guint64 col_blocks = ((guint64) push->n + 3) / 4;
      guint32 wg = 8;

      while (wg < col_blocks && wg * 2 <= MIN (64, self->wg_1d))
        wg *= 2;
      d.shader = "attn_gemm_texel";
      d.texel_mask = 0x3;
      d.spec[0] = wg;
      d.n_spec = 1;
      return dispatch_grid (self, &d, push, (col_blocks + wg - 1) / wg, wg,
                            ((guint64) push->m + 3) / 4, 4, items, error);
    }
  return dispatch_grid (self, &d, push, ((guint64) push->n + TILE_N - 1) / TILE_N, TILE_N,
                        ((guint64) push->m + TILE_M - 1) / TILE_M, TILE_M, items, error);
}

/* The row kernels over every item's L x L block: one workgroup per row, or with the
 * CPU kernels one invocation per row (specialization constant 1, PER_LANE): on lavapipe
 * that is four times faster, as barriers there cost more than the rows' work. */
static gboolean
rows_op (GraftVkBackend            *self,
         const char                *shader,
         const GraftAttentionPlan  *plan,
         GraftBuffer               *first,
         GraftBuffer               *second,
         GError                   **error)
{
  guint32 wg = 1;
  RowsPush push = { plan->n * plan->heads * plan->l, plan->l };
  gboolean per_lane = cpu_kernels (self);
  GraftVkDispatch d = {
    .shader = shader,
    .n_bindings = second != NULL ? 2 : 1,
    .buffers = { first, second },
    .spec = { 0, per_lane },
    .n_spec = 2,
    .push = &push,
    .push_size = sizeof push,
  };

  if (per_lane)
    return _graft_vk_dispatch_1d (self, &d, push.rows, 1, error);
  while (wg * 2 <= MIN (ROWS_WORKGROUP, self->wg_1d))
    wg *= 2;
  d.spec[0] = wg;
  return _graft_vk_grid_1d (self, push.rows, d.groups, error) &&
         _graft_vk_dispatch (self, &d, error);
}

/* Views of head h of sequence s: in qkv (part 0, 1, 2 for q, k, v), in out or dout, and
 * in probs or the scratch buffer; _t swaps the row and column strides (the transpose). */
static View
qkv_view (const GraftAttentionPlan *p,
          guint32                   part,
          gboolean                  transposed)
{
  guint32 ld = 3 * p->e;
  View v = { part * p->e, p->l * ld, p->head_dim, ld, 1 };

  if (transposed)
    v = (View) { v.off, v.seq, v.head, 1, ld };
  return v;
}

static View
out_view (const GraftAttentionPlan *p)
{
  return (View) { 0, p->l * p->e, p->head_dim, p->e, 1 };
}

static View
probs_view (const GraftAttentionPlan *p,
            gboolean                  transposed)
{
  View v = { 0, p->heads * p->l * p->l, p->l * p->l, p->l, 1 };

  if (transposed)
    v = (View) { v.off, v.seq, v.head, 1, p->l };
  return v;
}

static void
set_c (GemmPush *push,
       View      c)
{
  push->c_off = c.off;
  push->c_seq = c.seq;
  push->c_head = c.head;
  push->c_row = c.row;
}

gboolean
_graft_vk_attention (GraftBackend              *backend,
                     const GraftAttentionPlan  *plan,
                     GraftBuffer               *qkv,
                     GraftBuffer               *probs,
                     GraftBuffer               *out,
                     GError                   **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  GemmPush scores = {
    .m = plan->l, .n = plan->l, .k = plan->head_dim, .alpha = plan->scale,
    .a = qkv_view (plan, 0, FALSE), .b = qkv_view (plan, 1, TRUE),
  };
  GemmPush values = {
    .m = plan->l, .n = plan->head_dim, .k = plan->l, .alpha = 1.0f,
    .a = probs_view (plan, FALSE), .b = qkv_view (plan, 2, FALSE),
  };

  set_c (&scores, probs_view (plan, FALSE));
  set_c (&values, out_view (plan));
  return batched_gemm (self, plan, qkv, qkv, probs, &scores, error) &&
         rows_op (self, "attn_softmax", plan, probs, NULL, error) &&
         batched_gemm (self, plan, probs, qkv, out, &values, error);
}

gboolean
_graft_vk_attention_backward (GraftBackend              *backend,
                              const GraftAttentionPlan  *plan,
                              GraftBuffer               *qkv,
                              GraftBuffer               *probs,
                              GraftBuffer               *dout,
                              GraftBuffer               *dqkv,
                              GError                   **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  gsize scratch_size = (gsize) plan->n * plan->heads * plan->l * plan->l * sizeof (float);
  GraftBuffer *ds;
  gboolean ok;
  GemmPush dv = {
    .m = plan->l, .n = plan->head_dim, .k = plan->l, .alpha = 1.0f,
    .a = probs_view (plan, TRUE), .b = out_view (plan),
  };
  GemmPush dp = {
    .m = plan->l, .n = plan->l, .k = plan->head_dim, .alpha = 1.0f,
    .a = out_view (plan), .b = qkv_view (plan, 2, TRUE),
  };
  GemmPush dq = {
    .m = plan->l, .n = plan->head_dim, .k = plan->l, .alpha = plan->scale,
    .a = probs_view (plan, FALSE), .b = qkv_view (plan, 1, FALSE),
  };
  GemmPush dk = {
    .m = plan->l, .n = plan->head_dim, .k = plan->l, .alpha = plan->scale,
    .a = probs_view (plan, TRUE), .b = qkv_view (plan, 0, FALSE),
  };

  set_c (&dv, qkv_view (plan, 2, FALSE));
  set_c (&dp, probs_view (plan, FALSE));
  set_c (&dq, qkv_view (plan, 0, FALSE));
  set_c (&dk, qkv_view (plan, 1, FALSE));

  ds = _graft_vk_buffer_new (&self->parent, scratch_size, error);
  if (ds == NULL)
    return FALSE;
  ok = batched_gemm (self, plan, probs, dout, dqkv, &dv, error) &&
       batched_gemm (self, plan, dout, qkv, ds, &dp, error) &&
       rows_op (self, "attn_softmax_backward", plan, probs, ds, error) &&
       batched_gemm (self, plan, ds, qkv, dqkv, &dq, error) &&
       batched_gemm (self, plan, ds, qkv, dqkv, &dk, error);
  _graft_vk_buffer_free (&self->parent, ds);   /* released after the work runs */
  return ok;
}
