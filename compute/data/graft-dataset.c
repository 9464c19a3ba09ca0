/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <stdarg.h>
#include <string.h>

#include "graft-dataset.h"

static const char *const format_names[] = { "auto", "folder", "csv", "yolo", "coco" };

const char *
graft_dataset_format_to_string (GraftDatasetFormat format)
{
  return (guint) format < G_N_ELEMENTS (format_names) ? format_names[format] : "unknown";
}

gboolean
graft_dataset_format_from_string (const char         *text,
                                  GraftDatasetFormat *format)
{
  g_return_val_if_fail (text != NULL && format != NULL, FALSE);

  for (guint i = 0; i < G_N_ELEMENTS (format_names); i++)
    if (g_ascii_strcasecmp (text, format_names[i]) == 0)
      {
        *format = (GraftDatasetFormat) i;
        return TRUE;
      }
  return FALSE;
}

const char *
graft_split_to_string (GraftSplit split)
{
  switch (split)
    {
    case GRAFT_SPLIT_TRAIN: return "train";
    case GRAFT_SPLIT_VAL: return "val";
    case GRAFT_SPLIT_TEST: return "test";
    case GRAFT_SPLIT_NONE:
    default: return "none";
    }
}

const char *
graft_data_problem_kind_to_string (GraftDataProblemKind kind)
{
  switch (kind)
    {
    case GRAFT_DATA_PROBLEM_UNREADABLE: return "unreadable";
    case GRAFT_DATA_PROBLEM_MISSING_FILE: return "missing-file";
    case GRAFT_DATA_PROBLEM_PARSE: return "parse";
    case GRAFT_DATA_PROBLEM_UNKNOWN_LABEL: return "unknown-label";
    case GRAFT_DATA_PROBLEM_DUPLICATE: return "duplicate";
    case GRAFT_DATA_PROBLEM_LEAKAGE: return "leakage";
    case GRAFT_DATA_PROBLEM_SMALL_IMAGE: return "small-image";
    case GRAFT_DATA_PROBLEM_BOX_OUTSIDE: return "box-outside";
    case GRAFT_DATA_PROBLEM_BOX_EMPTY: return "box-empty";
    case GRAFT_DATA_PROBLEM_NO_LABEL: return "no-label";
    default: return "unknown";
    }
}

static void
sample_free (gpointer data)
{
  GraftSample *sample = data;

  g_free (sample->path);
  g_free (sample->name);
  g_clear_pointer (&sample->boxes, g_array_unref);
  g_free (sample);
}

static void
problem_free (gpointer data)
{
  GraftDataProblem *problem = data;

  g_free (problem->file);
  g_free (problem->message);
  g_free (problem->other);
  g_free (problem);
}

GraftDataset *
graft_dataset_new (GraftTask           task,
                   GraftDatasetFormat  format,
                   const char         *root)
{
  GraftDataset *self = g_new0 (GraftDataset, 1);

  self->task = task;
  self->format = format;
  self->root = g_strdup (root);
  self->classes = g_ptr_array_new_with_free_func (g_free);
  self->samples = g_ptr_array_new_with_free_func (sample_free);
  self->problems = g_ptr_array_new_with_free_func (problem_free);
  return self;
}

void
graft_dataset_free (GraftDataset *self)
{
  if (self == NULL)
    return;
  g_free (self->root);
  g_ptr_array_unref (self->classes);
  g_ptr_array_unref (self->samples);
  g_ptr_array_unref (self->problems);
  g_free (self);
}

int
graft_dataset_find_class (GraftDataset *self,
                          const char   *name)
{
  g_return_val_if_fail (self != NULL && name != NULL, -1);

  for (guint i = 0; i < self->classes->len; i++)
    if (g_str_equal (g_ptr_array_index (self->classes, i), name))
      return (int) i;
  return -1;
}

guint
graft_dataset_add_class (GraftDataset *self,
                         const char   *name)
{
  int found;

  g_return_val_if_fail (self != NULL && name != NULL, 0);

  found = graft_dataset_find_class (self, name);
  if (found >= 0)
    return (guint) found;
  g_ptr_array_add (self->classes, g_strdup (name));
  return self->classes->len - 1;
}

GraftSample *
graft_dataset_add_sample (GraftDataset *self,
                          char         *path,
                          char         *name,
                          int           label)
{
  GraftSample *sample;

  g_return_val_if_fail (self != NULL && path != NULL && name != NULL, NULL);

  sample = g_new0 (GraftSample, 1);
  sample->path = path;
  sample->name = name;
  sample->label = label;
  sample->usable = TRUE;
  if (self->task == GRAFT_TASK_DETECTION)
    sample->boxes = g_array_new (FALSE, FALSE, sizeof (GraftBox));
  g_ptr_array_add (self->samples, sample);
  return sample;
}

void
graft_dataset_add_problem (GraftDataset         *self,
                           GraftDataProblemKind  kind,
                           const char           *file,
                           guint                 line,
                           const char           *other,
                           const char           *format,
                           ...)
{
  GraftDataProblem *problem;
  va_list args;

  g_return_if_fail (self != NULL && format != NULL);

  problem = g_new0 (GraftDataProblem, 1);
  problem->kind = kind;
  problem->file = g_strdup (file);
  problem->line = line;
  problem->other = g_strdup (other);
  va_start (args, format);
  problem->message = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (self->problems, problem);
}
