/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SPIR-V compiled from the .comp files in shaders/ at build time and linked into libgraft. */
typedef struct {
  const char     *name;        /* file name without ".comp": "gemm_tiled" */
  const uint32_t *code;        /* storage buffers bound as descriptors */
  size_t          size;        /* in bytes */
  /* The same shader reaching its storage buffers through device addresses: the push
   * constants start with @address_slots uvec2 addresses (binding i at byte 8 * i),
   * followed by the shader's own parameters. */
  const uint32_t *code_addr;
  size_t          size_addr;
  unsigned        address_slots;
} GraftShaderCode;

/* NULL when no shader of that name was built. */
const GraftShaderCode *graft_shader_find (const char *name);
