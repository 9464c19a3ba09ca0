/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Tensor bookkeeping and the op front end's checks: a wrong shape is a clear error that
 * names the tensor, never a crash or a silent wrong answer. */

#include <string.h>

#include "graft.h"

static GraftBackend *
open_cpu (void)
{
  g_autoptr(GError) error = NULL;
  GraftBackend *backend = graft_backend_open ("cpu", &error);

  g_assert_no_error (error);
  g_assert_nonnull (backend);
  return backend;
}

static void
test_tensor_shape (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GError) error = NULL;
  gsize shape[4] = { 2, 3, 4, 5 };
  g_autoptr(GraftTensor) t = graft_tensor_new (cpu, 4, shape, &error);
  g_autofree char *text = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (graft_tensor_get_rank (t), ==, 4);
  g_assert_cmpuint (graft_tensor_get_n_elements (t), ==, 120);
  g_assert_cmpuint (graft_tensor_get_dim (t, 2), ==, 4);
  g_assert_true (graft_tensor_get_backend (t) == cpu);
  text = graft_tensor_format_shape (t);
  g_assert_cmpstr (text, ==, "[2, 3, 4, 5]");
  g_assert_cmpstr (graft_tensor_get_name (t), ==, "tensor");
  graft_tensor_set_name (t, "conv1.weight");
  g_assert_cmpstr (graft_tensor_get_name (t), ==, "conv1.weight");
}

static void
test_tensor_bad_shapes (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GError) error = NULL;
  gsize empty[2] = { 3, 0 };
  gsize huge[3] = { 65536, 65536, 2 };
  GraftTensor *t;

  t = graft_tensor_new (cpu, 2, empty, &error);
  g_assert_null (t);
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "[3, 0]"));
  g_clear_error (&error);

  t = graft_tensor_new (cpu, 3, huge, &error);
  g_assert_null (t);
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_TOO_LARGE);
}

static void
test_tensor_roundtrip (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) t = graft_tensor_new_2d (cpu, 3, 5, &error);
  float in[15], out[15], too_few[4] = { 0 };

  for (guint i = 0; i < 15; i++)
    in[i] = (float) i * 0.5f - 3.0f;
  g_assert_true (graft_tensor_upload (t, in, 15, &error));
  g_assert_true (graft_tensor_download (t, out, 15, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (in, sizeof in, out, sizeof out);

  graft_tensor_set_name (t, "fc.bias");
  g_assert_false (graft_tensor_upload (t, too_few, 4, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "fc.bias"));
  g_assert_nonnull (strstr (error->message, "[3, 5]"));
}

static void
test_ops_shape_errors (void)
{
  g_autoptr(GraftBackend) cpu = open_cpu ();
  g_autoptr(GraftBackend) cpu2 = open_cpu ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) a = graft_tensor_new_2d (cpu, 4, 3, NULL);
  g_autoptr(GraftTensor) b = graft_tensor_new_2d (cpu, 2, 3, NULL);
  g_autoptr(GraftTensor) c = graft_tensor_new_2d (cpu, 4, 2, NULL);
  g_autoptr(GraftTensor) w = graft_tensor_new_2d (cpu, 5, 3, NULL);
  g_autoptr(GraftTensor) elsewhere = graft_tensor_new_2d (cpu2, 4, 3, NULL);

  graft_tensor_set_name (a, "x");
  graft_tensor_set_name (w, "fc.weight");

  /* [4,3] + [2,3] does not broadcast */
  g_assert_false (graft_op_add (a, b, a, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "do not broadcast"));
  g_clear_error (&error);

  /* the output must have the broadcast shape */
  g_assert_false (graft_op_mul (a, a, c, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);

  /* c[4,2] = x[4,3] · fc.weight^T needs fc.weight [2,3], not [5,3] */
  g_assert_false (graft_op_gemm (a, FALSE, w, TRUE, NULL, 1.0f, 0.0f, c, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "fc.weight"));
  g_assert_nonnull (strstr (error->message, "[2, 3]"));
  g_clear_error (&error);

  /* a bias of the wrong length */
  g_assert_false (graft_op_gemm (a, FALSE, b, TRUE, w, 1.0f, 0.0f, c, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);

  /* output aliasing an input */
  g_assert_false (graft_op_gemm (a, TRUE, a, FALSE, NULL, 1.0f, 0.0f, a, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_SHAPE);
  g_clear_error (&error);

  /* operands on two backends */
  g_assert_false (graft_op_add (a, elsewhere, a, &error));
  g_assert_error (error, GRAFT_TENSOR_ERROR, GRAFT_TENSOR_ERROR_BACKEND);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/tensor/shape", test_tensor_shape);
  g_test_add_func ("/tensor/bad-shapes", test_tensor_bad_shapes);
  g_test_add_func ("/tensor/roundtrip", test_tensor_roundtrip);
  g_test_add_func ("/ops/shape-errors", test_ops_shape_errors);

  return g_test_run ();
}
