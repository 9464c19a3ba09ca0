/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <gtk/gtk.h>

#include "graft-step.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_STEP_ROW (graft_step_row_get_type ())
G_DECLARE_FINAL_TYPE (GraftStepRow, graft_step_row, GRAFT, STEP_ROW, GtkListBoxRow)

GtkWidget *graft_step_row_new      (GraftStep     step);
GraftStep  graft_step_row_get_step (GraftStepRow *self);

G_END_DECLS
