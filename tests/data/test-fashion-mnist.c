/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Fashion-MNIST, PNG files and the demo dataset. Tiny IDX files built here byte by byte
 * load exactly, and every way such a file can be damaged is an error naming it; a PNG
 * reads back with libpng as written; the demo dataset holds the images it promises, the
 * same seed draws the same ones, a second run leaves no stale file and a folder of
 * someone else's files is left alone. With dataset-fashion-mnist installed, graft-cli
 * demo-dataset runs on the real data. */

#include <glib/gstdio.h>
#include <json-c/json.h>
#include <png.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "graft.h"
#include "graft-test-util.h"

/* The synthetic source: 5×3 images (not square, so that rows and columns cannot be
 * swapped unnoticed), image i of class i % 10. */
#define ROWS 5
#define COLS 3
#define TRAIN_PER_CLASS 8
#define TEST_PER_CLASS 3

typedef struct {
  char *dir;     /* a temporary folder for the test's files */
  char *source;  /* dir/source: a synthetic Fashion-MNIST */
} Fixture;

static guint8
pixel (guint index,
       guint p)
{
  return (guint8) (index * 37u + p * 11u + 1u);
}

static void
append_be32 (GByteArray *bytes,
             guint32     value)
{
  guint32 be = GUINT32_TO_BE (value);

  g_byte_array_append (bytes, (const guint8 *) &be, 4);
}

static GByteArray *
make_images (guint count)
{
  GByteArray *bytes = g_byte_array_new ();

  append_be32 (bytes, 0x00000803);
  append_be32 (bytes, count);
  append_be32 (bytes, ROWS);
  append_be32 (bytes, COLS);
  for (guint i = 0; i < count; i++)
    for (guint p = 0; p < ROWS * COLS; p++)
      {
        guint8 v = pixel (i, p);
        g_byte_array_append (bytes, &v, 1);
      }
  return bytes;
}

static GByteArray *
make_labels (guint count)
{
  GByteArray *bytes = g_byte_array_new ();

  append_be32 (bytes, 0x00000801);
  append_be32 (bytes, count);
  for (guint i = 0; i < count; i++)
    {
      guint8 label = (guint8) (i % 10);
      g_byte_array_append (bytes, &label, 1);
    }
  return bytes;
}

static void
write_gz (const char *path,
          const void *data,
          gsize       len)
{
  gzFile gz = gzopen (path, "wb");

  g_assert_nonnull (gz);
  g_assert_cmpint (gzwrite (gz, data, (unsigned) len), ==, (int) len);
  g_assert_cmpint (gzclose (gz), ==, Z_OK);
}

/* Writes one file of a split into the source folder, gzip'd. */
static char *
write_source_file (Fixture                *fx,
                   GraftFashionMnistSplit  split,
                   gboolean                labels,
                   GByteArray             *bytes)
{
  char *path = graft_fashion_mnist_get_path (fx->source, split, labels);

  write_gz (path, bytes->data, bytes->len);
  return path;
}

static void
write_split (Fixture                *fx,
             GraftFashionMnistSplit  split,
             guint                   count)
{
  g_autoptr(GByteArray) images = make_images (count);
  g_autoptr(GByteArray) labels = make_labels (count);
  g_free (write_source_file (fx, split, FALSE, images));
  g_free (write_source_file (fx, split, TRUE, labels));
}

static void
fixture_setup (Fixture       *fx,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  (void) data;
  fx->dir = g_dir_make_tmp ("graft-data-XXXXXX", &error);
  g_assert_no_error (error);
  fx->source = g_build_filename (fx->dir, "source", NULL);
  g_assert_cmpint (g_mkdir (fx->source, 0755), ==, 0);
  write_split (fx, GRAFT_FASHION_MNIST_TRAIN, 10 * TRAIN_PER_CLASS);
  write_split (fx, GRAFT_FASHION_MNIST_TEST, 10 * TEST_PER_CLASS);
  g_setenv ("GRAFT_FASHION_MNIST_DIR", fx->source, TRUE);
}

static void
fixture_teardown (Fixture       *fx,
                  gconstpointer  data)
{
  (void) data;
  g_unsetenv ("GRAFT_FASHION_MNIST_DIR");
  graft_test_remove_tree (fx->dir);
  g_free (fx->source);
  g_free (fx->dir);
}

/* Loading @split of the source fails with @code, and the message names @path. */
static void
assert_load_fails (Fixture                *fx,
                   GraftFashionMnistSplit  split,
                   int                     code,
                   const char             *path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) data = graft_fashion_mnist_load (fx->source, split, NULL, &error);

  g_assert_null (data);
  g_assert_error (error, GRAFT_DATA_ERROR, code);
  g_test_message ("%s", error->message);
  if (strstr (error->message, path) == NULL)
    g_error ("“%s” does not name %s", error->message, path);
}

/* ---- Fashion-MNIST ------------------------------------------------------------------ */

static void
test_parse (Fixture       *fx,
            gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) train = NULL;
  g_autoptr(GraftFashionMnist) test = NULL;
  g_autoptr(GArray) first_five = NULL;
  const guint classes[] = { 0, 1, 2, 3, 4 };
  guint counts[GRAFT_FASHION_MNIST_N_CLASSES];

  (void) data;
  /* NULL reads $GRAFT_FASHION_MNIST_DIR. */
  train = graft_fashion_mnist_load (NULL, GRAFT_FASHION_MNIST_TRAIN, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (train->split, ==, GRAFT_FASHION_MNIST_TRAIN);
  g_assert_cmpuint (train->count, ==, 10 * TRAIN_PER_CLASS);
  g_assert_cmpuint (train->rows, ==, ROWS);
  g_assert_cmpuint (train->cols, ==, COLS);
  for (guint i = 0; i < train->count; i++)
    {
      const guint8 *image = graft_fashion_mnist_get_image (train, i);

      g_assert_cmpuint (train->labels[i], ==, i % 10);
      for (guint p = 0; p < ROWS * COLS; p++)
        g_assert_cmpuint (image[p], ==, pixel (i, p));
    }

  test = graft_fashion_mnist_load (fx->source, GRAFT_FASHION_MNIST_TEST, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (test->split, ==, GRAFT_FASHION_MNIST_TEST);
  g_assert_cmpuint (test->count, ==, 10 * TEST_PER_CLASS);
  g_assert_cmpmem (graft_fashion_mnist_get_image (test, 7), ROWS * COLS,
                   graft_fashion_mnist_get_image (train, 7), ROWS * COLS);

  /* Classes 0–4, the source domain of the demo task, in ascending order. */
  first_five = graft_fashion_mnist_select (test, classes, G_N_ELEMENTS (classes));
  g_assert_cmpuint (first_five->len, ==, 5 * TEST_PER_CLASS);
  for (guint i = 0; i < first_five->len; i++)
    {
      guint index = g_array_index (first_five, guint, i);

      g_assert_cmpuint (test->labels[index], <, 5);
      if (i > 0)
        g_assert_cmpuint (index, >, g_array_index (first_five, guint, i - 1));
    }

  graft_fashion_mnist_count_classes (train, counts);
  for (guint c = 0; c < GRAFT_FASHION_MNIST_N_CLASSES; c++)
    g_assert_cmpuint (counts[c], ==, TRAIN_PER_CLASS);

  g_assert_cmpstr (graft_fashion_mnist_class_name (0), ==, "T-shirt/top");
  g_assert_cmpstr (graft_fashion_mnist_class_name (9), ==, "Ankle boot");
  g_assert_null (graft_fashion_mnist_class_name (10));
  g_assert_cmpstr (graft_fashion_mnist_split_to_string (GRAFT_FASHION_MNIST_TEST), ==, "test");
  g_assert_cmpstr (graft_demo_dataset_class_name (0), ==, "Sandal");
  g_assert_cmpstr (graft_demo_dataset_class_name (4), ==, "Ankle boot");
  g_assert_null (graft_demo_dataset_class_name (5));
}

/* The files as they come from Zalando's site, not gzip'd, read the same. */
static void
test_uncompressed (Fixture       *fx,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) test = NULL;
  g_autoptr(GByteArray) images = make_images (12);
  g_autoptr(GByteArray) labels = make_labels (12);

  (void) data;
  for (guint l = 0; l < 2; l++)
    {
      g_autofree char *gz = graft_fashion_mnist_get_path (fx->source, GRAFT_FASHION_MNIST_TEST, l);
      g_autofree char *plain = g_strndup (gz, strlen (gz) - 3);
      GByteArray *bytes = l ? labels : images;

      g_assert_cmpint (g_unlink (gz), ==, 0);
      g_assert_true (g_file_set_contents (plain, (const char *) bytes->data, bytes->len, &error));
      g_assert_no_error (error);
    }

  test = graft_fashion_mnist_load (fx->source, GRAFT_FASHION_MNIST_TEST, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test->count, ==, 12);
  g_assert_cmpuint (graft_fashion_mnist_get_image (test, 11)[4], ==, pixel (11, 4));
}

static void
test_truncated (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GByteArray) images = make_images (10 * TEST_PER_CLASS);
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autoptr(GError) error = NULL;
  gsize len;

  (void) data;
  /* The IDX data ends two images early inside an intact gzip stream. */
  g_byte_array_set_size (images, images->len - 2 * ROWS * COLS);
  path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);

  /* The gzip stream itself is cut off, as by an interrupted download. */
  g_byte_array_set_size (images, 0);
  g_clear_pointer (&images, g_byte_array_unref);
  images = make_images (10 * TEST_PER_CLASS);
  g_free (write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images));
  g_assert_true (g_file_get_contents (path, &contents, &len, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (path, contents, (gssize) (len / 2), &error));
  g_assert_no_error (error);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);

  /* Only part of the header. */
  g_byte_array_set_size (images, 10);
  g_free (write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images));
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);
}

/* More bytes than the header declares means the header is wrong. */
static void
test_trailing_data (Fixture       *fx,
                    gconstpointer  data)
{
  g_autoptr(GByteArray) labels = make_labels (10 * TEST_PER_CLASS);
  g_autofree char *path = NULL;
  const guint8 extra = 3;

  (void) data;
  g_byte_array_append (labels, &extra, 1);
  path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, TRUE, labels);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);
}

static void
test_wrong_magic (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GByteArray) images = make_images (10 * TEST_PER_CLASS);
  g_autoptr(GByteArray) labels = make_labels (10 * TEST_PER_CLASS);
  g_autofree char *images_path = NULL;
  g_autofree char *labels_path = NULL;

  (void) data;
  /* A labels file where the images belong. */
  labels_path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, TRUE, labels);
  images_path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, labels);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, images_path);

  /* Images as labels. */
  g_free (write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images));
  g_free (write_source_file (fx, GRAFT_FASHION_MNIST_TEST, TRUE, images));
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, labels_path);
}

static void
test_count_mismatch (Fixture       *fx,
                     gconstpointer  data)
{
  g_autoptr(GByteArray) labels = make_labels (10 * TEST_PER_CLASS - 1);
  g_autofree char *path = NULL;

  (void) data;
  path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, TRUE, labels);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);
}

static void
test_bad_label (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GByteArray) labels = make_labels (10 * TEST_PER_CLASS);
  g_autofree char *path = NULL;

  (void) data;
  labels->data[8 + 17] = 10;
  path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, TRUE, labels);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);
}

/* A header that claims billions of images is refused before anything is allocated. */
static void
test_huge_header (Fixture       *fx,
                  gconstpointer  data)
{
  g_autoptr(GByteArray) images = make_images (1);
  g_autofree char *path = NULL;
  guint32 huge = GUINT32_TO_BE (0x80000000u);

  (void) data;
  memcpy (images->data + 4, &huge, 4);
  path = write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);

  /* Zero rows. */
  g_clear_pointer (&images, g_byte_array_unref);
  images = make_images (1);
  memset (images->data + 8, 0, 4);
  g_free (write_source_file (fx, GRAFT_FASHION_MNIST_TEST, FALSE, images));
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TEST, GRAFT_DATA_ERROR_CORRUPT, path);
}

static void
test_missing (Fixture       *fx,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) train = NULL;
  g_autofree char *nowhere = g_build_filename (fx->dir, "nowhere", NULL);
  g_autofree char *path = graft_fashion_mnist_get_path (fx->source, GRAFT_FASHION_MNIST_TRAIN, TRUE);

  (void) data;
  train = graft_fashion_mnist_load (nowhere, GRAFT_FASHION_MNIST_TRAIN, NULL, &error);
  g_assert_null (train);
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, nowhere));
  g_assert_nonnull (strstr (error->message, "dataset-fashion-mnist"));

  /* The folder is there but one file is not. */
  g_assert_cmpint (g_unlink (path), ==, 0);
  assert_load_fails (fx, GRAFT_FASHION_MNIST_TRAIN, GRAFT_DATA_ERROR_NOT_FOUND, path);
}

static void
test_cancelled (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) train = NULL;

  (void) data;
  g_cancellable_cancel (cancellable);
  train = graft_fashion_mnist_load (fx->source, GRAFT_FASHION_MNIST_TRAIN, cancellable, &error);
  g_assert_null (train);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
}

/* ---- PNG ---------------------------------------------------------------------------- */

/* Reads a PNG with libpng as it is stored: no conversion of bit depth or colour type. */
static guint8 *
read_png (const char *path,
          guint      *width,
          guint      *height,
          int        *bit_depth,
          int        *color_type,
          gsize      *row_bytes)
{
  FILE *file = fopen (path, "rb");
  png_structp png;
  png_infop info;
  guint8 *pixels;

  g_assert_nonnull (file);
  png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  g_assert_nonnull (png);
  info = png_create_info_struct (png);
  g_assert_nonnull (info);
  if (setjmp (png_jmpbuf (png)))
    g_error ("libpng could not read %s", path);

  png_init_io (png, file);
  png_read_info (png, info);
  *width = png_get_image_width (png, info);
  *height = png_get_image_height (png, info);
  *bit_depth = png_get_bit_depth (png, info);
  *color_type = png_get_color_type (png, info);
  *row_bytes = png_get_rowbytes (png, info);
  g_assert_cmpint (png_get_interlace_type (png, info), ==, PNG_INTERLACE_NONE);
  pixels = g_malloc (*row_bytes * *height);
  for (guint y = 0; y < *height; y++)
    png_read_row (png, pixels + y * *row_bytes, NULL);
  png_read_end (png, NULL);
  png_destroy_read_struct (&png, &info, NULL);
  fclose (file);
  return pixels;
}

static guint
count_entries (const char *path)
{
  g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
  guint n = 0;

  g_assert_nonnull (dir);
  while (g_dir_read_name (dir) != NULL)
    n++;
  return n;
}

static void
test_png_round_trip (Fixture       *fx,
                     gconstpointer  data)
{
  const struct { guint channels; int color_type; } cases[] = {
    { 1, PNG_COLOR_TYPE_GRAY },
    { 2, PNG_COLOR_TYPE_GRAY_ALPHA },
    { 3, PNG_COLOR_TYPE_RGB },
    { 4, PNG_COLOR_TYPE_RGB_ALPHA },
  };
  g_autofree char *folder = g_build_filename (fx->dir, "png", NULL);

  (void) data;
  g_assert_cmpint (g_mkdir (folder, 0755), ==, 0);
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    {
      const guint width = 7, height = 4, channels = cases[k].channels;
      const gsize stride = width * channels + 5;  /* rows padded, as in a larger buffer */
      g_autofree guint8 *pixels = g_malloc (stride * height);
      g_autofree guint8 *back = NULL;
      g_autofree char *name = g_strdup_printf ("image-%u.png", channels);
      g_autofree char *path = g_build_filename (folder, name, NULL);
      g_autoptr(GError) error = NULL;
      guint w, h;
      int bit_depth, color_type;
      gsize row_bytes;

      for (gsize i = 0; i < stride * height; i++)
        pixels[i] = (guint8) (i * 29 + k);
      /* Twice: the second replaces the first. */
      for (guint round = 0; round < 2; round++)
        {
          pixels[0] = (guint8) round;
          g_assert_true (graft_image_write_png (path, width, height, channels, stride, pixels, &error));
          g_assert_no_error (error);
        }

      back = read_png (path, &w, &h, &bit_depth, &color_type, &row_bytes);
      g_assert_cmpuint (w, ==, width);
      g_assert_cmpuint (h, ==, height);
      g_assert_cmpint (bit_depth, ==, 8);
      g_assert_cmpint (color_type, ==, cases[k].color_type);
      g_assert_cmpuint (row_bytes, ==, width * channels);
      for (guint y = 0; y < height; y++)
        g_assert_cmpmem (back + y * row_bytes, width * channels, pixels + y * stride, width * channels);
    }
  /* Nothing but the four images: no temporary file was left behind. */
  g_assert_cmpuint (count_entries (folder), ==, G_N_ELEMENTS (cases));
}

static void
test_png_write_error (Fixture       *fx,
                      gconstpointer  data)
{
  g_autofree char *path = g_build_filename (fx->dir, "no-such-folder", "image.png", NULL);
  g_autoptr(GError) error = NULL;
  const guint8 pixels[4] = { 0, 64, 128, 255 };

  (void) data;
  g_assert_false (graft_image_write_png (path, 2, 2, 1, 2, pixels, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE);
  g_assert_nonnull (strstr (error->message, path));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  /* libpng refuses an image wider than its limit of a million pixels: an error (through
   * its longjmp), no file. */
  {
    const guint width = 1000001;
    g_autofree guint8 *wide = g_malloc0 (width);
    g_autofree char *wide_path = g_build_filename (fx->dir, "wide.png", NULL);

    g_assert_false (graft_image_write_png (wide_path, width, 1, 1, width, wide, &error));
    g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, wide_path));
    g_assert_false (g_file_test (wide_path, G_FILE_TEST_EXISTS));
  }
}

/* ---- the demo dataset --------------------------------------------------------------- */

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* The sorted file names in DIR/SPLIT/CLASS. */
static GPtrArray *
list_class (const char *dir,
            const char *split,
            guint       c)
{
  g_autofree char *folder = g_build_filename (dir, split, graft_demo_dataset_class_name (c), NULL);
  g_autoptr(GDir) d = g_dir_open (folder, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

/* Every file name of a demo dataset, sorted, as one string. */
static char *
list_dataset (const char *dir)
{
  GString *all = g_string_new (NULL);

  for (guint s = 0; s < 2; s++)
    for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
      {
        const char *split = s == 0 ? "train" : "test";
        g_autoptr(GPtrArray) names = list_class (dir, split, c);

        for (guint i = 0; i < names->len; i++)
          g_string_append_printf (all, "%s/%u/%s\n", split, c, (char *) g_ptr_array_index (names, i));
      }
  return g_string_free (all, FALSE);
}

/* No hidden folder of an unfinished run is left in @dir. */
static void
assert_no_leftovers (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    if (name[0] == '.')
      g_error ("%s holds %s after a run", dir, name);
}

static void
write_demo (const char *dir,
            guint       per_class,
            guint64     seed)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_demo_dataset_write (dir, per_class, seed, NULL, NULL, NULL, &error));
  g_assert_no_error (error);
  assert_no_leftovers (dir);
}

static void
assert_counts (const char *dir,
               guint       train,
               guint       test)
{
  g_autoptr(GError) error = NULL;
  GraftDemoDatasetCounts counts;

  g_assert_true (graft_demo_dataset_count (dir, &counts, &error));
  g_assert_no_error (error);
  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      g_autoptr(GPtrArray) train_names = list_class (dir, "train", c);
      g_autoptr(GPtrArray) test_names = list_class (dir, "test", c);

      g_assert_cmpuint (counts.train[c], ==, train);
      g_assert_cmpuint (counts.test[c], ==, test);
      g_assert_cmpuint (train_names->len, ==, train);
      g_assert_cmpuint (test_names->len, ==, test);
    }
}

typedef struct {
  guint done;
  guint total;
  guint calls;
} ProgressLog;

static void
on_progress (guint    done,
             guint    total,
             gpointer user_data)
{
  ProgressLog *log = user_data;

  g_assert_cmpuint (done, ==, log->done + 1);
  log->done = done;
  log->total = total;
  log->calls++;
}

/* Each file holds the source image its name gives, of the class its folder names. */
static void
test_demo_contents (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "new", "demo", NULL);
  g_autofree char *marker = g_build_filename (dir, GRAFT_DEMO_DATASET_MARKER, NULL);
  g_autoptr(GError) error = NULL;
  ProgressLog log = { 0 };

  (void) data;
  /* A folder that does not exist yet, two levels deep. */
  g_assert_true (graft_demo_dataset_write (dir, 5, 0, on_progress, &log, NULL, &error));
  g_assert_no_error (error);
  assert_no_leftovers (dir);
  assert_counts (dir, 5, TEST_PER_CLASS);
  g_assert_true (g_file_test (marker, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (log.calls, ==, 5 * 5 + 5 * TEST_PER_CLASS);
  g_assert_cmpuint (log.total, ==, log.calls);

  for (guint s = 0; s < 2; s++)
    for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
      {
        const char *split = s == 0 ? "train" : "test";
        g_autoptr(GPtrArray) names = list_class (dir, split, c);

        for (guint i = 0; i < names->len; i++)
          {
            const char *name = g_ptr_array_index (names, i);
            g_autofree char *prefix = g_strconcat (split, "-", NULL);
            g_autofree char *path = g_build_filename (dir, split, graft_demo_dataset_class_name (c), name, NULL);
            g_autofree guint8 *pixels = NULL;
            guint index, w, h;
            int bit_depth, color_type;
            gsize row_bytes;

            g_assert_true (g_str_has_prefix (name, prefix));
            g_assert_true (g_str_has_suffix (name, ".png"));
            g_assert_cmpuint (strlen (name), ==, strlen (prefix) + (s == 0 ? 6 : 5) + 4);
            index = (guint) g_ascii_strtoull (name + strlen (prefix), NULL, 10);
            g_assert_cmpuint (index % 10, ==, GRAFT_DEMO_DATASET_FIRST_LABEL + c);

            pixels = read_png (path, &w, &h, &bit_depth, &color_type, &row_bytes);
            g_assert_cmpuint (w, ==, COLS);
            g_assert_cmpuint (h, ==, ROWS);
            g_assert_cmpint (bit_depth, ==, 8);
            g_assert_cmpint (color_type, ==, PNG_COLOR_TYPE_GRAY);
            for (guint p = 0; p < ROWS * COLS; p++)
              g_assert_cmpuint (pixels[p], ==, pixel (index, p));
          }
      }
}

static void
test_demo_seed (Fixture       *fx,
                gconstpointer  data)
{
  g_autofree char *a = g_build_filename (fx->dir, "a", NULL);
  g_autofree char *b = g_build_filename (fx->dir, "b", NULL);
  g_autofree char *c = g_build_filename (fx->dir, "c", NULL);
  g_autofree char *d = g_build_filename (fx->dir, "d", NULL);
  g_autofree char *list_a = NULL, *list_b = NULL, *list_c = NULL;
  g_autofree char *file_a = NULL, *file_b = NULL;
  g_autofree char *bytes_a = NULL, *bytes_b = NULL;
  gsize len_a, len_b;

  (void) data;
  write_demo (a, 4, 0);
  write_demo (b, 4, 0);
  write_demo (c, 4, 1);
  write_demo (d, 6, 0);
  list_a = list_dataset (a);
  list_b = list_dataset (b);
  list_c = list_dataset (c);
  g_assert_cmpstr (list_a, ==, list_b);
  g_assert_cmpstr (list_a, !=, list_c);

  /* The same bytes, too. */
  {
    g_autoptr(GPtrArray) names = list_class (a, "train", 2);

    file_a = g_build_filename (a, "train", graft_demo_dataset_class_name (2), g_ptr_array_index (names, 0), NULL);
    file_b = g_build_filename (b, "train", graft_demo_dataset_class_name (2), g_ptr_array_index (names, 0), NULL);
    g_assert_true (g_file_get_contents (file_a, &bytes_a, &len_a, NULL));
    g_assert_true (g_file_get_contents (file_b, &bytes_b, &len_b, NULL));
    g_assert_cmpmem (bytes_a, len_a, bytes_b, len_b);
  }

  /* Six per class draws the four of seed 0 and two more. */
  for (guint k = 0; k < GRAFT_DEMO_DATASET_N_CLASSES; k++)
    {
      g_autoptr(GPtrArray) four = list_class (a, "train", k);
      g_autoptr(GPtrArray) six = list_class (d, "train", k);

      for (guint i = 0; i < four->len; i++)
        g_assert_true (g_ptr_array_find_with_equal_func (six, g_ptr_array_index (four, i), g_str_equal, NULL));
    }
}

/* A smaller dataset written over a larger one leaves none of the larger one's files. */
static void
test_demo_rewrite (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "demo", NULL);
  g_autofree char *own = g_build_filename (dir, "notes.txt", NULL);
  g_autofree char *interrupted = g_build_filename (dir, ".graft-demo-new-a1b2c3", "train", NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  /* What an interrupted first run left is cleared, not taken for a stranger's files. */
  g_assert_cmpint (g_mkdir_with_parents (interrupted, 0755), ==, 0);
  write_demo (dir, 7, 0);
  assert_counts (dir, 7, TEST_PER_CLASS);
  /* A file of the user's next to the dataset stays. */
  g_assert_true (g_file_set_contents (own, "mine", -1, &error));
  g_assert_no_error (error);

  write_demo (dir, 3, 5);
  assert_counts (dir, 3, TEST_PER_CLASS);
  g_assert_true (g_file_test (own, G_FILE_TEST_IS_REGULAR));
  write_demo (dir, TRAIN_PER_CLASS, 0);
  assert_counts (dir, TRAIN_PER_CLASS, TEST_PER_CLASS);
}

static void
test_demo_foreign (Fixture       *fx,
                   gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "photos", NULL);
  g_autofree char *own = g_build_filename (dir, "holiday.png", NULL);
  g_autofree char *train = g_build_filename (dir, "train", NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (own, "not a demo", -1, &error));
  g_assert_no_error (error);
  g_assert_false (graft_demo_dataset_write (dir, 2, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, dir));
  g_assert_cmpuint (count_entries (dir), ==, 1);
  g_clear_error (&error);

  /* A dataset of the user's own in the same layout is not one to replace either. */
  g_assert_cmpint (g_unlink (own), ==, 0);
  g_assert_cmpint (g_mkdir (train, 0755), ==, 0);
  g_assert_false (graft_demo_dataset_write (dir, 2, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY);
  g_assert_cmpuint (count_entries (dir), ==, 1);

  /* That is not the source's path: the error names the target. */
  g_assert_null (strstr (error->message, fx->source));
  g_clear_error (&error);

  /* Nor is a file. */
  g_assert_true (g_file_set_contents (own, "not a demo", -1, NULL));
  g_assert_false (graft_demo_dataset_write (own, 2, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY);
  g_assert_true (g_file_test (own, G_FILE_TEST_IS_REGULAR));
}

static void
test_demo_too_many (Fixture       *fx,
                    gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "demo", NULL);
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *maximum = g_strdup_printf ("maximum is %u", TRAIN_PER_CLASS);

  (void) data;
  write_demo (dir, 2, 0);
  before = list_dataset (dir);
  g_assert_false (graft_demo_dataset_write (dir, TRAIN_PER_CLASS + 1, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_MANY);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, maximum));
  /* The dataset already there is untouched. */
  after = list_dataset (dir);
  g_assert_cmpstr (before, ==, after);
  assert_no_leftovers (dir);
}

static void
cancel_after_three (guint    done,
                    guint    total,
                    gpointer user_data)
{
  (void) total;
  if (done == 3)
    g_cancellable_cancel (user_data);
}

/* Stopping halfway keeps the previous dataset whole and leaves nothing behind. */
static void
test_demo_cancel (Fixture       *fx,
                  gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "demo", NULL);
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;

  (void) data;
  write_demo (dir, 2, 0);
  before = list_dataset (dir);
  g_assert_false (graft_demo_dataset_write (dir, 6, 0, cancel_after_three, cancellable,
                                            cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  after = list_dataset (dir);
  g_assert_cmpstr (before, ==, after);
  assert_no_leftovers (dir);
}

static void
test_demo_missing_source (Fixture       *fx,
                          gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "demo", NULL);
  g_autofree char *nowhere = g_build_filename (fx->dir, "nowhere", NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  g_setenv ("GRAFT_FASHION_MNIST_DIR", nowhere, TRUE);
  g_assert_false (graft_demo_dataset_write (dir, 2, 0, NULL, NULL, NULL, &error));
  g_assert_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "dataset-fashion-mnist"));
  g_assert_nonnull (strstr (error->message, nowhere));
  /* Nothing was created for a dataset that could not be read. */
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
}

/* ---- graft-cli demo-dataset --------------------------------------------------------- */

/* Runs graft-cli with @args; returns its exit status and what it printed. */
static int
run_cli (const char * const  *args,
         gboolean             real_source,
         char               **out,
         char               **err)
{
  const char *cli = g_getenv ("GRAFT_CLI");
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  g_autoptr(GError) error = NULL;
  int status = 0;

  g_assert_nonnull (cli);
  g_ptr_array_add (argv, (gpointer) cli);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  if (real_source)
    envp = g_environ_unsetenv (envp, "GRAFT_FASHION_MNIST_DIR");

  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                               out, err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("graft-cli %s: %s%s", args[0], *out, *err);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

/* Exit codes scripts can rely on: 2 for a wrong command line, 1 for a refused folder. */
static void
test_cli_errors (Fixture       *fx,
                 gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "photos", NULL);
  g_autofree char *own = g_build_filename (dir, "holiday.png", NULL);
  g_autoptr(GError) error = NULL;

  (void) data;
  if (g_getenv ("GRAFT_CLI") == NULL)
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }
  g_assert_cmpint (g_mkdir (dir, 0755), ==, 0);
  g_assert_true (g_file_set_contents (own, "not a demo", -1, &error));
  g_assert_no_error (error);

  {
    const char *args[] = { "demo-dataset", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint (run_cli (args, FALSE, &out, &err), ==, 2);
  }
  {
    const char *args[] = { "demo-dataset", dir, "--per-class", "0", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint (run_cli (args, FALSE, &out, &err), ==, 2);
  }
  {
    const char *args[] = { "demo-dataset", dir, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint (run_cli (args, FALSE, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, dir));
  }
  {
    g_autofree char *demo = g_build_filename (fx->dir, "demo", NULL);
    const char *args[] = { "demo-dataset", demo, "--per-class", "3", "--seed", "2", NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_assert_cmpint (run_cli (args, FALSE, &out, &err), ==, 0);
    assert_counts (demo, 3, TEST_PER_CLASS);
  }
}

/* The PNG files below DIR/SPLIT, and how many class folders hold them. */
static guint
count_split (const char *dir,
             const char *split,
             guint      *n_folders)
{
  g_autofree char *path = g_build_filename (dir, split, NULL);
  g_autoptr(GDir) d = g_dir_open (path, 0, NULL);
  const char *name;
  guint n = 0;

  g_assert_nonnull (d);
  *n_folders = 0;
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *folder = g_build_filename (path, name, NULL);
      g_autoptr(GDir) class_dir = g_dir_open (folder, 0, NULL);
      const char *file;

      g_assert_nonnull (class_dir);
      (*n_folders)++;
      while ((file = g_dir_read_name (class_dir)) != NULL)
        {
          g_assert_true (g_str_has_suffix (file, ".png"));
          n++;
        }
    }
  return n;
}

static void
test_real_data (Fixture       *fx,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftFashionMnist) train = NULL;
  g_autoptr(GraftFashionMnist) test = NULL;
  guint counts[GRAFT_FASHION_MNIST_N_CLASSES];

  (void) fx;
  (void) data;
  if (!g_file_test (GRAFT_FASHION_MNIST_SYSTEM_DIR, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("dataset-fashion-mnist is not installed");
      return;
    }

  train = graft_fashion_mnist_load (GRAFT_FASHION_MNIST_SYSTEM_DIR, GRAFT_FASHION_MNIST_TRAIN, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (train->count, ==, 60000);
  g_assert_cmpuint (train->rows, ==, 28);
  g_assert_cmpuint (train->cols, ==, 28);
  graft_fashion_mnist_count_classes (train, counts);
  for (guint c = 0; c < GRAFT_FASHION_MNIST_N_CLASSES; c++)
    g_assert_cmpuint (counts[c], ==, 6000);

  test = graft_fashion_mnist_load (GRAFT_FASHION_MNIST_SYSTEM_DIR, GRAFT_FASHION_MNIST_TEST, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (test->count, ==, 10000);
  graft_fashion_mnist_count_classes (test, counts);
  for (guint c = 0; c < GRAFT_FASHION_MNIST_N_CLASSES; c++)
    g_assert_cmpuint (counts[c], ==, 1000);
}

static void
test_cli_real (Fixture       *fx,
               gconstpointer  data)
{
  g_autofree char *dir = g_build_filename (fx->dir, "fashion-demo", NULL);
  g_autoptr(GTimer) timer = NULL;
  guint folders;

  (void) data;
  if (!g_file_test (GRAFT_FASHION_MNIST_SYSTEM_DIR, G_FILE_TEST_IS_DIR))
    {
      g_test_skip ("dataset-fashion-mnist is not installed");
      return;
    }
  if (g_getenv ("GRAFT_CLI") == NULL)
    {
      g_test_skip ("GRAFT_CLI does not name graft-cli");
      return;
    }

  {
    const char *args[] = { "demo-dataset", dir, NULL };
    g_autofree char *out = NULL, *err = NULL;

    timer = g_timer_new ();
    g_assert_cmpint (run_cli (args, TRUE, &out, &err), ==, 0);
    g_test_message ("demo-dataset with 20 per class: %.1f s", g_timer_elapsed (timer, NULL));
    g_assert_nonnull (strstr (out, "Ankle boot"));
  }
  g_assert_cmpuint (count_split (dir, "train", &folders), ==, 100);
  g_assert_cmpuint (folders, ==, 5);
  g_assert_cmpuint (count_split (dir, "test", &folders), ==, 5000);
  g_assert_cmpuint (folders, ==, 5);

  {
    const char *args[] = { "demo-dataset", dir, "--per-class", "50", "--json", NULL };
    g_autofree char *out = NULL, *err = NULL;
    json_object *root, *classes, *value;

    g_timer_start (timer);
    g_assert_cmpint (run_cli (args, TRUE, &out, &err), ==, 0);
    g_test_message ("demo-dataset with 50 per class: %.1f s", g_timer_elapsed (timer, NULL));
    root = json_tokener_parse (out);
    g_assert_nonnull (root);
    g_assert_true (json_object_object_get_ex (root, "train", &value));
    g_assert_cmpint (json_object_get_int (value), ==, 250);
    g_assert_true (json_object_object_get_ex (root, "test", &value));
    g_assert_cmpint (json_object_get_int (value), ==, 5000);
    g_assert_true (json_object_object_get_ex (root, "classes", &classes));
    g_assert_cmpuint (json_object_array_length (classes), ==, 5);
    for (guint c = 0; c < 5; c++)
      {
        json_object *entry = json_object_array_get_idx (classes, c);

        g_assert_true (json_object_object_get_ex (entry, "name", &value));
        g_assert_cmpstr (json_object_get_string (value), ==, graft_demo_dataset_class_name (c));
        g_assert_true (json_object_object_get_ex (entry, "train", &value));
        g_assert_cmpint (json_object_get_int (value), ==, 50);
        g_assert_true (json_object_object_get_ex (entry, "test", &value));
        g_assert_cmpint (json_object_get_int (value), ==, 1000);
      }
    json_object_put (root);
  }
  g_assert_cmpuint (count_split (dir, "train", &folders), ==, 250);
  g_assert_cmpuint (folders, ==, 5);
  g_assert_cmpuint (count_split (dir, "test", &folders), ==, 5000);

  {
    const char *args[] = { "demo-dataset", dir, "--per-class", "6001", NULL };
    g_autofree char *out = NULL, *err = NULL;

    g_assert_cmpint (run_cli (args, TRUE, &out, &err), ==, 1);
    g_assert_nonnull (strstr (err, "maximum is 6000"));
  }
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add (path, Fixture, NULL, fixture_setup, func, fixture_teardown)
  ADD ("/data/fashion-mnist/parse", test_parse);
  ADD ("/data/fashion-mnist/uncompressed", test_uncompressed);
  ADD ("/data/fashion-mnist/truncated", test_truncated);
  ADD ("/data/fashion-mnist/trailing-data", test_trailing_data);
  ADD ("/data/fashion-mnist/wrong-magic", test_wrong_magic);
  ADD ("/data/fashion-mnist/count-mismatch", test_count_mismatch);
  ADD ("/data/fashion-mnist/bad-label", test_bad_label);
  ADD ("/data/fashion-mnist/huge-header", test_huge_header);
  ADD ("/data/fashion-mnist/missing", test_missing);
  ADD ("/data/fashion-mnist/cancelled", test_cancelled);
  ADD ("/data/png/round-trip", test_png_round_trip);
  ADD ("/data/png/write-error", test_png_write_error);
  ADD ("/data/demo/contents", test_demo_contents);
  ADD ("/data/demo/seed", test_demo_seed);
  ADD ("/data/demo/rewrite", test_demo_rewrite);
  ADD ("/data/demo/foreign", test_demo_foreign);
  ADD ("/data/demo/too-many", test_demo_too_many);
  ADD ("/data/demo/cancel", test_demo_cancel);
  ADD ("/data/demo/missing-source", test_demo_missing_source);
  ADD ("/data/cli/errors", test_cli_errors);
  ADD ("/data/real/fashion-mnist", test_real_data);
  ADD ("/data/real/cli-demo-dataset", test_cli_real);
#undef ADD

  return g_test_run ();
}
