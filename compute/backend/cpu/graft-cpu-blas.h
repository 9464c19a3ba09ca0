/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The OpenBLAS kernel family ("SkylakeX", "Haswell", …) that suits this processor when
 * the loaded OpenBLAS fell back to generic kernels because it does not know the
 * processor, or NULL when its choice is fine. */
const char *graft_cpu_blas_better_core     (void);

/* Called first thing in main(): when OPENBLAS_CORETYPE is unset and
 * graft_cpu_blas_better_core() names a family, sets the variable and starts the program
 * again with @argv (OpenBLAS reads it only when loaded). Returns when nothing needs
 * doing or the restart failed. */
void        graft_cpu_blas_restart_if_slow (char **argv);

G_END_DECLS
