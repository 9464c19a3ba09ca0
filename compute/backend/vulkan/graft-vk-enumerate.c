/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Physical devices as GraftDeviceInfo: what the device list shows and what the backend
 * sizes its kernels from. */

#include <string.h>

#include "graft-vk-private.h"

static GraftDeviceType
device_type (VkPhysicalDeviceType type)
{
  switch (type)
    {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
      return GRAFT_DEVICE_TYPE_DISCRETE_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
      return GRAFT_DEVICE_TYPE_INTEGRATED_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
      return GRAFT_DEVICE_TYPE_VIRTUAL_GPU;
    case VK_PHYSICAL_DEVICE_TYPE_CPU:
      return GRAFT_DEVICE_TYPE_CPU;
    case VK_PHYSICAL_DEVICE_TYPE_OTHER:
    default:
      return GRAFT_DEVICE_TYPE_OTHER;
    }
}

static gboolean
has_extension (GraftVkFuncs     *vk,
               VkPhysicalDevice  physical,
               const char       *name)
{
  g_autofree VkExtensionProperties *exts = NULL;
  guint32 n = 0;

  if (vk->EnumerateDeviceExtensionProperties (physical, NULL, &n, NULL) != VK_SUCCESS || n == 0)
    return FALSE;
  exts = g_new0 (VkExtensionProperties, n);
  if (vk->EnumerateDeviceExtensionProperties (physical, NULL, &n, exts) != VK_SUCCESS)
    return FALSE;
  for (guint32 i = 0; i < n; i++)
    if (strcmp (exts[i].extensionName, name) == 0)
      return TRUE;
  return FALSE;
}

void
_graft_vk_describe_device (GraftVkInstance   *inst,
                           VkPhysicalDevice   physical,
                           guint              position,
                           GraftDeviceInfo   *info,
                           GraftVkDeviceCaps *caps)
{
  GraftVkFuncs *vk = &inst->vk;
  VkPhysicalDeviceProperties props;
  VkPhysicalDeviceMemoryProperties mem;

  vk->GetPhysicalDeviceProperties (physical, &props);
  vk->GetPhysicalDeviceMemoryProperties (physical, &mem);

  *caps = (GraftVkDeviceCaps) { .api_version = props.apiVersion };

  info->id = g_strdup_printf ("vulkan:%u", position);
  info->backend = GRAFT_BACKEND_KIND_VULKAN;
  info->type = device_type (props.deviceType);
  info->name = g_strndup (props.deviceName, sizeof props.deviceName);
  info->max_storage_buffer_range = props.limits.maxStorageBufferRange;
  info->max_buffer_size = props.limits.maxStorageBufferRange;
  info->max_shared_memory = props.limits.maxComputeSharedMemorySize;
  info->max_workgroup_invocations = props.limits.maxComputeWorkGroupInvocations;
  info->n_threads = 0;
  info->vendor_id = props.vendorID;
  info->device_id = props.deviceID;
  G_STATIC_ASSERT (sizeof info->uuid == VK_UUID_SIZE);
  memcpy (info->uuid, props.pipelineCacheUUID, VK_UUID_SIZE);

  info->memory_bytes = 0;
  for (guint32 i = 0; i < mem.memoryHeapCount; i++)
    if (mem.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
      info->memory_bytes = MAX (info->memory_bytes, mem.memoryHeaps[i].size);

  if (props.apiVersion >= VK_API_VERSION_1_2)
    {
      VkPhysicalDeviceDriverProperties driver = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES,
      };
      VkPhysicalDeviceMaintenance4Properties maint4 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_4_PROPERTIES,
      };
      VkPhysicalDeviceMaintenance3Properties maint3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES,
        .pNext = &driver,
      };
      VkPhysicalDeviceSubgroupProperties subgroup = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
        .pNext = &maint3,
      };
      VkPhysicalDeviceProperties2 props2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
        .pNext = &subgroup,
      };
      gboolean have_maint4 = has_extension (vk, physical, VK_KHR_MAINTENANCE_4_EXTENSION_NAME);
      VkPhysicalDeviceVulkan12Features f12 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
      };
      VkPhysicalDeviceVulkan11Features f11 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
        .pNext = &f12,
      };
      VkPhysicalDeviceFeatures2 features2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
        .pNext = &f11,
      };
      g_autofree char *driver_name = NULL;
      g_autofree char *driver_info = NULL;

      /* maxBufferSize is only reported by drivers with maintenance4 (core in 1.3). */
      if (have_maint4)
        driver.pNext = &maint4;
      vk->GetPhysicalDeviceProperties2 (physical, &props2);
      vk->GetPhysicalDeviceFeatures2 (physical, &features2);

      driver_name = g_strndup (driver.driverName, sizeof driver.driverName);
      driver_info = g_strndup (driver.driverInfo, sizeof driver.driverInfo);
      info->driver = *driver_info != '\0'
        ? g_strdup_printf ("%s %s", driver_name, driver_info)
        : g_strdup (driver_name);
      info->subgroup_size = subgroup.subgroupSize;
      info->fp16 = f12.shaderFloat16 && f11.storageBuffer16BitAccess;
      caps->timeline_semaphore = f12.timelineSemaphore;
      caps->buffer_device_address = f12.bufferDeviceAddress;
      caps->loop_limit = driver.driverID == VK_DRIVER_ID_MESA_LLVMPIPE ? GRAFT_VK_LLVMPIPE_LOOP_LIMIT : 0;
      caps->max_allocation = maint3.maxMemoryAllocationSize;
      caps->max_buffer_size = have_maint4 ? maint4.maxBufferSize : 0;

      /* Kernels reach a buffer past the binding limit by its device address; then a
       * tensor is bounded by what one buffer, one allocation and the heap can hold, and
       * by 32-bit element indices. */
      if (caps->buffer_device_address)
        info->max_buffer_size = _graft_vk_max_buffer_size (caps, info->memory_bytes);
    }
  else
    {
      /* A Vulkan 1.0/1.1 device is listed so that the user sees it, but cannot be
       * opened; report what the core properties say. */
      info->driver = g_strdup_printf ("driver version 0x%08x (Vulkan %u.%u)",
                                      props.driverVersion,
                                      VK_API_VERSION_MAJOR (props.apiVersion),
                                      VK_API_VERSION_MINOR (props.apiVersion));
      if (props.apiVersion >= VK_API_VERSION_1_1)
        {
          VkPhysicalDeviceSubgroupProperties subgroup = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
          };
          VkPhysicalDeviceProperties2 props2 = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
            .pNext = &subgroup,
          };
          vk->GetPhysicalDeviceProperties2 (physical, &props2);
          info->subgroup_size = subgroup.subgroupSize;
        }
    }
}

guint64
_graft_vk_max_buffer_size (const GraftVkDeviceCaps *caps,
                           guint64                  heap_size)
{
  guint64 most = (guint64) G_MAXUINT32 * sizeof (float);

  if (caps->max_buffer_size > 0)
    most = MIN (most, caps->max_buffer_size);
  if (caps->max_allocation > 0)
    most = MIN (most, caps->max_allocation);
  if (heap_size > 0)
    most = MIN (most, heap_size);
  return most;
}

gboolean
_graft_vk_enumerate (GPtrArray  *devices,
                     GError    **error)
{
  GraftVkInstance *inst;

  g_return_val_if_fail (devices != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  inst = _graft_vk_instance_new (error);
  if (inst == NULL)
    return FALSE;

  for (guint32 i = 0; i < inst->n_physical; i++)
    {
      GraftDeviceInfo *info = g_new0 (GraftDeviceInfo, 1);
      GraftVkDeviceCaps caps;

      _graft_vk_describe_device (inst, inst->physical[i], i, info, &caps);
      g_debug ("Vulkan device %u: %s (%s), Vulkan %u.%u", i, info->name, info->driver,
               VK_API_VERSION_MAJOR (caps.api_version), VK_API_VERSION_MINOR (caps.api_version));
      g_ptr_array_add (devices, info);
    }

  _graft_vk_instance_free (inst);
  return TRUE;
}
