/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-backend"

#include <string.h>

#include "graft-backend-private.h"

G_DEFINE_QUARK (graft-device-error-quark, graft_device_error)

GraftDeviceInfo *
graft_device_info_copy (const GraftDeviceInfo *info)
{
  GraftDeviceInfo *copy;

  g_return_val_if_fail (info != NULL, NULL);

  copy = g_memdup2 (info, sizeof *info);
  copy->id = g_strdup (info->id);
  copy->name = g_strdup (info->name);
  copy->driver = g_strdup (info->driver);
  return copy;
}

void
graft_device_info_free (GraftDeviceInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->name);
  g_free (info->driver);
  g_free (info);
}

const char *
graft_backend_kind_to_string (GraftBackendKind kind)
{
  switch (kind)
    {
    case GRAFT_BACKEND_KIND_CPU:
      return "cpu";
    case GRAFT_BACKEND_KIND_VULKAN:
      return "vulkan";
    default:
      return "unknown";
    }
}

const char *
graft_device_type_to_string (GraftDeviceType type)
{
  switch (type)
    {
    case GRAFT_DEVICE_TYPE_DISCRETE_GPU:
      return "discrete GPU";
    case GRAFT_DEVICE_TYPE_INTEGRATED_GPU:
      return "integrated GPU";
    case GRAFT_DEVICE_TYPE_VIRTUAL_GPU:
      return "virtual GPU";
    case GRAFT_DEVICE_TYPE_CPU:
      return "CPU";
    case GRAFT_DEVICE_TYPE_OTHER:
    default:
      return "other";
    }
}

GPtrArray *
graft_device_list (GError **vulkan_error)
{
  GPtrArray *devices = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_device_info_free);
  g_autoptr(GError) local_error = NULL;

  if (!_graft_vk_enumerate (devices, &local_error))
    {
      g_debug ("%s", local_error->message);
      if (vulkan_error != NULL)
        *vulkan_error = g_steal_pointer (&local_error);
    }

  g_ptr_array_add (devices, _graft_cpu_device_info_new ());

  for (guint i = 0; i < devices->len; i++)
    ((GraftDeviceInfo *) g_ptr_array_index (devices, i))->index = i;

  return devices;
}

static const GraftDeviceInfo *
first_of_type (GPtrArray       *devices,
               GraftDeviceType  type)
{
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      if (info->type == type && info->backend == GRAFT_BACKEND_KIND_VULKAN)
        return info;
    }
  return NULL;
}

static const GraftDeviceInfo *
cpu_backend (GPtrArray *devices)
{
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      if (info->backend == GRAFT_BACKEND_KIND_CPU)
        return info;
    }
  return NULL;
}

static gboolean
parse_index (const char *s,
             guint      *out)
{
  guint64 value;

  if (!g_ascii_string_to_unsigned (s, 10, 0, G_MAXUINT, &value, NULL))
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

const GraftDeviceInfo *
graft_device_select (GPtrArray   *devices,
                     const char  *selector,
                     GError     **error)
{
  const GraftDeviceInfo *found = NULL;
  g_autofree char *needle = NULL;
  guint index;

  g_return_val_if_fail (devices != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (selector == NULL || *selector == '\0' || g_ascii_strcasecmp (selector, "auto") == 0)
    {
      found = first_of_type (devices, GRAFT_DEVICE_TYPE_DISCRETE_GPU);
      if (found == NULL)
        found = first_of_type (devices, GRAFT_DEVICE_TYPE_INTEGRATED_GPU);
      if (found == NULL)
        found = cpu_backend (devices);
      if (found == NULL)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND,
                     "No compute device is available");
      return found;
    }

  if (parse_index (selector, &index))
    {
      if (index < devices->len)
        return g_ptr_array_index (devices, index);
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND,
                   "There is no compute device number %u: this machine has %u",
                   index, devices->len);
      return NULL;
    }

  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      if (g_ascii_strcasecmp (info->id, selector) == 0)
        return info;
    }

  needle = g_utf8_casefold (selector, -1);
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_autofree char *name = g_utf8_casefold (info->name, -1);
      if (strstr (name, needle) != NULL)
        return info;
    }

  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND,
               "No compute device matches “%s”",
               selector);
  return NULL;
}
