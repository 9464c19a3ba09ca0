/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Every Vulkan op against the CPU backend, through the public ops, on the same inputs.
 * Both GEMM kernels run on whatever device is there (lavapipe in CI), so the GPU kernel
 * is checked even on machines without a GPU. */

#include <float.h>

#include "graft-test-vulkan.h"

/* Elementwise ops do one correctly rounded float operation per element on both
 * backends: results should be identical, a few ulps leave room for a compiler that
 * contracts a*b+c differently. */
#define ELEMENTWISE_TOLERANCE (4.0 * FLT_EPSILON)

/* GEMM: both sides sum k float32 products in different orders (tiles, BLAS blocking).
 * Each rounding error is about eps times the running sum, and with random signs they
 * add up like a random walk, so the normalised error ||x-y||/||y|| grows like
 * sqrt(k)·eps. A factor 8 of margin keeps a correct kernel well inside the bound
 * (1.5e-5 at k = 257) while a wrong index, a missed tile edge or a dropped transpose
 * gives errors of order 1. */
static double
gemm_tolerance (guint k)
{
  return 8.0 * sqrt ((double) k + 2.0) * FLT_EPSILON;
}

typedef GraftTestBackends Context;

typedef struct {
  Context          *ctx;
  GraftVkGemmKernel kernel;
} GemmCase;

/* ---- GEMM ---------------------------------------------------------------------- */

static void
check_gemm (Context  *ctx,
            GRand    *rand,
            guint     m,
            guint     n,
            guint     k,
            gboolean  ta,
            gboolean  tb,
            gboolean  with_bias,
            float     alpha,
            float     beta)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *a = graft_test_random (rand, (gsize) m * k);
  g_autofree float *b = graft_test_random (rand, (gsize) k * n);
  g_autofree float *c0 = graft_test_random (rand, (gsize) m * n);
  g_autofree float *bias = graft_test_random (rand, n);
  g_autofree float *got = NULL;
  g_autofree float *want = NULL;
  gsize sa[2] = { ta ? k : m, ta ? m : k };
  gsize sb[2] = { tb ? n : k, tb ? k : n };
  gsize sc[2] = { m, n };
  gsize sbias[1] = { n };
  GraftBackend *backends[2] = { ctx->vk, ctx->cpu };
  float *results[2];
  double err, tol;

  /* With beta == 0 the old C must not be read: make it NaN so that reading it shows. */
  if (beta == 0.0f)
    for (gsize i = 0; i < (gsize) m * n; i++)
      c0[i] = NAN;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GraftTensor) ta_t = graft_test_tensor (backends[i], 2, sa, a);
      g_autoptr(GraftTensor) tb_t = graft_test_tensor (backends[i], 2, sb, b);
      g_autoptr(GraftTensor) tc_t = graft_test_tensor (backends[i], 2, sc, c0);
      g_autoptr(GraftTensor) tbias = with_bias ? graft_test_tensor (backends[i], 1, sbias, bias) : NULL;

      graft_op_gemm (ta_t, ta, tb_t, tb, tbias, alpha, beta, tc_t, &error);
      g_assert_no_error (error);
      results[i] = graft_test_download (tc_t);
    }
  got = results[0];
  want = results[1];

  err = graft_test_rel_error (got, want, (gsize) m * n);
  tol = gemm_tolerance (k);
  if (!(err <= tol))
    g_test_message ("gemm m=%u n=%u k=%u trans_a=%d trans_b=%d bias=%d alpha=%g beta=%g: "
                    "error %.3g > %.3g (first: got %g want %g)",
                    m, n, k, ta, tb, with_bias, alpha, beta, err, tol, got[0], want[0]);
  g_assert_cmpfloat (err, <=, tol);
}

static void
test_gemm (gconstpointer data)
{
  const GemmCase *gc = data;
  Context *ctx = gc->ctx;
  static const guint sizes[] = { 1, 3, 7, 31, 33, 65, 127, 129, 257 };
  static const guint fixed[][3] = {
    { 1, 1, 1 }, { 64, 64, 64 }, { 128, 96, 128 }, { 257, 129, 65 }, { 33, 7, 520 },
    { 2, 300, 3 },
  };
  static const float scalars[][2] = { { 1.0f, 0.0f }, { 0.5f, 0.0f }, { 1.5f, -0.75f }, { 1.0f, 1.0f } };
  g_autoptr(GRand) rand = g_rand_new_with_seed (42 + gc->kernel);
  guint n_case = 0;

  if (!graft_test_have_vulkan (ctx))
    return;
  _graft_vk_backend_set_gemm_kernel (ctx->vk, gc->kernel);

  for (guint s = 0; s < G_N_ELEMENTS (fixed) + 10; s++)
    {
      guint m, n, k;

      if (s < G_N_ELEMENTS (fixed))
        {
          m = fixed[s][0];
          n = fixed[s][1];
          k = fixed[s][2];
        }
      else
        {
          m = sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (sizes))];
          n = sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (sizes))];
          k = sizes[g_rand_int_range (rand, 0, G_N_ELEMENTS (sizes))];
        }

      for (guint t = 0; t < 4; t++)
        for (guint with_bias = 0; with_bias < 2; with_bias++)
          {
            const float *ab = scalars[n_case++ % G_N_ELEMENTS (scalars)];
            check_gemm (ctx, rand, m, n, k, t & 1, (t >> 1) & 1, with_bias, ab[0], ab[1]);
          }
    }

  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_AUTO);
}

/* Every tile shape of gemm_tiled, not only the one this device picks: the smaller ones
 * are what GPUs with little shared memory run. */
static void
test_gemm_tiled_configs (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (17);
  static const guint shapes[][3] = { { 33, 65, 17 }, { 7, 129, 40 }, { 70, 9, 1 } };

  if (!graft_test_have_vulkan (ctx))
    return;
  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_TILED);
  for (gint config = 0; config < GRAFT_VK_N_TILED_CONFIGS; config++)
    {
      _graft_vk_backend_set_tiled_config (ctx->vk, config);
      for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
        for (guint t = 0; t < 4; t++)
          check_gemm (ctx, rand, shapes[s][0], shapes[s][1], shapes[s][2], t & 1, t >> 1,
                      s == 1, 1.25f, s == 2 ? 0.5f : 0.0f);
    }
  _graft_vk_backend_set_tiled_config (ctx->vk, -1);
  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_AUTO);
}

/* More row blocks than one dispatch may launch (maxComputeWorkGroupCount[1] is 65535
 * on many devices): the GEMM is split into several dispatches, each told where it
 * starts. gemm_cpu takes GRAFT_VK_GEMM_CPU_TM rows per workgroup, so a C of a few
 * megabytes is enough to need two. */
static void
test_gemm_tall (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  guint64 rows;

  if (!graft_test_have_vulkan (ctx))
    return;
  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_CPU);
  rows = (guint64) GRAFT_VK_BACKEND (ctx->vk)->props.limits.maxComputeWorkGroupCount[1] *
         GRAFT_VK_GEMM_CPU_TM + 37;
  if (rows * 2 * sizeof (float) > graft_backend_get_info (ctx->vk)->max_storage_buffer_range)
    {
      g_test_skip ("This device launches enough workgroups at once for any C it can hold");
      return;
    }
  check_gemm (ctx, rand, (guint) rows, 2, 3, FALSE, FALSE, TRUE, 1.0f, 0.0f);
  check_gemm (ctx, rand, (guint) rows, 1, 2, TRUE, TRUE, FALSE, 2.0f, 0.5f);
  _graft_vk_backend_set_gemm_kernel (ctx->vk, GRAFT_VK_GEMM_AUTO);
}

/* ---- elementwise ------------------------------------------------------------------ */

static void
compare_tensors (GraftTensor *got_t,
                 GraftTensor *want_t,
                 const char  *what)
{
  g_autofree float *got = graft_test_download (got_t);
  g_autofree float *want = graft_test_download (want_t);
  gsize n = graft_tensor_get_n_elements (want_t);
  double err;

  g_assert_cmpuint (graft_tensor_get_n_elements (got_t), ==, n);
  err = graft_test_rel_error (got, want, n);
  if (!(err <= ELEMENTWISE_TOLERANCE))
    g_test_message ("%s: error %.3g", what, err);
  g_assert_cmpfloat (err, <=, ELEMENTWISE_TOLERANCE);
}

static void
test_fill_scale (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  g_autoptr(GError) error = NULL;
  const gsize shape[] = { 3, 1001, 7 };
  gsize n = 3 * 1001 * 7;
  g_autofree float *x = graft_test_random (rand, n);
  GraftTensor *t[2][2];
  GraftBackend *backends[2];

  if (!graft_test_have_vulkan (ctx))
    return;
  backends[0] = ctx->vk;
  backends[1] = ctx->cpu;

  for (guint i = 0; i < 2; i++)
    {
      t[i][0] = graft_test_tensor (backends[i], 3, shape, x);
      t[i][1] = graft_test_tensor (backends[i], 3, shape, NULL);
      graft_op_fill (t[i][1], -2.25f, &error);
      g_assert_no_error (error);
    }
  compare_tensors (t[0][1], t[1][1], "fill");

  for (guint i = 0; i < 2; i++)
    {
      graft_op_scale (t[i][0], 0.3f, t[i][1], &error);   /* out of place */
      g_assert_no_error (error);
      graft_op_scale (t[i][0], -1.7f, t[i][0], &error);  /* in place */
      g_assert_no_error (error);
    }
  compare_tensors (t[0][1], t[1][1], "scale");
  compare_tensors (t[0][0], t[1][0], "scale in place");

  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 2; j++)
      graft_tensor_unref (t[i][j]);
}

typedef struct {
  guint rank_a;
  gsize a[6];
  guint rank_b;
  gsize b[6];
  int   in_place;   /* 0: new out, 1: out = a, 2: out = b */
} BroadcastCase;

static const BroadcastCase broadcast_cases[] = {
  { 2, { 5, 7 }, 2, { 5, 7 }, 0 },
  { 2, { 5, 7 }, 1, { 1 }, 0 },                        /* scalar */
  { 1, { 1 }, 2, { 5, 7 }, 0 },
  { 2, { 5, 7 }, 1, { 7 }, 0 },                        /* row vector */
  { 2, { 5, 7 }, 2, { 5, 1 }, 0 },                     /* column vector */
  { 2, { 1, 7 }, 2, { 5, 1 }, 0 },                     /* outer product shape */
  { 4, { 2, 3, 4, 5 }, 2, { 4, 5 }, 0 },               /* rank 4 vs rank 2 */
  { 4, { 2, 1, 4, 1 }, 3, { 3, 1, 5 }, 0 },
  { 6, { 3, 1, 2, 1, 3, 1 }, 6, { 1, 4, 1, 5, 1, 2 }, 0 },
  { 4, { 8, 3, 16, 16 }, 3, { 3, 1, 1 }, 1 },          /* per-channel, in place */
  { 3, { 4, 5, 6 }, 1, { 6 }, 1 },                     /* out = a */
  { 1, { 1 }, 2, { 3, 4 }, 2 },                        /* out = b */
  { 2, { 300, 1 }, 2, { 1, 513 }, 0 },
  { 3, { 8, 3, 1 }, 3, { 8, 3, 4 }, 2 },               /* a constant along rows, out = b */
  { 2, { 64, 256 }, 1, { 256 }, 0 },                   /* bias per column, four at a time */
};

static void
broadcast_shape (const BroadcastCase *bc,
                 guint               *rank,
                 gsize               *shape)
{
  *rank = MAX (bc->rank_a, bc->rank_b);
  for (guint d = 0; d < *rank; d++)
    {
      gint ia = (gint) d - (gint) (*rank - bc->rank_a);
      gint ib = (gint) d - (gint) (*rank - bc->rank_b);
      gsize sa = ia >= 0 ? bc->a[ia] : 1;
      gsize sb = ib >= 0 ? bc->b[ib] : 1;
      shape[d] = MAX (sa, sb);
    }
}

static gsize
count (guint        rank,
       const gsize *shape)
{
  gsize n = 1;

  for (guint d = 0; d < rank; d++)
    n *= shape[d];
  return n;
}

static void
test_broadcast (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (5);
  g_autoptr(GError) error = NULL;

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint c = 0; c < G_N_ELEMENTS (broadcast_cases); c++)
    for (guint op = 0; op < 2; op++)
      {
        const BroadcastCase *bc = &broadcast_cases[c];
        g_autofree float *xa = graft_test_random (rand, count (bc->rank_a, bc->a));
        g_autofree float *xb = graft_test_random (rand, count (bc->rank_b, bc->b));
        g_autofree char *what = NULL;
        GraftBackend *backends[2] = { ctx->vk, ctx->cpu };
        GraftTensor *out[2];
        gsize shape[6];
        guint rank;

        broadcast_shape (bc, &rank, shape);
        for (guint i = 0; i < 2; i++)
          {
            g_autoptr(GraftTensor) a = graft_test_tensor (backends[i], bc->rank_a, bc->a, xa);
            g_autoptr(GraftTensor) b = graft_test_tensor (backends[i], bc->rank_b, bc->b, xb);

            out[i] = bc->in_place == 1 ? graft_tensor_ref (a)
                   : bc->in_place == 2 ? graft_tensor_ref (b)
                   : graft_test_tensor (backends[i], rank, shape, NULL);
            if (op == 0)
              graft_op_add (a, b, out[i], &error);
            else
              graft_op_mul (a, b, out[i], &error);
            g_assert_no_error (error);
          }

        what = g_strdup_printf ("%s case %u", op == 0 ? "add" : "mul", c);
        compare_tensors (out[0], out[1], what);
        graft_tensor_unref (out[0]);
        graft_tensor_unref (out[1]);
      }
}

/* More elements than 65535 workgroups cover in one dimension: the 1-D kernels switch
 * to a 2-D grid, and the elements past the first row of groups must be written too.
 * These kernels do four elements per invocation, so at the default workgroup size that
 * would take more elements than lavapipe can bind; a small workgroup size gets there. */
static void
test_large_dispatch (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);
  GraftVkBackend *vk;
  gsize n;
  g_autofree float *x = NULL;
  g_autofree float *y = NULL;
  g_autofree float *got = NULL;
  GraftTensor *t[2][3];
  GraftBackend *backends[2];

  if (!graft_test_have_vulkan (ctx))
    return;
  vk = GRAFT_VK_BACKEND (ctx->vk);
  _graft_vk_backend_set_workgroup_1d (ctx->vk, 32);
  n = (gsize) vk->props.limits.maxComputeWorkGroupCount[0] * vk->wg_1d * 4 + 4099;
  if (n * sizeof (float) > vk->props.limits.maxStorageBufferRange)
    {
      _graft_vk_backend_set_workgroup_1d (ctx->vk, 0);
      g_test_skip ("This device launches enough workgroups in one dimension for any tensor it can bind");
      return;
    }
  x = graft_test_random (rand, n);
  y = graft_test_random (rand, n);
  backends[0] = ctx->vk;
  backends[1] = ctx->cpu;

  for (guint i = 0; i < 2; i++)
    {
      t[i][0] = graft_test_tensor (backends[i], 1, &n, x);
      t[i][1] = graft_test_tensor (backends[i], 1, &n, y);
      t[i][2] = graft_test_tensor (backends[i], 1, &n, NULL);
      graft_op_fill (t[i][2], 1.0f, &error);
      g_assert_no_error (error);
      graft_op_mul (t[i][0], t[i][1], t[i][2], &error);
      g_assert_no_error (error);
      graft_op_scale (t[i][2], 3.0f, t[i][2], &error);
      g_assert_no_error (error);
      graft_op_add (t[i][2], t[i][0], t[i][2], &error);
      g_assert_no_error (error);
    }

  got = graft_test_download (t[0][2]);
  /* The last element belongs to the second row of workgroups. */
  g_assert_cmpfloat (got[n - 1], ==, x[n - 1] * y[n - 1] * 3.0f + x[n - 1]);
  compare_tensors (t[0][2], t[1][2], "large mul/scale/add");
  _graft_vk_backend_set_workgroup_1d (ctx->vk, 0);

  for (guint i = 0; i < 2; i++)
    for (guint j = 0; j < 3; j++)
      graft_tensor_unref (t[i][j]);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Context ctx = { 0 };
  GemmCase tiled = { &ctx, GRAFT_VK_GEMM_TILED };
  GemmCase cpu = { &ctx, GRAFT_VK_GEMM_CPU };
  int status;

  g_test_init (&argc, &argv, NULL);

  graft_test_backends_open (&ctx);
  if (ctx.vk != NULL)
    g_test_message ("Vulkan device: %s (%s)", graft_backend_get_info (ctx.vk)->name,
                    graft_backend_get_info (ctx.vk)->driver);

  g_test_add_data_func ("/vulkan/gemm/tiled", &tiled, test_gemm);
  g_test_add_data_func ("/vulkan/gemm/cpu", &cpu, test_gemm);
  g_test_add_data_func ("/vulkan/gemm/tiled-configs", &ctx, test_gemm_tiled_configs);
  g_test_add_data_func ("/vulkan/gemm/tall", &ctx, test_gemm_tall);
  g_test_add_data_func ("/vulkan/fill-scale", &ctx, test_fill_scale);
  g_test_add_data_func ("/vulkan/broadcast", &ctx, test_broadcast);
  g_test_add_data_func ("/vulkan/large-dispatch", &ctx, test_large_dispatch);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
