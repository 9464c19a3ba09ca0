/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* Attention on the CPU.
 *  - transpose_last2: split across the worker threads by output rows.
 *  - attention and its backward pass: one item per (sequence, head). Each item's
 *    products are OpenBLAS GEMMs on strided views of the packed qkv (leading dimension
 *    3E) and of out or dout (leading dimension E), so no head is ever copied out; the
 *    row softmax and its backward pass are loops over the item's L x L block. Items run
 *    on the worker threads; they write disjoint blocks of the outputs. OpenBLAS may
 *    split a large one of these GEMMs over its own threads too; its threaded build
 *    takes concurrent calls safely. Cutting the items into row blocks small enough for
 *    OpenBLAS to stay single-threaded was tried and was no faster on two cores.
 * Scratch: the backward pass needs dP (then dS) for every item, L x L values each, in
 * the backend's working space (_graft_cpu_scratch), allocated once. */

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "graft-cpu-private.h"

/* ---- transpose ---------------------------------------------------------------------- */

typedef struct {
  const GraftTransposePlan *plan;
  const float              *x;
  float                    *out;
} TransposeCtx;

/* Over output elements, one output row (an input column) at a time. */
static void
transpose_range (gpointer ctx,
                 guint32  start,
                 guint32  end)
{
  const TransposeCtx *c = ctx;
  const GraftTransposePlan *p = c->plan;

  while (start < end)
    {
      guint32 orow = start / p->rows, i = start - orow * p->rows;   /* out row, column */
      guint32 b = orow / p->cols, j = orow - b * p->cols;
      guint32 len = MIN (p->rows - i, end - start);
      const float *src = c->x + (gsize) b * p->rows * p->cols + (gsize) i * p->cols + j;
      float *dst = c->out + start;

      for (guint32 t = 0; t < len; t++)
        dst[t] = src[(gsize) t * p->cols];
      start += len;
    }
}

gboolean
_graft_cpu_transpose_last2 (GraftBackend              *backend,
                            const GraftTransposePlan  *plan,
                            GraftBuffer               *x,
                            GraftBuffer               *out,
                            GError                   **error)
{
  TransposeCtx c = { plan, x->data, out->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->batch * plan->rows * plan->cols,
                           transpose_range, &c);
  return TRUE;
}

/* ---- attention ---------------------------------------------------------------------- */

typedef struct _AttnCtx AttnCtx;
typedef void (*ItemFunc) (const AttnCtx *c, guint32 item);

struct _AttnCtx {
  const GraftAttentionPlan *plan;
  ItemFunc      func;
  guint32       items;
  guint32       cost;     /* work units per item, for splitting */
  const float  *qkv;
  float        *probs;
  float        *out;      /* forward */
  const float  *dout;     /* backward */
  float        *dqkv;
  float        *scratch;  /* backward: L x L per item */
};

/* Item i is done by whichever range holds unit i * cost, as in graft-cpu-conv.c. */
static void
items_range (gpointer ctx,
             guint32  start,
             guint32  end)
{
  const AttnCtx *c = ctx;
  guint32 first = (guint32) (((guint64) start + c->cost - 1) / c->cost);
  guint32 last = (guint32) (((guint64) end + c->cost - 1) / c->cost);

  for (guint32 i = first; i < last && i < c->items; i++)
    c->func (c, i);
}

static void
for_each_item (GraftBackend *backend,
               AttnCtx      *c,
               ItemFunc      func)
{
  const GraftAttentionPlan *p = c->plan;
  guint64 cost = (guint64) p->l * p->l * MAX (p->head_dim, 1);

  c->func = func;
  c->items = p->n * p->heads;
  /* Keep items * cost below 2^32; the split stays even while cost is not capped. */
  c->cost = (guint32) CLAMP (cost, 1, G_MAXUINT32 / MAX (c->items, 1));
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, c->items * c->cost, items_range, c);
}

/* Where item (n, h) starts in qkv (its q; k and v follow E and 2E further on), in out or
 * dout, and in probs. */
static gsize
qkv_offset (const GraftAttentionPlan *p,
            guint32                   item)
{
  guint32 n = item / p->heads, h = item % p->heads;
  return (gsize) n * p->l * 3 * p->e + (gsize) h * p->head_dim;
}

static gsize
out_offset (const GraftAttentionPlan *p,
            guint32                   item)
{
  guint32 n = item / p->heads, h = item % p->heads;
  return (gsize) n * p->l * p->e + (gsize) h * p->head_dim;
}

static float *
probs_of (const AttnCtx *c,
          guint32        item)
{
  return c->probs + (gsize) item * c->plan->l * c->plan->l;
}

/* S = scale q k^T, P = softmax (S) row by row, O = P v. */
static void
attention_item (const AttnCtx *c,
                guint32        item)
{
  const GraftAttentionPlan *p = c->plan;
  blasint l = (blasint) p->l, d = (blasint) p->head_dim, ld = (blasint) (3 * p->e);
  const float *q = c->qkv + qkv_offset (p, item);
  const float *k = q + p->e, *v = q + 2 * (gsize) p->e;
  float *prob = probs_of (c, item);

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, l, l, d,
               p->scale, q, ld, k, ld, 0.0f, prob, l);

  for (guint32 i = 0; i < p->l; i++)
    {
      float *row = prob + (gsize) i * p->l;
      float max = row[0], sum = 0.0f;

      for (guint32 j = 1; j < p->l; j++)
        if (row[j] > max || isnan (row[j]))
          max = row[j];
      for (guint32 j = 0; j < p->l; j++)
        {
          row[j] = expf (row[j] - max);
          sum += row[j];
        }
      for (guint32 j = 0; j < p->l; j++)
        row[j] /= sum;
    }

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, l, d, l,
               1.0f, prob, l, v, ld, 0.0f, c->out + out_offset (p, item), (blasint) p->e);
}

/* dV = P^T dO, dP = dO V^T, dS = P (dP - rowsum (dP P)), dQ = scale dS K,
 * dK = scale dS^T Q. */
static void
attention_backward_item (const AttnCtx *c,
                         guint32        item)
{
  const GraftAttentionPlan *p = c->plan;
  blasint l = (blasint) p->l, d = (blasint) p->head_dim, ld = (blasint) (3 * p->e);
  blasint ldo = (blasint) p->e;
  gsize at = qkv_offset (p, item);
  const float *q = c->qkv + at, *k = q + p->e, *v = q + 2 * (gsize) p->e;
  float *dq = c->dqkv + at, *dk = dq + p->e, *dv = dq + 2 * (gsize) p->e;
  const float *dout = c->dout + out_offset (p, item);
  const float *prob = probs_of (c, item);
  float *ds = c->scratch + (gsize) item * p->l * p->l;

  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, l, d, l,
               1.0f, prob, l, dout, ldo, 0.0f, dv, ld);
  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasTrans, l, l, d,
               1.0f, dout, ldo, v, ld, 0.0f, ds, l);

  for (guint32 i = 0; i < p->l; i++)
    {
      const float *prow = prob + (gsize) i * p->l;
      float *row = ds + (gsize) i * p->l;
      float dot = 0.0f;

      for (guint32 j = 0; j < p->l; j++)
        dot += row[j] * prow[j];
      for (guint32 j = 0; j < p->l; j++)
        row[j] = prow[j] * (row[j] - dot);
    }

  cblas_sgemm (CblasRowMajor, CblasNoTrans, CblasNoTrans, l, d, l,
               p->scale, ds, l, k, ld, 0.0f, dq, ld);
  cblas_sgemm (CblasRowMajor, CblasTrans, CblasNoTrans, l, d, l,
               p->scale, ds, l, q, ld, 0.0f, dk, ld);
}

gboolean
_graft_cpu_attention (GraftBackend              *backend,
                      const GraftAttentionPlan  *plan,
                      GraftBuffer               *qkv,
                      GraftBuffer               *probs,
                      GraftBuffer               *out,
                      GError                   **error)
{
  AttnCtx c = { .plan = plan, .qkv = qkv->data, .probs = probs->data, .out = out->data };

  (void) error;
  for_each_item (backend, &c, attention_item);
  return TRUE;
}

gboolean
_graft_cpu_attention_backward (GraftBackend              *backend,
                               const GraftAttentionPlan  *plan,
                               GraftBuffer               *qkv,
                               GraftBuffer               *probs,
                               GraftBuffer               *dout,
                               GraftBuffer               *dqkv,
                               GError                   **error)
{
  guint64 n = (guint64) plan->n * plan->heads * plan->l * plan->l;
  float *scratch = NULL;
  AttnCtx c = {
    .plan = plan, .qkv = qkv->data, .probs = probs->data, .dout = dout->data,
    .dqkv = dqkv->data,
  };

  if (n <= G_MAXSIZE / sizeof (float))
    scratch = _graft_cpu_scratch ((GraftCpuBackend *) backend, n, NULL);
  if (scratch == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "attention_backward: no memory for the %" G_GUINT64_FORMAT
                   " attention-weight gradients of %u sequences of %u tokens; use smaller "
                   "batches", n, plan->n, plan->l);
      return FALSE;
    }
  c.scratch = scratch;
  for_each_item (backend, &c, attention_backward_item);
  return TRUE;
}
