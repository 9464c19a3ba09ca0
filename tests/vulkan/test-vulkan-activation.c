/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Activation functions, forward and backward, on Vulkan against the CPU backend (itself
 * checked against double-precision formulas in tests/engine/test-activation.c): every
 * activation, lengths that leave a partial group of four, in place and out of place,
 * inputs on the kinks, the tails where the results are small, and a grid of more
 * workgroups than one dimension may launch. */

#include <float.h>

#include "graft-test-vulkan.h"

/* relu, relu6, hardswish, hardsigmoid are selections, additions and multiplications
 * by constants, each rounded once on both sides; the only liberty Vulkan takes is the
 * division by 6, which it may do to 2.5 ulps instead of 0.5. A few ulps of normalised
 * error therefore cover any correct kernel, while one element on the wrong side of a
 * kink among the few thousand here shows as an error near 1e-2. */
#define PIECEWISE_TOLERANCE (4.0 * FLT_EPSILON)

/* sigmoid, silu, gelu go through exp, which Vulkan only promises to 3 + 2|x| ulps (19
 * ulps, 1.1e-6 relative, at |x| = 8), and GELU through an erfc fit with relative error
 * 1.2e-7 whose float32 evaluation adds about z²·2^-23 (z = x/√2, so 4e-6 at |x| = 8).
 * The CPU reference is within a few ulps of exact. 1e-5 of normalised error is above
 * all of that even in the tail runs, where every value is small, and well below what
 * a wrong constant, branch or cancellation gives (1 + erf(x/√2) instead of erfc would
 * cost 1e-2 and more in the GELU tail). */
#define SMOOTH_TOLERANCE 1e-5

typedef GraftTestBackends Context;

/* On and beside every kink, and large values of both signs. */
static const float special[] = {
  0.0f, -0.0f, 6.0f, -6.0f, 3.0f, -3.0f, 1.0f, -1.0f,
  3.0001f, 2.9999f, -3.0001f, -2.9999f, 6.0001f, 5.9999f, 1e-6f, -1e-6f,
  20.0f, -20.0f, 100.0f, -100.0f, 0.5f, -1.2785f,
};

static double
tolerance (GraftActivation act)
{
  switch (act)
    {
    case GRAFT_ACTIVATION_RELU:
    case GRAFT_ACTIVATION_RELU6:
    case GRAFT_ACTIVATION_HARDSWISH:
    case GRAFT_ACTIVATION_HARDSIGMOID:
      return PIECEWISE_TOLERANCE;
    default:
      return SMOOTH_TOLERANCE;
    }
}

/* x: @n values uniform in [lo, hi], the special values spread over it when @special_too. */
static float *
make_inputs (GRand    *rand,
             gsize     n,
             double    lo,
             double    hi,
             gboolean  special_too)
{
  float *x = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
  if (special_too)
    for (gsize s = 0; s < G_N_ELEMENTS (special) && s < n; s++)
      x[(s * 7919) % n] = special[s];
  return x;
}

static void
compare (const float *got,
         const float *want,
         gsize        n,
         double       tol,
         const char  *what)
{
  double err = graft_test_rel_error (got, want, n);

  if (!(err <= tol))
    {
      gsize worst = 0;
      for (gsize i = 1; i < n; i++)
        if (fabs (got[i] - want[i]) > fabs (got[worst] - want[worst]))
          worst = i;
      g_test_message ("%s: normalised error %.3g > %.3g; worst at %" G_GSIZE_FORMAT
                      ": got %.9g want %.9g", what, err, tol, worst, got[worst], want[worst]);
    }
  g_assert_cmpfloat (err, <=, tol);
}

/* One activation in both directions on both backends, from the same x and dy. */
static void
check (Context         *ctx,
       GraftActivation  act,
       const float     *x,
       const float     *dy,
       gsize            n,
       gboolean         in_place,
       const char      *label)
{
  g_autoptr(GError) error = NULL;
  GraftBackend *backends[2] = { ctx->vk, ctx->cpu };
  float *y[2], *dx[2];
  g_autofree char *what = NULL;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr(GraftTensor) tx = graft_test_tensor (backends[i], 1, &n, x);
      g_autoptr(GraftTensor) tdy = graft_test_tensor (backends[i], 1, &n, dy);
      g_autoptr(GraftTensor) ty = NULL;
      g_autoptr(GraftTensor) tdx = NULL;

      /* Backward first: in place, forward overwrites x. */
      tdx = in_place ? graft_tensor_ref (tdy) : graft_test_tensor (backends[i], 1, &n, NULL);
      graft_op_activation_backward (act, tx, tdy, tdx, &error);
      g_assert_no_error (error);
      ty = in_place ? graft_tensor_ref (tx) : graft_test_tensor (backends[i], 1, &n, NULL);
      graft_op_activation (act, tx, ty, &error);
      g_assert_no_error (error);
      y[i] = graft_test_download (ty);
      dx[i] = graft_test_download (tdx);
    }

  what = g_strdup_printf ("%s %s n=%" G_GSIZE_FORMAT "%s", graft_activation_to_string (act),
                          label, n, in_place ? " in place" : "");
  compare (y[0], y[1], n, tolerance (act), what);
  what = g_strconcat (what, " backward", NULL);
  compare (dx[0], dx[1], n, tolerance (act), what);

  for (guint i = 0; i < 2; i++)
    {
      g_free (y[i]);
      g_free (dx[i]);
    }
}

/* Lengths with every remainder modulo 4, a single element, and a few thousand. */
static void
test_lengths (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (29);
  static const gsize lengths[] = { 1, 2, 3, 4, 5, 7, 8, 1001, 4099, 10000 };

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint l = 0; l < G_N_ELEMENTS (lengths); l++)
    {
      gsize n = lengths[l];
      g_autofree float *x = make_inputs (rand, n, -8.0, 8.0, TRUE);
      g_autofree float *dy = graft_test_random (rand, n);

      for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
        for (int in_place = 0; in_place < 2; in_place++)
          check (ctx, a, x, dy, n, in_place, "on [-8, 8]");
    }
}

/* Only small results: the normalised error is then relative to the tail values, where
 * sigmoid-based and erf-based formulas lose precision if written carelessly. */
static void
test_tails (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (31);
  const gsize n = 3001;
  g_autofree float *x = make_inputs (rand, n, -9.0, -2.0, FALSE);
  g_autofree float *x_far = make_inputs (rand, n, -30.0, -9.0, FALSE);
  g_autofree float *dy = graft_test_random (rand, n);

  if (!graft_test_have_vulkan (ctx))
    return;

  for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
    {
      check (ctx, a, x, dy, n, FALSE, "on [-9, -2]");
      /* Down to -30 GELU underflows and only sigmoid and silu have anything left. */
      if (a == GRAFT_ACTIVATION_SIGMOID || a == GRAFT_ACTIVATION_SILU)
        check (ctx, a, x_far, dy, n, FALSE, "on [-30, -9]");
    }
}

/* More workgroups than maxComputeWorkGroupCount[0]: the grid becomes 2-D and the
 * elements past its first row must be written. With four elements per invocation and
 * the default workgroup size that needs more elements than lavapipe can bind, so a
 * small workgroup size gets there with 32 MiB tensors. */
static void
test_large_dispatch (gconstpointer data)
{
  Context *ctx = (Context *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (37);
  const guint32 wg = 32;
  GraftVkBackend *vk;
  gsize n;
  g_autofree float *x = NULL;
  g_autofree float *dy = NULL;
  const GraftActivation acts[] = { GRAFT_ACTIVATION_HARDSWISH, GRAFT_ACTIVATION_GELU };

  if (!graft_test_have_vulkan (ctx))
    return;
  vk = GRAFT_VK_BACKEND (ctx->vk);
  _graft_vk_backend_set_workgroup_1d (ctx->vk, wg);
  if (vk->wg_1d != wg ||
      ((guint64) vk->props.limits.maxComputeWorkGroupCount[0] * wg * 4 + 4099) * sizeof (float) >
      vk->props.limits.maxStorageBufferRange)
    {
      _graft_vk_backend_set_workgroup_1d (ctx->vk, 0);
      g_test_skip ("This device launches enough workgroups in one dimension for any tensor it can bind");
      return;
    }

  /* Past the first row of workgroups by 1023 groups and an odd tail. */
  n = (gsize) vk->props.limits.maxComputeWorkGroupCount[0] * wg * 4 + 1023 * wg * 4 + 3;
  x = make_inputs (rand, n, -8.0, 8.0, TRUE);
  dy = graft_test_random (rand, n);
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++)
    check (ctx, acts[a], x, dy, n, a == 1, "past one row of workgroups");

  _graft_vk_backend_set_workgroup_1d (ctx->vk, 0);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  Context ctx = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  graft_test_backends_open (&ctx);
  if (ctx.vk != NULL)
    g_test_message ("Vulkan device: %s (%s)", graft_backend_get_info (ctx.vk)->name,
                    graft_backend_get_info (ctx.vk)->driver);

  g_test_add_data_func ("/vulkan/activation/lengths", &ctx, test_lengths);
  g_test_add_data_func ("/vulkan/activation/tails", &ctx, test_tails);
  g_test_add_data_func ("/vulkan/activation/large-dispatch", &ctx, test_large_dispatch);

  status = g_test_run ();

  graft_test_backends_close (&ctx);
  return status;
}
