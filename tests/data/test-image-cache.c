/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The preprocessing cache: a second fill decodes nothing; a touched or rewritten file is
 * decoded again and a new one added, nothing else; a damaged index or data file is
 * rebuilt rather than trusted; an unreadable image is reported by name without
 * stopping the rest; large images are kept whole, shrunk to the margin above the input
 * size; a crash between appending pixels and writing the index loses nothing that was
 * committed. */

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graft.h"
#include "graft-test-util.h"

#define N_IMAGES 12

typedef struct {
  char         *dir;
  char         *images;
  char         *cache_dir;
  GraftDataset *dataset;
} Fixture;

static guint8
value_of (guint image,
          guint x,
          guint y,
          guint c)
{
  return (guint8) (image * 19 + x * 3 + y * 5 + c * 70);
}

static char *
write_image (const char *folder,
             guint       index,
             guint       width,
             guint       height)
{
  g_autoptr(GError) error = NULL;
  g_autofree guint8 *pixels = g_new (guint8, (gsize) width * height * 3);
  g_autofree char *name = g_strdup_printf ("img-%03u.png", index);
  char *path = g_build_filename (folder, name, NULL);

  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < 3; c++)
        pixels[(y * width + x) * 3 + c] = value_of (index, x, y, c);
  g_assert_true (graft_image_write_png (path, width, height, 3, width * 3, pixels, &error));
  g_assert_no_error (error);
  return path;
}

static void
add_sample (GraftDataset *dataset,
            const char   *path)
{
  graft_dataset_add_sample (dataset, g_strdup (path), g_path_get_basename (path), 0);
}

static void
fixture_set_up (Fixture       *fixture,
                G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  fixture->dir = g_dir_make_tmp ("graft-cache-XXXXXX", &error);
  g_assert_no_error (error);
  fixture->images = g_build_filename (fixture->dir, "images", NULL);
  fixture->cache_dir = g_build_filename (fixture->dir, "cache", NULL);
  g_mkdir (fixture->images, 0755);
  fixture->dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER,
                                        fixture->images);
  graft_dataset_add_class (fixture->dataset, "only");
  for (guint i = 0; i < N_IMAGES; i++)
    {
      g_autofree char *path = write_image (fixture->images, i, 20 + i, 14);
      add_sample (fixture->dataset, path);
    }
}

static void
fixture_tear_down (Fixture       *fixture,
                   G_GNUC_UNUSED gconstpointer data)
{
  graft_dataset_free (fixture->dataset);
  graft_test_remove_tree (fixture->dir);
  g_free (fixture->dir);
  g_free (fixture->images);
  g_free (fixture->cache_dir);
}

static GraftImageCache *
open_cache (Fixture *fixture,
            guint    size)
{
  g_autoptr(GError) error = NULL;
  GraftImageCache *cache = graft_image_cache_open (fixture->cache_dir, fixture->images, size, 3, &error);

  g_assert_no_error (error);
  g_assert_nonnull (cache);
  return cache;
}

static void
fill (GraftImageCache           *cache,
      GraftDataset              *dataset,
      GraftImageCacheFillResult *result)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (graft_image_cache_fill (cache, dataset->samples, 2, NULL, NULL, NULL, result, &error));
  g_assert_no_error (error);
}

static const char *
sample_path (Fixture *fixture,
             guint    i)
{
  return ((GraftSample *) g_ptr_array_index (fixture->dataset->samples, i))->path;
}

/* The cached pixels of image @i are those written (small images are stored as they
 * are). */
static void
assert_pixels (GraftImageCache *cache,
               const char      *path,
               guint            image,
               guint            width,
               guint            height)
{
  GraftCachedImage cached;

  g_assert_true (graft_image_cache_lookup (cache, path, &cached, NULL));
  g_assert_cmpuint (cached.image.width, ==, width);
  g_assert_cmpuint (cached.image.height, ==, height);
  g_assert_cmpuint (cached.source_width, ==, width);
  g_assert_cmpuint (cached.image.channels, ==, 3);
  for (guint y = 0; y < height; y++)
    for (guint x = 0; x < width; x++)
      for (guint c = 0; c < 3; c++)
        g_assert_cmpuint (cached.image.pixels[y * cached.image.stride + x * 3 + c], ==,
                          value_of (image, x, y, c));
}

static void
set_mtime (const char *path,
           time_t      seconds)
{
  struct timespec times[2] = { { seconds, 0 }, { seconds, 0 } };

  g_assert_cmpint (utimensat (AT_FDCWD, path, times, 0), ==, 0);
}

static void
test_reuse (Fixture       *fixture,
            G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache = open_cache (fixture, 64);

  g_assert_false (graft_image_cache_was_rebuilt (cache));
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, N_IMAGES);
  g_assert_cmpuint (result.n_reused, ==, 0);
  g_assert_cmpuint (result.n_failed, ==, 0);
  g_assert_cmpuint (graft_image_cache_get_n_decoded (cache), ==, N_IMAGES);
  g_assert_true (g_str_has_prefix (graft_image_cache_get_dir (cache), fixture->cache_dir));
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);

  /* another process, another day: nothing decoded again, every pixel as written */
  cache = open_cache (fixture, 64);
  g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, N_IMAGES);
  for (guint i = 0; i < N_IMAGES; i++)
    assert_pixels (cache, sample_path (fixture, i), i, 20 + i, 14);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, 0);
  g_assert_cmpuint (result.n_reused, ==, N_IMAGES);
  g_assert_cmpuint (graft_image_cache_get_n_decoded (cache), ==, 0);
  for (guint i = 0; i < N_IMAGES; i++)
    assert_pixels (cache, sample_path (fixture, i), i, 20 + i, 14);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);

  /* another input size is another cache */
  cache = open_cache (fixture, 32);
  g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, 0);
  graft_image_cache_free (cache);
}

static void
test_changed_and_new (Fixture       *fixture,
                      G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache = open_cache (fixture, 64);
  g_autofree char *added = NULL;
  g_autofree char *rewritten = NULL;

  fill (cache, fixture->dataset, &result);
  graft_image_cache_fill_result_clear (&result);

  /* touched: the same bytes, another time — decoded again, alone */
  set_mtime (sample_path (fixture, 3), 1000000000);
  /* rewritten with other pixels and another size */
  rewritten = write_image (fixture->images, 100, 20 + 5, 14);
  g_assert_cmpint (g_rename (rewritten, sample_path (fixture, 5)), ==, 0);
  set_mtime (sample_path (fixture, 5), 1000000001);
  /* new */
  added = write_image (fixture->images, 50, 9, 30);
  add_sample (fixture->dataset, added);

  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, 3);
  g_assert_cmpuint (result.n_reused, ==, N_IMAGES - 2);
  g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, N_IMAGES + 1);
  assert_pixels (cache, sample_path (fixture, 3), 3, 20 + 3, 14);
  assert_pixels (cache, sample_path (fixture, 5), 100, 20 + 5, 14);
  assert_pixels (cache, added, 50, 9, 30);
  assert_pixels (cache, sample_path (fixture, 4), 4, 20 + 4, 14);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);

  /* and all of it stays: nothing more to do */
  cache = open_cache (fixture, 64);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, 0);
  assert_pixels (cache, sample_path (fixture, 5), 100, 20 + 5, 14);
  graft_image_cache_fill_result_clear (&result);

  /* a file removed from disk leaves the cache at the next fill */
  g_assert_cmpint (g_unlink (added), ==, 0);
  g_ptr_array_remove_index (fixture->dataset->samples, fixture->dataset->samples->len - 1);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_removed, ==, 1);
  g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, N_IMAGES);
  g_assert_false (graft_image_cache_lookup (cache, added, NULL, NULL));
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
}

static char *
index_path (GraftImageCache *cache)
{
  return g_build_filename (graft_image_cache_get_dir (cache), "index", NULL);
}

static void
flip_byte (const char *path,
           gsize       offset)
{
  g_autofree char *contents = NULL;
  gsize length;

  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpuint (offset, <, length);
  contents[offset] ^= 0x10;
  g_assert_true (g_file_set_contents (path, contents, length, NULL));
}

static void
test_damaged_index (Fixture       *fixture,
                    G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache = open_cache (fixture, 64);
  g_autofree char *index = index_path (cache);
  gsize length;
  g_autofree char *contents = NULL;

  fill (cache, fixture->dataset, &result);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
  g_assert_true (g_file_get_contents (index, &contents, &length, NULL));

  /* every kind of damage: a flipped bit in the header, in an entry, in a path; a
   * truncated index; an empty one; garbage */
  {
    const gsize offsets[] = { 9, 80, length - 20 };
    const gsize truncations[] = { 0, 10, length / 2, length - 1 };

    for (guint i = 0; i < G_N_ELEMENTS (offsets) + G_N_ELEMENTS (truncations); i++)
      {
        g_assert_true (g_file_set_contents (index, contents, length, NULL));
        if (i < G_N_ELEMENTS (offsets))
          flip_byte (index, offsets[i]);
        else
          g_assert_true (g_file_set_contents (index, contents,
                                              truncations[i - G_N_ELEMENTS (offsets)], NULL));

        g_test_expect_message ("graft-data", G_LOG_LEVEL_MESSAGE, "*damaged*rebuilt*");
        cache = open_cache (fixture, 64);
        g_test_assert_expected_messages ();
        g_assert_true (graft_image_cache_was_rebuilt (cache));
        g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, 0);
        fill (cache, fixture->dataset, &result);
        g_assert_cmpuint (result.n_decoded, ==, N_IMAGES);
        for (guint k = 0; k < N_IMAGES; k++)
          assert_pixels (cache, sample_path (fixture, k), k, 20 + k, 14);
        graft_image_cache_fill_result_clear (&result);
        graft_image_cache_free (cache);

        /* the rebuilt cache is trusted again */
        cache = open_cache (fixture, 64);
        g_assert_false (graft_image_cache_was_rebuilt (cache));
        g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, N_IMAGES);
        graft_image_cache_free (cache);
        g_free (contents);
        g_assert_true (g_file_get_contents (index, &contents, &length, NULL));
      }
  }
}

static char *
find_data_file (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  char *found = NULL;

  while ((name = g_dir_read_name (d)) != NULL)
    if (g_str_has_prefix (name, "data-"))
      {
        g_assert_null (found);   /* old generations are removed */
        found = g_build_filename (dir, name, NULL);
      }
  g_assert_nonnull (found);
  return found;
}

static void
test_damaged_data (Fixture       *fixture,
                   G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache = open_cache (fixture, 64);
  g_autofree char *data_file = NULL;
  g_autofree char *contents = NULL;
  gsize length;

  fill (cache, fixture->dataset, &result);
  graft_image_cache_fill_result_clear (&result);
  data_file = find_data_file (graft_image_cache_get_dir (cache));
  graft_image_cache_free (cache);

  /* a crash after pixels were appended but before the index was written: the tail is
   * not trusted, the rest is */
  g_assert_true (g_file_get_contents (data_file, &contents, &length, NULL));
  {
    g_autoptr(GString) longer = g_string_new_len (contents, (gssize) length);

    g_string_append (longer, "half of a record that was never indexed");
    g_assert_true (g_file_set_contents (data_file, longer->str, (gssize) longer->len, NULL));
  }
  cache = open_cache (fixture, 64);
  g_assert_false (graft_image_cache_was_rebuilt (cache));
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, 0);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
  {
    GStatBuf st;

    g_assert_cmpint (g_stat (data_file, &st), ==, 0);
    g_assert_cmpuint ((gsize) st.st_size, ==, length);
  }

  /* a data file cut short: rebuilt */
  g_assert_true (g_file_set_contents (data_file, contents, (gssize) length / 2, NULL));
  g_test_expect_message ("graft-data", G_LOG_LEVEL_MESSAGE, "*damaged*shorter*");
  cache = open_cache (fixture, 64);
  g_test_assert_expected_messages ();
  g_assert_true (graft_image_cache_was_rebuilt (cache));
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, N_IMAGES);
  for (guint k = 0; k < N_IMAGES; k++)
    assert_pixels (cache, sample_path (fixture, k), k, 20 + k, 14);
  graft_image_cache_fill_result_clear (&result);
  g_free (find_data_file (graft_image_cache_get_dir (cache)));
  graft_image_cache_free (cache);
}

static void
test_unreadable (Fixture       *fixture,
                 G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache;
  g_autofree char *broken = g_build_filename (fixture->images, "broken.png", NULL);
  g_autofree char *missing = g_build_filename (fixture->images, "missing.png", NULL);
  const char *failure = NULL;

  /* a PNG signature and nothing after it, and a file that is not there */
  g_assert_true (g_file_set_contents (broken, "\x89PNG\r\n\x1a\n", 8, NULL));
  add_sample (fixture->dataset, broken);
  add_sample (fixture->dataset, missing);

  cache = open_cache (fixture, 64);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_failed, ==, 2);
  g_assert_cmpuint (result.failures->len, ==, 2);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (result.failures, 0))->message, "broken.png"));
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (result.failures, 1))->message, "missing.png"));
  g_assert_true (g_error_matches (g_ptr_array_index (result.failures, 1), GRAFT_DATA_ERROR,
                                  GRAFT_DATA_ERROR_NOT_FOUND));
  /* the rest is there */
  for (guint k = 0; k < N_IMAGES; k++)
    assert_pixels (cache, sample_path (fixture, k), k, 20 + k, 14);
  g_assert_false (graft_image_cache_lookup (cache, broken, NULL, &failure));
  g_assert_nonnull (failure);
  g_assert_nonnull (strstr (failure, "broken.png"));
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);

  /* remembered: reported again, not read again */
  cache = open_cache (fixture, 64);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, 0);
  g_assert_cmpuint (result.n_failed, ==, 2);
  g_assert_nonnull (strstr (((GError *) g_ptr_array_index (result.failures, 0))->message, "broken.png"));
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
}

static void
test_geometry (Fixture       *fixture,
               G_GNUC_UNUSED gconstpointer data)
{
  GraftImageCacheFillResult result;
  GraftImageCache *cache;
  g_autofree char *wide = write_image (fixture->images, 60, 600, 300);
  g_autofree char *panorama = write_image (fixture->images, 61, 2000, 100);
  GraftCachedImage cached;

  g_assert_cmpuint (graft_image_cache_side_for (224), ==, 256);
  g_assert_cmpuint (graft_image_cache_side_for (64), ==, 74);
  add_sample (fixture->dataset, wide);
  add_sample (fixture->dataset, panorama);
  cache = open_cache (fixture, 64);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_failed, ==, 0);

  /* the shorter side brought down to 74, the aspect ratio kept */
  g_assert_true (graft_image_cache_lookup (cache, wide, &cached, NULL));
  g_assert_cmpuint (cached.image.height, ==, 74);
  g_assert_cmpuint (cached.image.width, ==, 148);
  g_assert_cmpuint (cached.source_width, ==, 600);
  g_assert_cmpuint (cached.source_height, ==, 300);
  /* the longer side within 4 × 74 */
  g_assert_true (graft_image_cache_lookup (cache, panorama, &cached, NULL));
  g_assert_cmpuint (cached.image.width, ==, 296);
  g_assert_cmpuint (cached.image.height, ==, 15);
  g_assert_cmpuint (cached.source_width, ==, 2000);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
}

static void
progress_cancel (guint    done,
                 G_GNUC_UNUSED guint total,
                 gpointer user_data)
{
  if (done >= 3)
    g_cancellable_cancel (user_data);
}

static void
test_cancel (Fixture       *fixture,
             G_GNUC_UNUSED gconstpointer data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  GraftImageCacheFillResult result;
  GraftImageCache *cache = open_cache (fixture, 64);
  guint kept;

  g_assert_false (graft_image_cache_fill (cache, fixture->dataset->samples, 1, progress_cancel,
                                          cancellable, cancellable, &result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  kept = result.n_decoded;
  g_assert_cmpuint (kept, <, N_IMAGES);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);

  /* what was decoded before the cancel is kept */
  cache = open_cache (fixture, 64);
  g_assert_cmpuint (graft_image_cache_get_n_entries (cache), ==, kept);
  fill (cache, fixture->dataset, &result);
  g_assert_cmpuint (result.n_decoded, ==, N_IMAGES - kept);
  graft_image_cache_fill_result_clear (&result);
  graft_image_cache_free (cache);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add (path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
  ADD ("/image-cache/reuse", test_reuse);
  ADD ("/image-cache/changed-and-new", test_changed_and_new);
  ADD ("/image-cache/damaged-index", test_damaged_index);
  ADD ("/image-cache/damaged-data", test_damaged_data);
  ADD ("/image-cache/unreadable", test_unreadable);
  ADD ("/image-cache/geometry", test_geometry);
  ADD ("/image-cache/cancel", test_cancel);
#undef ADD
  return g_test_run ();
}
