/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* Aligned tables, colour on a terminal, JSON on stdout, and the project and runs named on
 * the command line, for the commands that show runs (graft-cli-runs.c, -compare.c). */

#include <json-c/json.h>
#include <stdio.h>
#include <unistd.h>

#include "graft.h"
#include "graft-cli-output.h"
#include "graft-cli-private.h"

void
_graft_cli_style_init (GraftCliStyle *style)
{
  const char *term = g_getenv ("TERM");

  style->colour = isatty (STDOUT_FILENO) && g_getenv ("NO_COLOR") == NULL &&
                  term != NULL && !g_str_equal (term, "dumb");
}

void
_graft_cli_print_heading (const GraftCliStyle *style,
               const char  *format,
               ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  if (style->colour)
    printf ("\033[1m%s\033[0m\n", text);
  else
    printf ("%s\n", text);
}

/* @text cut with "…" to at most @width characters (not bytes), not padded: the last
 * column of a line. */
void
_graft_cli_print_last_cell (const char *text,
                 int         width)
{
  if (g_utf8_strlen (text, -1) > width)
    {
      g_autofree char *cut = g_utf8_substring (text, 0, MAX (width - 1, 0));

      printf ("%s…", cut);
    }
  else
    printf ("%s", text);
}

/* @text in @width columns, cut with "…" if longer; on the right of the cell when @right. */
void
_graft_cli_print_cell (const char *text,
            int         width,
            gboolean    right)
{
  glong length = g_utf8_strlen (text, -1);

  if (length > width)
    _graft_cli_print_last_cell (text, width);
  else if (right)
    printf ("%*s%s", (int) (width - length), "", text);
  else
    printf ("%s%*s", text, (int) (width - length), "");
}

/* @text coloured green (@sign > 0) or red (< 0) on a terminal. */
void
_graft_cli_print_signed (const GraftCliStyle *style,
              const char  *text,
              int          width,
              int          sign)
{
  if (style->colour && sign != 0)
    printf ("\033[%sm", sign > 0 ? "32" : "31");
  _graft_cli_print_cell (text, width, TRUE);
  if (style->colour && sign != 0)
    printf ("\033[0m");
}

int
_graft_cli_text_width (const char *text)
{
  return (int) g_utf8_strlen (text, -1);
}

void
_graft_cli_print_json (json_object *root,
            gboolean     one_line)
{
  int flags = JSON_C_TO_STRING_NOSLASHESCAPE;

  flags |= one_line ? JSON_C_TO_STRING_PLAIN : JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED;
  printf ("%s\n", json_object_to_json_string_ext (root, flags));
}

/* FALSE with a message naming @project when it is not a project's folder. */
gboolean
_graft_cli_check_project (const char *project)
{
  g_autofree char *file = g_build_filename (project, GRAFT_PROJECT_FILE, NULL);

  if (!g_file_test (project, G_FILE_TEST_IS_DIR))
    {
      _graft_cli_error ("%s: no such folder; give the folder of a project (graft-cli import "
                        "makes one)", project);
      return FALSE;
    }
  if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
    {
      _graft_cli_error ("%s is not a Graft project: it holds no %s (graft-cli import makes "
                        "one)", project, GRAFT_PROJECT_FILE);
      return FALSE;
    }
  return TRUE;
}

GraftRun *
_graft_cli_open_run (const char *project,
          const char *id)
{
  g_autoptr(GError) error = NULL;
  GraftRun *run = graft_run_open (project, id, &error);

  if (run == NULL)
    _graft_cli_error ("run %s: %s", id, error->message);
  return run;
}
