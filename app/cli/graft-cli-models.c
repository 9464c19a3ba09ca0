/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli models: the catalog (compute/nn/zoo/graft-catalog.h) and fetching weights. */

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "graft-config.h"
#include "graft.h"
#include "graft-cli-private.h"

static json_object *
float_array (const float *values,
             guint        n)
{
  json_object *array = json_object_new_array ();

  for (guint i = 0; i < n; i++)
    json_object_array_add (array, json_object_new_double (values[i]));
  return array;
}

static json_object *
entry_to_json (const GraftCatalogEntry *entry)
{
  json_object *o = json_object_new_object ();

  json_object_object_add (o, "name", json_object_new_string (entry->name));
  json_object_object_add (o, "title", json_object_new_string (entry->title));
  json_object_object_add (o, "arch", json_object_new_string (entry->arch));
  json_object_object_add (o, "source", json_object_new_string (graft_catalog_source_to_string (entry->source)));
  json_object_object_add (o, "dataset", entry->dataset ? json_object_new_string (entry->dataset) : NULL);
  json_object_object_add (o, "classes", json_object_new_int ((int) entry->n_classes));
  if (entry->class_names != NULL)
    {
      json_object *names = json_object_new_array ();

      for (guint i = 0; entry->class_names[i] != NULL; i++)
        json_object_array_add (names, json_object_new_string (entry->class_names[i]));
      json_object_object_add (o, "class_names", names);
    }
  json_object_object_add (o, "image_size", json_object_new_int ((int) entry->image_size));
  json_object_object_add (o, "in_channels", json_object_new_int ((int) entry->in_channels));
  json_object_object_add (o, "mean", float_array (entry->mean, entry->in_channels));
  json_object_object_add (o, "std", float_array (entry->std, entry->in_channels));
  json_object_object_add (o, "licence", entry->licence ? json_object_new_string (entry->licence) : NULL);
  json_object_object_add (o, "parameters", json_object_new_int64 ((int64_t) entry->parameters));
  json_object_object_add (o, "gmacs", entry->gmacs >= 0 ? json_object_new_double (entry->gmacs) : NULL);
  json_object_object_add (o, "source_test_accuracy",
                          entry->accuracy >= 0 ? json_object_new_double (entry->accuracy) : NULL);
  if (entry->accuracy_on != NULL)
    json_object_object_add (o, "accuracy_on", json_object_new_string (entry->accuracy_on));
  json_object_object_add (o, "weights", json_object_new_string (entry->weights_path));
  json_object_object_add (o, "available", json_object_new_boolean (graft_catalog_entry_is_available (entry)));
  if (entry->url != NULL)
    json_object_object_add (o, "url", json_object_new_string (entry->url));
  json_object_object_add (o, "size", entry->size > 0 ? json_object_new_int64 ((int64_t) entry->size) : NULL);
  json_object_object_add (o, "sha256", entry->sha256 ? json_object_new_string (entry->sha256) : NULL);
  if (entry->card_path != NULL)
    json_object_object_add (o, "card", json_object_new_string (entry->card_path));
  if (entry->command != NULL)
    json_object_object_add (o, "command", json_object_new_string (entry->command));
  if (entry->graft_version != NULL)
    json_object_object_add (o, "graft_version", json_object_new_string (entry->graft_version));
  return o;
}

static void
print_entry (const GraftCatalogEntry *entry)
{
  printf ("%s — %s [%s%s]\n", entry->name, entry->title,
          graft_catalog_source_to_string (entry->source),
          entry->source == GRAFT_CATALOG_HUB && graft_catalog_entry_is_available (entry)
            ? ", downloaded" : "");
  printf ("    architecture %s, %.1f M parameters", entry->arch, entry->parameters / 1e6);
  if (entry->gmacs >= 0)
    printf (", %.3g G multiply-adds at %u×%u", entry->gmacs, entry->image_size, entry->image_size);
  printf ("\n    trained on %s: %u classes at %u×%u, %u channel%s\n",
          entry->dataset ? entry->dataset : "(not stated)", entry->n_classes, entry->image_size,
          entry->image_size, entry->in_channels, entry->in_channels == 1 ? "" : "s");
  if (entry->class_names != NULL)
    {
      g_autofree char *names = g_strjoinv (", ", entry->class_names);
      printf ("    classes: %s\n", names);
    }
  printf ("    normalisation: mean");
  for (guint c = 0; c < entry->in_channels; c++)
    printf (" %.4g", (double) entry->mean[c]);
  printf (", std");
  for (guint c = 0; c < entry->in_channels; c++)
    printf (" %.4g", (double) entry->std[c]);
  printf ("\n");
  if (entry->accuracy >= 0)
    printf ("    source test accuracy: %.2f%%%s%s%s\n", 100.0 * entry->accuracy,
            entry->accuracy_on ? " (" : "", entry->accuracy_on ? entry->accuracy_on : "",
            entry->accuracy_on ? ")" : "");
  if (entry->licence != NULL)
    printf ("    licence: %s\n", entry->licence);
  if (entry->command != NULL)
    printf ("    recipe: %s%s%s%s\n", entry->command,
            entry->graft_version ? " (Graft " : "", entry->graft_version ? entry->graft_version : "", entry->graft_version ? ")" : "");
  if (entry->url != NULL)
    printf ("    weights: %s\n", entry->url);
  else
    printf ("    weights: %s\n", entry->weights_path);
}

static int
list_models (GraftCliGlobals *globals,
             const char      *only)
{
  g_autoptr(GPtrArray) problems = NULL;
  g_autoptr(GPtrArray) entries = graft_catalog_list (&problems);
  json_object *array = json_object_new_array ();
  gboolean found = only == NULL;

  for (guint i = 0; i < problems->len; i++)
    _graft_cli_error ("%s (left out)", (const char *) g_ptr_array_index (problems, i));
  for (guint i = 0; i < entries->len; i++)
    {
      const GraftCatalogEntry *entry = g_ptr_array_index (entries, i);

      if (only != NULL && !g_str_equal (only, entry->name))
        continue;
      found = TRUE;
      if (globals->json)
        json_object_array_add (array, entry_to_json (entry));
      else
        {
          print_entry (entry);
          printf ("\n");
        }
    }
  if (globals->json)
    printf ("%s\n", json_object_to_json_string_ext (array, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (array);
  if (!found)
    {
      _graft_cli_error ("the catalog has no model “%s” (see graft-cli models)", only);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  return GRAFT_CLI_EXIT_OK;
}

typedef struct {
  gboolean terminal;
  gint64   last;
} FetchProgress;

static void
on_fetch_progress (guint64  received,
                   guint64  total,
                   gpointer user_data)
{
  FetchProgress *p = user_data;

  if (!p->terminal)
    return;
  if (total > 0)
    fprintf (stderr, "\r%.1f of %.1f MB (%.0f%%) ", received / 1e6, total / 1e6,
             100.0 * received / total);
  else
    fprintf (stderr, "\r%.1f MB ", received / 1e6);
  fflush (stderr);
}

static int
fetch_model (GraftCliGlobals *globals,
             const char      *name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftCatalogEntry) entry = graft_catalog_find (name, &error);
  FetchProgress progress = { isatty (STDERR_FILENO), 0 };
  gboolean was_there, verified = FALSE;

  if (entry == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  was_there = graft_catalog_entry_is_available (entry);
  if (!graft_catalog_fetch (entry, &verified, on_fetch_progress, &progress, NULL, &error))
    {
      if (progress.terminal)
        fprintf (stderr, "\n");
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (progress.terminal)
    fprintf (stderr, "\n");
  if (globals->json)
    {
      json_object *o = entry_to_json (entry);
      printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (o);
    }
  else if (was_there)
    printf ("%s: already here, %s\n", entry->name, entry->weights_path);
  else
    printf ("%s: %s (%s)\n", entry->name, entry->weights_path,
            verified ? "SHA-256 verified" : "no checksum was published: not verified");
  return GRAFT_CLI_EXIT_OK;
}

/* ---- models import ------------------------------------------------------------------ */

static gboolean
parse_floats (const char *text,
              guint       n,
              float      *out,
              GError    **error)
{
  g_auto(GStrv) parts = g_strsplit (text, ",", -1);

  if (g_strv_length (parts) != n)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” needs %u comma-separated values, one per input channel", text, n);
      return FALSE;
    }
  for (guint i = 0; i < n; i++)
    {
      char *end = NULL;
      double v = g_ascii_strtod (parts[i], &end);

      if (end == parts[i] || *end != '\0' || !(v > -10.0 && v < 10.0))
        {
          g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                       "“%s” in “%s” is not a number", parts[i], text);
          return FALSE;
        }
      out[i] = (float) v;
    }
  return TRUE;
}

typedef struct {
  char   *arch;
  char   *name;
  char   *title;
  char   *dataset;
  char   *licence;
  char   *mean;
  char   *std;
  gint    size;
} ImportOptions;

static gboolean
import_model (GraftCliGlobals     *globals,
              const char          *path,
              const ImportOptions *opts,
              GError             **error)
{
  static const float imagenet_mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float imagenet_std[3] = { 0.229f, 0.224f, 0.225f };
  g_auto(GraftZooImportInfo) info = { 0 };
  g_autoptr(GraftWeights) weights = NULL;
  g_autofree char *base = NULL;
  g_autofree char *name = NULL;
  g_autofree char *dir = graft_catalog_get_user_dir ();
  g_autofree char *weights_file = NULL;
  g_autofree char *weights_path = NULL;
  g_autofree char *card_path = NULL;
  g_autoptr(GraftCatalogEntry) check = NULL;
  json_object *card, *input, *size;
  float mean[3], std[3];
  guint64 parameters = 0;
  guint image_size;
  gboolean ok;

  weights = graft_zoo_import (path, opts->arch, &info, error);
  if (weights == NULL)
    return FALSE;
  if (info.in_channels > 3)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s takes %u input channels; the catalog holds models of 1 to 3", path,
                   info.in_channels);
      return FALSE;
    }

  if (opts->name != NULL)
    name = g_strdup (opts->name);
  else
    {
      base = g_path_get_basename (path);
      if (g_str_has_suffix (base, ".safetensors"))
        base[strlen (base) - strlen (".safetensors")] = '\0';
      name = g_strdup (base);
    }
  if (name[0] == '\0' || name[0] == '.' || strchr (name, '/') != NULL)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "“%s” cannot name a model (give one with --name)", name);
      return FALSE;
    }

  image_size = opts->size > 0 ? (guint) opts->size : info.image_size > 0 ? info.image_size : 224;
  if (info.image_size > 0 && image_size != info.image_size)
    {
      g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                   "The position embeddings of %s cover %u-pixel images, not %u", path,
                   info.image_size, image_size);
      return FALSE;
    }
  graft_zoo_adapt_normalisation (3, imagenet_mean, imagenet_std, info.in_channels, mean, std);
  if ((opts->mean != NULL && !parse_floats (opts->mean, info.in_channels, mean, error)) ||
      (opts->std != NULL && !parse_floats (opts->std, info.in_channels, std, error)))
    return FALSE;

  for (guint i = 0; i < graft_weights_get_n (weights); i++)
    {
      GraftWeightsEntry *entry = graft_weights_get (weights, i);

      if (!g_str_has_suffix (entry->name, "running_mean") &&
          !g_str_has_suffix (entry->name, "running_var"))
        parameters += entry->n_elements;
    }

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved), "Could not create %s: %s",
                   dir, g_strerror (saved));
      return FALSE;
    }
  weights_file = g_strconcat (name, ".safetensors", NULL);
  weights_path = g_build_filename (dir, weights_file, NULL);
  card_path = g_strconcat (dir, G_DIR_SEPARATOR_S, name, ".json", NULL);
  graft_weights_set_metadata (weights, "arch", info.arch);
  if (!graft_weights_save (weights, weights_path, FALSE, error))
    return FALSE;

  card = json_object_new_object ();
  input = json_object_new_object ();
  size = json_object_new_array ();
  json_object_array_add (size, json_object_new_int ((int) image_size));
  json_object_array_add (size, json_object_new_int ((int) image_size));
  json_object_object_add (input, "channels", json_object_new_int ((int) info.in_channels));
  json_object_object_add (input, "size", size);
  json_object_object_add (input, "mean", float_array (mean, info.in_channels));
  json_object_object_add (input, "std", float_array (std, info.in_channels));
  json_object_object_add (card, "name", json_object_new_string (name));
  json_object_object_add (card, "title", json_object_new_string (opts->title ? opts->title : name));
  json_object_object_add (card, "arch", json_object_new_string (info.arch));
  json_object_object_add (card, "weights", json_object_new_string (weights_file));
  json_object_object_add (card, "classes", json_object_new_int ((int) info.n_classes));
  json_object_object_add (card, "parameters", json_object_new_int64 ((int64_t) parameters));
  json_object_object_add (card, "input", input);
  json_object_object_add (card, "dataset", json_object_new_string (opts->dataset ? opts->dataset : "not stated"));
  if (opts->licence != NULL)
    json_object_object_add (card, "licence", json_object_new_string (opts->licence));
  json_object_object_add (card, "imported_from", json_object_new_string (path));
  json_object_object_add (card, "naming", json_object_new_string (info.naming));
  json_object_object_add (card, "graft_version", json_object_new_string (GRAFT_VERSION));
  ok = g_file_set_contents (card_path, json_object_to_json_string_ext (card, JSON_C_TO_STRING_PRETTY |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE),
                            -1, error);
  json_object_put (card);
  if (!ok)
    return FALSE;

  /* What the catalog will show. */
  check = graft_catalog_entry_from_card (card_path, GRAFT_CATALOG_LOCAL, error);
  if (check == NULL)
    return FALSE;
  if (globals->json)
    {
      json_object *o = entry_to_json (check);

      json_object_object_add (o, "naming", json_object_new_string (info.naming));
      json_object_object_add (o, "renamed", json_object_new_int ((int) info.n_renamed));
      json_object_object_add (o, "reshaped", json_object_new_int ((int) info.n_reshaped));
      printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (o);
    }
  else
    {
      printf ("Imported %s as %s: %s%s, %s names", path, name, info.arch,
              opts->arch == NULL ? " (recognised from its tensors)" : "", info.naming);
      if (info.n_renamed > 0)
        printf (" (%u renamed, %u reshaped)", info.n_renamed, info.n_reshaped);
      printf (", %u classes, %u input channel%s.\n\n", info.n_classes, info.in_channels,
              info.in_channels == 1 ? "" : "s");
      print_entry (check);
    }
  return TRUE;
}

/* ---- models check --------------------------------------------------------------------- */

/* Channels and size of a PNG from its header; FALSE for anything else. */
static gboolean
png_header (const char *path,
            guint      *channels,
            guint      *width,
            guint      *height)
{
  static const guint8 signature[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  guint8 head[26];
  FILE *file = fopen (path, "rb");
  gsize n;

  if (file == NULL)
    return FALSE;
  n = fread (head, 1, sizeof head, file);
  fclose (file);
  if (n != sizeof head || memcmp (head, signature, 8) != 0 || memcmp (head + 12, "IHDR", 4) != 0)
    return FALSE;
  *width = GUINT32_FROM_BE (*(guint32 *) (head + 16));
  *height = GUINT32_FROM_BE (*(guint32 *) (head + 20));
  *channels = head[25] == 0 || head[25] == 4 ? 1 : 3;   /* grey (with alpha), else colour */
  return TRUE;
}

/* Classes, channels and image size of a folder of class folders (or its train/ folder). */
static gboolean
inspect_dataset (const char *path,
                 guint      *classes,
                 guint      *channels,
                 guint      *size,
                 GError    **error)
{
  g_autofree char *train = g_build_filename (path, "train", NULL);
  const char *root = g_file_test (train, G_FILE_TEST_IS_DIR) ? train : path;
  g_autoptr(GDir) dir = g_dir_open (root, 0, error);
  const char *name;
  gboolean seen_image = FALSE;

  if (dir == NULL)
    return FALSE;
  *classes = 0;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *class_dir = g_build_filename (root, name, NULL);
      g_autoptr(GDir) images = NULL;
      const char *file;

      if (name[0] == '.' || !g_file_test (class_dir, G_FILE_TEST_IS_DIR))
        continue;
      (*classes)++;
      images = g_dir_open (class_dir, 0, NULL);
      while (!seen_image && images != NULL && (file = g_dir_read_name (images)) != NULL)
        {
          g_autofree char *image = g_build_filename (class_dir, file, NULL);
          guint w, h;

          if (png_header (image, channels, &w, &h))
            {
              *size = MAX (w, h);
              seen_image = TRUE;
            }
        }
    }
  if (*classes == 0 || !seen_image)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "%s holds no class folders with PNG images", root);
      return FALSE;
    }
  return TRUE;
}

typedef struct {
  char   *dataset;
  gint    classes;
  gint    channels;
  gint    size;
  char   *head;
  gint    hidden;
} CheckOptions;

static int
check_model (GraftCliGlobals    *globals,
             const char         *name,
             const CheckOptions *opts)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftCatalogEntry) entry = graft_catalog_find (name, &error);
  g_auto(GraftZooAdaptReport) report;
  g_autofree char *text = NULL;
  GraftZooSource source;
  GraftZooOptions target;
  guint classes = 0, channels = 0, size = 0;
  gboolean fits;

  graft_zoo_adapt_report_init (&report);
  if (entry == NULL)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (opts->dataset != NULL && !inspect_dataset (opts->dataset, &classes, &channels, &size, &error))
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (opts->classes > 0)
    classes = (guint) opts->classes;
  if (opts->channels > 0)
    channels = (guint) opts->channels;
  if (opts->size > 0)
    size = (guint) opts->size;
  if (classes == 0)
    {
      _graft_cli_error ("say how many classes the task has (--classes N) or give --dataset DIR");
      return GRAFT_CLI_EXIT_USAGE;
    }

  graft_zoo_source_init (&source);
  source.n_classes = entry->n_classes;
  source.in_channels = entry->in_channels;
  source.image_size = entry->image_size;
  graft_zoo_options_init (&target);
  target.n_classes = classes;
  target.in_channels = channels > 0 ? channels : entry->in_channels;
  target.image_size = size > 0 ? size : entry->image_size;
  if (opts->head != NULL && g_str_equal (opts->head, "mlp"))
    {
      target.head = GRAFT_ZOO_HEAD_MLP;
      if (opts->hidden > 0)
        target.head_hidden = (guint) opts->hidden;
    }
  else if (opts->head != NULL && !g_str_equal (opts->head, "linear"))
    {
      _graft_cli_error ("--head is linear or mlp, not “%s”", opts->head);
      return GRAFT_CLI_EXIT_USAGE;
    }

  fits = graft_zoo_check_fit (entry->arch, &source, &target, &report, &error);
  text = graft_zoo_adapt_report_to_string (&report);
  if (globals->json)
    {
      json_object *o = json_object_new_object ();
      json_object *lines = json_object_new_array ();
      static const char *const kinds[] = { "adapt", "note", "warning", "error" };

      for (guint i = 0; i < report.lines->len; i++)
        {
          const GraftZooFitLine *line = g_ptr_array_index (report.lines, i);
          json_object *l = json_object_new_object ();

          json_object_object_add (l, "kind", json_object_new_string (kinds[line->kind]));
          json_object_object_add (l, "text", json_object_new_string (line->text));
          json_object_array_add (lines, l);
        }
      json_object_object_add (o, "model", json_object_new_string (entry->name));
      json_object_object_add (o, "fits", json_object_new_boolean (fits));
      json_object_object_add (o, "classes", json_object_new_int ((int) target.n_classes));
      json_object_object_add (o, "channels", json_object_new_int ((int) target.in_channels));
      json_object_object_add (o, "image_size", json_object_new_int ((int) target.image_size));
      json_object_object_add (o, "head_parameters", json_object_new_int64 ((int64_t) report.n_head_params));
      json_object_object_add (o, "adaptations", lines);
      printf ("%s\n", json_object_to_json_string_ext (o, JSON_C_TO_STRING_PRETTY |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (o);
    }
  else
    {
      printf ("%s (%s: %u classes, %u channel%s, %u×%u) for a task of %u classes, %u channel%s, "
              "%u×%u:\n", entry->name, entry->arch, entry->n_classes, entry->in_channels,
              entry->in_channels == 1 ? "" : "s", entry->image_size, entry->image_size,
              target.n_classes, target.in_channels, target.in_channels == 1 ? "" : "s",
              target.image_size, target.image_size);
      printf ("%s\n", text);
    }
  if (!fits)
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  return GRAFT_CLI_EXIT_OK;
}

int
_graft_cli_models (GraftCliGlobals  *globals,
                   int               argc,
                   char            **argv)
{
  g_autoptr(GError) error = NULL;
  ImportOptions import = { 0 };
  CheckOptions check = { 0 };
  int status = GRAFT_CLI_EXIT_USAGE;
  const GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &import.arch, "import: the architecture (default: recognised from the tensors)", "NAME" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &import.name, "import: the name in the catalog (default: the file's)", "NAME" },
    { "title", 0, 0, G_OPTION_ARG_STRING, &import.title, "import: a title to show", "TEXT" },
    { "trained-on", 0, 0, G_OPTION_ARG_STRING, &import.dataset, "import: what the weights were trained on", "TEXT" },
    { "licence", 0, 0, G_OPTION_ARG_STRING, &import.licence, "import: the weights' licence", "TEXT" },
    { "mean", 0, 0, G_OPTION_ARG_STRING, &import.mean, "import: normalisation mean per channel (default ImageNet's)", "M[,M,M]" },
    { "std", 0, 0, G_OPTION_ARG_STRING, &import.std, "import: normalisation std per channel (default ImageNet's)", "S[,S,S]" },
    { "dataset", 0, 0, G_OPTION_ARG_FILENAME, &check.dataset, "check: a folder of class folders (or with train/) to fit", "DIR" },
    { "classes", 0, 0, G_OPTION_ARG_INT, &check.classes, "check: the task's classes", "N" },
    { "channels", 0, 0, G_OPTION_ARG_INT, &check.channels, "check: the images' channels (1 grey, 3 colour)", "N" },
    { "size", 0, 0, G_OPTION_ARG_INT, &check.size, "check, import: image size in pixels", "PIXELS" },
    { "head", 0, 0, G_OPTION_ARG_STRING, &check.head, "check: linear (default) or mlp", "KIND" },
    { "hidden", 0, 0, G_OPTION_ARG_INT, &check.hidden, "check: the MLP head's hidden width", "N" },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries,
                         "[NAME | fetch NAME | import FILE | check NAME]",
                         "Without arguments: the catalog of pre-trained models, with what each\n"
                         "was trained on, its input and normalisation, size and licence.\n"
                         "NAME: one entry.\n"
                         "fetch NAME: download a hub model's weights into the cache (resumes a\n"
                         "  partial download, verifies the checksum).\n"
                         "import FILE: add a safetensors file with torchvision's or timm's names\n"
                         "  to your models (architecture recognised unless --arch says it).\n"
                         "check NAME: what fitting the model to a task will change, and why\n"
                         "  (--dataset DIR, or --classes, --channels, --size)."))
    goto out;

  if (argc == 1)
    status = list_models (globals, NULL);
  else if (argc == 2 && !g_str_equal (argv[1], "fetch") && !g_str_equal (argv[1], "import") &&
           !g_str_equal (argv[1], "check"))
    status = list_models (globals, argv[1]);
  else if (argc == 3 && g_str_equal (argv[1], "fetch"))
    status = fetch_model (globals, argv[2]);
  else if (argc == 3 && g_str_equal (argv[1], "check"))
    status = check_model (globals, argv[2], &check);
  else if (argc == 3 && g_str_equal (argv[1], "import"))
    {
      import.size = check.size;
      if (import_model (globals, argv[2], &import, &error))
        status = GRAFT_CLI_EXIT_OK;
      else
        {
          _graft_cli_error ("%s", error->message);
          status = GRAFT_CLI_EXIT_FAILURE;
        }
    }
  else
    _graft_cli_error ("usage: graft-cli models [--json] [NAME | fetch NAME | import FILE [--arch A] "
                      "[--name N] | check NAME (--dataset DIR | --classes N [--channels C] [--size S])]");

out:
  g_free (import.arch);
  g_free (import.name);
  g_free (import.title);
  g_free (import.dataset);
  g_free (import.licence);
  g_free (import.mean);
  g_free (import.std);
  g_free (check.dataset);
  g_free (check.head);
  return status;
}
