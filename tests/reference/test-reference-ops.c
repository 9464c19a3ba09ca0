/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Graft's ops against PyTorch 1.13 on the same inputs (gen_ops.py), on every backend. */

#include "graft-reference.h"

/* PyTorch's answers, generated once for the whole program by the first test that needs
 * them, and the backends to check. */
typedef struct {
  gboolean          tried;
  GraftSafetensors *ref;
  GPtrArray        *backends;
  char             *why;       /* why there are no answers */
} Reference;

static gboolean
reference_ready (Reference *r)
{
  if (!r->tried)
    {
      r->tried = TRUE;
      r->ref = graft_reference_generate ("gen_ops.py", &r->why);
      if (r->ref != NULL)
        r->backends = graft_reference_backends ();
    }
  if (r->ref == NULL)
    graft_reference_unavailable (r->why);
  return r->ref != NULL;
}

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
test_linear (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

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
test_activations (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

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
test_pooling (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

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

/* Normalisation reduces 140 (batch norm: N·H·W) or 33 (layer norm) values per statistic;
 * Graft reduces in double (CPU) or by float trees (Vulkan), PyTorch in float with its
 * own order: differences of a few 1e-7 relative. 1e-5 still catches a biased/unbiased
 * variance mix-up (1/140 relative) and any wrong gradient term. */
#define NORM_TOLERANCE 1e-5

static GraftTensor *
empty_like (GraftTensor *t)
{
  g_autoptr(GError) error = NULL;
  GraftTensor *out = graft_tensor_new (graft_tensor_get_backend (t), graft_tensor_get_rank (t),
                                       graft_tensor_get_shape (t), &error);

  g_assert_no_error (error);
  return out;
}

static void
test_batch_norm (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;
  const char *modes[] = { "train", "eval" };

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    for (guint m = 0; m < G_N_ELEMENTS (modes); m++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        const char *name = graft_backend_get_info (backend)->name;
        g_autoptr(GError) error = NULL;
#define KEY(what) g_strdup_printf ("batch_norm.%s." what, modes[m])
        g_autofree char *kx = KEY ("x"), *kw = KEY ("weight"), *kb = KEY ("bias");
        g_autofree char *krm = KEY ("running_mean"), *krv = KEY ("running_var");
        g_autofree char *kdy = KEY ("dy"), *ky = KEY ("y"), *kdx = KEY ("dx");
        g_autofree char *kdw = KEY ("dweight"), *kdb = KEY ("dbias");
        g_autofree char *knrm = KEY ("new_running_mean"), *knrv = KEY ("new_running_var");
#undef KEY
        g_autoptr(GraftTensor) x = load (ref, backend, kx);
        g_autoptr(GraftTensor) w = load (ref, backend, kw);
        g_autoptr(GraftTensor) bias = load (ref, backend, kb);
        g_autoptr(GraftTensor) rm = load (ref, backend, krm);
        g_autoptr(GraftTensor) rv = load (ref, backend, krv);
        g_autoptr(GraftTensor) dy = load (ref, backend, kdy);
        g_autoptr(GraftTensor) y = empty_like (x);
        g_autoptr(GraftTensor) dx = empty_like (x);
        g_autoptr(GraftTensor) mean = empty_like (w);
        g_autoptr(GraftTensor) invstd = empty_like (w);
        g_autoptr(GraftTensor) dw = empty_like (w);
        g_autoptr(GraftTensor) db = empty_like (w);
        GraftNormParams params;

        graft_norm_params_init (&params);
        params.training = m == 0;
        g_assert_true (graft_op_batch_norm2d (x, w, bias, rm, rv, &params, y, mean, invstd, &error));
        g_assert_true (graft_op_batch_norm2d_backward (dy, x, w, mean, invstd, &params, dx, dw, db, &error));
        g_assert_no_error (error);
        expect_close (ref, y, ky, NORM_TOLERANCE, name);
        expect_close (ref, dx, kdx, NORM_TOLERANCE, name);
        expect_close (ref, dw, kdw, NORM_TOLERANCE, name);
        expect_close (ref, db, kdb, NORM_TOLERANCE, name);
        expect_close (ref, rm, knrm, NORM_TOLERANCE, name);
        expect_close (ref, rv, knrv, NORM_TOLERANCE, name);
      }
}

static void
test_layer_norm (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    {
      GraftBackend *backend = g_ptr_array_index (backends, b);
      const char *name = graft_backend_get_info (backend)->name;
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftTensor) x = load (ref, backend, "layer_norm.x");
      g_autoptr(GraftTensor) w = load (ref, backend, "layer_norm.weight");
      g_autoptr(GraftTensor) bias = load (ref, backend, "layer_norm.bias");
      g_autoptr(GraftTensor) dy = load (ref, backend, "layer_norm.dy");
      gsize rows[1] = { graft_tensor_get_dim (x, 0) };
      g_autoptr(GraftTensor) mean = graft_tensor_new (backend, 1, rows, &error);
      g_autoptr(GraftTensor) invstd = graft_tensor_new (backend, 1, rows, &error);
      g_autoptr(GraftTensor) y = empty_like (x);
      g_autoptr(GraftTensor) dx = empty_like (x);
      g_autoptr(GraftTensor) dw = empty_like (w);
      g_autoptr(GraftTensor) db = empty_like (w);

      g_assert_true (graft_op_layer_norm (x, w, bias, 1e-6f, y, mean, invstd, &error));
      g_assert_true (graft_op_layer_norm_backward (dy, x, w, mean, invstd, dx, dw, db, &error));
      g_assert_no_error (error);
      expect_close (ref, y, "layer_norm.y", NORM_TOLERANCE, name);
      expect_close (ref, dx, "layer_norm.dx", NORM_TOLERANCE, name);
      expect_close (ref, dw, "layer_norm.dweight", NORM_TOLERANCE, name);
      expect_close (ref, db, "layer_norm.dbias", NORM_TOLERANCE, name);
    }
}

/* A log-sum-exp over 10 logits of size ~10 and a sum over 17 rows: float32 roundings
 * of ~1e-7 relative each. Forgetting the smoothing term or the class weights in the
 * mean's denominator changes the loss by 10% or more. */
#define CROSS_ENTROPY_TOLERANCE 1e-5

static void
test_cross_entropy (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;
  const struct { const char *name; gboolean weighted; float smoothing; } cases[] = {
    { "plain", FALSE, 0.0f },
    { "weighted_smooth", TRUE, 0.1f },
  };

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        const char *name = graft_backend_get_info (backend)->name;
        g_autoptr(GError) error = NULL;
        g_autofree char *klogits = g_strdup_printf ("cross_entropy.%s.logits", cases[c].name);
        g_autofree char *ktarget = g_strdup_printf ("cross_entropy.%s.target", cases[c].name);
        g_autofree char *kweight = g_strdup_printf ("cross_entropy.%s.weight", cases[c].name);
        g_autofree char *kloss = g_strdup_printf ("cross_entropy.%s.loss", cases[c].name);
        g_autofree char *klosses = g_strdup_printf ("cross_entropy.%s.losses", cases[c].name);
        g_autofree char *kdlogits = g_strdup_printf ("cross_entropy.%s.dlogits", cases[c].name);
        g_autoptr(GraftTensor) logits = load (ref, backend, klogits);
        g_autoptr(GraftTensor) target = load (ref, backend, ktarget);
        g_autoptr(GraftTensor) weight = cases[c].weighted ? load (ref, backend, kweight) : NULL;
        g_autoptr(GraftTensor) loss = upload (backend, NULL, 1);
        g_autoptr(GraftTensor) losses = empty_like (target);
        g_autoptr(GraftTensor) dlogits = empty_like (logits);

        g_assert_true (graft_op_cross_entropy (logits, target, weight, cases[c].smoothing,
                                               loss, losses, dlogits, &error));
        g_assert_no_error (error);
        expect_close (ref, loss, kloss, CROSS_ENTROPY_TOLERANCE, name);
        expect_close (ref, losses, klosses, CROSS_ENTROPY_TOLERANCE, name);
        expect_close (ref, dlogits, kdlogits, CROSS_ENTROPY_TOLERANCE, name);
      }
}

/* Three optimizer steps are a handful of float operations per value, in the same order
 * as torch.optim: differences of a few ulps. A wrong momentum or bias-correction rule
 * moves the parameters by a sizeable fraction of lr. */
#define OPTIMIZER_TOLERANCE 1e-6

static void
test_optimizers (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    for (guint adamw = 0; adamw < 2; adamw++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        const char *name = graft_backend_get_info (backend)->name;
        const char *opt = adamw ? "adamw" : "sgd";
        g_autoptr(GError) error = NULL;
        g_autofree char *kparam0 = g_strdup_printf ("optim.%s.param0", opt);
        g_autoptr(GraftTensor) param = load (ref, backend, kparam0);
        g_autoptr(GraftTensor) state1 = empty_like (param);
        g_autoptr(GraftTensor) state2 = empty_like (param);
        GraftSgdParams sgd;
        GraftAdamWParams adam;

        /* the hyperparameters of gen_ops.py's optimizer_cases */
        graft_sgd_params_init (&sgd, 0.05f);
        sgd.momentum = 0.9f;
        sgd.nesterov = TRUE;
        sgd.weight_decay = 1e-3f;
        graft_adamw_params_init (&adam, 0.01f);
        adam.beta1 = 0.9f;
        adam.beta2 = 0.999f;
        adam.eps = 1e-8f;
        adam.weight_decay = 0.05f;
        g_assert_true (graft_op_fill (state1, 0.0f, &error));
        g_assert_true (graft_op_fill (state2, 0.0f, &error));

        for (guint step = 1; step <= 3; step++)
          {
            g_autofree char *kgrad = g_strdup_printf ("optim.%s.grad%u", opt, step);
            g_autofree char *kparam = g_strdup_printf ("optim.%s.param%u", opt, step);
            g_autoptr(GraftTensor) grad = load (ref, backend, kgrad);

            if (adamw)
              g_assert_true (graft_op_adamw_step (param, grad, state1, state2, &adam, step, &error));
            else
              g_assert_true (graft_op_sgd_step (param, grad, state1, &sgd, step, &error));
            g_assert_no_error (error);
            expect_close (ref, param, kparam, OPTIMIZER_TOLERANCE, name);
          }
      }
}

/* Convolutions sum up to 147 products (3·7·7) per output and up to N·OH·OW = 242
 * per weight gradient, in another order than PyTorch: ~sqrt(K)·2^-24 relative. A wrong
 * padding, stride, dilation or group mapping moves whole rows: errors near 1. */
#define CONV_TOLERANCE 1e-5

/* The same cases as CONV_CASES in gen_ops.py. */
static const struct {
  const char *name;
  guint       stride, pad, dilation, groups;
  gboolean    bias;
} convs[] = {
  { "stem_7x7_s2", 2, 3, 1, 1, FALSE },
  { "3x3_bias", 1, 1, 1, 1, TRUE },
  { "1x1_s2", 2, 0, 1, 1, FALSE },
  { "grouped_dilated", 1, 2, 2, 2, TRUE },
  { "depthwise_s2", 2, 1, 1, 6, FALSE },
};

static void
test_conv (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    for (guint c = 0; c < G_N_ELEMENTS (convs); c++)
      {
        GraftBackend *backend = g_ptr_array_index (backends, b);
        const char *name = graft_backend_get_info (backend)->name;
        g_autoptr(GError) error = NULL;
#define KEY(what) g_strdup_printf ("conv.%s." what, convs[c].name)
        g_autofree char *kx = KEY ("x"), *kw = KEY ("weight"), *kb = KEY ("bias");
        g_autofree char *ky = KEY ("y"), *kdy = KEY ("dy"), *kdx = KEY ("dx");
        g_autofree char *kdw = KEY ("dweight"), *kdb = KEY ("dbias");
#undef KEY
        g_autoptr(GraftTensor) x = load (ref, backend, kx);
        g_autoptr(GraftTensor) w = load (ref, backend, kw);
        g_autoptr(GraftTensor) bias = convs[c].bias ? load (ref, backend, kb) : NULL;
        g_autoptr(GraftTensor) dy = load (ref, backend, kdy);
        g_autoptr(GraftTensor) y = empty_like (dy);
        g_autoptr(GraftTensor) dx = empty_like (x);
        g_autoptr(GraftTensor) dw = empty_like (w);
        g_autoptr(GraftTensor) db = convs[c].bias ? empty_like (bias) : NULL;
        GraftConv2dParams params;

        graft_conv2d_params_init (&params);
        params.stride_h = params.stride_w = convs[c].stride;
        params.pad_h = params.pad_w = convs[c].pad;
        params.dilation_h = params.dilation_w = convs[c].dilation;
        params.groups = convs[c].groups;

        if (!graft_op_conv2d (x, w, bias, &params, y, &error) ||
            !graft_op_conv2d_backward (x, w, dy, &params, dx, dw, db, &error))
          {
            g_test_fail_printf ("conv %s on %s: %s", convs[c].name, name, error->message);
            continue;
          }
        expect_close (ref, y, ky, CONV_TOLERANCE, name);
        expect_close (ref, dx, kdx, CONV_TOLERANCE, name);
        expect_close (ref, dw, kdw, CONV_TOLERANCE, name);
        if (db != NULL)
          expect_close (ref, db, kdb, CONV_TOLERANCE, name);
      }
}

/* Multi-head self-attention on packed projections (N = 2, L = 11, E = 24, 3 heads)
 * against PyTorch in float64: sums of at most 11 float32 products and one exp per
 * weight give normalised errors of a few 1e-7. A wrong head layout, scale or softmax
 * axis is off by 1e-1 or more. */
#define ATTENTION_TOLERANCE 1e-5
#define ATTENTION_HEADS 3

static void
test_attention (gconstpointer data)
{
  Reference *r = (Reference *) data;
  GraftSafetensors *ref;
  GPtrArray *backends;

  if (!reference_ready (r))
    return;
  ref = r->ref;
  backends = r->backends;

  for (guint b = 0; b < backends->len; b++)
    {
      GraftBackend *backend = g_ptr_array_index (backends, b);
      const char *name = graft_backend_get_info (backend)->name;
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftTensor) qkv = load (ref, backend, "attention.qkv");
      g_autoptr(GraftTensor) dout = load (ref, backend, "attention.dout");
      gsize n = graft_tensor_get_dim (qkv, 0), l = graft_tensor_get_dim (qkv, 1);
      gsize probs_shape[4] = { n, ATTENTION_HEADS, l, l };
      g_autoptr(GraftTensor) probs = upload_shaped (backend, 4, probs_shape, NULL);
      g_autoptr(GraftTensor) out = empty_like (dout);
      g_autoptr(GraftTensor) dqkv = empty_like (qkv);

      g_assert_true (graft_op_attention (qkv, ATTENTION_HEADS, probs, out, &error));
      g_assert_true (graft_op_attention_backward (qkv, probs, dout, ATTENTION_HEADS, dqkv, &error));
      g_assert_no_error (error);
      expect_close (ref, probs, "attention.probs", ATTENTION_TOLERANCE, name);
      expect_close (ref, out, "attention.out", ATTENTION_TOLERANCE, name);
      expect_close (ref, dqkv, "attention.dqkv", ATTENTION_TOLERANCE, name);
    }
}

int
main (int    argc,
      char **argv)
{
  Reference reference = { 0 };
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_data_func ("/reference/linear", &reference, test_linear);
  g_test_add_data_func ("/reference/activations", &reference, test_activations);
  g_test_add_data_func ("/reference/pooling", &reference, test_pooling);
  g_test_add_data_func ("/reference/conv2d", &reference, test_conv);
  g_test_add_data_func ("/reference/batch-norm", &reference, test_batch_norm);
  g_test_add_data_func ("/reference/layer-norm", &reference, test_layer_norm);
  g_test_add_data_func ("/reference/cross-entropy", &reference, test_cross_entropy);
  g_test_add_data_func ("/reference/optimizers", &reference, test_optimizers);
  g_test_add_data_func ("/reference/attention", &reference, test_attention);

  status = g_test_run ();
  g_clear_pointer (&reference.ref, graft_safetensors_free);
  g_clear_pointer (&reference.backends, g_ptr_array_unref);
  g_free (reference.why);
  return status;
}
