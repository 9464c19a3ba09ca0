/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Splits: every class is cut within one sample of the fractions asked for, whatever the
 * fractions and seed; the same seed and files give the same split in whatever order they
 * were imported, another seed another one; train/val/test folders of the source are
 * honoured; detection images are stratified by their rarest class; unusable samples get
 * no split and copies of one file stay on one side of the split. */

#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

static const guint class_sizes[] = { 1, 2, 3, 7, 10, 33, 100 };

static void
add_sample (GraftDataset *dataset,
            const char   *class_name,
            guint         index)
{
  char *name = g_strdup_printf ("%s/%04u.png", class_name, index);
  char *path = g_strdup_printf ("/data/%s", name);

  graft_dataset_add_sample (dataset, path, name, (int) graft_dataset_add_class (dataset, class_name));
}

/* Classes of class_sizes[], added in an order drawn from @order_seed. */
static GraftDataset *
make_classification (guint32 order_seed)
{
  GraftDataset *dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, "/data");
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GRand) rand = g_rand_new_with_seed (order_seed);

  for (guint c = 0; c < G_N_ELEMENTS (class_sizes); c++)
    for (guint i = 0; i < class_sizes[c]; i++)
      {
        guint code = c * 1000 + i;
        g_array_append_val (order, code);
      }
  if (order_seed != 0)
    for (guint i = order->len; i > 1; i--)
      {
        guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
        guint tmp = g_array_index (order, guint, i - 1);

        g_array_index (order, guint, i - 1) = g_array_index (order, guint, j);
        g_array_index (order, guint, j) = tmp;
      }
  for (guint i = 0; i < order->len; i++)
    {
      guint code = g_array_index (order, guint, i);
      g_autofree char *class_name = g_strdup_printf ("class%u", code / 1000);

      add_sample (dataset, class_name, code % 1000);
    }
  return dataset;
}

static void
count_splits (GraftDataset *dataset,
              guint         label,
              guint         counts[GRAFT_N_SPLITS])
{
  memset (counts, 0, sizeof (guint) * GRAFT_N_SPLITS);
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (sample->label == (int) label)
        counts[sample->split]++;
    }
}

static void
assert_within_one (guint         count,
                   guint         n,
                   const double  fractions[3],
                   guint         split)
{
  double sum = fractions[0] + fractions[1] + fractions[2];
  double exact = n * fractions[split - 1] / sum;

  if (fabs (count - exact) >= 1.0)
    g_error ("%u of %u samples in %s, but %.3f asked for", count, n,
             graft_split_to_string ((GraftSplit) split), exact);
}

static void
test_proportions (void)
{
  const double fractions[][3] = {
    { 0.7, 0.15, 0.15 }, { 0.8, 0.2, 0.0 }, { 1.0, 0.0, 0.0 }, { 0.0, 0.0, 1.0 },
    { 1.0, 1.0, 1.0 }, { 60, 25, 15 }, { 0.5, 0.0, 0.5 },
  };
  const guint64 seeds[] = { 0, 1, 42, G_GUINT64_CONSTANT (1) << 40 };

  for (guint f = 0; f < G_N_ELEMENTS (fractions); f++)
    for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
      {
        g_autoptr(GraftDataset) dataset = make_classification (0);
        g_autoptr(GError) error = NULL;
        GraftSplitOptions options;
        guint assigned = 0;

        graft_split_options_init (&options);
        memcpy (options.fractions, fractions[f], sizeof options.fractions);
        options.seed = seeds[s];
        g_assert_true (graft_dataset_split (dataset, &options, NULL, &assigned, &error));
        g_assert_no_error (error);
        g_assert_cmpuint (assigned, ==, dataset->samples->len);

        for (guint c = 0; c < G_N_ELEMENTS (class_sizes); c++)
          {
            guint counts[GRAFT_N_SPLITS];

            count_splits (dataset, c, counts);
            g_assert_cmpuint (counts[GRAFT_SPLIT_NONE], ==, 0);
            for (guint split = GRAFT_SPLIT_TRAIN; split <= GRAFT_SPLIT_TEST; split++)
              {
                assert_within_one (counts[split], class_sizes[c], fractions[f], split);
                /* A split given no part gets nothing. */
                if (fractions[f][split - 1] == 0.0)
                  g_assert_cmpuint (counts[split], ==, 0);
              }
          }
      }
}

static GHashTable *
splits_by_name (GraftDataset *dataset)
{
  GHashTable *table = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      g_hash_table_insert (table, sample->name, GINT_TO_POINTER (sample->split));
    }
  return table;
}

static guint
n_different (GraftDataset *a,
             GraftDataset *b)
{
  g_autoptr(GHashTable) table = splits_by_name (a);
  guint n = 0;

  g_assert_cmpuint (a->samples->len, ==, b->samples->len);
  for (guint i = 0; i < b->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (b->samples, i);

      g_assert_true (g_hash_table_contains (table, sample->name));
      n += GPOINTER_TO_INT (g_hash_table_lookup (table, sample->name)) != (int) sample->split;
    }
  return n;
}

static void
test_seed (void)
{
  g_autoptr(GraftDataset) first = make_classification (0);
  g_autoptr(GraftDataset) again = make_classification (0);
  g_autoptr(GraftDataset) shuffled = make_classification (7);
  g_autoptr(GraftDataset) other_seed = make_classification (0);
  g_autoptr(GError) error = NULL;
  GraftSplitOptions options;

  graft_split_options_init (&options);
  options.seed = 1234;
  g_assert_true (graft_dataset_split (first, &options, NULL, NULL, &error));
  g_assert_true (graft_dataset_split (again, &options, NULL, NULL, &error));
  g_assert_true (graft_dataset_split (shuffled, &options, NULL, NULL, &error));
  options.seed = 1235;
  g_assert_true (graft_dataset_split (other_seed, &options, NULL, NULL, &error));
  g_assert_no_error (error);

  /* The shuffled import really is in another order. */
  g_assert_cmpstr (((GraftSample *) g_ptr_array_index (first->samples, 0))->name, !=,
                   ((GraftSample *) g_ptr_array_index (shuffled->samples, 0))->name);
  g_assert_cmpuint (n_different (first, again), ==, 0);
  g_assert_cmpuint (n_different (first, shuffled), ==, 0);
  /* Of 156 samples about 30 leave the training split: another seed moves many. */
  g_assert_cmpuint (n_different (first, other_seed), >, 10);

  /* Splitting again assigns nothing more; clearing and splitting again gives it back. */
  {
    guint assigned = 99;

    options.seed = 1234;
    g_assert_true (graft_dataset_split (first, &options, NULL, &assigned, &error));
    g_assert_cmpuint (assigned, ==, 0);
    graft_dataset_clear_split (first);
    g_assert_true (graft_dataset_split (first, &options, NULL, &assigned, &error));
    g_assert_cmpuint (assigned, ==, first->samples->len);
    g_assert_cmpuint (n_different (first, again), ==, 0);
  }
}

/* A source with train/ and test/ folders (fixed) and loose images (not). */
static void
test_fixed (void)
{
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, "/data");
  g_autoptr(GError) error = NULL;
  GraftSplitOptions options;
  guint assigned = 0;
  guint counts[2][GRAFT_N_SPLITS] = { { 0 } };

  for (guint c = 0; c < 2; c++)
    {
      guint label = graft_dataset_add_class (dataset, c == 0 ? "cat" : "dog");

      for (guint i = 0; i < 40; i++)
        {
          const char *folder = i < 12 ? "train" : i < 16 ? "test" : "extra";
          char *name = g_strdup_printf ("%s/%s/%u.png", folder, c == 0 ? "cat" : "dog", i);
          GraftSample *sample = graft_dataset_add_sample (dataset, g_strconcat ("/data/", name, NULL),
                                                          name, (int) label);

          if (i < 16)
            {
              sample->split = i < 12 ? GRAFT_SPLIT_TRAIN : GRAFT_SPLIT_TEST;
              sample->split_fixed = TRUE;
            }
        }
    }
  /* One sample the health check took out of the splits. */
  {
    GraftSample *bad = graft_dataset_add_sample (dataset, g_strdup ("/data/extra/cat/bad.png"),
                                                 g_strdup ("extra/cat/bad.png"), 0);
    bad->usable = FALSE;
  }

  graft_split_options_init (&options);
  options.fractions[0] = 0.5;
  options.fractions[1] = 0.25;
  options.fractions[2] = 0.25;
  g_assert_true (graft_dataset_split (dataset, &options, NULL, &assigned, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (assigned, ==, 2 * 24);

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (g_str_has_prefix (sample->name, "train/"))
        g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TRAIN);
      else if (g_str_has_prefix (sample->name, "test/"))
        g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TEST);
      else if (g_str_equal (sample->name, "extra/cat/bad.png"))
        g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_NONE);
      else
        counts[sample->label][sample->split]++;
    }
  /* The 24 loose images of each class are what the fractions cut. */
  for (guint c = 0; c < 2; c++)
    {
      g_assert_cmpuint (counts[c][GRAFT_SPLIT_TRAIN], ==, 12);
      g_assert_cmpuint (counts[c][GRAFT_SPLIT_VAL], ==, 6);
      g_assert_cmpuint (counts[c][GRAFT_SPLIT_TEST], ==, 6);
    }
}

static void
add_box (GraftSample *sample,
         guint        label)
{
  GraftBox box = { label, 1, 1, 10, 10 };

  g_array_append_val (sample->boxes, box);
}

/* Every image holds "car"; 10 hold "bicycle" too, 5 "bus" (with a bicycle in 2 of them);
 * 20 images hold nothing. Stratified by the rarest class, each split gets its share of
 * the images of each rare class. */
static void
test_detection (void)
{
  const guint64 seeds[] = { 0, 3, 99 };

  for (guint s = 0; s < G_N_ELEMENTS (seeds); s++)
    {
      g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_YOLO, "/data");
      g_autoptr(GError) error = NULL;
      GraftSplitOptions options;
      guint car = graft_dataset_add_class (dataset, "car");
      guint bicycle = graft_dataset_add_class (dataset, "bicycle");
      guint bus = graft_dataset_add_class (dataset, "bus");
      guint bus_counts[GRAFT_N_SPLITS] = { 0 }, bicycle_only[GRAFT_N_SPLITS] = { 0 };
      guint empty[GRAFT_N_SPLITS] = { 0 }, car_only[GRAFT_N_SPLITS] = { 0 };

      for (guint i = 0; i < 100; i++)
        {
          char *name = g_strdup_printf ("images/%03u.jpg", i);
          GraftSample *sample = graft_dataset_add_sample (dataset, g_strconcat ("/data/", name, NULL), name, -1);

          if (i >= 80)
            continue;
          add_box (sample, car);
          add_box (sample, car);
          if (i < 10)
            add_box (sample, bicycle);
          if (i >= 8 && i < 13)
            add_box (sample, bus);
        }

      graft_split_options_init (&options);
      options.seed = seeds[s];
      g_assert_true (graft_dataset_split (dataset, &options, NULL, NULL, &error));
      g_assert_no_error (error);

      for (guint i = 0; i < 100; i++)
        {
          GraftSample *sample = g_ptr_array_index (dataset->samples, i);

          g_assert_cmpint (sample->split, !=, GRAFT_SPLIT_NONE);
          if (i >= 80)
            empty[sample->split]++;
          else if (i >= 8 && i < 13)
            bus_counts[sample->split]++;
          else if (i < 8)
            bicycle_only[sample->split]++;
          else
            car_only[sample->split]++;
        }
      /* Images with a bus (rarest: 5 images) are one stratum, bicycles without a bus
       * (8) another, the 67 images of cars alone a third, the 20 empty images a fourth. */
      for (guint split = GRAFT_SPLIT_TRAIN; split <= GRAFT_SPLIT_TEST; split++)
        {
          const double *f = (const double[]) { 0.7, 0.15, 0.15 };

          assert_within_one (bus_counts[split], 5, f, split);
          assert_within_one (bicycle_only[split], 8, f, split);
          assert_within_one (car_only[split], 67, f, split);
          assert_within_one (empty[split], 20, f, split);
        }
    }
}

/* Copies of one file (from the health report) never straddle the split. */
static void
test_duplicates (void)
{
  g_autoptr(GraftDataset) dataset = make_classification (0);
  g_autoptr(GError) error = NULL;
  GraftDatasetHealth health = { 0 };
  GraftSplitOptions options;
  GraftSample *fixed;
  guint n = dataset->samples->len;
  guint assigned = 0;
  const guint groups[][3] = { { 40, 41, 150 }, { 60, 61, 62 }, { 100, 120, 140 } };

  health.n_samples = n;
  health.duplicates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
    {
      GArray *group = g_array_new (FALSE, FALSE, sizeof (guint));

      g_array_append_vals (group, groups[g], 3);
      g_ptr_array_add (health.duplicates, group);
    }
  /* The last group has a copy in a test folder: the others follow it there. */
  fixed = g_ptr_array_index (dataset->samples, 120);
  fixed->split = GRAFT_SPLIT_TEST;
  fixed->split_fixed = TRUE;

  for (guint seed = 0; seed < 20; seed++)
    {
      graft_dataset_clear_split (dataset);
      graft_split_options_init (&options);
      options.seed = seed;
      g_assert_true (graft_dataset_split (dataset, &options, &health, &assigned, &error));
      g_assert_no_error (error);
      g_assert_cmpuint (assigned, ==, n - 1);
      for (guint g = 0; g < G_N_ELEMENTS (groups); g++)
        {
          GraftSample *a = g_ptr_array_index (dataset->samples, groups[g][0]);
          GraftSample *b = g_ptr_array_index (dataset->samples, groups[g][1]);
          GraftSample *c = g_ptr_array_index (dataset->samples, groups[g][2]);

          g_assert_cmpint (a->split, !=, GRAFT_SPLIT_NONE);
          g_assert_cmpint (a->split, ==, b->split);
          g_assert_cmpint (a->split, ==, c->split);
          if (g == 2)
            g_assert_cmpint (a->split, ==, GRAFT_SPLIT_TEST);
        }
    }
  g_ptr_array_unref (health.duplicates);
}

static void
test_fractions (void)
{
  const char *bad[] = { "0.7,0.3", "a,b,c", "0,0,0", "-1,1,1", "0.7,,0.3", "0.7,0.15,0.15,0", "nan,1,1" };
  g_autoptr(GraftDataset) dataset = make_classification (0);
  GraftSplitOptions options;
  double fractions[3];
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_split_parse_fractions ("0.7,0.15,0.15", fractions, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (fractions[0], ==, 0.7);
  g_assert_cmpfloat (fractions[2], ==, 0.15);
  g_assert_true (graft_split_parse_fractions (" 80, 10 ,10", fractions, &error));
  g_assert_cmpfloat_with_epsilon (fractions[0], 0.8, 1e-12);
  g_assert_cmpfloat_with_epsilon (fractions[1], 0.1, 1e-12);
  g_assert_true (graft_split_parse_fractions ("1,0,0", fractions, &error));
  g_assert_cmpfloat (fractions[0], ==, 1.0);
  g_assert_cmpfloat (fractions[1], ==, 0.0);

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_clear_error (&error);
      g_assert_false (graft_split_parse_fractions (bad[i], fractions, &error));
      g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
      g_assert_nonnull (strstr (error->message, bad[i]));
    }

  /* Options that cannot be used leave the dataset as it was. */
  g_clear_error (&error);
  graft_split_options_init (&options);
  options.fractions[0] = options.fractions[1] = options.fractions[2] = 0.0;
  g_assert_false (graft_dataset_split (dataset, &options, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_INVALID);
  for (guint i = 0; i < dataset->samples->len; i++)
    g_assert_cmpint (((GraftSample *) g_ptr_array_index (dataset->samples, i))->split, ==, GRAFT_SPLIT_NONE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/split/proportions", test_proportions);
  g_test_add_func ("/split/seed", test_seed);
  g_test_add_func ("/split/fixed", test_fixed);
  g_test_add_func ("/split/detection", test_detection);
  g_test_add_func ("/split/duplicates", test_duplicates);
  g_test_add_func ("/split/fractions", test_fractions);
  return g_test_run ();
}
