/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <adwaita.h>

#include "graft-device-manager.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_APPLICATION (graft_application_get_type ())
G_DECLARE_FINAL_TYPE (GraftApplication, graft_application, GRAFT, APPLICATION, AdwApplication)

GraftApplication   *graft_application_new                (void);
GSettings          *graft_application_get_settings       (GraftApplication *self);
GraftDeviceManager *graft_application_get_device_manager (GraftApplication *self);

G_END_DECLS
