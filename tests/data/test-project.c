/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The project folder: what is saved is what opens, project.json is replaced whole with
 * no temporary file left, a damaged project.json is refused with the field at fault
 * named, and importing the same data again keeps every saved split while new files are
 * split by the saved seed and vanished ones are dropped. */

#include <glib/gstdio.h>
#include <json-c/json.h>
#include <string.h>

#include "graft.h"
#include "graft-test-util.h"

typedef struct {
  char *dir;
} Fixture;

static void
fixture_set_up (Fixture       *fixture,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  (void) data;
  fixture->dir = g_dir_make_tmp ("graft-project-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_tear_down (Fixture       *fixture,
                   gconstpointer  data)
{
  (void) data;
  graft_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
}

/* "cat" and "dog" images 0..@n-1 each, minus those in @skip, in an order drawn from
 * @order. */
static GraftDataset *
make_dataset (guint        n,
              const char  *skip,
              guint32      order)
{
  GraftDataset *dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, "/data/pets");
  g_autoptr(GRand) rand = g_rand_new_with_seed (order);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  graft_dataset_add_class (dataset, "cat");
  graft_dataset_add_class (dataset, "dog");
  for (guint i = 0; i < 2 * n; i++)
    {
      char *name = g_strdup_printf ("%s/%02u.png", i % 2 == 0 ? "cat" : "dog", i / 2);

      if (skip != NULL && strstr (skip, name) != NULL)
        g_free (name);
      else
        g_ptr_array_add (names, name);
    }
  for (guint i = names->len; order != 0 && i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
      gpointer tmp = names->pdata[i - 1];

      names->pdata[i - 1] = names->pdata[j];
      names->pdata[j] = tmp;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);

      graft_dataset_add_sample (dataset, g_strconcat ("/data/pets/", name, NULL), g_strdup (name),
                                g_str_has_prefix (name, "cat") ? 0 : 1);
    }
  return dataset;
}

static GraftSplit
split_of (GraftDataset *dataset,
          const char   *name)
{
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (g_str_equal (sample->name, name))
        return sample->split;
    }
  g_assert_not_reached ();
}

static GPtrArray *
list_dir (const char *dir)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  return names;
}

static void
test_round_trip (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fixture->dir, "new", "pets-project", NULL);
  g_autoptr(GraftProject) project = NULL;
  g_autoptr(GraftProject) opened = NULL;
  g_autoptr(GraftDataset) dataset = make_dataset (10, NULL, 0);
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GraftSplitOptions options, back;
  const char *classes[] = { "cat", "dog", "hamster", NULL };

  (void) data;
  project = graft_project_create (dir, GRAFT_TASK_CLASSIFICATION, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_test (dir, G_FILE_TEST_IS_DIR));
  graft_split_options_init (&options);
  options.fractions[0] = 0.6;
  options.fractions[1] = 0.0;
  options.fractions[2] = 0.4;
  options.seed = G_GUINT64_CONSTANT (18446744073709551615);
  g_assert_true (graft_dataset_split (dataset, &options, NULL, NULL, &error));
  graft_project_set_split_options (project, &options);
  graft_project_set_classes (project, classes);
  graft_project_set_source (project, "/data/pets", GRAFT_DATASET_FORMAT_FOLDER);
  graft_project_record_split (project, dataset);
  g_assert_true (graft_project_save (project, &error));
  g_assert_no_error (error);
  /* Saved twice (the second replaces the first): only project.json is there. */
  g_assert_true (graft_project_save (project, &error));
  names = list_dir (dir);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (g_ptr_array_index (names, 0), ==, GRAFT_PROJECT_FILE);

  opened = graft_project_open (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (graft_project_get_task (opened), ==, GRAFT_TASK_CLASSIFICATION);
  g_assert_cmpstrv (graft_project_get_classes (opened), classes);
  g_assert_cmpstr (graft_project_get_source (opened), ==, "/data/pets");
  g_assert_cmpint (graft_project_get_format (opened), ==, GRAFT_DATASET_FORMAT_FOLDER);
  graft_project_get_split_options (opened, &back);
  g_assert_cmpfloat (back.fractions[0], ==, 0.6);
  g_assert_cmpfloat (back.fractions[1], ==, 0.0);
  g_assert_cmpfloat (back.fractions[2], ==, 0.4);
  g_assert_true (back.seed == options.seed);
  g_assert_cmpuint (graft_project_get_n_assigned (opened), ==, 20);
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      g_assert_cmpint (graft_project_lookup_split (opened, sample->name), ==, sample->split);
    }
  g_assert_cmpint (graft_project_lookup_split (opened, "cat/99.png"), ==, GRAFT_SPLIT_NONE);

  /* Members a later Graft adds (runs) survive a save by this one. */
  {
    g_autofree char *path = g_build_filename (dir, GRAFT_PROJECT_FILE, NULL);
    json_object *root = json_object_from_file (path);
    g_autoptr(GraftProject) third = NULL;

    json_object_object_add (root, "runs", json_object_new_string ("kept"));
    g_assert_cmpint (json_object_to_file (path, root), ==, 0);
    json_object_put (root);
    third = graft_project_open (dir, &error);
    g_assert_no_error (error);
    g_assert_true (graft_project_save (third, &error));
    g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
    g_assert_nonnull (strstr (text, "\"runs\": \"kept\""));
    g_assert_nonnull (strstr (text, "\"schema\": 1"));
  }

  /* A second project in the same folder is refused. */
  {
    g_autoptr(GraftProject) again = graft_project_create (dir, GRAFT_TASK_CLASSIFICATION, &error);

    g_assert_null (again);
    g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_EXISTS);
  }
}

typedef struct {
  const char *json;
  int         code;
  const char *expect;  /* in the message */
} Malformed;

static void
test_malformed (Fixture       *fixture,
                gconstpointer  data)
{
  const Malformed cases[] = {
    { "{\n \"schema\": 1,\n \"task\": \"classification\",\n \"classes\": [\"a\"\n", GRAFT_PROJECT_ERROR_INVALID, "line 4" },
    { "[1, 2]", GRAFT_PROJECT_ERROR_INVALID, "must hold an object" },
    { "{\"task\": \"classification\"}", GRAFT_PROJECT_ERROR_INVALID, "“schema” is missing" },
    { "{\"schema\": 7, \"task\": \"classification\"}", GRAFT_PROJECT_ERROR_VERSION, "newer version" },
    { "{\"schema\": 1, \"task\": \"segmentation\", \"classes\": [], \"split\": {}}", GRAFT_PROJECT_ERROR_INVALID, "“task”" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [\"a\", 3], \"split\": {}}", GRAFT_PROJECT_ERROR_INVALID, "“classes[1]”" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [\"a\", \"a\"], \"split\": {}}", GRAFT_PROJECT_ERROR_INVALID, "“classes[1]” names the class “a” a second time" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"dataset\": {\"source\": \"/x\", \"format\": \"tiff\"}, \"split\": {}}",
      GRAFT_PROJECT_ERROR_INVALID, "“dataset.format”" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"split\": {\"seed\": -1, \"fractions\": {}}}",
      GRAFT_PROJECT_ERROR_INVALID, "“split.seed”" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"split\": {\"seed\": 1, \"fractions\": {\"train\": \"abc\", \"val\": 0, \"test\": 0}}}",
      GRAFT_PROJECT_ERROR_INVALID, "“split.fractions.train” must be a number, not a string" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"split\": {\"seed\": 1, \"fractions\": {\"train\": 0.5, \"val\": 0.5}}}",
      GRAFT_PROJECT_ERROR_INVALID, "“split.fractions.test” is missing" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"split\": {\"seed\": 1, \"fractions\": {\"train\": 0, \"val\": 0, \"test\": 0}}}",
      GRAFT_PROJECT_ERROR_INVALID, "“split.fractions”" },
    { "{\"schema\": 1, \"task\": \"classification\", \"classes\": [], \"split\": {\"seed\": 1, \"fractions\": {\"train\": 1, \"val\": 0, \"test\": 0}, "
      "\"assignment\": {\"a/1.png\": \"train\", \"a/2.png\": \"holdout\"}}}",
      GRAFT_PROJECT_ERROR_INVALID, "“split.assignment.a/2.png” must be “train”, “val” or “test”, not holdout" },
  };
  g_autofree char *path = g_build_filename (fixture->dir, GRAFT_PROJECT_FILE, NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  {
    g_autoptr(GraftProject) none = graft_project_open (fixture->dir, &error);

    g_assert_null (none);
    g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_NOT_FOUND);
  }

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GraftProject) project = NULL;

      g_clear_error (&error);
      g_assert_true (g_file_set_contents (path, cases[i].json, -1, NULL));
      project = graft_project_open (fixture->dir, &error);
      g_assert_null (project);
      g_assert_error (error, GRAFT_PROJECT_ERROR, cases[i].code);
      if (strstr (error->message, cases[i].expect) == NULL || strstr (error->message, path) == NULL)
        g_error ("case %u: “%s” does not name %s and “%s”", i, error->message, path, cases[i].expect);
    }
}

static void
test_reimport (Fixture       *fixture,
               gconstpointer  data)
{
  g_autoptr(GraftDataset) first = make_dataset (20, NULL, 0);
  g_autoptr(GraftProject) project = NULL;
  g_autoptr(GError) error = NULL;
  GraftProjectChanges changes = { 0 };
  GraftSplitOptions options;

  (void) data;
  project = graft_project_create (fixture->dir, GRAFT_TASK_CLASSIFICATION, &error);
  g_assert_no_error (error);
  graft_split_options_init (&options);
  options.seed = 5;
  graft_project_set_split_options (project, &options);
  g_assert_true (graft_project_apply (project, first, NULL, &changes, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (changes.n_new, ==, 40);
  g_assert_cmpuint (changes.n_kept, ==, 0);
  g_assert_cmpuint (changes.vanished->len, ==, 0);
  g_assert_cmpuint (changes.new_classes->len, ==, 2);
  graft_project_changes_clear (&changes);
  g_assert_cmpstr (graft_project_get_source (project), ==, "/data/pets");
  g_assert_true (graft_project_save (project, &error));
  g_clear_pointer (&project, graft_project_free);

  /* The same files, imported in another order: the same split, nothing new. */
  {
    g_autoptr(GraftDataset) again = make_dataset (20, NULL, 77);

    project = graft_project_open (fixture->dir, &error);
    g_assert_no_error (error);
    g_assert_true (graft_project_apply (project, again, NULL, &changes, &error));
    g_assert_cmpuint (changes.n_kept, ==, 40);
    g_assert_cmpuint (changes.n_new, ==, 0);
    g_assert_cmpuint (changes.vanished->len, ==, 0);
    g_assert_cmpuint (changes.new_classes->len, ==, 0);
    graft_project_changes_clear (&changes);
    for (guint i = 0; i < again->samples->len; i++)
      {
        GraftSample *sample = g_ptr_array_index (again->samples, i);

        g_assert_cmpint (sample->split, ==, split_of (first, sample->name));
      }
    g_clear_pointer (&project, graft_project_free);
  }

  /* Ten new files per class, three gone: the old keep their split, the new are cut by
   * the saved fractions, the gone are dropped. */
  {
    g_autoptr(GraftDataset) grown = make_dataset (30, "cat/03.png dog/07.png dog/11.png", 3);
    g_autoptr(GraftProject) reopened = NULL;
    guint new_counts[2][GRAFT_N_SPLITS] = { { 0 } };

    project = graft_project_open (fixture->dir, &error);
    g_assert_no_error (error);
    g_assert_true (graft_project_apply (project, grown, NULL, &changes, &error));
    g_assert_no_error (error);
    g_assert_cmpuint (changes.n_kept, ==, 37);
    g_assert_cmpuint (changes.n_new, ==, 20);
    g_assert_cmpuint (changes.vanished->len, ==, 3);
    g_assert_cmpstr (g_ptr_array_index (changes.vanished, 0), ==, "cat/03.png");
    g_assert_cmpstr (g_ptr_array_index (changes.vanished, 2), ==, "dog/11.png");
    graft_project_changes_clear (&changes);

    for (guint i = 0; i < grown->samples->len; i++)
      {
        GraftSample *sample = g_ptr_array_index (grown->samples, i);
        guint number = (guint) g_ascii_strtoull (strchr (sample->name, '/') + 1, NULL, 10);

        g_assert_cmpint (sample->split, !=, GRAFT_SPLIT_NONE);
        if (number < 20)
          g_assert_cmpint (sample->split, ==, split_of (first, sample->name));
        else
          new_counts[sample->label][sample->split]++;
      }
    for (guint c = 0; c < 2; c++)
      {
        g_assert_cmpuint (new_counts[c][GRAFT_SPLIT_TRAIN], ==, 7);
        g_assert_cmpuint (new_counts[c][GRAFT_SPLIT_VAL] + new_counts[c][GRAFT_SPLIT_TEST], ==, 3);
      }

    g_assert_true (graft_project_save (project, &error));
    reopened = graft_project_open (fixture->dir, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (graft_project_get_n_assigned (reopened), ==, 57);
    g_assert_cmpint (graft_project_lookup_split (reopened, "dog/07.png"), ==, GRAFT_SPLIT_NONE);
    g_assert_cmpint (graft_project_lookup_split (reopened, "dog/25.png"), ==, split_of (grown, "dog/25.png"));
  }

  /* A detection dataset is not imported into a classification project. */
  {
    g_autoptr(GraftDataset) boxes = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_COCO, "/data/boxes.json");

    g_assert_false (graft_project_apply (project, boxes, NULL, NULL, &error));
    g_assert_error (error, GRAFT_PROJECT_ERROR, GRAFT_PROJECT_ERROR_MISMATCH);
    g_assert_nonnull (strstr (error->message, "/data/boxes.json"));
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/project/round-trip", Fixture, NULL, fixture_set_up, test_round_trip, fixture_tear_down);
  g_test_add ("/project/malformed", Fixture, NULL, fixture_set_up, test_malformed, fixture_tear_down);
  g_test_add ("/project/reimport", Fixture, NULL, fixture_set_up, test_reimport, fixture_tear_down);
  return g_test_run ();
}
