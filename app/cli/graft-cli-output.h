/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <json-c/json.h>

#include "graft.h"

G_BEGIN_DECLS

typedef struct {
  gboolean colour;  /* stdout is a terminal that takes escape sequences */
} GraftCliStyle;

void      _graft_cli_style_init     (GraftCliStyle       *style);
/* A line in bold on a terminal. */
void      _graft_cli_print_heading  (const GraftCliStyle *style,
                                     const char          *format,
                                     ...) G_GNUC_PRINTF (2, 3);
/* @text cut with "…" to at most @width characters, not padded: a line's last column. */
void      _graft_cli_print_last_cell (const char         *text,
                                     int                  width);
/* @text in @width columns, cut with "…" if longer; on the right of the cell when @right. */
void      _graft_cli_print_cell     (const char          *text,
                                     int                  width,
                                     gboolean             right);
/* @text right-aligned, green (@sign > 0) or red (< 0) on a terminal. */
void      _graft_cli_print_signed   (const GraftCliStyle *style,
                                     const char          *text,
                                     int                  width,
                                     int                  sign);
/* Characters, not bytes. */
int       _graft_cli_text_width     (const char          *text);
void      _graft_cli_print_json     (json_object         *root,
                                     gboolean             one_line);
/* FALSE with a message naming @project when it is not a project's folder. */
gboolean  _graft_cli_check_project  (const char          *project);
/* The run, or NULL with a message naming it. */
GraftRun *_graft_cli_open_run       (const char          *project,
                                     const char          *id);

G_END_DECLS
