/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-eval"

/* GraftMetrics to JSON and back (the layout is in graft-metrics.h). */

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-metrics-private.h"
#include "io/graft-json.h"

/* Writing */

static void
add_uint (json_object *object,
          const char  *key,
          guint64      value)
{
  json_object_object_add (object, key, json_object_new_int64 ((int64_t) value));
}

static void
add_double (json_object *object,
            const char  *key,
            double       value)
{
  json_object_object_add (object, key, json_object_new_double (value));
}

static json_object *
average_to_json (const GraftMetricsAverage *average)
{
  json_object *object = json_object_new_object ();

  add_double (object, "precision", average->precision);
  add_double (object, "recall", average->recall);
  add_double (object, "f1", average->f1);
  return object;
}

static json_object *
slices_to_json (const GraftQuartileSlices *slices)
{
  json_object *object = json_object_new_object ();
  json_object *edges = json_object_new_array ();
  json_object *list = json_object_new_array ();

  for (guint q = 0; q <= GRAFT_METRICS_N_QUARTILES; q++)
    json_object_array_add (edges, json_object_new_double (slices->edges[q]));
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    {
      json_object *slice = json_object_new_object ();

      add_uint (slice, "count", slices->count[q]);
      add_uint (slice, "n_correct", slices->n_correct[q]);
      add_double (slice, "accuracy", slices->accuracy[q]);
      json_object_array_add (list, slice);
    }
  json_object_object_add (object, "edges", edges);
  json_object_object_add (object, "slices", list);
  return object;
}

static json_object *
prediction_to_json (const GraftPrediction *p)
{
  json_object *object = json_object_new_object ();

  add_uint (object, "label", (guint64) p->label);
  add_uint (object, "predicted", (guint64) p->predicted);
  add_double (object, "confidence", p->confidence);
  add_double (object, "p_true", p->p_true);
  add_double (object, "loss", p->loss);
  if (p->brightness >= 0.0f)
    add_double (object, "brightness", p->brightness);
  if (p->pixels > 0)
    add_uint (object, "pixels", p->pixels);
  if (p->name != NULL)
    json_object_object_add (object, "name", json_object_new_string (p->name));
  return object;
}

struct json_object *
graft_metrics_to_json (const GraftMetrics    *self,
                       GraftMetricsJsonFlags  flags)
{
  json_object *root, *top_k, *per_class, *confusion, *calibration, *bins;

  g_return_val_if_fail (self != NULL, NULL);

  root = json_object_new_object ();
  add_uint (root, "schema", GRAFT_METRICS_SCHEMA_VERSION);
  add_uint (root, "n_images", self->n_images);
  add_uint (root, "n_classes", self->n_classes);
  if (self->class_names != NULL)
    {
      json_object *classes = json_object_new_array ();

      for (guint c = 0; c < self->n_classes; c++)
        json_object_array_add (classes, json_object_new_string (self->class_names[c]));
      json_object_object_add (root, "classes", classes);
    }
  add_uint (root, "n_correct", self->n_correct);
  add_double (root, "accuracy", self->accuracy);

  top_k = json_object_new_object ();
  add_uint (top_k, "k", self->top_k);
  add_uint (top_k, "n_correct", self->top_k_correct);
  add_double (top_k, "accuracy", self->top_k_accuracy);
  json_object_object_add (root, "top_k", top_k);
  json_object_object_add (root, "losses_given", json_object_new_boolean (self->losses_given));
  add_double (root, "mean_loss", self->mean_loss);

  per_class = json_object_new_array ();
  for (guint c = 0; c < self->n_classes; c++)
    {
      const GraftClassMetrics *m = &self->per_class[c];
      json_object *item = json_object_new_object ();

      add_uint (item, "support", m->support);
      add_uint (item, "predicted", m->n_predicted);
      add_uint (item, "true_positives", m->true_positives);
      add_double (item, "precision", m->precision);
      add_double (item, "recall", m->recall);
      add_double (item, "f1", m->f1);
      json_object_array_add (per_class, item);
    }
  json_object_object_add (root, "per_class", per_class);
  json_object_object_add (root, "macro", average_to_json (&self->macro));
  json_object_object_add (root, "weighted", average_to_json (&self->weighted));

  confusion = json_object_new_array ();
  for (guint t = 0; t < self->n_classes; t++)
    {
      json_object *row = json_object_new_array ();

      for (guint p = 0; p < self->n_classes; p++)
        json_object_array_add (row, json_object_new_int64 (self->confusion[(gsize) t * self->n_classes + p]));
      json_object_array_add (confusion, row);
    }
  json_object_object_add (root, "confusion", confusion);

  calibration = json_object_new_object ();
  add_double (calibration, "ece", self->ece);
  add_double (calibration, "mce", self->mce);
  bins = json_object_new_array ();
  for (guint b = 0; b < self->n_bins; b++)
    {
      const GraftReliabilityBin *bin = &self->bins[b];
      json_object *item = json_object_new_object ();

      add_double (item, "lower", bin->lower);
      add_double (item, "upper", bin->upper);
      add_uint (item, "count", bin->count);
      add_uint (item, "n_correct", bin->n_correct);
      add_double (item, "confidence", bin->confidence);
      add_double (item, "accuracy", bin->accuracy);
      json_object_array_add (bins, item);
    }
  json_object_object_add (calibration, "bins", bins);
  json_object_object_add (root, "calibration", calibration);

  if (self->brightness.present)
    json_object_object_add (root, "brightness", slices_to_json (&self->brightness));
  if (self->size.present)
    json_object_object_add (root, "size", slices_to_json (&self->size));

  if (!(flags & GRAFT_METRICS_JSON_NO_PREDICTIONS) && self->n_predictions > 0)
    {
      json_object *predictions = json_object_new_array_ext ((int) self->n_predictions);

      for (guint i = 0; i < self->n_predictions; i++)
        json_object_array_add (predictions, prediction_to_json (&self->predictions[i]));
      json_object_object_add (root, "predictions", predictions);
    }
  return root;
}

char *
graft_metrics_to_string (const GraftMetrics    *self,
                         GraftMetricsJsonFlags  flags)
{
  json_object *root;
  char *text;

  g_return_val_if_fail (self != NULL, NULL);

  root = graft_metrics_to_json (self, flags);
  text = g_strdup (json_object_to_json_string_ext (root, JSON_C_TO_STRING_PLAIN |
                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
  json_object_put (root);
  return text;
}

/* Reading: every field is checked, and an error names it as a path from the root
 * ("per_class[3].recall"). @prefix is the path of the object the key is read from. */

G_GNUC_PRINTF (2, 3)
static void
set_parse_error (GError     **error,
                 const char  *format,
                 ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_PARSE, "Saved metrics: %s", message);
}

static gboolean
get_member (json_object  *object,
            const char   *prefix,
            const char   *key,
            json_type     type,
            gboolean      required,
            json_object **value,
            GError      **error)
{
  const char *wanted;

  *value = NULL;
  if (!json_object_object_get_ex (object, key, value) || *value == NULL)
    {
      *value = NULL;
      if (required)
        set_parse_error (error, "the field “%s%s” is missing", prefix, key);
      return !required;
    }
  if (json_object_is_type (*value, type) ||
      (type == json_type_double && json_object_is_type (*value, json_type_int)))
    return TRUE;
  wanted = graft_json_describe_type (type);
  set_parse_error (error, "the field “%s%s” must be %s, not %s", prefix, key, wanted,
                   graft_json_describe (*value));
  return FALSE;
}

/* A list of exactly @length items. */
static gboolean
get_list (json_object  *object,
          const char   *prefix,
          const char   *key,
          gsize         length,
          gboolean      required,
          json_object **value,
          GError      **error)
{
  if (!get_member (object, prefix, key, json_type_array, required, value, error))
    return FALSE;
  if (*value != NULL && json_object_array_length (*value) != length)
    {
      set_parse_error (error, "the list “%s%s” has %" G_GSIZE_FORMAT " items, not %"
                       G_GSIZE_FORMAT, prefix, key, json_object_array_length (*value), length);
      return FALSE;
    }
  return TRUE;
}

static gboolean
check_count (json_object  *value,
             const char   *prefix,
             const char   *key,
             guint64       min,
             guint64       max,
             guint64      *out,
             GError      **error)
{
  int64_t v = json_object_get_int64 (value);

  if (v < 0 || (guint64) v < min || (guint64) v > max)
    {
      set_parse_error (error, "the field “%s%s” must be %" G_GUINT64_FORMAT " to %"
                       G_GUINT64_FORMAT ", not %s", prefix, key, min, max,
                       json_object_get_string (value));
      return FALSE;
    }
  *out = (guint64) v;
  return TRUE;
}

static gboolean
read_count64 (json_object  *object,
              const char   *prefix,
              const char   *key,
              guint64       min,
              guint64       max,
              guint64      *out,
              GError      **error)
{
  json_object *value;

  return get_member (object, prefix, key, json_type_int, TRUE, &value, error) &&
         check_count (value, prefix, key, min, max, out, error);
}

static gboolean
read_count (json_object  *object,
            const char   *prefix,
            const char   *key,
            guint         min,
            guint         max,
            guint        *out,
            GError      **error)
{
  guint64 v;

  if (!read_count64 (object, prefix, key, min, max, &v, error))
    return FALSE;
  *out = (guint) v;
  return TRUE;
}

/* A finite number from @min to @max. */
static gboolean
read_number (json_object  *object,
             const char   *prefix,
             const char   *key,
             double        min,
             double        max,
             double       *out,
             GError      **error)
{
  json_object *value;
  double v;

  if (!get_member (object, prefix, key, json_type_double, TRUE, &value, error))
    return FALSE;
  v = json_object_get_double (value);
  if (!(isfinite (v) && v >= min && v <= max))
    {
      set_parse_error (error, "the field “%s%s” must be a number from %g to %g, not %s",
                       prefix, key, min, max, json_object_get_string (value));
      return FALSE;
    }
  *out = v;
  return TRUE;
}

static gboolean
read_ratio (json_object  *object,
            const char   *prefix,
            const char   *key,
            double       *out,
            GError      **error)
{
  return read_number (object, prefix, key, 0.0, 1.0, out, error);
}

static gboolean
read_average (json_object         *root,
              const char          *key,
              GraftMetricsAverage *average,
              GError             **error)
{
  g_autofree char *prefix = g_strconcat (key, ".", NULL);
  json_object *object;

  return get_member (root, "", key, json_type_object, TRUE, &object, error) &&
         read_ratio (object, prefix, "precision", &average->precision, error) &&
         read_ratio (object, prefix, "recall", &average->recall, error) &&
         read_ratio (object, prefix, "f1", &average->f1, error);
}

static gboolean
read_per_class (json_object   *root,
                GraftMetrics  *self,
                GError       **error)
{
  json_object *list;

  if (!get_list (root, "", "per_class", self->n_classes, TRUE, &list, error))
    return FALSE;
  for (guint c = 0; c < self->n_classes; c++)
    {
      GraftClassMetrics *m = &self->per_class[c];
      json_object *item = json_object_array_get_idx (list, c);
      char prefix[48];

      g_snprintf (prefix, sizeof prefix, "per_class[%u].", c);
      if (!json_object_is_type (item, json_type_object))
        {
          set_parse_error (error, "the item “per_class[%u]” must be an object, not %s", c,
                           graft_json_describe (item));
          return FALSE;
        }
      if (!read_count (item, prefix, "support", 0, self->n_images, &m->support, error) ||
          !read_count (item, prefix, "predicted", 0, self->n_images, &m->n_predicted, error) ||
          !read_count (item, prefix, "true_positives", 0, MIN (m->support, m->n_predicted),
                       &m->true_positives, error) ||
          !read_ratio (item, prefix, "precision", &m->precision, error) ||
          !read_ratio (item, prefix, "recall", &m->recall, error) ||
          !read_ratio (item, prefix, "f1", &m->f1, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_confusion (json_object   *root,
                GraftMetrics  *self,
                GError       **error)
{
  json_object *rows;
  guint64 total = 0;

  if (!get_list (root, "", "confusion", self->n_classes, TRUE, &rows, error))
    return FALSE;
  for (guint t = 0; t < self->n_classes; t++)
    {
      json_object *row = json_object_array_get_idx (rows, t);
      char key[32];

      g_snprintf (key, sizeof key, "confusion[%u]", t);
      if (!json_object_is_type (row, json_type_array) ||
          json_object_array_length (row) != self->n_classes)
        {
          set_parse_error (error, "the row “%s” must be a list of %u counts", key,
                           self->n_classes);
          return FALSE;
        }
      for (guint p = 0; p < self->n_classes; p++)
        {
          json_object *value = json_object_array_get_idx (row, p);
          char cell[48];
          guint64 count;

          g_snprintf (cell, sizeof cell, "[%u]", p);
          if (!json_object_is_type (value, json_type_int))
            {
              set_parse_error (error, "the field “%s%s” must be a whole number, not %s", key,
                               cell, graft_json_describe (value));
              return FALSE;
            }
          if (!check_count (value, key, cell, 0, self->n_images, &count, error))
            return FALSE;
          self->confusion[(gsize) t * self->n_classes + p] = (guint) count;
          total += count;
        }
    }
  if (total != self->n_images)
    {
      set_parse_error (error, "the field “confusion” counts %" G_GUINT64_FORMAT " images, "
                       "but “n_images” is %u", total, self->n_images);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_calibration (json_object   *root,
                  GraftMetrics  *metrics,
                  GError       **error)
{
  json_object *calibration, *bins;
  gsize n_bins;

  if (!get_member (root, "", "calibration", json_type_object, TRUE, &calibration, error) ||
      !get_member (calibration, "calibration.", "bins", json_type_array, TRUE, &bins, error))
    return FALSE;
  n_bins = json_object_array_length (bins);
  if (n_bins == 0 || n_bins > GRAFT_METRICS_MAX_N_BINS)
    {
      set_parse_error (error, "the list “calibration.bins” must have 1 to %d bins, not %"
                       G_GSIZE_FORMAT, GRAFT_METRICS_MAX_N_BINS, n_bins);
      return FALSE;
    }

  /* The number of bins is known now. */
  g_free (metrics->bins);
  metrics->n_bins = (guint) n_bins;
  metrics->bins = g_new0 (GraftReliabilityBin, n_bins);

  if (!read_ratio (calibration, "calibration.", "ece", &metrics->ece, error) ||
      !read_ratio (calibration, "calibration.", "mce", &metrics->mce, error))
    return FALSE;
  for (guint b = 0; b < n_bins; b++)
    {
      GraftReliabilityBin *bin = &metrics->bins[b];
      json_object *item = json_object_array_get_idx (bins, b);
      char prefix[48];

      g_snprintf (prefix, sizeof prefix, "calibration.bins[%u].", b);
      if (!json_object_is_type (item, json_type_object))
        {
          set_parse_error (error, "the item “calibration.bins[%u]” must be an object, not %s",
                           b, graft_json_describe (item));
          return FALSE;
        }
      if (!read_ratio (item, prefix, "lower", &bin->lower, error) ||
          !read_ratio (item, prefix, "upper", &bin->upper, error) ||
          !read_count (item, prefix, "count", 0, metrics->n_images, &bin->count, error) ||
          !read_count (item, prefix, "n_correct", 0, bin->count, &bin->n_correct, error) ||
          !read_ratio (item, prefix, "confidence", &bin->confidence, error) ||
          !read_ratio (item, prefix, "accuracy", &bin->accuracy, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
read_slices (json_object          *root,
             const char           *key,
             guint                 n_images,
             GraftQuartileSlices  *slices,
             GError              **error)
{
  json_object *object, *edges, *list;
  g_autofree char *prefix = g_strconcat (key, ".", NULL);

  if (!get_member (root, "", key, json_type_object, FALSE, &object, error))
    return FALSE;
  if (object == NULL)
    return TRUE;

  if (!get_list (object, prefix, "edges", GRAFT_METRICS_N_QUARTILES + 1, TRUE, &edges, error) ||
      !get_list (object, prefix, "slices", GRAFT_METRICS_N_QUARTILES, TRUE, &list, error))
    return FALSE;
  for (guint q = 0; q <= GRAFT_METRICS_N_QUARTILES; q++)
    {
      json_object *value = json_object_array_get_idx (edges, q);

      if (!(json_object_is_type (value, json_type_double) ||
            json_object_is_type (value, json_type_int)) ||
          !isfinite (json_object_get_double (value)) ||
          (q > 0 && json_object_get_double (value) < slices->edges[q - 1]))
        {
          set_parse_error (error, "the field “%sedges[%u]” must be a number, no smaller than "
                           "the edge before it", prefix, q);
          return FALSE;
        }
      slices->edges[q] = json_object_get_double (value);
    }
  for (guint q = 0; q < GRAFT_METRICS_N_QUARTILES; q++)
    {
      json_object *item = json_object_array_get_idx (list, q);
      char slice[64];

      g_snprintf (slice, sizeof slice, "%s.slices[%u].", key, q);
      if (!json_object_is_type (item, json_type_object))
        {
          set_parse_error (error, "the item “%s.slices[%u]” must be an object, not %s", key, q,
                           graft_json_describe (item));
          return FALSE;
        }
      if (!read_count (item, slice, "count", 0, n_images, &slices->count[q], error) ||
          !read_count (item, slice, "n_correct", 0, slices->count[q], &slices->n_correct[q],
                       error) ||
          !read_ratio (item, slice, "accuracy", &slices->accuracy[q], error))
        return FALSE;
    }
  slices->present = TRUE;
  return TRUE;
}

static gboolean
read_predictions (json_object   *root,
                  GraftMetrics  *self,
                  GError       **error)
{
  json_object *list;

  if (!get_list (root, "", "predictions", self->n_images, FALSE, &list, error))
    return FALSE;
  if (list == NULL)
    return TRUE;

  self->n_predictions = self->n_images;
  self->predictions = g_new0 (GraftPrediction, self->n_images);
  for (guint i = 0; i < self->n_images; i++)
    self->predictions[i].brightness = -1.0f;

  for (guint i = 0; i < self->n_images; i++)
    {
      GraftPrediction *p = &self->predictions[i];
      json_object *item = json_object_array_get_idx (list, i);
      json_object *value;
      char prefix[48];
      guint label, predicted;
      double confidence, p_true, loss, brightness;

      g_snprintf (prefix, sizeof prefix, "predictions[%u].", i);
      if (!json_object_is_type (item, json_type_object))
        {
          set_parse_error (error, "the item “predictions[%u]” must be an object, not %s", i,
                           graft_json_describe (item));
          return FALSE;
        }
      if (!read_count (item, prefix, "label", 0, self->n_classes - 1, &label, error) ||
          !read_count (item, prefix, "predicted", 0, self->n_classes - 1, &predicted, error) ||
          !read_ratio (item, prefix, "confidence", &confidence, error) ||
          !read_ratio (item, prefix, "p_true", &p_true, error) ||
          !read_number (item, prefix, "loss", 0.0, G_MAXFLOAT, &loss, error))
        return FALSE;
      p->label = (int) label;
      p->predicted = (int) predicted;
      p->confidence = (float) confidence;
      p->p_true = (float) p_true;
      p->loss = (float) loss;

      if (!get_member (item, prefix, "brightness", json_type_double, FALSE, &value, error))
        return FALSE;
      if (value != NULL)
        {
          if (!read_number (item, prefix, "brightness", 0.0, 255.0, &brightness, error))
            return FALSE;
          p->brightness = (float) brightness;
        }
      if (!get_member (item, prefix, "pixels", json_type_int, FALSE, &value, error) ||
          (value != NULL && !check_count (value, prefix, "pixels", 1, G_MAXINT64, &p->pixels,
                                          error)))
        return FALSE;
      if (!get_member (item, prefix, "name", json_type_string, FALSE, &value, error))
        return FALSE;
      if (value != NULL)
        p->name = g_strdup (json_object_get_string (value));
    }
  return TRUE;
}

static gboolean
read_classes (json_object   *root,
              GraftMetrics  *self,
              GError       **error)
{
  json_object *list;

  if (!get_list (root, "", "classes", self->n_classes, FALSE, &list, error))
    return FALSE;
  if (list == NULL)
    return TRUE;
  self->class_names = g_new0 (char *, self->n_classes + 1);
  for (guint c = 0; c < self->n_classes; c++)
    {
      json_object *item = json_object_array_get_idx (list, c);

      if (!json_object_is_type (item, json_type_string))
        {
          set_parse_error (error, "the item “classes[%u]” must be a string, not %s", c,
                           graft_json_describe (item));
          return FALSE;
        }
      self->class_names[c] = g_strdup (json_object_get_string (item));
    }
  return TRUE;
}

GraftMetrics *
graft_metrics_from_json (struct json_object  *root,
                         GError             **error)
{
  g_autoptr(GraftMetrics) self = NULL;
  json_object *schema, *top_k, *losses_given;
  guint n_images, n_classes;
  int64_t version;

  g_return_val_if_fail (root != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!json_object_is_type (root, json_type_object))
    {
      set_parse_error (error, "expected an object, not %s", graft_json_describe (root));
      return NULL;
    }
  if (!get_member (root, "", "schema", json_type_int, TRUE, &schema, error))
    return NULL;
  version = json_object_get_int64 (schema);
  if (version > GRAFT_METRICS_SCHEMA_VERSION)
    {
      g_set_error (error, GRAFT_EVAL_ERROR, GRAFT_EVAL_ERROR_VERSION,
                   "Saved metrics of schema %" G_GINT64_FORMAT " were written by a newer "
                   "version of Graft (this one reads %d); open them with that version",
                   (gint64) version, GRAFT_METRICS_SCHEMA_VERSION);
      return NULL;
    }
  if (version < 1)
    {
      set_parse_error (error, "the field “schema” must be %d, not %" G_GINT64_FORMAT,
                       GRAFT_METRICS_SCHEMA_VERSION, (gint64) version);
      return NULL;
    }

  if (!read_count (root, "", "n_images", 1, G_MAXUINT, &n_images, error) ||
      !read_count (root, "", "n_classes", 1, G_MAXINT, &n_classes, error))
    return NULL;
  /* The predictions are allocated when there are any; the bins when their count is read. */
  self = _graft_metrics_alloc (n_images, n_classes, 0, 0);

  if (!read_classes (root, self, error) ||
      !read_count (root, "", "n_correct", 0, n_images, &self->n_correct, error) ||
      !read_ratio (root, "", "accuracy", &self->accuracy, error) ||
      !get_member (root, "", "top_k", json_type_object, TRUE, &top_k, error) ||
      !read_count (top_k, "top_k.", "k", 1, G_MAXUINT, &self->top_k, error) ||
      !read_count (top_k, "top_k.", "n_correct", 0, n_images, &self->top_k_correct, error) ||
      !read_ratio (top_k, "top_k.", "accuracy", &self->top_k_accuracy, error) ||
      !get_member (root, "", "losses_given", json_type_boolean, TRUE, &losses_given, error) ||
      !read_number (root, "", "mean_loss", 0.0, G_MAXDOUBLE, &self->mean_loss, error) ||
      !read_per_class (root, self, error) ||
      !read_average (root, "macro", &self->macro, error) ||
      !read_average (root, "weighted", &self->weighted, error) ||
      !read_confusion (root, self, error) ||
      !read_calibration (root, self, error) ||
      !read_slices (root, "brightness", n_images, &self->brightness, error) ||
      !read_slices (root, "size", n_images, &self->size, error) ||
      !read_predictions (root, self, error))
    return NULL;
  self->losses_given = json_object_get_boolean (losses_given);
  return g_steal_pointer (&self);
}

GraftMetrics *
graft_metrics_from_string (const char  *text,
                           GError     **error)
{
  json_tokener *tokener;
  json_object *root;
  enum json_tokener_error status;
  GraftMetrics *self;
  gsize length, end;

  g_return_val_if_fail (text != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  length = strlen (text);
  if (length > G_MAXINT)
    {
      set_parse_error (error, "the text is too long (%" G_GSIZE_FORMAT " bytes)", length);
      return NULL;
    }
  tokener = json_tokener_new ();
  root = json_tokener_parse_ex (tokener, text, (int) length);
  status = json_tokener_get_error (tokener);
  end = json_tokener_get_parse_end (tokener);
  json_tokener_free (tokener);
  while (root != NULL && end < length && g_ascii_isspace (text[end]))
    end++;
  if (root == NULL || status != json_tokener_success || end != length)
    {
      set_parse_error (error, "not JSON (%s)", root == NULL || status != json_tokener_success
                                               ? json_tokener_error_desc (status)
                                               : "text after the end of the object");
      json_object_put (root);
      return NULL;
    }
  self = graft_metrics_from_json (root, error);
  json_object_put (root);
  return self;
}
