/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Removes @path and, if it is a folder (not a link to one), everything below it: for
 * trees Graft wrote itself (a scratch folder, a dataset being replaced). What cannot be
 * removed is left, with a debug message; FALSE if anything was left. */
gboolean graft_remove_tree (const char *path);

G_END_DECLS
