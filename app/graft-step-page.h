/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "graft-step.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_STEP_PAGE (graft_step_page_get_type ())
G_DECLARE_FINAL_TYPE (GraftStepPage, graft_step_page, GRAFT, STEP_PAGE, AdwBin)

GtkWidget *graft_step_page_new      (GraftStep      step);
GraftStep  graft_step_page_get_step (GraftStepPage *self);

G_END_DECLS
