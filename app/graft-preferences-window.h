/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "graft-device-manager.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_PREFERENCES_WINDOW (graft_preferences_window_get_type ())
G_DECLARE_FINAL_TYPE (GraftPreferencesWindow, graft_preferences_window, GRAFT, PREFERENCES_WINDOW, AdwPreferencesWindow)

GtkWidget    *graft_preferences_window_new            (GraftDeviceManager     *device_manager);
gboolean      graft_preferences_window_get_listing    (GraftPreferencesWindow *self);
guint         graft_preferences_window_get_n_devices  (GraftPreferencesWindow *self);
char        **graft_preferences_window_dup_device_ids (GraftPreferencesWindow *self);
AdwActionRow *graft_preferences_window_get_device_row (GraftPreferencesWindow *self,
                                                       const char             *device_id);

G_END_DECLS
