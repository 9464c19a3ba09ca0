/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-fuzz"

/* libFuzzer target: COCO instances files through graft_dataset_parse_coco, into a
 * throwaway dataset, with images looked for in a scratch folder that holds a few files
 * (see fuzz-dataset.h). Seeds: corpus/coco/. */

#include "fuzz-dataset.h"

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
  static const char name[] = "fuzzed.json";
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_DETECTION,
                                                       GRAFT_DATASET_FORMAT_COCO, NULL);
  g_autoptr(GError) error = NULL;

  if (!graft_dataset_parse_coco (dataset, (const char *) data, size, name, fuzz_dir, &error))
    {
      fuzz_check_error (error, name);
      fuzz_check (dataset->samples->len == 0, "samples from a file that did not parse");
      return 0;
    }
  fuzz_check (error == NULL, "a parse that succeeded and set an error");
  fuzz_check_dataset (dataset, name);
  return 0;
}
