/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-trained-model.h"
#include "io/graft-json.h"
#include "nn/zoo/graft-zoo.h"
#include "project/graft-run.h"

#define MODEL_JSON_SCHEMA 1

void
graft_trained_model_info_clear (GraftTrainedModelInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->arch);
  g_free (info->source);
  g_strfreev (info->classes);
  memset (info, 0, sizeof *info);
}

static json_object *
float_array (const float *values,
             guint        n)
{
  json_object *array = json_object_new_array ();

  for (guint i = 0; i < n; i++)
    {
      char text[G_ASCII_DTOSTR_BUF_SIZE];

      g_ascii_formatd (text, sizeof text, "%.9g", (double) values[i]);
      json_object_array_add (array, json_object_new_double_s (g_ascii_strtod (text, NULL), text));
    }
  return array;
}

gboolean
graft_trained_model_save (const char                  *dir,
                          const GraftTrainedModelInfo *info,
                          GraftModel                  *model,
                          GError                     **error)
{
  g_autofree char *weights_path = g_build_filename (dir, GRAFT_RUN_MODEL_FILE, NULL);
  g_autofree char *json_path = g_build_filename (dir, GRAFT_RUN_MODEL_JSON, NULL);
  g_autoptr(GraftWeights) state = NULL;
  json_object *root, *input, *classes, *size;
  gboolean ok;

  state = graft_model_get_state (model, error);
  if (state == NULL)
    return FALSE;
  if (!graft_weights_save (state, weights_path, FALSE, error))
    return FALSE;

  root = json_object_new_object ();
  input = json_object_new_object ();
  classes = json_object_new_array ();
  for (guint c = 0; c < info->n_classes; c++)
    json_object_array_add (classes, json_object_new_string (info->classes[c]));
  size = json_object_new_int ((int) info->input.size);
  json_object_object_add (input, "channels", json_object_new_int ((int) info->input.channels));
  json_object_object_add (input, "size", size);
  json_object_object_add (input, "mean", float_array (info->input.mean, info->input.channels));
  json_object_object_add (input, "std", float_array (info->input.std, info->input.channels));
  json_object_object_add (root, "schema", json_object_new_int (MODEL_JSON_SCHEMA));
  json_object_object_add (root, "arch", json_object_new_string (info->arch));
  if (info->source != NULL)
    json_object_object_add (root, "source", json_object_new_string (info->source));
  json_object_object_add (root, "scratch", json_object_new_boolean (info->scratch));
  json_object_object_add (root, "classes", classes);
  json_object_object_add (root, "input", input);
  json_object_object_add (root, "head", json_object_new_string (info->head == GRAFT_ZOO_HEAD_MLP ? "mlp" : "linear"));
  json_object_object_add (root, "head_hidden", json_object_new_int ((int) info->head_hidden));
  json_object_object_add (root, "head_dropout", float_array (&info->head_dropout, 1));
  ok = g_file_set_contents_full (json_path,
                                 json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY |
                                                                       JSON_C_TO_STRING_NOSLASHESCAPE),
                                 -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                 0644, error);
  json_object_put (root);
  return ok;
}

static gboolean
info_error (GError    **error,
            const char *path,
            const char *member,
            const char *what)
{
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
               "%s: “%s” %s", path, member, what);
  return FALSE;
}

static json_object *
member (json_object *object,
        const char  *key,
        json_type    type)
{
  json_object *value = NULL;

  if (!json_object_object_get_ex (object, key, &value))
    return NULL;
  if (type == json_type_double && json_object_is_type (value, json_type_int))
    return value;
  return json_object_is_type (value, type) ? value : NULL;
}

static gboolean
read_floats (json_object *input,
             const char  *key,
             guint        n,
             float       *out)
{
  json_object *array = member (input, key, json_type_array);

  if (array == NULL || json_object_array_length (array) != n)
    return FALSE;
  for (guint i = 0; i < n; i++)
    {
      json_object *v = json_object_array_get_idx (array, i);

      if (!json_object_is_type (v, json_type_double) && !json_object_is_type (v, json_type_int))
        return FALSE;
      out[i] = (float) json_object_get_double (v);
      if (!isfinite (out[i]))
        return FALSE;
    }
  return TRUE;
}

gboolean
graft_trained_model_read_info (const char            *dir,
                               GraftTrainedModelInfo *info,
                               GError               **error)
{
  g_autofree char *path = g_build_filename (dir, GRAFT_RUN_MODEL_JSON, NULL);
  g_autofree char *text = NULL;
  json_object *root, *v, *input, *classes;
  gboolean ok = FALSE;

  memset (info, 0, sizeof *info);
  if (!g_file_get_contents (path, &text, NULL, NULL))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
                   "%s is missing: the run has no trained model (it did not finish)", path);
      return FALSE;
    }
  root = json_tokener_parse (text);
  if (!json_object_is_type (root, json_type_object))
    {
      json_object_put (root);
      return info_error (error, path, "(the file)", "is not a JSON object");
    }

  if ((v = member (root, "schema", json_type_int)) == NULL || json_object_get_int (v) > MODEL_JSON_SCHEMA)
    info_error (error, path, "schema", "is missing or newer than this Graft reads");
  else if ((v = member (root, "arch", json_type_string)) == NULL)
    info_error (error, path, "arch", "must be a string");
  else if ((classes = member (root, "classes", json_type_array)) == NULL ||
           json_object_array_length (classes) < 1)
    info_error (error, path, "classes", "must be a list of class names");
  else if ((input = member (root, "input", json_type_object)) == NULL)
    info_error (error, path, "input", "must be an object");
  else
    {
      json_object *channels = member (input, "channels", json_type_int);
      json_object *size = member (input, "size", json_type_int);

      info->arch = g_strdup (json_object_get_string (v));
      info->n_classes = (guint) json_object_array_length (classes);
      info->classes = g_new0 (char *, info->n_classes + 1);
      ok = TRUE;
      for (guint c = 0; c < info->n_classes && ok; c++)
        {
          json_object *name = json_object_array_get_idx (classes, c);

          if (!json_object_is_type (name, json_type_string))
            ok = info_error (error, path, "classes", "must hold strings only");
          else
            info->classes[c] = g_strdup (json_object_get_string (name));
        }
      if (ok && (channels == NULL || json_object_get_int (channels) < 1 ||
                 json_object_get_int (channels) > 3))
        ok = info_error (error, path, "input.channels", "must be 1, 2 or 3");
      if (ok && (size == NULL || json_object_get_int (size) < 1 || json_object_get_int (size) > 4096))
        ok = info_error (error, path, "input.size", "must be a side in pixels");
      if (ok)
        {
          info->input.channels = (guint) json_object_get_int (channels);
          info->input.size = (guint) json_object_get_int (size);
          if (!read_floats (input, "mean", info->input.channels, info->input.mean) ||
              !read_floats (input, "std", info->input.channels, info->input.std))
            ok = info_error (error, path, "input.mean", "and “std” must list one number per channel");
        }
      if (ok)
        {
          json_object *head = member (root, "head", json_type_string);
          json_object *hidden = member (root, "head_hidden", json_type_int);
          json_object *dropout = member (root, "head_dropout", json_type_array);
          json_object *source = member (root, "source", json_type_string);
          json_object *scratch = member (root, "scratch", json_type_boolean);

          info->head = head != NULL && g_str_equal (json_object_get_string (head), "mlp")
            ? GRAFT_ZOO_HEAD_MLP : GRAFT_ZOO_HEAD_LINEAR;
          info->head_hidden = hidden != NULL ? (guint) json_object_get_int (hidden) : 256;
          info->head_dropout = 0.2f;
          if (dropout != NULL && json_object_array_length (dropout) == 1)
            info->head_dropout = (float) json_object_get_double (json_object_array_get_idx (dropout, 0));
          info->source = source != NULL ? g_strdup (json_object_get_string (source)) : NULL;
          info->scratch = scratch != NULL && json_object_get_boolean (scratch);
        }
    }
  json_object_put (root);
  if (!ok)
    graft_trained_model_info_clear (info);
  return ok;
}

GraftModel *
graft_trained_model_load (GraftBackend          *backend,
                          const char            *dir,
                          guint                  batch,
                          GraftTrainedModelInfo *info,
                          GError               **error)
{
  g_autofree char *weights = g_build_filename (dir, GRAFT_RUN_MODEL_FILE, NULL);
  g_autoptr(GraftModel) model = NULL;
  GraftZooOptions zoo;

  if (!graft_trained_model_read_info (dir, info, error))
    return NULL;
  graft_zoo_options_init (&zoo);
  zoo.n_classes = info->n_classes;
  zoo.in_channels = info->input.channels;
  zoo.image_size = info->input.size;
  zoo.head = info->head;
  zoo.head_hidden = info->head_hidden;
  zoo.head_dropout = info->head_dropout;
  model = graft_zoo_build (backend, info->arch, &zoo, error);
  if (model == NULL ||
      !graft_model_load_weights_file (model, weights, error) ||
      !graft_model_prepare (model, batch, info->input.size, info->input.size, error))
    {
      graft_trained_model_info_clear (info);
      return NULL;
    }
  return g_steal_pointer (&model);
}
