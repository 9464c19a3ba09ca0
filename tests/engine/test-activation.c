/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Activation functions on the CPU backend, the reference the Vulkan kernels are compared
 * with: forward against double-precision formulas, backward against their derivatives
 * with PyTorch's choices at the kinks, and the derivatives themselves against central
 * differences of the forward formulas. */

#include <float.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

/* Forward: each function is a handful of correctly rounded float operations plus at most
 * one libm call (expf, under 1 ulp in glibc); GELU is evaluated in double and rounded
 * once. None of them cancels, so every element is within a few ulps of the exact value:
 * 8 ulps relative leaves room without hiding a wrong constant or branch (those are off
 * by 1e-3 or more). Results below FLT_MIN are subnormal and only have absolute precision,
 * hence the FLT_MIN floor. */
#define FORWARD_RTOL (8.0 * FLT_EPSILON)

/* Backward: dy times a factor of size at most 1.5 made of a few roundings, except that
 * SiLU's 1 + x·sigmoid(-x) crosses zero near x = -1.28, where its error is relative to
 * the terms, not to the result. So the bound is 8 ulps of |want| + |dy|. */
#define BACKWARD_RTOL (8.0 * FLT_EPSILON)

/* Finite differences: the central difference of the double formula with h = 1e-5 has a
 * truncation error h²|f'''|/6 below 1e-10 for these functions and a rounding error about
 * 1e-16·|f|/h below 1e-9 for |x| <= 10; the float32 gradient carries a few ulps (1e-7
 * of values of order 1, and 9e-8 is the worst seen). 1e-6 relative to 1 + |f'| leaves
 * a tenfold margin over that noise and is far below the error of a derivative that is
 * wrong (a wrong factor, sign or branch: 1e-2 and up). */
#define FD_STEP 1e-5
#define FD_TOL  1e-6

static const double kinks[] = { -3.0, 0.0, 3.0, 6.0 };

/* Inputs that sit on or next to every kink, plus large values of both signs. */
static const float special[] = {
  0.0f, -0.0f, 6.0f, -6.0f, 3.0f, -3.0f, 1.0f, -1.0f,
  1e-6f, -1e-6f, 3.0001f, 2.9999f, -3.0001f, -2.9999f, 6.0001f, 5.9999f,
  20.0f, -20.0f, 100.0f, -100.0f, 1e4f, -1e4f, 0.5f, -1.2785f,
};

static double
sigmoid_d (double x)
{
  return x >= 0.0 ? 1.0 / (1.0 + exp (-x)) : exp (x) / (1.0 + exp (x));
}

static double
relu6_d (double x)
{
  return fmin (fmax (x, 0.0), 6.0);
}

static double
ref_forward (GraftActivation act,
             double          x)
{
  switch (act)
    {
    case GRAFT_ACTIVATION_RELU:        return fmax (x, 0.0);
    case GRAFT_ACTIVATION_RELU6:       return relu6_d (x);
    case GRAFT_ACTIVATION_SILU:        return x * sigmoid_d (x);
    case GRAFT_ACTIVATION_HARDSWISH:   return x * relu6_d (x + 3.0) / 6.0;
    case GRAFT_ACTIVATION_HARDSIGMOID: return relu6_d (x + 3.0) / 6.0;
    case GRAFT_ACTIVATION_SIGMOID:     return sigmoid_d (x);
    case GRAFT_ACTIVATION_GELU:        return 0.5 * x * erfc (-x / sqrt (2.0));
    default:                           g_assert_not_reached ();
    }
}

/* act'(x), with the values PyTorch 1.13 gives at the kinks. */
static double
ref_derivative (GraftActivation act,
                double          x)
{
  switch (act)
    {
    case GRAFT_ACTIVATION_RELU:
      return x > 0.0 ? 1.0 : 0.0;
    case GRAFT_ACTIVATION_RELU6:
      return x > 0.0 && x < 6.0 ? 1.0 : 0.0;
    case GRAFT_ACTIVATION_SILU:
      return sigmoid_d (x) * (1.0 + x * sigmoid_d (-x));
    case GRAFT_ACTIVATION_HARDSWISH:
      return x < -3.0 ? 0.0 : x <= 3.0 ? (2.0 * x + 3.0) / 6.0 : 1.0;
    case GRAFT_ACTIVATION_HARDSIGMOID:
      return x > -3.0 && x < 3.0 ? 1.0 / 6.0 : 0.0;
    case GRAFT_ACTIVATION_SIGMOID:
      return sigmoid_d (x) * sigmoid_d (-x);
    case GRAFT_ACTIVATION_GELU:
      return 0.5 * erfc (-x / sqrt (2.0)) + x * exp (-0.5 * x * x) / sqrt (2.0 * G_PI);
    default:
      g_assert_not_reached ();
    }
}

/* The special values first, then uniform values in [-8, 8]. */
static float *
make_inputs (GRand *rand,
             gsize  n)
{
  float *x = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    x[i] = i < G_N_ELEMENTS (special) ? special[i] : (float) g_rand_double_range (rand, -8.0, 8.0);
  return x;
}

static float *
run_forward (GraftBackend    *cpu,
             GraftActivation  act,
             const float     *x,
             gsize            n,
             gboolean         in_place)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 1, &n, x);
  g_autoptr(GraftTensor) ty = in_place ? graft_tensor_ref (tx) : graft_test_tensor (cpu, 1, &n, NULL);

  g_assert_true (graft_op_activation (act, tx, ty, &error));
  g_assert_no_error (error);
  return graft_test_download (ty);
}

static float *
run_backward (GraftBackend    *cpu,
              GraftActivation  act,
              const float     *x,
              const float     *dy,
              gsize            n,
              gboolean         in_place)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) tx = graft_test_tensor (cpu, 1, &n, x);
  g_autoptr(GraftTensor) tdy = graft_test_tensor (cpu, 1, &n, dy);
  g_autoptr(GraftTensor) tdx = in_place ? graft_tensor_ref (tdy) : graft_test_tensor (cpu, 1, &n, NULL);

  g_assert_true (graft_op_activation_backward (act, tx, tdy, tdx, &error));
  g_assert_no_error (error);
  return graft_test_download (tdx);
}

static void
check_forward (GraftActivation  act,
               const float     *x,
               const float     *got,
               gsize            n)
{
  for (gsize i = 0; i < n; i++)
    {
      double want = ref_forward (act, x[i]);
      double err = fabs (got[i] - want);

      if (!(err <= FORWARD_RTOL * fabs (want) + FLT_MIN))
        g_error ("%s (%.9g) = %.9g, expected %.9g", graft_activation_to_string (act),
                 x[i], got[i], want);
    }
}

static void
check_backward (GraftActivation  act,
                const float     *x,
                const float     *dy,
                const float     *got,
                gsize            n)
{
  for (gsize i = 0; i < n; i++)
    {
      double want = dy[i] * ref_derivative (act, x[i]);
      double err = fabs (got[i] - want);

      if (!(err <= BACKWARD_RTOL * (fabs (want) + fabs (dy[i])) + FLT_MIN))
        g_error ("%s backward at x = %.9g, dy = %.9g: %.9g, expected %.9g",
                 graft_activation_to_string (act), x[i], dy[i], got[i], want);
    }
}

/* Both directions, out of place and in place, on a vector short enough to run on the
 * calling thread and on one long enough to be split across the worker threads. */
static void
test_formulas (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (19);
  const gsize sizes[] = { G_N_ELEMENTS (special) + 1001, 200003 };

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      gsize n = sizes[s];
      g_autofree float *x = make_inputs (rand, n);
      g_autofree float *dy = graft_test_random (rand, n);

      for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
        for (int in_place = 0; in_place < 2; in_place++)
          {
            g_autofree float *y = run_forward (cpu, a, x, n, in_place);
            g_autofree float *dx = run_backward (cpu, a, x, dy, n, in_place);

            check_forward (a, x, y, n);
            check_backward (a, x, dy, dx, n);
          }
    }
}

/* Gradients at the kinks, as PyTorch 1.13 computes them (torch.autograd.grad of the sum
 * of torch.nn.functional.<act>), written out rather than derived. */
static void
test_kinks (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  static const struct {
    GraftActivation act;
    float           x;
    float           grad;
  } cases[] = {
    { GRAFT_ACTIVATION_RELU, 0.0f, 0.0f },
    { GRAFT_ACTIVATION_RELU, -0.0f, 0.0f },
    { GRAFT_ACTIVATION_RELU6, 0.0f, 0.0f },
    { GRAFT_ACTIVATION_RELU6, 6.0f, 0.0f },
    { GRAFT_ACTIVATION_RELU6, 5.5f, 1.0f },
    { GRAFT_ACTIVATION_HARDSWISH, -3.0f, -0.5f },
    { GRAFT_ACTIVATION_HARDSWISH, -3.0001f, 0.0f },
    { GRAFT_ACTIVATION_HARDSWISH, 0.0f, 0.5f },
    { GRAFT_ACTIVATION_HARDSWISH, 3.0f, 1.5f },
    { GRAFT_ACTIVATION_HARDSWISH, 3.0001f, 1.0f },
    { GRAFT_ACTIVATION_HARDSIGMOID, -3.0f, 0.0f },
    { GRAFT_ACTIVATION_HARDSIGMOID, 3.0f, 0.0f },
    { GRAFT_ACTIVATION_HARDSIGMOID, 2.9999f, 1.0f / 6.0f },
    { GRAFT_ACTIVATION_SIGMOID, 0.0f, 0.25f },
    { GRAFT_ACTIVATION_SILU, 0.0f, 0.5f },
    { GRAFT_ACTIVATION_GELU, 0.0f, 0.5f },
  };

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      float dy = 1.0f;
      g_autofree float *dx = run_backward (cpu, cases[c].act, &cases[c].x, &dy, 1, FALSE);

      if (dx[0] != cases[c].grad)
        g_error ("%s backward at %g: %.9g, PyTorch gives %.9g",
                 graft_activation_to_string (cases[c].act), cases[c].x, dx[0], cases[c].grad);
    }
}

/* A zero gradient of a piecewise-linear activation is a selection, not dy * 0: it stays
 * 0 for an infinite dy, as in PyTorch. A NaN input gives a NaN output. */
static void
test_non_finite (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  const GraftActivation piecewise[] = {
    GRAFT_ACTIVATION_RELU, GRAFT_ACTIVATION_RELU6, GRAFT_ACTIVATION_HARDSWISH,
    GRAFT_ACTIVATION_HARDSIGMOID,
  };
  float x = -10.0f, dy = INFINITY, nan_x = NAN;

  for (guint i = 0; i < G_N_ELEMENTS (piecewise); i++)
    {
      g_autofree float *dx = run_backward (cpu, piecewise[i], &x, &dy, 1, FALSE);
      g_assert_cmpfloat (dx[0], ==, 0.0f);
    }
  for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
    {
      g_autofree float *y = run_forward (cpu, a, &nan_x, 1, FALSE);
      if (!isnan (y[0]))
        g_error ("%s (NaN) = %g, expected NaN", graft_activation_to_string (a), y[0]);
    }
}

/* The backward op against central differences of the forward formula, at random points
 * at least 1e-3 from every kink (where the derivative is one-sided). */
static void
test_finite_differences (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  g_autoptr(GRand) rand = g_rand_new_with_seed (23);
  const gsize n = 4000;
  g_autofree float *x = g_new (float, n);
  g_autofree float *dy = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    {
      gboolean near_kink;
      do
        {
          x[i] = (float) g_rand_double_range (rand, -10.0, 10.0);
          near_kink = FALSE;
          for (guint k = 0; k < G_N_ELEMENTS (kinks); k++)
            near_kink = near_kink || fabs (x[i] - kinks[k]) < 1e-3;
        }
      while (near_kink);
      dy[i] = 1.0f;
    }

  for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
    {
      g_autofree float *dx = run_backward (cpu, a, x, dy, n, FALSE);
      double worst = 0.0;
      gsize worst_i = 0;

      for (gsize i = 0; i < n; i++)
        {
          double fd = (ref_forward (a, x[i] + FD_STEP) - ref_forward (a, x[i] - FD_STEP)) / (2.0 * FD_STEP);
          double err = fabs (dx[i] - fd) / (1.0 + fabs (fd));

          if (err > worst)
            {
              worst = err;
              worst_i = i;
            }
        }
      if (!(worst <= FD_TOL))
        g_error ("%s backward at x = %.9g is %.9g, central difference %.9g",
                 graft_activation_to_string (a), x[worst_i], dx[worst_i],
                 (ref_forward (a, x[worst_i] + FD_STEP) - ref_forward (a, x[worst_i] - FD_STEP)) / (2.0 * FD_STEP));
      g_test_message ("%s: worst finite-difference error %.2g", graft_activation_to_string (a), worst);
    }
}

static void
test_errors (void)
{
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", NULL);
  g_autoptr(GError) error = NULL;
  const gsize s6[] = { 2, 3 }, s5[] = { 5 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 2, s6, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 1, s5, NULL);
  g_autoptr(GraftTensor) dy = graft_test_tensor (cpu, 2, s6, NULL);

  graft_tensor_set_name (x, "features");
  graft_tensor_set_name (y, "block1.out");
  graft_tensor_set_name (dy, "grad");

  g_assert_false (graft_op_activation (GRAFT_ACTIVATION_RELU6, x, y, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "relu6"));
  g_assert_nonnull (strstr (error->message, "block1.out"));
  g_assert_nonnull (strstr (error->message, "features"));
  g_clear_error (&error);

  g_assert_false (graft_op_activation_backward (GRAFT_ACTIVATION_GELU, x, dy, y, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "gelu backward"));
  g_assert_nonnull (strstr (error->message, "block1.out"));
  g_clear_error (&error);

  g_assert_false (graft_op_activation_backward (GRAFT_ACTIVATION_SILU, x, y, dy, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "block1.out"));
  g_clear_error (&error);

  for (guint a = 0; a < GRAFT_N_ACTIVATIONS; a++)
    g_assert_nonnull (graft_activation_to_string (a));
  g_assert_cmpstr (graft_activation_to_string (GRAFT_ACTIVATION_HARDSWISH), ==, "hardswish");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/activation/formulas", test_formulas);
  g_test_add_func ("/activation/kinks", test_kinks);
  g_test_add_func ("/activation/non-finite", test_non_finite);
  g_test_add_func ("/activation/finite-differences", test_finite_differences);
  g_test_add_func ("/activation/errors", test_errors);

  return g_test_run ();
}
