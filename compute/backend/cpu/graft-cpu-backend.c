/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* The CPU backend: the reference every Vulkan kernel is tested against and the fallback
 * when no GPU exists. GEMM goes to OpenBLAS; elementwise ops are split across a small
 * pool of worker threads when they are large enough to pay for it. Activations live in
 * graft-cpu-activation.c.
 *
 * OpenBLAS runs single-threaded, inside the workers: a GEMM is split into row or column
 * panels, one per worker, and convolutions give each worker its own tiles (unfold, GEMM
 * and fold while the tile is in the core's cache). OpenBLAS's own threads would spin
 * between calls and take the cores the workers need. */

#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graft-cpu-private.h"

/* Below this many elements an elementwise op runs on the calling thread. */
#define PARALLEL_MIN_ELEMENTS (1u << 16)

/* Tensor storage is aligned to a cache line, as BLAS kernels and vector loops prefer. */
#define BUFFER_ALIGNMENT 64

typedef struct {
  GraftCpuRangeFunc  func;
  GraftCpuWorkerFunc worker_func;   /* instead of func: called with start as the worker */
  gpointer  ctx;
  guint32   start;
  guint32   end;
} Chunk;

struct _GraftCpuBackend {
  GraftBackend  parent;
  GThreadPool  *pool;
  guint         n_threads;
  GMutex        mutex;
  GCond         cond;
  guint         pending;
  float        *scratch;        /* grows to the largest request, then stays */
  gsize         scratch_size;   /* in floats */
};

float *
_graft_cpu_scratch (GraftCpuBackend  *self,
                    gsize             n_floats,
                    GError          **error)
{
  float *grown;

  if (n_floats <= self->scratch_size)
    return self->scratch;
  grown = n_floats < G_MAXSIZE / sizeof (float) ? g_try_malloc (n_floats * sizeof (float)) : NULL;
  if (grown == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "no memory for %" G_GSIZE_FORMAT " MiB of working space",
                   n_floats * sizeof (float) >> 20);
      return NULL;
    }
  g_free (self->scratch);
  self->scratch = grown;
  self->scratch_size = n_floats;
  return grown;
}

static void
run_chunk_here (Chunk *chunk)
{
  if (chunk->worker_func != NULL)
    chunk->worker_func (chunk->ctx, chunk->start);
  else
    chunk->func (chunk->ctx, chunk->start, chunk->end);
}

static void
run_chunk (gpointer data,
           gpointer user_data)
{
  Chunk *chunk = data;
  GraftCpuBackend *self = user_data;

  run_chunk_here (chunk);

  g_mutex_lock (&self->mutex);
  if (--self->pending == 0)
    g_cond_signal (&self->cond);
  g_mutex_unlock (&self->mutex);
}

/* Runs chunks[1..parts) on the pool and chunks[0] here; returns when all are done. */
static void
run_chunks (GraftCpuBackend *self,
            Chunk           *chunks,
            guint            parts)
{
  g_mutex_lock (&self->mutex);
  self->pending = parts - 1;
  g_mutex_unlock (&self->mutex);

  for (guint i = 1; i < parts; i++)
    g_thread_pool_push (self->pool, &chunks[i], NULL);
  run_chunk_here (&chunks[0]);

  g_mutex_lock (&self->mutex);
  while (self->pending > 0)
    g_cond_wait (&self->cond, &self->mutex);
  g_mutex_unlock (&self->mutex);
}

void
_graft_cpu_parallel_for (GraftCpuBackend   *self,
                         guint32            n,
                         GraftCpuRangeFunc  func,
                         gpointer           ctx)
{
  guint parts = self->n_threads;
  Chunk chunks[GRAFT_CPU_MAX_WORKERS];
  guint32 step;

  if (n < PARALLEL_MIN_ELEMENTS || self->pool == NULL || parts < 2)
    {
      func (ctx, 0, n);
      return;
    }

  parts = MIN (parts, G_N_ELEMENTS (chunks));
  step = (n + parts - 1) / parts;
  for (guint i = 0; i < parts; i++)
    chunks[i] = (Chunk) { func, NULL, ctx, MIN ((guint64) i * step, n), MIN ((guint64) (i + 1) * step, n) };
  run_chunks (self, chunks, parts);
}

guint
_graft_cpu_n_workers (GraftCpuBackend *self)
{
  return self->pool != NULL ? MIN (self->n_threads, GRAFT_CPU_MAX_WORKERS) : 1;
}

void
_graft_cpu_run_workers (GraftCpuBackend    *self,
                        GraftCpuWorkerFunc  func,
                        gpointer            ctx)
{
  guint parts = _graft_cpu_n_workers (self);
  Chunk chunks[GRAFT_CPU_MAX_WORKERS];

  if (parts < 2)
    {
      func (ctx, 0);
      return;
    }
  for (guint i = 0; i < parts; i++)
    chunks[i] = (Chunk) { NULL, func, ctx, i, i + 1 };
  run_chunks (self, chunks, parts);
}

/* ---- buffers ------------------------------------------------------------------------ */

static GraftBuffer *
cpu_buffer_new (GraftBackend  *backend,
                gsize          size,
                GError       **error)
{
  GraftBuffer *buffer = g_new (GraftBuffer, 1);
  void *data = NULL;

  (void) backend;

  if (posix_memalign (&data, BUFFER_ALIGNMENT, MAX (size, 1)) != 0)
    {
      g_autofree char *pretty = g_format_size_full (size, G_FORMAT_SIZE_IEC_UNITS);
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "Out of memory: could not allocate %s of system memory for a tensor",
                   pretty);
      g_free (buffer);
      return NULL;
    }
  buffer->size = size;
  buffer->data = data;
  return buffer;
}

static void
cpu_buffer_free (GraftBackend *backend,
                 GraftBuffer  *buffer)
{
  (void) backend;
  free (buffer->data);
  g_free (buffer);
}

static gboolean
cpu_buffer_write (GraftBackend  *backend,
                  GraftBuffer   *buffer,
                  gsize          offset,
                  const void    *data,
                  gsize          size,
                  GError       **error)
{
  (void) backend;
  (void) error;
  g_assert (offset + size <= buffer->size);
  memcpy ((char *) buffer->data + offset, data, size);
  return TRUE;
}

static gboolean
cpu_buffer_read (GraftBackend  *backend,
                 GraftBuffer   *buffer,
                 gsize          offset,
                 void          *data,
                 gsize          size,
                 GError       **error)
{
  (void) backend;
  (void) error;
  g_assert (offset + size <= buffer->size);
  memcpy (data, (const char *) buffer->data + offset, size);
  return TRUE;
}

/* ---- elementwise -------------------------------------------------------------------- */

typedef struct {
  float       *out;
  const float *a;
  float        value;
} UnaryCtx;

static void
fill_range (gpointer ctx,
            guint32  start,
            guint32  end)
{
  UnaryCtx *u = ctx;
  for (guint32 i = start; i < end; i++)
    u->out[i] = u->value;
}

static void
scale_range (gpointer ctx,
             guint32  start,
             guint32  end)
{
  UnaryCtx *u = ctx;
  for (guint32 i = start; i < end; i++)
    u->out[i] = u->a[i] * u->value;
}

static gboolean
cpu_fill (GraftBackend  *backend,
          GraftBuffer   *out,
          guint32        n,
          float          value,
          GError       **error)
{
  UnaryCtx ctx = { out->data, NULL, value };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, fill_range, &ctx);
  return TRUE;
}

static gboolean
cpu_scale (GraftBackend  *backend,
           GraftBuffer   *a,
           GraftBuffer   *out,
           guint32        n,
           float          s,
           GError       **error)
{
  UnaryCtx ctx = { out->data, a->data, s };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, n, scale_range, &ctx);
  return TRUE;
}

typedef struct {
  GraftBinaryOp         op;
  const GraftBroadcast *plan;
  const float          *a;
  const float          *b;
  float                *out;
} BinaryCtx;

static void
binary_range (gpointer ctx,
              guint32  start,
              guint32  end)
{
  BinaryCtx *c = ctx;
  const GraftBroadcast *p = c->plan;
  guint last = p->rank - 1;
  guint32 coord[GRAFT_MAX_RANK];
  guint32 ia = 0, ib = 0;
  guint32 rest = start;
  guint32 i = start;

  /* Position of @start in the output shape and in both inputs. */
  for (guint d = p->rank; d-- > 0;)
    {
      coord[d] = rest % p->shape[d];
      rest /= p->shape[d];
      ia += coord[d] * p->a_strides[d];
      ib += coord[d] * p->b_strides[d];
    }

  while (i < end)
    {
      /* Run along the innermost dimension, then carry into the outer ones. */
      guint32 run = MIN (p->shape[last] - coord[last], end - i);
      guint32 sa = p->a_strides[last], sb = p->b_strides[last];

      if (c->op == GRAFT_BINARY_ADD)
        for (guint32 j = 0; j < run; j++)
          c->out[i + j] = c->a[ia + j * sa] + c->b[ib + j * sb];
      else
        for (guint32 j = 0; j < run; j++)
          c->out[i + j] = c->a[ia + j * sa] * c->b[ib + j * sb];

      i += run;
      ia += run * sa;
      ib += run * sb;
      coord[last] += run;

      for (guint d = last; d > 0 && coord[d] == p->shape[d]; d--)
        {
          ia -= coord[d] * p->a_strides[d];
          ib -= coord[d] * p->b_strides[d];
          coord[d] = 0;
          coord[d - 1]++;
          ia += p->a_strides[d - 1];
          ib += p->b_strides[d - 1];
        }
    }
}

static gboolean
cpu_binary (GraftBackend          *backend,
            GraftBinaryOp          op,
            const GraftBroadcast  *plan,
            GraftBuffer           *a,
            GraftBuffer           *b,
            GraftBuffer           *out,
            GError               **error)
{
  BinaryCtx ctx = { op, plan, a->data, b->data, out->data };

  (void) error;
  _graft_cpu_parallel_for ((GraftCpuBackend *) backend, plan->n, binary_range, &ctx);
  return TRUE;
}

/* ---- GEMM --------------------------------------------------------------------------- */

/* Below this many multiply-adds a GEMM runs on the calling thread alone. */
#define GEMM_SPLIT_MIN (1u << 21)

typedef struct {
  const GraftGemmParams *p;
  const float *a;
  const float *b;
  float       *c;
  float        beta;
  gboolean     by_rows;   /* workers take panels of C's rows, or else of its columns */
  guint        parts;
} GemmCtx;

/* Worker w's panel of C: a slice of op(A)'s rows with all of op(B), or all of op(A)
 * with a slice of op(B)'s columns. */
static void
gemm_panel (gpointer ctx,
            guint    worker)
{
  const GemmCtx *g = ctx;
  const GraftGemmParams *p = g->p;
  guint32 size = g->by_rows ? p->m : p->n;
  guint32 start = (guint32) ((guint64) size * worker / g->parts);
  guint32 end = (guint32) ((guint64) size * (worker + 1) / g->parts);
  blasint lda = (blasint) (p->trans_a ? p->m : p->k), ldb = (blasint) (p->trans_b ? p->k : p->n);
  const float *a = g->a, *b = g->b;
  float *c = g->c;

  if (end <= start)
    return;
  if (g->by_rows)
    {
      a += p->trans_a ? start : (gsize) start * p->k;
      c += (gsize) start * p->n;
    }
  else
    {
      b += p->trans_b ? (gsize) start * p->k : start;
      c += start;
    }
  cblas_sgemm (CblasRowMajor,
               p->trans_a ? CblasTrans : CblasNoTrans,
               p->trans_b ? CblasTrans : CblasNoTrans,
               (blasint) (g->by_rows ? end - start : p->m),
               (blasint) (g->by_rows ? p->n : end - start),
               (blasint) p->k, p->alpha, a, lda, b, ldb, g->beta, c, (blasint) p->n);
}

static gboolean
cpu_gemm (GraftBackend           *backend,
          const GraftGemmParams  *p,
          GraftBuffer            *a,
          GraftBuffer            *b,
          GraftBuffer            *bias,
          GraftBuffer            *c,
          GError                **error)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;
  GemmCtx ctx = { .p = p, .a = a->data, .b = b->data, .c = c->data, .beta = p->beta,
                  .by_rows = p->m >= p->n, .parts = _graft_cpu_n_workers (self) };

  (void) error;

  /* C = bias (broadcast over rows) first, then let BLAS accumulate into it. */
  if (bias != NULL)
    {
      for (guint32 row = 0; row < p->m; row++)
        {
          float *c_row = c->data + (gsize) row * p->n;
          if (ctx.beta == 0.0f)
            memcpy (c_row, bias->data, p->n * sizeof (float));
          else
            for (guint32 col = 0; col < p->n; col++)
              c_row[col] = ctx.beta * c_row[col] + bias->data[col];
        }
      ctx.beta = 1.0f;
    }

  if ((guint64) p->m * p->n * p->k < GEMM_SPLIT_MIN)
    ctx.parts = 1;
  if (ctx.parts == 1)
    gemm_panel (&ctx, 0);
  else
    _graft_cpu_run_workers (self, gemm_panel, &ctx);
  return TRUE;
}

static gboolean
cpu_synchronize (GraftBackend  *backend,
                 GError       **error)
{
  (void) backend;
  (void) error;
  return TRUE;
}

static void
cpu_destroy (GraftBackend *backend)
{
  GraftCpuBackend *self = (GraftCpuBackend *) backend;

  if (self->pool != NULL)
    g_thread_pool_free (self->pool, FALSE, TRUE);
  g_clear_pointer (&self->scratch, g_free);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->cond);
  g_free (self);
}

static const GraftBackendOps cpu_ops = {
  .destroy      = cpu_destroy,
  .buffer_new   = cpu_buffer_new,
  .buffer_free  = cpu_buffer_free,
  .buffer_write = cpu_buffer_write,
  .buffer_read  = cpu_buffer_read,
  .fill         = cpu_fill,
  .scale        = cpu_scale,
  .binary       = cpu_binary,
  .activation   = _graft_cpu_activation,
  .activation_backward = _graft_cpu_activation_backward,
  .gemm         = cpu_gemm,
  .pool2d       = _graft_cpu_pool2d,
  .pool2d_backward = _graft_cpu_pool2d_backward,
  .copy_strided = _graft_cpu_copy_strided,
  .upsample_nearest = _graft_cpu_upsample_nearest,
  .upsample_nearest_backward = _graft_cpu_upsample_nearest_backward,
  .dropout      = _graft_cpu_dropout,
  .transpose_last2 = _graft_cpu_transpose_last2,
  .attention    = _graft_cpu_attention,
  .attention_backward = _graft_cpu_attention_backward,
  .conv2d       = _graft_cpu_conv2d,
  .conv2d_backward = _graft_cpu_conv2d_backward,
  .norm         = _graft_cpu_norm,
  .norm_backward = _graft_cpu_norm_backward,
  .cross_entropy = _graft_cpu_cross_entropy,
  .optim_step   = _graft_cpu_optim_step,
  .sum_squares  = _graft_cpu_sum_squares,
  .sqrt_sum     = _graft_cpu_sqrt_sum,
  .clip_scale   = _graft_cpu_clip_scale,
  .synchronize  = cpu_synchronize,
};

/* "AMD EPYC 7B13" from /proc/cpuinfo, or NULL */
static char *
read_cpu_model (void)
{
  g_autofree char *contents = NULL;
  g_auto(GStrv) lines = NULL;

  if (!g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL))
    return NULL;

  lines = g_strsplit (contents, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      if (g_str_has_prefix (lines[i], "model name"))
        {
          const char *colon = strchr (lines[i], ':');
          if (colon != NULL)
            return g_strstrip (g_strdup (colon + 1));
        }
    }
  return NULL;
}

GraftDeviceInfo *
_graft_cpu_device_info_new (void)
{
  GraftDeviceInfo *info = g_new0 (GraftDeviceInfo, 1);
  g_autofree char *model = read_cpu_model ();
  long pages = sysconf (_SC_PHYS_PAGES);
  long page_size = sysconf (_SC_PAGESIZE);

  info->id = g_strdup ("cpu");
  info->backend = GRAFT_BACKEND_KIND_CPU;
  info->type = GRAFT_DEVICE_TYPE_CPU;
  info->name = g_strdup_printf ("%s (CPU backend)", model != NULL ? model : "Processor");
  info->driver = g_strstrip (g_strdup (openblas_get_config ()));
  info->memory_bytes = (pages > 0 && page_size > 0) ? (guint64) pages * (guint64) page_size : 0;
  /* One op indexes at most 2^32 elements of float32. */
  info->max_storage_buffer_range = (guint64) G_MAXUINT32 * sizeof (float);
  info->max_buffer_size = info->max_storage_buffer_range;
  info->max_shared_memory = 0;
  info->subgroup_size = 0;
  info->max_workgroup_invocations = 0;
  info->fp16 = FALSE;
  info->n_threads = g_get_num_processors ();
  /* GRAFT_CPU_THREADS caps the threads (the worker pool's and OpenBLAS's), as PyTorch's
   * set_num_threads does, for fair comparisons and shared machines */
  {
    const char *cap = g_getenv ("GRAFT_CPU_THREADS");
    guint64 value;

    if (cap != NULL && g_ascii_string_to_unsigned (cap, 10, 1, 1024, &value, NULL))
      info->n_threads = (guint) value;
  }
  return info;
}

GraftBackend *
_graft_cpu_backend_open (const GraftDeviceInfo  *info,
                         GError                **error)
{
  GraftCpuBackend *self = g_new0 (GraftCpuBackend, 1);

  _graft_backend_init (&self->parent, &cpu_ops, info);
  g_mutex_init (&self->mutex);
  g_cond_init (&self->cond);
  self->n_threads = MAX (1, info->n_threads);
  openblas_set_num_threads (1);

  if (self->n_threads > 1)
    {
      g_autoptr(GError) local_error = NULL;

      self->pool = g_thread_pool_new (run_chunk, self, (gint) self->n_threads - 1, TRUE, &local_error);
      if (self->pool == NULL)
        {
          g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_INIT_FAILED,
                       "Could not start %u worker threads for the CPU backend: %s",
                       self->n_threads - 1, local_error->message);
          graft_device_info_free (self->parent.info);
          cpu_destroy (&self->parent);
          return NULL;
        }
    }

  return &self->parent;
}
