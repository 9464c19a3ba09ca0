/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Convolution on the Vulkan backend against the CPU backend (itself checked against
 * double-precision loops in tests/engine/test-cpu-conv.c): forward and every gradient,
 * on network-like shapes and random ones, compared by normalised error. */

#include <float.h>

#include "graft-test-vulkan.h"

typedef struct {
  gsize             in[4];
  gsize             weight[4];
  gsize             out[4];
  gboolean          has_bias;
  GraftConv2dParams p;
} Case;

/* Both backends sum K float32 products, in different orders: each is within about
 * sqrt(K) * eps of the exact value relative to its size, and so is their difference.
 * 16 * sqrt(K) * eps allows for unlucky cancellation; a wrong tap, stride, group or a
 * missed image gives errors of order 1. */
static double
tolerance (gsize k)
{
  return 16.0 * sqrt ((double) MAX (k, 1)) * FLT_EPSILON;
}

static gsize
n_of (const gsize *shape)
{
  return shape[0] * shape[1] * shape[2] * shape[3];
}

static gboolean
make_case (Case     *c,
           gsize     n,
           gsize     c_in,
           gsize     h,
           gsize     w,
           gsize     c_out,
           gsize     kh,
           gsize     kw,
           guint     groups,
           gboolean  has_bias)
{
  gsize in[4] = { n, c_in, h, w }, weight[4] = { c_out, c_in / groups, kh, kw };

  memcpy (c->in, in, sizeof in);
  memcpy (c->weight, weight, sizeof weight);
  c->has_bias = has_bias;
  c->p.groups = groups;
  return graft_conv2d_output_shape (c->in, c->weight, &c->p, c->out, NULL);
}

static void
set_params (Case  *c,
            guint  stride,
            guint  pad,
            guint  dilation)
{
  graft_conv2d_params_init (&c->p);
  c->p.stride_h = c->p.stride_w = stride;
  c->p.pad_h = c->p.pad_w = pad;
  c->p.dilation_h = c->p.dilation_w = dilation;
}

/* The cases: network shapes first, then random ones (odd sizes, asymmetric strides,
 * padding and dilation, groups 1, 2 and depthwise). */
static GArray *
make_cases (void)
{
  GArray *cases = g_array_new (FALSE, TRUE, sizeof (Case));
  g_autoptr(GRand) rand = g_rand_new_with_seed (31337);
  Case c = { 0 };

  set_params (&c, 1, 1, 1);
  g_assert_true (make_case (&c, 2, 16, 14, 14, 32, 3, 3, 1, TRUE));
  g_array_append_val (cases, c);
  set_params (&c, 2, 3, 1);   /* a ResNet stem on a small image */
  g_assert_true (make_case (&c, 2, 3, 33, 31, 16, 7, 7, 1, FALSE));
  g_array_append_val (cases, c);
  set_params (&c, 1, 0, 1);   /* 1x1 projection, channel counts off the block size */
  g_assert_true (make_case (&c, 3, 13, 9, 7, 22, 1, 1, 1, TRUE));
  g_array_append_val (cases, c);
  set_params (&c, 2, 0, 1);   /* strided 1x1 shortcut */
  g_assert_true (make_case (&c, 2, 8, 9, 9, 16, 1, 1, 1, FALSE));
  g_array_append_val (cases, c);
  set_params (&c, 2, 1, 1);   /* MobileNet depthwise, stride 2 */
  g_assert_true (make_case (&c, 2, 24, 15, 15, 24, 3, 3, 24, TRUE));
  g_array_append_val (cases, c);
  set_params (&c, 1, 2, 1);   /* EfficientNet depthwise 5x5 */
  g_assert_true (make_case (&c, 2, 10, 12, 11, 10, 5, 5, 10, FALSE));
  g_array_append_val (cases, c);
  set_params (&c, 1, 1, 1);   /* enough images and positions to slice the weight gradient */
  g_assert_true (make_case (&c, 5, 4, 32, 32, 8, 3, 3, 1, TRUE));
  g_array_append_val (cases, c);
  set_params (&c, 1, 1, 1);   /* ... and a depthwise one */
  g_assert_true (make_case (&c, 4, 8, 32, 32, 8, 3, 3, 8, FALSE));
  g_array_append_val (cases, c);
  set_params (&c, 1, 2, 2);   /* grouped, dilated */
  g_assert_true (make_case (&c, 2, 8, 11, 13, 6, 3, 3, 2, TRUE));
  g_array_append_val (cases, c);

  while (cases->len < 24)
    {
      gint kind = g_rand_int_range (rand, 0, 3);
      guint groups = kind == 0 ? 1 : kind == 1 ? 2 : (guint) g_rand_int_range (rand, 2, 9);
      gsize cg = kind == 2 ? 1 : (gsize) g_rand_int_range (rand, 1, 7);
      gsize og = kind == 2 ? 1 : (gsize) g_rand_int_range (rand, 1, 7);

      graft_conv2d_params_init (&c.p);
      c.p.stride_h = (guint) g_rand_int_range (rand, 1, 4);
      c.p.stride_w = (guint) g_rand_int_range (rand, 1, 4);
      c.p.pad_h = (guint) g_rand_int_range (rand, 0, 3);
      c.p.pad_w = (guint) g_rand_int_range (rand, 0, 3);
      c.p.dilation_h = (guint) g_rand_int_range (rand, 1, 3);
      c.p.dilation_w = (guint) g_rand_int_range (rand, 1, 3);
      if (make_case (&c, (gsize) g_rand_int_range (rand, 1, 4), cg * groups,
                     (gsize) g_rand_int_range (rand, 3, 16), (gsize) g_rand_int_range (rand, 3, 16),
                     og * groups, (gsize) g_rand_int_range (rand, 1, 6),
                     (gsize) g_rand_int_range (rand, 1, 6), groups, g_rand_boolean (rand)))
        g_array_append_val (cases, c);
    }
  return cases;
}

typedef struct {
  GraftTensor *x, *w, *b, *dy;   /* inputs */
  GraftTensor *y, *dx, *dw, *db; /* outputs */
} Operands;

static void
operands_new (Operands     *o,
              GraftBackend *backend,
              const Case   *c,
              const float  *x,
              const float  *w,
              const float  *b,
              const float  *dy)
{
  o->x = graft_test_tensor (backend, 4, c->in, x);
  o->w = graft_test_tensor (backend, 4, c->weight, w);
  o->b = c->has_bias ? graft_test_tensor (backend, 1, &c->out[1], b) : NULL;
  o->dy = graft_test_tensor (backend, 4, c->out, dy);
  o->y = graft_test_tensor (backend, 4, c->out, NULL);
  o->dx = graft_test_tensor (backend, 4, c->in, NULL);
  o->dw = graft_test_tensor (backend, 4, c->weight, NULL);
  o->db = graft_test_tensor (backend, 1, &c->out[1], NULL);
}

static void
operands_clear (Operands *o)
{
  GraftTensor **all[] = { &o->x, &o->w, &o->b, &o->dy, &o->y, &o->dx, &o->dw, &o->db };

  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_clear_pointer (all[i], graft_tensor_unref);
}

static void
compare (const char  *what,
         GraftTensor *got,
         GraftTensor *want,
         gsize        k)
{
  g_autofree float *g = graft_test_download (got);
  g_autofree float *w = graft_test_download (want);
  double err = graft_test_rel_error (g, w, graft_tensor_get_n_elements (want));

  if (err > tolerance (k))
    g_test_message ("%s: normalised error %.3g over %.3g", what, err, tolerance (k));
  g_assert_cmpfloat (err, <=, tolerance (k));
}

static void
check_case (GraftBackend *vk,
            GraftBackend *cpu,
            GRand        *rand,
            const Case   *c,
            gboolean      backward)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *x = graft_test_random (rand, n_of (c->in));
  g_autofree float *w = graft_test_random (rand, n_of (c->weight));
  g_autofree float *b = graft_test_random (rand, c->out[1]);
  g_autofree float *dy = graft_test_random (rand, n_of (c->out));
  Operands v, r;
  gsize k_fwd = c->weight[1] * c->weight[2] * c->weight[3];
  gsize k_dx = c->weight[0] / c->p.groups * c->weight[2] * c->weight[3];
  gsize k_dw = c->out[0] * c->out[2] * c->out[3];

  g_test_message ("x [%zu,%zu,%zu,%zu] w [%zu,%zu,%zu,%zu] s %ux%u p %ux%u d %ux%u g %u bias %d",
                  c->in[0], c->in[1], c->in[2], c->in[3],
                  c->weight[0], c->weight[1], c->weight[2], c->weight[3],
                  c->p.stride_h, c->p.stride_w, c->p.pad_h, c->p.pad_w,
                  c->p.dilation_h, c->p.dilation_w, c->p.groups, c->has_bias);
  operands_new (&v, vk, c, x, w, b, dy);
  operands_new (&r, cpu, c, x, w, b, dy);

  g_assert_true (graft_op_conv2d (r.x, r.w, r.b, &c->p, r.y, &error));
  g_assert_no_error (error);
  g_assert_true (graft_op_conv2d (v.x, v.w, v.b, &c->p, v.y, &error));
  g_assert_no_error (error);
  compare ("y", v.y, r.y, k_fwd);

  if (backward)
    {
      g_assert_true (graft_op_conv2d_backward (r.x, r.w, r.dy, &c->p, r.dx, r.dw, r.db, &error));
      g_assert_no_error (error);
      g_assert_true (graft_op_conv2d_backward (v.x, v.w, v.dy, &c->p, v.dx, v.dw, v.db, &error));
      g_assert_no_error (error);
      compare ("dx", v.dx, r.dx, k_dx);
      compare ("dweight", v.dw, r.dw, k_dw);
      compare ("dbias", v.db, r.db, k_dw);

      /* dweight alone (a frozen first layer) must not depend on dx being asked for */
      g_assert_true (graft_op_fill (v.dw, 3.0f, &error));
      g_assert_true (graft_op_conv2d_backward (v.x, v.w, v.dy, &c->p, NULL, v.dw, NULL, &error));
      g_assert_no_error (error);
      compare ("dweight alone", v.dw, r.dw, k_dw);
    }

  operands_clear (&v);
  operands_clear (&r);
}

/* @kernel picks the implicit GEMMs' variant as it picks GEMM's: texel-buffer operands
 * (CPU) or storage-buffer ones (TILED, what GPUs run); both are checked on any device. */
static void
run_cases (gboolean           backward,
           GraftVkGemmKernel  kernel)
{
  g_autofree char *reason = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);
  g_autoptr(GraftBackend) cpu = graft_backend_open ("cpu", &error);
  g_autoptr(GArray) cases = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (backward ? 2 : 1);

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }
  g_assert_no_error (error);

  _graft_vk_backend_set_gemm_kernel (vk, kernel);
  cases = make_cases ();
  for (guint i = 0; i < cases->len; i++)
    check_case (vk, cpu, rand, &g_array_index (cases, Case, i), backward);
}

static void
test_forward (void)
{
  run_cases (FALSE, GRAFT_VK_GEMM_CPU);
  run_cases (FALSE, GRAFT_VK_GEMM_TILED);
}

static void
test_backward (void)
{
  run_cases (TRUE, GRAFT_VK_GEMM_CPU);
  run_cases (TRUE, GRAFT_VK_GEMM_TILED);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vulkan/conv/forward", test_forward);
  g_test_add_func ("/vulkan/conv/backward", test_backward);

  return g_test_run ();
}
