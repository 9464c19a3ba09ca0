/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Graft's ops against PyTorch 1.13 on the same inputs (gen_ops.py), on every backend. */

#include "graft-reference.h"

/* Elementwise functions of float32 inputs: PyTorch and Graft each round once or twice
 * per element, and Graft's erf (GELU) is an approximation good to ~1e-7 absolute; the
 * normalised error of the whole vector then stays below 1e-6. A wrong formula or a
 * wrong boundary rule at one of the kinks in the input shows up far above 1e-4. */
#define ACTIVATION_TOLERANCE 2e-6

/* Sums of 53 or 37 products in float32 in another order than PyTorch's: each result
 * carries ~sqrt(k)·2^-24 relative error, far below 1e-5; a transposed operand or a
 * missing bias gives errors of order 1. */
#define LINEAR_TOLERANCE 1e-5

static GraftTensor *
upload_shaped (GraftBackend *backend,
               guint         rank,
               const gsize  *shape,
               const float  *data)
{
  g_autoptr(GError) error = NULL;
  GraftTensor *t = graft_tensor_new (backend, rank, shape, &error);
  gsize n = graft_tensor_get_n_elements (t);

  g_assert_no_error (error);
  if (data != NULL)
    g_assert_true (graft_tensor_upload (t, data, n, &error));
  g_assert_no_error (error);
  return t;
}

static GraftTensor *
upload (GraftBackend *backend,
        const float  *data,
        gsize         n)
{
  gsize shape[1] = { n };

  return upload_shaped (backend, 1, shape, data);
}

/* Reads reference tensor @key onto @backend with its own shape. */
static GraftTensor *
load (GraftSafetensors *ref,
      GraftBackend     *backend,
      const char       *key)
{
  guint rank;
  gsize shape[GRAFT_TENSOR_MAX_RANK];
  g_autofree float *data = graft_reference_read (ref, key, &rank, shape, NULL);

  return upload_shaped (backend, rank, shape, data);
}

static void
expect_close (GraftSafetensors *ref,
              GraftTensor      *got,
              const char       *key,
              double            tolerance,
              const char       *backend_name)
{
  g_autoptr(GError) error = NULL;
  gsize n;
  g_autofree float *want = graft_reference_read (ref, key, NULL, NULL, &n);
  g_autofree float *data = g_new (float, n);
  double err;

  g_assert_true (graft_tensor_download (got, data, n, &error));
  g_assert_no_error (error);
  err = graft_reference_error (data, want, n);
  g_test_message ("%s %s: %.3g", backend_name, key, err);
  if (err > tolerance)
    g_test_fail_printf ("%s on %s differs from PyTorch by %.3g", key, backend_name, err);
}

/* A Linear layer through GEMM: y = x W^T + b, dx = dy W, dW = dy^T x, db = 1^T dy. */
static void
test_linear (void)
{
  g_autoptr(GraftSafetensors) ref = graft_reference_generate ("gen_ops.py");
  g_autoptr(GPtrArray) backends = NULL;

  if (ref == NULL)
    return;
  backends = graft_reference_backends ();

  for (guint b = 0; b < backends->len; b++)
    {
      GraftBackend *backend = g_ptr_array_index (backends, b);
      const char *name = graft_backend_get_info (backend)->name;
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftTensor) x = load (ref, backend, "linear.x");
      g_autoptr(GraftTensor) w = load (ref, backend, "linear.weight");
      g_autoptr(GraftTensor) bias = load (ref, backend, "linear.bias");
      g_autoptr(GraftTensor) dy = load (ref, backend, "linear.dy");
      gsize m = graft_tensor_get_dim (x, 0), k = graft_tensor_get_dim (x, 1);
      gsize n = graft_tensor_get_dim (w, 0);
      g_autoptr(GraftTensor) y = graft_tensor_new_2d (backend, m, n, &error);
      g_autoptr(GraftTensor) dx = graft_tensor_new_2d (backend, m, k, &error);
      g_autoptr(GraftTensor) dw = graft_tensor_new_2d (backend, n, k, &error);
      g_autoptr(GraftTensor) db = graft_tensor_new_2d (backend, 1, n, &error);
      g_autoptr(GraftTensor) ones = graft_tensor_new_2d (backend, m, 1, &error);

      g_assert_no_error (error);
      g_assert_true (graft_op_gemm (x, FALSE, w, TRUE, bias, 1.0f, 0.0f, y, &error));
      g_assert_true (graft_op_gemm (dy, FALSE, w, FALSE, NULL, 1.0f, 0.0f, dx, &error));
      g_assert_true (graft_op_gemm (dy, TRUE, x, FALSE, NULL, 1.0f, 0.0f, dw, &error));
      g_assert_true (graft_op_fill (ones, 1.0f, &error));
      g_assert_true (graft_op_gemm (ones, TRUE, dy, FALSE, NULL, 1.0f, 0.0f, db, &error));
      g_assert_no_error (error);

      expect_close (ref, y, "linear.y", LINEAR_TOLERANCE, name);
      expect_close (ref, dx, "linear.dx", LINEAR_TOLERANCE, name);
      expect_close (ref, dw, "linear.dweight", LINEAR_TOLERANCE, name);
      expect_close (ref, db, "linear.dbias", LINEAR_TOLERANCE, name);
    }
}

static const struct {
  const char      *name;
  GraftActivation  act;
} activations[] = {
  { "relu", GRAFT_ACTIVATION_RELU },
  { "relu6", GRAFT_ACTIVATION_RELU6 },
  { "silu", GRAFT_ACTIVATION_SILU },
  { "hardswish", GRAFT_ACTIVATION_HARDSWISH },
  { "hardsigmoid", GRAFT_ACTIVATION_HARDSIGMOID },
  { "sigmoid", GRAFT_ACTIVATION_SIGMOID },
  { "gelu", GRAFT_ACTIVATION_GELU },
};

static void
test_activations (void)
{
  g_autoptr(GraftSafetensors) ref = graft_reference_generate ("gen_ops.py");
  g_autoptr(GPtrArray) backends = NULL;

  if (ref == NULL)
    return;
  backends = graft_reference_backends ();

  for (guint b = 0; b < backends->len; b++)
    for (guint a = 0; a < G_N_ELEMENTS (activations); a++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        g_autoptr(GError) error = NULL;
        g_autofree char *kx = g_strdup_printf ("activation.%s.x", activations[a].name);
        g_autofree char *ky = g_strdup_printf ("activation.%s.y", activations[a].name);
        g_autofree char *kdy = g_strdup_printf ("activation.%s.dy", activations[a].name);
        g_autofree char *kdx = g_strdup_printf ("activation.%s.dx", activations[a].name);
        gsize n;
        g_autofree float *x = graft_reference_read (ref, kx, NULL, NULL, &n);
        g_autofree float *y = graft_reference_read (ref, ky, NULL, NULL, NULL);
        g_autofree float *dy = graft_reference_read (ref, kdy, NULL, NULL, NULL);
        g_autofree float *dx = graft_reference_read (ref, kdx, NULL, NULL, NULL);
        g_autofree float *got = g_new (float, n);
        g_autoptr(GraftTensor) tx = upload (backend, x, n);
        g_autoptr(GraftTensor) ty = upload (backend, NULL, n);
        g_autoptr(GraftTensor) tdy = upload (backend, dy, n);
        g_autoptr(GraftTensor) tdx = upload (backend, NULL, n);
        double err;

        g_assert_true (graft_op_activation (activations[a].act, tx, ty, &error));
        g_assert_true (graft_tensor_download (ty, got, n, &error));
        g_assert_no_error (error);
        err = graft_reference_error (got, y, n);
        g_test_message ("%s %s forward: %.3g", graft_backend_get_info (backend)->name, activations[a].name, err);
        if (err > ACTIVATION_TOLERANCE)
          g_test_fail_printf ("%s on %s: forward differs from PyTorch by %.3g",
                              activations[a].name, graft_backend_get_info (backend)->name, err);

        g_assert_true (graft_op_activation_backward (activations[a].act, tx, tdy, tdx, &error));
        g_assert_true (graft_tensor_download (tdx, got, n, &error));
        g_assert_no_error (error);
        err = graft_reference_error (got, dx, n);
        g_test_message ("%s %s backward: %.3g", graft_backend_get_info (backend)->name, activations[a].name, err);
        if (err > ACTIVATION_TOLERANCE)
          g_test_fail_printf ("%s on %s: gradient differs from PyTorch by %.3g",
                              activations[a].name, graft_backend_get_info (backend)->name, err);
      }
}

/* Pooling: max is exact (a selection, gradients are copies or sums of at most a few);
 * averages divide sums of at most 25 values, a few float32 roundings per element. */
#define POOL_TOLERANCE 1e-6

typedef enum { POOL_MAX, POOL_AVG, POOL_ADAPTIVE } PoolKind;

/* The same cases as POOL_CASES in gen_ops.py. */
static const struct {
  const char *name;
  PoolKind    kind;
  guint       kernel, stride, pad, dilation;
  gboolean    ceil_mode, count_include_pad;
} pools[] = {
  { "max_k3s2p1", POOL_MAX, 3, 2, 1, 1, FALSE, TRUE },
  { "max_k3s2_ceil", POOL_MAX, 3, 2, 0, 1, TRUE, TRUE },
  { "max_k2s1_dil2", POOL_MAX, 2, 1, 1, 2, FALSE, TRUE },
  { "avg_k3s2p1", POOL_AVG, 3, 2, 1, 1, FALSE, TRUE },
  { "avg_k3s2p1_nopad", POOL_AVG, 3, 2, 1, 1, FALSE, FALSE },
  { "avg_k3s2_ceil", POOL_AVG, 3, 2, 0, 1, TRUE, TRUE },
  { "adaptive_1x1", POOL_ADAPTIVE, 0, 0, 0, 0, FALSE, FALSE },
  { "adaptive_3x5", POOL_ADAPTIVE, 0, 0, 0, 0, FALSE, FALSE },
};

static void
test_pooling (void)
{
  g_autoptr(GraftSafetensors) ref = graft_reference_generate ("gen_ops.py");
  g_autoptr(GPtrArray) backends = NULL;

  if (ref == NULL)
    return;
  backends = graft_reference_backends ();

  for (guint b = 0; b < backends->len; b++)
    for (guint c = 0; c < G_N_ELEMENTS (pools); c++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        const char *name = graft_backend_get_info (backend)->name;
        g_autoptr(GError) error = NULL;
        g_autofree char *kx = g_strdup_printf ("pool.%s.x", pools[c].name);
        g_autofree char *ky = g_strdup_printf ("pool.%s.y", pools[c].name);
        g_autofree char *kdy = g_strdup_printf ("pool.%s.dy", pools[c].name);
        g_autofree char *kdx = g_strdup_printf ("pool.%s.dx", pools[c].name);
        g_autoptr(GraftTensor) x = load (ref, backend, kx);
        g_autoptr(GraftTensor) dy = load (ref, backend, kdy);
        g_autoptr(GraftTensor) y = graft_tensor_new (backend, 4, graft_tensor_get_shape (dy), &error);
        g_autoptr(GraftTensor) indices = graft_tensor_new (backend, 4, graft_tensor_get_shape (dy), &error);
        g_autoptr(GraftTensor) dx = graft_tensor_new (backend, 4, graft_tensor_get_shape (x), &error);
        GraftPool2dParams params;

        g_assert_no_error (error);
        graft_pool2d_params_init (&params, pools[c].kernel, pools[c].kernel);
        params.stride_h = params.stride_w = pools[c].stride;
        params.pad_h = params.pad_w = pools[c].pad;
        params.dilation_h = params.dilation_w = pools[c].dilation;
        params.ceil_mode = pools[c].ceil_mode;
        params.count_include_pad = pools[c].count_include_pad;

        switch (pools[c].kind)
          {
          case POOL_MAX:
            g_assert_true (graft_op_max_pool2d (x, &params, y, indices, &error));
            g_assert_true (graft_op_max_pool2d_backward (dy, indices, &params, dx, &error));
            break;
          case POOL_AVG:
            g_assert_true (graft_op_avg_pool2d (x, &params, y, &error));
            g_assert_true (graft_op_avg_pool2d_backward (dy, &params, dx, &error));
            break;
          case POOL_ADAPTIVE:
          default:
            g_assert_true (graft_op_adaptive_avg_pool2d (x, y, &error));
            g_assert_true (graft_op_adaptive_avg_pool2d_backward (dy, dx, &error));
            break;
          }
        g_assert_no_error (error);
        expect_close (ref, y, ky, POOL_TOLERANCE, name);
        expect_close (ref, dx, kdx, POOL_TOLERANCE, name);
      }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/reference/linear", test_linear);
  g_test_add_func ("/reference/activations", test_activations);
  g_test_add_func ("/reference/pooling", test_pooling);

  return g_test_run ();
}
