/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Every zoo architecture against torchvision (gen_models.py): the same weights loaded by
 * name, the same input batch; the eval output, the train output, the loss, every
 * parameter's gradient and the updated running statistics must agree on each backend.
 *
 * The answers are PyTorch's in float64, exact to float32 rounding. Errors are normalised,
 * ||graft - answer|| / ||answer||, with gradients' norms floored at 1e-4 of the largest
 * gradient's (one that is zero in exact arithmetic is rounding noise on both sides).
 *
 * Outputs, loss and running statistics: Graft computes in float32, so it may stray from
 * the exact answer as far as PyTorch's own float32 run does (the file's "noise" for each
 * answer), within a factor of FACTOR for summation orders that round less kindly, and
 * never needs to be closer than BASE. These tensors have noise near 1e-6; a real error in
 * a layer (a misplaced stride, a missing residual, a transposed weight, the wrong
 * batch-norm momentum or eps) gives errors from 1e-2 to 1.
 *
 * Gradients: a ReLU whose input lies within float32 rounding of zero (about one in a
 * million lies within 1e-6 of it, and these models hold a million or more) can fall on
 * either side in any float32 implementation, PyTorch's included. Each such flip moves one
 * value's gradient; through the batch statistics of the last stages (8 to 32 values per
 * channel here) that reaches every layer below it and shows in their parameters'
 * gradients as normalised errors of 1e-2 to 6e-2 per flip. A flip-free stretch of layers
 * agrees to ~1e-5 (the log counts the gradients within the tight tolerance and names the
 * worst). GRAD_TOLERANCE allows a couple of flips and still fails a miswired model
 * (a residual into the wrong layer, a gradient overwritten instead of summed, a wrong
 * stride or transpose), whose errors are 0.3 to 1; each layer's own backward pass is held
 * to 1e-6 against PyTorch by test-reference-ops. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-reference.h"

#define BASE 1e-4
#define FACTOR 4.0
#define GRAD_TOLERANCE 0.15
/* Training steps: over STEPS optimizer steps on one batch, how the loss moves and how
 * the classifier's weights move, against PyTorch's optimizer on its own gradients. Each
 * step applies gradients that may carry a flip (above), so these may drift by a few
 * percent (or, where PyTorch's own float32 run drifts further, FACTOR times that); a
 * wrong optimizer (momentum or weight decay missing, AdamW's bias correction off by a
 * step, a parameter left out) changes them by 20% or more. */
#define STEPS 3
#define STEPS_TOLERANCE 5e-2

#define IMAGE 64
#define BATCH 2
#define CLASSES 10

typedef struct {
  const char *arch;
} Case;

static float *
read_all (GraftSafetensors *ref,
          const char       *name,
          gsize            *n)
{
  return graft_reference_read (ref, name, NULL, NULL, n);
}

/* The "weights." tensors as a file of their own, loaded through the public path. */
static char *
write_weights (GraftSafetensors *ref,
               const char       *dir)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  g_autoptr(GError) error = NULL;
  const char *const *names = graft_safetensors_get_names (ref);
  char *path = g_build_filename (dir, "weights.safetensors", NULL);

  for (guint i = 0; names[i] != NULL; i++)
    {
      const GraftSafetensorsEntry *entry;
      g_autofree float *data = NULL;

      if (!g_str_has_prefix (names[i], "weights."))
        continue;
      entry = graft_safetensors_lookup (ref, names[i]);
      data = read_all (ref, names[i], NULL);
      g_assert_true (graft_safetensors_writer_add_f32 (writer, names[i] + strlen ("weights."),
                                                       entry->rank, entry->shape, data, &error));
      g_assert_no_error (error);
    }
  g_assert_true (graft_safetensors_writer_save (writer, path, &error));
  g_assert_no_error (error);
  return path;
}

static double
compare_values (GraftSafetensors *ref,
                const char       *name,
                const float      *got,
                gsize             n_got,
                double            floor,
                const char       *where)
{
  g_autofree char *noise_name = g_strconcat ("noise.", name, NULL);
  g_autofree float *noise = read_all (ref, noise_name, NULL);
  gsize n = 0;
  g_autofree float *want = read_all (ref, name, &n);
  double diff = 0.0, norm = 0.0, err, tolerance;

  g_assert_cmpuint (n_got, ==, n);
  for (gsize i = 0; i < n; i++)
    {
      double d = (double) got[i] - (double) want[i];

      diff += d * d;
      norm += (double) want[i] * (double) want[i];
    }
  err = sqrt (diff) / MAX (MAX (sqrt (norm), floor), 1e-30);
  if (g_str_has_prefix (name, "grad."))
    tolerance = GRAD_TOLERANCE;
  else if (g_str_has_prefix (name, "steps."))
    tolerance = MAX (STEPS_TOLERANCE, FACTOR * noise[0]);
  else
    tolerance = MAX (BASE, FACTOR * noise[0]);
  if (g_getenv ("GRAFT_TEST_VERBOSE_GRADS") != NULL)
    g_test_message ("%s %.3g (tolerance %.3g)", name, err, tolerance);
  if (!(err <= tolerance))
    g_test_fail_printf ("%s: %s differs from PyTorch by %.3g (tolerance %.3g: PyTorch's own "
                        "float32 error is %.3g)", where, name, err, tolerance, noise[0]);
  return err;
}

static double
compare (GraftSafetensors *ref,
         const char       *name,
         GraftTensor      *tensor,
         double            floor,
         const char       *where)
{
  g_autoptr(GError) error = NULL;
  gsize n = graft_tensor_get_n_elements (tensor);
  g_autofree float *got = g_new (float, n);

  g_assert_true (graft_tensor_download (tensor, got, n, &error));
  g_assert_no_error (error);
  return compare_values (ref, name, got, n, floor, where);
}

/* Continues from the first training pass's gradients: STEPS optimizer steps on the same
 * batch, as gen_models.py takes them. */
static void
train_steps (GraftModel       *model,
             GraftSafetensors *ref,
             GraftTensor      *target,
             const char       *arch,
             const char       *where)
{
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree float *head_before = NULL;
  g_autofree char *head_key = NULL;
  const GraftParamInfo *head = NULL;
  float losses[STEPS], changes[STEPS - 1];
  double err;

  /* the classifier's weight: the model's last 2-D parameter */
  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    if (graft_tensor_get_rank (graft_model_get_param (model, i)->value) == 2)
      head = graft_model_get_param (model, i);
  head_before = g_new (float, graft_tensor_get_n_elements (head->value));
  g_assert_true (graft_tensor_download (head->value, head_before,
                                        graft_tensor_get_n_elements (head->value), &error));

  if (g_str_equal (arch, "vit_tiny"))
    {
      GraftAdamWParams adamw;

      graft_adamw_params_init (&adamw, 1e-3f);
      optimizer = graft_optimizer_new_adamw (model, &adamw);
    }
  else
    {
      GraftSgdParams sgd;

      graft_sgd_params_init (&sgd, 1e-3f);
      sgd.momentum = 0.9f;
      sgd.weight_decay = 1e-4f;
      optimizer = graft_optimizer_new_sgd (model, &sgd);
    }

  g_assert_true (graft_tensor_download (graft_model_get_loss (model), &losses[0], 1, &error));
  g_assert_true (graft_optimizer_step (optimizer, &error));
  g_assert_no_error (error);
  for (guint i = 1; i < STEPS; i++)
    {
      g_assert_true (graft_model_forward (model, TRUE, 1 + i, &error));
      g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
      g_assert_true (graft_tensor_download (graft_model_get_loss (model), &losses[i], 1, &error));
      g_assert_true (graft_optimizer_step (optimizer, &error));
      g_assert_no_error (error);
    }
  for (guint i = 1; i < STEPS; i++)
    changes[i - 1] = losses[i] - losses[0];
  err = compare_values (ref, "steps.loss_change", changes, STEPS - 1, 0.0, where);
  g_test_message ("%s: losses over %d steps %.4f %.4f %.4f, change error %.3g", where, STEPS,
                  losses[0], losses[1], losses[2], err);

  head_key = g_strconcat ("steps.update.", head->name, NULL);
  {
    gsize n = graft_tensor_get_n_elements (head->value);
    g_autofree float *update = g_new (float, n);

    g_assert_true (graft_tensor_download (head->value, update, n, &error));
    for (gsize i = 0; i < n; i++)
      update[i] -= head_before[i];
    compare_values (ref, head_key, update, n, 0.0, where);
  }
}

static void
test_model (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *size = g_strdup_printf ("%d", IMAGE);
  g_autofree char *batch = g_strdup_printf ("%d", BATCH);
  g_autofree char *steps = g_strdup_printf ("%d", STEPS);
  const char *args[] = { c->arch, size, batch, steps, NULL };
  g_autoptr(GraftSafetensors) ref = NULL;
  g_autoptr(GPtrArray) backends = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *why = NULL;
  g_autofree char *dir = NULL;
  g_autofree char *weights = NULL;

  ref = graft_reference_generate_args ("gen_models.py", args, &why);
  if (ref == NULL)
    {
      graft_reference_unavailable (why);
      return;
    }
  dir = g_dir_make_tmp ("graft-models-XXXXXX", &error);
  g_assert_no_error (error);
  weights = write_weights (ref, dir);
  backends = graft_reference_backends ();

  for (guint b = 0; b < backends->len; b++)
    {
      GraftBackend *backend = g_ptr_array_index (backends, b);
      g_autofree char *where = g_strdup_printf ("%s on %s", c->arch, graft_backend_get_info (backend)->name);
      g_autoptr(GraftModel) model = NULL;
      g_autoptr(GraftTensor) target = NULL;
      g_autofree float *input = NULL;
      g_autofree float *labels = NULL;
      GraftZooOptions options;
      g_autofree float *floor_value = read_all (ref, "grad_floor", NULL);
      double grad_floor = floor_value[0];
      double worst_grad = 0.0;
      guint tight = 0, n_grads = 0;
      const char *worst_name = "";
      gsize n;

      graft_zoo_options_init (&options);
      options.n_classes = CLASSES;
      options.image_size = IMAGE;
      model = graft_zoo_build (backend, c->arch, &options, &error);
      g_assert_no_error (error);
      g_assert_true (graft_model_load_weights_file (model, weights, &error));
      g_assert_no_error (error);
      g_assert_true (graft_model_prepare (model, BATCH, IMAGE, IMAGE, &error));
      g_assert_no_error (error);

      input = read_all (ref, "input", &n);
      g_assert_true (graft_tensor_upload (graft_model_get_input (model), input, n, &error));
      g_assert_no_error (error);

      g_assert_true (graft_model_forward (model, FALSE, 0, &error));
      g_assert_no_error (error);
      g_test_message ("%s: eval output error %.3g", where,
                      compare (ref, "eval.output", graft_model_get_output (model), 0.0, where));

      graft_model_set_dropout_enabled (model, FALSE);
      g_assert_true (graft_model_forward (model, TRUE, 1, &error));
      g_assert_no_error (error);
      g_test_message ("%s: train output error %.3g", where,
                      compare (ref, "train.output", graft_model_get_output (model), 0.0, where));

      labels = read_all (ref, "target", &n);
      target = graft_tensor_new (backend, 1, &n, &error);
      g_assert_no_error (error);
      g_assert_true (graft_tensor_upload (target, labels, n, &error));
      g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
      g_assert_no_error (error);
      compare (ref, "train.loss", graft_model_get_loss (model), 0.0, where);

      for (guint i = 0; i < graft_model_get_n_params (model); i++)
        {
          const GraftParamInfo *param = graft_model_get_param (model, i);
          g_autofree char *key = g_strconcat (param->is_buffer ? "after." : "grad.", param->name, NULL);
          double err;

          if (param->is_buffer)
            {
              compare (ref, key, param->value, 0.0, where);
              continue;
            }
          err = compare (ref, key, param->grad, grad_floor, where);
          n_grads++;
          tight += err <= BASE;
          if (err > worst_grad)
            {
              worst_grad = err;
              worst_name = param->name;
            }
        }
      g_test_message ("%s: %u of %u gradients within %g, worst %.3g (%s)", where, tight, n_grads,
                      BASE, worst_grad, worst_name);
      train_steps (model, ref, target, c->arch, where);
    }

  g_unlink (weights);
  g_rmdir (dir);
}

int
main (int    argc,
      char **argv)
{
  static const Case cases[] = {
    { "resnet18" },
    { "resnet34" },
    { "resnet50" },
    { "mobilenet_v2" },
    { "mobilenet_v3_small" },
    { "mobilenet_v3_large" },
    { "efficientnet_b0" },
    { "vit_tiny" },
  };
  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/reference/models/%s", cases[i].arch);

      g_test_add_data_func (path, &cases[i], test_model);
    }
  return g_test_run ();
}
