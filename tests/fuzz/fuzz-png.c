/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-fuzz"

/* libFuzzer target: PNG files through graft_image_probe_bytes and
 * graft_image_decode_bytes (see fuzz-image.h). Seeds: corpus/png/.
 *
 * libpng checks each chunk's CRC, so nearly every mutation would stop there. The target
 * therefore decodes two copies of an input: as it is, and with every chunk's CRC made
 * right again, so that mutations reach the chunk parsers, zlib and the row filters. */

#include <zlib.h>

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

static gboolean
fix_crcs (uint8_t *data,
          size_t   size)
{
  gboolean changed = FALSE;

  for (size_t pos = 8; size - pos >= 12;)
    {
      uint32_t length = (uint32_t) data[pos] << 24 | (uint32_t) data[pos + 1] << 16
                        | (uint32_t) data[pos + 2] << 8 | data[pos + 3];
      uint8_t *crc_at;
      uint32_t crc;

      if (length > size - pos - 12)
        break;
      crc = (uint32_t) crc32 (0, data + pos + 4, length + 4);
      crc_at = data + pos + 8 + length;
      if (crc_at[0] != (uint8_t) (crc >> 24) || crc_at[1] != (uint8_t) (crc >> 16)
          || crc_at[2] != (uint8_t) (crc >> 8) || crc_at[3] != (uint8_t) crc)
        {
          crc_at[0] = (uint8_t) (crc >> 24), crc_at[1] = (uint8_t) (crc >> 16);
          crc_at[2] = (uint8_t) (crc >> 8), crc_at[3] = (uint8_t) crc;
          changed = TRUE;
        }
      pos += (size_t) length + 12;
    }
  return changed;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autofree uint8_t *fixed = NULL;

  if (fuzz_image (data, size, GRAFT_IMAGE_FORMAT_PNG, "fuzzed.png") < 0)
    return -1;
  fixed = g_memdup2 (data, size);
  if (fix_crcs (fixed, size))
    fuzz_image (fixed, size, GRAFT_IMAGE_FORMAT_PNG, "fuzzed.png");
  return 0;
}
