/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-project"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-run-compare.h"

/* Configuration */

static void
config_change_free (GraftConfigChange *change)
{
  g_free (change->path);
  json_object_put (change->a);
  json_object_put (change->b);
  g_free (change);
}

static void
add_change (GPtrArray             *changes,
            GraftConfigChangeKind  kind,
            const char            *path,
            json_object           *a,
            json_object           *b)
{
  GraftConfigChange *change = g_new0 (GraftConfigChange, 1);

  change->kind = kind;
  change->path = g_strdup (path);
  change->a = json_object_get (a);
  change->b = json_object_get (b);
  g_ptr_array_add (changes, change);
}

static gboolean
is_number (json_object *value)
{
  return json_object_is_type (value, json_type_int) ||
         json_object_is_type (value, json_type_double);
}

/* Equal JSON values; 1 and 1.0 are the same number. */
static gboolean
values_equal (json_object *a,
              json_object *b)
{
  if (is_number (a) && is_number (b))
    {
      if (json_object_is_type (a, json_type_int) && json_object_is_type (b, json_type_int))
        return json_object_get_int64 (a) == json_object_get_int64 (b);
      return json_object_get_double (a) == json_object_get_double (b);
    }
  return json_object_equal (a, b) != 0;
}

static char *
child_path (const char *path,
            const char *key)
{
  return *path == '\0' ? g_strdup (key) : g_strdup_printf ("%s.%s", path, key);
}

static int
compare_keys (gconstpointer a,
              gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static void
diff_values (GPtrArray   *changes,
             const char  *path,
             json_object *a,
             json_object *b)
{
  if (json_object_is_type (a, json_type_object) && json_object_is_type (b, json_type_object))
    {
      g_autoptr(GPtrArray) keys = g_ptr_array_new ();

      {
        json_object_object_foreach (a, key, value)
          {
            (void) value;
            g_ptr_array_add (keys, key);
          }
      }
      {
        json_object_object_foreach (b, key, value)
          {
            (void) value;
            if (!json_object_object_get_ex (a, key, NULL))
              g_ptr_array_add (keys, key);
          }
      }
      g_ptr_array_sort (keys, compare_keys);
      for (guint i = 0; i < keys->len; i++)
        {
          const char *key = g_ptr_array_index (keys, i);
          g_autofree char *child = child_path (path, key);
          json_object *va = NULL, *vb = NULL;
          gboolean in_a = json_object_object_get_ex (a, key, &va);
          gboolean in_b = json_object_object_get_ex (b, key, &vb);

          if (in_a && !in_b)
            add_change (changes, GRAFT_CONFIG_ONLY_A, child, va, NULL);
          else if (in_b && !in_a)
            add_change (changes, GRAFT_CONFIG_ONLY_B, child, NULL, vb);
          else
            diff_values (changes, child, va, vb);
        }
      return;
    }
  if (json_object_is_type (a, json_type_array) && json_object_is_type (b, json_type_array) &&
      json_object_array_length (a) == json_object_array_length (b))
    {
      for (gsize i = 0; i < json_object_array_length (a); i++)
        {
          g_autofree char *child = g_strdup_printf ("%s[%" G_GSIZE_FORMAT "]", path, i);

          diff_values (changes, child, json_object_array_get_idx (a, i),
                       json_object_array_get_idx (b, i));
        }
      return;
    }
  if (a == NULL && b == NULL)
    return;
  if (a == NULL || b == NULL || !values_equal (a, b))
    add_change (changes, GRAFT_CONFIG_CHANGED, path, a, b);
}

/* Metrics overall: the numbers at the top level and one object down. */

static void
metric_delta_free (GraftMetricDelta *delta)
{
  g_free (delta->path);
  g_free (delta);
}

static void
add_metric_deltas (GPtrArray   *deltas,
                   const char  *prefix,
                   json_object *a,
                   json_object *b,
                   gboolean     descend)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new ();

  {
    json_object_object_foreach (a, key, value)
      {
        (void) value;
        g_ptr_array_add (keys, key);
      }
  }
  g_ptr_array_sort (keys, compare_keys);
  for (guint i = 0; i < keys->len; i++)
    {
      const char *key = g_ptr_array_index (keys, i);
      g_autofree char *path = child_path (prefix, key);
      json_object *va = json_object_object_get (a, key);
      json_object *vb = NULL;

      if (!json_object_object_get_ex (b, key, &vb) || vb == NULL)
        continue;
      if (is_number (va) && is_number (vb))
        {
          GraftMetricDelta *delta;

          if (*prefix == '\0' && g_str_equal (key, "schema"))
            continue;
          delta = g_new0 (GraftMetricDelta, 1);
          delta->path = g_steal_pointer (&path);
          delta->a = json_object_get_double (va);
          delta->b = json_object_get_double (vb);
          delta->delta = delta->b - delta->a;
          g_ptr_array_add (deltas, delta);
        }
      else if (descend && json_object_is_type (va, json_type_object) &&
               json_object_is_type (vb, json_type_object))
        add_metric_deltas (deltas, path, va, vb, FALSE);
    }
}

/* Classes */

static void
class_delta_free (GraftClassDelta *delta)
{
  g_free (delta->name);
  g_free (delta);
}

static json_object *
get_typed (json_object *object,
           const char  *key,
           json_type    type)
{
  json_object *value = NULL;

  if (object == NULL || !json_object_object_get_ex (object, key, &value) ||
      !json_object_is_type (value, type))
    return NULL;
  return value;
}

/* Whether the two metrics speak of the same classes in the same order; *n_classes is their
 * number, and a reason is set when they do not. */
static gboolean
same_classes (json_object  *a,
              json_object  *b,
              gsize        *n_classes,
              char        **reason)
{
  json_object *ca = get_typed (a, "classes", json_type_array);
  json_object *cb = get_typed (b, "classes", json_type_array);
  json_object *na = get_typed (a, "n_classes", json_type_int);
  json_object *nb = get_typed (b, "n_classes", json_type_int);

  if (na == NULL || nb == NULL)
    {
      *reason = g_strdup ("the final metrics of one run give no number of classes");
      return FALSE;
    }
  if (json_object_get_int64 (na) != json_object_get_int64 (nb))
    {
      *reason = g_strdup_printf ("the runs have %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                                 " classes", json_object_get_int64 (na),
                                 json_object_get_int64 (nb));
      return FALSE;
    }
  if (ca != NULL && cb != NULL && !json_object_equal (ca, cb))
    {
      *reason = g_strdup ("the runs name other classes, or the same in another order");
      return FALSE;
    }
  *n_classes = (gsize) MAX (json_object_get_int64 (na), 0);
  return TRUE;
}

static double
get_double (json_object *object,
            const char  *key,
            gboolean    *ok)
{
  json_object *value = NULL;

  if (!json_object_object_get_ex (object, key, &value) || !is_number (value))
    {
      *ok = FALSE;
      return 0.0;
    }
  return json_object_get_double (value);
}

static void
compare_classes (GraftRunComparison *self,
                 json_object        *a,
                 json_object        *b)
{
  json_object *pa = get_typed (a, "per_class", json_type_array);
  json_object *pb = get_typed (b, "per_class", json_type_array);
  json_object *names = get_typed (a, "classes", json_type_array);
  gsize n = 0;

  if (pa == NULL || pb == NULL)
    {
      self->classes_note = g_strdup ("the final metrics of one run hold no per-class metrics");
      return;
    }
  if (!same_classes (a, b, &n, &self->classes_note))
    return;
  if (json_object_array_length (pa) != n || json_object_array_length (pb) != n)
    {
      self->classes_note = g_strdup ("the per-class metrics do not list every class");
      return;
    }
  for (gsize c = 0; c < n; c++)
    {
      json_object *ia = json_object_array_get_idx (pa, c);
      json_object *ib = json_object_array_get_idx (pb, c);
      GraftClassDelta *delta = g_new0 (GraftClassDelta, 1);
      gboolean ok = json_object_is_type (ia, json_type_object) &&
                    json_object_is_type (ib, json_type_object);
      const char *const keys[3] = { "precision", "recall", "f1" };
      double *slots[3] = { delta->precision, delta->recall, delta->f1 };

      delta->index = (guint) c;
      if (names != NULL)
        delta->name = g_strdup (json_object_get_string (json_object_array_get_idx (names, c)));
      for (guint k = 0; ok && k < 3; k++)
        {
          slots[k][0] = get_double (ia, keys[k], &ok);
          slots[k][1] = get_double (ib, keys[k], &ok);
          slots[k][2] = slots[k][1] - slots[k][0];
        }
      if (!ok)
        {
          class_delta_free (delta);
          g_ptr_array_set_size (self->classes, 0);
          self->classes_note = g_strdup_printf ("per_class[%" G_GSIZE_FORMAT "] of one run "
                                                "lacks its precision, recall or F1", c);
          return;
        }
      g_ptr_array_add (self->classes, delta);
    }
  self->classes_compared = TRUE;
}

/* Images */

static void
image_change_free (GraftImageChange *change)
{
  g_free (change->name);
  g_free (change);
}

static gboolean
all_named (json_object *predictions)
{
  for (gsize i = 0; i < json_object_array_length (predictions); i++)
    if (get_typed (json_object_array_get_idx (predictions, i), "name", json_type_string) == NULL)
      return FALSE;
  return json_object_array_length (predictions) > 0;
}

static gboolean
read_prediction (json_object *item,
                 int         *label,
                 int         *predicted)
{
  json_object *l = get_typed (item, "label", json_type_int);
  json_object *p = get_typed (item, "predicted", json_type_int);

  if (l == NULL || p == NULL)
    return FALSE;
  *label = (int) json_object_get_int64 (l);
  *predicted = (int) json_object_get_int64 (p);
  return TRUE;
}

static void
compare_images (GraftRunComparison *self,
                json_object        *a,
                json_object        *b)
{
  json_object *pa = get_typed (a, "predictions", json_type_array);
  json_object *pb = get_typed (b, "predictions", json_type_array);
  g_autoptr(GHashTable) by_name = NULL;
  gboolean named;
  gsize n, unmatched = 0, n_classes = 0;

  if (pa == NULL || pb == NULL)
    {
      self->images_note = g_strdup ("the final metrics of one run hold no per-image "
                                    "predictions");
      return;
    }
  if (!same_classes (a, b, &n_classes, &self->images_note))
    return;
  named = all_named (pa) && all_named (pb);
  n = json_object_array_length (pa);
  if (!named && n != json_object_array_length (pb))
    {
      self->images_note = g_strdup_printf ("the runs predicted %" G_GSIZE_FORMAT " and %"
                                           G_GSIZE_FORMAT " images, without names to match "
                                           "them by", n, json_object_array_length (pb));
      return;
    }
  if (named)
    {
      by_name = g_hash_table_new (g_str_hash, g_str_equal);
      for (gsize i = 0; i < json_object_array_length (pb); i++)
        {
          json_object *item = json_object_array_get_idx (pb, i);

          g_hash_table_insert (by_name, (gpointer) json_object_get_string (
                                 json_object_object_get (item, "name")), item);
        }
    }

  for (gsize i = 0; i < n; i++)
    {
      json_object *ia = json_object_array_get_idx (pa, i);
      json_object *ib;
      const char *name = NULL;
      int label_a, label_b, predicted_a, predicted_b;
      gboolean right_a, right_b;
      GraftImageChange *change;

      if (named)
        {
          name = json_object_get_string (json_object_object_get (ia, "name"));
          ib = g_hash_table_lookup (by_name, name);
        }
      else
        ib = json_object_array_get_idx (pb, i);
      if (ib == NULL)
        {
          unmatched++;
          continue;
        }
      if (!read_prediction (ia, &label_a, &predicted_a) ||
          !read_prediction (ib, &label_b, &predicted_b))
        {
          g_ptr_array_set_size (self->only_a_right, 0);
          g_ptr_array_set_size (self->only_b_right, 0);
          self->images_note = g_strdup_printf ("prediction %" G_GSIZE_FORMAT " of one run "
                                               "lacks its label or predicted class", i);
          return;
        }
      if (label_a != label_b)
        {
          unmatched++;
          continue;
        }
      right_a = predicted_a == label_a;
      right_b = predicted_b == label_b;
      if (right_a == right_b)
        continue;
      change = g_new0 (GraftImageChange, 1);
      change->index = (guint) i;
      change->name = g_strdup (name);
      change->label = label_a;
      change->predicted_a = predicted_a;
      change->predicted_b = predicted_b;
      g_ptr_array_add (right_a ? self->only_a_right : self->only_b_right, change);
    }
  self->images_compared = TRUE;
  if (unmatched > 0)
    self->images_note = g_strdup_printf ("%" G_GSIZE_FORMAT " images of run %s are not among "
                                         "run %s's with the same label", unmatched,
                                         self->id_a, self->id_b);
}

GraftRunComparison *
graft_run_compare_json (const char  *id_a,
                        json_object *config_a,
                        json_object *metrics_a,
                        const char  *id_b,
                        json_object *config_b,
                        json_object *metrics_b)
{
  GraftRunComparison *self = g_new0 (GraftRunComparison, 1);
  json_object *empty = json_object_new_object ();

  self->id_a = g_strdup (id_a);
  self->id_b = g_strdup (id_b);
  self->config = g_ptr_array_new_with_free_func ((GDestroyNotify) config_change_free);
  self->metrics = g_ptr_array_new_with_free_func ((GDestroyNotify) metric_delta_free);
  self->classes = g_ptr_array_new_with_free_func ((GDestroyNotify) class_delta_free);
  self->only_a_right = g_ptr_array_new_with_free_func ((GDestroyNotify) image_change_free);
  self->only_b_right = g_ptr_array_new_with_free_func ((GDestroyNotify) image_change_free);

  diff_values (self->config, "", config_a != NULL ? config_a : empty,
               config_b != NULL ? config_b : empty);
  json_object_put (empty);

  if (!json_object_is_type (metrics_a, json_type_object) ||
      !json_object_is_type (metrics_b, json_type_object))
    {
      const char *why = "one of the runs has no final metrics (it has not finished)";

      self->classes_note = g_strdup (why);
      self->images_note = g_strdup (why);
      return self;
    }
  add_metric_deltas (self->metrics, "", metrics_a, metrics_b, TRUE);
  compare_classes (self, metrics_a, metrics_b);
  compare_images (self, metrics_a, metrics_b);
  return self;
}

GraftRunComparison *
graft_run_compare (GraftRun *a,
                   GraftRun *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  return graft_run_compare_json (graft_run_get_id (a), graft_run_get_config (a),
                                 graft_run_get_final_metrics (a),
                                 graft_run_get_id (b), graft_run_get_config (b),
                                 graft_run_get_final_metrics (b));
}

void
graft_run_comparison_free (GraftRunComparison *self)
{
  if (self == NULL)
    return;
  g_free (self->id_a);
  g_free (self->id_b);
  g_ptr_array_unref (self->config);
  g_ptr_array_unref (self->metrics);
  g_free (self->classes_note);
  g_ptr_array_unref (self->classes);
  g_free (self->images_note);
  g_ptr_array_unref (self->only_a_right);
  g_ptr_array_unref (self->only_b_right);
  g_free (self);
}

/* JSON */

static json_object *
triple_to_json (const double values[3])
{
  json_object *object = json_object_new_object ();

  json_object_object_add (object, "a", json_object_new_double (values[0]));
  json_object_object_add (object, "b", json_object_new_double (values[1]));
  json_object_object_add (object, "delta", json_object_new_double (values[2]));
  return object;
}

static json_object *
images_to_json (GPtrArray *images)
{
  json_object *list = json_object_new_array ();

  for (guint i = 0; i < images->len; i++)
    {
      GraftImageChange *change = g_ptr_array_index (images, i);
      json_object *item = json_object_new_object ();

      json_object_object_add (item, "index", json_object_new_int64 (change->index));
      if (change->name != NULL)
        json_object_object_add (item, "name", json_object_new_string (change->name));
      json_object_object_add (item, "label", json_object_new_int (change->label));
      json_object_object_add (item, "predicted_a", json_object_new_int (change->predicted_a));
      json_object_object_add (item, "predicted_b", json_object_new_int (change->predicted_b));
      json_object_array_add (list, item);
    }
  return list;
}

json_object *
graft_run_comparison_to_json (const GraftRunComparison *self)
{
  static const char *const kinds[] = { "only_a", "only_b", "changed" };
  json_object *root, *config, *metrics;

  g_return_val_if_fail (self != NULL, NULL);

  root = json_object_new_object ();
  json_object_object_add (root, "a", json_object_new_string (self->id_a ? self->id_a : ""));
  json_object_object_add (root, "b", json_object_new_string (self->id_b ? self->id_b : ""));

  config = json_object_new_array ();
  for (guint i = 0; i < self->config->len; i++)
    {
      GraftConfigChange *change = g_ptr_array_index (self->config, i);
      json_object *item = json_object_new_object ();

      json_object_object_add (item, "path", json_object_new_string (change->path));
      json_object_object_add (item, "change", json_object_new_string (kinds[change->kind]));
      if (change->a != NULL)
        json_object_object_add (item, "a", json_object_get (change->a));
      if (change->b != NULL)
        json_object_object_add (item, "b", json_object_get (change->b));
      json_object_array_add (config, item);
    }
  json_object_object_add (root, "config", config);

  metrics = json_object_new_array ();
  for (guint i = 0; i < self->metrics->len; i++)
    {
      GraftMetricDelta *delta = g_ptr_array_index (self->metrics, i);
      json_object *item = json_object_new_object ();

      json_object_object_add (item, "path", json_object_new_string (delta->path));
      json_object_object_add (item, "a", json_object_new_double (delta->a));
      json_object_object_add (item, "b", json_object_new_double (delta->b));
      json_object_object_add (item, "delta", json_object_new_double (delta->delta));
      json_object_array_add (metrics, item);
    }
  json_object_object_add (root, "metrics", metrics);

  if (self->classes_compared)
    {
      json_object *classes = json_object_new_array ();

      for (guint i = 0; i < self->classes->len; i++)
        {
          GraftClassDelta *delta = g_ptr_array_index (self->classes, i);
          json_object *item = json_object_new_object ();

          json_object_object_add (item, "index", json_object_new_int64 (delta->index));
          if (delta->name != NULL)
            json_object_object_add (item, "name", json_object_new_string (delta->name));
          json_object_object_add (item, "precision", triple_to_json (delta->precision));
          json_object_object_add (item, "recall", triple_to_json (delta->recall));
          json_object_object_add (item, "f1", triple_to_json (delta->f1));
          json_object_array_add (classes, item);
        }
      json_object_object_add (root, "per_class", classes);
    }
  else
    json_object_object_add (root, "per_class", NULL);
  if (self->classes_note != NULL)
    json_object_object_add (root, "per_class_note", json_object_new_string (self->classes_note));

  json_object_object_add (root, "only_a_right",
                          self->images_compared ? images_to_json (self->only_a_right) : NULL);
  json_object_object_add (root, "only_b_right",
                          self->images_compared ? images_to_json (self->only_b_right) : NULL);
  if (self->images_note != NULL)
    json_object_object_add (root, "images_note", json_object_new_string (self->images_note));
  return root;
}
