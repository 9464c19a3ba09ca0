/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* YOLO: images/ and labels/ folders that mirror each other (optionally split into train/,
 * val/ and test/ below them, or train/images and train/labels the other way round);
 * labels/NAME.txt holds one "class cx cy w h" line per box, normalised to the image.
 * Class names come from data.yaml (graft-dataset-yolo-names.c) or classes.txt, else they
 * are "class N". Boxes become pixels of the image. */

#include <math.h>
#include <string.h>

#include "graft-dataset-private.h"

/* How far past the image's edge a normalised box may reach (rounding in the tools that
 * write these files) before it is a problem; such a box is clipped. */
#define EDGE_TOLERANCE 1e-3

/* ---- one labels file ---------------------------------------------------------------- */

gboolean
_graft_dataset_parse_yolo_labels (GraftDataset  *dataset,
                                  GraftSample   *sample,
                                  const char    *data,
                                  gsize          length,
                                  const char    *name,
                                  gboolean       grow_classes,
                                  GError       **error)
{
  GraftProblemSink sink;
  gsize start = 0;
  guint line = 0;
  double width = sample->width, height = sample->height;

  if (memchr (data, '\0', length) != NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_PARSE,
                   "%s is not a YOLO labels file: it is not text (it holds NUL bytes); it "
                   "should hold \"class cx cy w h\" lines", name);
      return FALSE;
    }
  if (sample->width == 0 || sample->height == 0)
    {
      GraftImageInfo info;

      if (!graft_image_probe_file (sample->path, &info, error))
        return FALSE;
      sample->width = info.width;
      sample->height = info.height;
      width = info.width;
      height = info.height;
    }
  if (sample->boxes == NULL)
    sample->boxes = g_array_new (FALSE, FALSE, sizeof (GraftBox));
  _graft_problem_sink_init (&sink, dataset, name);

  while (start < length)
    {
      const char *nl = memchr (data + start, '\n', length - start);
      gsize end = nl != NULL ? (gsize) (nl - data) : length;
      g_autofree char *text = g_strndup (data + start, end - start);
      g_auto(GStrv) tokens = NULL;
      char *fields[5];
      double v[5];
      guint n = 0;
      gboolean numbers = TRUE;

      start = end + 1;
      line++;
      tokens = g_strsplit_set (text, " \t\r\v\f", -1);
      for (guint i = 0; tokens[i] != NULL; i++)
        if (*tokens[i] != '\0')
          {
            if (n < 5)
              fields[n] = tokens[i];
            n++;
          }
      if (n == 0)
        continue;
      if (n != 5)
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u has %u field%s; a YOLO label line is \"class cx "
                                   "cy w h\": fix or remove it", name, line, n,
                                   n == 1 ? "" : "s");
          continue;
        }
      for (guint i = 0; i < 5 && numbers; i++)
        {
          char *stop = NULL;

          v[i] = g_ascii_strtod (fields[i], &stop);
          if (stop == fields[i] || *stop != '\0')
            {
              g_autofree char *shown = g_utf8_make_valid (fields[i], -1);

              _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                       "%s line %u: \"%s\" is not a number; a YOLO label line is "
                                       "\"class cx cy w h\"", name, line, shown);
              numbers = FALSE;
            }
        }
      if (!numbers)
        continue;
      if (!isfinite (v[0]) || !isfinite (v[1]) || !isfinite (v[2]) || !isfinite (v[3])
          || !isfinite (v[4]))
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_BOX_EMPTY, line,
                                   "%s line %u holds a value that is not finite (NaN or "
                                   "infinity); the box is left out: fix or remove the line",
                                   name, line);
          continue;
        }
      if (v[0] < 0 || v[0] != floor (v[0]))
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, line,
                                   "%s line %u: the class %s is not a whole number from 0; fix "
                                   "or remove the line", name, line, fields[0]);
          continue;
        }
      if (v[0] >= dataset->classes->len
          && (!grow_classes || v[0] >= _GRAFT_DATASET_MAX_CLASSES))
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, line,
                                   "%s line %u has the class %.0f, but the dataset has %u "
                                   "class%s, numbered from 0; fix the line, or add the class "
                                   "to the names in data.yaml", name, line, v[0],
                                   dataset->classes->len,
                                   dataset->classes->len == 1 ? "" : "es");
          continue;
        }
      if (v[3] <= 0 || v[4] <= 0)
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_BOX_EMPTY, line,
                                   "%s line %u has a box of width %g and height %g, which has "
                                   "no area; fix or remove the line", name, line, v[3], v[4]);
          continue;
        }
      {
        double x0 = v[1] - v[3] / 2, x1 = v[1] + v[3] / 2;
        double y0 = v[2] - v[4] / 2, y1 = v[2] + v[4] / 2;
        GraftBox box;

        if (v[1] < 0 || v[1] > 1 || v[2] < 0 || v[2] > 1 || x0 < -EDGE_TOLERANCE
            || y0 < -EDGE_TOLERANCE || x1 > 1 + EDGE_TOLERANCE || y1 > 1 + EDGE_TOLERANCE)
          {
            _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, line,
                                     "%s line %u has a box from x %g to %g and y %g to %g, "
                                     "outside the image (0 to 1): YOLO values are normalised "
                                     "by the image's size; fix or remove the line",
                                     name, line, x0, x1, y0, y1);
            continue;
          }
        while (grow_classes && dataset->classes->len <= v[0])
          {
            g_autofree char *class_name = g_strdup_printf ("class %u", dataset->classes->len);

            graft_dataset_add_class (dataset, class_name);
          }
        x0 = CLAMP (x0, 0.0, 1.0);
        x1 = CLAMP (x1, 0.0, 1.0);
        y0 = CLAMP (y0, 0.0, 1.0);
        y1 = CLAMP (y1, 0.0, 1.0);
        box.label = (guint) v[0];
        box.x = (float) (x0 * width);
        box.y = (float) (y0 * height);
        box.width = (float) ((x1 - x0) * width);
        box.height = (float) ((y1 - y0) * height);
        if (!(box.width > 0) || !(box.height > 0))
          {
            /* narrower than a pixel can say: 1e-300 of the image */
            _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_BOX_EMPTY, line,
                                     "%s line %u has a box of width %g and height %g, which has "
                                     "no area in pixels; fix or remove the line",
                                     name, line, v[3], v[4]);
            continue;
          }
        g_array_append_val (sample->boxes, box);
      }
    }
  _graft_problem_sink_finish (&sink);
  return TRUE;
}

gboolean
graft_dataset_parse_yolo_labels (GraftDataset  *dataset,
                                 GraftSample   *sample,
                                 const char    *data,
                                 gsize          length,
                                 const char    *name,
                                 GError       **error)
{
  g_return_val_if_fail (dataset != NULL, FALSE);
  g_return_val_if_fail (sample != NULL, FALSE);
  g_return_val_if_fail (data != NULL || length == 0, FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return _graft_dataset_parse_yolo_labels (dataset, sample, data != NULL ? data : "", length,
                                           name, dataset->classes->len == 0, error);
}

/* ---- the folder ---------------------------------------------------------------------- */

typedef struct {
  char       *path;
  char       *name;        /* relative to the root */
  char       *label_path;
  char       *label_name;
  GraftSplit  split;
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->path);
  g_free (candidate->name);
  g_free (candidate->label_path);
  g_free (candidate->label_name);
  g_free (candidate);
}

static int
compare_candidates (gconstpointer a,
                    gconstpointer b)
{
  return strcmp ((*(const Candidate * const *) a)->name, (*(const Candidate * const *) b)->name);
}

typedef struct {
  const char       *root;
  GraftDatasetJob  *job;
  GPtrArray        *candidates;
  GraftProblemSink *sink;
} Walk;

/* NAME.txt for an image NAME.EXT */
static char *
label_file_name (const char *image)
{
  const char *slash = strrchr (image, G_DIR_SEPARATOR);
  const char *dot = strrchr (image, '.');

  if (dot == NULL || (slash != NULL && dot < slash) || dot == (slash != NULL ? slash + 1 : image))
    return g_strconcat (image, ".txt", NULL);
  return g_strdup_printf ("%.*s.txt", (int) (dot - image), image);
}

/* The files below @images_dir/@rel, their labels below @labels_dir/@rel. */
static gboolean
walk_images (Walk        *walk,
             const char  *images_dir,
             const char  *labels_dir,
             const char  *rel,
             GraftSplit   split,
             gboolean     split_from_folder,
             guint        depth,
             GError     **error)
{
  g_autofree char *dir = rel != NULL ? g_build_filename (images_dir, rel, NULL) : g_strdup (images_dir);
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) children = _graft_dataset_list_dir (dir, &local_error);

  if (children == NULL)
    {
      g_autofree char *shown = _graft_dataset_relative_name (walk->root, dir, NULL);

      walk->sink->file = shown;
      _graft_problem_sink_add (walk->sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                               "The folder %s could not be read (%s); its images are left out: "
                               "check its permissions", shown, local_error->message);
      return TRUE;
    }
  for (guint i = 0; i < children->len; i++)
    {
      const char *child = g_ptr_array_index (children, i);
      g_autofree char *child_rel = rel != NULL ? g_build_filename (rel, child, NULL) : g_strdup (child);
      g_autofree char *path = g_build_filename (images_dir, child_rel, NULL);

      if (g_cancellable_set_error_if_cancelled (walk->job->cancellable, error))
        return FALSE;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          GraftSplit child_split = split;

          if (split_from_folder && depth == 0)
            child_split = _graft_dataset_split_from_name (child);
          if (depth + 1 < _GRAFT_DATASET_MAX_DEPTH
              && !walk_images (walk, images_dir, labels_dir, child_rel, child_split,
                               split_from_folder, depth + 1, error))
            return FALSE;
        }
      else
        {
          Candidate *candidate = g_new0 (Candidate, 1);
          g_autofree char *label_rel = label_file_name (child_rel);

          candidate->path = g_steal_pointer (&path);
          candidate->name = _graft_dataset_relative_name (walk->root, candidate->path, NULL);
          candidate->label_path = g_build_filename (labels_dir, label_rel, NULL);
          candidate->label_name = _graft_dataset_relative_name (walk->root, candidate->label_path, NULL);
          candidate->split = split;
          g_ptr_array_add (walk->candidates, candidate);
        }
    }
  return TRUE;
}

/* data.yaml, else classes.txt: the class names, as classes of @dataset. FALSE when there
 * is neither (classes are then named by id as they are met). */
static gboolean
read_names (GraftDataset     *dataset,
            const char       *path,
            const char       *root,
            GraftProblemSink *sink)
{
  static const char *const yaml_names[] = { "data.yaml", "data.yml", "dataset.yaml" };
  static const char *const txt_names[] = { "classes.txt", "labels/classes.txt", "obj.names" };
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);

  if (g_str_has_suffix (path, ".yaml") || g_str_has_suffix (path, ".yml"))
    g_ptr_array_add (candidates, g_strdup (path));
  for (guint i = 0; i < G_N_ELEMENTS (yaml_names); i++)
    g_ptr_array_add (candidates, g_build_filename (root, yaml_names[i], NULL));

  for (guint i = 0; i < candidates->len; i++)
    {
      const char *file = g_ptr_array_index (candidates, i);
      g_autofree char *shown = _graft_dataset_relative_name (root, file, NULL);
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      const char *data;
      gsize length;

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      bytes = _graft_dataset_load_file (file, shown, _GRAFT_DATASET_MAX_NAMES_BYTES, &error);
      data = bytes != NULL ? g_bytes_get_data (bytes, &length) : NULL;
      if (bytes == NULL
          || !_graft_dataset_parse_yolo_names (data != NULL ? data : "", length, shown, names, &error))
        {
          sink->file = shown;
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                   "%s; the class names are read from elsewhere", error->message);
          break;
        }
      for (guint j = 0; j < names->len; j++)
        g_ptr_array_add (dataset->classes, g_strdup (g_ptr_array_index (names, j)));
      return dataset->classes->len > 0;
    }

  for (guint i = 0; i < G_N_ELEMENTS (txt_names); i++)
    {
      g_autofree char *file = g_build_filename (root, txt_names[i], NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_auto(GStrv) lines = NULL;
      g_autofree char *text = NULL;
      guint n;

      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        continue;
      bytes = _graft_dataset_load_file (file, txt_names[i], _GRAFT_DATASET_MAX_NAMES_BYTES, &error);
      if (bytes == NULL)
        {
          sink->file = txt_names[i];
          _graft_problem_sink_add (sink, GRAFT_DATA_PROBLEM_PARSE, 0, "%s", error->message);
          continue;
        }
      text = g_utf8_make_valid (g_bytes_get_data (bytes, NULL), (gssize) g_bytes_get_size (bytes));
      lines = g_strsplit (text, "\n", -1);
      n = g_strv_length (lines);
      /* trailing empty lines are not classes */
      while (n > 0 && *g_strstrip (lines[n - 1]) == '\0')
        n--;
      for (guint j = 0; j < n && j < _GRAFT_DATASET_MAX_CLASSES; j++)
        {
          char *name = g_strstrip (lines[j]);

          g_ptr_array_add (dataset->classes, *name != '\0' ? g_strdup (name)
                                                           : g_strdup_printf ("class %u", j));
        }
      if (dataset->classes->len > 0)
        return TRUE;
    }
  return FALSE;
}

GraftDataset *
_graft_dataset_import_yolo (const char       *path,
                            GraftDatasetJob  *job,
                            GError          **error)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (candidate_free);
  g_autoptr(GPtrArray) top = NULL;
  g_autofree char *root = NULL;
  g_autofree char *images = NULL;
  g_autofree char *labels = NULL;
  GraftProblemSink sink;
  gboolean grow;
  Walk walk;

  root = g_file_test (path, G_FILE_TEST_IS_DIR) ? g_strdup (path) : g_path_get_dirname (path);
  if (!_graft_dataset_is_yolo_dir (root))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                   "%s has no images/ and labels/ folders (nor train/images and "
                   "train/labels); a YOLO dataset keeps its images in images/ and one "
                   "NAME.txt per image in labels/", root);
      return NULL;
    }

  dataset = graft_dataset_new (GRAFT_TASK_DETECTION, GRAFT_DATASET_FORMAT_YOLO, root);
  _graft_problem_sink_init (&sink, dataset, NULL);
  sink.limit = G_MAXUINT;
  grow = !read_names (dataset, path, root, &sink);

  walk.root = root;
  walk.job = job;
  walk.candidates = candidates;
  walk.sink = &sink;
  images = g_build_filename (root, "images", NULL);
  labels = g_build_filename (root, "labels", NULL);
  if (g_file_test (images, G_FILE_TEST_IS_DIR) && g_file_test (labels, G_FILE_TEST_IS_DIR)
      && !walk_images (&walk, images, labels, NULL, GRAFT_SPLIT_NONE, TRUE, 0, error))
    return NULL;
  top = _graft_dataset_list_dir (root, error);
  if (top == NULL)
    return NULL;
  for (guint i = 0; i < top->len; i++)
    {
      const char *child = g_ptr_array_index (top, i);
      GraftSplit split = _graft_dataset_split_from_name (child);
      g_autofree char *split_images = g_build_filename (root, child, "images", NULL);
      g_autofree char *split_labels = g_build_filename (root, child, "labels", NULL);

      if (split != GRAFT_SPLIT_NONE && g_file_test (split_images, G_FILE_TEST_IS_DIR)
          && !walk_images (&walk, split_images, split_labels, NULL, split, FALSE, 0, error))
        return NULL;
    }
  g_ptr_array_sort (candidates, compare_candidates);

  for (guint i = 0; i < candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (candidates, i);
      g_autoptr(GError) local_error = NULL;
      g_autoptr(GBytes) bytes = NULL;
      g_autofree char *reason = NULL;
      GraftImageInfo info;
      GraftSample *sample;

      if (g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return NULL;
      _graft_dataset_job_step (job, candidates->len);
      sink.file = candidate->name;
      if (!_graft_dataset_sniff_image (candidate->path, &reason))
        {
          if (reason != NULL)
            _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                                     "%s is left out: %s", candidate->name, reason);
          continue;
        }
      if (!graft_image_probe_file (candidate->path, &info, &local_error))
        {
          _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                                   "%s is left out: %s", candidate->name, local_error->message);
          continue;
        }

      sample = graft_dataset_add_sample (dataset, g_strdup (candidate->path),
                                         g_strdup (candidate->name), -1);
      sample->width = info.width;
      sample->height = info.height;
      sample->split = candidate->split;
      sample->split_fixed = candidate->split != GRAFT_SPLIT_NONE;

      bytes = _graft_dataset_load_file (candidate->label_path, candidate->label_name,
                                        _GRAFT_DATASET_MAX_YOLO_BYTES, &local_error);
      if (bytes == NULL)
        {
          if (g_error_matches (local_error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND))
            _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_NO_LABEL, 0,
                                     "%s has no labels file (%s); if it shows no object, create "
                                     "that file empty, else label the image",
                                     candidate->name, candidate->label_name);
          else
            {
              sink.file = candidate->label_name;
              _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                       "%s; the image %s is kept without boxes",
                                       local_error->message, candidate->name);
            }
          continue;
        }
      {
        gsize length;
        const char *data = g_bytes_get_data (bytes, &length);

        if (!_graft_dataset_parse_yolo_labels (dataset, sample, data != NULL ? data : "",
                                               length, candidate->label_name, grow,
                                               &local_error))
          {
            sink.file = candidate->label_name;
            _graft_problem_sink_add (&sink, GRAFT_DATA_PROBLEM_PARSE, 0,
                                     "%s; the image %s is kept without boxes",
                                     local_error->message, candidate->name);
          }
      }
    }
  return g_steal_pointer (&dataset);
}
