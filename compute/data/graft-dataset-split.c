/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <math.h>
#include <string.h>

#include "graft-dataset-split.h"

void
graft_split_options_init (GraftSplitOptions *options)
{
  g_return_if_fail (options != NULL);

  options->fractions[0] = GRAFT_SPLIT_DEFAULT_TRAIN;
  options->fractions[1] = GRAFT_SPLIT_DEFAULT_VAL;
  options->fractions[2] = GRAFT_SPLIT_DEFAULT_TEST;
  options->seed = 0;
}

static gboolean
check_fractions (const double   fractions[3],
                 const char    *text,
                 GError       **error)
{
  double sum = 0.0;

  for (guint s = 0; s < 3; s++)
    {
      if (!isfinite (fractions[s]) || fractions[s] < 0.0)
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       "The %s fraction of the split%s%s%s is %g: give three numbers of 0 "
                       "or more for train, val and test, such as 0.7,0.15,0.15",
                       graft_split_to_string ((GraftSplit) (s + 1)),
                       text != NULL ? " “" : "", text != NULL ? text : "",
                       text != NULL ? "”" : "", fractions[s]);
          return FALSE;
        }
      sum += fractions[s];
    }
  if (!(sum > 0.0) || !isfinite (sum))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "The split%s%s%s gives no part to any of train, val and test: give "
                   "three numbers that are not all 0, such as 0.7,0.15,0.15",
                   text != NULL ? " “" : "", text != NULL ? text : "",
                   text != NULL ? "”" : "");
      return FALSE;
    }
  return TRUE;
}

gboolean
graft_split_options_check (const GraftSplitOptions  *options,
                           GError                  **error)
{
  g_return_val_if_fail (options != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_fractions (options->fractions, NULL, error);
}

gboolean
graft_split_parse_fractions (const char  *text,
                             double       fractions[3],
                             GError     **error)
{
  g_auto(GStrv) parts = NULL;
  double parsed[3], sum;

  g_return_val_if_fail (text != NULL && fractions != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  parts = g_strsplit (text, ",", -1);
  if (g_strv_length (parts) != 3)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                   "The split “%s” is not three numbers: give the parts of train, val and "
                   "test separated by commas, such as 0.7,0.15,0.15 or 80,10,10", text);
      return FALSE;
    }
  for (guint s = 0; s < 3; s++)
    {
      const char *start = parts[s];
      char *end = NULL;

      while (g_ascii_isspace (*start))
        start++;
      parsed[s] = g_ascii_strtod (start, &end);
      while (end != NULL && g_ascii_isspace (*end))
        end++;
      if (*start == '\0' || end == NULL || *end != '\0')
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID,
                       "The %s part “%s” of the split “%s” is not a number: give three "
                       "numbers such as 0.7,0.15,0.15",
                       graft_split_to_string ((GraftSplit) (s + 1)), parts[s], text);
          return FALSE;
        }
    }
  if (!check_fractions (parsed, text, error))
    return FALSE;
  sum = parsed[0] + parsed[1] + parsed[2];
  for (guint s = 0; s < 3; s++)
    fractions[s] = parsed[s] / sum;
  return TRUE;
}

void
graft_dataset_clear_split (GraftDataset *dataset)
{
  g_return_if_fail (dataset != NULL);

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (!sample->split_fixed)
        sample->split = GRAFT_SPLIT_NONE;
    }
}

/* A sample the health check took out of every split. */
static gboolean
sample_is_excluded (const GraftSample *sample)
{
  return !sample->usable;
}

static gboolean
sample_is_open (const GraftSample *sample)
{
  return sample->usable && sample->split == GRAFT_SPLIT_NONE && !sample->split_fixed;
}

/* What is distributed: one sample, or the copies of one file (the first by name leads). */
typedef struct {
  GraftSample *lead;
  GPtrArray   *members;  /* GraftSample *, lead included */
} Unit;

static void
unit_free (gpointer data)
{
  Unit *unit = data;

  g_ptr_array_unref (unit->members);
  g_free (unit);
}

static int
compare_units (gconstpointer a,
               gconstpointer b)
{
  const Unit *ua = *(const Unit *const *) a;
  const Unit *ub = *(const Unit *const *) b;
  int c = strcmp (ua->lead->name, ub->lead->name);

  return c != 0 ? c : strcmp (ua->lead->path, ub->lead->path);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static guint32
fnv1a (const char *text)
{
  guint32 h = 2166136261u;

  for (const guchar *p = (const guchar *) text; *p != '\0'; p++)
    {
      h ^= *p;
      h *= 16777619u;
    }
  return h;
}

/* The stratum of @sample: its class name (for detection its rarest class by
 * @image_counts), "" for none. */
static const char *
stratum_of (GraftDataset      *dataset,
            const GraftSample *sample,
            const guint       *image_counts)
{
  guint n_classes = dataset->classes->len;

  if (dataset->task == GRAFT_TASK_DETECTION)
    {
      int best = -1;

      for (guint b = 0; sample->boxes != NULL && b < sample->boxes->len; b++)
        {
          const GraftBox *box = &g_array_index (sample->boxes, GraftBox, b);

          if (box->label >= n_classes)
            continue;
          if (best < 0 || image_counts[box->label] < image_counts[best] ||
              (image_counts[box->label] == image_counts[best] &&
               strcmp (g_ptr_array_index (dataset->classes, box->label),
                       g_ptr_array_index (dataset->classes, best)) < 0))
            best = (int) box->label;
        }
      return best >= 0 ? g_ptr_array_index (dataset->classes, best) : "";
    }
  if (sample->label >= 0 && (guint) sample->label < n_classes)
    return g_ptr_array_index (dataset->classes, sample->label);
  return "";
}

/* Images holding each class, over the usable samples. */
static guint *
count_images_per_class (GraftDataset *dataset)
{
  guint n_classes = dataset->classes->len;
  guint *counts = g_new0 (guint, n_classes + 1);
  g_autofree gboolean *seen = g_new0 (gboolean, n_classes + 1);

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (sample_is_excluded (sample) || sample->boxes == NULL)
        continue;
      memset (seen, 0, sizeof (gboolean) * (n_classes + 1));
      for (guint b = 0; b < sample->boxes->len; b++)
        {
          guint label = g_array_index (sample->boxes, GraftBox, b).label;

          if (label < n_classes && !seen[label])
            {
              seen[label] = TRUE;
              counts[label]++;
            }
        }
    }
  return counts;
}

/* Cuts @units (already in their drawn order) by @fractions with the largest remainder. */
static void
assign_stratum (GPtrArray    *units,
                const double  fractions[3],
                guint        *n_assigned)
{
  guint n = units->len;
  guint quota[3];
  double remainder[3];
  guint given = 0, next = 0;

  for (guint s = 0; s < 3; s++)
    {
      double exact = n * fractions[s];

      quota[s] = (guint) floor (exact + 1e-9);
      remainder[s] = exact - quota[s];
      given += quota[s];
    }
  while (given < n)
    {
      int best = -1;

      for (guint s = 0; s < 3; s++)
        {
          if (fractions[s] <= 0.0)
            continue;
          if (best < 0 || remainder[s] > remainder[best] + 1e-12 ||
              (fabs (remainder[s] - remainder[best]) <= 1e-12 && fractions[s] > fractions[best]))
            best = (int) s;
        }
      quota[best]++;
      remainder[best] = -1.0;
      given++;
    }

  for (guint s = 0; s < 3; s++)
    for (guint k = 0; k < quota[s]; k++, next++)
      {
        Unit *unit = g_ptr_array_index (units, next);

        for (guint m = 0; m < unit->members->len; m++)
          {
            GraftSample *sample = g_ptr_array_index (unit->members, m);

            sample->split = (GraftSplit) (s + 1);
            (*n_assigned)++;
          }
      }
}

gboolean
graft_dataset_split (GraftDataset              *dataset,
                     const GraftSplitOptions   *options,
                     const GraftDatasetHealth  *health,
                     guint                     *n_assigned,
                     GError                   **error)
{
  g_autoptr(GHashTable) strata = NULL;
  g_autoptr(GPtrArray) keys = NULL;
  g_autofree guint *image_counts = NULL;
  g_autofree gboolean *grouped = NULL;
  GHashTableIter iter;
  gpointer key_ptr;
  double fractions[3];
  double sum = 0.0;
  guint assigned = 0;
  guint n = 0;

  g_return_val_if_fail (dataset != NULL && options != NULL, FALSE);
  g_return_val_if_fail (health == NULL || health->n_samples == dataset->samples->len, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!graft_split_options_check (options, error))
    return FALSE;
  for (guint s = 0; s < 3; s++)
    sum += options->fractions[s];
  for (guint s = 0; s < 3; s++)
    fractions[s] = options->fractions[s] / sum;

  n = dataset->samples->len;
  image_counts = count_images_per_class (dataset);
  strata = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                  (GDestroyNotify) g_ptr_array_unref);
  grouped = g_new0 (gboolean, n + 1);

  /* Copies of one file: they follow a copy that has a split already, else they are
   * distributed together. */
  for (guint g = 0; health != NULL && g < health->duplicates->len; g++)
    {
      GArray *group = g_ptr_array_index (health->duplicates, g);
      GraftSplit existing = GRAFT_SPLIT_NONE;
      Unit *unit = NULL;

      for (guint m = 0; m < group->len; m++)
        {
          guint index = g_array_index (group, guint, m);
          GraftSample *sample = g_ptr_array_index (dataset->samples, index);

          grouped[index] = TRUE;
          if (existing == GRAFT_SPLIT_NONE && sample->split != GRAFT_SPLIT_NONE)
            existing = sample->split;
        }
      for (guint m = 0; m < group->len; m++)
        {
          GraftSample *sample = g_ptr_array_index (dataset->samples,
                                                   g_array_index (group, guint, m));

          if (!sample_is_open (sample))
            continue;
          if (existing != GRAFT_SPLIT_NONE)
            {
              sample->split = existing;
              assigned++;
              continue;
            }
          if (unit == NULL)
            {
              unit = g_new0 (Unit, 1);
              unit->members = g_ptr_array_new ();
            }
          g_ptr_array_add (unit->members, sample);
          if (unit->lead == NULL || strcmp (sample->name, unit->lead->name) < 0)
            unit->lead = sample;
        }
      if (unit != NULL)
        {
          const char *key = stratum_of (dataset, unit->lead, image_counts);
          GPtrArray *units = g_hash_table_lookup (strata, key);

          if (units == NULL)
            {
              units = g_ptr_array_new_with_free_func (unit_free);
              g_hash_table_insert (strata, (gpointer) key, units);
            }
          g_ptr_array_add (units, unit);
        }
    }

  for (guint i = 0; i < n; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      const char *key;
      GPtrArray *units;
      Unit *unit;

      if (grouped[i] || !sample_is_open (sample))
        continue;
      unit = g_new0 (Unit, 1);
      unit->lead = sample;
      unit->members = g_ptr_array_new ();
      g_ptr_array_add (unit->members, sample);
      key = stratum_of (dataset, sample, image_counts);
      units = g_hash_table_lookup (strata, key);
      if (units == NULL)
        {
          units = g_ptr_array_new_with_free_func (unit_free);
          g_hash_table_insert (strata, (gpointer) key, units);
        }
      g_ptr_array_add (units, unit);
    }

  keys = g_ptr_array_new ();
  g_hash_table_iter_init (&iter, strata);
  while (g_hash_table_iter_next (&iter, &key_ptr, NULL))
    g_ptr_array_add (keys, key_ptr);
  g_ptr_array_sort (keys, compare_strings);
  for (guint k = 0; k < keys->len; k++)
    {
      const char *key = g_ptr_array_index (keys, k);
      GPtrArray *units = g_hash_table_lookup (strata, key);
      guint32 seed[3] = {
        (guint32) (options->seed & 0xffffffffu),
        (guint32) (options->seed >> 32),
        fnv1a (key),
      };
      g_autoptr(GRand) rand = g_rand_new_with_seed_array (seed, G_N_ELEMENTS (seed));

      /* By name first, so that the draw does not depend on the order of import. */
      g_ptr_array_sort (units, compare_units);
      for (guint i = units->len; i > 1; i--)
        {
          guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
          gpointer tmp = units->pdata[i - 1];

          units->pdata[i - 1] = units->pdata[j];
          units->pdata[j] = tmp;
        }
      assign_stratum (units, fractions, &assigned);
    }

  if (n_assigned != NULL)
    *n_assigned = assigned;
  return TRUE;
}
