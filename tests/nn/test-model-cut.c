/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* What the trainer's feature cache and exact resume rest on, with a small ResNet-10
 * (28×28 grey images, 5 classes, batches of 4):
 *  - cuts: the ends of "stem" and "layer1" … "layer4" are layers whose output is all the
 *    rest of the network sees; a layer inside a residual block is not, nor is a block a
 *    connection skips over;
 *  - frozen batch norms (graft_model_set_freeze_norm): a training pass leaves their
 *    running statistics alone and computes, up to the cut, what an evaluation pass does,
 *    and its gradients are those of the evaluation formula, even when the flag changes
 *    between forward and backward; without it the statistics move;
 *  - training from cached features (graft_model_set_start_layer) gives bit for bit the
 *    losses and weights of training from the images, on every backend, through
 *    graft_model_train_step (recorded and replayed on Vulkan); a trainable layer before
 *    the cut is refused, naming its parameter;
 *  - optimizer state (SGD with Nesterov momentum, AdamW) saved after 3 steps with the
 *    model's state, through a file, and loaded into a fresh model and optimizer: 2 more
 *    steps give bit for bit the weights of 5 uninterrupted steps (and a fresh optimizer
 *    does not); a missing, misshapen or foreign entry is an error naming it that changes
 *    nothing. */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-test-util.h"

#define SIDE    28
#define CLASSES 5
#define BATCH   4

typedef struct {
  GraftBackend *cpu;
  GPtrArray    *backends;   /* the CPU and, where there is one, a Vulkan device */
  char         *dir;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean have_vulkan;

  f->cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  f->backends = graft_test_backends (&have_vulkan);
  if (!have_vulkan && graft_test_require_vulkan ())
    g_error ("no Vulkan device (GRAFT_TEST_REQUIRE_VULKAN=1)");
  f->dir = g_dir_make_tmp ("graft-model-cut-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   G_GNUC_UNUSED gconstpointer data)
{
  graft_test_remove_tree (f->dir);
  g_free (f->dir);
  g_ptr_array_unref (f->backends);
  graft_backend_unref (f->cpu);
}

static const char *
backend_name (GraftBackend *backend)
{
  return graft_backend_get_info (backend)->name;
}

static GraftModel *
build (GraftBackend *backend,
       guint64       seed)
{
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  GraftModel *model;

  graft_zoo_options_init (&options);
  options.n_classes = CLASSES;
  options.in_channels = 1;
  options.image_size = SIDE;
  options.seed = seed;
  model = graft_zoo_build (backend, "resnet10", &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  g_assert_true (graft_model_prepare (model, BATCH, SIDE, SIDE, &error));
  g_assert_no_error (error);
  return model;
}

/* Only the head learns. */
static void
freeze_all_but_head (GraftModel *model)
{
  g_autoptr(GError) error = NULL;

  graft_model_set_all_trainable (model, FALSE);
  g_assert_true (graft_model_set_trainable (model, "head", TRUE, &error));
  g_assert_no_error (error);
}

/* Batch @index of a fixed sequence: images N(0, 1)-ish, labels 0 … CLASSES - 1. */
static void
make_batch (guint  index,
            float *images,
            float *labels)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (100 + index);

  for (guint i = 0; i < BATCH * SIDE * SIDE; i++)
    images[i] = (float) g_rand_double_range (rand, -1.7, 1.7);
  for (guint i = 0; i < BATCH; i++)
    labels[i] = (float) g_rand_int_range (rand, 0, CLASSES);
}

static void
upload (GraftTensor *t,
        const float *data)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_tensor_upload (t, data, graft_tensor_get_n_elements (t), &error));
  g_assert_no_error (error);
}

static gboolean
same_tensor (GraftTensor *a,
             GraftTensor *b)
{
  g_autofree float *x = graft_test_download (a);
  g_autofree float *y = graft_test_download (b);

  return graft_tensor_get_n_elements (a) == graft_tensor_get_n_elements (b) &&
         memcmp (x, y, graft_tensor_get_n_elements (a) * sizeof (float)) == 0;
}

/* Every parameter and buffer of @model, downloaded. */
static GPtrArray *
snapshot (GraftModel *model)
{
  GPtrArray *values = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    g_ptr_array_add (values, graft_test_download (graft_model_get_param (model, i)->value));
  return values;
}

/* The name of the first parameter or buffer that differs between two snapshots of
 * @model (buffers only when @buffers, learned parameters only otherwise), or NULL. */
static const char *
first_difference (GraftModel *model,
                  GPtrArray  *a,
                  GPtrArray  *b,
                  gboolean    buffers)
{
  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);

      if (info->is_buffer == buffers &&
          memcmp (g_ptr_array_index (a, i), g_ptr_array_index (b, i),
                  graft_tensor_get_n_elements (info->value) * sizeof (float)) != 0)
        return info->name;
    }
  return NULL;
}

static int
layer_named (GraftModel *model,
             const char *name)
{
  for (guint i = 0; i < graft_model_get_n_layers (model); i++)
    {
      GraftLayerInfo info;

      g_assert_true (graft_model_get_layer_info (model, i, &info));
      if (g_strcmp0 (info.name, name) == 0)
        return i;
    }
  g_error ("no layer %s", name);
}

/* ---- cuts ----------------------------------------------------------------------------- */

static void
test_cuts (Fixture       *f,
           G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f->cpu, 1);
  g_autoptr(GraftModel) skip = NULL;
  g_autoptr(GError) error = NULL;
  static const char *const blocks[] = { "stem", "layer1", "layer2", "layer3", "layer4" };
  GraftLayerInfo info;
  int cut[G_N_ELEMENTS (blocks)], head, x, a, b;
  guint n_norms = 0;

  for (guint i = 0; i < G_N_ELEMENTS (blocks); i++)
    {
      cut[i] = graft_model_get_block_output (model, blocks[i]);
      g_assert_cmpint (cut[i], >, i == 0 ? 0 : cut[i - 1]);
      g_assert_true (graft_model_get_layer_info (model, cut[i], &info));
      g_assert_cmpstr (info.block, ==, blocks[i]);
      /* the next layer belongs to the next block and reads the cut */
      g_assert_true (graft_model_get_layer_info (model, cut[i] + 1, &info));
      g_assert_cmpstr (info.block, !=, blocks[i]);
      g_assert_cmpint (info.input, ==, cut[i]);
    }
  /* layer4's output: [4, 512, 1, 1] at 28×28 */
  g_assert_cmpuint (graft_tensor_get_dim (graft_model_get_layer_output (model, cut[4]), 1), ==, 512);
  g_assert_cmpint (graft_model_get_block_output (model, "layer5"), ==, -1);
  g_assert_cmpint (graft_model_get_block_output (model, ""), ==, -1);

  /* the layers as the builder added them */
  g_assert_cmpuint (graft_model_get_n_layers (model), >, (guint) cut[4] + 2);
  g_assert_true (graft_model_get_layer_info (model, 0, &info));
  g_assert_cmpint (info.input, ==, -1);
  g_assert_null (info.name);
  g_assert_true (graft_model_get_layer_output (model, 0) == graft_model_get_input (model));
  g_assert_false (graft_model_get_layer_info (model, -1, &info));
  g_assert_false (graft_model_get_layer_info (model, graft_model_get_n_layers (model), &info));
  g_assert_null (graft_model_get_layer_output (model, graft_model_get_n_layers (model)));
  for (guint i = 1; i < graft_model_get_n_layers (model); i++)
    {
      g_autofree char *mean = NULL;

      g_assert_true (graft_model_get_layer_info (model, i, &info));
      g_assert_cmpint (info.input, >=, 0);
      g_assert_cmpint (info.input, <, (int) i);
      if (!info.is_batch_norm)
        continue;
      /* what the domain-shift measure reads */
      mean = g_strconcat (info.name, ".running_mean", NULL);
      g_assert_nonnull (graft_model_find_param (model, mean));
      g_assert_cmpuint (graft_tensor_get_dim (graft_model_get_layer_output (model, info.input), 1), ==,
                        graft_tensor_get_n_elements (graft_model_find_param (model, mean)->value));
      n_norms++;
    }
  g_assert_cmpuint (n_norms, ==, 1 + 4 * 2 + 3);   /* stem, two per block, 3 downsamples */

  /* inside a residual block the block's input is still read by the addition */
  freeze_all_but_head (model);
  x = layer_named (model, "layer3.0.bn1");
  g_assert_false (graft_model_set_start_layer (model, x, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_assert_nonnull (strstr (error->message, "layer3.0.bn1"));
  g_clear_error (&error);
  g_assert_false (graft_model_set_start_layer (model, -1, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_clear_error (&error);
  g_assert_true (graft_model_set_start_layer (model, cut[2], &error));
  g_assert_no_error (error);
  g_assert_true (graft_model_set_start_layer (model, 0, &error));
  g_assert_no_error (error);

  /* a block that a connection skips over is no cut: "a" -> "b" -> a + b */
  skip = graft_model_new (f->cpu, "skip", 1, 1);
  graft_model_begin_block (skip, "a");
  a = graft_model_add_conv2d (skip, "a", 0, 4, 3, 1, 1, 1, 1, TRUE);
  graft_model_begin_block (skip, "b");
  b = graft_model_add_conv2d (skip, "b", a, 4, 3, 1, 1, 1, 1, TRUE);
  graft_model_begin_block (skip, "head");
  x = graft_model_add_add (skip, a, b);
  x = graft_model_add_patch_tokens (skip, x);
  x = graft_model_add_first_token (skip, x);
  head = graft_model_add_linear (skip, "fc", x, 3, TRUE);
  g_assert_true (graft_model_finish (skip, head, &error));
  g_assert_no_error (error);
  g_assert_cmpint (graft_model_get_block_output (skip, "a"), ==, a);
  g_assert_cmpint (graft_model_get_block_output (skip, "b"), ==, -1);
  g_assert_cmpint (graft_model_get_block_output (skip, "head"), ==, head);
  graft_model_set_all_trainable (skip, FALSE);
  g_assert_false (graft_model_set_start_layer (skip, b, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_clear_error (&error);
}

/* ---- frozen batch norms --------------------------------------------------------------- */

static void
forward_backward (GraftModel  *model,
                  GraftTensor *target,
                  gboolean     training,
                  guint64      seed)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_model_forward (model, training, seed, &error));
  g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
  g_assert_no_error (error);
}

/* The trainable parameters' gradients, concatenated. */
static GByteArray *
gradients (GraftModel *model)
{
  GByteArray *all = g_byte_array_new ();

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);
      g_autofree float *grad = NULL;

      if (!info->trainable)
        continue;
      grad = graft_test_download (info->grad);
      g_byte_array_append (all, (const guint8 *) grad,
                           graft_tensor_get_n_elements (info->grad) * sizeof (float));
    }
  return all;
}

static gboolean
same_bytes (GByteArray *a,
            GByteArray *b)
{
  return a->len == b->len && memcmp (a->data, b->data, a->len) == 0;
}

static void
test_freeze_norm (Fixture       *f,
                  G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f->cpu, 2);
  g_autoptr(GraftTensor) target = graft_test_tensor (f->cpu, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GPtrArray) before = NULL;
  g_autoptr(GPtrArray) after = NULL;
  g_autoptr(GError) error = NULL;
  float images[BATCH * SIDE * SIDE], labels[BATCH];
  int cut = graft_model_get_block_output (model, "layer4");
  GraftTensor *features = graft_model_get_layer_output (model, cut);
  g_autofree float *eval = NULL;

  g_assert_cmpint (cut, >, 0);
  freeze_all_but_head (model);
  graft_model_set_freeze_norm (model, TRUE);
  before = snapshot (model);

  /* two training passes, on different batches, then the first again */
  for (guint b = 0; b < 3; b++)
    {
      make_batch (b % 2, images, labels);
      upload (graft_model_get_input (model), images);
      upload (target, labels);
      if (b == 0)
        {
          g_assert_true (graft_model_forward_to (model, cut, &error));
          g_assert_no_error (error);
          eval = graft_test_download (features);
          /* forward_to leaves nothing to go back through */
          g_assert_false (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
          g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
          g_clear_error (&error);
        }
      forward_backward (model, target, TRUE, b);
      if (b != 1)
        {
          g_autofree float *train = graft_test_download (features);

          /* the frozen part computes what an evaluation pass computes, to the bit: the
           * same kernel with the same running statistics */
          g_assert_cmpmem (train, graft_tensor_get_n_elements (features) * sizeof (float),
                           eval, graft_tensor_get_n_elements (features) * sizeof (float));
        }
    }
  after = snapshot (model);
  g_assert_null (first_difference (model, before, after, TRUE));

  /* PyTorch's model.train(): batch statistics, and the running ones move */
  graft_model_set_freeze_norm (model, FALSE);
  make_batch (0, images, labels);
  upload (graft_model_get_input (model), images);
  forward_backward (model, target, TRUE, 0);
  {
    g_autoptr(GPtrArray) moved = snapshot (model);
    g_autofree float *train = graft_test_download (features);

    g_assert_cmpstr (first_difference (model, before, moved, TRUE), ==, "bn1.running_mean");
    g_assert_true (memcmp (train, eval, graft_tensor_get_n_elements (features) * sizeof (float)) != 0);
  }
}

/* Every convolution learns, no batch norm does: with frozen norms a training pass is an
 * evaluation pass (ResNet-10 has no dropout), so its gradients must be the evaluation
 * formula's, bit for bit, also when the flag changes between forward and backward. */
static void
test_freeze_norm_backward (Fixture       *f,
                           G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f->cpu, 3);
  g_autoptr(GraftTensor) target = graft_test_tensor (f->cpu, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GByteArray) eval = NULL;
  g_autoptr(GByteArray) frozen = NULL;
  g_autoptr(GByteArray) switched = NULL;
  g_autoptr(GByteArray) batch = NULL;
  g_autoptr(GError) error = NULL;
  float images[BATCH * SIDE * SIDE], labels[BATCH];

  make_batch (0, images, labels);
  upload (graft_model_get_input (model), images);
  upload (target, labels);
  for (guint i = 0; i < graft_model_get_n_layers (model); i++)
    {
      GraftLayerInfo info;

      g_assert_true (graft_model_get_layer_info (model, i, &info));
      if (info.is_batch_norm)
        g_assert_true (graft_model_set_trainable (model, info.name, FALSE, &error));
      g_assert_no_error (error);
    }

  forward_backward (model, target, FALSE, 0);
  eval = gradients (model);
  graft_model_set_freeze_norm (model, TRUE);
  forward_backward (model, target, TRUE, 0);
  frozen = gradients (model);
  g_assert_true (same_bytes (eval, frozen));

  /* the backward follows the forward pass, not the flag as it is by then */
  g_assert_true (graft_model_forward (model, TRUE, 0, &error));
  graft_model_set_freeze_norm (model, FALSE);
  g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
  g_assert_no_error (error);
  switched = gradients (model);
  g_assert_true (same_bytes (eval, switched));

  /* and without frozen norms the gradients are those of batch statistics */
  forward_backward (model, target, TRUE, 0);
  batch = gradients (model);
  g_assert_false (same_bytes (eval, batch));
}

/* ---- training from cached features ---------------------------------------------------- */

static void
cache_equivalence (GraftBackend *backend)
{
  g_autoptr(GraftModel) a = build (backend, 4);
  g_autoptr(GraftModel) b = build (backend, 4);
  g_autoptr(GraftTensor) target_a = graft_test_tensor (backend, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GraftTensor) target_b = graft_test_tensor (backend, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GraftOptimizer) opt_a = NULL;
  g_autoptr(GraftOptimizer) opt_b = NULL;
  g_autoptr(GPtrArray) cache = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) after_a = NULL;
  g_autoptr(GPtrArray) after_b = NULL;
  g_autoptr(GPtrArray) start = NULL;
  g_autoptr(GError) error = NULL;
  float images[BATCH * SIDE * SIDE], labels[BATCH];
  int cut = graft_model_get_block_output (b, "layer4");
  GraftSgdParams sgd;
  const guint steps = 4;

  freeze_all_but_head (a);
  freeze_all_but_head (b);
  graft_model_set_freeze_norm (a, TRUE);
  graft_model_set_freeze_norm (b, TRUE);
  start = snapshot (a);

  /* the features of each batch, from an evaluation pass up to the cut */
  for (guint s = 0; s < steps; s++)
    {
      make_batch (s, images, labels);
      upload (graft_model_get_input (b), images);
      g_assert_true (graft_model_forward_to (b, cut, &error));
      g_assert_no_error (error);
      g_ptr_array_add (cache, graft_test_download (graft_model_get_layer_output (b, cut)));
    }
  g_assert_true (graft_model_set_start_layer (b, cut, &error));
  g_assert_no_error (error);
  /* the layers before the cut must not run: they would turn this into NaN */
  {
    g_autofree float *nan = g_new (float, BATCH * SIDE * SIDE);

    for (guint i = 0; i < BATCH * SIDE * SIDE; i++)
      nan[i] = NAN;
    upload (graft_model_get_input (b), nan);
  }

  graft_sgd_params_init (&sgd, 0.1f);
  sgd.momentum = 0.9f;
  opt_a = graft_optimizer_new_sgd (a, &sgd);
  opt_b = graft_optimizer_new_sgd (b, &sgd);
  for (guint s = 0; s < steps; s++)
    {
      float loss_a, loss_b;

      make_batch (s, images, labels);
      upload (graft_model_get_input (a), images);
      upload (target_a, labels);
      upload (target_b, labels);
      upload (graft_model_get_layer_output (b, cut), g_ptr_array_index (cache, s));
      g_assert_true (graft_model_train_step (a, opt_a, target_a, NULL, 0.0f, s, &error));
      g_assert_no_error (error);
      g_assert_true (graft_model_train_step (b, opt_b, target_b, NULL, 0.0f, s, &error));
      g_assert_no_error (error);
      g_assert_true (graft_tensor_download (graft_model_get_loss (a), &loss_a, 1, &error));
      g_assert_true (graft_tensor_download (graft_model_get_loss (b), &loss_b, 1, &error));
      g_assert_no_error (error);
      g_test_message ("%s step %u: loss %.7g from images, %.7g from features",
                      backend_name (backend), s, loss_a, loss_b);
      g_assert_true (isfinite (loss_b));
      /* The same ops on the same values in the same order (the prefix's batch norms use
       * their running statistics in both, through the same kernel; the head is the same
       * graph), so the results are bit-identical, not merely close. */
      g_assert_cmpmem (&loss_a, sizeof loss_a, &loss_b, sizeof loss_b);
    }
  after_a = snapshot (a);
  after_b = snapshot (b);
  g_assert_null (first_difference (a, after_a, after_b, FALSE));
  g_assert_null (first_difference (a, after_a, after_b, TRUE));
  /* and it learned: the head moved, nothing else did */
  g_assert_cmpstr (first_difference (a, start, after_a, FALSE), ==, "fc.weight");
  g_assert_null (first_difference (a, start, after_a, TRUE));

  /* back to the images: the model runs whole again */
  g_assert_true (graft_model_set_start_layer (b, 0, &error));
  g_assert_no_error (error);
  upload (graft_model_get_input (b), images);
  g_assert_true (graft_model_forward (a, FALSE, 0, &error));
  g_assert_true (graft_model_forward (b, FALSE, 0, &error));
  g_assert_no_error (error);
  g_assert_true (same_tensor (graft_model_get_output (a), graft_model_get_output (b)));
}

static void
test_cache_equivalence (Fixture       *f,
                        G_GNUC_UNUSED gconstpointer data)
{
  for (guint i = 0; i < f->backends->len; i++)
    cache_equivalence (g_ptr_array_index (f->backends, i));
}

static void
test_start_layer_refused (Fixture       *f,
                          G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f->cpu, 5);
  g_autoptr(GError) error = NULL;
  int cut = graft_model_get_block_output (model, "layer4");
  float images[BATCH * SIDE * SIDE], labels[BATCH];

  make_batch (0, images, labels);
  upload (graft_model_get_input (model), images);

  /* everything learns: the first parameter is named */
  g_assert_false (graft_model_set_start_layer (model, cut, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_assert_nonnull (strstr (error->message, "conv1.weight"));
  g_clear_error (&error);

  freeze_all_but_head (model);
  g_assert_true (graft_model_set_trainable (model, "layer4.0.bn2", TRUE, &error));
  g_assert_false (graft_model_set_start_layer (model, cut, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_assert_nonnull (strstr (error->message, "layer4.0.bn2.weight"));
  g_clear_error (&error);
  /* a cut before it is fine */
  g_assert_true (graft_model_set_start_layer (model, graft_model_get_block_output (model, "layer3"),
                                              &error));
  g_assert_no_error (error);

  g_assert_true (graft_model_set_trainable (model, "layer4", FALSE, &error));
  g_assert_true (graft_model_set_start_layer (model, cut, &error));
  g_assert_true (graft_model_forward (model, TRUE, 0, &error));
  g_assert_no_error (error);

  /* unfrozen afterwards: the caller's mistake, caught by the next pass */
  g_assert_true (graft_model_set_trainable (model, "layer3", TRUE, &error));
  g_assert_false (graft_model_forward (model, TRUE, 0, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_assert_nonnull (strstr (error->message, "layer3.0.conv1.weight"));
  g_clear_error (&error);
  g_assert_true (graft_model_set_start_layer (model, 0, &error));
  g_assert_true (graft_model_forward (model, TRUE, 0, &error));
  g_assert_no_error (error);
}

/* ---- optimizer state ------------------------------------------------------------------ */

typedef enum { SGD_NESTEROV, ADAMW } OptKind;

static GraftOptimizer *
new_optimizer (GraftModel *model,
               OptKind     kind)
{
  if (kind == SGD_NESTEROV)
    {
      GraftSgdParams sgd;

      graft_sgd_params_init (&sgd, 0.05f);
      sgd.momentum = 0.9f;
      sgd.nesterov = TRUE;
      sgd.weight_decay = 1e-4f;
      return graft_optimizer_new_sgd (model, &sgd);
    }
  else
    {
      GraftAdamWParams adamw;

      graft_adamw_params_init (&adamw, 1e-3f);
      return graft_optimizer_new_adamw (model, &adamw);
    }
}

/* The stem stays frozen (parameters without optimizer state); batch norms train and
 * their running statistics move (model state). */
static GraftModel *
resume_model (GraftBackend *backend,
              guint64       seed)
{
  GraftModel *model = build (backend, seed);
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_model_set_trainable (model, "stem", FALSE, &error));
  g_assert_no_error (error);
  return model;
}

static void
train (GraftModel     *model,
       GraftOptimizer *opt,
       GraftTensor    *target,
       guint           from,
       guint           to)
{
  g_autoptr(GError) error = NULL;
  float images[BATCH * SIDE * SIDE], labels[BATCH];

  for (guint s = from; s < to; s++)
    {
      make_batch (s, images, labels);
      upload (graft_model_get_input (model), images);
      upload (target, labels);
      g_assert_true (graft_model_train_step (model, opt, target, NULL, 0.0f, s, &error));
      g_assert_no_error (error);
    }
}

static void
resume (Fixture      *f,
        GraftBackend *backend,
        OptKind       kind)
{
  g_autoptr(GraftTensor) target = graft_test_tensor (backend, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GraftModel) whole = resume_model (backend, 6);
  g_autoptr(GraftOptimizer) whole_opt = new_optimizer (whole, kind);
  g_autoptr(GPtrArray) want = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "checkpoint.safetensors", NULL);
  const char *kind_name = kind == SGD_NESTEROV ? "sgd" : "adamw";

  train (whole, whole_opt, target, 0, 5);
  want = snapshot (whole);
  g_assert_cmpuint (graft_optimizer_get_step (whole_opt), ==, 5);

  /* 3 steps, then the model's and the optimizer's state in one file */
  {
    g_autoptr(GraftModel) model = resume_model (backend, 6);
    g_autoptr(GraftOptimizer) opt = new_optimizer (model, kind);
    g_autoptr(GraftWeights) state = NULL;

    train (model, opt, target, 0, 3);
    state = graft_model_get_state (model, &error);
    g_assert_no_error (error);
    g_assert_true (graft_optimizer_save_state (opt, state, &error));
    g_assert_no_error (error);
    g_assert_cmpstr (graft_weights_get_metadata (state, "optimizer/kind"), ==, kind_name);
    g_assert_cmpstr (graft_weights_get_metadata (state, "optimizer/step"), ==, "3");
    g_assert_cmpstr (graft_weights_get_metadata (state, "optimizer/fc.weight/step"), ==, "3");
    g_assert_null (graft_weights_get_metadata (state, "optimizer/conv1.weight/step"));
    g_assert_nonnull (graft_weights_lookup (state, kind == SGD_NESTEROV
                                                   ? "optimizer/layer1.0.conv1.weight/momentum"
                                                   : "optimizer/layer1.0.conv1.weight/exp_avg_sq"));
    g_assert_null (graft_weights_lookup (state, "optimizer/conv1.weight/momentum"));
    g_assert_true (graft_weights_save (state, path, FALSE, &error));
    g_assert_no_error (error);
  }

  /* a fresh model (other random weights) and optimizer take it up for 2 more steps */
  {
    g_autoptr(GraftModel) model = resume_model (backend, 7);
    g_autoptr(GraftOptimizer) opt = new_optimizer (model, kind);
    g_autoptr(GraftWeights) state = graft_weights_read_file (path, &error);
    g_autoptr(GPtrArray) got = NULL;
    const char *differs;

    g_assert_no_error (error);
    g_assert_true (graft_model_load_state (model, state, &error));
    g_assert_no_error (error);
    g_assert_true (graft_optimizer_load_state (opt, state, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 3);
    train (model, opt, target, 3, 5);
    got = snapshot (model);
    differs = first_difference (model, want, got, FALSE);
    if (differs == NULL)
      differs = first_difference (model, want, got, TRUE);
    if (differs != NULL)
      g_error ("%s, %s: %s after resuming differs from 5 steps in one go", backend_name (backend),
               kind_name, differs);
    g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 5);
  }

  /* the optimizer's state matters: without it the same 2 steps end elsewhere */
  {
    g_autoptr(GraftModel) model = resume_model (backend, 7);
    g_autoptr(GraftOptimizer) opt = new_optimizer (model, kind);
    g_autoptr(GraftWeights) state = graft_weights_read_file (path, &error);
    g_autoptr(GPtrArray) got = NULL;

    g_assert_no_error (error);
    g_assert_true (graft_model_load_state (model, state, &error));
    g_assert_no_error (error);
    train (model, opt, target, 3, 5);
    got = snapshot (model);
    g_assert_nonnull (first_difference (model, want, got, FALSE));
  }
}

static void
test_optimizer_resume (Fixture       *f,
                       G_GNUC_UNUSED gconstpointer data)
{
  for (guint i = 0; i < f->backends->len; i++)
    {
      resume (f, g_ptr_array_index (f->backends, i), SGD_NESTEROV);
      resume (f, g_ptr_array_index (f->backends, i), ADAMW);
    }
}

/* Loading @state into a fresh optimizer of @kind fails with @code naming @entry, and
 * the optimizer's state stays as it was (none: a step from it is a first step). */
static void
expect_refused (GraftModel   *model,
                OptKind       kind,
                GraftWeights *state,
                int           code,
                const char   *entry)
{
  g_autoptr(GraftOptimizer) opt = new_optimizer (model, kind);
  g_autoptr(GraftWeights) empty = graft_weights_new ();
  g_autoptr(GError) error = NULL;

  g_assert_false (graft_optimizer_load_state (opt, state, &error));
  g_assert_error (error, GRAFT_IO_ERROR, code);
  if (strstr (error->message, entry) == NULL)
    g_error ("“%s” does not name %s", error->message, entry);
  g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 0);
  /* nothing was loaded: a save holds only the kind and step 0 */
  g_assert_true (graft_optimizer_save_state (opt, empty, NULL));
  g_assert_cmpuint (graft_weights_get_n (empty), ==, 0);
  g_assert_cmpstr (graft_weights_get_metadata (empty, "optimizer/step"), ==, "0");
}

static void
test_optimizer_state_errors (Fixture       *f,
                             G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = resume_model (f->cpu, 8);
  g_autoptr(GraftTensor) target = graft_test_tensor (f->cpu, 1, (const gsize[]) { BATCH }, NULL);
  g_autoptr(GraftOptimizer) opt = new_optimizer (model, SGD_NESTEROV);
  g_autoptr(GraftWeights) state = graft_weights_new ();
  g_autoptr(GError) error = NULL;
  GraftWeightsEntry *entry;

  train (model, opt, target, 0, 2);
  g_assert_true (graft_optimizer_save_state (opt, state, &error));
  g_assert_no_error (error);

  /* another kind of optimizer */
  expect_refused (model, ADAMW, state, GRAFT_IO_ERROR_CORRUPT, "optimizer/kind");

  /* a buffer of another shape */
  entry = graft_weights_lookup (state, "optimizer/fc.bias/momentum");
  g_assert_nonnull (entry);
  graft_weights_take (state, "optimizer/fc.bias/momentum", 1, (const gsize[]) { CLASSES + 1 },
                      g_new0 (float, CLASSES + 1));
  expect_refused (model, SGD_NESTEROV, state, GRAFT_IO_ERROR_SHAPE, "optimizer/fc.bias/momentum");

  /* a missing one */
  g_assert_true (graft_weights_remove (state, "optimizer/fc.bias/momentum"));
  expect_refused (model, SGD_NESTEROV, state, GRAFT_IO_ERROR_MISSING_KEY,
                  "optimizer/fc.bias/momentum");

  /* one for a parameter the model does not have */
  graft_weights_take (state, "optimizer/fc.bias/momentum", 1, (const gsize[]) { CLASSES },
                      g_new0 (float, CLASSES));
  graft_weights_take (state, "optimizer/fc2.bias/momentum", 1, (const gsize[]) { CLASSES },
                      g_new0 (float, CLASSES));
  expect_refused (model, SGD_NESTEROV, state, GRAFT_IO_ERROR_UNEXPECTED_KEY,
                  "optimizer/fc2.bias/momentum");
  g_assert_true (graft_weights_remove (state, "optimizer/fc2.bias/momentum"));

  /* a step that is not a number */
  graft_weights_set_metadata (state, "optimizer/fc.bias/step", "two");
  expect_refused (model, SGD_NESTEROV, state, GRAFT_IO_ERROR_CORRUPT, "optimizer/fc.bias/step");
  graft_weights_set_metadata (state, "optimizer/fc.bias/step", "2");

  /* repaired, it loads */
  {
    g_autoptr(GraftOptimizer) fresh = new_optimizer (model, SGD_NESTEROV);

    g_assert_true (graft_optimizer_load_state (fresh, state, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (graft_optimizer_get_step (fresh), ==, 2);
  }

  /* a state dict without optimizer state */
  {
    g_autoptr(GraftWeights) weights = graft_model_get_state (model, &error);

    g_assert_no_error (error);
    expect_refused (model, SGD_NESTEROV, weights, GRAFT_IO_ERROR_MISSING_KEY, "optimizer/kind");
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/model-cut/cuts", test_cuts);
  ADD ("/model-cut/freeze-norm", test_freeze_norm);
  ADD ("/model-cut/freeze-norm-backward", test_freeze_norm_backward);
  ADD ("/model-cut/cache-equivalence", test_cache_equivalence);
  ADD ("/model-cut/start-layer-refused", test_start_layer_refused);
  ADD ("/model-cut/optimizer-resume", test_optimizer_resume);
  ADD ("/model-cut/optimizer-state-errors", test_optimizer_state_errors);
#undef ADD

  return g_test_run ();
}
