/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* GEMM: C = alpha op(A) op(B) + beta C + bias. Two kernels:
 *  - gemm_tiled: workgroup tiles of C staged through shared memory, each invocation
 *    accumulating a TM x TN micro-tile in registers. For GPUs.
 *  - gemm_cpu: no shared memory; each invocation owns a register block of C and reads
 *    A and B directly, through texel buffers. CPU implementations of Vulkan (lavapipe)
 *    run invocations as SIMD lanes, where shared memory and barriers only cost time and
 *    texel fetches are much cheaper than storage-buffer loads (see gemm_cpu.comp).
 * Tile sizes and transposes are specialization constants; shapes are push constants.
 * Where the device limits an invocation's loop iterations (llvmpipe) and k is too long
 * for one pass, the reduction is split (split-K): each part's product goes to a
 * scratch buffer, and gemm_reduce adds the parts in order and applies the epilogue. */

#include "graft-vk-private.h"

enum {
  GEMM_HAS_BIAS = 1 << 0,
  GEMM_READ_C   = 1 << 1,
};

typedef struct {
  guint32 m, n, k;
  guint32 flags;
  float   alpha;
  float   beta;
  guint32 row0;   /* first row and column of this dispatch */
  guint32 col0;
  guint32 k0, k1; /* the part of the reduction it sums */
  guint32 c0;     /* where its C starts in the C buffer */
} GemmPush;

typedef struct {
  guint32 size, n, parts, flags;
  float   alpha, beta;
} ReducePush;

typedef struct {
  guint32 bm, bn, bk, tm, tn;
} TiledConfig;

/* Largest first; the first that fits the device's limits (and, for the largest, a C
 * big enough to keep a GPU busy with its tiles) is used. */
static const TiledConfig tiled_configs[] = {
  { 128, 128, 16, 8, 8 }, /* 256 invocations, 16 KiB shared, 64 accumulators each */
  { 64, 64, 16, 4, 4 },   /* 256 invocations, 8 KiB shared */
  { 32, 64, 16, 4, 4 },   /* 128 */
  { 32, 32, 16, 4, 4 },   /* 64 */
  { 16, 16, 16, 2, 2 },   /* 64 */
  { 8,  8,  8,  2, 2 },   /* 16 */
};

/* Below this many 128 x 128 tiles, 64 x 64 ones keep more compute units busy. */
#define LARGE_TILES_MIN 256

/* gemm_cpu: an invocation computes CPU_TM rows x CPU_TN columns; a workgroup is one row
 * block and CPU_WG (or, for narrow C, CPU_WG_NARROW) column blocks. On lavapipe 16 x 8
 * is the best trade between texel fetches per multiply-add and spilled accumulators. */
#define CPU_TM        GRAFT_VK_GEMM_CPU_TM
#define CPU_TN        8
#define CPU_WG        64
#define CPU_WG_NARROW 8

G_STATIC_ASSERT (G_N_ELEMENTS (tiled_configs) == GRAFT_VK_N_TILED_CONFIGS);

static gboolean
tiled_fits (GraftVkBackend    *self,
            const TiledConfig *c)
{
  const VkPhysicalDeviceLimits *limits = &self->props.limits;
  guint32 threads = (c->bm / c->tm) * (c->bn / c->tn);
  guint32 shared = (c->bm + 1 + c->bn + 1) * c->bk * sizeof (float);

  return threads <= limits->maxComputeWorkGroupInvocations &&
         threads <= limits->maxComputeWorkGroupSize[0] &&
         shared <= limits->maxComputeSharedMemorySize;
}

static const TiledConfig *
pick_tiled (GraftVkBackend        *self,
            const GraftGemmParams *params)
{
  guint64 large_tiles = ((guint64) params->m / tiled_configs[0].bm) * (params->n / tiled_configs[0].bn);

  if (self->tiled_config >= 0 && self->tiled_config < (gint) G_N_ELEMENTS (tiled_configs) &&
      tiled_fits (self, &tiled_configs[self->tiled_config]))
    return &tiled_configs[self->tiled_config];

  for (guint i = large_tiles >= LARGE_TILES_MIN ? 0 : 1; i < G_N_ELEMENTS (tiled_configs); i++)
    if (tiled_fits (self, &tiled_configs[i]))
      return &tiled_configs[i];
  return NULL;
}

/* Launches a grid of tiles_x x tiles_y workgroups, split into several dispatches where
 * it exceeds maxComputeWorkGroupCount; row0/col0 tell each piece where it starts. */
static gboolean
dispatch_tiles (GraftVkBackend   *self,
                GraftVkDispatch  *d,
                GemmPush         *push,
                guint32           tile_rows,
                guint32           tile_cols,
                GError          **error)
{
  const guint32 *max = self->props.limits.maxComputeWorkGroupCount;
  guint64 tiles_y = ((guint64) push->m + tile_rows - 1) / tile_rows;
  guint64 tiles_x = ((guint64) push->n + tile_cols - 1) / tile_cols;

  for (guint64 y = 0; y < tiles_y; y += max[1])
    for (guint64 x = 0; x < tiles_x; x += max[0])
      {
        push->row0 = (guint32) (y * tile_rows);
        push->col0 = (guint32) (x * tile_cols);
        d->groups[0] = (guint32) MIN (tiles_x - x, (guint64) max[0]);
        d->groups[1] = (guint32) MIN (tiles_y - y, (guint64) max[1]);
        d->groups[2] = 1;
        if (!_graft_vk_dispatch (self, d, error))
          return FALSE;
      }
  return TRUE;
}

static gboolean
gemm_tiled (GraftVkBackend         *self,
            const GraftGemmParams  *params,
            GraftVkDispatch        *d,
            GemmPush               *push,
            GError                **error)
{
  const TiledConfig *t = pick_tiled (self, params);

  if (t == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s has too little shared memory or too small workgroups for GEMM",
                   self->parent.info->name);
      return FALSE;
    }

  d->shader = "gemm_tiled";
  d->spec[0] = (t->bm / t->tm) * (t->bn / t->tn);
  d->spec[1] = t->bm;
  d->spec[2] = t->bn;
  d->spec[3] = t->bk;
  d->spec[4] = t->tm;
  d->spec[5] = t->tn;
  d->spec[6] = params->trans_a ? 1 : 0;
  d->spec[7] = params->trans_b ? 1 : 0;
  d->n_spec = 8;
  return dispatch_tiles (self, d, push, t->bm, t->bn, error);
}

static gboolean
texels_fit (GraftVkBackend *self,
            GraftBuffer    *buffer,
            gboolean        vec4)
{
  return buffer->size / (vec4 ? 16 : 4) <= self->props.limits.maxTexelBufferElements;
}

static gboolean
gemm_cpu (GraftVkBackend         *self,
          const GraftGemmParams  *params,
          GraftVkDispatch        *d,
          GemmPush               *push,
          GError                **error)
{
  /* Rows that start 16-byte aligned are read four floats per texel fetch. */
  gboolean vec_a = params->trans_a ? params->m % 4 == 0 : params->k % 4 == 0;
  gboolean vec_b = params->trans_b ? params->k % 4 == 0 : params->n % 4 == 0;
  guint32 wg = params->n <= CPU_TN * CPU_WG_NARROW ? CPU_WG_NARROW : CPU_WG;

  /* Texel buffers have their own size limit; past it, the tiled kernel does the job. */
  if (!texels_fit (self, d->buffers[0], vec_a) || !texels_fit (self, d->buffers[1], vec_b))
    return gemm_tiled (self, params, d, push, error);

  d->shader = "gemm_cpu";
  d->texel_mask = 0x3;   /* A and B as samplerBuffers */
  d->texel4_mask = (vec_a ? 0x1 : 0) | (vec_b ? 0x2 : 0);
  d->spec[0] = MIN (wg, self->wg_1d);
  d->spec[1] = CPU_TM;
  d->spec[2] = CPU_TN;
  d->spec[3] = params->trans_a ? 1 : 0;
  d->spec[4] = params->trans_b ? 1 : 0;
  d->spec[5] = vec_a ? 1 : 0;
  d->spec[6] = vec_b ? 1 : 0;
  d->n_spec = 7;
  return dispatch_tiles (self, d, push, CPU_TM, d->spec[0] * CPU_TN, error);
}

/* Loop iterations of one invocation summing @k_len values of the reduction, with a
 * margin for the epilogue: gemm_cpu does 8 k steps per iteration (and the last k % 8
 * one by one), gemm_tiled loads BM x BK and BK x BN values in strides of its
 * invocations and then runs BK steps per tile. */
static guint64
k_iterations (GraftVkBackend         *self,
              GraftVkGemmKernel       kernel,
              const GraftGemmParams  *params,
              const GraftVkDispatch  *d,
              guint64                 k_len)
{
  const TiledConfig *t;
  guint64 threads, per_tile;

  /* gemm_cpu hands operands past the texel limit to gemm_tiled. */
  if (kernel == GRAFT_VK_GEMM_CPU && texels_fit (self, d->buffers[0], FALSE) &&
      texels_fit (self, d->buffers[1], FALSE))
    return k_len / 8 + 8 + 2 * CPU_TM;
  t = pick_tiled (self, params);
  if (t == NULL)
    return 0;   /* gemm_tiled reports it */
  threads = (t->bm / t->tm) * (t->bn / t->tn);
  per_tile = t->bk + (t->bm * t->bk + threads - 1) / threads + (t->bn * t->bk + threads - 1) / threads;
  return (k_len + t->bk - 1) / t->bk * per_tile + t->tm * t->tn;
}

static gboolean
gemm_split_k (GraftVkBackend         *self,
              GraftVkGemmKernel       kernel,
              const GraftGemmParams  *params,
              GraftVkDispatch        *d,
              GemmPush               *push,
              GError                **error)
{
  guint64 size = (guint64) params->m * params->n;
  guint32 budget = _graft_vk_loop_budget (self);
  guint64 part = params->k, parts = 1;
  ReducePush rpush = {
    .size = (guint32) size, .n = params->n, .flags = push->flags,
    .alpha = push->alpha, .beta = push->beta,
  };
  GraftVkDispatch r = {
    .shader = "gemm_reduce",
    .n_bindings = 3,
    .buffers = { NULL, d->buffers[2], d->buffers[3] },
    .n_spec = 1,
    .push = &rpush,
    .push_size = sizeof rpush,
  };
  GraftBuffer *partial;
  gboolean ok = TRUE;

  /* Halve the parts until each fits, in multiples of 16 k steps. */
  while (part > 16 && k_iterations (self, kernel, params, d, part) > budget)
    {
      part = (part / 2 + 15) / 16 * 16;
      parts = (params->k + part - 1) / part;
    }
  if (!_graft_vk_check_loop (self, MAX (k_iterations (self, kernel, params, d, part), parts),
                             "gemm with a long reduction", error))
    return FALSE;
  if (parts * size > G_MAXUINT32)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "gemm: %" G_GUINT64_FORMAT " partial products of %u x %u are too many for %s",
                   parts, params->m, params->n, self->parent.info->name);
      return FALSE;
    }
  partial = _graft_vk_buffer_new (&self->parent, parts * size * sizeof (float), error);
  if (partial == NULL)
    return FALSE;

  d->buffers[2] = NULL;
  d->buffers[3] = partial;
  for (guint64 s = 0; s < parts && ok; s++)
    {
      GemmPush p = *push;

      p.flags = 0;
      p.alpha = 1.0f;
      p.beta = 0.0f;
      p.k0 = (guint32) (s * part);
      p.k1 = (guint32) MIN (params->k, (s + 1) * part);
      p.c0 = (guint32) (s * size);
      d->push = &p;
      ok = kernel == GRAFT_VK_GEMM_CPU ? gemm_cpu (self, params, d, &p, error)
                                       : gemm_tiled (self, params, d, &p, error);
    }
  if (ok)
    {
      r.buffers[0] = partial;
      rpush.parts = (guint32) parts;
      ok = _graft_vk_dispatch_1d (self, &r, (guint32) size, 1, error);
    }
  _graft_vk_buffer_free (&self->parent, partial);   /* released after the work runs */
  return ok;
}

gboolean
_graft_vk_gemm (GraftBackend           *backend,
                const GraftGemmParams  *params,
                GraftBuffer            *a,
                GraftBuffer            *b,
                GraftBuffer            *bias,
                GraftBuffer            *c,
                GError                **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  GraftVkGemmKernel kernel = self->gemm_kernel;
  GemmPush push = {
    .m = params->m,
    .n = params->n,
    .k = params->k,
    .flags = (bias != NULL ? GEMM_HAS_BIAS : 0) | (params->beta != 0.0f ? GEMM_READ_C : 0),
    .alpha = params->alpha,
    .beta = params->beta,
  };
  GraftVkDispatch d = {
    .n_bindings = 4,
    .buffers = { a, b, bias, c },
    .push = &push,
    .push_size = sizeof push,
  };

  if (kernel == GRAFT_VK_GEMM_AUTO)
    kernel = backend->info->type == GRAFT_DEVICE_TYPE_CPU ? GRAFT_VK_GEMM_CPU : GRAFT_VK_GEMM_TILED;

  push.k1 = params->k;
  if (k_iterations (self, kernel, params, &d, params->k) > _graft_vk_loop_budget (self))
    return gemm_split_k (self, kernel, params, &d, &push, error);
  if (kernel == GRAFT_VK_GEMM_CPU)
    return gemm_cpu (self, params, &d, &push, error);
  return gemm_tiled (self, params, &d, &push, error);
}
