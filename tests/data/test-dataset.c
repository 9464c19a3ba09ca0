/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Dataset import: a corpus of every layout written here (PNG images through
 * graft_image_write_png, label files as text), each with the defects users meet: files
 * that are not images, CSV rows with missing columns or unknown paths, YOLO lines with the
 * wrong field count, NaN or values outside the image, COCO with dangling ids and boxes
 * with no area, malformed JSON. Every defect is a problem naming its file (and line);
 * everything else imports, with its class, boxes in pixels and split. */

#include <glib/gstdio.h>
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
  fixture->dir = g_dir_make_tmp ("graft-dataset-XXXXXX", &error);
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

/* ---- the corpus ---------------------------------------------------------------------- */

static char *
make_parent (const char *dir,
             const char *rel)
{
  char *path = g_build_filename (dir, rel, NULL);
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  return path;
}

static void
write_png (const char *dir,
           const char *rel,
           guint       width,
           guint       height)
{
  g_autofree char *path = make_parent (dir, rel);
  g_autofree guint8 *pixels = g_malloc ((gsize) width * height * 3);
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < (gsize) width * height * 3; i++)
    pixels[i] = (guint8) (i * 7 + strlen (rel));
  graft_image_write_png (path, width, height, 3, (gsize) width * 3, pixels, &error);
  g_assert_no_error (error);
}

static void
write_bytes (const char *dir,
             const char *rel,
             const void *data,
             gsize       length)
{
  g_autofree char *path = make_parent (dir, rel);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, (gssize) length, &error);
  g_assert_no_error (error);
}

static void
write_text (const char *dir,
            const char *rel,
            const char *text)
{
  write_bytes (dir, rel, text, strlen (text));
}

/* A JPEG file's first bytes (enough for the magic; the importer reads no further). */
static const guint8 jpeg_head[] = { 0xff, 0xd8, 0xff, 0xe0, 0, 16, 'J', 'F', 'I', 'F', 0 };

static GraftDataset *
import (const char         *path,
        GraftDatasetFormat  format)
{
  g_autoptr(GError) error = NULL;
  GraftDataset *dataset = graft_dataset_import (path, format, NULL, NULL, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (dataset);
  return dataset;
}

static GraftSample *
find_sample (GraftDataset *dataset,
             const char   *name)
{
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      if (g_str_equal (sample->name, name))
        return sample;
    }
  return NULL;
}

/* The problem of @kind about @file (at @line, unless G_MAXUINT); its message must name
 * the file. */
static GraftDataProblem *
find_problem (GraftDataset         *dataset,
              GraftDataProblemKind  kind,
              const char           *file,
              guint                 line)
{
  for (guint i = 0; i < dataset->problems->len; i++)
    {
      GraftDataProblem *problem = g_ptr_array_index (dataset->problems, i);

      if (problem->kind == kind && g_strcmp0 (problem->file, file) == 0
          && (line == G_MAXUINT || problem->line == line))
        {
          g_assert_nonnull (strstr (problem->message, file));
          return problem;
        }
    }
  return NULL;
}

static void
assert_problem (GraftDataset         *dataset,
                GraftDataProblemKind  kind,
                const char           *file,
                guint                 line,
                const char           *says)
{
  GraftDataProblem *problem = find_problem (dataset, kind, file, line);

  if (problem == NULL)
    {
      for (guint i = 0; i < dataset->problems->len; i++)
        {
          GraftDataProblem *p = g_ptr_array_index (dataset->problems, i);

          g_printerr ("  %s %s:%u %s\n", graft_data_problem_kind_to_string (p->kind),
                      p->file, p->line, p->message);
        }
      g_error ("no %s problem about %s line %u", graft_data_problem_kind_to_string (kind),
               file, line);
    }
  if (says != NULL && strstr (problem->message, says) == NULL)
    g_error ("the problem about %s says \"%s\", without \"%s\"", file, problem->message, says);
}

static void
assert_class_names (GraftDataset *dataset,
                    const char   *const *names)
{
  g_assert_cmpuint (dataset->classes->len, ==, g_strv_length ((char **) names));
  for (guint i = 0; names[i] != NULL; i++)
    g_assert_cmpstr (g_ptr_array_index (dataset->classes, i), ==, names[i]);
}

static void
assert_box (GraftSample *sample,
            guint        index,
            guint        label,
            float        x,
            float        y,
            float        width,
            float        height)
{
  const GraftBox *box;

  g_assert_nonnull (sample->boxes);
  g_assert_cmpuint (index, <, sample->boxes->len);
  box = &g_array_index (sample->boxes, GraftBox, index);
  g_assert_cmpuint (box->label, ==, label);
  g_assert_cmpfloat_with_epsilon (box->x, x, 1e-3);
  g_assert_cmpfloat_with_epsilon (box->y, y, 1e-3);
  g_assert_cmpfloat_with_epsilon (box->width, width, 1e-3);
  g_assert_cmpfloat_with_epsilon (box->height, height, 1e-3);
}

/* ---- a folder per class -------------------------------------------------------------- */

static void
test_folder_classes (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autofree char *root = g_build_filename (fixture->dir, "pets", NULL);
  const char *const classes[] = { "cat", "dog", NULL };
  const char *const names[] = {
    "cat/a.png", "cat/b.png", "dog/c.png", "dog/photo.dat", "dog/sub/d.png", NULL,
  };

  (void) data;
  write_png (root, "cat/b.png", 4, 3);
  write_png (root, "cat/a.png", 4, 3);
  write_png (root, "dog/c.png", 5, 5);
  write_png (root, "dog/sub/d.png", 5, 5);
  write_bytes (root, "dog/photo.dat", jpeg_head, sizeof jpeg_head);  /* JPEG by its magic */
  write_text (root, "dog/notes.txt", "not an image, and not named like one\n");
  write_text (root, "dog/fake.png", "this is text, not a PNG\n");
  write_bytes (root, "dog/empty.jpg", "", 0);
  write_bytes (root, "dog/old.bmp", "BM\x36\0\0\0", 6);
  write_png (root, ".thumbnails/x.png", 2, 2);
  write_text (root, "cat/.DS_Store", "\xff\xd8\xff");
  write_png (root, "stray.png", 3, 3);

  dataset = import (root, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_FOLDER);
  g_assert_cmpint (dataset->task, ==, GRAFT_TASK_CLASSIFICATION);
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, 5);
  for (guint i = 0; names[i] != NULL; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      g_autofree char *expected = g_build_filename (root, names[i], NULL);

      /* sorted by name, whatever order the files were written in */
      g_assert_cmpstr (sample->name, ==, names[i]);
      g_assert_cmpstr (sample->path, ==, expected);
      g_assert_cmpint (sample->label, ==, i < 2 ? 0 : 1);
      g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_NONE);
      g_assert_false (sample->split_fixed);
      g_assert_null (sample->boxes);
    }
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNREADABLE, "dog/fake.png", 0, "not a PNG or JPEG");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNREADABLE, "dog/empty.jpg", 0, "empty");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNREADABLE, "dog/old.bmp", 0, "BMP");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_NO_LABEL, "stray.png", 0, "class folder");
  g_assert_cmpuint (dataset->problems->len, ==, 4);
}

static void
test_folder_splits (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  const char *const classes[] = { "bird", "cat", "dog", NULL };
  struct { const char *name; const char *klass; GraftSplit split; } expected[] = {
    { "Valid/bird/1.png", "bird", GRAFT_SPLIT_VAL },
    { "test/dog/1.png", "dog", GRAFT_SPLIT_TEST },
    { "train/cat/1.png", "cat", GRAFT_SPLIT_TRAIN },
    { "train/cat/2.png", "cat", GRAFT_SPLIT_TRAIN },
    { "train/dog/1.png", "dog", GRAFT_SPLIT_TRAIN },
  };

  (void) data;
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    write_png (fixture->dir, expected[i].name, 3, 3);

  dataset = import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_FOLDER);
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      g_assert_cmpstr (sample->name, ==, expected[i].name);
      g_assert_cmpstr (g_ptr_array_index (dataset->classes, sample->label), ==, expected[i].klass);
      g_assert_cmpint (sample->split, ==, expected[i].split);
      g_assert_true (sample->split_fixed);
    }
  g_assert_cmpuint (dataset->problems->len, ==, 0);
}

/* ---- CSV ----------------------------------------------------------------------------- */

static void
test_csv_header (Fixture       *fixture,
                 gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autofree char *csv = g_build_filename (fixture->dir, "labels.csv", NULL);
  g_autofree char *absolute = g_build_filename (fixture->dir, "images", "abs.png", NULL);
  g_autofree char *text = NULL;
  const char *const classes[] = { "big \"cat\"", "cat, wild", "dog", NULL };
  GraftSample *sample;

  (void) data;
  write_png (fixture->dir, "images/a.png", 3, 3);
  write_png (fixture->dir, "images/b, 2.png", 3, 3);
  write_png (fixture->dir, "images/abs.png", 3, 3);
  write_png (fixture->dir, "images/c.png", 3, 3);
  write_png (fixture->dir, "images/d.png", 3, 3);
  /* The label column first, found by its name; CRLF line ends; quoted commas and
   * doubled quotes; an absolute path; the defects on lines 5 to 8. */
  text = g_strdup_printf ("Class,Extra,File Name\r\n"
                          "dog,x,images/a.png\r\n"
                          "\"cat, wild\",x,\"images/b, 2.png\"\r\n"
                          "\"big \"\"cat\"\"\",x,%s\r\n"
                          "dog,x\r\n"
                          ",x,images/c.png\r\n"
                          "dog,x,images/missing.png\r\n"
                          "dog,x,images\r\n"
                          "\r\n"
                          "dog,x,images/d.png\r\n", absolute);
  write_text (fixture->dir, "labels.csv", text);

  dataset = import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_CSV);
  g_assert_cmpstr (dataset->root, ==, csv);
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, 4);
  sample = find_sample (dataset, "images/a.png");
  g_assert_nonnull (sample);
  g_assert_cmpint (sample->label, ==, 2);
  sample = find_sample (dataset, "images/b, 2.png");
  g_assert_nonnull (sample);
  g_assert_cmpint (sample->label, ==, 1);
  sample = find_sample (dataset, "images/abs.png");
  g_assert_nonnull (sample);
  g_assert_cmpstr (sample->path, ==, absolute);
  g_assert_cmpint (sample->label, ==, 0);
  g_assert_nonnull (find_sample (dataset, "images/d.png"));

  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "labels.csv", 5, "has 2 columns");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "labels.csv", 6, "empty label");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_MISSING_FILE, "labels.csv", 7, "images/missing.png");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_MISSING_FILE, "labels.csv", 8, "folder");
  g_assert_cmpuint (dataset->problems->len, ==, 4);
}

static void
test_csv_no_header (Fixture       *fixture,
                    gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GraftDataset) named = NULL;
  g_autofree char *csv = g_build_filename (fixture->dir, "list.csv", NULL);
  g_autofree char *tsv = g_build_filename (fixture->dir, "list.tsv", NULL);
  const char *const classes[] = { "0", "1", "2", NULL };

  (void) data;
  write_png (fixture->dir, "x/1.png", 3, 3);
  write_png (fixture->dir, "x/2.png", 3, 3);
  write_png (fixture->dir, "x/3.png", 3, 3);
  /* no header: the first row is a file; every label a whole number, so class indices;
   * a row whose file is missing still reads as a row, not as a header */
  write_text (fixture->dir, "list.csv",
              "x/gone.png,1\n"
              "x/1.png,2\n"
              "x/2.png,0\n"
              "x/3.png,-4\n"
              "x/3.png,1");
  dataset = import (csv, GRAFT_DATASET_FORMAT_AUTO);
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, 3);
  g_assert_cmpint (find_sample (dataset, "x/1.png")->label, ==, 2);
  g_assert_cmpint (find_sample (dataset, "x/2.png")->label, ==, 0);
  g_assert_cmpint (find_sample (dataset, "x/3.png")->label, ==, 1);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_MISSING_FILE, "list.csv", 1, "x/gone.png");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, "list.csv", 4, "-4");
  g_assert_cmpuint (dataset->problems->len, ==, 2);

  /* a header row of plain words, tabs between fields, a quoted field over two lines and
   * one never closed */
  write_text (fixture->dir, "list.tsv",
              "image\tspecies\n"
              "x/1.png\t\"long\nname\"\n"
              "x/2.png\tshort\n"
              "x/3.png\t\"open\n");
  named = import (tsv, GRAFT_DATASET_FORMAT_CSV);
  g_assert_cmpuint (named->classes->len, ==, 2);
  g_assert_cmpstr (g_ptr_array_index (named->classes, 0), ==, "long\nname");
  g_assert_cmpuint (named->samples->len, ==, 2);
  g_assert_cmpint (find_sample (named, "x/2.png")->label, ==, 1);
  assert_problem (named, GRAFT_DATA_PROBLEM_PARSE, "list.tsv", 5, "never closed");
  g_assert_cmpuint (named->problems->len, ==, 1);
}

static void
test_csv_parser (void)
{
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION,
                                                       GRAFT_DATASET_FORMAT_CSV, NULL);
  g_autoptr(GError) error = NULL;
  static const char binary[] = "a.png,cat\n\0\0\1\2";
  static const char rows[] = "path,label\nq.png,cat\n";

  /* not text at all: an error, and nothing added */
  g_assert_false (graft_dataset_parse_csv (dataset, binary, sizeof binary, "data.csv",
                                           "/nonexistent", &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "data.csv"));
  g_clear_error (&error);
  g_assert_false (graft_dataset_parse_csv (dataset, "", 0, "empty.csv", "/nonexistent", &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_clear_error (&error);

  /* a header and rows naming files that are not there */
  g_assert_true (graft_dataset_parse_csv (dataset, rows, strlen (rows), "rows.csv",
                                          "/nonexistent", &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->samples->len, ==, 0);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_MISSING_FILE, "rows.csv", 2, "q.png");

  /* problems are listed up to a bound per file, the rest counted in one more */
  {
    g_autoptr(GraftDataset) many = graft_dataset_new (GRAFT_TASK_CLASSIFICATION,
                                                      GRAFT_DATASET_FORMAT_CSV, NULL);
    g_autoptr(GString) text = g_string_new (NULL);
    GraftDataProblem *last;

    for (guint i = 0; i < 1100; i++)
      g_string_append (text, "x.png,\n");
    g_assert_true (graft_dataset_parse_csv (many, text->str, text->len, "many.csv",
                                            "/nonexistent", &error));
    g_assert_no_error (error);
    g_assert_cmpuint (many->problems->len, ==, 1001);
    last = g_ptr_array_index (many->problems, 1000);
    g_assert_cmpstr (last->file, ==, "many.csv");
    g_assert_nonnull (strstr (last->message, "100 more"));
  }

  /* a delimiter as the very last byte: one more, empty field */
  g_assert_true (graft_dataset_parse_csv (dataset, "r.png,", 6, "end.csv", "/nonexistent", &error));
  g_assert_no_error (error);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "end.csv", 1, "empty label");
}

/* ---- YOLO ---------------------------------------------------------------------------- */

static void
test_yolo (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  const char *const classes[] = { "cat", "dog", NULL };
  GraftSample *sample;

  (void) data;
  write_png (fixture->dir, "images/train/a.png", 100, 50);
  write_png (fixture->dir, "images/train/c.png", 20, 20);
  write_png (fixture->dir, "images/val/b.png", 40, 40);
  write_text (fixture->dir, "images/val/broken.jpg", "not a JPEG");
  write_text (fixture->dir, "data.yaml",
              "path: ../datasets/pets  # where it was\n"
              "train: images/train\n"
              "val: images/val\n"
              "names: [cat, 'dog']\n");
  write_text (fixture->dir, "labels/train/a.txt",
              "0 0.5 0.5 0.2 0.4\n"
              "1 0.5 0.5 0.2\n"
              "0 nan 0.5 0.1 0.1\n"
              "0 1.5 0.5 0.1 0.1\n"
              "5 0.5 0.5 0.1 0.1\n"
              "0 0.5 0.5 0 0.1\n"
              "x 0.5 0.5 0.1 0.1\n"
              "0 0.95 0.5 0.2 0.2\n"
              "\n"
              "1\t0.25 0.75 0.5 0.5\r\n");
  write_text (fixture->dir, "labels/train/c.txt", "");

  dataset = import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_YOLO);
  g_assert_cmpint (dataset->task, ==, GRAFT_TASK_DETECTION);
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, 3);

  sample = find_sample (dataset, "images/train/a.png");
  g_assert_nonnull (sample);
  g_assert_cmpuint (sample->width, ==, 100);
  g_assert_cmpuint (sample->height, ==, 50);
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TRAIN);
  g_assert_true (sample->split_fixed);
  g_assert_cmpuint (sample->boxes->len, ==, 2);
  assert_box (sample, 0, 0, 40, 15, 20, 20);
  assert_box (sample, 1, 1, 0, 25, 50, 25);

  /* an empty labels file: an image with no objects, which is no problem */
  sample = find_sample (dataset, "images/train/c.png");
  g_assert_nonnull (sample);
  g_assert_cmpuint (sample->boxes->len, ==, 0);
  /* no labels file at all: kept, and said */
  sample = find_sample (dataset, "images/val/b.png");
  g_assert_nonnull (sample);
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_VAL);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_NO_LABEL, "images/val/b.png", 0, "labels/val/b.txt");

  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "labels/train/a.txt", 2, "4 fields");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_EMPTY, "labels/train/a.txt", 3, "NaN");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, "labels/train/a.txt", 4, NULL);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, "labels/train/a.txt", 5, "class 5");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_EMPTY, "labels/train/a.txt", 6, "no area");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "labels/train/a.txt", 7, "not a number");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, "labels/train/a.txt", 8, NULL);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNREADABLE, "images/val/broken.jpg", 0, NULL);
  g_assert_cmpuint (dataset->problems->len, ==, 9);
}

static void
test_yolo_names (Fixture       *fixture,
                 gconstpointer  data)
{
  static const struct {
    const char *file;
    const char *text;
    const char *names[5];
  } cases[] = {
    { "data.yaml", "names: [cat, \"dog, big\", 'it''s']\nnc: 3\n", { "cat", "dog, big", "it's" } },
    { "data.yaml", "# classes\nnames:\n  - cat   # a comment\n  - \"dog\"\n-  fish\nnc: 3\n",
      { "cat", "dog", "fish" } },
    { "data.yaml", "train: x\nnames:\n  0: cat\n  2: fish\nval: y\n", { "cat", "class 1", "fish" } },
    { "data.yaml", "names: {0: cat, 1: dog}\n", { "cat", "dog" } },
    { "data.yaml", "names: [\n  cat,\n  dog,\n]\n", { "cat", "dog" } },
    { "data.yaml", "nc: 2\n", { "class 0", "class 1" } },
    { "classes.txt", "cat\r\ndog\n\n", { "cat", "dog" } },
    { "labels/classes.txt", "cat\n", { "cat" } },
  };

  (void) data;
  for (guint c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      g_autoptr(GraftDataset) dataset = NULL;
      g_autofree char *root = g_strdup_printf ("%s/case-%u", fixture->dir, c);

      write_png (root, "images/a.png", 10, 10);
      write_text (root, "labels/a.txt", "0 0.5 0.5 0.5 0.5\n");
      write_text (root, cases[c].file, cases[c].text);
      dataset = import (root, GRAFT_DATASET_FORMAT_YOLO);
      assert_class_names (dataset, cases[c].names);
      g_assert_cmpuint (dataset->problems->len, ==, 0);
    }

  /* no names anywhere: classes named by the ids met; a data.yaml without names is said */
  {
    g_autoptr(GraftDataset) dataset = NULL;
    g_autofree char *root = g_build_filename (fixture->dir, "bare", NULL);
    const char *const names[] = { "class 0", "class 1", "class 2", NULL };

    write_png (root, "images/a.png", 10, 10);
    write_text (root, "labels/a.txt", "2 0.5 0.5 0.5 0.5\n0 0.5 0.5 0.5 0.5\n");
    write_text (root, "data.yaml", "train: images\n");
    dataset = import (root, GRAFT_DATASET_FORMAT_AUTO);
    assert_class_names (dataset, names);
    g_assert_cmpuint (find_sample (dataset, "images/a.png")->boxes->len, ==, 2);
    assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "data.yaml", 0, "names");
  }
}

static void
test_yolo_split_first (Fixture       *fixture,
                       gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  GraftSample *sample;

  (void) data;
  /* as Roboflow exports it: train/images, train/labels, valid/images … */
  write_png (fixture->dir, "train/images/a.png", 10, 10);
  write_text (fixture->dir, "train/labels/a.txt", "0 0.5 0.5 0.5 0.5\n");
  write_png (fixture->dir, "valid/images/b.png", 10, 10);
  write_text (fixture->dir, "valid/labels/b.txt", "0 0.5 0.5 0.5 0.5\n");
  write_text (fixture->dir, "data.yaml", "nc: 1\nnames: ['thing']\n");

  dataset = import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_YOLO);
  g_assert_cmpuint (dataset->samples->len, ==, 2);
  sample = find_sample (dataset, "train/images/a.png");
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_TRAIN);
  assert_box (sample, 0, 0, 2.5, 2.5, 5, 5);
  sample = find_sample (dataset, "valid/images/b.png");
  g_assert_cmpint (sample->split, ==, GRAFT_SPLIT_VAL);
  g_assert_cmpuint (sample->boxes->len, ==, 1);
  g_assert_cmpuint (dataset->problems->len, ==, 0);
}

static void
test_yolo_parser (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION,
                                                       GRAFT_DATASET_FORMAT_YOLO, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *big = NULL;
  GraftSample *sample;
  gsize big_length = (4u << 20) + 1;
  static const char binary[] = "0 0.5 0.5 0.1 0.1\n\0\xff";
  static const char two_lines[] = "0 0.5 0.5 1 1\n1 0.5 0.5 1 1";

  (void) data;
  graft_dataset_add_class (dataset, "only");
  sample = graft_dataset_add_sample (dataset, g_strdup ("/nonexistent/a.png"), g_strdup ("a.png"), -1);
  sample->width = 640;
  sample->height = 480;
  g_assert_false (graft_dataset_parse_yolo_labels (dataset, sample, binary, sizeof binary,
                                                   "a.txt", &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_clear_error (&error);
  g_assert_true (graft_dataset_parse_yolo_labels (dataset, sample, two_lines, strlen (two_lines),
                                                  "a.txt", &error));
  g_assert_no_error (error);
  assert_box (sample, 0, 0, 0, 0, 640, 480);
  /* a fixed class list does not grow */
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, "a.txt", 2, NULL);
  g_assert_cmpuint (dataset->classes->len, ==, 1);

  /* a labels file above the limit is a problem, not an allocation */
  big = g_malloc (big_length);
  memset (big, ' ', big_length);
  write_png (fixture->dir, "images/big.png", 8, 8);
  write_bytes (fixture->dir, "labels/big.txt", big, big_length);
  {
    g_autoptr(GraftDataset) imported = import (fixture->dir, GRAFT_DATASET_FORMAT_YOLO);

    g_assert_cmpuint (imported->samples->len, ==, 1);
    assert_problem (imported, GRAFT_DATA_PROBLEM_PARSE, "labels/big.txt", 0, "bytes");
  }
}

/* ---- COCO ---------------------------------------------------------------------------- */

static const char coco_json[] =
  "{\n"
  "  \"info\": {\"description\": \"pets\"},\n"
  "  \"images\": [\n"
  "    {\"id\": 1, \"file_name\": \"a.png\", \"width\": 100, \"height\": 50},\n"
  "    {\"id\": 2, \"file_name\": \"b.png\", \"width\": 40, \"height\": 40},\n"
  "    {\"id\": 3, \"file_name\": \"gone.png\", \"width\": 40, \"height\": 40},\n"
  "    {\"id\": \"x4\", \"file_name\": \"c.png\"}\n"
  "  ],\n"
  "  \"annotations\": [\n"
  "    {\"id\": 10, \"image_id\": 1, \"category_id\": 7, \"bbox\": [10, 5, 20, 30], \"iscrowd\": 0},\n"
  "    {\"id\": 11, \"image_id\": 1, \"category_id\": 3, \"bbox\": [0.5, 0, 99.5, 50]},\n"
  "    {\"id\": 12, \"image_id\": 99, \"category_id\": 3, \"bbox\": [1, 1, 2, 2]},\n"
  "    {\"id\": 13, \"image_id\": 2, \"category_id\": 5, \"bbox\": [1, 1, 2, 2]},\n"
  "    {\"id\": 14, \"image_id\": 2, \"category_id\": 3, \"bbox\": [1, 1, -2, 2]},\n"
  "    {\"id\": 15, \"image_id\": 2, \"category_id\": 3, \"bbox\": [30, 30, 20, 5]},\n"
  "    {\"id\": 16, \"image_id\": 2, \"category_id\": 3, \"bbox\": [\"1\", 1, 2, 2]},\n"
  "    {\"id\": 17, \"image_id\": 3, \"category_id\": 3, \"bbox\": [1, 1, 2, 2]},\n"
  "    {\"id\": 18, \"image_id\": \"x4\", \"category_id\": 3, \"bbox\": [1, 2, 3, 4]}\n"
  "  ],\n"
  "  \"categories\": [{\"id\": 7, \"name\": \"dog\"}, {\"id\": 3, \"name\": \"cat\"}]\n"
  "}\n";

static void
test_coco (Fixture       *fixture,
           gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autofree char *json = g_build_filename (fixture->dir, "pets.json", NULL);
  const char *const classes[] = { "cat", "dog", NULL };
  GraftSample *sample;

  (void) data;
  write_png (fixture->dir, "images/a.png", 100, 50);  /* in images/ beside the file */
  write_png (fixture->dir, "b.png", 40, 40);          /* beside the file */
  write_png (fixture->dir, "images/c.png", 10, 10);
  write_text (fixture->dir, "pets.json", coco_json);

  dataset = import (json, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_COCO);
  g_assert_cmpint (dataset->task, ==, GRAFT_TASK_DETECTION);
  /* categories sorted by id: 3 (cat) is class 0, 7 (dog) class 1 */
  assert_class_names (dataset, classes);
  g_assert_cmpuint (dataset->samples->len, ==, 3);

  sample = find_sample (dataset, "images/a.png");
  g_assert_nonnull (sample);
  g_assert_cmpuint (sample->width, ==, 100);
  g_assert_cmpuint (sample->boxes->len, ==, 2);
  assert_box (sample, 0, 1, 10, 5, 20, 30);
  assert_box (sample, 1, 0, 0.5, 0, 99.5, 50);
  sample = find_sample (dataset, "b.png");
  g_assert_nonnull (sample);
  g_assert_cmpuint (sample->boxes->len, ==, 0);
  sample = find_sample (dataset, "images/c.png");
  g_assert_nonnull (sample);
  assert_box (sample, 0, 0, 1, 2, 3, 4);

  assert_problem (dataset, GRAFT_DATA_PROBLEM_MISSING_FILE, "pets.json", 0, "gone.png");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "pets.json", 0, "annotation 12");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, "pets.json", 0, "annotation 13");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_EMPTY, "pets.json", 0, "annotation 14");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, "pets.json", 0, "annotation 15");
  /* annotation 16's string; 17 belongs to the missing image, already said */
  g_assert_cmpuint (dataset->problems->len, ==, 6);
  {
    GraftDataProblem *last = g_ptr_array_index (dataset->problems, 5);

    g_assert_cmpint (last->kind, ==, GRAFT_DATA_PROBLEM_PARSE);
    g_assert_nonnull (strstr (last->message, "annotation 16"));
  }
}

static void
test_coco_layout (Fixture       *fixture,
                  gconstpointer  data)
{
  g_autoptr(GraftDataset) dataset = NULL;
  static const char train[] =
    "{\"images\": [{\"id\": 1, \"file_name\": \"1.png\", \"width\": 8, \"height\": 8}],"
    " \"annotations\": [{\"id\": 1, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]}],"
    " \"categories\": [{\"id\": 1, \"name\": \"person\"}]}";
  static const char val[] =
    "{\"images\": [{\"id\": 1, \"file_name\": \"2.png\", \"width\": 8, \"height\": 8}],"
    " \"annotations\": [], \"categories\": [{\"id\": 1, \"name\": \"person\"}]}";

  (void) data;
  write_png (fixture->dir, "train2017/1.png", 8, 8);
  write_png (fixture->dir, "val2017/2.png", 8, 8);
  write_text (fixture->dir, "annotations/instances_train2017.json", train);
  write_text (fixture->dir, "annotations/instances_val2017.json", val);

  dataset = import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO);
  g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_COCO);
  g_assert_cmpuint (dataset->classes->len, ==, 1);
  g_assert_cmpuint (dataset->samples->len, ==, 2);
  g_assert_cmpint (find_sample (dataset, "train2017/1.png")->split, ==, GRAFT_SPLIT_TRAIN);
  g_assert_cmpint (find_sample (dataset, "val2017/2.png")->split, ==, GRAFT_SPLIT_VAL);
  g_assert_true (find_sample (dataset, "val2017/2.png")->split_fixed);
  g_assert_cmpuint (find_sample (dataset, "train2017/1.png")->boxes->len, ==, 1);
  g_assert_cmpuint (dataset->problems->len, ==, 0);
}

static void
test_coco_malformed (Fixture       *fixture,
                     gconstpointer  data)
{
  g_autofree char *bad = g_build_filename (fixture->dir, "bad.json", NULL);
  g_autofree char *cut = g_build_filename (fixture->dir, "cut.json", NULL);
  g_autofree char *other = g_build_filename (fixture->dir, "other.json", NULL);
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION,
                                                       GRAFT_DATASET_FORMAT_COCO, NULL);
  g_autoptr(GError) error = NULL;
  GraftDataset *none;
  static const char no_categories[] =
    "{\"images\": [{\"id\": 1, \"file_name\": \"a.png\"}],"
    " \"annotations\": [{\"id\": 5, \"image_id\": 1, \"category_id\": 1, \"bbox\": [1, 1, 2, 2]}]}";

  (void) data;
  write_text (fixture->dir, "bad.json",
              "{\"images\": [\n  {\"id\": 1, \"file_name\": \"a.png\"},\n  {\"id\": 2,, }\n],"
              " \"annotations\": []}\n");
  none = graft_dataset_import (bad, GRAFT_DATASET_FORMAT_COCO, NULL, NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "bad.json"));
  g_assert_nonnull (strstr (error->message, "line 3"));
  g_clear_error (&error);

  write_text (fixture->dir, "cut.json", "{\"images\": [{\"id\": 1, \"file_na");
  none = graft_dataset_import (cut, GRAFT_DATASET_FORMAT_COCO, NULL, NULL, NULL, &error);
  g_assert_null (none);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "cut.json"));
  g_clear_error (&error);

  /* JSON, but not COCO: detection says so, and so does the parser */
  write_text (fixture->dir, "other.json", "{\"weights\": [1, 2]}");
  g_assert_false (graft_dataset_detect (other, &(GraftDatasetFormat) { 0 }, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_false (graft_dataset_parse_coco (dataset, "[1, 2]", 6, "list.json", fixture->dir, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "list.json"));
  g_clear_error (&error);
  /* null is valid JSON that json-c gives as no object at all */
  g_assert_false (graft_dataset_parse_coco (dataset, "null\n", 5, "null.json", fixture->dir, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "null.json"));
  g_clear_error (&error);

  /* no categories at all: said once, and every box's class is unknown */
  write_png (fixture->dir, "a.png", 4, 4);
  g_assert_true (graft_dataset_parse_coco (dataset, no_categories, strlen (no_categories),
                                           "bare.json", fixture->dir, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->samples->len, ==, 1);
  assert_problem (dataset, GRAFT_DATA_PROBLEM_PARSE, "bare.json", 0, "categories");
  assert_problem (dataset, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, "bare.json", 0, "annotation 5");
}

/* ---- detection ----------------------------------------------------------------------- */

static void
assert_detects (const char         *path,
                GraftDatasetFormat  expected)
{
  g_autoptr(GError) error = NULL;
  GraftDatasetFormat format = GRAFT_DATASET_FORMAT_AUTO;

  g_assert_true (graft_dataset_detect (path, &format, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (graft_dataset_format_to_string (format), ==,
                   graft_dataset_format_to_string (expected));
}

static void
assert_detect_fails (const char *path,
                     int         code,
                     const char *says)
{
  g_autoptr(GError) error = NULL;
  GraftDatasetFormat format = GRAFT_DATASET_FORMAT_AUTO;

  g_assert_false (graft_dataset_detect (path, &format, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, code);
  g_assert_nonnull (strstr (error->message, path));
  if (says != NULL && strstr (error->message, says) == NULL)
    g_error ("\"%s\" does not say \"%s\"", error->message, says);
}

static void
test_detect (Fixture       *fixture,
             gconstpointer  data)
{
  g_autofree char *folder = g_build_filename (fixture->dir, "folder", NULL);
  g_autofree char *csv_dir = g_build_filename (fixture->dir, "csv", NULL);
  g_autofree char *csv = g_build_filename (csv_dir, "labels.csv", NULL);
  g_autofree char *yolo = g_build_filename (fixture->dir, "yolo", NULL);
  g_autofree char *yaml = g_build_filename (yolo, "data.yaml", NULL);
  g_autofree char *coco = g_build_filename (fixture->dir, "coco", NULL);
  g_autofree char *coco_file = g_build_filename (coco, "annotations", "instances_val.json", NULL);
  g_autofree char *empty = g_build_filename (fixture->dir, "empty", NULL);
  g_autofree char *two = g_build_filename (fixture->dir, "two", NULL);
  g_autofree char *image = g_build_filename (folder, "cat", "1.png", NULL);
  g_autofree char *missing = g_build_filename (fixture->dir, "missing", NULL);
  g_autofree char *text = g_build_filename (fixture->dir, "notes.txt", NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  write_png (folder, "cat/1.png", 3, 3);
  write_png (folder, "dog/1.png", 3, 3);
  write_png (csv_dir, "images/1.png", 3, 3);
  write_text (csv_dir, "labels.csv", "images/1.png,cat\n");
  write_png (yolo, "images/1.png", 3, 3);
  write_text (yolo, "labels/1.txt", "");
  write_text (yolo, "data.yaml", "names: [a]\n");
  write_png (coco, "val/1.png", 3, 3);
  write_text (coco, "annotations/instances_val.json",
              "{\"images\": [{\"id\": 1, \"file_name\": \"1.png\"}], \"annotations\": [],"
              " \"categories\": []}");
  g_assert_cmpint (g_mkdir_with_parents (empty, 0755), ==, 0);
  write_text (two, "a.csv", "1.png,a\n");
  write_text (two, "b.csv", "1.png,b\n");
  write_text (fixture->dir, "notes.txt", "hello\n");

  assert_detects (folder, GRAFT_DATASET_FORMAT_FOLDER);
  assert_detects (csv_dir, GRAFT_DATASET_FORMAT_CSV);
  assert_detects (csv, GRAFT_DATASET_FORMAT_CSV);
  assert_detects (yolo, GRAFT_DATASET_FORMAT_YOLO);
  assert_detects (yaml, GRAFT_DATASET_FORMAT_YOLO);
  assert_detects (coco, GRAFT_DATASET_FORMAT_COCO);
  assert_detects (coco_file, GRAFT_DATASET_FORMAT_COCO);
  assert_detect_fails (missing, GRAFT_DATA_ERROR_NOT_FOUND, "does not exist");
  assert_detect_fails (empty, GRAFT_DATA_ERROR_UNSUPPORTED, "is empty");
  assert_detect_fails (two, GRAFT_DATA_ERROR_UNSUPPORTED, "a.csv");
  assert_detect_fails (image, GRAFT_DATA_ERROR_UNSUPPORTED, "single image");
  assert_detect_fails (text, GRAFT_DATA_ERROR_UNSUPPORTED, "CSV");

  /* the caller's format wins: the CSV folder as class folders (its images/ a class) */
  {
    g_autoptr(GraftDataset) dataset = import (csv_dir, GRAFT_DATASET_FORMAT_FOLDER);

    g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_FOLDER);
    g_assert_cmpuint (dataset->classes->len, ==, 1);
    g_assert_cmpstr (g_ptr_array_index (dataset->classes, 0), ==, "images");
  }
  {
    g_autoptr(GraftDataset) dataset = import (csv_dir, GRAFT_DATASET_FORMAT_AUTO);

    g_assert_cmpint (dataset->format, ==, GRAFT_DATASET_FORMAT_CSV);
    g_assert_cmpstr (g_ptr_array_index (dataset->classes, 0), ==, "cat");
  }
  /* a layout that is not there is an error, not an empty dataset */
  g_assert_null (graft_dataset_import (folder, GRAFT_DATASET_FORMAT_YOLO, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED);
  g_clear_error (&error);
  g_assert_null (graft_dataset_import (empty, GRAFT_DATASET_FORMAT_FOLDER, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (graft_dataset_import (missing, GRAFT_DATASET_FORMAT_AUTO, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
}

/* ---- progress and cancel ------------------------------------------------------------- */

typedef struct {
  guint         calls;
  guint         last_done;
  guint         last_total;
  GCancellable *cancel_at_3;
} Progress;

static void
on_progress (guint    done,
             guint    total,
             gpointer user_data)
{
  Progress *progress = user_data;

  progress->calls++;
  g_assert_cmpuint (done, ==, progress->last_done + 1);
  progress->last_done = done;
  progress->last_total = total;
  if (progress->cancel_at_3 != NULL && done == 3)
    g_cancellable_cancel (progress->cancel_at_3);
}

static void
test_progress_cancel (Fixture       *fixture,
                      gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GError) error = NULL;
  Progress progress = { 0, };

  (void) data;
  for (guint i = 0; i < 8; i++)
    {
      g_autofree char *name = g_strdup_printf ("c%u/%u.png", i % 2, i);

      write_png (fixture->dir, name, 2, 2);
    }
  dataset = graft_dataset_import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO, on_progress,
                                  &progress, cancellable, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->samples->len, ==, 8);
  g_assert_cmpuint (progress.calls, ==, 8);
  g_assert_cmpuint (progress.last_total, ==, 8);

  /* cancelled in the middle: no dataset, and the error says cancelled */
  memset (&progress, 0, sizeof progress);
  progress.cancel_at_3 = cancellable;
  g_assert_null (graft_dataset_import (fixture->dir, GRAFT_DATASET_FORMAT_AUTO, on_progress,
                                       &progress, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (progress.calls, ==, 3);
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add ("/dataset/folder/classes", Fixture, NULL, fixture_set_up, test_folder_classes, fixture_tear_down);
  g_test_add ("/dataset/folder/splits", Fixture, NULL, fixture_set_up, test_folder_splits, fixture_tear_down);
  g_test_add ("/dataset/csv/header", Fixture, NULL, fixture_set_up, test_csv_header, fixture_tear_down);
  g_test_add ("/dataset/csv/no-header", Fixture, NULL, fixture_set_up, test_csv_no_header, fixture_tear_down);
  g_test_add_func ("/dataset/csv/parser", test_csv_parser);
  g_test_add ("/dataset/yolo/labels", Fixture, NULL, fixture_set_up, test_yolo, fixture_tear_down);
  g_test_add ("/dataset/yolo/names", Fixture, NULL, fixture_set_up, test_yolo_names, fixture_tear_down);
  g_test_add ("/dataset/yolo/split-first", Fixture, NULL, fixture_set_up, test_yolo_split_first, fixture_tear_down);
  g_test_add ("/dataset/yolo/parser", Fixture, NULL, fixture_set_up, test_yolo_parser, fixture_tear_down);
  g_test_add ("/dataset/coco/instances", Fixture, NULL, fixture_set_up, test_coco, fixture_tear_down);
  g_test_add ("/dataset/coco/layout", Fixture, NULL, fixture_set_up, test_coco_layout, fixture_tear_down);
  g_test_add ("/dataset/coco/malformed", Fixture, NULL, fixture_set_up, test_coco_malformed, fixture_tear_down);
  g_test_add ("/dataset/detect", Fixture, NULL, fixture_set_up, test_detect, fixture_tear_down);
  g_test_add ("/dataset/progress-cancel", Fixture, NULL, fixture_set_up, test_progress_cancel, fixture_tear_down);
  return g_test_run ();
}
