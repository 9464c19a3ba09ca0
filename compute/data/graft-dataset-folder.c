/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

/* A folder per class: the class is the folder's name, its images are the PNG and JPEG
 * files in it (and in folders below it), told by their first bytes. Folders named train,
 * val (valid, validation) and test hold class folders and fix their samples' split.
 * Samples are sorted by name, so the same folder always imports the same way. */

#include <string.h>

#include "graft-dataset-private.h"

typedef struct {
  char       *path;
  char       *name;   /* relative to the root */
  char       *klass;  /* the class folder's name; NULL for a file outside any */
  GraftSplit  split;
} Candidate;

static void
candidate_free (gpointer data)
{
  Candidate *candidate = data;

  g_free (candidate->path);
  g_free (candidate->name);
  g_free (candidate->klass);
  g_free (candidate);
}

static int
compare_candidates (gconstpointer a,
                    gconstpointer b)
{
  const Candidate *ca = *(const Candidate * const *) a;
  const Candidate *cb = *(const Candidate * const *) b;

  return strcmp (ca->name, cb->name);
}

static int
compare_strings (gconstpointer a,
                 gconstpointer b)
{
  return strcmp (*(const char * const *) a, *(const char * const *) b);
}

typedef struct {
  GraftDataset     *dataset;
  GraftDatasetJob  *job;
  GPtrArray        *candidates;
  GraftProblemSink  sink;
} Walk;

static void
add_candidate (Walk       *walk,
               const char *path,
               const char *name,
               const char *klass,
               GraftSplit  split)
{
  Candidate *candidate = g_new0 (Candidate, 1);

  candidate->path = g_strdup (path);
  candidate->name = g_strdup (name);
  /* a class name is shown and saved as text: a folder name that is not UTF-8 is shown
   * the way file managers show it */
  candidate->klass = klass != NULL ? g_filename_display_name (klass) : NULL;
  candidate->split = split;
  g_ptr_array_add (walk->candidates, candidate);
}

/* The files below @dir (shown as @name), all of class @klass. */
static gboolean
walk_class (Walk        *walk,
            const char  *dir,
            const char  *name,
            const char  *klass,
            GraftSplit   split,
            guint        depth,
            GError     **error)
{
  g_autoptr(GError) local_error = NULL;
  g_autoptr(GPtrArray) children = _graft_dataset_list_dir (dir, &local_error);

  if (children == NULL)
    {
      walk->sink.file = name;
      _graft_problem_sink_add (&walk->sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                               "The folder %s could not be read (%s); its images are left out: "
                               "check its permissions", name, local_error->message);
      return TRUE;
    }
  for (guint i = 0; i < children->len; i++)
    {
      const char *child = g_ptr_array_index (children, i);
      g_autofree char *path = g_build_filename (dir, child, NULL);
      g_autofree char *child_name = g_build_filename (name, child, NULL);

      if (g_cancellable_set_error_if_cancelled (walk->job->cancellable, error))
        return FALSE;
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          walk->sink.file = child_name;
          if (depth + 1 >= _GRAFT_DATASET_MAX_DEPTH)
            _graft_problem_sink_add (&walk->sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                                     "The folder %s lies more than %u folders deep (a link "
                                     "that loops?); its images are left out",
                                     child_name, _GRAFT_DATASET_MAX_DEPTH);
          else if (!walk_class (walk, path, child_name, klass, split, depth + 1, error))
            return FALSE;
        }
      else
        add_candidate (walk, path, child_name, klass, split);
    }
  return TRUE;
}

/* The root, or a split folder in it: each folder in it is a class, files are outside
 * any class. */
static gboolean
walk_classes (Walk        *walk,
              const char  *dir,
              const char  *prefix,
              GraftSplit   split,
              GError     **error)
{
  g_autoptr(GPtrArray) children = _graft_dataset_list_dir (dir, error);

  if (children == NULL)
    return FALSE;
  for (guint i = 0; i < children->len; i++)
    {
      const char *child = g_ptr_array_index (children, i);
      g_autofree char *path = g_build_filename (dir, child, NULL);
      g_autofree char *name = prefix != NULL ? g_build_filename (prefix, child, NULL)
                                             : g_strdup (child);
      GraftSplit child_split;

      if (g_cancellable_set_error_if_cancelled (walk->job->cancellable, error))
        return FALSE;
      if (!g_file_test (path, G_FILE_TEST_IS_DIR))
        {
          add_candidate (walk, path, name, NULL, split);
          continue;
        }
      child_split = prefix == NULL ? _graft_dataset_split_from_name (child) : GRAFT_SPLIT_NONE;
      if (child_split != GRAFT_SPLIT_NONE)
        {
          if (!walk_classes (walk, path, child, child_split, error))
            return FALSE;
        }
      else if (!walk_class (walk, path, name, child, split, 0, error))
        return FALSE;
    }
  return TRUE;
}

GraftDataset *
_graft_dataset_import_folder (const char       *path,
                              GraftDatasetJob  *job,
                              GError          **error)
{
  g_autoptr(GraftDataset) dataset = NULL;
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (candidate_free);
  g_autoptr(GPtrArray) accepted = g_ptr_array_new ();
  g_autoptr(GPtrArray) classes = g_ptr_array_new ();
  g_autoptr(GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  Walk walk;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_UNSUPPORTED,
                   "%s is a file, and a dataset of class folders is a folder; choose the "
                   "folder that holds one folder per class", path);
      return NULL;
    }

  dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION, GRAFT_DATASET_FORMAT_FOLDER, path);
  walk.dataset = dataset;
  walk.job = job;
  walk.candidates = candidates;
  _graft_problem_sink_init (&walk.sink, dataset, NULL);
  walk.sink.limit = G_MAXUINT;
  if (!walk_classes (&walk, path, NULL, GRAFT_SPLIT_NONE, error))
    return NULL;
  g_ptr_array_sort (candidates, compare_candidates);

  for (guint i = 0; i < candidates->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (candidates, i);
      g_autofree char *reason = NULL;

      if (g_cancellable_set_error_if_cancelled (job->cancellable, error))
        return NULL;
      if (_graft_dataset_sniff_image (candidate->path, &reason))
        {
          if (candidate->klass != NULL)
            {
              g_ptr_array_add (accepted, candidate);
              if (g_hash_table_add (seen, candidate->klass))
                g_ptr_array_add (classes, candidate->klass);
            }
          else
            {
              walk.sink.file = candidate->name;
              _graft_problem_sink_add (&walk.sink, GRAFT_DATA_PROBLEM_NO_LABEL, 0,
                                       "%s is not inside a class folder, so it has no class; "
                                       "move it into the folder of its class",
                                       candidate->name);
            }
        }
      else if (reason != NULL)
        {
          walk.sink.file = candidate->name;
          _graft_problem_sink_add (&walk.sink, GRAFT_DATA_PROBLEM_UNREADABLE, 0,
                                   "%s is left out: %s", candidate->name, reason);
        }
      _graft_dataset_job_step (job, candidates->len);
    }

  g_ptr_array_sort (classes, compare_strings);
  for (guint i = 0; i < classes->len; i++)
    graft_dataset_add_class (dataset, g_ptr_array_index (classes, i));
  for (guint i = 0; i < accepted->len; i++)
    {
      Candidate *candidate = g_ptr_array_index (accepted, i);
      GraftSample *sample;

      sample = graft_dataset_add_sample (dataset, g_steal_pointer (&candidate->path),
                                         g_steal_pointer (&candidate->name),
                                         graft_dataset_find_class (dataset, candidate->klass));
      sample->split = candidate->split;
      sample->split_fixed = candidate->split != GRAFT_SPLIT_NONE;
    }
  return g_steal_pointer (&dataset);
}
