/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cpu"

/* OpenBLAS picks its kernels once, when it is loaded, from the processor's family and
 * model. A processor newer than the library (Debian 12's OpenBLAS 0.3.21 does not know
 * Sapphire or Emerald Rapids, for one) gets the oldest kernels it has, which run
 * several times slower than the processor's vector units allow. OpenBLAS takes the
 * kernel family from OPENBLAS_CORETYPE instead when it is set, but only at load time:
 * so a program that finds such a mismatch sets it from the processor's features and
 * starts itself again, once. A value the user (or a test) set is always respected. */

#include <cblas.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "graft-cpu-blas.h"

/* The kernel families of OpenBLAS's that its generic fallbacks are slower than. */
static gboolean
is_fallback_core (const char *core)
{
  static const char *const fallbacks[] = {
    "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai", "Coppermine",
    "Northwood", "Banias", "unknown",
  };

  for (guint i = 0; i < G_N_ELEMENTS (fallbacks); i++)
    if (g_ascii_strcasecmp (core, fallbacks[i]) == 0)
      return TRUE;
  return FALSE;
}

const char *
graft_cpu_blas_better_core (void)
{
  const char *core = openblas_get_corename ();

  if (core == NULL || !is_fallback_core (core))
    return NULL;
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init ();
  if (__builtin_cpu_supports ("avx512f") && __builtin_cpu_supports ("avx512bw") &&
      __builtin_cpu_supports ("avx512dq") && __builtin_cpu_supports ("avx512vl"))
    return "SkylakeX";
  if (__builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma"))
    return "Haswell";
  if (__builtin_cpu_supports ("avx"))
    return "Sandybridge";
#endif
  return NULL;
}

void
graft_cpu_blas_restart_if_slow (char **argv)
{
  const char *core;

  if (g_getenv ("OPENBLAS_CORETYPE") != NULL)
    return;
  core = graft_cpu_blas_better_core ();
  if (core == NULL)
    return;
  g_setenv ("OPENBLAS_CORETYPE", core, TRUE);
  execv ("/proc/self/exe", argv);
  /* not restarted: carry on with the slower kernels */
  g_debug ("could not restart with OPENBLAS_CORETYPE=%s: %s", core, g_strerror (errno));
}
