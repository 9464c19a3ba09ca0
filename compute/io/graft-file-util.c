/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-io"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "graft-file-util.h"

gboolean
graft_remove_tree (const char *path)
{
  gboolean ok = TRUE;
  GStatBuf st;

  g_return_val_if_fail (path != NULL, FALSE);

  if (g_lstat (path, &st) != 0)
    return errno == ENOENT;
  if (S_ISDIR (st.st_mode))
    {
      g_autoptr(GDir) folder = g_dir_open (path, 0, NULL);
      const char *name;

      while (folder != NULL && (name = g_dir_read_name (folder)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          ok &= graft_remove_tree (child);
        }
      if (g_rmdir (path) != 0)
        {
          g_debug ("Could not remove %s: %s", path, g_strerror (errno));
          ok = FALSE;
        }
    }
  else if (g_unlink (path) != 0)
    {
      g_debug ("Could not remove %s: %s", path, g_strerror (errno));
      ok = FALSE;
    }
  return ok;
}
