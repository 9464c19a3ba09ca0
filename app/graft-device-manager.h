/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib-object.h>

#include "graft.h"

G_BEGIN_DECLS

#define GRAFT_TYPE_DEVICE_MANAGER (graft_device_manager_get_type ())
G_DECLARE_FINAL_TYPE (GraftDeviceManager, graft_device_manager, GRAFT, DEVICE_MANAGER, GObject)

GraftDeviceManager    *graft_device_manager_new              (void);

/* Opening: the compute device the application uses. */
void                   graft_device_manager_open             (GraftDeviceManager *self,
                                                              const char         *selector);
const char            *graft_device_manager_get_selector     (GraftDeviceManager *self);
gboolean               graft_device_manager_get_busy         (GraftDeviceManager *self);
GraftBackend          *graft_device_manager_get_backend      (GraftDeviceManager *self);
const char            *graft_device_manager_get_device_id    (GraftDeviceManager *self);
const char            *graft_device_manager_get_label        (GraftDeviceManager *self);
const char            *graft_device_manager_get_description  (GraftDeviceManager *self);

/* Listing: every device of the machine, for the preferences. */
void                   graft_device_manager_refresh          (GraftDeviceManager *self);
gboolean               graft_device_manager_get_listing      (GraftDeviceManager *self);
GPtrArray             *graft_device_manager_get_devices      (GraftDeviceManager *self);
const GError          *graft_device_manager_get_vulkan_error (GraftDeviceManager *self);

char                  *graft_device_manager_format_label     (const GraftDeviceInfo *info);

G_END_DECLS
