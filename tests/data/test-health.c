/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The health report on a corpus written here: truncated, bit-flipped, empty and
 * mislabelled-as-PNG files are each reported once by name and taken out of the splits;
 * copies inside train are duplicates and copies across train and test are leakage; small
 * images, boxes outside their image or without area and labels naming no class are
 * found; the counts and imbalance are those of the usable images; the report does not
 * depend on the number of readers; progress reaches the end and a cancel stops the
 * check; a remembered check reads only the files changed since, and gives the same
 * report. */

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <math.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  char         *dir;
  GraftDataset *dataset;
} Fixture;

/* A @width × @height RGB PNG whose pixels depend on @seed. */
static char *
write_png (const char *dir,
           const char *name,
           guint       width,
           guint       height,
           guint       seed)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = g_new (guint8, (gsize) width * height * 3);
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *folder = g_path_get_dirname (path);

  for (gsize i = 0; i < (gsize) width * height * 3; i++)
    pixels[i] = (guint8) (i * 7 + seed * 131 + (i / 3) * seed);
  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  g_assert_true (graft_image_write_png (path, width, height, 3, (gsize) width * 3, pixels, &error));
  g_assert_no_error (error);
  return path;
}

static char *
write_bytes (const char *dir,
             const char *name,
             const void *data,
             gsize       length)
{
  char *path = g_build_filename (dir, name, NULL);
  g_autofree char *folder = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (folder, 0755), ==, 0);
  g_assert_true (g_file_set_contents (path, data, (gssize) length, NULL));
  return path;
}

static char *
copy_file (const char *dir,
           const char *from,
           const char *to)
{
  g_autofree char *from_path = g_build_filename (dir, from, NULL);
  g_autofree char *data = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (from_path, &data, &length, NULL));
  return write_bytes (dir, to, data, length);
}

static GraftSample *
add (GraftDataset *dataset,
     char         *path,
     const char   *name,
     int           label,
     GraftSplit    split)
{
  GraftSample *sample = graft_dataset_add_sample (dataset, path, g_strdup (name), label);

  sample->split = split;
  sample->split_fixed = split != GRAFT_SPLIT_NONE;
  return sample;
}

/* train/a: 10 images and a copy of the first; train/b: 5; train/c: a tiny one and a
 * wide one; test/a, test/b: 3 each, and test/b a copy of train/b/1.png; five files that
 * cannot be read; one image labelled 7 of 3 classes and one without a label. */
static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  GraftDataset *dataset;
  guint seed = 1;

  (void) data;
  fixture->dir = g_dir_make_tmp ("graft-health-XXXXXX", &error);
  g_assert_no_error (error);
  dataset = fixture->dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER,
                                                  fixture->dir);
  graft_dataset_add_class (dataset, "a");
  graft_dataset_add_class (dataset, "b");
  graft_dataset_add_class (dataset, "c");

  for (guint i = 0; i < 10; i++)
    {
      g_autofree char *name = g_strdup_printf ("train/a/%u.png", i);
      add (dataset, write_png (fixture->dir, name, 40, 40, seed++), name, 0, GRAFT_SPLIT_TRAIN);
    }
  for (guint i = 0; i < 5; i++)
    {
      g_autofree char *name = g_strdup_printf ("train/b/%u.png", i);
      add (dataset, write_png (fixture->dir, name, 40, 40, seed++), name, 1, GRAFT_SPLIT_TRAIN);
    }
  for (guint c = 0; c < 2; c++)
    for (guint i = 0; i < 3; i++)
      {
        g_autofree char *name = g_strdup_printf ("test/%s/%u.png", c == 0 ? "a" : "b", i);
        add (dataset, write_png (fixture->dir, name, 40, 40, seed++), name, (int) c, GRAFT_SPLIT_TEST);
      }
  add (dataset, copy_file (fixture->dir, "train/a/0.png", "train/a/copy.png"), "train/a/copy.png", 0,
       GRAFT_SPLIT_TRAIN);
  add (dataset, copy_file (fixture->dir, "train/b/1.png", "test/b/leak.png"), "test/b/leak.png", 1,
       GRAFT_SPLIT_TEST);
  add (dataset, write_png (fixture->dir, "train/c/tiny.png", 8, 8, seed++), "train/c/tiny.png", 2,
       GRAFT_SPLIT_TRAIN);
  add (dataset, write_png (fixture->dir, "train/c/wide.png", 60, 20, seed++), "train/c/wide.png", 2,
       GRAFT_SPLIT_TRAIN);

  /* Damaged files: the second half cut off, a byte of the pixels flipped, nothing at
   * all, and text named .png. */
  {
    g_autofree char *good = write_png (fixture->dir, "scratch.png", 40, 40, seed++);
    g_autofree char *bytes = NULL;
    gsize length;

    g_assert_true (g_file_get_contents (good, &bytes, &length, NULL));
    add (dataset, write_bytes (fixture->dir, "train/a/truncated.png", bytes, length / 2),
         "train/a/truncated.png", 0, GRAFT_SPLIT_TRAIN);
    bytes[length / 2] ^= 0x5a;
    add (dataset, write_bytes (fixture->dir, "train/b/flipped.png", bytes, length), "train/b/flipped.png", 1,
         GRAFT_SPLIT_TRAIN);
    add (dataset, write_bytes (fixture->dir, "test/a/empty.png", "", 0), "test/a/empty.png", 0,
         GRAFT_SPLIT_TEST);
    add (dataset, write_bytes (fixture->dir, "test/b/text.png", "hello, world\n", 13), "test/b/text.png", 1,
         GRAFT_SPLIT_TEST);
    g_unlink (good);
  }
  add (dataset, g_build_filename (fixture->dir, "train/a/gone.png", NULL), "train/a/gone.png", 0,
       GRAFT_SPLIT_TRAIN);
  add (dataset, write_png (fixture->dir, "train/x/odd.png", 40, 40, seed++), "train/x/odd.png", 7,
       GRAFT_SPLIT_TRAIN);
  add (dataset, write_png (fixture->dir, "loose.png", 40, 40, seed++), "loose.png", -1, GRAFT_SPLIT_NONE);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  (void) data;
  graft_dataset_free (fixture->dataset);
  graft_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

static GraftSample *
find_sample (GraftDataset *dataset,
             const char   *name,
             guint        *index)
{
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (g_str_equal (sample->name, name))
        {
          if (index != NULL)
            *index = i;
          return sample;
        }
    }
  g_error ("no sample %s", name);
}

/* The problems of @kind, as "file" or "file<other", joined by spaces. */
static char *
problems_of (const GraftDatasetHealth *health,
             GraftDataProblemKind      kind)
{
  GString *text = g_string_new (NULL);

  for (guint i = 0; i < health->problems->len; i++)
    {
      const GraftDataProblem *problem = g_ptr_array_index (health->problems, i);

      if (problem->kind != kind)
        continue;
      /* Every message names its file. */
      g_assert_nonnull (strstr (problem->message, problem->file));
      if (text->len > 0)
        g_string_append_c (text, ' ');
      g_string_append (text, problem->file);
      if (problem->other != NULL)
        g_string_append_printf (text, "<%s", problem->other);
    }
  return g_string_free (text, FALSE);
}

typedef struct {
  guint calls;
  guint last_done;
  guint total;
} Progress;

static void
on_progress (guint    done,
             guint    total,
             gpointer user_data)
{
  Progress *progress = user_data;

  g_assert_cmpuint (done, >=, progress->last_done);
  g_assert_cmpuint (done, <=, total);
  progress->calls++;
  progress->last_done = done;
  progress->total = total;
}

static void
test_report (Fixture       *fixture,
             gconstpointer  data)
{
  GraftDataset *dataset = fixture->dataset;
  g_autoptr(GraftDatasetHealth) health = NULL;
  g_autoptr(GError) error = NULL;
  GraftHealthOptions options;
  Progress progress = { 0 };
  g_autofree char *unreadable = NULL, *duplicates = NULL, *leakage = NULL, *small = NULL;
  g_autofree char *unknown = NULL, *unlabelled = NULL;
  GraftSample *sample;
  guint index;

  (void) data;
  /* The importer found the empty file already: it is reported once. */
  graft_dataset_add_problem (dataset, GRAFT_DATA_PROBLEM_UNREADABLE, "test/a/empty.png", 0, NULL,
                             "test/a/empty.png is empty: it holds no bytes");

  graft_health_options_init (&options);
  options.n_threads = 3;
  health = graft_dataset_check_health (dataset, &options, on_progress, &progress, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (health);
  g_assert_cmpuint (progress.last_done, ==, dataset->samples->len);
  g_assert_cmpuint (progress.total, ==, dataset->samples->len);

  unreadable = problems_of (health, GRAFT_DATA_PROBLEM_UNREADABLE);
  g_assert_cmpstr (unreadable, ==, "test/a/empty.png train/a/truncated.png train/b/flipped.png "
                                   "test/b/text.png train/a/gone.png");
  duplicates = problems_of (health, GRAFT_DATA_PROBLEM_DUPLICATE);
  g_assert_cmpstr (duplicates, ==, "train/a/copy.png<train/a/0.png");
  leakage = problems_of (health, GRAFT_DATA_PROBLEM_LEAKAGE);
  g_assert_cmpstr (leakage, ==, "test/b/leak.png<train/b/1.png");
  small = problems_of (health, GRAFT_DATA_PROBLEM_SMALL_IMAGE);
  g_assert_cmpstr (small, ==, "train/c/tiny.png train/c/wide.png");
  unknown = problems_of (health, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL);
  g_assert_cmpstr (unknown, ==, "train/x/odd.png");
  unlabelled = problems_of (health, GRAFT_DATA_PROBLEM_NO_LABEL);
  g_assert_cmpstr (unlabelled, ==, "loose.png");
  g_assert_cmpuint (graft_dataset_health_count_problems (health, GRAFT_DATA_PROBLEM_UNREADABLE), ==, 5);
  g_assert_cmpuint (health->problems->len, ==, 5 + 1 + 1 + 2 + 1 + 1);

  /* The decoder's reason comes with each unreadable file. */
  for (guint i = 0; i < health->problems->len; i++)
    {
      const GraftDataProblem *problem = g_ptr_array_index (health->problems, i);

      if (problem->kind == GRAFT_DATA_PROBLEM_UNREADABLE)
        g_assert_cmpuint (strlen (problem->message), >, strlen (problem->file) + 10);
    }

  /* Unusable samples are out of every split, sizes are filled in. */
  sample = find_sample (dataset, "train/b/flipped.png", &index);
  g_assert_false (health->usable[index]);
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_NONE);
  g_assert_true (sample->split_fixed);
  sample = find_sample (dataset, "train/x/odd.png", &index);
  g_assert_false (health->usable[index]);
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_NONE);
  sample = find_sample (dataset, "train/c/wide.png", &index);
  g_assert_true (health->usable[index]);
  g_assert_cmpuint (sample->width, ==, 60);
  g_assert_cmpuint (sample->height, ==, 20);
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TRAIN);
  g_assert_cmpuint (health->n_usable, ==, 10 + 5 + 6 + 2 + 2);
  g_assert_cmpuint (health->per_split[GRAFT_SPLIT_TRAIN], ==, 10 + 5 + 1 + 2);
  g_assert_cmpuint (health->per_split[GRAFT_SPLIT_TEST], ==, 6 + 1);

  /* a: 11 train + 3 test; b: 5 train + 4 test; c: 2 train. */
  g_assert_cmpuint (graft_dataset_health_count (health, 0, GRAFT_SPLIT_TRAIN), ==, 11);
  g_assert_cmpuint (graft_dataset_health_count (health, 0, GRAFT_SPLIT_TEST), ==, 3);
  g_assert_cmpuint (graft_dataset_health_count (health, 1, GRAFT_SPLIT_TRAIN), ==, 5);
  g_assert_cmpuint (graft_dataset_health_count (health, 1, GRAFT_SPLIT_TEST), ==, 4);
  g_assert_cmpuint (graft_dataset_health_count (health, 1, GRAFT_SPLIT_VAL), ==, 0);
  g_assert_cmpuint (graft_dataset_health_total (health, 2), ==, 2);
  g_assert_cmpint (health->largest_class, ==, 0);
  g_assert_cmpint (health->smallest_class, ==, 2);
  g_assert_cmpfloat_with_epsilon (health->imbalance, 14.0 / 2.0, 1e-9);

  g_assert_cmpuint (health->duplicates->len, ==, 2);

  /* The split leaves unusable samples out; the loose, unlabelled image stays out. */
  {
    GraftSplitOptions split;

    graft_split_options_init (&split);
    g_assert_true (graft_dataset_split (dataset, &split, health, NULL, &error));
    for (guint i = 0; i < dataset->samples->len; i++)
      {
        sample = g_ptr_array_index (dataset->samples, i);
        g_assert_cmpint (health->usable[i], ==, sample->split != GRAFT_SPLIT_NONE);
      }
  }
}

/* Two checks of the same files found the same. */
static void
assert_same_report (const GraftDatasetHealth *a,
                    const GraftDatasetHealth *b)
{
  g_assert_cmpuint (a->problems->len, ==, b->problems->len);
  for (guint i = 0; i < a->problems->len; i++)
    {
      const GraftDataProblem *pa = g_ptr_array_index (a->problems, i);
      const GraftDataProblem *pb = g_ptr_array_index (b->problems, i);

      g_assert_cmpint (pa->kind, ==, pb->kind);
      g_assert_cmpstr (pa->file, ==, pb->file);
      g_assert_cmpstr (pa->message, ==, pb->message);
    }
  g_assert_cmpuint (a->n_samples, ==, b->n_samples);
  g_assert_cmpmem (a->hashes, a->n_samples * GRAFT_HEALTH_HASH_SIZE,
                   b->hashes, b->n_samples * GRAFT_HEALTH_HASH_SIZE);
  g_assert_cmpmem (a->usable, a->n_samples * sizeof (gboolean), b->usable, b->n_samples * sizeof (gboolean));
  g_assert_cmpuint (a->duplicates->len, ==, b->duplicates->len);
}

/* The same report whatever the number of readers, and a smaller minimum side. */
static void
test_deterministic (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GraftDatasetHealth) one = NULL;
  g_autoptr(GraftDatasetHealth) many = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *small = NULL;
  GraftHealthOptions options;

  (void) data;
  graft_health_options_init (&options);
  options.n_threads = 1;
  options.min_side = 16;
  one = graft_dataset_check_health (fixture->dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  options.n_threads = 8;
  many = graft_dataset_check_health (fixture->dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);

  assert_same_report (one, many);
  small = problems_of (one, GRAFT_DATA_PROBLEM_SMALL_IMAGE);
  g_assert_cmpstr (small, ==, "train/c/tiny.png");
}

/* Records each sample's width and height, which a check fills in. */
static guint *
sizes_of (GraftDataset *dataset)
{
  guint *sizes = g_new (guint, 2 * dataset->samples->len + 1);

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      const GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      sizes[2 * i] = sample->width;
      sizes[2 * i + 1] = sample->height;
    }
  return sizes;
}

/* Rewrites @path with @length bytes of garbage, then gives it back the modification time
 * @st recorded: to a check that trusts its memo, the file has not changed. */
static void
rewrite_keeping_time (const char     *path,
                      gsize           length,
                      const GStatBuf *st)
{
  g_autofree char *garbage = g_malloc (length);
  struct timespec times[2] = { st->st_atim, st->st_mtim };

  memset (garbage, 'x', length);
  g_assert_true (g_file_set_contents (path, garbage, (gssize) length, NULL));
  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

static void
test_remember (Fixture       *fixture,
               gconstpointer  data)
{
  GraftDataset *dataset = fixture->dataset;
  g_autoptr(GraftDatasetHealth) fresh = NULL;
  g_autoptr(GraftDatasetHealth) first = NULL;
  g_autoptr(GraftDatasetHealth) again = NULL;
  g_autoptr(GraftDatasetHealth) damaged = NULL;
  g_autoptr(GraftDatasetHealth) unwritable = NULL;
  g_autoptr(GraftDatasetHealth) trusted = NULL;
  g_autoptr(GraftDatasetHealth) touched = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *memo_dir = g_build_filename (fixture->dir, "memo", NULL);
  g_autofree char *blocker = g_build_filename (fixture->dir, "not-a-folder", NULL);
  g_autofree char *no_dir = g_build_filename (blocker, "memo", NULL);
  g_autofree char *target = g_build_filename (fixture->dir, "train", "a", "3.png", NULL);
  g_autofree guint *fresh_sizes = NULL, *again_sizes = NULL;
  g_autofree char *unreadable = NULL;
  g_autoptr(GDir) dir = NULL;
  GraftHealthOptions options;
  Progress progress = { 0 };
  GStatBuf st;
  guint n_files = 0;

  (void) data;
  graft_health_options_init (&options);
  g_assert_false (options.remember);
  fresh = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  fresh_sizes = sizes_of (dataset);

  /* the first remembered check reads every file and leaves one memo file */
  options.remember = TRUE;
  options.memo_dir = memo_dir;
  first = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_report (fresh, first);
  dir = g_dir_open (memo_dir, 0, &error);
  g_assert_no_error (error);
  while (g_dir_read_name (dir) != NULL)
    n_files++;
  g_assert_cmpuint (n_files, ==, 1);

  /* the next gives the same report, widths and heights, and its progress reaches the end */
  again = graft_dataset_check_health (dataset, &options, on_progress, &progress, NULL, &error);
  g_assert_no_error (error);
  assert_same_report (fresh, again);
  again_sizes = sizes_of (dataset);
  g_assert_cmpmem (fresh_sizes, 2 * dataset->samples->len * sizeof (guint),
                   again_sizes, 2 * dataset->samples->len * sizeof (guint));
  g_assert_cmpuint (progress.last_done, ==, progress.total);
  g_assert_cmpuint (progress.total, ==, dataset->samples->len);

  /* the memo is what answers for an unchanged file: garbage written in place of a good
   * image, its size and time kept, is not read again; once its time changes it is */
  g_assert_cmpint (g_stat (target, &st), ==, 0);
  rewrite_keeping_time (target, (gsize) st.st_size, &st);
  trusted = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_report (fresh, trusted);
  st.st_mtim.tv_sec -= 10;
  rewrite_keeping_time (target, (gsize) st.st_size, &st);
  touched = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  unreadable = problems_of (touched, GRAFT_DATA_PROBLEM_UNREADABLE);
  g_assert_nonnull (strstr (unreadable, "train/a/3.png"));
  g_assert_false (touched->usable[3]);
  g_clear_pointer (&touched, graft_dataset_health_free);
  g_free (write_png (fixture->dir, "train/a/3.png", 40, 40, 4));   /* as the fixture wrote it */
  find_sample (dataset, "train/a/3.png", NULL)->split = GRAFT_SPLIT_TRAIN;

  /* a damaged memo is not trusted: every file is read */
  {
    g_autoptr(GDir) again_dir = g_dir_open (memo_dir, 0, NULL);
    g_autofree char *memo = g_build_filename (memo_dir, g_dir_read_name (again_dir), NULL);

    g_assert_true (g_file_set_contents (memo, "{\"version\": 1, \"files\": [", -1, NULL));
  }
  damaged = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_report (fresh, damaged);

  /* nor is a memo that cannot be written a failure */
  g_assert_true (g_file_set_contents (blocker, "", 0, NULL));
  options.memo_dir = no_dir;
  unwritable = graft_dataset_check_health (dataset, &options, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  assert_same_report (fresh, unwritable);
}

/* Copies split apart are leakage after a split too; splitting with the report keeps them
 * together. */
static void
test_leakage_after_split (Fixture       *fixture,
                          gconstpointer  data)
{
  GraftDataset *dataset = fixture->dataset;
  g_autoptr(GraftDatasetHealth) health = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *leakage = NULL;
  GraftSplitOptions options;
  GraftSample *a, *b;

  (void) data;
  /* As if the source had fixed no split. */
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      sample->split = GRAFT_SPLIT_NONE;
      sample->split_fixed = FALSE;
    }
  health = graft_dataset_check_health (dataset, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (graft_dataset_health_count_problems (health, GRAFT_DATA_PROBLEM_LEAKAGE), ==, 0);
  g_assert_cmpuint (graft_dataset_health_count_problems (health, GRAFT_DATA_PROBLEM_DUPLICATE), ==, 2);
  g_assert_cmpuint (graft_dataset_health_count (health, 0, GRAFT_SPLIT_NONE), ==, 14);

  graft_split_options_init (&options);
  for (guint seed = 0; seed < 10; seed++)
    {
      graft_dataset_clear_split (dataset);
      options.seed = seed;
      g_assert_true (graft_dataset_split (dataset, &options, health, NULL, &error));
      graft_dataset_health_update (health, dataset);
      g_assert_cmpuint (graft_dataset_health_count_problems (health, GRAFT_DATA_PROBLEM_LEAKAGE), ==, 0);
      g_assert_cmpuint (graft_dataset_health_count (health, 0, GRAFT_SPLIT_NONE), ==, 0);
    }

  /* Put the copies apart by hand: the report sees it. */
  a = find_sample (dataset, "train/b/1.png", NULL);
  b = find_sample (dataset, "test/b/leak.png", NULL);
  a->split = GRAFT_SPLIT_VAL;
  b->split = GRAFT_SPLIT_TEST;
  graft_dataset_health_update (health, dataset);
  leakage = problems_of (health, GRAFT_DATA_PROBLEM_LEAKAGE);
  g_assert_true (g_str_equal (leakage, "test/b/leak.png<train/b/1.png") ||
                 g_str_equal (leakage, "train/b/1.png<test/b/leak.png"));
}

/* A dataset whose images are nearly all small (Fashion-MNIST's 28×28) gets one line
 * saying so, not one per image. */
static void
test_small_dataset (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION,
                                                       GRAFT_DATASET_FORMAT_FOLDER, fixture->dir);
  g_autoptr(GraftDatasetHealth) health = NULL;
  g_autoptr(GError) error = NULL;
  const GraftDataProblem *problem = NULL;
  guint n_small = 0, seed = 1000;

  (void) data;
  graft_dataset_add_class (dataset, "a");
  for (guint i = 0; i < 4; i++)
    {
      g_autofree char *name = g_strdup_printf ("small/a/%u.png", i);
      add (dataset, write_png (fixture->dir, name, 28, 28, seed++), name, 0, GRAFT_SPLIT_TRAIN);
    }
  add (dataset, write_png (fixture->dir, "small/a/big.png", 64, 64, seed++), "small/a/big.png", 0,
       GRAFT_SPLIT_TRAIN);

  health = graft_dataset_check_health (dataset, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < health->problems->len; i++)
    {
      const GraftDataProblem *p = g_ptr_array_index (health->problems, i);

      if (p->kind == GRAFT_DATA_PROBLEM_SMALL_IMAGE)
        {
          n_small++;
          problem = p;
        }
    }
  g_assert_cmpuint (n_small, ==, 1);
  g_assert_nonnull (strstr (problem->message, "4 of the 5 images"));
  g_assert_cmpstr (problem->file, ==, "small/a/0.png");
}

static void
test_cancel (Fixture       *fixture,
             gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GraftDatasetHealth) health = NULL;
  g_autoptr(GError) error = NULL;
  GraftSample *sample = find_sample (fixture->dataset, "train/a/truncated.png", NULL);

  (void) data;
  g_cancellable_cancel (cancellable);
  health = graft_dataset_check_health (fixture->dataset, NULL, NULL, NULL, cancellable, &error);
  g_assert_null (health);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  /* Nothing was changed. */
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TRAIN);
}

static void
test_boxes (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("graft-health-boxes-XXXXXX", &error);
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_YOLO, dir);
  g_autoptr(GraftDatasetHealth) health = NULL;
  g_autofree char *outside = NULL, *empty = NULL, *unknown = NULL;
  const struct { const char *name; GraftBox box; } cases[] = {
    { "images/fine.png",    { 0, 0, 0, 64, 48 } },
    { "images/right.png",   { 1, 40, 10, 30, 10 } },
    { "images/above.png",   { 0, 5, -3, 10, 10 } },
    { "images/flat.png",    { 0, 5, 5, 10, 0 } },
    { "images/nan.png",     { 1, NAN, 5, 10, 10 } },
    { "images/class9.png",  { 9, 5, 5, 10, 10 } },
    { "images/reported.png", { 0, 60, 5, 10, 10 } },
  };

  g_assert_no_error (error);
  graft_dataset_add_class (dataset, "car");
  graft_dataset_add_class (dataset, "bus");
  /* The importer reported this one from its label file. */
  graft_dataset_add_problem (dataset, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, "labels/reported.txt", 1, NULL,
                             "labels/reported.txt, line 1: the box leaves the image");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      GraftSample *sample = graft_dataset_add_sample (dataset, write_png (dir, cases[i].name, 64, 48, i),
                                                      g_strdup (cases[i].name), -1);

      g_array_append_val (sample->boxes, cases[i].box);
    }
  /* An image without boxes is a background image, not a problem. */
  graft_dataset_add_sample (dataset, write_png (dir, "images/background.png", 64, 48, 99),
                            g_strdup ("images/background.png"), -1);

  health = graft_dataset_check_health (dataset, NULL, NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  outside = problems_of (health, GRAFT_DATA_PROBLEM_BOX_OUTSIDE);
  empty = problems_of (health, GRAFT_DATA_PROBLEM_BOX_EMPTY);
  unknown = problems_of (health, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL);
  g_assert_cmpstr (outside, ==, "labels/reported.txt images/right.png images/above.png");
  g_assert_cmpstr (empty, ==, "images/flat.png images/nan.png");
  g_assert_cmpstr (unknown, ==, "images/class9.png");
  g_assert_cmpuint (health->n_usable, ==, G_N_ELEMENTS (cases));
  g_assert_cmpuint (health->unlabelled[GRAFT_SPLIT_NONE], ==, 1);
  /* Images with a car and a bus count once in their split. */
  g_assert_cmpuint (health->per_split[GRAFT_SPLIT_NONE], ==, G_N_ELEMENTS (cases));
  /* Images holding a car: fine, above, flat, reported. */
  g_assert_cmpuint (graft_dataset_health_total (health, 0), ==, 4);
  g_assert_cmpuint (graft_dataset_health_total (health, 1), ==, 2);

  graft_test_remove_tree (dir);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/health/report", Fixture, NULL, fixture_set_up, test_report, fixture_tear_down);
  g_test_add ("/health/deterministic", Fixture, NULL, fixture_set_up, test_deterministic, fixture_tear_down);
  g_test_add ("/health/leakage-after-split", Fixture, NULL, fixture_set_up, test_leakage_after_split,
              fixture_tear_down);
  g_test_add ("/health/small-dataset", Fixture, NULL, fixture_set_up, test_small_dataset,
              fixture_tear_down);
  g_test_add ("/health/remember", Fixture, NULL, fixture_set_up, test_remember, fixture_tear_down);
  g_test_add ("/health/cancel", Fixture, NULL, fixture_set_up, test_cancel, fixture_tear_down);
  g_test_add_func ("/health/boxes", test_boxes);
  return g_test_run ();
}
