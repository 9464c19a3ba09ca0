/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-fuzz"

/* libFuzzer target: JPEG files through graft_image_probe_bytes and
 * graft_image_decode_bytes (see fuzz-image.h). Seeds: corpus/jpeg/. */

#include "fuzz-image.h"

int LLVMFuzzerInitialize (int *argc, char ***argv);
int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  (void) argc, (void) argv;
  fuzz_image_init ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  return fuzz_image (data, size, GRAFT_IMAGE_FORMAT_JPEG, "fuzzed.jpg");
}
