/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-train-config.h"
#include "io/graft-json.h"

G_DEFINE_QUARK (graft-train-error-quark, graft_train_error)

static const char *const schedule_names[] = { "constant", "step", "cosine", "one-cycle", NULL };
static const char *const balance_names[] = { "none", "weights", "sampler", NULL };
static const char *const augment_names[] = { "none", "light", "standard", NULL };
static const char *const optimizer_names[] = { "sgd", "adamw", NULL };
static const char *const head_names[] = { "linear", "mlp", NULL };

static gboolean
name_lookup (const char *const *names,
             const char        *text,
             int               *value)
{
  for (int i = 0; text != NULL && names[i] != NULL; i++)
    if (g_ascii_strcasecmp (names[i], text) == 0)
      {
        *value = i;
        return TRUE;
      }
  return FALSE;
}

const char *
graft_schedule_to_string (GraftSchedule schedule)
{
  return schedule <= GRAFT_SCHEDULE_ONE_CYCLE ? schedule_names[schedule] : "?";
}

gboolean
graft_schedule_from_string (const char    *text,
                            GraftSchedule *schedule)
{
  int v;

  if (!name_lookup (schedule_names, text, &v))
    return FALSE;
  *schedule = v;
  return TRUE;
}

const char *
graft_balance_to_string (GraftBalance balance)
{
  return balance <= GRAFT_BALANCE_SAMPLER ? balance_names[balance] : "?";
}

gboolean
graft_balance_from_string (const char   *text,
                           GraftBalance *balance)
{
  int v;

  if (!name_lookup (balance_names, text, &v))
    return FALSE;
  *balance = v;
  return TRUE;
}

const char *
graft_augment_level_to_string (GraftAugmentLevel level)
{
  return level <= GRAFT_AUGMENT_LEVEL_STANDARD ? augment_names[level] : "?";
}

gboolean
graft_augment_level_from_string (const char        *text,
                                 GraftAugmentLevel *level)
{
  int v;

  if (!name_lookup (augment_names, text, &v))
    return FALSE;
  *level = v;
  return TRUE;
}

gboolean
graft_unfreeze_from_string (const char *text,
                            int        *unfreeze)
{
  guint64 n;

  if (text == NULL)
    return FALSE;
  if (g_ascii_strcasecmp (text, "head") == 0)
    *unfreeze = GRAFT_UNFREEZE_HEAD;
  else if (g_ascii_strcasecmp (text, "all") == 0)
    *unfreeze = GRAFT_UNFREEZE_ALL;
  else if (g_ascii_string_to_unsigned (text, 10, 0, 1000, &n, NULL))
    *unfreeze = (int) n;
  else
    return FALSE;
  return TRUE;
}

static void
block_override_free (gpointer data)
{
  GraftBlockOverride *o = data;

  g_free (o->block);
  g_free (o);
}

void
graft_train_config_init (GraftTrainConfig *config)
{
  g_return_if_fail (config != NULL);

  memset (config, 0, sizeof *config);
  config->head = GRAFT_ZOO_HEAD_LINEAR;
  config->head_hidden = 256;
  config->head_dropout = 0.2f;
  config->unfreeze = GRAFT_UNFREEZE_HEAD;
  config->blocks = g_ptr_array_new_with_free_func (block_override_free);
  config->backbone_lr_factor = 1.0f;
  config->optimizer = GRAFT_TRAIN_OPTIMIZER_SGD;
  config->lr = 0.01f;
  config->momentum = 0.9f;
  config->nesterov = TRUE;
  config->weight_decay = 5e-4f;
  config->schedule = GRAFT_SCHEDULE_ONE_CYCLE;
  config->step_epochs = 10;
  config->step_gamma = 0.1f;
  config->augment = GRAFT_AUGMENT_LEVEL_LIGHT;
  config->batch_size = 32;
  config->epochs = 20;
  config->early_metric = g_strdup ("val_accuracy");
  config->restore_best = TRUE;
  config->feature_cache = TRUE;
}

void
graft_train_config_clear (GraftTrainConfig *config)
{
  if (config == NULL)
    return;
  g_clear_pointer (&config->model, g_free);
  g_clear_pointer (&config->blocks, g_ptr_array_unref);
  g_clear_pointer (&config->early_metric, g_free);
}

void
graft_train_config_set_block (GraftTrainConfig *config,
                              const char       *block,
                              int               frozen,
                              float             lr_factor)
{
  GraftBlockOverride *o = NULL;

  g_return_if_fail (config != NULL && block != NULL);

  for (guint i = 0; i < config->blocks->len; i++)
    if (g_str_equal (((GraftBlockOverride *) g_ptr_array_index (config->blocks, i))->block, block))
      o = g_ptr_array_index (config->blocks, i);
  if (o == NULL)
    {
      o = g_new0 (GraftBlockOverride, 1);
      o->block = g_strdup (block);
      g_ptr_array_add (config->blocks, o);
    }
  o->frozen = frozen;
  o->lr_factor = lr_factor;
}

void
graft_train_config_copy (const GraftTrainConfig *src,
                         GraftTrainConfig       *dest)
{
  g_return_if_fail (src != NULL && dest != NULL);

  *dest = *src;
  dest->model = g_strdup (src->model);
  dest->early_metric = g_strdup (src->early_metric);
  dest->blocks = g_ptr_array_new_with_free_func (block_override_free);
  for (guint i = 0; src->blocks != NULL && i < src->blocks->len; i++)
    {
      const GraftBlockOverride *o = g_ptr_array_index (src->blocks, i);
      graft_train_config_set_block (dest, o->block, o->frozen, o->lr_factor);
    }
}

static gboolean
config_error (GError    **error,
              const char *member,
              const char *format,
              ...) G_GNUC_PRINTF (3, 4);

static gboolean
config_error (GError    **error,
              const char *member,
              const char *format,
              ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG,
               "Training configuration, “%s”: %s", member, text);
  return FALSE;
}

gboolean
graft_train_config_check (const GraftTrainConfig *config,
                          GError                **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  if (config->model == NULL || config->model[0] == '\0')
    return config_error (error, "model", "no model is named");
  if (config->unfreeze < GRAFT_UNFREEZE_ALL)
    return config_error (error, "unfreeze", "must be “head”, “all” or a number of blocks");
  if (!(config->lr > 0.0f && config->lr < 100.0f))
    return config_error (error, "lr", "%g is not a learning rate above 0 and below 100",
                         (double) config->lr);
  if (!(config->backbone_lr_factor >= 0.0f && config->backbone_lr_factor <= 100.0f))
    return config_error (error, "backbone_lr_factor", "%g is outside 0 to 100",
                         (double) config->backbone_lr_factor);
  if (!(config->momentum >= 0.0f && config->momentum < 1.0f))
    return config_error (error, "momentum", "%g is outside [0, 1)", (double) config->momentum);
  if (config->nesterov && config->momentum == 0.0f && config->optimizer == GRAFT_TRAIN_OPTIMIZER_SGD)
    return config_error (error, "nesterov", "Nesterov momentum needs a momentum above 0");
  if (!(config->weight_decay >= 0.0f && config->weight_decay < 1.0f))
    return config_error (error, "weight_decay", "%g is outside [0, 1)",
                         (double) config->weight_decay);
  if (!(config->warmup_epochs >= 0.0f) || config->warmup_epochs > config->epochs)
    return config_error (error, "warmup_epochs", "%g is outside 0 to the %u epochs",
                         (double) config->warmup_epochs, config->epochs);
  if (config->schedule == GRAFT_SCHEDULE_STEP && config->step_epochs == 0)
    return config_error (error, "step_epochs", "the step schedule needs at least 1");
  if (!(config->step_gamma > 0.0f && config->step_gamma <= 1.0f))
    return config_error (error, "step_gamma", "%g is outside (0, 1]", (double) config->step_gamma);
  if (!(config->label_smoothing >= 0.0f && config->label_smoothing < 1.0f))
    return config_error (error, "label_smoothing", "%g is outside [0, 1)",
                         (double) config->label_smoothing);
  if (config->batch_size == 0 || config->batch_size > 4096)
    return config_error (error, "batch_size", "%u is outside 1 to 4096", config->batch_size);
  if (config->epochs == 0 || config->epochs > 100000)
    return config_error (error, "epochs", "%u is outside 1 to 100000", config->epochs);
  if (config->image_size > 4096)
    return config_error (error, "image_size", "%u pixels is too large", config->image_size);
  if (config->channels > 3)
    return config_error (error, "channels", "Graft reads 1 or 3 channels, not %u",
                         config->channels);
  if (config->head == GRAFT_ZOO_HEAD_MLP && config->head_hidden == 0)
    return config_error (error, "head_hidden", "an MLP head needs a hidden width");
  if (!(config->head_dropout >= 0.0f && config->head_dropout < 1.0f))
    return config_error (error, "head_dropout", "%g is outside [0, 1)",
                         (double) config->head_dropout);
  if (config->patience > 0 && config->early_metric != NULL &&
      !g_str_equal (config->early_metric, "val_accuracy") &&
      !g_str_equal (config->early_metric, "val_loss"))
    return config_error (error, "early_stopping.metric",
                         "“%s” is not val_accuracy or val_loss", config->early_metric);
  if (!(config->clip_norm >= 0.0f))
    return config_error (error, "clip_norm", "must be 0 (off) or above");
  for (guint i = 0; i < config->blocks->len; i++)
    {
      const GraftBlockOverride *o = g_ptr_array_index (config->blocks, i);

      if (o->lr_factor > 100.0f)
        return config_error (error, "blocks", "the learning-rate factor of %s, %g, is above 100",
                             o->block, (double) o->lr_factor);
    }
  return TRUE;
}

/* A float as a short decimal (0.01, not 0.0099999997764825821). */
static json_object *
new_float (float value)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (text, sizeof text, "%.7g", (double) value);
  return json_object_new_double_s (g_ascii_strtod (text, NULL), text);
}

json_object *
graft_train_config_to_json (const GraftTrainConfig *config)
{
  json_object *o = json_object_new_object ();

  g_return_val_if_fail (config != NULL, NULL);

  json_object_object_add (o, "model", json_object_new_string (config->model ? config->model : ""));
  json_object_object_add (o, "scratch", json_object_new_boolean (config->scratch));
  json_object_object_add (o, "head", json_object_new_string (head_names[config->head]));
  json_object_object_add (o, "head_hidden", json_object_new_int ((int) config->head_hidden));
  json_object_object_add (o, "head_dropout", new_float (config->head_dropout));
  json_object_object_add (o, "image_size", json_object_new_int ((int) config->image_size));
  json_object_object_add (o, "channels", json_object_new_int ((int) config->channels));
  if (config->unfreeze == GRAFT_UNFREEZE_HEAD)
    json_object_object_add (o, "unfreeze", json_object_new_string ("head"));
  else if (config->unfreeze == GRAFT_UNFREEZE_ALL)
    json_object_object_add (o, "unfreeze", json_object_new_string ("all"));
  else
    json_object_object_add (o, "unfreeze", json_object_new_int (config->unfreeze));
  if (config->blocks->len > 0)
    {
      json_object *blocks = json_object_new_object ();

      for (guint i = 0; i < config->blocks->len; i++)
        {
          const GraftBlockOverride *b = g_ptr_array_index (config->blocks, i);
          json_object *entry = json_object_new_object ();

          if (b->frozen >= 0)
            json_object_object_add (entry, "frozen", json_object_new_boolean (b->frozen));
          if (b->lr_factor >= 0.0f)
            json_object_object_add (entry, "lr_factor", new_float (b->lr_factor));
          json_object_object_add (blocks, b->block, entry);
        }
      json_object_object_add (o, "blocks", blocks);
    }
  json_object_object_add (o, "backbone_lr_factor", new_float (config->backbone_lr_factor));
  json_object_object_add (o, "optimizer", json_object_new_string (optimizer_names[config->optimizer]));
  json_object_object_add (o, "lr", new_float (config->lr));
  json_object_object_add (o, "momentum", new_float (config->momentum));
  json_object_object_add (o, "nesterov", json_object_new_boolean (config->nesterov));
  json_object_object_add (o, "weight_decay", new_float (config->weight_decay));
  json_object_object_add (o, "schedule", json_object_new_string (graft_schedule_to_string (config->schedule)));
  json_object_object_add (o, "warmup_epochs", new_float (config->warmup_epochs));
  json_object_object_add (o, "step_epochs", json_object_new_int ((int) config->step_epochs));
  json_object_object_add (o, "step_gamma", new_float (config->step_gamma));
  json_object_object_add (o, "label_smoothing", new_float (config->label_smoothing));
  json_object_object_add (o, "balance", json_object_new_string (graft_balance_to_string (config->balance)));
  json_object_object_add (o, "augment", json_object_new_string (graft_augment_level_to_string (config->augment)));
  json_object_object_add (o, "batch_size", json_object_new_int ((int) config->batch_size));
  json_object_object_add (o, "epochs", json_object_new_int ((int) config->epochs));
  if (config->patience > 0)
    {
      json_object *early = json_object_new_object ();

      json_object_object_add (early, "metric", json_object_new_string (config->early_metric));
      json_object_object_add (early, "patience", json_object_new_int ((int) config->patience));
      json_object_object_add (early, "restore_best", json_object_new_boolean (config->restore_best));
      json_object_object_add (o, "early_stopping", early);
    }
  json_object_object_add (o, "clip_norm", new_float (config->clip_norm));
  json_object_object_add (o, "seed", json_object_new_int64 ((int64_t) config->seed));
  json_object_object_add (o, "feature_cache", json_object_new_string (config->feature_cache ? "auto" : "off"));
  return o;
}

/* ---- Reading ---------------------------------------------------------------------- */

static gboolean
read_string (json_object *value,
             const char  *member,
             const char **out,
             GError     **error)
{
  if (!json_object_is_type (value, json_type_string))
    return config_error (error, member, "must be %s, not %s",
                         graft_json_describe_type (json_type_string), graft_json_describe (value));
  *out = json_object_get_string (value);
  return TRUE;
}

static gboolean
read_bool (json_object *value,
           const char  *member,
           gboolean    *out,
           GError     **error)
{
  if (!json_object_is_type (value, json_type_boolean))
    return config_error (error, member, "must be %s, not %s",
                         graft_json_describe_type (json_type_boolean), graft_json_describe (value));
  *out = json_object_get_boolean (value);
  return TRUE;
}

static gboolean
read_float (json_object *value,
            const char  *member,
            float       *out,
            GError     **error)
{
  double d;

  if (!json_object_is_type (value, json_type_double) && !json_object_is_type (value, json_type_int))
    return config_error (error, member, "must be %s, not %s",
                         graft_json_describe_type (json_type_double), graft_json_describe (value));
  d = json_object_get_double (value);
  if (!isfinite (d) || fabs (d) > 1e30)
    return config_error (error, member, "%g is not a usable number", d);
  *out = (float) d;
  return TRUE;
}

static gboolean
read_uint (json_object *value,
           const char  *member,
           guint64      max,
           guint64     *out,
           GError     **error)
{
  int64_t v;

  if (!json_object_is_type (value, json_type_int))
    return config_error (error, member, "must be %s, not %s",
                         graft_json_describe_type (json_type_int), graft_json_describe (value));
  v = json_object_get_int64 (value);
  if (v < 0 || (guint64) v > max)
    return config_error (error, member, "%" G_GINT64_FORMAT " is outside 0 to %" G_GUINT64_FORMAT,
                         (gint64) v, max);
  *out = (guint64) v;
  return TRUE;
}

static gboolean
read_name (json_object        *value,
           const char         *member,
           const char *const  *names,
           int                *out,
           GError            **error)
{
  const char *text;

  if (!read_string (value, member, &text, error))
    return FALSE;
  if (!name_lookup (names, text, out))
    {
      g_autofree char *list = g_strjoinv (", ", (char **) names);
      return config_error (error, member, "“%s” is not one of %s", text, list);
    }
  return TRUE;
}

static gboolean
read_blocks (json_object      *value,
             GraftTrainConfig *config,
             GError          **error)
{
  if (!json_object_is_type (value, json_type_object))
    return config_error (error, "blocks", "must be %s, not %s",
                         graft_json_describe_type (json_type_object), graft_json_describe (value));
  json_object_object_foreach (value, block, entry)
    {
      g_autofree char *member = g_strdup_printf ("blocks.%s", block);
      int frozen = -1;
      float factor = -1.0f;

      if (!json_object_is_type (entry, json_type_object))
        return config_error (error, member, "must be %s, not %s",
                             graft_json_describe_type (json_type_object), graft_json_describe (entry));
      json_object_object_foreach (entry, key, v)
        {
          g_autofree char *inner = g_strdup_printf ("%s.%s", member, key);

          if (g_str_equal (key, "frozen"))
            {
              gboolean b;
              if (!read_bool (v, inner, &b, error))
                return FALSE;
              frozen = b;
            }
          else if (g_str_equal (key, "lr_factor"))
            {
              if (!read_float (v, inner, &factor, error))
                return FALSE;
              if (factor < 0.0f)
                return config_error (error, inner, "must not be negative");
            }
          else
            return config_error (error, inner, "is not a member Graft knows (frozen, lr_factor)");
        }
      graft_train_config_set_block (config, block, frozen, factor);
    }
  return TRUE;
}

static gboolean
read_early (json_object      *value,
            GraftTrainConfig *config,
            GError          **error)
{
  if (!json_object_is_type (value, json_type_object))
    return config_error (error, "early_stopping", "must be %s, not %s",
                         graft_json_describe_type (json_type_object), graft_json_describe (value));
  json_object_object_foreach (value, key, v)
    {
      g_autofree char *member = g_strdup_printf ("early_stopping.%s", key);
      guint64 n;

      if (g_str_equal (key, "metric"))
        {
          const char *text;
          if (!read_string (v, member, &text, error))
            return FALSE;
          g_free (config->early_metric);
          config->early_metric = g_strdup (text);
        }
      else if (g_str_equal (key, "patience"))
        {
          if (!read_uint (v, member, 100000, &n, error))
            return FALSE;
          config->patience = (guint) n;
        }
      else if (g_str_equal (key, "restore_best"))
        {
          if (!read_bool (v, member, &config->restore_best, error))
            return FALSE;
        }
      else
        return config_error (error, member, "is not a member Graft knows (metric, patience, restore_best)");
    }
  return TRUE;
}

gboolean
graft_train_config_from_json (json_object      *object,
                              GraftTrainConfig *config,
                              GError          **error)
{
  g_return_val_if_fail (config != NULL, FALSE);

  graft_train_config_init (config);
  if (!json_object_is_type (object, json_type_object))
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_CONFIG,
                   "A training configuration must be an object, not %s",
                   graft_json_describe (object));
      return FALSE;
    }

  json_object_object_foreach (object, key, v)
    {
      const char *text;
      guint64 n;
      int e;
      gboolean ok = TRUE;

      if (g_str_equal (key, "model"))
        {
          if ((ok = read_string (v, key, &text, error)))
            {
              g_free (config->model);
              config->model = g_strdup (text);
            }
        }
      else if (g_str_equal (key, "scratch"))
        ok = read_bool (v, key, &config->scratch, error);
      else if (g_str_equal (key, "head"))
        {
          if ((ok = read_name (v, key, head_names, &e, error)))
            config->head = e;
        }
      else if (g_str_equal (key, "head_hidden"))
        {
          if ((ok = read_uint (v, key, 65536, &n, error)))
            config->head_hidden = (guint) n;
        }
      else if (g_str_equal (key, "head_dropout"))
        ok = read_float (v, key, &config->head_dropout, error);
      else if (g_str_equal (key, "image_size"))
        {
          if ((ok = read_uint (v, key, 4096, &n, error)))
            config->image_size = (guint) n;
        }
      else if (g_str_equal (key, "channels"))
        {
          if ((ok = read_uint (v, key, 3, &n, error)))
            config->channels = (guint) n;
        }
      else if (g_str_equal (key, "unfreeze"))
        {
          if (json_object_is_type (v, json_type_int))
            {
              if ((ok = read_uint (v, key, 1000, &n, error)))
                config->unfreeze = (int) n;
            }
          else if ((ok = read_string (v, key, &text, error)) &&
                   !graft_unfreeze_from_string (text, &config->unfreeze))
            ok = config_error (error, key, "“%s” is not “head”, “all” or a number of blocks", text);
        }
      else if (g_str_equal (key, "blocks"))
        ok = read_blocks (v, config, error);
      else if (g_str_equal (key, "backbone_lr_factor"))
        ok = read_float (v, key, &config->backbone_lr_factor, error);
      else if (g_str_equal (key, "optimizer"))
        {
          if ((ok = read_name (v, key, optimizer_names, &e, error)))
            config->optimizer = e;
        }
      else if (g_str_equal (key, "lr"))
        ok = read_float (v, key, &config->lr, error);
      else if (g_str_equal (key, "momentum"))
        ok = read_float (v, key, &config->momentum, error);
      else if (g_str_equal (key, "nesterov"))
        ok = read_bool (v, key, &config->nesterov, error);
      else if (g_str_equal (key, "weight_decay"))
        ok = read_float (v, key, &config->weight_decay, error);
      else if (g_str_equal (key, "schedule"))
        {
          if ((ok = read_name (v, key, schedule_names, &e, error)))
            config->schedule = e;
        }
      else if (g_str_equal (key, "warmup_epochs"))
        ok = read_float (v, key, &config->warmup_epochs, error);
      else if (g_str_equal (key, "step_epochs"))
        {
          if ((ok = read_uint (v, key, 100000, &n, error)))
            config->step_epochs = (guint) n;
        }
      else if (g_str_equal (key, "step_gamma"))
        ok = read_float (v, key, &config->step_gamma, error);
      else if (g_str_equal (key, "label_smoothing"))
        ok = read_float (v, key, &config->label_smoothing, error);
      else if (g_str_equal (key, "balance"))
        {
          if ((ok = read_name (v, key, balance_names, &e, error)))
            config->balance = e;
        }
      else if (g_str_equal (key, "augment"))
        {
          if ((ok = read_name (v, key, augment_names, &e, error)))
            config->augment = e;
        }
      else if (g_str_equal (key, "batch_size"))
        {
          if ((ok = read_uint (v, key, 4096, &n, error)))
            config->batch_size = (guint) n;
        }
      else if (g_str_equal (key, "epochs"))
        {
          if ((ok = read_uint (v, key, 100000, &n, error)))
            config->epochs = (guint) n;
        }
      else if (g_str_equal (key, "early_stopping"))
        ok = read_early (v, config, error);
      else if (g_str_equal (key, "clip_norm"))
        ok = read_float (v, key, &config->clip_norm, error);
      else if (g_str_equal (key, "seed"))
        {
          if ((ok = read_uint (v, key, G_MAXINT64, &n, error)))
            config->seed = n;
        }
      else if (g_str_equal (key, "feature_cache"))
        {
          if ((ok = read_string (v, key, &text, error)))
            {
              if (g_str_equal (text, "auto") || g_str_equal (text, "off"))
                config->feature_cache = g_str_equal (text, "auto");
              else
                ok = config_error (error, key, "“%s” is not auto or off", text);
            }
        }
      else
        ok = config_error (error, key, "is not a member Graft knows");
      if (!ok)
        {
          graft_train_config_clear (config);
          graft_train_config_init (config);
          return FALSE;
        }
    }
  if (!graft_train_config_check (config, error))
    {
      graft_train_config_clear (config);
      graft_train_config_init (config);
      return FALSE;
    }
  return TRUE;
}

/* ---- Schedules --------------------------------------------------------------------- */

static double
cos_anneal (double from,
            double to,
            double pct)
{
  return to + (from - to) / 2.0 * (cos (G_PI * pct) + 1.0);
}

double
graft_train_config_lr_at (const GraftTrainConfig *config,
                          guint                   step,
                          guint                   total,
                          guint                   steps_per_epoch)
{
  double lr, warm;
  guint w;

  g_return_val_if_fail (config != NULL, 0.0);

  lr = config->lr;
  total = MAX (total, 1);
  steps_per_epoch = MAX (steps_per_epoch, 1);
  warm = (double) config->warmup_epochs * steps_per_epoch;
  w = (guint) MIN (floor (warm + 0.5), (double) total);

  if (config->schedule == GRAFT_SCHEDULE_ONE_CYCLE)
    {
      /* OneCycleLR: phase one ends at pct_start · total − 1, phase two at total − 1. */
      double pct_start = w > 0 ? (double) w / total : 0.3;
      double initial = lr / 25.0, min_lr = initial / 1e4;
      double end1 = pct_start * total - 1.0, end2 = total - 1.0;

      if (step <= end1)
        return cos_anneal (initial, lr, end1 > 0 ? step / end1 : 1.0);
      return cos_anneal (lr, min_lr, end2 > end1 ? (step - end1) / (end2 - end1) : 1.0);
    }

  if (step < w)
    return lr * (step + 1) / w;
  switch (config->schedule)
    {
    case GRAFT_SCHEDULE_STEP:
      return lr * pow (config->step_gamma, (double) (step / steps_per_epoch / config->step_epochs));
    case GRAFT_SCHEDULE_COSINE:
      return total > w ? cos_anneal (lr, 0.0, (double) (step - w) / (total - w)) : lr;
    case GRAFT_SCHEDULE_CONSTANT:
    case GRAFT_SCHEDULE_ONE_CYCLE:
    default:
      return lr;
    }
}
