/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Opening a Vulkan device as a GraftBackend, and tearing it down. */

#include <string.h>

#include "graft-vk-private.h"

static void vk_destroy (GraftBackend *backend);

static const GraftBackendOps vk_ops = {
  .destroy      = vk_destroy,
  .buffer_new   = _graft_vk_buffer_new,
  .buffer_free  = _graft_vk_buffer_free,
  .buffer_write = _graft_vk_buffer_write,
  .buffer_read  = _graft_vk_buffer_read,
  .fill         = _graft_vk_fill,
  .scale        = _graft_vk_scale,
  .binary       = _graft_vk_binary,
  .activation   = _graft_vk_activation,
  .activation_backward = _graft_vk_activation_backward,
  .gemm         = _graft_vk_gemm,
  .pool2d       = _graft_vk_pool2d,
  .pool2d_backward = _graft_vk_pool2d_backward,
  .copy_strided = _graft_vk_copy_strided,
  .upsample_nearest = _graft_vk_upsample_nearest,
  .upsample_nearest_backward = _graft_vk_upsample_nearest_backward,
  .dropout      = _graft_vk_dropout,
  .transpose_last2 = _graft_vk_transpose_last2,
  .attention    = _graft_vk_attention,
  .attention_backward = _graft_vk_attention_backward,
  .conv2d       = _graft_vk_conv2d,
  .conv2d_backward = _graft_vk_conv2d_backward,
  .cross_entropy = _graft_vk_cross_entropy,
  .optim_step   = _graft_vk_optim_step,
  .sum_squares  = _graft_vk_sum_squares,
  .sqrt_sum     = _graft_vk_sqrt_sum,
  .clip_scale   = _graft_vk_clip_scale,
  .norm         = _graft_vk_norm,
  .norm_backward = _graft_vk_norm_backward,
  .synchronize  = _graft_vk_synchronize,
  .record_begin = _graft_vk_record_begin,
  .record_end   = _graft_vk_record_end,
  .replay       = _graft_vk_replay,
  .recording_free = _graft_vk_recording_free,
};

static gboolean
same_device (const GraftDeviceInfo *want,
             const GraftDeviceInfo *have)
{
  static const guint8 zero_uuid[VK_UUID_SIZE] = { 0 };

  if (memcmp (want->uuid, zero_uuid, VK_UUID_SIZE) == 0 && want->vendor_id == 0 && want->device_id == 0)
    return TRUE;  /* only a position was given */
  return want->vendor_id == have->vendor_id &&
         want->device_id == have->device_id &&
         memcmp (want->uuid, have->uuid, VK_UUID_SIZE) == 0;
}

/* The physical device @want describes: the one at its position when it is still the
 * same device, else the first with the same ids (devices may have been added). */
static gboolean
find_physical (GraftVkInstance        *inst,
               const GraftDeviceInfo  *want,
               guint                  *position,
               GraftDeviceInfo        *found,
               GraftVkDeviceCaps      *caps,
               GError                **error)
{
  guint64 n = G_MAXUINT64;

  if (want->id != NULL && g_str_has_prefix (want->id, "vulkan:"))
    g_ascii_string_to_unsigned (want->id + strlen ("vulkan:"), 10, 0, G_MAXUINT32, &n, NULL);

  if (n < inst->n_physical)
    {
      _graft_vk_describe_device (inst, inst->physical[n], (guint) n, found, caps);
      if (same_device (want, found))
        {
          *position = (guint) n;
          return TRUE;
        }
      g_clear_pointer (&found->id, g_free);
      g_clear_pointer (&found->name, g_free);
      g_clear_pointer (&found->driver, g_free);
    }

  for (guint i = 0; i < inst->n_physical; i++)
    {
      _graft_vk_describe_device (inst, inst->physical[i], i, found, caps);
      if (same_device (want, found) && want->vendor_id != 0)
        {
          *position = i;
          return TRUE;
        }
      g_clear_pointer (&found->id, g_free);
      g_clear_pointer (&found->name, g_free);
      g_clear_pointer (&found->driver, g_free);
    }

  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND,
               "The Vulkan device “%s” (%s) is no longer present; list the devices again",
               want->name != NULL ? want->name : "?", want->id != NULL ? want->id : "no id");
  return FALSE;
}

/* A compute-only family runs beside graphics work on GPUs that have one; else any
 * family with compute (every Vulkan device has one). */
static gboolean
pick_queue_family (GraftVkBackend  *self,
                   guint32         *family,
                   GError         **error)
{
  g_autofree VkQueueFamilyProperties *families = NULL;
  guint32 n = 0;
  gint64 any = -1;

  self->vk->GetPhysicalDeviceQueueFamilyProperties (self->physical, &n, NULL);
  families = g_new0 (VkQueueFamilyProperties, MAX (n, 1));
  self->vk->GetPhysicalDeviceQueueFamilyProperties (self->physical, &n, families);

  for (guint32 i = 0; i < n; i++)
    {
      if (families[i].queueCount == 0 || !(families[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
        continue;
      if (!(families[i].queueFlags & VK_QUEUE_GRAPHICS_BIT))
        {
          *family = i;
          return TRUE;
        }
      if (any < 0)
        any = i;
    }

  if (any < 0)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s has no compute queue", self->parent.info->name);
      return FALSE;
    }
  *family = (guint32) any;
  return TRUE;
}

static gboolean
create_device (GraftVkBackend  *self,
               GError         **error)
{
  const float priority = 1.0f;
  VkPhysicalDeviceVulkan12Features f12 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
    .timelineSemaphore = VK_TRUE,
    .bufferDeviceAddress = self->addresses,
  };
  VkDeviceQueueCreateInfo queue_info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .pNext = &f12,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &queue_info,
  };
  VkResult result;

  if (!pick_queue_family (self, &self->queue_family, error))
    return FALSE;
  queue_info.queueFamilyIndex = self->queue_family;

  result = self->vk->CreateDevice (self->physical, &info, NULL, &self->device);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not open %s", self->parent.info->name);
      self->device = VK_NULL_HANDLE;
      return FALSE;
    }

  if (!_graft_vk_load_device_funcs (self->vk, self->device, error))
    {
      /* DestroyDevice itself may be what is missing. */
      PFN_vkDestroyDevice destroy =
        (PFN_vkDestroyDevice) self->vk->GetDeviceProcAddr (self->device, "vkDestroyDevice");
      if (destroy != NULL)
        destroy (self->device, NULL);
      self->device = VK_NULL_HANDLE;
      return FALSE;
    }

  self->vk->GetDeviceQueue (self->device, self->queue_family, 0, &self->queue);
  return TRUE;
}

static GraftVkAddressMode
address_mode_from_env (void)
{
  const char *value = g_getenv ("GRAFT_VK_ADDRESSES");

  if (value == NULL || *value == '\0' || g_ascii_strcasecmp (value, "auto") == 0)
    return GRAFT_VK_ADDRESSES_AUTO;
  if (g_ascii_strcasecmp (value, "always") == 0)
    return GRAFT_VK_ADDRESSES_ALWAYS;
  if (g_ascii_strcasecmp (value, "never") == 0)
    return GRAFT_VK_ADDRESSES_NEVER;
  g_message ("GRAFT_VK_ADDRESSES=%s is not one of auto, always, never; using auto", value);
  return GRAFT_VK_ADDRESSES_AUTO;
}

static GraftVkGemmKernel
gemm_kernel_from_env (void)
{
  const char *value = g_getenv ("GRAFT_VK_GEMM");

  if (value == NULL || *value == '\0' || g_ascii_strcasecmp (value, "auto") == 0)
    return GRAFT_VK_GEMM_AUTO;
  if (g_ascii_strcasecmp (value, "tiled") == 0)
    return GRAFT_VK_GEMM_TILED;
  if (g_ascii_strcasecmp (value, "cpu") == 0)
    return GRAFT_VK_GEMM_CPU;
  g_message ("GRAFT_VK_GEMM=%s is not one of auto, tiled, cpu; using auto", value);
  return GRAFT_VK_GEMM_AUTO;
}

GraftBackend *
_graft_vk_backend_open (const GraftDeviceInfo  *info,
                        GError                **error)
{
  g_autoptr(GraftDeviceInfo) found = g_new0 (GraftDeviceInfo, 1);
  GraftVkInstance *inst;
  GraftVkBackend *self;
  GraftVkDeviceCaps caps;
  guint position;

  g_return_val_if_fail (info != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  inst = _graft_vk_instance_new (error);
  if (inst == NULL)
    return NULL;

  if (!find_physical (inst, info, &position, found, &caps, error))
    {
      _graft_vk_instance_free (inst);
      return NULL;
    }
  found->index = info->index;

  if (caps.api_version < VK_API_VERSION_1_2)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s supports Vulkan %u.%u; Graft needs Vulkan 1.2 (a newer driver may provide it)",
                   found->name, VK_API_VERSION_MAJOR (caps.api_version),
                   VK_API_VERSION_MINOR (caps.api_version));
      _graft_vk_instance_free (inst);
      return NULL;
    }
  if (!caps.timeline_semaphore)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s lacks timeline semaphores, which Graft needs; a newer driver may provide them",
                   found->name);
      _graft_vk_instance_free (inst);
      return NULL;
    }

  self = g_new0 (GraftVkBackend, 1);
  _graft_backend_init (&self->parent, &vk_ops, found);
  self->inst = inst;
  self->vk = &inst->vk;
  self->physical = inst->physical[position];
  self->vk->GetPhysicalDeviceProperties (self->physical, &self->props);
  self->vk->GetPhysicalDeviceMemoryProperties (self->physical, &self->mem_props);
  self->gemm_kernel = gemm_kernel_from_env ();
  self->address_mode = address_mode_from_env ();
  self->loop_limit = caps.loop_limit;
  self->addresses = caps.buffer_device_address && self->address_mode != GRAFT_VK_ADDRESSES_NEVER;
  /* Without device addresses every buffer must fit one binding; memory_init lowers
   * this to the heap size. */
  self->max_buffer = self->addresses
    ? _graft_vk_max_buffer_size (&caps, 0)
    : self->props.limits.maxStorageBufferRange;
  self->tiled_config = -1;
  _graft_vk_backend_set_workgroup_1d (&self->parent, 0);

  if (!create_device (self, error) ||
      !_graft_vk_commands_init (self, error) ||
      !_graft_vk_memory_init (self, error) ||
      !_graft_vk_pipelines_init (self, error))
    {
      GraftDeviceInfo *own_info = self->parent.info;
      vk_destroy (&self->parent);
      graft_device_info_free (own_info);
      return NULL;
    }

  self->parent.info->max_buffer_size = self->max_buffer;
  g_debug ("Opened %s (%s): queue family %u, %s memory, %s GEMM, buffers up to %" G_GUINT64_FORMAT
           " bytes%s",
           found->name, found->driver, self->queue_family,
           self->host_visible ? "mapped" : "staged",
           self->gemm_kernel == GRAFT_VK_GEMM_TILED ? "tiled"
           : self->gemm_kernel == GRAFT_VK_GEMM_CPU ? "CPU" : "automatic",
           self->max_buffer, self->addresses ? " (device addresses)" : "");
  return &self->parent;
}

static void
vk_destroy (GraftBackend *backend)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);

  if (self->device != VK_NULL_HANDLE)
    {
      /* Recordings their owners left: they hold buffers and descriptor pools. */
      while (self->recordings != NULL && self->recordings->len > 0)
        _graft_vk_recording_free (backend, g_ptr_array_index (self->recordings,
                                                              self->recordings->len - 1));
      g_clear_pointer (&self->recordings, g_ptr_array_unref);
      if (!self->lost)
        {
          g_autoptr(GError) error = NULL;
          if (!_graft_vk_submit (self, &error))
            g_debug ("Closing %s: %s", backend->info->name, error->message);
          /* The one place a whole-device wait is right: nothing may be in flight when
           * the device goes. */
          self->vk->DeviceWaitIdle (self->device);
        }
      _graft_vk_release_deferred (self, TRUE);
      _graft_vk_pipelines_fini (self);
      _graft_vk_memory_fini (self);
      _graft_vk_commands_fini (self);
      self->vk->DestroyDevice (self->device, NULL);
    }
  _graft_vk_instance_free (self->inst);
  g_free (self);
}

void
_graft_vk_backend_set_gemm_kernel (GraftBackend      *backend,
                                   GraftVkGemmKernel  kernel)
{
  g_return_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN);

  GRAFT_VK_BACKEND (backend)->gemm_kernel = kernel;
}

GraftVkGemmKernel
_graft_vk_backend_get_gemm_kernel (GraftBackend *backend)
{
  g_return_val_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN,
                        GRAFT_VK_GEMM_AUTO);

  return GRAFT_VK_BACKEND (backend)->gemm_kernel;
}

void
_graft_vk_backend_set_tiled_config (GraftBackend *backend,
                                    gint          index)
{
  g_return_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN);
  g_return_if_fail (index >= -1 && index < GRAFT_VK_N_TILED_CONFIGS);

  GRAFT_VK_BACKEND (backend)->tiled_config = index;
}

void
_graft_vk_backend_set_workgroup_1d (GraftBackend *backend,
                                    guint32       size)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  guint32 most;

  g_return_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN);

  most = MIN (self->props.limits.maxComputeWorkGroupInvocations,
              self->props.limits.maxComputeWorkGroupSize[0]);
  self->wg_1d = MIN (size != 0 ? size : GRAFT_VK_WORKGROUP_1D, most);
}

gboolean
_graft_vk_backend_is_host_visible (GraftBackend *backend)
{
  g_return_val_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN, FALSE);

  return GRAFT_VK_BACKEND (backend)->host_visible;
}

void
_graft_vk_backend_set_memory_limit (GraftBackend *backend,
                                    guint64       bytes)
{
  g_return_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN);

  GRAFT_VK_BACKEND (backend)->memory_limit = bytes;
}

guint64
_graft_vk_backend_get_buffers_created (GraftBackend *backend)
{
  g_return_val_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN, 0);

  return GRAFT_VK_BACKEND (backend)->n_buffers_created;
}

void
_graft_vk_backend_get_memory_stats (GraftBackend          *backend,
                                    GraftVkAllocatorStats *stats)
{
  g_return_if_fail (backend != NULL && backend->info->backend == GRAFT_BACKEND_KIND_VULKAN);

  _graft_vk_allocator_get_stats (GRAFT_VK_BACKEND (backend)->allocator, stats);
}
