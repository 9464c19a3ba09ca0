/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* Which layout a folder or file holds, the dispatch to its importer, and the helpers the
 * importers share: label files read with a size limit, folders listed in a fixed order,
 * images told from other files by their first bytes, problems capped per file. */

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

#include "graft-dataset-private.h"

#define READ_CHUNK (1u << 20)
/* Files sniffed per folder before detection decides a folder holds no images. */
#define DETECT_MAX_FILES 256

static const char *const layouts_help =
  "Graft reads a folder per class (optionally under train/, val/ and test/), a CSV file "
  "of path,label rows, a YOLO folder (images/ and labels/) or a COCO instances JSON file";

/* ---- progress and problems ---------------------------------------------------------- */

void
_graft_dataset_job_step (GraftDatasetJob *job,
                         guint            total)
{
  if (job == NULL)
    return;
  job->done++;
  if (job->progress != NULL)
    job->progress (job->done, total, job->user_data);
}

void
_graft_problem_sink_init (GraftProblemSink *sink,
                          GraftDataset     *dataset,
                          const char       *file)
{
  memset (sink, 0, sizeof *sink);
  sink->dataset = dataset;
  sink->file = file;
  sink->limit = _GRAFT_DATASET_MAX_PROBLEMS_PER_FILE;
}

void
_graft_problem_sink_add (GraftProblemSink     *sink,
                         GraftDataProblemKind  kind,
                         guint                 line,
                         const char           *format,
                         ...)
{
  g_autofree char *message = NULL;
  g_autofree char *valid = NULL;
  g_autofree char *file = NULL;
  va_list args;

  if (sink->listed >= sink->limit)
    {
      if (sink->dropped++ == 0)
        sink->dropped_kind = kind;
      return;
    }
  sink->listed++;
  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  valid = g_utf8_make_valid (message, -1);
  file = sink->file != NULL ? g_utf8_make_valid (sink->file, -1) : NULL;
  graft_dataset_add_problem (sink->dataset, kind, file, line, NULL, "%s", valid);
}

void
_graft_problem_sink_finish (GraftProblemSink *sink)
{
  g_autofree char *file = NULL;

  if (sink->dropped == 0)
    return;
  file = g_utf8_make_valid (sink->file != NULL ? sink->file : "", -1);
  graft_dataset_add_problem (sink->dataset, sink->dropped_kind, file, 0, NULL,
                             "%s has %u more problems than the %u listed; fix those and "
                             "import again to see the rest",
                             file, sink->dropped, sink->listed);
  sink->dropped = 0;
}

/* ---- files and folders --------------------------------------------------------------- */

GBytes *
_graft_dataset_load_file (const char  *path,
                          const char  *name,
                          guint64      max_bytes,
                          GError     **error)
{
  g_autofree guint8 *data = NULL;
  struct stat st;
  gsize length, got = 0;
  int fd, saved_errno;

  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      saved_errno = errno;
      g_set_error (error, GRAFT_DATA_ERROR,
                   saved_errno == ENOENT ? GRAFT_DATA_ERROR_NOT_FOUND : GRAFT_DATA_ERROR_READ,
                   "Could not open %s: %s", name, g_strerror (saved_errno));
      return NULL;
    }
  if (fstat (fd, &st) != 0)
    {
      saved_errno = errno;
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Could not read %s: %s", name, g_strerror (saved_errno));
      close (fd);
      return NULL;
    }
  if (!S_ISREG (st.st_mode))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Could not read %s: it is %s, not a file", name,
                   S_ISDIR (st.st_mode) ? "a folder" : "a device or pipe");
      close (fd);
      return NULL;
    }
  if ((guint64) st.st_size > max_bytes)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_LARGE,
                   "%s is %" G_GUINT64_FORMAT " bytes, more than the %" G_GUINT64_FORMAT
                   " Graft reads from such a file; check that it is the right file, or split it",
                   name, (guint64) st.st_size, max_bytes);
      close (fd);
      return NULL;
    }

  length = (gsize) st.st_size;
  data = g_try_malloc (MAX (length, 1));
  if (data == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Not enough memory to read %s (%" G_GSIZE_FORMAT " bytes)", name, length);
      close (fd);
      return NULL;
    }
  while (got < length)
    {
      gssize n = read (fd, data + got, MIN (length - got, READ_CHUNK));

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          saved_errno = errno;
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                       "Could not read %s: %s", name, g_strerror (saved_errno));
          close (fd);
          return NULL;
        }
      if (n == 0)
        break;  /* it shrank while being read: take what is there */
      got += (gsize) n;
    }
  close (fd);
  return g_bytes_new_take (g_steal_pointer (&data), got);
}

static int
compare_names (gconstpointer a,
               gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

gboolean
_graft_dataset_is_hidden (const char *name)
{
  return name[0] == '.' || g_str_equal (name, "__MACOSX");
}

GPtrArray *
_graft_dataset_list_dir (const char  *path,
                         GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GDir) dir = g_dir_open (path, 0, &local_error);
  GPtrArray *names;
  const char *name;

  if (dir == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR,
                   g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                     ? GRAFT_DATA_ERROR_NOT_FOUND : GRAFT_DATA_ERROR_READ,
                   "Could not open the folder %s: %s", path, local_error->message);
      return NULL;
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (dir)) != NULL)
    if (!_graft_dataset_is_hidden (name))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

GraftSplit
_graft_dataset_split_from_name (const char *name)
{
  if (g_ascii_strcasecmp (name, "train") == 0)
    return GRAFT_SPLIT_TRAIN;
  if (g_ascii_strcasecmp (name, "val") == 0 || g_ascii_strcasecmp (name, "valid") == 0
      || g_ascii_strcasecmp (name, "validation") == 0)
    return GRAFT_SPLIT_VAL;
  if (g_ascii_strcasecmp (name, "test") == 0)
    return GRAFT_SPLIT_TEST;
  return GRAFT_SPLIT_NONE;
}

static const char *const image_extensions[] = {
  "png", "jpg", "jpeg", "jpe", "jfif", "bmp", "gif", "tif", "tiff", "webp", "ppm", "pgm",
  "pbm", "heic", "avif",
};

gboolean
_graft_dataset_has_image_extension (const char *name)
{
  const char *dot = strrchr (name, '.');

  if (dot == NULL || strchr (dot, '/') != NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (image_extensions); i++)
    if (g_ascii_strcasecmp (dot + 1, image_extensions[i]) == 0)
      return TRUE;
  return FALSE;
}

/* What the first bytes of a file that is not PNG or JPEG say it is. */
static const char *
other_format (const guint8 *head,
              gsize         length)
{
  if (length >= 2 && head[0] == 'B' && head[1] == 'M')
    return "a BMP image";
  if (length >= 4 && memcmp (head, "GIF8", 4) == 0)
    return "a GIF image";
  if (length >= 12 && memcmp (head, "RIFF", 4) == 0 && memcmp (head + 8, "WEBP", 4) == 0)
    return "a WebP image";
  if (length >= 4 && (memcmp (head, "II*\0", 4) == 0 || memcmp (head, "MM\0*", 4) == 0))
    return "a TIFF image";
  if (length >= 12 && memcmp (head + 4, "ftyp", 4) == 0)
    return "a HEIF or AVIF image";
  return NULL;
}

gboolean
_graft_dataset_sniff_image (const char  *path,
                            char       **reason)
{
  guint8 head[16];
  gssize got;
  int fd, saved_errno;
  const char *what;

  *reason = NULL;
  fd = g_open (path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0)
    {
      saved_errno = errno;
      if (_graft_dataset_has_image_extension (path))
        *reason = g_strdup_printf ("it could not be opened: %s", g_strerror (saved_errno));
      return FALSE;
    }
  do
    got = read (fd, head, sizeof head);
  while (got < 0 && errno == EINTR);
  saved_errno = errno;
  close (fd);

  if (got > 0 && graft_image_sniff (head, (gsize) got) != GRAFT_IMAGE_FORMAT_UNKNOWN)
    return TRUE;
  if (!_graft_dataset_has_image_extension (path))
    return FALSE;
  if (got < 0)
    *reason = g_strdup_printf ("it could not be read: %s", g_strerror (saved_errno));
  else if (got == 0)
    *reason = g_strdup ("it is empty (0 bytes); copy it again from where it came from, or remove it");
  else if ((what = other_format (head, (gsize) got)) != NULL)
    *reason = g_strdup_printf ("it is %s, and Graft reads PNG and JPEG only; convert it to "
                               "PNG, or remove it", what);
  else
    *reason = g_strdup ("its content is not a PNG or JPEG image (wrong magic bytes); it is "
                        "damaged or not an image: replace it, or remove it");
  return FALSE;
}

char *
_graft_dataset_relative_name (const char *root_dir,
                              const char *path,
                              const char *fallback)
{
  gsize n;

  if (root_dir != NULL)
    {
      n = strlen (root_dir);
      while (n > 1 && root_dir[n - 1] == G_DIR_SEPARATOR)
        n--;
      if (strncmp (path, root_dir, n) == 0 && path[n] == G_DIR_SEPARATOR && path[n + 1] != '\0')
        return g_strdup (path + n + 1);
      if (n == 1 && root_dir[0] == G_DIR_SEPARATOR && path[0] == G_DIR_SEPARATOR)
        return g_strdup (path + 1);
    }
  return g_strdup (fallback != NULL ? fallback : path);
}

char *
_graft_dataset_root_dir (GraftDataset *dataset)
{
  if (dataset->root == NULL)
    return NULL;
  if (g_file_test (dataset->root, G_FILE_TEST_IS_DIR))
    return g_strdup (dataset->root);
  return g_path_get_dirname (dataset->root);
}

/* ---- detection ----------------------------------------------------------------------- */

static gboolean
is_dir (const char *dir,
        const char *child)
{
  g_autofree char *path = g_build_filename (dir, child, NULL);

  return g_file_test (path, G_FILE_TEST_IS_DIR);
}

gboolean
_graft_dataset_is_yolo_dir (const char *dir)
{
  g_autoptr(GPtrArray) names = NULL;

  if (is_dir (dir, "images") && is_dir (dir, "labels"))
    return TRUE;
  /* The split-first layout: train/images, train/labels, valid/images … */
  names = _graft_dataset_list_dir (dir, NULL);
  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *images = g_build_filename (name, "images", NULL);
      g_autofree char *labels = g_build_filename (name, "labels", NULL);

      if (_graft_dataset_split_from_name (name) != GRAFT_SPLIT_NONE
          && is_dir (dir, images) && is_dir (dir, labels))
        return TRUE;
    }
  return FALSE;
}

/* Whether @dir (or a folder below it, @depth levels deep) holds a PNG or JPEG file. */
static gboolean
dir_has_image (const char *dir,
               guint       depth)
{
  g_autoptr(GPtrArray) names = _graft_dataset_list_dir (dir, NULL);
  guint sniffed = 0;

  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, g_ptr_array_index (names, i), NULL);
      g_autofree char *reason = NULL;

      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          if (depth > 0 && dir_has_image (path, depth - 1))
            return TRUE;
        }
      else if (sniffed++ < DETECT_MAX_FILES && _graft_dataset_sniff_image (path, &reason))
        return TRUE;
    }
  return FALSE;
}

gboolean
_graft_dataset_has_class_folders (const char *dir)
{
  g_autoptr(GPtrArray) names = _graft_dataset_list_dir (dir, NULL);

  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *path = g_build_filename (dir, name, NULL);

      if (!g_file_test (path, G_FILE_TEST_IS_DIR))
        continue;
      /* A class folder holds images (perhaps in folders of its own); a split folder
       * holds class folders. */
      if (dir_has_image (path, _graft_dataset_split_from_name (name) != GRAFT_SPLIT_NONE ? 2 : 1))
        return TRUE;
    }
  return FALSE;
}

/* A JSON object whose text holds the keys "images" and "annotations" or "categories",
 * read in chunks (a key may straddle two) so that a large file costs no memory. */
gboolean
_graft_dataset_looks_like_coco (const char *path)
{
  static const char *const keys[] = { "\"images\"", "\"annotations\"", "\"categories\"" };
  char buffer[65536 + 16];
  gboolean found[G_N_ELEMENTS (keys)] = { FALSE, };
  gsize carry = 0;
  gboolean first = TRUE;
  FILE *file = g_fopen (path, "rb");

  if (file == NULL)
    return FALSE;
  for (;;)
    {
      gsize got = fread (buffer + carry, 1, sizeof buffer - 16 - 1, file);
      gsize length = carry + got;

      if (got == 0)
        break;
      buffer[length] = '\0';
      if (first)
        {
          gsize i = 0;

          /* a UTF-8 byte order mark, then white space, then the object */
          if (length >= 3 && memcmp (buffer, "\xef\xbb\xbf", 3) == 0)
            i = 3;
          while (i < length && g_ascii_isspace (buffer[i]))
            i++;
          if (i < length && buffer[i] != '{')
            break;
          first = FALSE;
        }
      for (guint k = 0; k < G_N_ELEMENTS (keys); k++)
        found[k] = found[k] || g_strstr_len (buffer, (gssize) length, keys[k]) != NULL;
      if (found[0] && (found[1] || found[2]))
        break;
      /* keep the tail, where a key may have been cut in two */
      carry = MIN (length, (gsize) 15);
      memmove (buffer, buffer + length - carry, carry);
    }
  fclose (file);
  return found[0] && (found[1] || found[2]);
}

static gboolean
has_suffix_nocase (const char *name,
                   const char *suffix)
{
  gsize n = strlen (name), m = strlen (suffix);

  return n > m && g_ascii_strcasecmp (name + n - m, suffix) == 0;
}

/* The files in @dir named *@suffix (and, with @prefix, prefix*), optionally only those
 * that look like COCO files. */
static GPtrArray *
find_files (const char *dir,
            const char *prefix,
            const char *suffix,
            gboolean    coco_only)
{
  g_autoptr(GPtrArray) names = _graft_dataset_list_dir (dir, NULL);
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *path = NULL;

      if (!has_suffix_nocase (name, suffix) || (prefix != NULL && !g_str_has_prefix (name, prefix)))
        continue;
      path = g_build_filename (dir, name, NULL);
      if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
        continue;
      if (coco_only && !_graft_dataset_looks_like_coco (path))
        continue;
      g_ptr_array_add (found, g_steal_pointer (&path));
    }
  return found;
}

GPtrArray *
_graft_dataset_find_coco_files (const char *dir)
{
  g_autofree char *annotations = g_build_filename (dir, "annotations", NULL);
  GPtrArray *found;

  found = find_files (annotations, "instances_", ".json", TRUE);
  if (found->len > 0)
    return found;
  g_ptr_array_unref (found);
  found = find_files (annotations, NULL, ".json", TRUE);
  if (found->len > 0)
    return found;
  g_ptr_array_unref (found);
  return find_files (dir, NULL, ".json", TRUE);
}

GPtrArray *
_graft_dataset_find_csv_files (const char *dir)
{
  return find_files (dir, NULL, ".csv", FALSE);
}

/* What is in folder @path, in words, for an error that says nothing matched. */
static char *
describe_dir (const char *path)
{
  g_autoptr(GPtrArray) names = _graft_dataset_list_dir (path, NULL);
  guint n_dirs = 0, n_files = 0;

  for (guint i = 0; names != NULL && i < names->len; i++)
    {
      if (is_dir (path, g_ptr_array_index (names, i)))
        n_dirs++;
      else
        n_files++;
    }
  if (n_dirs == 0 && n_files == 0)
    return g_strdup ("is empty");
  return g_strdup_printf ("holds %u folder%s and %u file%s, but no folder with PNG or JPEG "
                          "images, no CSV file, no images/ and labels/ folders and no COCO "
                          "annotations",
                          n_dirs, n_dirs == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s");
}

static gboolean
detect_file (const char          *path,
             GraftDatasetFormat  *format,
             GError             **error)
{
  g_autofree char *reason = NULL;

  if (has_suffix_nocase (path, ".csv"))
    {
      *format = GRAFT_DATASET_FORMAT_CSV;
      return TRUE;
    }
  if (has_suffix_nocase (path, ".json"))
    {
      if (_graft_dataset_looks_like_coco (path))
        {
          *format = GRAFT_DATASET_FORMAT_COCO;
          return TRUE;
        }
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                   "%s is a JSON file without the \"images\" and \"annotations\" or "
                   "\"categories\" lists of a COCO instances file; %s",
                   path, layouts_help);
      return FALSE;
    }
  if (has_suffix_nocase (path, ".yaml") || has_suffix_nocase (path, ".yml"))
    {
      g_autofree char *dir = g_path_get_dirname (path);

      if (_graft_dataset_is_yolo_dir (dir))
        {
          *format = GRAFT_DATASET_FORMAT_YOLO;
          return TRUE;
        }
    }
  if (_graft_dataset_sniff_image (path, &reason))
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                 "%s is a single image, not a dataset; choose the folder that holds the "
                 "images, or the file that labels them", path);
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                 "%s is not a dataset file Graft knows; %s", path, layouts_help);
  return FALSE;
}

gboolean
graft_dataset_detect (const char          *path,
                      GraftDatasetFormat  *format,
                      GError             **error)
{
  g_autoptr(GPtrArray) coco = NULL;
  g_autoptr(GPtrArray) csv = NULL;
  g_autofree char *what = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  g_return_val_if_fail (format != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "%s does not exist; check the path, or choose the folder or file that "
                   "holds the dataset", path);
      return FALSE;
    }
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return detect_file (path, format, error);

  if (_graft_dataset_is_yolo_dir (path))
    {
      *format = GRAFT_DATASET_FORMAT_YOLO;
      return TRUE;
    }
  coco = _graft_dataset_find_coco_files (path);
  if (coco->len > 0)
    {
      *format = GRAFT_DATASET_FORMAT_COCO;
      return TRUE;
    }
  /* A CSV before class folders: the images a CSV labels often sit in one folder, which
   * would otherwise read as a single class. */
  csv = _graft_dataset_find_csv_files (path);
  if (csv->len == 1)
    {
      *format = GRAFT_DATASET_FORMAT_CSV;
      return TRUE;
    }
  if (_graft_dataset_has_class_folders (path))
    {
      *format = GRAFT_DATASET_FORMAT_FOLDER;
      return TRUE;
    }
  if (csv->len > 1)
    {
      g_autofree char *first = g_path_get_basename (g_ptr_array_index (csv, 0));
      g_autofree char *second = g_path_get_basename (g_ptr_array_index (csv, 1));

      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                   "%s holds %u CSV files (%s, %s%s) and Graft cannot tell which one labels "
                   "the images; choose that file itself",
                   path, csv->len, first, second, csv->len > 2 ? ", …" : "");
      return FALSE;
    }
  what = describe_dir (path);
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
               "%s %s; %s", path, what, layouts_help);
  return FALSE;
}

/* ---- import -------------------------------------------------------------------------- */

GraftDataset *
graft_dataset_import (const char           *path,
                      GraftDatasetFormat    format,
                      GraftDatasetProgress  progress,
                      gpointer              user_data,
                      GCancellable         *cancellable,
                      GError              **error)
{
  GraftDatasetJob job = { progress, user_data, cancellable, 0 };
  g_autofree char *absolute = NULL;
  GraftDataset *dataset = NULL;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (format <= GRAFT_DATASET_FORMAT_COCO, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  absolute = g_canonicalize_filename (path, NULL);
  if (!g_file_test (absolute, G_FILE_TEST_EXISTS))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "%s does not exist; check the path, or choose the folder or file that "
                   "holds the dataset", path);
      return NULL;
    }
  if (format == GRAFT_DATASET_FORMAT_AUTO && !graft_dataset_detect (absolute, &format, error))
    return NULL;
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  switch (format)
    {
    case GRAFT_DATASET_FORMAT_FOLDER:
      dataset = _graft_dataset_import_folder (absolute, &job, error);
      break;
    case GRAFT_DATASET_FORMAT_CSV:
      dataset = _graft_dataset_import_csv (absolute, &job, error);
      break;
    case GRAFT_DATASET_FORMAT_YOLO:
      dataset = _graft_dataset_import_yolo (absolute, &job, error);
      break;
    case GRAFT_DATASET_FORMAT_COCO:
      dataset = _graft_dataset_import_coco (absolute, &job, error);
      break;
    case GRAFT_DATASET_FORMAT_AUTO:
    default:
      g_assert_not_reached ();
    }
  if (dataset == NULL)
    return NULL;

  /* Nothing imported and nothing wrong: the layout named holds nothing at all. */
  if (dataset->samples->len == 0 && dataset->problems->len == 0)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "%s holds no images as a %s dataset; check the path and the layout "
                   "(%s)", path, graft_dataset_format_to_string (format), layouts_help);
      graft_dataset_free (dataset);
      return NULL;
    }
  return dataset;
}
