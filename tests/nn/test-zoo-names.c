/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The zoo's MobileNet and EfficientNet builders against torchvision 0.14 (zoo_keys.py):
 * every state_dict name and shape and the parameter count, so that torchvision's weights
 * load as they are; for torchvision's weights on the same images, the output in eval and
 * in training mode, batch norm's updated running statistics and gradients, on every
 * backend; the freezing blocks; and builds with other input channels and classes. */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "reference/graft-reference.h"

static const char *const archs[] = {
  "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large", "efficientnet_b0",
};

#define N_CLASSES 10
#define BATCH 2
#define IMAGE 64

/* Normalised error max |got - want| / max |want| of the [2, 10] logits. Every layer
 * computes in float32 (rounding ~6e-8 relative) but sums in another order than PyTorch
 * (convolutions of up to 960 × 9 terms, means over the batch), so each of the ~50 layers
 * in a chain adds ~1e-6 relative error at most and batch norm's division by the
 * standard deviation passes it on without growing it much: ~1e-5 in the logits at
 * worst (measured: up to 4e-6). A swapped activation, a missing residual connection
 * or a wrong batch-norm eps gives errors of 1e-1 and more. */
#define EVAL_TOLERANCE 1e-4
/* In training mode batch norm normalises by statistics of 2 × 2 × 2 values per channel in
 * the last stages, which are computed here in another order than PyTorch's; zoo_keys.py
 * keeps their variances away from zero, so the bound above holds (measured: 5e-6). */
#define TRAIN_TOLERANCE 1e-4

/* Batch norm's running statistics after one training-mode pass: (1 - m) · old + m · batch
 * statistic, with the unbiased variance over 8 … 2048 values per channel; float32 sums in
 * another order differ by ~1e-6 of the largest entry. A wrong momentum (0.1 instead of
 * 0.01) moves them by several percent. */
#define RUNNING_TOLERANCE 1e-4

/* Gradients after the training-mode pass, each tensor's normalised by its largest entry:
 * the first layer's has gone back through every layer, each adding rounding of the same
 * order as forward, plus batch norm's backward, which subtracts means of products of
 * nearly cancelling terms (measured: up to 8e-5). A wrong derivative anywhere gives
 * errors of order 1. */
#define GRAD_TOLERANCE 1e-3

/* torchvision's answers, produced once for the whole program by the first test that needs
 * them. */
typedef struct {
  gboolean    tried_keys;
  gboolean    tried_forward;
  char       *why;         /* why there are no answers */
  GHashTable *keys;        /* arch -> GHashTable name -> shape ("32 3 3 3") */
  GHashTable *n_params;    /* arch -> guint64 * */
  char       *dir;         /* NAME.weights.safetensors, NAME.reference.safetensors */
  GPtrArray  *backends;
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

static gboolean
forward_ready (Torchvision *tv)
{
  if (!tv->tried_forward)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *dir = g_dir_make_tmp ("graft-zoo-XXXXXX", &error);
      g_autofree char *text = NULL;

      g_assert_no_error (error);
      tv->tried_forward = TRUE;
      g_clear_pointer (&tv->why, g_free);
      text = run_script ((const char *const[]) { "forward", dir, NULL }, &tv->why);
      if (text != NULL)
        {
          tv->dir = g_steal_pointer (&dir);
          tv->backends = graft_reference_backends ();
        }
      else
        g_rmdir (dir);
    }
  if (tv->dir == NULL)
    graft_reference_unavailable (tv->why);
  return tv->dir != NULL;
}

static GraftModel *
build (GraftBackend *backend,
       const char   *arch,
       guint         in_channels,
       guint         n_classes)
{
  g_autoptr(GError) error = NULL;
  GraftZooOptions options;
  GraftModel *model;

  graft_zoo_options_init (&options);
  options.in_channels = in_channels;
  options.n_classes = n_classes;
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

/* "features.3.block.1.0.weight" is in block "features.3"; the classifier in "head". */
static char *
expected_block (const char *name)
{
  g_auto(GStrv) parts = g_strsplit (name, ".", 3);

  if (g_str_equal (parts[0], "classifier"))
    return g_strdup ("head");
  g_assert_cmpstr (parts[0], ==, "features");
  return g_strdup_printf ("features.%s", parts[1]);
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
  model = build (cpu, c->arch, 3, N_CLASSES);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);
      const char *shape = g_hash_table_lookup (want, info->name);
      g_autofree char *got = shape_string (info->value);
      g_autofree char *block = expected_block (info->name);

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

  /* the blocks offered for freezing are features.0 … features.N and head, in order, and
   * each of them holds parameters */
  {
    const char *const *blocks = graft_model_get_blocks (model);
    guint n_blocks = g_strv_length ((char **) blocks);

    g_assert_cmpuint (n_blocks, >=, 2);
    for (guint i = 0; i + 1 < n_blocks; i++)
      {
        g_autofree char *want_block = g_strdup_printf ("features.%u", i);

        g_assert_cmpstr (blocks[i], ==, want_block);
      }
    g_assert_cmpstr (blocks[n_blocks - 1], ==, "head");
    for (guint i = 0; i < n_blocks; i++)
      {
        g_autoptr(GError) block_error = NULL;

        g_assert_true (graft_model_set_trainable (model, blocks[i], FALSE, &block_error));
        g_assert_no_error (block_error);
      }
  }
  g_test_message ("%s: %u tensors, %" G_GUINT64_FORMAT " parameters as torchvision", c->arch,
                  n_tensors, want_params);
}

/* A grey-scale model for 7 classes: the first convolution reads one channel, the last
 * linear layer gives 7 outputs, and a forward pass at another image size runs. */
static void
test_options (gconstpointer data)
{
  const Case *c = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) cpu = NULL;
  g_autoptr(GraftModel) model = NULL;
  const GraftParamInfo *first, *last = NULL;
  g_autofree float *image = NULL;
  g_autofree float *out = NULL;
  GraftTensor *output;
  g_autoptr(GRand) rand = g_rand_new_with_seed (3);

  cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  model = build (cpu, c->arch, 1, 7);
  g_assert_cmpuint (graft_model_get_in_channels (model), ==, 1);
  g_assert_cmpuint (graft_model_get_n_classes (model), ==, 7);

  first = graft_model_find_param (model, "features.0.0.weight");
  g_assert_nonnull (first);
  g_assert_cmpuint (graft_tensor_get_dim (first->value, 1), ==, 1);
  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    if (g_str_has_suffix (graft_model_get_param (model, i)->name, ".weight"))
      last = graft_model_get_param (model, i);
  g_assert_true (g_str_has_prefix (last->name, "classifier."));
  g_assert_cmpuint (graft_tensor_get_dim (last->value, 0), ==, 7);

  /* the classifier starts as torchvision's: MobileNet's weights normal (0, 0.01),
   * EfficientNet's uniform within 1 / sqrt (7), biases zero (PyTorch's default would be
   * uniform within 1 / sqrt (in_features), far narrower or wider) */
  {
    gsize n = graft_tensor_get_n_elements (last->value);
    g_autofree float *w = g_new (float, n);
    g_autofree char *bias_name = g_strdup (last->name);
    const GraftParamInfo *bias;
    float b[7];
    double sum2 = 0.0, largest = 0.0;

    g_assert_true (graft_tensor_download (last->value, w, n, &error));
    for (gsize i = 0; i < n; i++)
      {
        sum2 += (double) w[i] * w[i];
        largest = MAX (largest, fabs (w[i]));
      }
    if (g_str_has_prefix (c->arch, "mobilenet"))
      g_assert_cmpfloat (fabs (sqrt (sum2 / n) - 0.01), <, 1e-3);
    else
      {
        g_assert_cmpfloat (largest, <=, 1.0 / sqrt (7.0));
        g_assert_cmpfloat (largest, >, 0.9 / sqrt (7.0));
      }
    strcpy (bias_name + strlen (bias_name) - strlen ("weight"), "bias");
    bias = graft_model_find_param (model, bias_name);
    g_assert_nonnull (bias);
    g_assert_true (graft_tensor_download (bias->value, b, 7, &error));
    for (guint i = 0; i < 7; i++)
      g_assert_cmpfloat (b[i], ==, 0.0f);
  }

  g_assert_true (graft_model_prepare (model, 3, 40, 48, &error));
  g_assert_no_error (error);
  image = g_new (float, 3 * 40 * 48);
  for (guint i = 0; i < 3 * 40 * 48; i++)
    image[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  g_assert_true (graft_tensor_upload (graft_model_get_input (model), image, 3 * 40 * 48, &error));
  g_assert_true (graft_model_forward (model, FALSE, 0, &error));
  g_assert_no_error (error);
  output = graft_model_get_output (model);
  g_assert_cmpuint (graft_tensor_get_rank (output), ==, 2);
  g_assert_cmpuint (graft_tensor_get_dim (output, 0), ==, 3);
  g_assert_cmpuint (graft_tensor_get_dim (output, 1), ==, 7);
  out = g_new (float, 3 * 7);
  g_assert_true (graft_tensor_download (output, out, 3 * 7, &error));
  for (guint i = 0; i < 3 * 7; i++)
    g_assert_true (isfinite (out[i]));

  /* training with dropout and stochastic depth on */
  g_assert_true (graft_model_forward (model, TRUE, 5, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (output, out, 3 * 7, &error));
  for (guint i = 0; i < 3 * 7; i++)
    g_assert_true (isfinite (out[i]));
}

static double
max_error (const float *got,
           const float *want,
           gsize        n)
{
  double diff = 0.0, scale = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (got[i]))
        return INFINITY;
      diff = MAX (diff, fabs ((double) got[i] - want[i]));
      scale = MAX (scale, fabs ((double) want[i]));
    }
  return scale > 0.0 ? diff / scale : diff;
}

static double
run_forward (GraftModel  *model,
             gboolean     training,
             const float *want,
             gsize        n)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *got = g_new (float, n);

  g_assert_true (graft_model_forward (model, training, 11, &error));
  g_assert_no_error (error);
  g_assert_true (graft_tensor_download (graft_model_get_output (model), got, n, &error));
  g_assert_no_error (error);
  return max_error (got, want, n);
}

/* The largest error of any batch norm's running_mean or running_var, each normalised by
 * its largest entry. */
static double
running_error (GraftModel       *model,
               GraftSafetensors *ref)
{
  double worst = 0.0;
  guint n_checked = 0;

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);
      g_autoptr(GError) error = NULL;
      g_autofree char *key = NULL;
      g_autofree float *want = NULL;
      g_autofree float *got = NULL;
      gsize n;

      if (!info->is_buffer)
        continue;
      key = g_strconcat ("running.", info->name, NULL);
      want = graft_reference_read (ref, key, NULL, NULL, &n);
      g_assert_cmpuint (n, ==, graft_tensor_get_n_elements (info->value));
      got = g_new (float, n);
      g_assert_true (graft_tensor_download (info->value, got, n, &error));
      g_assert_no_error (error);
      worst = MAX (worst, max_error (got, want, n));
      n_checked++;
    }
  g_assert_cmpuint (n_checked, >, 0);
  return worst;
}

/* Backward from PyTorch's random output gradient; the largest error of the gradients
 * PyTorch saved, each normalised by its largest entry. */
static double
gradient_error (GraftModel       *model,
                GraftSafetensors *ref)
{
  g_autoptr(GError) error = NULL;
  g_autofree float *dy = NULL;
  g_autoptr(GraftTensor) grad_output = NULL;
  GraftTensor *output = graft_model_get_output (model);
  double worst = 0.0;
  guint n_checked = 0;
  gsize n;

  dy = graft_reference_read (ref, "dy", NULL, NULL, &n);
  grad_output = graft_tensor_new (graft_model_get_backend (model), 2,
                                  (const gsize[]) { graft_tensor_get_dim (output, 0),
                                                    graft_tensor_get_dim (output, 1) }, &error);
  g_assert_no_error (error);
  g_assert_true (graft_tensor_upload (grad_output, dy, n, &error));
  g_assert_true (graft_model_backward (model, grad_output, &error));
  g_assert_no_error (error);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *info = graft_model_get_param (model, i);
      g_autofree char *key = g_strconcat ("grad.", info->name, NULL);
      g_autofree float *want = NULL;
      g_autofree float *got = NULL;

      if (graft_safetensors_lookup (ref, key) == NULL)
        continue;
      want = graft_reference_read (ref, key, NULL, NULL, &n);
      g_assert_nonnull (info->grad);
      g_assert_cmpuint (n, ==, graft_tensor_get_n_elements (info->grad));
      got = g_new (float, n);
      g_assert_true (graft_tensor_download (info->grad, got, n, &error));
      g_assert_no_error (error);
      worst = MAX (worst, max_error (got, want, n));
      n_checked++;
    }
  g_assert_cmpuint (n_checked, >=, 3);
  return worst;
}

static void
test_forward (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *weights = NULL;
  g_autofree char *ref_path = NULL;
  g_autoptr(GError) error = NULL;
  GraftSafetensors *ref;
  g_autofree float *input = NULL;
  g_autofree float *want_eval = NULL;
  g_autofree float *want_train = NULL;
  gsize n_input, n_out, n;

  if (!forward_ready (c->tv))
    return;
  weights = g_strdup_printf ("%s/%s.weights.safetensors", c->tv->dir, c->arch);
  ref_path = g_strdup_printf ("%s/%s.reference.safetensors", c->tv->dir, c->arch);
  ref = graft_safetensors_open (ref_path, &error);
  g_assert_no_error (error);
  input = graft_reference_read (ref, "input", NULL, NULL, &n_input);
  want_eval = graft_reference_read (ref, "eval", NULL, NULL, &n_out);
  want_train = graft_reference_read (ref, "train", NULL, NULL, &n);
  g_assert_cmpuint (n_input, ==, BATCH * 3 * IMAGE * IMAGE);
  g_assert_cmpuint (n_out, ==, BATCH * N_CLASSES);
  g_assert_cmpuint (n, ==, n_out);

  for (guint b = 0; b < c->tv->backends->len; b++)
    {
      GraftBackend *backend = g_ptr_array_index (c->tv->backends, b);
      const char *device = graft_backend_get_info (backend)->name;
      g_autoptr(GraftModel) model = build (backend, c->arch, 3, N_CLASSES);
      double eval_error, train_error, stats_error, grad_error;

      g_assert_true (graft_model_load_weights_file (model, weights, &error));
      g_assert_no_error (error);
      g_assert_true (graft_model_prepare (model, BATCH, IMAGE, IMAGE, &error));
      g_assert_no_error (error);
      g_assert_true (graft_tensor_upload (graft_model_get_input (model), input, n_input, &error));
      g_assert_no_error (error);

      eval_error = run_forward (model, FALSE, want_eval, n_out);
      graft_model_set_dropout_enabled (model, FALSE);
      train_error = run_forward (model, TRUE, want_train, n_out);
      stats_error = running_error (model, ref);
      grad_error = gradient_error (model, ref);
      g_test_message ("%s on %s: max error %.3g in eval, %.3g in training mode, %.3g in "
                      "the running statistics, %.3g in the gradients", c->arch, device,
                      eval_error, train_error, stats_error, grad_error);
      g_assert_cmpfloat (eval_error, <, EVAL_TOLERANCE);
      g_assert_cmpfloat (train_error, <, TRAIN_TOLERANCE);
      g_assert_cmpfloat (stats_error, <, RUNNING_TOLERANCE);
      g_assert_cmpfloat (grad_error, <, GRAD_TOLERANCE);
    }
  graft_safetensors_free (ref);
}

static void
remove_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  if (d == NULL)
    return;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
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
      g_autofree char *forward = g_strdup_printf ("/zoo/forward/%s", archs[i]);

      cases[i].tv = &tv;
      cases[i].arch = archs[i];
      g_test_add_data_func (names, &cases[i], test_names);
      g_test_add_data_func (options, &cases[i], test_options);
      g_test_add_data_func (forward, &cases[i], test_forward);
    }

  status = g_test_run ();
  if (tv.dir != NULL)
    remove_dir (tv.dir);
  g_free (tv.dir);
  g_free (tv.why);
  g_clear_pointer (&tv.keys, g_hash_table_unref);
  g_clear_pointer (&tv.n_params, g_hash_table_unref);
  g_clear_pointer (&tv.backends, g_ptr_array_unref);
  return status;
}
