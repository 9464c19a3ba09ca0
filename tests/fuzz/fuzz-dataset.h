/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* What the label-file fuzz targets (CSV, YOLO, COCO) share: a scratch folder with a few
 * files for the input's paths to find (so that rows and images become samples, not only
 * problems), and the checks every parse must pass whatever its input. libFuzzer and the
 * sanitizers catch crashes and leaks; what only this code can see (a problem that does
 * not name its file, a label outside the classes, a box that is not a box) aborts, which
 * libFuzzer reports as a crash too. */

#include <glib/gstdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "graft.h"

static char *fuzz_dir;

static inline void
fuzz_check (gboolean    ok,
            const char *what)
{
  if (!ok)
    {
      g_printerr ("fuzz check failed: %s\n", what);
      abort ();
    }
}

static void
fuzz_dataset_remove_dir (void)
{
  const char *const names[] = { "a.png", "b.jpg", "c", "d e.png", "1.png", NULL };

  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (fuzz_dir, names[i], NULL);

      g_unlink (path);
    }
  g_rmdir (fuzz_dir);
  g_clear_pointer (&fuzz_dir, g_free);
}

/* The scratch folder: a.png, b.jpg, c, "d e.png" and 1.png (a few bytes each, never
 * decoded by the parsers), removed at exit. GLib's criticals and warnings abort. */
static inline void
fuzz_dataset_init (void)
{
  const char *const names[] = { "a.png", "b.jpg", "c", "d e.png", "1.png", NULL };
  g_autoptr(GError) error = NULL;

  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  fuzz_dir = g_dir_make_tmp ("graft-fuzz-XXXXXX", &error);
  fuzz_check (fuzz_dir != NULL, "no scratch folder");
  for (guint i = 0; names[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (fuzz_dir, names[i], NULL);

      fuzz_check (g_file_set_contents (path, "\x89PNG\r\n\x1a\n", 8, NULL), "no scratch file");
    }
  atexit (fuzz_dataset_remove_dir);
}

/* A failed parse: an error of the data domain that names the file. */
static inline void
fuzz_check_error (const GError *error,
                  const char   *name)
{
  fuzz_check (error != NULL, "a failure without a GError");
  fuzz_check (error->domain == GRAFT_DATA_ERROR, "an error outside GRAFT_DATA_ERROR");
  fuzz_check (strstr (error->message, name) != NULL, "an error that does not name the file");
}

/* Whatever the input: problems name the file, in valid UTF-8; classes are text; labels
 * and boxes are in range; a box has an area and stays in its image where its size is
 * known. */
static inline void
fuzz_check_dataset (GraftDataset *dataset,
                    const char   *name)
{
  for (guint i = 0; i < dataset->problems->len; i++)
    {
      GraftDataProblem *problem = g_ptr_array_index (dataset->problems, i);

      fuzz_check (g_strcmp0 (problem->file, name) == 0, "a problem about another file");
      fuzz_check (problem->message != NULL && strstr (problem->message, name) != NULL,
                  "a problem that does not name its file");
      fuzz_check (g_utf8_validate (problem->message, -1, NULL), "a problem that is not UTF-8");
    }
  for (guint i = 0; i < dataset->classes->len; i++)
    fuzz_check (g_utf8_validate (g_ptr_array_index (dataset->classes, i), -1, NULL),
                "a class name that is not UTF-8");
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);

      fuzz_check (sample->path != NULL && g_path_is_absolute (sample->path), "a relative path");
      fuzz_check (sample->name != NULL, "a sample without a name");
      fuzz_check (sample->label >= -1 && sample->label < (int) dataset->classes->len,
                  "a label outside the classes");
      for (guint b = 0; sample->boxes != NULL && b < sample->boxes->len; b++)
        {
          const GraftBox *box = &g_array_index (sample->boxes, GraftBox, b);

          fuzz_check (box->label < dataset->classes->len, "a box outside the classes");
          fuzz_check (isfinite (box->x) && isfinite (box->y) && isfinite (box->width)
                      && isfinite (box->height), "a box that is not finite");
          fuzz_check (box->width > 0 && box->height > 0 && box->x >= 0 && box->y >= 0,
                      "a box with no area or before the image");
          fuzz_check (sample->width == 0 || box->x + box->width <= sample->width * 1.0001f,
                      "a box beyond the image's width");
          fuzz_check (sample->height == 0 || box->y + box->height <= sample->height * 1.0001f,
                      "a box beyond the image's height");
        }
    }
}
