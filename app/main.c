/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-app"

#include "graft-config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "graft-application.h"
#include "graft.h"

/* TRUE when @dir holds a catalogue of ours for one of the user's languages. */
static gboolean
has_catalog (const char *dir)
{
  const char * const *languages = g_get_language_names ();

  for (guint i = 0; languages[i] != NULL; i++)
    {
      g_autofree char *mo = g_build_filename (dir, languages[i], "LC_MESSAGES",
                                              GETTEXT_PACKAGE ".mo", NULL);

      if (g_file_test (mo, G_FILE_TEST_IS_REGULAR))
        return TRUE;
    }

  return FALSE;
}

/* Installed translations, or those of the build folder when the application runs from
 * it: GRAFT_UNINSTALLED is set, or only the build folder has a catalogue. */
static const char *
graft_locale_dir (void)
{
  if (g_getenv ("GRAFT_UNINSTALLED") != NULL)
    return GRAFT_BUILD_LOCALEDIR;

  if (!has_catalog (GRAFT_LOCALEDIR) && has_catalog (GRAFT_BUILD_LOCALEDIR))
    return GRAFT_BUILD_LOCALEDIR;

  return GRAFT_LOCALEDIR;
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GraftApplication) application = NULL;

  graft_cpu_blas_restart_if_slow (argv);
  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, graft_locale_dir ());
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

  g_set_application_name (_("Graft"));

  application = graft_application_new ();

  return g_application_run (G_APPLICATION (application), argc, argv);
}
