/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "graft-reference.h"
#include "graft-test-util.h"

static gboolean
require_torch (void)
{
  return g_strcmp0 (g_getenv ("GRAFT_TEST_REQUIRE_TORCH"), "1") == 0;
}

void
graft_reference_unavailable (const char *why)
{
  if (require_torch ())
    g_test_fail_printf ("%s (GRAFT_TEST_REQUIRE_TORCH=1)", why);
  else
    g_test_skip (why);
}

GraftSafetensors *
graft_reference_generate (const char  *script,
                          char       **why)
{
  return graft_reference_generate_args (script, NULL, why);
}

GraftSafetensors *
graft_reference_generate_args (const char        *script,
                               const char *const *args,
                               char             **why)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("graft-reference-XXXXXX", &error);
  g_autofree char *out = NULL;
  g_autofree char *script_path = g_test_build_filename (G_TEST_DIST, script, NULL);
  g_autofree char *stderr_text = NULL;
  GraftSafetensors *ref;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  int status = 0;

  g_assert_no_error (error);
  out = g_build_filename (dir, "reference.safetensors", NULL);
  /* Debian's interpreter holds python3-torch; GRAFT_TEST_PYTHON names another one (a
   * machine whose PyTorch lives elsewhere) */
  g_ptr_array_add (argv, (char *) (g_getenv ("GRAFT_TEST_PYTHON") != NULL ? g_getenv ("GRAFT_TEST_PYTHON")
                                                                          : "/usr/bin/python3"));
  g_ptr_array_add (argv, script_path);
  g_ptr_array_add (argv, out);
  for (guint i = 0; args != NULL && args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);

  if (!g_file_test (g_ptr_array_index (argv, 0), G_FILE_TEST_IS_EXECUTABLE) ||
      !g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                     NULL, &stderr_text, &status, &error) ||
      !g_spawn_check_wait_status (status, NULL))
    {
      *why = g_strdup_printf ("%s could not run (PyTorch missing? install python3-torch): %s",
                              script, error != NULL ? error->message
                                                    : (stderr_text != NULL ? stderr_text : ""));
      g_rmdir (dir);
      return NULL;
    }

  ref = graft_safetensors_open (out, &error);
  g_assert_no_error (error);
  /* The mapping stays valid after the name is gone. */
  g_unlink (out);
  g_rmdir (dir);
  return ref;
}

float *
graft_reference_read (GraftSafetensors *ref,
                      const char       *name,
                      guint            *rank,
                      gsize            *shape,
                      gsize            *n_elements)
{
  g_autoptr(GError) error = NULL;
  const GraftSafetensorsEntry *entry = graft_safetensors_lookup (ref, name);
  float *data;

  if (entry == NULL)
    g_error ("the reference file has no tensor %s", name);
  data = g_new (float, MAX (entry->n_elements, 1));
  g_assert_true (graft_safetensors_read_f32 (ref, name, entry->rank, entry->shape, data, &error));
  g_assert_no_error (error);
  if (rank != NULL)
    *rank = entry->rank;
  if (shape != NULL)
    memcpy (shape, entry->shape, entry->rank * sizeof (gsize));
  if (n_elements != NULL)
    *n_elements = entry->n_elements;
  return data;
}

double
graft_reference_error (const float *got,
                       const float *want,
                       gsize        n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = (double) got[i] - (double) want[i];
      diff += d * d;
      norm += (double) want[i] * (double) want[i];
    }
  return norm > 0.0 ? sqrt (diff / norm) : sqrt (diff);
}

GPtrArray *
graft_reference_backends (void)
{
  gboolean have_vulkan;
  GPtrArray *backends = graft_test_backends (&have_vulkan);

  if (!have_vulkan && graft_test_require_vulkan ())
    g_test_fail_printf ("no Vulkan device to check (GRAFT_TEST_REQUIRE_VULKAN=1)");
  return backends;
}
