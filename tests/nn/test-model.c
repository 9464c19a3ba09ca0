/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The model graph's API on the CPU backend, with zoo models and no PyTorch: parameter
 * counts and freezing, the blocks offered for freezing, saving and loading weights (and
 * refusing files that do not fit, without touching the model), calls out of order, the
 * backward pass stopping at the first trainable layer, and optimizer steps that move
 * only what may move. */

#include <float.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-test-util.h"

typedef struct {
  GraftBackend *cpu;
  char         *dir;   /* a temporary folder for weight files */
} Fixture;

static void
fixture_set_up (Fixture       *f,
                G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  f->dir = g_dir_make_tmp ("graft-model-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GDir) dir = g_dir_open (f->dir, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = g_build_filename (f->dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (f->dir);
  g_free (f->dir);
  graft_backend_unref (f->cpu);
}

static GraftModel *
build (Fixture    *f,
       const char *arch,
       guint       n_classes,
       guint64     seed)
{
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  GraftModel *model;

  graft_zoo_options_init (&options);
  options.n_classes = n_classes;
  options.seed = seed;
  model = graft_zoo_build (f->cpu, arch, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

/* Element count of the learned parameters whose names start with @prefix. */
static gsize
count_prefix (GraftModel *model,
              const char *prefix)
{
  gsize n = 0;

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);

      if (!info->is_buffer && g_str_has_prefix (info->name, prefix))
        n += graft_tensor_get_n_elements (info->value);
    }
  return n;
}

static void
assert_counts (GraftModel *model,
               gsize       want_trainable,
               gsize       want_frozen)
{
  gsize trainable = 0, frozen = 0;
  gsize total = graft_model_count_parameters (model, &trainable, &frozen);

  g_assert_cmpuint (trainable, ==, want_trainable);
  g_assert_cmpuint (frozen, ==, want_frozen);
  g_assert_cmpuint (total, ==, want_trainable + want_frozen);
}

/* ResNet-18 for ImageNet has torchvision's 11,689,512 parameters; freezing a block, one
 * layer by its path or everything moves exactly their parameters between trainable and
 * frozen; a name that matches nothing is refused by name. */
static void
test_parameter_counts (Fixture       *f,
                       G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f, "resnet18", 1000, 1);
  g_autoptr(GError) error = NULL;
  const gsize total = 11689512;
  /* two basic blocks of two 64 → 64 3×3 convolutions (36,864 weights each) and two batch
   * norms (64 weights, 64 biases each) */
  const gsize layer1 = 2 * (2 * 64 * 64 * 9 + 2 * 2 * 64);
  /* one batch norm of 512 channels: weight and bias */
  const gsize bn2 = 2 * 512;

  assert_counts (model, total, 0);
  g_assert_cmpuint (count_prefix (model, "layer1."), ==, layer1);

  g_assert_true (graft_model_set_trainable (model, "layer1", FALSE, &error));
  g_assert_no_error (error);
  assert_counts (model, total - layer1, layer1);
  g_assert_false (graft_model_find_param (model, "layer1.1.conv2.weight")->trainable);
  g_assert_true (graft_model_find_param (model, "layer2.0.conv1.weight")->trainable);

  g_assert_true (graft_model_set_trainable (model, "layer4.1.bn2", FALSE, &error));
  g_assert_no_error (error);
  assert_counts (model, total - layer1 - bn2, layer1 + bn2);
  g_assert_false (graft_model_find_param (model, "layer4.1.bn2.bias")->trainable);
  g_assert_true (graft_model_find_param (model, "layer4.1.conv2.weight")->trainable);
  g_assert_true (graft_model_find_param (model, "layer4.0.bn2.weight")->trainable);
  /* buffers are never trainable and never counted */
  g_assert_true (graft_model_find_param (model, "layer4.1.bn2.running_mean")->is_buffer);
  g_assert_false (graft_model_find_param (model, "layer4.1.bn2.running_mean")->trainable);

  /* unfreezing one layer again */
  g_assert_true (graft_model_set_trainable (model, "layer4.1.bn2", TRUE, &error));
  g_assert_no_error (error);
  assert_counts (model, total - layer1, layer1);

  graft_model_set_all_trainable (model, TRUE);
  assert_counts (model, total, 0);
  graft_model_set_all_trainable (model, FALSE);
  assert_counts (model, 0, total);
  g_assert_false (graft_model_find_param (model, "layer4.1.bn2.running_var")->trainable);
  graft_model_set_all_trainable (model, TRUE);

  /* a name that matches no block and no layer path, nor a layer's name cut short */
  g_assert_false (graft_model_set_trainable (model, "layer5", FALSE, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_assert_nonnull (strstr (error->message, "layer5"));
  g_clear_error (&error);
  g_assert_false (graft_model_set_trainable (model, "layer4.1.bn", FALSE, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_assert_nonnull (strstr (error->message, "layer4.1.bn"));
  g_clear_error (&error);
  assert_counts (model, total, 0);
}

static void
assert_blocks (const char *const *got,
               const char *const *want)
{
  guint n = g_strv_length ((char **) want);

  g_assert_cmpuint (g_strv_length ((char **) got), ==, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (got[i], ==, want[i]);
}

/* The blocks that the training page offers for freezing, in the order of the layers. */
static void
test_blocks (Fixture       *f,
             G_GNUC_UNUSED gconstpointer data)
{
  static const char *const resnet[] = {
    "stem", "layer1", "layer2", "layer3", "layer4", "head", NULL,
  };
  /* torchvision's mobilenet_v3_small: features.0 (the first convolution), eleven
   * inverted residual blocks and features.12 (the last convolution) */
  static const char *const mobilenet[] = {
    "features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
    "features.6", "features.7", "features.8", "features.9", "features.10", "features.11",
    "features.12", "head", NULL,
  };
  g_autoptr(GPtrArray) vit = g_ptr_array_new_with_free_func (g_free);

  {
    g_autoptr(GraftModel) model = build (f, "resnet18", 10, 1);

    assert_blocks (graft_model_get_blocks (model), resnet);
  }
  {
    g_autoptr(GraftModel) model = build (f, "mobilenet_v3_small", 10, 1);

    assert_blocks (graft_model_get_blocks (model), mobilenet);
  }
  {
    g_autoptr(GraftModel) model = build (f, "vit_tiny", 10, 1);

    g_ptr_array_add (vit, g_strdup ("stem"));
    for (guint i = 0; i < 12; i++)
      g_ptr_array_add (vit, g_strdup_printf ("encoder_layer_%u", i));
    g_ptr_array_add (vit, g_strdup ("encoder"));
    g_ptr_array_add (vit, g_strdup ("head"));
    g_ptr_array_add (vit, NULL);
    assert_blocks (graft_model_get_blocks (model), (const char *const *) vit->pdata);
  }
}

/* Every tensor of the state_dict (parameters and buffers), as downloaded. */
typedef struct {
  guint   n;
  float **values;
  gsize  *sizes;
} Snapshot;

static Snapshot *
snapshot_take (GraftModel *model)
{
  Snapshot *s = g_new0 (Snapshot, 1);

  s->n = graft_model_get_n_params (model);
  s->values = g_new0 (float *, s->n);
  s->sizes = g_new0 (gsize, s->n);
  for (guint i = 0; i < s->n; i++)
    {
      s->values[i] = graft_test_download (graft_model_get_param (model, i)->value);
      s->sizes[i] = graft_tensor_get_n_elements (graft_model_get_param (model, i)->value);
    }
  return s;
}

static void
snapshot_free (Snapshot *s)
{
  for (guint i = 0; i < s->n; i++)
    g_free (s->values[i]);
  g_free (s->values);
  g_free (s->sizes);
  g_free (s);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Snapshot, snapshot_free)

static gboolean
same_bits (const float *a,
           const float *b,
           gsize        n)
{
  return memcmp (a, b, n * sizeof (float)) == 0;
}

/* Whether tensor @i of @model holds exactly what @s holds for it. */
static gboolean
param_unchanged (GraftModel *model,
                 Snapshot   *s,
                 guint       i)
{
  g_autofree float *now = graft_test_download (graft_model_get_param (model, i)->value);

  return same_bits (now, s->values[i], s->sizes[i]);
}

static void
assert_model_equals (GraftModel *model,
                     Snapshot   *s)
{
  g_assert_cmpuint (graft_model_get_n_params (model), ==, s->n);
  for (guint i = 0; i < s->n; i++)
    if (!param_unchanged (model, s, i))
      g_error ("%s changed", graft_model_get_param (model, i)->name);
}

static void
fill_random_input (GraftModel *model,
                   guint       seed)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (seed);
  GraftTensor *input = graft_model_get_input (model);
  gsize n = graft_tensor_get_n_elements (input);
  g_autofree float *data = graft_test_random (rand, n);

  g_assert_true (graft_tensor_upload (input, data, n, &error));
  g_assert_no_error (error);
}

/* Writes every tensor of @model into @path, except @skip, with @reshape given another
 * shape, and with an extra tensor @extra. */
static void
write_weights (GraftModel *model,
               const char *path,
               const char *skip,
               const char *reshape,
               const char *extra)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);

      if (g_strcmp0 (info->name, skip) == 0)
        continue;
      if (g_strcmp0 (info->name, reshape) == 0)
        {
          /* a [C] tensor written as [C + 1] */
          gsize n = graft_tensor_get_n_elements (info->value) + 1;
          g_autofree float *data = g_new0 (float, n);

          g_assert_true (graft_safetensors_writer_add_f32 (writer, info->name, 1, &n, data, &error));
        }
      else
        g_assert_true (graft_safetensors_writer_add_tensor (writer, info->name, info->value, &error));
      g_assert_no_error (error);
    }
  if (extra != NULL)
    {
      float one = 1.0f;
      gsize shape = 1;

      g_assert_true (graft_safetensors_writer_add_f32 (writer, extra, 1, &shape, &one, &error));
      g_assert_no_error (error);
    }
  g_assert_true (graft_safetensors_writer_save (writer, path, &error));
  g_assert_no_error (error);
}

/* Loading @path into @model fails with @code, the message naming every string of
 * @names, and leaves every tensor of @model as it was. */
static void
assert_load_fails (GraftModel        *model,
                   const char        *path,
                   GQuark             domain,
                   int                code,
                   const char *const *names)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(Snapshot) before = snapshot_take (model);

  g_assert_false (graft_model_load_weights_file (model, path, &error));
  g_assert_error (error, domain, code);
  for (guint i = 0; names != NULL && names[i] != NULL; i++)
    if (strstr (error->message, names[i]) == NULL)
      g_error ("“%s” does not name %s", error->message, names[i]);
  g_test_message ("%s", error->message);
  assert_model_equals (model, before);
}

/* Weights saved from one model load into a fresh model of the same architecture bit for
 * bit, batch norm's running statistics included; a file that does not fit (a tensor
 * missing, one too many, one misshapen, cut short) is refused naming the tensor, and the
 * model keeps the weights it had. */
static void
test_weights (Fixture       *f,
              G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) source = build (f, "mobilenet_v3_small", 10, 1);
  g_autoptr(GraftModel) target = build (f, "mobilenet_v3_small", 10, 2);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (f->dir, "weights.safetensors", NULL);
  g_autofree char *bad = g_build_filename (f->dir, "bad.safetensors", NULL);
  g_autoptr(Snapshot) saved = NULL;
  g_autofree char *contents = NULL;
  gsize length;
  guint differ = 0;

  /* a training pass moves the running statistics away from 0 and 1 */
  g_assert_true (graft_model_prepare (source, 2, 32, 32, &error));
  g_assert_no_error (error);
  fill_random_input (source, 1);
  g_assert_true (graft_model_forward (source, TRUE, 1, &error));
  g_assert_no_error (error);

  g_assert_true (graft_model_save_weights (source, path, &error));
  g_assert_no_error (error);
  saved = snapshot_take (source);
  for (guint i = 0; i < saved->n; i++)
    if (!param_unchanged (target, saved, i))
      differ++;
  /* every weight and every running statistic; only the batch norms' weights (ones) and
   * biases (zeros) start equal */
  g_assert_cmpuint (differ, >, saved->n / 2);

  g_assert_true (graft_model_load_weights_file (target, path, &error));
  g_assert_no_error (error);
  assert_model_equals (target, saved);

  /* torchvision's num_batches_tracked counters are ignored */
  write_weights (source, bad, NULL, NULL, "features.0.1.num_batches_tracked");
  g_assert_true (graft_model_load_weights_file (target, bad, &error));
  g_assert_no_error (error);

  /* from here on each failing load must leave the fresh model's own weights */
  g_clear_pointer (&target, graft_model_unref);
  target = build (f, "mobilenet_v3_small", 10, 2);

  write_weights (source, bad, "features.4.block.2.fc1.weight", NULL, NULL);
  assert_load_fails (target, bad, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                     (const char *const[]) { "features.4.block.2.fc1.weight", NULL });

  write_weights (source, bad, NULL, NULL, "features.13.0.weight");
  assert_load_fails (target, bad, GRAFT_IO_ERROR, GRAFT_IO_ERROR_UNEXPECTED_KEY,
                     (const char *const[]) { "features.13.0.weight", NULL });

  /* classifier.3.bias is [10]; the file's is [11] */
  write_weights (source, bad, NULL, "classifier.3.bias", NULL);
  assert_load_fails (target, bad, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                     (const char *const[]) { "classifier.3.bias", "[11]", "[10]", NULL });

  /* cut short inside the data, and inside the header */
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (bad, contents, length / 2, &error));
  g_assert_no_error (error);
  assert_load_fails (target, bad, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT, NULL);
  g_assert_true (g_file_set_contents (bad, contents, 100, &error));
  g_assert_no_error (error);
  assert_load_fails (target, bad, GRAFT_IO_ERROR, GRAFT_IO_ERROR_CORRUPT, NULL);
}

/* Calls out of order are refused with GRAFT_MODEL_ERROR_STATE instead of computing on
 * tensors that hold nothing. */
static void
test_state_errors (Fixture       *f,
                   G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f, "resnet18", 10, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftOptimizer) opt = NULL;
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GraftTensor) grad = NULL;
  GraftSgdParams sgd;

  graft_sgd_params_init (&sgd, 0.1f);
  opt = graft_optimizer_new_sgd (model, &sgd);

  g_assert_false (graft_model_forward (model, FALSE, 0, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);

  g_assert_true (graft_model_prepare (model, 2, 32, 32, &error));
  g_assert_no_error (error);
  target = graft_test_tensor (f->cpu, 1, (const gsize[]) { 2 }, (const float[]) { 3, 7 });
  grad = graft_test_tensor (f->cpu, 2, (const gsize[]) { 2, 10 }, NULL);
  g_assert_true (graft_op_fill (grad, 0.5f, &error));

  g_assert_false (graft_model_backward (model, grad, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);
  g_assert_false (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);

  /* no backward has succeeded: there are no gradients to step with, not even after a
   * forward pass */
  g_assert_false (graft_optimizer_step (opt, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);
  fill_random_input (model, 1);
  g_assert_true (graft_model_forward (model, TRUE, 1, &error));
  g_assert_no_error (error);
  g_assert_false (graft_optimizer_step (opt, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);
  g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 0);

  /* and in order all of it works */
  g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
  g_assert_no_error (error);
  g_assert_true (graft_optimizer_step (opt, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 1);
}

/* The Vision Transformer's position embedding fixes its image size: other sizes are
 * refused naming it. */
static void
test_vit_image_size (Fixture       *f,
                     G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftModel) model = build (f, "vit_tiny", 10, 1);
  g_autoptr(GError) error = NULL;

  g_assert_false (graft_model_prepare (model, 1, 160, 160, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "encoder.pos_embedding"));
  g_test_message ("%s", error->message);
  g_clear_error (&error);

  /* the failed preparation left nothing half-prepared behind */
  g_assert_false (graft_model_forward (model, FALSE, 0, &error));
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE);
  g_clear_error (&error);

  /* a model built for 32 × 32 (2 × 2 patches and the class token) takes 32 × 32 images,
   * but not 16 × 64 ones: their 1 × 4 patches are as many tokens, whose positions the
   * embedding was not learned for (torchvision refuses any image but the built size) */
  {
    g_autoptr(GraftModel) small = NULL;
    GraftZooOptions options;

    graft_zoo_options_init (&options);
    options.n_classes = 10;
    options.image_size = 32;
    small = graft_zoo_build (f->cpu, "vit_tiny", &options, &error);
    g_assert_no_error (error);
    g_assert_true (graft_model_prepare (small, 1, 32, 32, &error));
    g_assert_no_error (error);
    g_assert_false (graft_model_prepare (small, 1, 16, 64, &error));
    g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE);
    g_assert_nonnull (strstr (error->message, "encoder.pos_embedding"));
    g_test_message ("%s", error->message);
  }
}

static void
test_unknown_arch (Fixture       *f,
                   G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftModel) model = graft_zoo_build (f->cpu, "resnet19", NULL, &error);
  const char *const *known = graft_zoo_list ();

  g_assert_null (model);
  g_assert_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH);
  g_assert_nonnull (strstr (error->message, "resnet19"));
  g_assert_cmpuint (g_strv_length ((char **) known), ==, 9);
  for (guint i = 0; known[i] != NULL; i++)
    if (strstr (error->message, known[i]) == NULL)
      g_error ("“%s” does not list %s", error->message, known[i]);
}

/* A ResNet-18 for 10 classes prepared for 2 images of 32 × 32 and run forward once in
 * training mode; @target receives its labels. */
static GraftModel *
trained_resnet (Fixture      *f,
                GraftTensor **target)
{
  g_autoptr(GError) error = NULL;
  GraftModel *model = build (f, "resnet18", 10, 3);

  g_assert_true (graft_model_prepare (model, 2, 32, 32, &error));
  g_assert_no_error (error);
  fill_random_input (model, 2);
  *target = graft_test_tensor (f->cpu, 1, (const gsize[]) { 2 }, (const float[]) { 1, 8 });
  return model;
}

static void
forward_backward (GraftModel  *model,
                  GraftTensor *target,
                  guint64      seed)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_model_forward (model, TRUE, seed, &error));
  g_assert_no_error (error);
  g_assert_true (graft_model_backward_cross_entropy (model, target, NULL, 0.0f, &error));
  g_assert_no_error (error);
}

static guint
count_nan (GraftTensor *t)
{
  g_autofree float *v = graft_test_download (t);
  gsize n = graft_tensor_get_n_elements (t);
  guint nan = 0;

  for (gsize i = 0; i < n; i++)
    if (isnan (v[i]))
      nan++;
  return nan;
}

/* The backward pass writes the gradients of trainable parameters and goes no further
 * back than the first trainable layer: frozen parameters' gradients keep whatever they
 * held (a NaN planted before the pass). */
static void
test_backward_stops (Fixture       *f,
                     G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GraftModel) model = trained_resnet (f, &target);
  g_autoptr(GError) error = NULL;
  /* the blocks frozen in each round (everything but the head, then the stem and
   * layer1); the rest is trainable */
  static const char *const all_but_head[] = { "stem", "layer1", "layer2", "layer3", "layer4", NULL };
  static const char *const first_two[] = { "stem", "layer1", NULL };
  const char *const *const rounds[] = { all_but_head, first_two };

  /* the first backward allocates every gradient */
  forward_backward (model, target, 1);

  for (guint r = 0; r < G_N_ELEMENTS (rounds); r++)
    {
      guint n_frozen = 0, n_trainable = 0;

      graft_model_set_all_trainable (model, TRUE);
      for (guint b = 0; rounds[r][b] != NULL; b++)
        {
          g_assert_true (graft_model_set_trainable (model, rounds[r][b], FALSE, &error));
          g_assert_no_error (error);
        }
      for (guint i = 0; i < graft_model_get_n_params (model); i++)
        {
          const GraftParamInfo *info = graft_model_get_param (model, i);

          if (info->is_buffer)
            continue;
          g_assert_nonnull (info->grad);
          g_assert_true (graft_op_fill (info->grad, NAN, &error));
          g_assert_no_error (error);
        }

      forward_backward (model, target, 2);

      for (guint i = 0; i < graft_model_get_n_params (model); i++)
        {
          const GraftParamInfo *info = graft_model_get_param (model, i);
          gsize n;
          guint nan;

          if (info->is_buffer)
            continue;
          n = graft_tensor_get_n_elements (info->grad);
          nan = count_nan (info->grad);
          if (info->trainable && nan != 0)
            g_error ("round %u: %s's gradient was not written (%u NaN)", r, info->name, nan);
          if (!info->trainable && nan != n)
            g_error ("round %u: frozen %s's gradient was written", r, info->name);
          if (info->trainable)
            n_trainable++;
          else
            n_frozen++;
        }
      g_assert_cmpuint (n_trainable, >=, 2);
      g_assert_cmpuint (n_frozen, >=, 3);
      g_assert_true (graft_model_find_param (model, "fc.weight")->trainable);
      g_assert_false (graft_model_find_param (model, "conv1.weight")->trainable);
    }
}

/* Sum of squares of @v's @n elements. */
static double
sum_squares (const float *v,
             gsize        n)
{
  double s = 0.0;

  for (gsize i = 0; i < n; i++)
    s += (double) v[i] * v[i];
  return s;
}

/* An SGD step moves each trainable parameter by -lr × its gradient and nothing else
 * (frozen parameters and buffers stay bit for bit); a block whose learning rate is
 * scaled by 0 stays; clipping scales the gradients to the given norm. */
static void
test_optimizer (Fixture       *f,
                G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GraftModel) model = trained_resnet (f, &target);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftOptimizer) opt = NULL;
  const float lr = 0.1f;
  /* the clipped step: with lr 1 the steps stand well above float32 rounding of the
   * parameters (~1e-9 each, ~1e-6 over 11 M of them) */
  const float lr2 = 1.0f;
  const float max_norm = 1e-3f;
  GraftSgdParams sgd;

  graft_sgd_params_init (&sgd, lr);
  opt = graft_optimizer_new_sgd (model, &sgd);
  g_assert_true (graft_model_set_trainable (model, "stem", FALSE, &error));
  g_assert_true (graft_model_set_trainable (model, "layer1", FALSE, &error));
  g_assert_no_error (error);

  /* one plain step */
  {
    g_autoptr(Snapshot) before = NULL;
    guint moved = 0, n_trainable = 0;

    forward_backward (model, target, 1);
    before = snapshot_take (model);
    g_assert_true (graft_optimizer_step (opt, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 1);

    for (guint i = 0; i < before->n; i++)
      {
        const GraftParamInfo *info = graft_model_get_param (model, i);
        g_autofree float *now = NULL;
        g_autofree float *grad = NULL;

        if (!info->trainable)
          {
            if (!param_unchanged (model, before, i))
              g_error ("frozen %s moved", info->name);
            continue;
          }
        now = graft_test_download (info->value);
        grad = graft_test_download (info->grad);
        for (gsize k = 0; k < before->sizes[i]; k++)
          {
            double step = (double) lr * grad[k];
            double want = before->values[i][k] - step;

            /* float32 rounding of lr × grad and of the difference: half a unit in the
             * last place of each */
            if (fabs (now[k] - want) > FLT_EPSILON * (fabs (want) + fabs (step)))
              g_error ("%s[%" G_GSIZE_FORMAT "]: %.9g - %g × %.9g gave %.9g", info->name, k,
                       before->values[i][k], lr, grad[k], now[k]);
          }
        n_trainable++;
        if (!same_bits (now, before->values[i], before->sizes[i]))
          moved++;
      }
    /* every trainable tensor has a gradient that is not zero, so every one moved */
    g_assert_cmpuint (n_trainable, >, 40);
    g_assert_cmpuint (moved, ==, n_trainable);
  }

  /* the head's learning rate scaled to 0, and the gradients clipped to a tiny norm */
  {
    g_autoptr(Snapshot) before = NULL;
    double norm_before = 0.0, norm_after = 0.0, moved2 = 0.0;
    gboolean layer4_moved = FALSE;

    graft_optimizer_set_lr (opt, lr2);
    graft_optimizer_set_block_lr_scale (opt, "head", 0.0f);
    graft_optimizer_set_clip_norm (opt, max_norm);
    forward_backward (model, target, 2);
    before = snapshot_take (model);
    for (guint i = 0; i < before->n; i++)
      {
        const GraftParamInfo *info = graft_model_get_param (model, i);
        g_autofree float *grad = NULL;

        if (!info->trainable)
          continue;
        grad = graft_test_download (info->grad);
        norm_before += sum_squares (grad, before->sizes[i]);
      }
    norm_before = sqrt (norm_before);
    g_assert_cmpfloat (norm_before, >, 10 * max_norm);

    g_assert_true (graft_optimizer_step (opt, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (graft_optimizer_get_step (opt), ==, 2);

    for (guint i = 0; i < before->n; i++)
      {
        const GraftParamInfo *info = graft_model_get_param (model, i);
        g_autofree float *grad = NULL;
        g_autofree float *now = NULL;

        if (!info->trainable || g_str_has_prefix (info->name, "fc."))
          {
            if (!param_unchanged (model, before, i))
              g_error ("%s moved", info->name);
            if (info->trainable)
              {
                grad = graft_test_download (info->grad);
                norm_after += sum_squares (grad, before->sizes[i]);
              }
            continue;
          }
        grad = graft_test_download (info->grad);
        norm_after += sum_squares (grad, before->sizes[i]);
        now = graft_test_download (info->value);
        for (gsize k = 0; k < before->sizes[i]; k++)
          {
            double step = ((double) before->values[i][k] - now[k]) / lr2;

            moved2 += step * step;
          }
        if (g_str_has_prefix (info->name, "layer4.") &&
            !same_bits (now, before->values[i], before->sizes[i]))
          layer4_moved = TRUE;
      }
    norm_after = sqrt (norm_after);
    g_test_message ("gradient norm %.4g clipped to %.4g", norm_before, norm_after);
    /* torch.nn.utils.clip_grad_norm_ scales by max_norm / (norm + 1e-6) */
    g_assert_cmpfloat (fabs (norm_after - max_norm), <, 1e-3 * max_norm);
    g_assert_true (layer4_moved);
    /* the parameters that moved, moved by lr × the clipped gradients, whose norm is at
     * most max_norm (unclipped, they would have moved by ~norm_before) */
    g_assert_cmpfloat (sqrt (moved2), <, 1.1 * max_norm);
    g_assert_cmpfloat (sqrt (moved2), >, 0.0);
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/model/parameter-counts", test_parameter_counts);
  ADD ("/model/blocks", test_blocks);
  ADD ("/model/weights", test_weights);
  ADD ("/model/state-errors", test_state_errors);
  ADD ("/model/vit-image-size", test_vit_image_size);
  ADD ("/model/unknown-arch", test_unknown_arch);
  ADD ("/model/backward-stops", test_backward_stops);
  ADD ("/model/optimizer", test_optimizer);
#undef ADD

  return g_test_run ();
}
