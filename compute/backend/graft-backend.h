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

/* Recorded work: a sequence of ops captured once and run again (a whole training step).
 * Only some backends record (Vulkan does, the CPU does not); see can_record.
 * Between record_begin and record_end ops are captured, not run, and reading, writing
 * or synchronizing fails with GRAFT_DEVICE_ERROR. Replaying runs the captured ops on
 * whatever the buffers hold then; values that change from run to run must live in
 * buffers, not in op arguments. A recording keeps the buffers it uses alive. */
typedef struct _GraftRecording GraftRecording;

gboolean               graft_backend_can_record   (GraftBackend           *self);
gboolean               graft_backend_record_begin (GraftBackend           *self,
                                                   GError                **error);
GraftRecording        *graft_backend_record_end   (GraftBackend           *self,
                                                   GError                **error);
gboolean               graft_backend_replay       (GraftBackend           *self,
                                                   GraftRecording         *recording,
                                                   GError                **error);
void                   graft_backend_recording_free (GraftBackend         *self,
                                                   GraftRecording         *recording);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftBackend, graft_backend_unref)

G_END_DECLS
