/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Reference tests hold Graft against PyTorch: a script under tests/reference/ writes
 * PyTorch's inputs and answers into a safetensors file, and the test compares. */

#include "graft.h"

/* Runs /usr/bin/python3 (or $GRAFT_TEST_PYTHON) tests/reference/SCRIPT OUTPUT in a fresh temporary folder and
 * opens OUTPUT; when the script cannot run (no PyTorch), returns NULL and says why. */
GraftSafetensors *graft_reference_generate    (const char  *script,
                                               char       **why);
/* The same with extra arguments after OUTPUT (NULL-terminated, may be NULL). */
GraftSafetensors *graft_reference_generate_args (const char        *script,
                                                 const char *const *args,
                                                 char             **why);
/* Inside a test without answers: skipped, or failed when GRAFT_TEST_REQUIRE_TORCH=1. */
void              graft_reference_unavailable (const char  *why);

/* Reads tensor @name (any shape) as float32; *n_elements receives its size. */
float            *graft_reference_read     (GraftSafetensors *ref,
                                            const char       *name,
                                            guint            *rank,
                                            gsize            *shape,
                                            gsize            *n_elements);

/* ||got - want||_2 / ||want||_2 in double precision. */
double            graft_reference_error    (const float      *got,
                                            const float      *want,
                                            gsize             n);

/* Every backend to check: the CPU backend and, when there is one, the first Vulkan
 * device (a missing one fails when GRAFT_TEST_REQUIRE_VULKAN=1). */
GPtrArray        *graft_reference_backends (void);
