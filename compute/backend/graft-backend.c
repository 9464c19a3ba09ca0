/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-backend"

#include "graft-backend-private.h"

void
_graft_backend_init (GraftBackend          *self,
                     const GraftBackendOps *ops,
                     const GraftDeviceInfo *info)
{
  self->ops = ops;
  self->info = graft_device_info_copy (info);
  self->ref_count = 1;
}

GraftBackend *
graft_backend_open_device (const GraftDeviceInfo  *info,
                           GError                **error)
{
  g_return_val_if_fail (info != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  switch (info->backend)
    {
    case GRAFT_BACKEND_KIND_CPU:
      return _graft_cpu_backend_open (info, error);
    case GRAFT_BACKEND_KIND_VULKAN:
      return _graft_vk_backend_open (info, error);
    default:
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "Device “%s” has an unknown backend", info->name);
      return NULL;
    }
}

GraftBackend *
graft_backend_open (const char  *selector,
                    GError     **error)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) vulkan_error = NULL;
  const GraftDeviceInfo *info;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  devices = graft_device_list (&vulkan_error);
  info = graft_device_select (devices, selector, error);
  if (info == NULL)
    {
      /* A Vulkan device was asked for by name but Vulkan itself is missing: say why. */
      if (vulkan_error != NULL && error != NULL && *error != NULL)
        g_prefix_error (error, "%s. ", vulkan_error->message);
      return NULL;
    }

  return graft_backend_open_device (info, error);
}

GraftBackend *
graft_backend_ref (GraftBackend *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
graft_backend_unref (GraftBackend *self)
{
  GraftDeviceInfo *info;

  if (self == NULL)
    return;
  if (!g_atomic_int_dec_and_test (&self->ref_count))
    return;

  info = self->info;
  self->ops->destroy (self);
  graft_device_info_free (info);
}

const GraftDeviceInfo *
graft_backend_get_info (GraftBackend *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  return self->info;
}

gboolean
graft_backend_synchronize (GraftBackend  *self,
                           GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return self->ops->synchronize (self, error);
}

gboolean
graft_backend_can_record (GraftBackend *self)
{
  g_return_val_if_fail (self != NULL, FALSE);

  return self->ops->record_begin != NULL;
}

static gboolean
check_can_record (GraftBackend  *self,
                  GError       **error)
{
  if (graft_backend_can_record (self))
    return TRUE;
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
               "%s cannot record work for replay; run the ops each time instead",
               self->info->name);
  return FALSE;
}

gboolean
graft_backend_record_begin (GraftBackend  *self,
                            GError       **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_can_record (self, error) && self->ops->record_begin (self, error);
}

GraftRecording *
graft_backend_record_end (GraftBackend  *self,
                          GError       **error)
{
  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_can_record (self, error))
    return NULL;
  return self->ops->record_end (self, error);
}

gboolean
graft_backend_replay (GraftBackend    *self,
                      GraftRecording  *recording,
                      GError         **error)
{
  g_return_val_if_fail (self != NULL && recording != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  return check_can_record (self, error) && self->ops->replay (self, recording, error);
}

void
graft_backend_recording_free (GraftBackend   *self,
                              GraftRecording *recording)
{
  g_return_if_fail (self != NULL);

  if (recording != NULL && self->ops->recording_free != NULL)
    self->ops->recording_free (self, recording);
}
