/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Batch and layer normalisation on the CPU backend against loops written here in double
 * from PyTorch's definitions: random shapes with odd sizes, affine on and off, training
 * and evaluation, the running statistics' update, and every gradient against central
 * differences of the double-precision forward pass. */

#include <math.h>

#include "graft-test-util.h"

/* Forward outputs: the backend computes xhat = (x - mean) · invstd and xhat · w + b in
 * float after a double reduction, a few roundings of eps = 6e-8 relative to |y| ~ 1;
 * 1e-5 leaves a wide margin, while a wrong variance (biased against unbiased) is off by
 * 1/(M - 1) >= 1e-3 for these sizes, a wrong eps or momentum by far more. */
#define FORWARD_TOL 1e-5
/* Gradients: the reference is a central difference of a double forward pass with step
 * 1e-4 on values of size 1, truncation error ~h²·|f'''| ~ 1e-8 and rounding ~1e-12/h,
 * against float outputs of the backend: 1e-4 relative error still catches any missing
 * term of the formulas (each of size 1/M or more of the total). */
#define GRAD_TOL    1e-4
#define FD_STEP     1e-4

typedef struct {
  gboolean batch;
  gsize    outer, groups, inner;   /* batch: N, C, H·W; layer: 1, R, D */
  gsize    shape[4];
  guint    rank;
  gboolean has_w, has_b, training;
  float    eps, momentum;
} Case;

static gsize
n_of (const Case *c)
{
  return c->outer * c->groups * c->inner;
}

static gsize
n_param (const Case *c)
{
  return c->batch ? c->groups : c->inner;
}

static double
rel_error (const float  *got,
           const double *want,
           gsize         n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      diff += (got[i] - want[i]) * (got[i] - want[i]);
      norm += want[i] * want[i];
    }
  /* Floor the norm at one per value (the size of x, dy, weight here): where the true
   * result nearly cancels (layer norm of 2 features, whose output hardly depends on x)
   * the error is then measured against the operands' size, not a tiny difference. */
  return sqrt (diff / MAX (norm, (double) n));
}

/* The forward pass in double; returns Σ r·y when @r is given. */
static double
reference (const Case   *c,
           const double *x,
           const double *w,
           const double *b,
           const double *rm,
           const double *rv,
           const double *r,
           double       *y,
           double       *mean,
           double       *invstd,
           double       *new_rm,
           double       *new_rv)
{
  gsize m = c->outer * c->inner;
  double loss = 0.0;

  for (gsize g = 0; g < c->groups; g++)
    {
      double mu, var, sum = 0.0, sq = 0.0, is;

      for (gsize o = 0; o < c->outer; o++)
        for (gsize i = 0; i < c->inner; i++)
          sum += x[(o * c->groups + g) * c->inner + i];
      mu = sum / m;
      for (gsize o = 0; o < c->outer; o++)
        for (gsize i = 0; i < c->inner; i++)
          {
            double d = x[(o * c->groups + g) * c->inner + i] - mu;
            sq += d * d;
          }
      var = sq / m;
      if (c->training || !c->batch)
        {
          if (new_rm != NULL && rm != NULL)
            {
              new_rm[g] = (1.0 - c->momentum) * rm[g] + c->momentum * mu;
              new_rv[g] = (1.0 - c->momentum) * rv[g] + c->momentum * sq / (m - 1);
            }
        }
      else
        {
          mu = rm[g];
          var = rv[g];
        }
      is = 1.0 / sqrt (var + c->eps);
      if (mean != NULL)
        {
          mean[g] = mu;
          invstd[g] = is;
        }
      for (gsize o = 0; o < c->outer; o++)
        for (gsize i = 0; i < c->inner; i++)
          {
            gsize j = (o * c->groups + g) * c->inner + i;
            gsize k = c->batch ? g : i;
            double v = (x[j] - mu) * is * (w != NULL ? w[k] : 1.0) + (b != NULL ? b[k] : 0.0);

            if (y != NULL)
              y[j] = v;
            if (r != NULL)
              loss += r[j] * v;
          }
    }
  return loss;
}

static double *
to_double (const float *f,
           gsize        n)
{
  double *d = g_new (double, n);

  for (gsize i = 0; i < n; i++)
    d[i] = f[i];
  return d;
}

/* d(Σ r·y)/d v[k] for every k by central differences, v one of x, w, b. */
static double *
finite_difference (const Case *c,
                   double     *v,
                   gsize       n,
                   double     *x,
                   double     *w,
                   double     *b,
                   const double *rm,
                   const double *rv,
                   const double *r)
{
  double *grad = g_new (double, n);

  for (gsize k = 0; k < n; k++)
    {
      double keep = v[k], plus, minus;

      v[k] = keep + FD_STEP;
      plus = reference (c, x, w, b, rm, rv, r, NULL, NULL, NULL, NULL, NULL);
      v[k] = keep - FD_STEP;
      minus = reference (c, x, w, b, rm, rv, r, NULL, NULL, NULL, NULL, NULL);
      v[k] = keep;
      grad[k] = (plus - minus) / (2.0 * FD_STEP);
    }
  return grad;
}

static void
check_case (GraftBackend *cpu,
            GRand        *rand,
            const Case   *c)
{
  g_autoptr(GError) error = NULL;
  gsize n = n_of (c), np = n_param (c), ns = c->groups;
  gsize vshape[1] = { np }, sshape[1] = { ns };
  g_autofree float *x = graft_test_random (rand, n);
  g_autofree float *w = graft_test_random (rand, np);
  g_autofree float *b = graft_test_random (rand, np);
  g_autofree float *r = graft_test_random (rand, n);
  g_autofree float *rm = graft_test_random (rand, ns);
  g_autofree float *rv = graft_test_random (rand, ns);
  g_autoptr(GraftTensor) tx = NULL, tw = NULL, tb = NULL, trm = NULL, trv = NULL;
  g_autoptr(GraftTensor) ty = NULL, tmean = NULL, tinv = NULL, tr = NULL;
  g_autoptr(GraftTensor) tdx = NULL, tdw = NULL, tdb = NULL;
  g_autofree double *dx = NULL, *dw = NULL, *db = NULL, *dr = NULL;
  g_autofree double *drm = NULL, *drv = NULL, *y = NULL, *mean = NULL, *invstd = NULL;
  g_autofree double *new_rm = NULL, *new_rv = NULL;
  g_autofree float *gy = NULL, *gmean = NULL, *ginv = NULL, *grm = NULL, *grv = NULL;
  g_autofree float *gdx = NULL, *gdw = NULL, *gdb = NULL;
  g_autofree double *fdx = NULL, *fdw = NULL, *fdb = NULL;
  GraftNormParams params;
  g_autofree char *what = g_strdup_printf ("%s [%zu,%zu,%zu] w %d b %d train %d",
                                           c->batch ? "batch" : "layer", c->outer, c->groups,
                                           c->inner, c->has_w, c->has_b, c->training);

  /* Scale and shift x so that the mean is not zero and the variance not one. */
  for (gsize i = 0; i < n; i++)
    x[i] = x[i] * 1.7f + 0.3f;
  for (gsize i = 0; i < ns; i++)
    rv[i] = fabsf (rv[i]) + 0.2f;

  graft_norm_params_init (&params);
  params.eps = c->eps;
  params.momentum = c->momentum;
  params.training = c->training;

  tx = graft_test_tensor (cpu, c->rank, c->shape, x);
  tw = c->has_w ? graft_test_tensor (cpu, 1, vshape, w) : NULL;
  tb = c->has_b ? graft_test_tensor (cpu, 1, vshape, b) : NULL;
  trm = c->batch ? graft_test_tensor (cpu, 1, sshape, rm) : NULL;
  trv = c->batch ? graft_test_tensor (cpu, 1, sshape, rv) : NULL;
  ty = graft_test_tensor (cpu, c->rank, c->shape, NULL);
  tmean = graft_test_tensor (cpu, 1, sshape, NULL);
  tinv = graft_test_tensor (cpu, 1, sshape, NULL);

  if (c->batch)
    graft_op_batch_norm2d (tx, tw, tb, trm, trv, &params, ty, tmean, tinv, &error);
  else
    graft_op_layer_norm (tx, tw, tb, c->eps, ty, tmean, tinv, &error);
  g_assert_no_error (error);

  dx = to_double (x, n);
  dw = c->has_w ? to_double (w, np) : NULL;
  db = c->has_b ? to_double (b, np) : NULL;
  dr = to_double (r, n);
  drm = to_double (rm, ns);
  drv = to_double (rv, ns);
  y = g_new (double, n);
  mean = g_new (double, ns);
  invstd = g_new (double, ns);
  new_rm = g_memdup2 (drm, ns * sizeof (double));
  new_rv = g_memdup2 (drv, ns * sizeof (double));
  reference (c, dx, dw, db, c->batch ? drm : NULL, drv, NULL, y, mean, invstd, new_rm, new_rv);

  gy = graft_test_download (ty);
  gmean = graft_test_download (tmean);
  ginv = graft_test_download (tinv);
  if (rel_error (gy, y, n) > FORWARD_TOL || rel_error (gmean, mean, ns) > FORWARD_TOL ||
      rel_error (ginv, invstd, ns) > FORWARD_TOL)
    g_error ("%s: forward off: y %g mean %g invstd %g", what, rel_error (gy, y, n),
             rel_error (gmean, mean, ns), rel_error (ginv, invstd, ns));
  if (c->batch)
    {
      grm = graft_test_download (trm);
      grv = graft_test_download (trv);
      if (rel_error (grm, new_rm, ns) > FORWARD_TOL || rel_error (grv, new_rv, ns) > FORWARD_TOL)
        g_error ("%s: running statistics off: mean %g var %g", what,
                 rel_error (grm, new_rm, ns), rel_error (grv, new_rv, ns));
    }

  /* Backward with dy = r, against d(Σ r·y)/d(x, w, b). */
  tr = graft_test_tensor (cpu, c->rank, c->shape, r);
  tdx = graft_test_tensor (cpu, c->rank, c->shape, NULL);
  tdw = graft_test_tensor (cpu, 1, vshape, NULL);
  tdb = graft_test_tensor (cpu, 1, vshape, NULL);
  if (c->batch)
    graft_op_batch_norm2d_backward (tr, tx, tw, tmean, tinv, &params, tdx, tdw, tdb, &error);
  else
    graft_op_layer_norm_backward (tr, tx, tw, tmean, tinv, tdx, tdw, tdb, &error);
  g_assert_no_error (error);
  gdx = graft_test_download (tdx);
  gdw = graft_test_download (tdw);
  gdb = graft_test_download (tdb);

  /* The eval reference uses the running statistics as they were before this call. */
  fdx = finite_difference (c, dx, n, dx, dw, db, drm, drv, dr);
  if (rel_error (gdx, fdx, n) > GRAD_TOL)
    g_error ("%s: dx off by %g", what, rel_error (gdx, fdx, n));
  {
    /* dweight and dbias are defined with or without an affine transform: take them at
     * weight 1 and bias 0 when absent (as the ops do). */
    g_autofree double *ones = g_new (double, np);
    g_autofree double *zeros = g_new0 (double, np);

    for (gsize i = 0; i < np; i++)
      ones[i] = 1.0;
    if (dw == NULL)
      dw = g_memdup2 (ones, np * sizeof (double));
    if (db == NULL)
      db = g_memdup2 (zeros, np * sizeof (double));
  }
  fdw = finite_difference (c, dw, np, dx, dw, db, drm, drv, dr);
  fdb = finite_difference (c, db, np, dx, dw, db, drm, drv, dr);
  if (rel_error (gdw, fdw, np) > GRAD_TOL || rel_error (gdb, fdb, np) > GRAD_TOL)
    g_error ("%s: dweight off by %g, dbias by %g", what, rel_error (gdw, fdw, np),
             rel_error (gdb, fdb, np));
}

static Case
batch_case (gsize    n,
            gsize    ch,
            gsize    h,
            gsize    w,
            gboolean affine,
            gboolean training)
{
  return (Case) {
    .batch = TRUE, .outer = n, .groups = ch, .inner = h * w,
    .shape = { n, ch, h, w }, .rank = 4,
    .has_w = affine, .has_b = affine, .training = training,
    .eps = 1e-5f, .momentum = 0.1f,
  };
}

static Case
layer_case (gsize    rows,
            gsize    d,
            gboolean has_w,
            gboolean has_b)
{
  return (Case) {
    .batch = FALSE, .outer = 1, .groups = rows, .inner = d,
    .shape = { rows, d }, .rank = 2,
    .has_w = has_w, .has_b = has_b, .training = TRUE,
    .eps = 1e-6f,
  };
}

static void
test_batch_random (gconstpointer data)
{
  GraftBackend *cpu = (GraftBackend *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (11);

  for (guint t = 0; t < 40; t++)
    {
      Case c = batch_case (g_rand_int_range (rand, 1, 5), g_rand_int_range (rand, 1, 8),
                           g_rand_int_range (rand, 1, 7), g_rand_int_range (rand, 1, 6),
                           g_rand_boolean (rand), g_rand_boolean (rand));

      if (c.training && c.outer * c.inner < 2)
        c.training = FALSE;
      c.momentum = (float) g_rand_double_range (rand, 0.0, 1.0);
      c.eps = g_rand_boolean (rand) ? 1e-5f : 1e-3f;
      /* Weight without bias, and the reverse, are allowed too. */
      if (t % 7 == 3)
        c.has_w = !c.has_b;
      check_case (cpu, rand, &c);
    }
}

/* N = 1 with a 1 x 1 image: one value per channel, which has no variance. Training is
 * refused as PyTorch refuses it; evaluation works. */
static void
test_batch_single (gconstpointer data)
{
  GraftBackend *cpu = (GraftBackend *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (12);
  g_autoptr(GError) error = NULL;
  gsize shape[4] = { 1, 3, 1, 1 }, cs[1] = { 3 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 4, shape, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 4, shape, NULL);
  g_autoptr(GraftTensor) m = graft_test_tensor (cpu, 1, cs, NULL);
  g_autoptr(GraftTensor) s = graft_test_tensor (cpu, 1, cs, NULL);
  GraftNormParams params;
  Case eval = batch_case (1, 3, 1, 1, TRUE, FALSE);

  graft_norm_params_init (&params);
  graft_tensor_set_name (x, "x");
  g_assert_false (graft_op_batch_norm2d (x, NULL, NULL, NULL, NULL, &params, y, m, s, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "x has one value per channel"));
  check_case (cpu, rand, &eval);
}

/* Argument errors name the tensor at fault. */
static void
test_batch_errors (gconstpointer data)
{
  GraftBackend *cpu = (GraftBackend *) data;
  g_autoptr(GError) error = NULL;
  gsize shape[4] = { 2, 3, 4, 4 }, cs[1] = { 3 }, bad[1] = { 4 };
  g_autoptr(GraftTensor) x = graft_test_tensor (cpu, 4, shape, NULL);
  g_autoptr(GraftTensor) y = graft_test_tensor (cpu, 4, shape, NULL);
  g_autoptr(GraftTensor) m = graft_test_tensor (cpu, 1, cs, NULL);
  g_autoptr(GraftTensor) s = graft_test_tensor (cpu, 1, cs, NULL);
  g_autoptr(GraftTensor) w = graft_test_tensor (cpu, 1, bad, NULL);
  GraftNormParams params;

  graft_norm_params_init (&params);
  graft_tensor_set_name (w, "bn.weight");
  g_assert_false (graft_op_batch_norm2d (x, w, NULL, NULL, NULL, &params, y, m, s, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "bn.weight"));
  g_clear_error (&error);

  params.training = FALSE;
  g_assert_false (graft_op_batch_norm2d (x, NULL, NULL, NULL, NULL, &params, y, m, s, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "running"));
  g_clear_error (&error);

  params.training = TRUE;
  g_assert_false (graft_op_batch_norm2d (x, NULL, NULL, NULL, NULL, &params, x, m, s, &error));
  g_assert_nonnull (strstr (error->message, "share storage"));
}

static void
test_layer_random (gconstpointer data)
{
  GraftBackend *cpu = (GraftBackend *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);

  for (guint t = 0; t < 30; t++)
    {
      Case c = layer_case (g_rand_int_range (rand, 1, 10), g_rand_int_range (rand, 1, 41),
                           g_rand_boolean (rand), g_rand_boolean (rand));
      check_case (cpu, rand, &c);
    }
}

/* ViT-Tiny's width: [N, tokens, 192] seen as rows of 192. */
static void
test_layer_vit (gconstpointer data)
{
  GraftBackend *cpu = (GraftBackend *) data;
  g_autoptr(GRand) rand = g_rand_new_with_seed (14);
  Case c = layer_case (2 * 5, 192, TRUE, TRUE);

  c.rank = 3;
  c.shape[0] = 2;
  c.shape[1] = 5;
  c.shape[2] = 192;
  check_case (cpu, rand, &c);
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GError) error = NULL;
  GraftBackend *cpu;
  int status;

  g_test_init (&argc, &argv, NULL);
  cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);

  g_test_add_data_func ("/cpu/norm/batch-random", cpu, test_batch_random);
  g_test_add_data_func ("/cpu/norm/batch-single-value", cpu, test_batch_single);
  g_test_add_data_func ("/cpu/norm/batch-errors", cpu, test_batch_errors);
  g_test_add_data_func ("/cpu/norm/layer-random", cpu, test_layer_random);
  g_test_add_data_func ("/cpu/norm/layer-vit", cpu, test_layer_vit);

  status = g_test_run ();
  graft_backend_unref (cpu);
  return status;
}
