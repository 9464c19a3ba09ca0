/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-fuzz"

/* libFuzzer target: YOLO labels files through graft_dataset_parse_yolo_labels, for a
 * sample of 640 × 480 pixels in a throwaway dataset (with three classes, or none so that
 * classes grow from the ids met, picked by the input's length), and the same bytes as a
 * data.yaml through the reader of its names key. Seeds: corpus/yolo/. */

#include "fuzz-dataset.h"
#include "data/graft-dataset-private.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  (void) argc, (void) argv;
  fuzz_dataset_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  static const char name[] = "fuzzed.txt";
  static const char yaml[] = "data.yaml";
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION,
                                                       GRAFT_DATASET_FORMAT_YOLO, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  g_autofree char *path = g_build_filename (fuzz_dir, "a.png", NULL);
  GraftSample *sample;
  guint n_classes;

  if (size % 2 == 0)
    {
      graft_dataset_add_class (dataset, "person");
      graft_dataset_add_class (dataset, "bicycle");
      graft_dataset_add_class (dataset, "car");
    }
  n_classes = dataset->classes->len;
  sample = graft_dataset_add_sample (dataset, g_strdup (path), g_strdup ("a.png"), -1);
  sample->width = 640;
  sample->height = 480;
  if (!graft_dataset_parse_yolo_labels (dataset, sample, (const char *) data, size, name, &error))
    {
      fuzz_check_error (error, name);
      fuzz_check (sample->boxes->len == 0, "boxes from a file that did not parse");
    }
  else
    fuzz_check (error == NULL, "a parse that succeeded and set an error");
  g_clear_error (&error);
  fuzz_check_dataset (dataset, name);
  fuzz_check (n_classes == 0 || dataset->classes->len == n_classes, "a fixed class list grew");

  if (_graft_dataset_parse_yolo_names ((const char *) data, size, yaml, names, &error))
    {
      fuzz_check (error == NULL, "names read and an error set");
      for (guint i = 0; i < names->len; i++)
        fuzz_check (g_utf8_validate (g_ptr_array_index (names, i), -1, NULL)
                    && *(const char *) g_ptr_array_index (names, i) != '\0',
                    "a class name that is empty or not UTF-8");
    }
  else
    fuzz_check_error (error, yaml);
  return 0;
}
