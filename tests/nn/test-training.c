/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Training end to end on every backend: a small convolutional network learns a synthetic
 * task (which quadrant of a noisy 16×16 image holds a bright square) with its first block
 * frozen. It must reach TARGET_ACCURACY on images it never saw, the frozen parameters must
 * be bit-identical afterwards and every trainable one must have moved.
 *
 * The task is learnable in a few dozen steps: the classes differ in where the mean
 * brightness sits, which a 3×3 convolution, pooling and a linear layer separate easily;
 * chance is 25%, a network that learned nothing stays near it, and one whose gradients are
 * wrong in sign or scale does not converge in STEPS steps. */

#include <string.h>

#include "graft-test-util.h"

#define SIDE 16
#define CLASSES 4
#define BATCH 32
#define STEPS 80
#define TARGET_ACCURACY 0.95

/* Image i of class c: background noise N(0, 0.5), plus 1.5 on a 6×6 square placed at a
 * random spot within quadrant c. */
static void
make_batch (GRand *rand,
            float *images,
            float *labels)
{
  for (guint i = 0; i < BATCH; i++)
    {
      guint c = g_rand_int_range (rand, 0, CLASSES);
      guint y0 = (c / 2) * (SIDE / 2) + g_rand_int_range (rand, 0, SIDE / 2 - 5);
      guint x0 = (c % 2) * (SIDE / 2) + g_rand_int_range (rand, 0, SIDE / 2 - 5);
      float *img = images + (gsize) i * SIDE * SIDE;

      for (guint p = 0; p < SIDE * SIDE; p++)
        img[p] = 0.5f * (float) g_rand_double_range (rand, -1.7, 1.7);
      for (guint y = y0; y < y0 + 6; y++)
        for (guint x = x0; x < x0 + 6; x++)
          img[y * SIDE + x] += 1.5f;
      labels[i] = (float) c;
    }
}

static GraftModel *
build (GraftBackend *backend)
{
  g_autoptr(GError) error = NULL;
  GraftModel *model = graft_model_new (backend, "tiny-cnn", 1, 42);
  int x;

  graft_model_begin_block (model, "stem");
  x = graft_model_add_conv2d (model, "conv1", 0, 8, 3, 1, 1, 1, 1, FALSE);
  x = graft_model_add_batch_norm2d (model, "bn1", x, 1e-5f, 0.1f);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  graft_model_begin_block (model, "body");
  x = graft_model_add_conv2d (model, "conv2", x, 16, 3, 2, 1, 1, 1, FALSE);
  x = graft_model_add_batch_norm2d (model, "bn2", x, 1e-5f, 0.1f);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 2, 2);
  x = graft_model_add_flatten (model, x);
  x = graft_model_add_linear (model, "fc", x, CLASSES, TRUE);
  g_assert_true (graft_model_finish (model, x, &error));
  g_assert_no_error (error);
  return model;
}

static double
accuracy (GraftModel *model,
          GRand      *rand)
{
  g_autoptr(GError) error = NULL;
  float images[BATCH * SIDE * SIDE], labels[BATCH], logits[BATCH * CLASSES];
  guint right = 0, total = 0;

  for (guint b = 0; b < 4; b++)
    {
      make_batch (rand, images, labels);
      g_assert_true (graft_tensor_upload (graft_model_get_input (model), images, G_N_ELEMENTS (images), &error));
      g_assert_true (graft_model_forward (model, FALSE, 0, &error));
      g_assert_true (graft_tensor_download (graft_model_get_output (model), logits, G_N_ELEMENTS (logits), &error));
      g_assert_no_error (error);
      for (guint i = 0; i < BATCH; i++)
        {
          guint best = 0;

          for (guint c = 1; c < CLASSES; c++)
            if (logits[i * CLASSES + c] > logits[i * CLASSES + best])
              best = c;
          right += best == (guint) labels[i];
          total++;
        }
    }
  return (double) right / total;
}

static void
test_training (gconstpointer data)
{
  GraftBackend *backend = (GraftBackend *) data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = build (backend);
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GPtrArray) before = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GRand) rand = g_rand_new_with_seed (7);
  g_autoptr(GRand) held_out = g_rand_new_with_seed (1234);
  float images[BATCH * SIDE * SIDE], labels[BATCH];
  GraftSgdParams sgd;
  gsize trainable, frozen;
  double acc_before, acc_after;
  float first_loss = 0, last_loss = 0;

  g_assert_true (graft_model_set_trainable (model, "stem", FALSE, &error));
  g_assert_no_error (error);
  graft_model_count_parameters (model, &trainable, &frozen);
  g_assert_cmpuint (frozen, ==, 8 * 1 * 9 + 8 + 8);
  g_assert_cmpuint (trainable, ==, 16 * 8 * 9 + 16 + 16 + CLASSES * 64 + CLASSES);

  g_assert_true (graft_model_prepare (model, BATCH, SIDE, SIDE, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    g_ptr_array_add (before, graft_test_download (graft_model_get_param (model, i)->value));

  acc_before = accuracy (model, held_out);
  target = graft_tensor_new (backend, 1, (const gsize[]) { BATCH }, &error);
  g_assert_no_error (error);
  graft_sgd_params_init (&sgd, 0.05f);
  sgd.momentum = 0.9f;
  optimizer = graft_optimizer_new_sgd (model, &sgd);

  for (guint step = 0; step < STEPS; step++)
    {
      make_batch (rand, images, labels);
      g_assert_true (graft_tensor_upload (graft_model_get_input (model), images, G_N_ELEMENTS (images), &error));
      g_assert_true (graft_tensor_upload (target, labels, BATCH, &error));
      g_assert_true (graft_model_forward (model, TRUE, step, &error));
      g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
      g_assert_true (graft_optimizer_step (optimizer, &error));
      g_assert_no_error (error);
      if (step == 0 || step == STEPS - 1)
        {
          float loss;

          g_assert_true (graft_tensor_download (graft_model_get_loss (model), &loss, 1, &error));
          *(step == 0 ? &first_loss : &last_loss) = loss;
        }
    }

  g_rand_set_seed (held_out, 1234);
  acc_after = accuracy (model, held_out);
  g_test_message ("%s: loss %.3f -> %.3f, held-out accuracy %.2f -> %.2f after %d steps",
                  graft_backend_get_info (backend)->name, first_loss, last_loss, acc_before,
                  acc_after, STEPS);
  g_assert_cmpfloat (acc_after, >=, TARGET_ACCURACY);
  g_assert_cmpfloat (last_loss, <, first_loss);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *param = graft_model_get_param (model, i);
      g_autofree float *after = graft_test_download (param->value);
      gsize n = graft_tensor_get_n_elements (param->value);
      gboolean same = memcmp (after, g_ptr_array_index (before, i), n * sizeof (float)) == 0;

      if (param->is_buffer)
        continue;   /* running statistics move in training mode, frozen or not */
      if (g_str_equal (param->block, "stem"))
        g_assert_true (same);      /* frozen: bit-identical */
      else if (!same)
        continue;
      else
        g_error ("%s is trainable but did not change", param->name);
    }
}

int
main (int    argc,
      char **argv)
{
  g_autoptr(GPtrArray) backends = NULL;
  gboolean have_vulkan;

  g_test_init (&argc, &argv, NULL);

  backends = graft_test_backends (&have_vulkan);
  for (guint i = 0; i < backends->len; i++)
    {
      GraftBackend *backend = g_ptr_array_index (backends, i);
      gboolean vulkan = graft_backend_get_info (backend)->backend == GRAFT_BACKEND_KIND_VULKAN;
      g_autofree char *path = g_strdup_printf ("/nn/training/%s", vulkan ? "vulkan" : "cpu");

      g_test_add_data_func (path, backend, test_training);
    }
  if (!have_vulkan && graft_test_require_vulkan ())
    g_error ("no Vulkan device to train on (GRAFT_TEST_REQUIRE_VULKAN=1)");

  return g_test_run ();
}
