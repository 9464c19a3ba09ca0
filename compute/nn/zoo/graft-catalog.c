/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

#include <json-c/json.h>
#include <string.h>

#include "graft-config.h"
#include "graft-catalog.h"

#define CARD_SUFFIX ".json"

static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
static const float half_mean[3] = { 0.5f, 0.5f, 0.5f };

/* ImageNet-1k weights on the Hugging Face hub, published by timm in safetensors. Their
 * SHA-256 is not published next to the address, so the download takes it from the hub's
 * answer (X-Linked-ETag of the Git LFS object). Parameters and multiply-accumulates are
 * those of Graft's graph of the architecture at 224 pixels with 1000 classes (checked
 * against the graph by test-catalog). */
typedef struct {
  const char  *name;
  const char  *title;
  const char  *arch;
  const char  *licence;
  const float *mean;
  const float *std;
  guint64      parameters;
  double       gmacs;
} HubModel;

static const HubModel hub_models[] = {
  { "resnet18.a1_in1k", "ResNet-18", "resnet18", "Apache-2.0",
    imagenet_mean, imagenet_std, 11689512, 1.814 },
  { "resnet34.a1_in1k", "ResNet-34", "resnet34", "Apache-2.0",
    imagenet_mean, imagenet_std, 21797672, 3.664 },
  { "resnet50.a1_in1k", "ResNet-50", "resnet50", "Apache-2.0",
    imagenet_mean, imagenet_std, 25557032, 4.089 },
  { "mobilenetv2_100.ra_in1k", "MobileNet V2", "mobilenet_v2", "Apache-2.0",
    imagenet_mean, imagenet_std, 3504872, 0.301 },
  { "mobilenetv3_large_100.ra_in1k", "MobileNet V3 (large)", "mobilenet_v3_large", "Apache-2.0",
    imagenet_mean, imagenet_std, 5483032, 0.217 },
  { "mobilenetv3_small_100.lamb_in1k", "MobileNet V3 (small)", "mobilenet_v3_small", "Apache-2.0",
    imagenet_mean, imagenet_std, 2542856, 0.057 },
  { "efficientnet_b0.ra_in1k", "EfficientNet-B0", "efficientnet_b0", "Apache-2.0",
    imagenet_mean, imagenet_std, 5288548, 0.386 },
  { "vit_tiny_patch16_224.augreg_in21k_ft_in1k", "Vision Transformer (tiny, 16×16 patches)",
    "vit_tiny", "Apache-2.0", half_mean, half_mean, 5717416, 1.254 },
};

/* $GRAFT_HUB_URL replaces the hub's address with a mirror's that has the same layout. */
#define HUB_DEFAULT "https://huggingface.co"
#define HUB_ADDRESS "%s/timm/%s/resolve/main/model.safetensors"

void
graft_catalog_entry_free (GraftCatalogEntry *entry)
{
  if (entry == NULL)
    return;
  g_free (entry->name);
  g_free (entry->title);
  g_free (entry->arch);
  g_free (entry->dataset);
  g_strfreev (entry->class_names);
  g_free (entry->licence);
  g_free (entry->accuracy_on);
  g_free (entry->weights_path);
  g_free (entry->url);
  g_free (entry->sha256);
  g_free (entry->card_path);
  g_free (entry->command);
  g_free (entry->graft_version);
  g_free (entry);
}

GraftCatalogEntry *
graft_catalog_entry_copy (const GraftCatalogEntry *entry)
{
  GraftCatalogEntry *copy;

  g_return_val_if_fail (entry != NULL, NULL);

  copy = g_memdup2 (entry, sizeof *entry);
  copy->name = g_strdup (entry->name);
  copy->title = g_strdup (entry->title);
  copy->arch = g_strdup (entry->arch);
  copy->dataset = g_strdup (entry->dataset);
  copy->class_names = g_strdupv (entry->class_names);
  copy->licence = g_strdup (entry->licence);
  copy->accuracy_on = g_strdup (entry->accuracy_on);
  copy->weights_path = g_strdup (entry->weights_path);
  copy->url = g_strdup (entry->url);
  copy->sha256 = g_strdup (entry->sha256);
  copy->card_path = g_strdup (entry->card_path);
  copy->command = g_strdup (entry->command);
  copy->graft_version = g_strdup (entry->graft_version);
  return copy;
}

const char *
graft_catalog_source_to_string (GraftCatalogSource source)
{
  switch (source)
    {
    case GRAFT_CATALOG_BUNDLED: return "bundled";
    case GRAFT_CATALOG_LOCAL: return "local";
    case GRAFT_CATALOG_HUB: return "download";
    default: return "unknown";
    }
}

gboolean
graft_catalog_entry_is_available (const GraftCatalogEntry *entry)
{
  g_return_val_if_fail (entry != NULL, FALSE);
  return entry->weights_path != NULL &&
         g_file_test (entry->weights_path, G_FILE_TEST_IS_REGULAR);
}

/* ---- model cards ------------------------------------------------------------------- */

static gboolean
card_field (json_object  *card,
            const char   *card_path,
            const char   *key,
            json_type     type,
            json_object **value,
            GError      **error)
{
  if (!json_object_object_get_ex (card, key, value) || !json_object_is_type (*value, type) ||
      (type == json_type_double && !json_object_is_type (*value, json_type_int)
       && !json_object_is_type (*value, json_type_double)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s: “%s” is missing or not a %s", card_path, key,
                   json_type_to_name (type));
      return FALSE;
    }
  return TRUE;
}

/* json-c calls an integer literal an int; a number field accepts both. */
static gboolean
card_number (json_object  *card,
             const char   *card_path,
             const char   *key,
             double        min,
             double        max,
             double       *out,
             GError      **error)
{
  json_object *value;

  if (!json_object_object_get_ex (card, key, &value) ||
      !(json_object_is_type (value, json_type_int) || json_object_is_type (value, json_type_double)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s: “%s” is missing or not a number", card_path, key);
      return FALSE;
    }
  *out = json_object_get_double (value);
  if (!(*out >= min && *out <= max))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s: “%s” is %g, outside %g … %g", card_path, key, *out, min, max);
      return FALSE;
    }
  return TRUE;
}

static char *
card_string (json_object *card,
             const char  *key)
{
  json_object *value;

  if (json_object_object_get_ex (card, key, &value) && json_object_is_type (value, json_type_string))
    return g_strdup (json_object_get_string (value));
  return NULL;
}

GraftCatalogEntry *
graft_catalog_entry_from_card (const char         *card_path,
                               GraftCatalogSource  source,
                               GError            **error)
{
  g_autoptr(GraftCatalogEntry) entry = g_new0 (GraftCatalogEntry, 1);
  g_autofree char *text = NULL;
  g_autofree char *folder = NULL;
  g_autofree char *weights = NULL;
  json_object *card, *value, *input, *list;
  json_tokener *tokener;
  enum json_tokener_error jerr;
  double number;
  gsize length;
  gboolean ok = FALSE;

  g_return_val_if_fail (card_path != NULL, NULL);

  if (!g_file_get_contents (card_path, &text, &length, error))
    return NULL;
  tokener = json_tokener_new ();
  card = json_tokener_parse_ex (tokener, text, (int) MIN (length, (gsize) G_MAXINT));
  jerr = json_tokener_get_error (tokener);
  json_tokener_free (tokener);
  if (card == NULL || jerr != json_tokener_success || !json_object_is_type (card, json_type_object))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s is not a JSON object (%s)", card_path,
                   card == NULL || jerr != json_tokener_success
                     ? json_tokener_error_desc (jerr) : "another JSON value");
      json_object_put (card);
      return NULL;
    }

  if (!card_field (card, card_path, "name", json_type_string, &value, error))
    goto out;
  entry->name = g_strdup (json_object_get_string (value));
  if (!card_field (card, card_path, "arch", json_type_string, &value, error))
    goto out;
  entry->arch = g_strdup (json_object_get_string (value));
  if (!card_field (card, card_path, "weights", json_type_string, &value, error))
    goto out;
  weights = g_strdup (json_object_get_string (value));
  if (strchr (weights, '/') != NULL || weights[0] == '.' || weights[0] == '\0')
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s: “weights” must name a file in the card's folder, not “%s”",
                   card_path, weights);
      goto out;
    }
  folder = g_path_get_dirname (card_path);
  entry->weights_path = g_build_filename (folder, weights, NULL);
  entry->card_path = g_strdup (card_path);
  entry->source = source;

  /* "classes": the names, or only their number where the card does not list them */
  if (json_object_object_get_ex (card, "classes", &list) && json_object_is_type (list, json_type_int))
    {
      int n = json_object_get_int (list);

      if (n < 1 || n > 100000)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Model card %s: “classes” is %d", card_path, n);
          goto out;
        }
      entry->n_classes = (guint) n;
    }
  else
    {
      if (!card_field (card, card_path, "classes", json_type_array, &list, error))
        goto out;
      entry->n_classes = (guint) json_object_array_length (list);
      if (entry->n_classes == 0)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Model card %s: “classes” is empty", card_path);
          goto out;
        }
      entry->class_names = g_new0 (char *, entry->n_classes + 1);
      for (guint i = 0; i < entry->n_classes; i++)
        {
          json_object *name = json_object_array_get_idx (list, i);

          if (!json_object_is_type (name, json_type_string))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Model card %s: class %u is not a name", card_path, i);
              goto out;
            }
          entry->class_names[i] = g_strdup (json_object_get_string (name));
        }
    }

  if (!card_field (card, card_path, "input", json_type_object, &input, error) ||
      !card_number (input, card_path, "channels", 1, 3, &number, error))
    goto out;
  entry->in_channels = (guint) number;
  if (!card_field (input, card_path, "size", json_type_array, &list, error) ||
      json_object_array_length (list) != 2 ||
      json_object_get_int (json_object_array_get_idx (list, 0)) !=
      json_object_get_int (json_object_array_get_idx (list, 1)) ||
      json_object_get_int (json_object_array_get_idx (list, 0)) < 8 ||
      json_object_get_int (json_object_array_get_idx (list, 0)) > 4096)
    {
      g_clear_error (error);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Model card %s: input “size” must be [S, S] with 8 ≤ S ≤ 4096", card_path);
      goto out;
    }
  entry->image_size = (guint) json_object_get_int (json_object_array_get_idx (list, 0));
  for (guint k = 0; k < 2; k++)
    {
      const char *key = k == 0 ? "mean" : "std";
      float *out = k == 0 ? entry->mean : entry->std;

      if (!card_field (input, card_path, key, json_type_array, &list, error) ||
          json_object_array_length (list) != entry->in_channels)
        {
          g_clear_error (error);
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "Model card %s: input “%s” needs one value per channel", card_path, key);
          goto out;
        }
      for (guint c = 0; c < entry->in_channels; c++)
        {
          out[c] = (float) json_object_get_double (json_object_array_get_idx (list, c));
          if (k == 1 && !(out[c] > 0.0f))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "Model card %s: input “std” must be positive", card_path);
              goto out;
            }
        }
    }

  entry->accuracy = -1.0;
  if (json_object_object_get_ex (card, "source_test_accuracy", NULL) &&
      !card_number (card, card_path, "source_test_accuracy", 0.0, 1.0, &entry->accuracy, error))
    goto out;
  if (!card_number (card, card_path, "parameters", 1, 1e12, &number, error))
    goto out;
  entry->parameters = (guint64) number;
  entry->gmacs = card_number (card, card_path, "gmacs", 0, 1e6, &number, NULL) ? number : -1.0;

  entry->title = card_string (card, "title");
  if (entry->title == NULL)
    entry->title = g_strdup (entry->name);
  entry->dataset = card_string (card, "dataset");
  entry->licence = card_string (card, "licence");
  entry->graft_version = card_string (card, "graft_version");
  if (json_object_object_get_ex (card, "source_test_images", &value))
    entry->accuracy_on = g_strdup_printf ("%s test set, %d images",
                                          entry->dataset ? entry->dataset : "source",
                                          json_object_get_int (value));
  if (json_object_object_get_ex (card, "recipe", &value) && json_object_is_type (value, json_type_object))
    entry->command = card_string (value, "command");
  ok = TRUE;

out:
  json_object_put (card);
  return ok ? g_steal_pointer (&entry) : NULL;
}

/* ---- the list ---------------------------------------------------------------------- */

char *
graft_catalog_get_bundled_dir (void)
{
  const char *env = g_getenv ("GRAFT_MODELS_DIR");
  g_autofree char *installed = g_build_filename (GRAFT_DATADIR, "models", NULL);

  if (env != NULL && env[0] != '\0')
    return g_strdup (env);
  if (g_file_test (installed, G_FILE_TEST_IS_DIR))
    return g_steal_pointer (&installed);
  return g_build_filename (GRAFT_SOURCE_DATADIR, "models", NULL);
}

char *
graft_catalog_get_user_dir (void)
{
  return g_build_filename (g_get_user_data_dir (), "graft", "models", NULL);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The cards in @dir, sorted by file name; names already in @seen are skipped (a user's
 * model shadows a bundled one of the same name). */
static void
add_cards (GPtrArray          *entries,
           GHashTable         *seen,
           const char         *dir,
           GraftCatalogSource  source,
           GPtrArray          *problems)
{
  g_autoptr(GDir) folder = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (folder == NULL)
    return;
  while ((name = g_dir_read_name (folder)) != NULL)
    if (g_str_has_suffix (name, CARD_SUFFIX))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);

  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
      g_autoptr(GError) error = NULL;
      GraftCatalogEntry *entry = graft_catalog_entry_from_card (path, source, &error);

      if (entry == NULL)
        {
          if (problems != NULL)
            g_ptr_array_add (problems, g_strdup (error->message));
          continue;
        }
      if (g_hash_table_contains (seen, entry->name))
        {
          graft_catalog_entry_free (entry);
          continue;
        }
      g_hash_table_add (seen, g_strdup (entry->name));
      g_ptr_array_add (entries, entry);
    }
}

GPtrArray *
graft_catalog_list (GPtrArray **problems)
{
  GPtrArray *entries = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_catalog_entry_free);
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autofree char *user_dir = graft_catalog_get_user_dir ();
  g_autofree char *bundled_dir = graft_catalog_get_bundled_dir ();
  g_autofree char *cache = graft_download_cache_dir ();
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  add_cards (entries, seen, user_dir, GRAFT_CATALOG_LOCAL, found);
  add_cards (entries, seen, bundled_dir, GRAFT_CATALOG_BUNDLED, found);
  /* Bundled first, then the user's own, then the hub. */
  for (guint i = 0, front = 0; i < entries->len; i++)
    {
      GraftCatalogEntry *entry = g_ptr_array_index (entries, i);

      if (entry->source == GRAFT_CATALOG_BUNDLED)
        {
          g_ptr_array_steal_index (entries, i);
          g_ptr_array_insert (entries, (int) front++, entry);
        }
    }

  const char *hub = g_getenv ("GRAFT_HUB_URL");
  g_autofree char *hub_base = g_strdup (hub != NULL && hub[0] != '\0' ? hub : HUB_DEFAULT);

  while (g_str_has_suffix (hub_base, "/"))
    hub_base[strlen (hub_base) - 1] = '\0';
  for (guint i = 0; i < G_N_ELEMENTS (hub_models); i++)
    {
      const HubModel *model = &hub_models[i];
      GraftCatalogEntry *entry = g_new0 (GraftCatalogEntry, 1);
      g_autofree char *file = g_strconcat (model->name, ".safetensors", NULL);

      entry->name = g_strdup (model->name);
      entry->title = g_strdup (model->title);
      entry->arch = g_strdup (model->arch);
      entry->dataset = g_strdup ("ImageNet-1k");
      entry->n_classes = 1000;
      entry->image_size = 224;
      entry->in_channels = 3;
      memcpy (entry->mean, model->mean, sizeof entry->mean);
      memcpy (entry->std, model->std, sizeof entry->std);
      entry->licence = g_strdup (model->licence);
      entry->parameters = model->parameters;
      entry->gmacs = model->gmacs;
      entry->accuracy = -1.0;
      entry->source = GRAFT_CATALOG_HUB;
      entry->weights_path = g_build_filename (cache, file, NULL);
      entry->url = g_strdup_printf (HUB_ADDRESS, hub_base, model->name);
      g_ptr_array_add (entries, entry);
    }

  if (problems != NULL)
    *problems = found;
  else
    g_ptr_array_unref (found);
  return entries;
}

GraftCatalogEntry *
graft_catalog_find (const char  *name,
                    GError     **error)
{
  g_autoptr(GPtrArray) entries = graft_catalog_list (NULL);
  g_autoptr(GString) names = g_string_new (NULL);

  g_return_val_if_fail (name != NULL, NULL);

  for (guint i = 0; i < entries->len; i++)
    {
      GraftCatalogEntry *entry = g_ptr_array_index (entries, i);

      if (g_str_equal (entry->name, name))
        return g_ptr_array_steal_index (entries, i);
      g_string_append_printf (names, "%s%s", i > 0 ? ", " : "", entry->name);
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
               "The catalog has no model “%s”; it has %s", name, names->str);
  return NULL;
}

gboolean
graft_catalog_fetch (const GraftCatalogEntry *entry,
                     gboolean                *verified,
                     GraftDownloadProgress    progress,
                     gpointer                 user_data,
                     GCancellable            *cancellable,
                     GError                 **error)
{
  g_return_val_if_fail (entry != NULL, FALSE);

  if (verified != NULL)
    *verified = FALSE;
  if (entry->source != GRAFT_CATALOG_HUB)
    {
      if (graft_catalog_entry_is_available (entry))
        {
          if (verified != NULL)
            *verified = TRUE;
          return TRUE;
        }
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "The weights of %s are missing: %s (its model card is %s)", entry->name,
                   entry->weights_path, entry->card_path);
      return FALSE;
    }
  if (graft_catalog_entry_is_available (entry))
    return TRUE;
  return graft_download_file (entry->url, entry->weights_path, entry->sha256, entry->size,
                              verified, progress, user_data, cancellable, error);
}
