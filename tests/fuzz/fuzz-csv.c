/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-fuzz"

/* libFuzzer target: CSV label files through graft_dataset_parse_csv, into a throwaway
 * dataset, with paths relative to a scratch folder that holds a few files (see
 * fuzz-dataset.h). Seeds: corpus/csv/. */

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
  static const char name[] = "fuzzed.csv";
  g_autoptr(GraftDataset) dataset = graft_dataset_new (GRAFT_TASK_CLASSIFICATION,
                                                       GRAFT_DATASET_FORMAT_CSV, NULL);
  g_autoptr(GError) error = NULL;

  /* an odd length starts from a class list, which integer labels then index */
  if (size % 2 == 1)
    {
      graft_dataset_add_class (dataset, "cat");
      graft_dataset_add_class (dataset, "dog");
    }
  if (!graft_dataset_parse_csv (dataset, (const char *) data, size, name, fuzz_dir, &error))
    {
      fuzz_check_error (error, name);
      fuzz_check (dataset->samples->len == 0, "samples from a file that did not parse");
      return 0;
    }
  fuzz_check (error == NULL, "a parse that succeeded and set an error");
  fuzz_check_dataset (dataset, name);
  for (guint i = 0; i < dataset->samples->len; i++)
    fuzz_check (((GraftSample *) g_ptr_array_index (dataset->samples, i))->label >= 0,
                "a CSV sample without a class");
  return 0;
}
