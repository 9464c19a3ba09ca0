/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Tensor storage: one VkBuffer per tensor, bound to a range of a shared memory block.
 * Memory that is device-local and host-visible (lavapipe, integrated GPUs, ReBAR) stays
 * mapped and is copied with memcpy; otherwise data goes through a host-visible staging
 * buffer with transfer commands. Frees of buffers that queued work still uses are
 * deferred until that work has completed. */

#include <string.h>

#include "graft-vk-private.h"

#define GRAFT_VK_BLOCK_SIZE (64u << 20)
#define TENSOR_USAGE (VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | \
                      VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT | \
                      VK_BUFFER_USAGE_TRANSFER_SRC_BIT | \
                      VK_BUFFER_USAGE_TRANSFER_DST_BIT)
#define HOST_FLAGS (VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)

static VkBufferUsageFlags
tensor_usage (GraftVkBackend *self)
{
  return TENSOR_USAGE | (self->addresses ? VK_BUFFER_USAGE_SHADER_DEVICE_ADDRESS_BIT : 0);
}

typedef struct {
  VkDeviceMemory memory;
  guint8        *mapped;
  guint64        size;
} GraftVkMemoryBlock;

static char *
format_bytes (guint64 bytes)
{
  g_autofree char *human = g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);

  return g_strdup_printf ("%" G_GUINT64_FORMAT " bytes (%s)", bytes, human);
}

static gpointer
block_new (gpointer   user_data,
           guint64    size,
           GError   **error)
{
  GraftVkBackend *self = user_data;
  GraftVkMemoryBlock *block;
  VkMemoryAllocateFlagsInfo flags = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_FLAGS_INFO,
    .flags = VK_MEMORY_ALLOCATE_DEVICE_ADDRESS_BIT,
  };
  VkMemoryAllocateInfo info = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .pNext = self->addresses ? &flags : NULL,
    .allocationSize = size,
    .memoryTypeIndex = self->memory_type,
  };
  VkResult result;

  /* Some drivers (lavapipe) hand out more than the heap holds and fail later, or make
   * the whole machine swap: the heap size is the budget. */
  if (self->memory_reserved + size > self->memory_limit)
    {
      g_autofree char *bytes = format_bytes (size);
      g_autofree char *used = format_bytes (self->memory_reserved);
      g_autofree char *limit = format_bytes (self->memory_limit);
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "out of device memory: a block of %s does not fit beside the %s in use "
                   "(the device has %s); free some tensors or use a smaller batch",
                   bytes, used, limit);
      return NULL;
    }

  block = g_new0 (GraftVkMemoryBlock, 1);
  block->size = size;
  result = self->vk->AllocateMemory (self->device, &info, NULL, &block->memory);
  if (result == VK_SUCCESS && self->host_visible)
    {
      result = self->vk->MapMemory (self->device, block->memory, 0, VK_WHOLE_SIZE, 0,
                                    (void **) &block->mapped);
      if (result != VK_SUCCESS)
        self->vk->FreeMemory (self->device, block->memory, NULL);
    }
  if (result != VK_SUCCESS)
    {
      g_autofree char *bytes = format_bytes (size);
      if (result == VK_ERROR_OUT_OF_DEVICE_MEMORY || result == VK_ERROR_OUT_OF_HOST_MEMORY ||
          result == VK_ERROR_TOO_MANY_OBJECTS)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                     "out of device memory: a block of %s could not be allocated (%s)",
                     bytes, _graft_vk_result_to_string (result));
      else
        _graft_vk_set_error (error, result, "a memory block of %s could not be allocated", bytes);
      g_free (block);
      return NULL;
    }
  self->memory_reserved += size;
  return block;
}

static void
block_free (gpointer user_data,
            gpointer memory)
{
  GraftVkBackend *self = user_data;
  GraftVkMemoryBlock *block = memory;

  /* Freeing mapped memory unmaps it. */
  self->vk->FreeMemory (self->device, block->memory, NULL);
  self->memory_reserved -= block->size;
  g_free (block);
}

static const GraftVkBlockFuncs block_funcs = { block_new, block_free };

/* The memory type for tensors: device-local in the largest device-local heap, and also
 * host-visible and coherent when such a type lives in that heap. A small host-visible
 * window on a discrete GPU (the 256 MiB BAR) is not picked over the real VRAM. */
static gint
pick_tensor_type (const VkPhysicalDeviceMemoryProperties *mem,
                  guint32                                 allowed)
{
  VkDeviceSize best_heap_size = 0;
  gint best_heap = -1;
  gint pick = -1;

  for (guint32 h = 0; h < mem->memoryHeapCount; h++)
    if ((mem->memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
        mem->memoryHeaps[h].size > best_heap_size)
      {
        best_heap_size = mem->memoryHeaps[h].size;
        best_heap = h;
      }

  for (guint32 t = 0; t < mem->memoryTypeCount; t++)
    {
      VkMemoryPropertyFlags flags = mem->memoryTypes[t].propertyFlags;

      if (!(allowed & (1u << t)) || (gint) mem->memoryTypes[t].heapIndex != best_heap ||
          !(flags & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT))
        continue;
      if ((flags & HOST_FLAGS) == HOST_FLAGS)
        return t;
      if (pick < 0)
        pick = t;
    }
  if (pick >= 0)
    return pick;

  /* No device-local type at all: take anything the buffer accepts. */
  for (guint32 t = 0; t < mem->memoryTypeCount; t++)
    if (allowed & (1u << t))
      return t;
  return -1;
}

static gint
pick_staging_type (const VkPhysicalDeviceMemoryProperties *mem,
                   guint32                                 allowed)
{
  gint pick = -1;

  for (guint32 t = 0; t < mem->memoryTypeCount; t++)
    {
      VkMemoryPropertyFlags flags = mem->memoryTypes[t].propertyFlags;

      if (!(allowed & (1u << t)) || (flags & HOST_FLAGS) != HOST_FLAGS)
        continue;
      if (flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
        return t;  /* reads back quickly */
      if (pick < 0)
        pick = t;
    }
  return pick;
}

gboolean
_graft_vk_memory_init (GraftVkBackend  *self,
                       GError         **error)
{
  VkBufferCreateInfo probe_info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = 4096,
    .usage = tensor_usage (self),
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkMemoryRequirements req;
  VkBuffer probe;
  VkResult result;
  VkDeviceSize heap_size;
  gint type;
  guint64 block_size;

  self->deferred = g_ptr_array_new ();

  /* Every buffer with the same usage accepts the same memory types (the spec says so),
   * so one probe decides for all tensors. */
  result = self->vk->CreateBuffer (self->device, &probe_info, NULL, &probe);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not create a buffer on %s", self->parent.info->name);
      return FALSE;
    }
  self->vk->GetBufferMemoryRequirements (self->device, probe, &req);
  self->vk->DestroyBuffer (self->device, probe, NULL);

  type = pick_tensor_type (&self->mem_props, req.memoryTypeBits);
  if (type < 0)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s offers no memory type for storage buffers", self->parent.info->name);
      return FALSE;
    }
  self->memory_type = type;
  self->host_visible =
    (self->mem_props.memoryTypes[type].propertyFlags & HOST_FLAGS) == HOST_FLAGS &&
    g_strcmp0 (g_getenv ("GRAFT_VK_STAGING"), "1") != 0;

  type = pick_staging_type (&self->mem_props, req.memoryTypeBits);
  if (type < 0 && !self->host_visible)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s offers no host-visible memory to copy tensors through",
                   self->parent.info->name);
      return FALSE;
    }
  self->staging_type = MAX (type, 0);

  /* 64 MiB blocks, smaller on devices with little memory so one block never takes a
   * large share of it. */
  heap_size = self->mem_props.memoryHeaps[self->mem_props.memoryTypes[self->memory_type].heapIndex].size;
  self->memory_limit = heap_size;
  self->max_buffer = MIN (self->max_buffer, heap_size);
  block_size = MIN ((guint64) GRAFT_VK_BLOCK_SIZE, heap_size / 8);
  block_size = MAX (block_size, (guint64) 1 << 20);
  self->allocator = _graft_vk_allocator_new (block_size, &block_funcs, self);

  self->dummy = _graft_vk_buffer_new (&self->parent, 64, error);
  return self->dummy != NULL;
}

static void
buffer_release (GraftVkBackend *self,
                GraftBuffer    *buffer)
{
  for (guint i = 0; i < G_N_ELEMENTS (buffer->view); i++)
    if (buffer->view[i] != VK_NULL_HANDLE)
      self->vk->DestroyBufferView (self->device, buffer->view[i], NULL);
  self->vk->DestroyBuffer (self->device, buffer->buffer, NULL);
  _graft_vk_allocator_release (self->allocator, &buffer->alloc);
  g_free (buffer);
}

void
_graft_vk_memory_fini (GraftVkBackend *self)
{
  if (self->staging != NULL)
    {
      self->vk->DestroyBuffer (self->device, self->staging->buffer, NULL);
      self->vk->FreeMemory (self->device, self->staging_memory, NULL);
      g_clear_pointer (&self->staging, g_free);
    }
  if (self->dummy != NULL)
    buffer_release (self, g_steal_pointer (&self->dummy));
  if (self->deferred != NULL)
    {
      _graft_vk_release_deferred (self, TRUE);
      g_clear_pointer (&self->deferred, g_ptr_array_unref);
    }
  g_clear_pointer (&self->allocator, _graft_vk_allocator_free);
}

GraftBuffer *
_graft_vk_buffer_new (GraftBackend  *backend,
                      gsize          size,
                      GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = MAX (size, 4),
    .usage = tensor_usage (self),
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  g_autofree GraftBuffer *buffer = NULL;
  GraftVkMemoryBlock *block;
  VkMemoryRequirements req;
  VkResult result;

  if (!_graft_vk_check_lost (self, error))
    return NULL;

  if (size > self->max_buffer)
    {
      g_autofree char *want = format_bytes (size);
      g_autofree char *limit = format_bytes (self->max_buffer);
      if (self->addresses)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                     "A buffer of %s is larger than the largest buffer %s can hold, %s "
                     "(the least of its maximum buffer size, maximum allocation size, memory "
                     "heap and 2³² floats); use a smaller batch or split the tensor",
                     want, backend->info->name, limit);
      else
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                     "A buffer of %s is larger than the largest storage buffer %s can bind, "
                     "%s, and %s; use a smaller batch or split the tensor",
                     want, backend->info->name, limit,
                     self->address_mode == GRAFT_VK_ADDRESSES_NEVER
                     ? "GRAFT_VK_ADDRESSES=never turns off reaching larger ones by device address"
                     : "the device cannot reach larger ones by device address (bufferDeviceAddress)");
      return NULL;
    }

  buffer = g_new0 (GraftBuffer, 1);
  buffer->size = size;
  result = self->vk->CreateBuffer (self->device, &info, NULL, &buffer->buffer);
  if (result != VK_SUCCESS)
    {
      g_autofree char *want = format_bytes (size);
      _graft_vk_set_error (error, result, "Could not create a buffer of %s on %s",
                           want, backend->info->name);
      return NULL;
    }

  self->vk->GetBufferMemoryRequirements (self->device, buffer->buffer, &req);
  if (!(req.memoryTypeBits & (1u << self->memory_type)) ||
      !_graft_vk_allocator_alloc (self->allocator, req.size, req.alignment, &buffer->alloc, error))
    {
      g_autofree char *want = format_bytes (size);
      self->vk->DestroyBuffer (self->device, buffer->buffer, NULL);
      if (error != NULL && *error == NULL)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                     "%s cannot place a buffer of %s in its tensor memory",
                     backend->info->name, want);
      else
        g_prefix_error (error, "Could not allocate %s: ", want);
      return NULL;
    }

  block = buffer->alloc.memory;
  result = self->vk->BindBufferMemory (self->device, buffer->buffer, block->memory,
                                       buffer->alloc.offset);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not bind memory to a buffer on %s",
                           backend->info->name);
      self->vk->DestroyBuffer (self->device, buffer->buffer, NULL);
      _graft_vk_allocator_release (self->allocator, &buffer->alloc);
      return NULL;
    }
  if (block->mapped != NULL)
    buffer->mapped = block->mapped + buffer->alloc.offset;
  if (self->addresses)
    {
      VkBufferDeviceAddressInfo address_info = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_DEVICE_ADDRESS_INFO,
        .buffer = buffer->buffer,
      };
      buffer->address = self->vk->GetBufferDeviceAddress (self->device, &address_info);
    }

  self->n_buffers_created++;
  return g_steal_pointer (&buffer);
}

void
_graft_vk_buffer_free (GraftBackend *backend,
                       GraftBuffer  *buffer)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);

  if (buffer == NULL)
    return;

  /* A recording still holds it: released when the last one is freed. */
  if (buffer->n_recordings > 0)
    {
      buffer->orphaned = TRUE;
      return;
    }

  if (buffer->last_use > self->completed && !self->lost)
    {
      /* Errors surface at the next wait; here only the answer matters. */
      _graft_vk_poll (self, NULL);
      if (buffer->last_use > self->completed)
        {
          g_ptr_array_add (self->deferred, buffer);
          return;
        }
    }
  buffer_release (self, buffer);
}

VkBufferView
_graft_vk_buffer_get_view (GraftVkBackend  *self,
                           GraftBuffer     *buffer,
                           gboolean         vec4,
                           GError         **error)
{
  guint texel = vec4 ? 16 : 4;
  VkBufferViewCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
    .buffer = buffer->buffer,
    .format = vec4 ? VK_FORMAT_R32G32B32A32_SFLOAT : VK_FORMAT_R32_SFLOAT,
    .offset = 0,
    .range = MAX (buffer->size / texel, 1) * texel,
  };
  VkBufferView *view = &buffer->view[vec4 ? 1 : 0];
  VkResult result;

  if (*view != VK_NULL_HANDLE)
    return *view;

  if (info.range / texel > self->props.limits.maxTexelBufferElements || info.range > buffer->size)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s cannot view a buffer of %" G_GSIZE_FORMAT " bytes as texels (at most %u)",
                   self->parent.info->name, buffer->size, self->props.limits.maxTexelBufferElements);
      return VK_NULL_HANDLE;
    }
  result = self->vk->CreateBufferView (self->device, &info, NULL, view);
  if (result != VK_SUCCESS)
    {
      *view = VK_NULL_HANDLE;
      _graft_vk_set_error (error, result, "Could not create a texel view on %s", self->parent.info->name);
      return VK_NULL_HANDLE;
    }
  return *view;
}

void
_graft_vk_release_deferred (GraftVkBackend *self,
                            gboolean        all)
{
  if (self->deferred == NULL)
    return;

  for (guint i = 0; i < self->deferred->len;)
    {
      GraftBuffer *buffer = g_ptr_array_index (self->deferred, i);

      if (all || buffer->last_use <= self->completed)
        {
          g_ptr_array_remove_index_fast (self->deferred, i);
          buffer_release (self, buffer);
        }
      else
        i++;
    }
}

static gboolean
ensure_staging (GraftVkBackend  *self,
                GError         **error)
{
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = GRAFT_VK_STAGING_SIZE,
    .usage = VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  VkMemoryAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .memoryTypeIndex = self->staging_type,
  };
  g_autofree GraftBuffer *staging = NULL;
  VkMemoryRequirements req;
  VkResult result;

  if (self->staging != NULL)
    return TRUE;

  staging = g_new0 (GraftBuffer, 1);
  staging->size = GRAFT_VK_STAGING_SIZE;
  result = self->vk->CreateBuffer (self->device, &info, NULL, &staging->buffer);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not create the staging buffer of %s",
                           self->parent.info->name);
      return FALSE;
    }
  self->vk->GetBufferMemoryRequirements (self->device, staging->buffer, &req);
  alloc.allocationSize = req.size;
  /* One allocation for the life of the device, not one per copy. */
  result = self->vk->AllocateMemory (self->device, &alloc, NULL, &self->staging_memory);
  if (result != VK_SUCCESS)
    self->staging_memory = VK_NULL_HANDLE;
  if (result == VK_SUCCESS)
    result = self->vk->BindBufferMemory (self->device, staging->buffer, self->staging_memory, 0);
  if (result == VK_SUCCESS)
    result = self->vk->MapMemory (self->device, self->staging_memory, 0, VK_WHOLE_SIZE, 0,
                                  (void **) &staging->mapped);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not allocate the staging buffer of %s",
                           self->parent.info->name);
      self->vk->DestroyBuffer (self->device, staging->buffer, NULL);
      if (self->staging_memory != VK_NULL_HANDLE)
        self->vk->FreeMemory (self->device, self->staging_memory, NULL);
      self->staging_memory = VK_NULL_HANDLE;
      return FALSE;
    }

  self->staging = g_steal_pointer (&staging);
  return TRUE;
}

static void
record_copy (GraftVkBackend  *self,
             VkCommandBuffer  cmd,
             GraftBuffer     *src,
             gsize            src_offset,
             GraftBuffer     *dst,
             gsize            dst_offset,
             gsize            size)
{
  VkBufferCopy region = { src_offset, dst_offset, size };
  guint64 value = _graft_vk_recording_value (self);

  self->vk->CmdCopyBuffer (cmd, src->buffer, dst->buffer, 1, &region);
  src->last_use = value;
  dst->last_use = value;
}

gboolean
_graft_vk_buffer_write (GraftBackend  *backend,
                        GraftBuffer   *buffer,
                        gsize          offset,
                        const void    *data,
                        gsize          size,
                        GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  const guint8 *src = data;

  if (!_graft_vk_check_lost (self, error))
    return FALSE;
  g_return_val_if_fail (offset + size <= buffer->size, FALSE);
  if (!_graft_vk_check_not_recording (self, "Writing a tensor", error))
    return FALSE;

  if (self->host_visible)
    {
      /* Only the work that uses this buffer has to finish first. */
      if (!_graft_vk_wait (self, buffer->last_use, error))
        return FALSE;
      memcpy (buffer->mapped + offset, src, size);
      return TRUE;
    }

  if (!ensure_staging (self, error))
    return FALSE;

  /* Copies are queued behind earlier ops; only the staging buffer is waited for. */
  for (gsize done = 0; done < size;)
    {
      gsize chunk = MIN (size - done, self->staging->size);
      VkCommandBuffer cmd;

      if (!_graft_vk_wait (self, self->staging->last_use, error))
        return FALSE;
      memcpy (self->staging->mapped, src + done, chunk);
      cmd = _graft_vk_record (self, error);
      if (cmd == VK_NULL_HANDLE)
        return FALSE;
      record_copy (self, cmd, self->staging, 0, buffer, offset + done, chunk);
      if (!_graft_vk_submit (self, error))
        return FALSE;
      done += chunk;
    }
  return TRUE;
}

gboolean
_graft_vk_buffer_read (GraftBackend  *backend,
                       GraftBuffer   *buffer,
                       gsize          offset,
                       void          *data,
                       gsize          size,
                       GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  guint8 *dst = data;

  g_return_val_if_fail (offset + size <= buffer->size, FALSE);
  if (!_graft_vk_check_not_recording (self, "Reading a tensor", error))
    return FALSE;

  /* The contract: every earlier op has finished when a read returns. */
  if (!_graft_vk_synchronize (backend, error))
    return FALSE;

  if (self->host_visible)
    {
      memcpy (dst, buffer->mapped + offset, size);
      return TRUE;
    }

  if (!ensure_staging (self, error))
    return FALSE;

  for (gsize done = 0; done < size;)
    {
      gsize chunk = MIN (size - done, self->staging->size);
      VkCommandBuffer cmd = _graft_vk_record (self, error);

      if (cmd == VK_NULL_HANDLE)
        return FALSE;
      record_copy (self, cmd, buffer, offset + done, self->staging, 0, chunk);
      if (!_graft_vk_wait (self, self->staging->last_use, error))
        return FALSE;
      memcpy (dst + done, self->staging->mapped, chunk);
      done += chunk;
    }
  return TRUE;
}
