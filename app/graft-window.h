/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "graft-application.h"
#include "graft-step.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_WINDOW (graft_window_get_type ())
G_DECLARE_FINAL_TYPE (GraftWindow, graft_window, GRAFT, WINDOW, AdwApplicationWindow)

GraftWindow *graft_window_new      (GraftApplication *application);
GraftStep    graft_window_get_step (GraftWindow      *self);
void         graft_window_set_step (GraftWindow      *self,
                                    GraftStep         step);

G_END_DECLS
