/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The catalog of pre-trained models: hub entries whose sizes match Graft's graphs, model
 * cards read and checked, the user's models ahead of bundled ones; the bundled model
 * itself (its card's accuracy measured again on the source test set, its size); and the
 * pretraining recipe's mechanics on a slice of Fashion-MNIST. */

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  char         *tmp;
  char         *user_dir;
  char         *bundled_dir;
  GraftBackend *cpu;
} Fixture;

static void
fixture_set_up (Fixture       *f,
                G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  f->tmp = g_dir_make_tmp ("graft-catalog-XXXXXX", &error);
  g_assert_no_error (error);
  f->user_dir = g_build_filename (f->tmp, "data", "graft", "models", NULL);
  f->bundled_dir = g_build_filename (f->tmp, "bundled", NULL);
  g_assert_cmpint (g_mkdir_with_parents (f->user_dir, 0755), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (f->bundled_dir, 0755), ==, 0);
  f->cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *f,
                   G_GNUC_UNUSED gconstpointer data)
{
  graft_backend_unref (f->cpu);
  graft_test_remove_tree (f->tmp);
  g_free (f->tmp);
  g_free (f->user_dir);
  g_free (f->bundled_dir);
}

/* The catalog reads $XDG_DATA_HOME and $GRAFT_MODELS_DIR at each call; GLib caches the
 * user data folder, so the test runs with XDG_DATA_HOME fixed by meson and points
 * GRAFT_MODELS_DIR at its own folder. */
static char *
write_card (const char *dir,
            const char *name,
            const char *body)
{
  g_autofree char *file = g_strconcat (name, ".json", NULL);
  char *path = g_build_filename (dir, file, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, body, -1, &error);
  g_assert_no_error (error);
  return path;
}

#define CARD(name, acc) \
  "{ \"name\": \"" name "\", \"arch\": \"resnet10\", \"weights\": \"" name ".safetensors\",\n" \
  "  \"classes\": [\"a\", \"b\"], \"parameters\": 4900000, \"source_test_accuracy\": " acc ",\n" \
  "  \"input\": { \"channels\": 1, \"size\": [28, 28], \"mean\": [0.3], \"std\": [0.35] },\n" \
  "  \"dataset\": \"Test\", \"source_test_images\": 10, \"graft_version\": \"0.1.0\",\n" \
  "  \"recipe\": { \"command\": \"graft-cli pretrain\" } }"

static void
test_hub_entries (Fixture       *f,
                  G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GPtrArray) entries = NULL;
  guint n_hub = 0;

  g_setenv ("GRAFT_MODELS_DIR", f->bundled_dir, TRUE);
  g_unsetenv ("GRAFT_HUB_URL");
  entries = graft_catalog_list (NULL);
  for (guint i = 0; i < entries->len; i++)
    {
      const GraftCatalogEntry *entry = g_ptr_array_index (entries, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftModel) model = NULL;
      GraftZooOptions options;
      double gmacs;

      if (entry->source != GRAFT_CATALOG_HUB)
        continue;
      n_hub++;
      g_assert_true (g_str_has_prefix (entry->url, "https://huggingface.co/timm/"));
      g_assert_true (g_str_has_suffix (entry->url, "/model.safetensors"));
      g_assert_cmpuint (entry->n_classes, ==, 1000);
      g_assert_cmpuint (entry->in_channels, ==, 3);
      g_assert_true (entry->std[0] > 0 && entry->std[1] > 0 && entry->std[2] > 0);
      g_assert_nonnull (entry->licence);
      g_assert_true (g_str_has_suffix (entry->weights_path, ".safetensors"));

      /* The sizes the catalog states are those of the graph Graft builds. */
      graft_zoo_options_init (&options);
      options.image_size = entry->image_size;
      model = graft_zoo_build (f->cpu, entry->arch, &options, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (graft_model_count_parameters (model, NULL, NULL), ==, entry->parameters);
      graft_model_prepare (model, 1, entry->image_size, entry->image_size, &error);
      g_assert_no_error (error);
      gmacs = graft_model_count_macs (model) / 1e9;
      if (fabs (gmacs - entry->gmacs) > 0.0015)
        g_error ("%s: the catalog says %.4f G multiply-adds, the graph has %.4f", entry->name,
                 entry->gmacs, gmacs);
    }
  g_assert_cmpuint (n_hub, ==, 8);
  g_unsetenv ("GRAFT_MODELS_DIR");
}

static void
test_cards (Fixture       *f,
            G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GPtrArray) entries = NULL;
  g_autoptr(GPtrArray) problems = NULL;
  g_autofree char *user = NULL;
  g_autofree char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *e = NULL;
  const GraftCatalogEntry *first, *second;
  const char *data_home = g_get_user_data_dir ();

  /* GLib caches $XDG_DATA_HOME; meson sets it for the test program. */
  user = g_build_filename (data_home, "graft", "models", NULL);
  g_assert_cmpint (g_mkdir_with_parents (user, 0755), ==, 0);

  g_setenv ("GRAFT_MODELS_DIR", f->bundled_dir, TRUE);
  a = write_card (f->bundled_dir, "shipped", CARD ("shipped", "0.93"));
  b = write_card (f->bundled_dir, "shadowed", CARD ("shadowed", "0.5"));
  c = write_card (user, "shadowed", CARD ("shadowed", "0.75"));
  d = write_card (f->bundled_dir, "broken", "{ \"name\": \"broken\", \"arch\": 3 }");
  e = write_card (f->bundled_dir, "escape",
                  "{ \"name\": \"escape\", \"arch\": \"resnet10\", \"weights\": \"../x\" }");

  entries = graft_catalog_list (&problems);
  first = g_ptr_array_index (entries, 0);
  second = g_ptr_array_index (entries, 1);
  /* bundled first; the user's "shadowed" replaces the bundled one of that name */
  g_assert_cmpstr (first->name, ==, "shipped");
  g_assert_cmpint (first->source, ==, GRAFT_CATALOG_BUNDLED);
  g_assert_cmpfloat_with_epsilon (first->accuracy, 0.93, 1e-12);
  g_assert_cmpuint (first->in_channels, ==, 1);
  g_assert_cmpuint (first->image_size, ==, 28);
  g_assert_cmpstr (first->class_names[1], ==, "b");
  g_assert_cmpstr (first->command, ==, "graft-cli pretrain");
  g_assert_false (graft_catalog_entry_is_available (first));
  g_assert_cmpstr (second->name, ==, "shadowed");
  g_assert_cmpint (second->source, ==, GRAFT_CATALOG_LOCAL);
  g_assert_cmpfloat_with_epsilon (second->accuracy, 0.75, 1e-12);
  for (guint i = 2; i < entries->len; i++)
    g_assert_cmpint (((GraftCatalogEntry *) g_ptr_array_index (entries, i))->source, ==,
                     GRAFT_CATALOG_HUB);

  /* the two bad cards are named, the rest listed */
  g_assert_cmpuint (problems->len, ==, 2);
  for (guint i = 0; i < problems->len; i++)
    {
      const char *message = g_ptr_array_index (problems, i);

      g_test_message ("%s", message);
      g_assert_true (strstr (message, "broken.json") != NULL || strstr (message, "escape.json") != NULL);
    }

  g_remove (c);
  g_unsetenv ("GRAFT_MODELS_DIR");
}

static void
test_find (Fixture       *f,
           G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftCatalogEntry) entry = NULL;
  g_autoptr(GraftCatalogEntry) missing = NULL;

  g_setenv ("GRAFT_MODELS_DIR", f->bundled_dir, TRUE);
  entry = graft_catalog_find ("resnet18.a1_in1k", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (entry->arch, ==, "resnet18");
  missing = graft_catalog_find ("resnet19", &error);
  g_assert_null (missing);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "resnet19"));
  g_assert_nonnull (strstr (error->message, "vit_tiny_patch16_224"));
  g_unsetenv ("GRAFT_MODELS_DIR");
}

/* The shipped model: its card is complete, its weights fit its architecture, are at
 * most 12 MB, and give the accuracy the card states on the source test set. */
static void
test_bundled (Fixture       *f,
              G_GNUC_UNUSED gconstpointer data)
{
  g_autofree char *dir = g_build_filename (g_getenv ("GRAFT_SOURCE_DATA"), "models", NULL);
  g_autofree char *card = g_build_filename (dir, GRAFT_PRETRAIN_NAME ".json", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftCatalogEntry) entry = graft_catalog_entry_from_card (card, GRAFT_CATALOG_BUNDLED, &error);
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftFashionMnist) test = NULL;
  g_autoptr(GArray) index = NULL;
  static const guint classes[] = { 0, 1, 2, 3, 4 };
  GraftZooOptions options;
  GStatBuf st;
  guint batch = 100, correct = 0;
  g_autofree float *input = NULL;
  float logits[100 * 5];

  g_assert_no_error (error);
  g_assert_cmpstr (entry->arch, ==, "resnet10");
  g_assert_cmpuint (entry->n_classes, ==, 5);
  g_assert_cmpstr (entry->class_names[0], ==, "T-shirt/top");
  g_assert_cmpstr (entry->class_names[4], ==, "Coat");
  g_assert_nonnull (entry->command);
  g_assert_nonnull (entry->graft_version);
  g_assert_cmpfloat (entry->accuracy, >=, 0.90);
  g_assert_cmpint (g_stat (entry->weights_path, &st), ==, 0);
  g_assert_cmpint (st.st_size, <=, 12 * 1000 * 1000);

  graft_zoo_options_init (&options);
  options.n_classes = entry->n_classes;
  options.in_channels = entry->in_channels;
  options.image_size = entry->image_size;
  model = graft_zoo_build (f->cpu, entry->arch, &options, &error);
  g_assert_no_error (error);
  graft_model_load_weights_file (model, entry->weights_path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_model_count_parameters (model, NULL, NULL), ==, entry->parameters);

  test = graft_fashion_mnist_load (NULL, GRAFT_FASHION_MNIST_TEST, NULL, &error);
  if (test == NULL)
    {
      g_test_skip (error->message);
      return;
    }
  index = graft_fashion_mnist_select (test, classes, 5);
  g_assert_cmpuint (index->len % batch, ==, 0);
  graft_model_prepare (model, batch, entry->image_size, entry->image_size, &error);
  g_assert_no_error (error);
  input = g_new (float, batch * 28 * 28);
  for (guint start = 0; start < index->len; start += batch)
    {
      for (guint b = 0; b < batch; b++)
        {
          const guint8 *pixels = graft_fashion_mnist_get_image (test, g_array_index (index, guint, start + b));
          for (guint p = 0; p < 28 * 28; p++)
            input[b * 784 + p] = (pixels[p] / 255.0f - entry->mean[0]) / entry->std[0];
        }
      graft_tensor_upload (graft_model_get_input (model), input, batch * 784, &error);
      g_assert_no_error (error);
      graft_model_forward (model, FALSE, 0, &error);
      g_assert_no_error (error);
      graft_tensor_download (graft_model_get_output (model), logits, batch * 5, &error);
      g_assert_no_error (error);
      for (guint b = 0; b < batch; b++)
        {
          guint best = 0;
          for (guint c = 1; c < 5; c++)
            if (logits[b * 5 + c] > logits[b * 5 + best])
              best = c;
          correct += best == test->labels[g_array_index (index, guint, start + b)];
        }
    }
  g_test_message ("bundled model: %u of %u correct (card: %.4f)", correct, index->len, entry->accuracy);
  /* The card was measured on the CPU backend too, but the normalisation here divides
   * where the recipe multiplies by 1 / std: a handful of borderline images may flip. */
  g_assert_cmpfloat (fabs ((double) correct / index->len - entry->accuracy), <=, 0.002);
}

/* The recipe end to end on 1024 images: files written, the card readable and truthful
 * about the weights (which load into its architecture), and the same weights again
 * from the same seed. */
static void
test_recipe (Fixture       *f,
             G_GNUC_UNUSED gconstpointer data)
{
  GraftPretrainOptions options;
  GraftPretrainResult first = { 0 }, second = { 0 };
  g_autofree char *out1 = g_build_filename (f->tmp, "run1", NULL);
  g_autofree char *out2 = g_build_filename (f->tmp, "run2", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftCatalogEntry) entry = NULL;
  g_autofree char *bytes1 = NULL, *bytes2 = NULL;
  gsize len1, len2;

  if (!g_file_test (graft_fashion_mnist_default_dir (), G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("Fashion-MNIST is not installed (package dataset-fashion-mnist)");
      return;
    }
  graft_pretrain_options_init (&options);
  options.epochs = 2;
  options.batch_size = 64;
  options.limit = 1024;
  graft_pretrain_run (f->cpu, &options, out1, NULL, NULL, NULL, &first, &error);
  g_assert_no_error (error);
  graft_pretrain_run (f->cpu, &options, out2, NULL, NULL, NULL, &second, &error);
  g_assert_no_error (error);

  g_assert_cmpuint (first.n_train, ==, 1024);
  g_assert_cmpuint (first.n_test, ==, 1024);
  /* 32 steps are enough to beat chance (20 %) by far */
  g_assert_cmpfloat (first.test_accuracy, >, 0.4);
  g_assert_cmpfloat (first.test_accuracy, ==, second.test_accuracy);
  g_file_get_contents (first.weights_path, &bytes1, &len1, &error);
  g_assert_no_error (error);
  g_file_get_contents (second.weights_path, &bytes2, &len2, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (bytes1, len1, bytes2, len2);

  entry = graft_catalog_entry_from_card (first.card_path, GRAFT_CATALOG_LOCAL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (entry->weights_path, ==, first.weights_path);
  g_assert_cmpfloat (entry->accuracy, ==, first.test_accuracy);
  g_assert_cmpuint (entry->in_channels, ==, 1);
  g_assert_cmpuint (entry->image_size, ==, 28);
  g_assert_cmpuint (entry->n_classes, ==, 5);
  g_assert_true (entry->mean[0] > 0.1 && entry->mean[0] < 0.6);
  g_assert_nonnull (strstr (entry->command, "--limit 1024"));
  g_assert_true (graft_catalog_entry_is_available (entry));

  graft_pretrain_result_clear (&first);
  graft_pretrain_result_clear (&second);
}

static void
test_recipe_cancel (Fixture       *f,
                    G_GNUC_UNUSED gconstpointer data)
{
  GraftPretrainOptions options;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autofree char *out = g_build_filename (f->tmp, "cancelled", NULL);
  g_autoptr(GError) error = NULL;

  if (!g_file_test (graft_fashion_mnist_default_dir (), G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("Fashion-MNIST is not installed (package dataset-fashion-mnist)");
      return;
    }
  graft_pretrain_options_init (&options);
  options.limit = 256;
  options.batch_size = 64;
  g_cancellable_cancel (cancellable);
  g_assert_false (graft_pretrain_run (f->cpu, &options, out, NULL, NULL, cancellable, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn) g_test_add (path, Fixture, NULL, fixture_set_up, fn, fixture_tear_down)
  ADD ("/catalog/hub-entries", test_hub_entries);
  ADD ("/catalog/cards", test_cards);
  ADD ("/catalog/find", test_find);
  ADD ("/catalog/bundled", test_bundled);
  ADD ("/catalog/recipe", test_recipe);
  ADD ("/catalog/recipe-cancel", test_recipe_cancel);
#undef ADD

  return g_test_run ();
}
