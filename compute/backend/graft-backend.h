/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

#include "graft-device.h"

G_BEGIN_DECLS

/* An opened compute device. Every tensor and op belongs to exactly one backend.
 * A backend is used from one thread at a time. Reference counted. */
typedef struct _GraftBackend GraftBackend;

/* Lists the devices and opens the one @selector names (see graft_device_select()). */
GraftBackend          *graft_backend_open         (const char             *selector,
                                                   GError                **error);
GraftBackend          *graft_backend_open_device  (const GraftDeviceInfo  *info,
                                                   GError                **error);
GraftBackend          *graft_backend_ref          (GraftBackend           *self);
void                   graft_backend_unref        (GraftBackend           *self);
const GraftDeviceInfo *graft_backend_get_info     (GraftBackend           *self);
/* Waits until every op recorded so far has finished. Reports a lost device. */
gboolean               graft_backend_synchronize  (GraftBackend           *self,
                                                   GError                **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftBackend, graft_backend_unref)

G_END_DECLS
