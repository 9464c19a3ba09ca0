/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Every zoo builder against torchvision 0.14 (zoo_keys.py): every state_dict name and
 * shape and the parameter count, so that torchvision's weights load as they are; the
 * freezing blocks; and builds with other input channels and classes that run forward in
 * eval and training mode. Outputs and gradients against PyTorch are checked by
 * tests/reference/test-reference-models. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "reference/graft-reference.h"

static const char *const archs[] = {
  "resnet10", "resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
  "mobilenet_v3_large", "efficientnet_b0", "vit_tiny",
};

#define N_CLASSES 10

/* torchvision's answers, produced once for the whole program by the first test that needs
 * them. */
typedef struct {
  gboolean    tried_keys;
  char       *why;         /* why there are no answers */
  GHashTable *keys;        /* arch -> GHashTable name -> shape ("32 3 3 3") */
  GHashTable *n_params;    /* arch -> guint64 * */
} Torchvision;

typedef struct {
  Torchvision *tv;
  const char  *arch;
} Case;

/* Runs zoo_keys.py with @args; the standard output, or NULL with @why set. */
static char *
run_script (const char *const  *args,
            char              **why)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *script = g_test_build_filename (G_TEST_DIST, "zoo_keys.py", NULL);
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = 0;

  /* a script missing from the source tree is a broken test, not a missing PyTorch */
  g_assert_true (g_file_test (script, G_FILE_TEST_EXISTS));
  g_ptr_array_add (argv, (gpointer) "/usr/bin/python3");
  g_ptr_array_add (argv, script);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_file_test ("/usr/bin/python3", G_FILE_TEST_IS_EXECUTABLE) ||
      !g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out,
                     &err, &status, &error) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      *why = g_strdup_printf ("zoo_keys.py %s could not run (torch and torchvision missing? "
                              "install python3-torch and python3-torchvision): %s", args[0],
                              error != NULL ? error->message : (err != NULL ? err : ""));
      return NULL;
    }
  return g_steal_pointer (&out);
}

static gboolean
keys_ready (Torchvision *tv)
{
  if (!tv->tried_keys)
    {
      g_autofree char *text = NULL;

      tv->tried_keys = TRUE;
      text = run_script ((const char *const[]) { "keys", NULL }, &tv->why);
      if (text != NULL)
        {
          g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
          GHashTable *current = NULL;
          const char *arch = NULL;

          tv->keys = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                            (GDestroyNotify) g_hash_table_unref);
          tv->n_params = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
          for (guint i = 0; lines[i] != NULL; i++)
            {
              char *space = strchr (lines[i], ' ');

              if (space == NULL)
                continue;
              *space = '\0';
              if (g_str_equal (lines[i], "arch"))
                {
                  arch = space + 1;
                  current = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
                  g_hash_table_insert (tv->keys, g_strdup (arch), current);
                }
              else if (g_str_equal (lines[i], "params"))
                {
                  g_assert_nonnull (arch);
                  g_hash_table_insert (tv->n_params, g_strdup (arch),
                                       g_memdup2 ((guint64[]) { g_ascii_strtoull (space + 1, NULL, 10) },
                                                  sizeof (guint64)));
                }
              else
                {
                  g_assert_nonnull (current);
                  g_hash_table_insert (current, g_strdup (lines[i]), g_strdup (space + 1));
                }
            }
        }
    }
  if (tv->keys == NULL)
    graft_reference_unavailable (tv->why);
  return tv->keys != NULL;
}

typedef enum {
  FAMILY_RESNET,
  FAMILY_MOBILE,   /* MobileNet and EfficientNet: features.N and classifier.N */
  FAMILY_VIT,
} Family;

static Family
family_of (const char *arch)
{
  if (g_str_has_prefix (arch, "resnet"))
    return FAMILY_RESNET;
  if (g_str_has_prefix (arch, "vit"))
    return FAMILY_VIT;
  return FAMILY_MOBILE;
}

/* @image_size matters only to the Vision Transformer (its position embedding). */
static GraftModel *
build (GraftBackend *backend,
       const char   *arch,
       guint         in_channels,
       guint         n_classes,
       guint         image_size)
{
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  GraftModel *model;

  graft_zoo_options_init (&options);
  options.in_channels = in_channels;
  options.n_classes = n_classes;
  options.image_size = image_size;
  options.seed = 7;
  model = graft_zoo_build (backend, arch, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (model);
  return model;
}

static char *
shape_string (GraftTensor *t)
{
  GString *s = g_string_new (NULL);

  for (guint d = 0; d < graft_tensor_get_rank (t); d++)
    g_string_append_printf (s, "%s%" G_GSIZE_FORMAT, d > 0 ? " " : "", graft_tensor_get_dim (t, d));
  return g_string_free (s, FALSE);
}

/* The block a parameter belongs to, from its torchvision name alone: ResNet's
 * "layer2.0.conv1.weight" is in "layer2", "conv1"/"bn1" in "stem", "fc" in "head";
 * "features.3.block.1.0.weight" in "features.3", "classifier.N" in "head"; the Vision
 * Transformer's "encoder.layers.encoder_layer_4.ln_1.weight" in "encoder_layer_4",
 * "conv_proj", "class_token" and "encoder.pos_embedding" in "stem", "encoder.ln" in
 * "encoder", "heads.head" in "head". */
static char *
expected_block (const char *arch,
                const char *name)
{
  g_auto(GStrv) parts = g_strsplit (name, ".", 4);

  switch (family_of (arch))
    {
    case FAMILY_RESNET:
      if (g_str_equal (parts[0], "fc"))
        return g_strdup ("head");
      if (g_str_has_prefix (parts[0], "layer"))
        return g_strdup (parts[0]);
      g_assert_true (g_str_equal (parts[0], "conv1") || g_str_equal (parts[0], "bn1"));
      return g_strdup ("stem");

    case FAMILY_MOBILE:
      if (g_str_equal (parts[0], "classifier"))
        return g_strdup ("head");
      g_assert_cmpstr (parts[0], ==, "features");
      return g_strdup_printf ("features.%s", parts[1]);

    case FAMILY_VIT:
      if (g_str_equal (parts[0], "heads"))
        return g_strdup ("head");
      if (g_str_equal (parts[0], "conv_proj") || g_str_equal (parts[0], "class_token") ||
          g_str_equal (name, "encoder.pos_embedding"))
        return g_strdup ("stem");
      g_assert_cmpstr (parts[0], ==, "encoder");
      if (g_str_equal (parts[1], "ln"))
        return g_strdup ("encoder");
      g_assert_cmpstr (parts[1], ==, "layers");
      g_assert_nonnull (parts[2]);
      return g_strdup (parts[2]);

    default:
      g_assert_not_reached ();
    }
}

static void
test_names (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = NULL;
  g_autoptr(GraftModel) model = NULL;
  GHashTable *want;
  guint64 want_params;
  guint n_tensors = 0;

  if (!keys_ready (c->tv))
    return;
  want = g_hash_table_lookup (c->tv->keys, c->arch);
  g_assert_nonnull (want);
  want_params = *(guint64 *) g_hash_table_lookup (c->tv->n_params, c->arch);

  cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  model = build (cpu, c->arch, 3, N_CLASSES, 224);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);
      const char *shape = g_hash_table_lookup (want, info->name);
      g_autofree char *got = shape_string (info->value);
      g_autofree char *block = expected_block (c->arch, info->name);

      if (shape == NULL)
        g_error ("%s: %s [%s] is not in torchvision's state_dict", c->arch, info->name, got);
      if (!g_str_equal (shape, got))
        g_error ("%s: %s is [%s], torchvision's [%s]", c->arch, info->name, got, shape);
      g_assert_cmpstr (info->block, ==, block);
      n_tensors++;
    }
  if (n_tensors != g_hash_table_size (want))
    {
      GHashTableIter iter;
      const char *name;

      g_hash_table_iter_init (&iter, want);
      while (g_hash_table_iter_next (&iter, (gpointer *) &name, NULL))
        if (graft_model_find_param (model, name) == NULL)
          g_error ("%s: torchvision's %s is missing", c->arch, name);
    }
  g_assert_cmpuint (graft_model_count_parameters (model, NULL, NULL), ==, want_params);

  /* the blocks offered for freezing are those the names give, in the order of the layers
   * (stem, layer1 … layer4, head; features.0 … features.N, head; stem, encoder_layer_0 …
   * encoder_layer_11, encoder, head), each holding parameters; freezing one freezes
   * exactly its parameters */
  {
    const char *const *blocks = graft_model_get_blocks (model);
    g_autoptr(GPtrArray) want_blocks = g_ptr_array_new_with_free_func (g_free);
    g_autoptr(GHashTable) block_size = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    gsize trainable = 0, frozen = 0, total;

    for (guint i = 0; i < graft_model_get_n_params (model); i++)
      {
        const GraftParamInfo *info = graft_model_get_param (model, i);
        char *block = expected_block (c->arch, info->name);
        gsize *size = g_hash_table_lookup (block_size, block);

        if (size == NULL)
          {
            size = g_new0 (gsize, 1);
            g_hash_table_insert (block_size, g_strdup (block), size);
            g_ptr_array_add (want_blocks, g_strdup (block));
          }
        if (!info->is_buffer)
          *size += graft_tensor_get_n_elements (info->value);
        g_free (block);
      }
    g_assert_cmpuint (g_strv_length ((char **) blocks), ==, want_blocks->len);
    for (guint i = 0; i < want_blocks->len; i++)
      g_assert_cmpstr (blocks[i], ==, g_ptr_array_index (want_blocks, i));
    g_assert_cmpstr (blocks[0], ==, family_of (c->arch) == FAMILY_MOBILE ? "features.0" : "stem");
    g_assert_cmpstr (blocks[want_blocks->len - 1], ==, "head");

    total = graft_model_count_parameters (model, &trainable, &frozen);
    g_assert_cmpuint (trainable, ==, total);
    for (guint i = 0; blocks[i] != NULL; i++)
      {
        g_autoptr(GError) block_error = NULL;
        gsize before = trainable;

        g_assert_true (graft_model_set_trainable (model, blocks[i], FALSE, &block_error));
        g_assert_no_error (block_error);
        graft_model_count_parameters (model, &trainable, &frozen);
        g_assert_cmpuint (before - trainable, ==, *(gsize *) g_hash_table_lookup (block_size, blocks[i]));
        g_assert_cmpuint (trainable + frozen, ==, total);
      }
    g_assert_cmpuint (trainable, ==, 0);
  }
  g_test_message ("%s: %u tensors, %" G_GUINT64_FORMAT " parameters as torchvision", c->arch,
                  n_tensors, want_params);
}

/* The classifier starts as torchvision's: MobileNet's weights normal (0, 0.01),
 * EfficientNet's uniform within 1 / sqrt (7), their biases zero (PyTorch's default would
 * be uniform within 1 / sqrt (in_features), far narrower or wider); ResNet's fc keeps
 * that default for weight and bias. The Vision Transformer's head is not checked:
 * torchvision starts it at zero, Graft at PyTorch's default. */
static void
check_classifier_init (const char                 *arch,
                       GraftModel                 *model,
                       const GraftParamInfo       *weight)
{
  g_autoptr(GError) error = NULL;
  gsize n = graft_tensor_get_n_elements (weight->value);
  gsize in_features = graft_tensor_get_dim (weight->value, 1);
  g_autofree float *w = g_new (float, n);
  g_autofree char *bias_name = g_strdup (weight->name);
  const GraftParamInfo *bias;
  float b[7];
  double sum2 = 0.0, largest = 0.0, largest_bias = 0.0;

  if (family_of (arch) == FAMILY_VIT)
    return;

  g_assert_true (graft_tensor_download (weight->value, w, n, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++)
    {
      sum2 += (double) w[i] * w[i];
      largest = MAX (largest, fabs (w[i]));
    }
  strcpy (bias_name + strlen (bias_name) - strlen ("weight"), "bias");
  bias = graft_model_find_param (model, bias_name);
  g_assert_nonnull (bias);
  g_assert_true (graft_tensor_download (bias->value, b, 7, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < 7; i++)
    largest_bias = MAX (largest_bias, fabs (b[i]));

  if (family_of (arch) == FAMILY_RESNET)
    {
      double bound = 1.0 / sqrt ((double) in_features);

      g_assert_cmpfloat (largest, <=, bound);
      g_assert_cmpfloat (largest, >, 0.9 * bound);
      g_assert_cmpfloat (largest_bias, <=, bound);
      g_assert_cmpfloat (largest_bias, >, 0.0);
      return;
    }
  if (g_str_has_prefix (arch, "mobilenet"))
    g_assert_cmpfloat (fabs (sqrt (sum2 / n) - 0.01), <, 1e-3);
  else
    {
      g_assert_cmpfloat (largest, <=, 1.0 / sqrt (7.0));
      g_assert_cmpfloat (largest, >, 0.9 / sqrt (7.0));
    }
  g_assert_cmpfloat (largest_bias, ==, 0.0);
}

static void
check_finite_output (GraftModel *model,
                     guint       batch)
{
  g_autoptr(GError) error = NULL;
  GraftTensor *output = graft_model_get_output (model);
  g_autofree float *out = g_new (float, batch * 7);

  g_assert_cmpuint (graft_tensor_get_rank (output), ==, 2);
  g_assert_cmpuint (graft_tensor_get_dim (output, 0), ==, batch);
  g_assert_cmpuint (graft_tensor_get_dim (output, 1), ==, 7);
  g_assert_true (graft_tensor_download (output, out, batch * 7, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < batch * 7; i++)
    g_assert_true (isfinite (out[i]));
}

/* A grey-scale model for 7 classes: the first layer reads one channel, the last linear
 * layer gives 7 outputs, and a forward pass at another image size runs in eval and in
 * training mode. The convolutional networks take a non-square image; the Vision
 * Transformer is built for (and fed) square 48 × 48 images. */
static void
test_options (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = NULL;
  g_autoptr(GraftModel) model = NULL;
  const GraftParamInfo *first, *last = NULL;
  g_autofree float *image = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);
  const char *first_name, *classifier;
  gboolean vit = family_of (c->arch) == FAMILY_VIT;
  guint height = vit ? 48 : 40, width = 48, batch = 3;
  gsize n_image = (gsize) batch * height * width;

  switch (family_of (c->arch))
    {
    case FAMILY_RESNET:
      first_name = "conv1.weight";
      classifier = "fc.";
      break;
    case FAMILY_MOBILE:
      first_name = "features.0.0.weight";
      classifier = "classifier.";
      break;
    case FAMILY_VIT:
      first_name = "conv_proj.weight";
      classifier = "heads.head.";
      break;
    default:
      g_assert_not_reached ();
    }

  cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  model = build (cpu, c->arch, 1, 7, vit ? height : 224);
  g_assert_cmpuint (graft_model_get_in_channels (model), ==, 1);
  g_assert_cmpuint (graft_model_get_n_classes (model), ==, 7);

  first = graft_model_find_param (model, first_name);
  g_assert_nonnull (first);
  g_assert_cmpuint (graft_tensor_get_rank (first->value), ==, 4);
  g_assert_cmpuint (graft_tensor_get_dim (first->value, 1), ==, 1);
  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    if (g_str_has_suffix (graft_model_get_param (model, i)->name, ".weight"))
      last = graft_model_get_param (model, i);
  g_assert_nonnull (last);
  g_assert_true (g_str_has_prefix (last->name, classifier));
  g_assert_cmpuint (graft_tensor_get_rank (last->value), ==, 2);
  g_assert_cmpuint (graft_tensor_get_dim (last->value, 0), ==, 7);
  check_classifier_init (c->arch, model, last);

  g_assert_true (graft_model_prepare (model, batch, height, width, &error));
  g_assert_no_error (error);
  image = g_new (float, n_image);
  for (gsize i = 0; i < n_image; i++)
    image[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  g_assert_true (graft_tensor_upload (graft_model_get_input (model), image, n_image, &error));
  g_assert_no_error (error);
  g_assert_true (graft_model_forward (model, FALSE, 0, &error));
  g_assert_no_error (error);
  check_finite_output (model, batch);

  /* training with dropout and stochastic depth on */
  g_assert_true (graft_model_forward (model, TRUE, 5, &error));
  g_assert_no_error (error);
  check_finite_output (model, batch);
}

int
main (int    argc,
      char **argv)
{
  Torchvision tv = { 0 };
  Case cases[G_N_ELEMENTS (archs)];
  int status;

  g_test_init (&argc, &argv, NULL);

  for (guint i = 0; i < G_N_ELEMENTS (archs); i++)
    {
      g_autofree char *names = g_strdup_printf ("/zoo/names/%s", archs[i]);
      g_autofree char *options = g_strdup_printf ("/zoo/options/%s", archs[i]);

      cases[i].tv = &tv;
      cases[i].arch = archs[i];
      g_test_add_data_func (names, &cases[i], test_names);
      g_test_add_data_func (options, &cases[i], test_options);
    }

  status = g_test_run ();
  g_free (tv.why);
  g_clear_pointer (&tv.keys, g_hash_table_unref);
  g_clear_pointer (&tv.n_params, g_hash_table_unref);
  return status;
}
