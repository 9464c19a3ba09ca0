/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SPIR-V compiled from the .comp files in shaders/ at build time and linked into libgraft. */
typedef struct {
  const char     *name;   /* file name without ".comp": "gemm_tiled" */
  const uint32_t *code;
  size_t          size;   /* in bytes */
} GraftShaderCode;

/* NULL when no shader of that name was built. */
const GraftShaderCode *graft_shader_find (const char *name);
