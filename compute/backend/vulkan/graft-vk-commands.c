/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Command recording and submission. Ops are recorded into the current frame's command
 * buffer, each behind a global memory barrier; the frame is submitted when someone needs
 * results (synchronize, read, write) or its descriptor pool is full, and signals the next
 * value of a timeline semaphore. Waiting is vkWaitSemaphores on that value. A frame's
 * command buffer and descriptor pool are reused once its submission has completed.
 * While a recording is being made (graft-vk-replay.c), dispatches go into it instead. */

#include <string.h>

#include "graft-vk-private.h"

gboolean
_graft_vk_check_lost (GraftVkBackend  *self,
                      GError         **error)
{
  if (!self->lost)
    return TRUE;

  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_LOST,
               "%s stopped responding (the Vulkan device was lost); its tensors are gone. "
               "Open the device again, or choose another one",
               self->parent.info->name);
  return FALSE;
}

/* Any failure to submit or wait leaves timeline values that will never be signalled:
 * the backend is unusable from then on, and says so instead of hanging. */
static gboolean
fail (GraftVkBackend  *self,
      VkResult         result,
      const char      *what,
      GError         **error)
{
  self->lost = TRUE;
  if (result == VK_ERROR_DEVICE_LOST)
    return _graft_vk_check_lost (self, error);
  _graft_vk_set_error (error, result, "%s failed on %s", what, self->parent.info->name);
  return FALSE;
}

gboolean
_graft_vk_commands_init (GraftVkBackend  *self,
                         GError         **error)
{
  VkCommandPoolCreateInfo pool_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = self->queue_family,
  };
  VkSemaphoreTypeCreateInfo type_info = {
    .sType = VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO,
    .semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE,
    .initialValue = 0,
  };
  VkSemaphoreCreateInfo sem_info = {
    .sType = VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO,
    .pNext = &type_info,
  };
  VkDescriptorPoolSize sizes[] = {
    { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, GRAFT_VK_SETS_PER_POOL * GRAFT_VK_MAX_BINDINGS },
    { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, GRAFT_VK_SETS_PER_POOL * GRAFT_VK_MAX_BINDINGS },
  };
  VkDescriptorPoolCreateInfo dp_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = GRAFT_VK_SETS_PER_POOL,
    .poolSizeCount = G_N_ELEMENTS (sizes),
    .pPoolSizes = sizes,
  };
  VkCommandBuffer cmds[GRAFT_VK_N_FRAMES];
  VkCommandBufferAllocateInfo cmd_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = GRAFT_VK_N_FRAMES,
  };
  VkResult result;

  /* Handles are reset on failure so that _graft_vk_commands_fini() skips them. */
  result = self->vk->CreateCommandPool (self->device, &pool_info, NULL, &self->cmd_pool);
  if (result != VK_SUCCESS)
    {
      self->cmd_pool = VK_NULL_HANDLE;
      goto failed;
    }

  cmd_info.commandPool = self->cmd_pool;
  result = self->vk->AllocateCommandBuffers (self->device, &cmd_info, cmds);
  if (result != VK_SUCCESS)
    goto failed;

  for (guint i = 0; i < GRAFT_VK_N_FRAMES; i++)
    {
      self->frames[i].cmd = cmds[i];
      result = self->vk->CreateDescriptorPool (self->device, &dp_info, NULL, &self->frames[i].pool);
      if (result != VK_SUCCESS)
        {
          self->frames[i].pool = VK_NULL_HANDLE;
          goto failed;
        }
    }

  result = self->vk->CreateSemaphore (self->device, &sem_info, NULL, &self->timeline);
  if (result != VK_SUCCESS)
    {
      self->timeline = VK_NULL_HANDLE;
      goto failed;
    }

  return TRUE;

failed:
  _graft_vk_set_error (error, result, "Could not set up command submission on %s",
                       self->parent.info->name);
  return FALSE;
}

void
_graft_vk_commands_fini (GraftVkBackend *self)
{
  for (guint i = 0; i < GRAFT_VK_N_FRAMES; i++)
    if (self->frames[i].pool != VK_NULL_HANDLE)
      self->vk->DestroyDescriptorPool (self->device, self->frames[i].pool, NULL);
  if (self->timeline != VK_NULL_HANDLE)
    self->vk->DestroySemaphore (self->device, self->timeline, NULL);
  /* Destroying the pool frees its command buffers. */
  if (self->cmd_pool != VK_NULL_HANDLE)
    self->vk->DestroyCommandPool (self->device, self->cmd_pool, NULL);
}

gboolean
_graft_vk_poll (GraftVkBackend  *self,
                GError         **error)
{
  guint64 value = 0;
  VkResult result;

  if (self->timeline == VK_NULL_HANDLE)
    return TRUE;
  if (!_graft_vk_check_lost (self, error))
    return FALSE;

  result = self->vk->GetSemaphoreCounterValue (self->device, self->timeline, &value);
  if (result != VK_SUCCESS)
    return fail (self, result, "Reading the progress of queued work", error);

  self->completed = MAX (self->completed, value);
  _graft_vk_release_deferred (self, FALSE);
  return TRUE;
}

guint64
_graft_vk_recording_value (GraftVkBackend *self)
{
  return self->submitted + 1;
}

gboolean
_graft_vk_wait (GraftVkBackend  *self,
                guint64          value,
                GError         **error)
{
  VkSemaphoreWaitInfo info = {
    .sType = VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO,
    .semaphoreCount = 1,
    .pSemaphores = &self->timeline,
    .pValues = &value,
  };
  VkResult result;

  if (value <= self->completed)
    return TRUE;
  if (!_graft_vk_check_lost (self, error))
    return FALSE;

  if (value > self->submitted && !_graft_vk_submit (self, error))
    return FALSE;
  g_return_val_if_fail (value <= self->submitted, FALSE);

  result = self->vk->WaitSemaphores (self->device, &info, G_MAXUINT64);
  if (result != VK_SUCCESS)
    return fail (self, result, "Waiting for queued work", error);

  return _graft_vk_poll (self, error);
}

/* Makes the frame's command buffer and descriptor pool free for reuse. */
static gboolean
frame_reuse (GraftVkBackend  *self,
             GraftVkFrame    *frame,
             GError         **error)
{
  VkResult result;

  if (!_graft_vk_wait (self, frame->value, error))
    return FALSE;

  result = self->vk->ResetDescriptorPool (self->device, frame->pool, 0);
  if (result != VK_SUCCESS)
    return fail (self, result, "Resetting a descriptor pool", error);
  frame->n_sets = 0;
  frame->n_commands = 0;
  return TRUE;
}

static void
record_barrier (GraftVkBackend  *self,
                VkCommandBuffer  cmd)
{
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;

  /* Its first scope includes earlier submissions, so it orders against those too. */
  self->vk->CmdPipelineBarrier (cmd, stages, stages, 0, 1, &barrier, 0, NULL, 0, NULL);
}

void
_graft_vk_barrier (GraftVkBackend  *self,
                   VkCommandBuffer  cmd)
{
  record_barrier (self, cmd);
}

VkCommandBuffer
_graft_vk_record (GraftVkBackend  *self,
                  GError         **error)
{
  GraftVkFrame *frame = &self->frames[self->current];

  if (!_graft_vk_check_lost (self, error))
    return VK_NULL_HANDLE;

  if (!frame->recording)
    {
      VkCommandBufferBeginInfo info = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
      };
      VkResult result;

      if (!frame_reuse (self, frame, error))
        return VK_NULL_HANDLE;
      result = self->vk->BeginCommandBuffer (frame->cmd, &info);
      if (result != VK_SUCCESS)
        {
          fail (self, result, "Starting a command buffer", error);
          return VK_NULL_HANDLE;
        }
      frame->recording = TRUE;
    }

  record_barrier (self, frame->cmd);
  frame->n_commands++;
  return frame->cmd;
}

guint64
_graft_vk_queue_submit (GraftVkBackend   *self,
                        VkCommandBuffer   cmd,
                        const char       *what,
                        GError          **error)
{
  guint64 value = self->submitted + 1;
  VkTimelineSemaphoreSubmitInfo timeline = {
    .sType = VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO,
    .signalSemaphoreValueCount = 1,
    .pSignalSemaphoreValues = &value,
  };
  VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .pNext = &timeline,
    .commandBufferCount = 1,
    .pCommandBuffers = &cmd,
    .signalSemaphoreCount = 1,
    .pSignalSemaphores = &self->timeline,
  };
  VkResult result;

  result = self->vk->QueueSubmit (self->queue, 1, &submit, VK_NULL_HANDLE);
  if (result != VK_SUCCESS)
    {
      /* the value will never be signalled: the backend is unusable */
      fail (self, result, what, error);
      return 0;
    }
  self->submitted = value;
  return value;
}

gboolean
_graft_vk_submit (GraftVkBackend  *self,
                  GError         **error)
{
  GraftVkFrame *frame = &self->frames[self->current];
  VkMemoryBarrier to_host = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  VkResult result;
  guint64 value;

  if (!frame->recording)
    return TRUE;
  if (!_graft_vk_check_lost (self, error))
    return FALSE;

  /* Results become visible to mapped reads once the semaphore says so. */
  self->vk->CmdPipelineBarrier (frame->cmd,
                                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                                VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
  frame->recording = FALSE;
  result = self->vk->EndCommandBuffer (frame->cmd);
  if (result != VK_SUCCESS)
    return fail (self, result, "Finishing a command buffer", error);

  value = _graft_vk_queue_submit (self, frame->cmd, "Submitting work", error);
  if (value == 0)
    return FALSE;

  frame->value = value;
  self->current = (self->current + 1) % GRAFT_VK_N_FRAMES;
  return _graft_vk_poll (self, error);
}

gboolean
_graft_vk_synchronize (GraftBackend  *backend,
                       GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);

  if (!_graft_vk_check_lost (self, error))
    return FALSE;
  if (!_graft_vk_check_not_recording (self, "Waiting for results", error))
    return FALSE;
  if (!_graft_vk_submit (self, error))
    return FALSE;
  return _graft_vk_wait (self, self->submitted, error);
}

guint32
_graft_vk_loop_budget (GraftVkBackend *self)
{
  if (self->loop_limit == 0)
    return G_MAXUINT32;
  return self->loop_limit - MIN (self->loop_limit / 2, GRAFT_VK_LOOP_MARGIN);
}

gboolean
_graft_vk_check_loop (GraftVkBackend  *self,
                      guint64          iterations,
                      const char      *what,
                      GError         **error)
{
  if (iterations <= _graft_vk_loop_budget (self))
    return TRUE;
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
               "%s: %s stops a kernel's loops after %u iterations, and this one needs %"
               G_GUINT64_FORMAT "; use a smaller batch or image size",
               what, self->parent.info->name, self->loop_limit, iterations);
  return FALSE;
}

gboolean
_graft_vk_grid_1d (GraftVkBackend  *self,
                   guint64          n_groups,
                   guint32          groups[3],
                   GError         **error)
{
  const guint32 *max = self->props.limits.maxComputeWorkGroupCount;
  guint64 x = MIN (MAX (n_groups, 1), (guint64) max[0]);
  guint64 y = (n_groups + x - 1) / x;

  if (y > max[1])
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s cannot launch %" G_GUINT64_FORMAT " workgroups at once (at most %u × %u)",
                   self->parent.info->name, n_groups, max[0], max[1]);
      return FALSE;
    }
  groups[0] = (guint32) x;
  groups[1] = (guint32) MAX (y, 1);
  groups[2] = 1;
  return TRUE;
}

static gboolean
alloc_set (GraftVkBackend        *self,
           GraftVkFrame          *frame,
           const GraftVkPipeline *pipeline,
           VkDescriptorSet       *set)
{
  VkDescriptorSetAllocateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = frame->pool,
    .descriptorSetCount = 1,
    .pSetLayouts = &pipeline->layout->set_layout,
  };

  if (frame->n_sets >= GRAFT_VK_SETS_PER_POOL)
    return FALSE;
  if (self->vk->AllocateDescriptorSets (self->device, &info, set) != VK_SUCCESS)
    return FALSE;
  frame->n_sets++;
  return TRUE;
}

/* Where the next dispatch goes: the command buffer (behind a barrier) and a descriptor
 * set for @pipeline, from the current frame, or from the recording being made. */
static gboolean
dispatch_target (GraftVkBackend         *self,
                 const GraftVkPipeline  *pipeline,
                 VkCommandBuffer        *cmd,
                 VkDescriptorSet        *set,
                 GError                **error)
{
  if (self->recording != NULL)
    return _graft_vk_recording_target (self, pipeline->layout->set_layout, cmd, set, error);

  /* A full descriptor pool ends the frame: submit it and go on in the next one. */
  if (self->frames[self->current].n_sets >= GRAFT_VK_SETS_PER_POOL &&
      !_graft_vk_submit (self, error))
    return FALSE;

  *cmd = _graft_vk_record (self, error);
  if (*cmd == VK_NULL_HANDLE)
    return FALSE;
  if (!alloc_set (self, &self->frames[self->current], pipeline, set))
    {
      if (!_graft_vk_submit (self, error))
        return FALSE;
      *cmd = _graft_vk_record (self, error);
      if (*cmd == VK_NULL_HANDLE)
        return FALSE;
      if (!alloc_set (self, &self->frames[self->current], pipeline, set))
        {
          g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                       "%s could not allocate a descriptor set", self->parent.info->name);
          return FALSE;
        }
    }

  return TRUE;
}

gboolean
_graft_vk_dispatch (GraftVkBackend         *self,
                    const GraftVkDispatch  *d,
                    GError                **error)
{
  VkDescriptorBufferInfo infos[GRAFT_VK_MAX_BINDINGS];
  VkBufferView views[GRAFT_VK_MAX_BINDINGS];
  VkWriteDescriptorSet writes[GRAFT_VK_MAX_BINDINGS];
  guint32 push[(8 * GRAFT_VK_MAX_BINDINGS + GRAFT_VK_MAX_PUSH) / 4];
  guint32 push_size = d->push_size;
  const void *push_data = d->push;
  const GraftVkPipeline *pipeline;
  VkDescriptorSet set;
  VkCommandBuffer cmd;
  guint64 value;
  guint n_writes = 0;
  gboolean past_range = FALSE;
  gboolean addresses;

  g_return_val_if_fail (d->n_bindings >= 1 && d->n_bindings <= GRAFT_VK_MAX_BINDINGS, FALSE);
  g_return_val_if_fail (d->push_size <= GRAFT_VK_MAX_PUSH, FALSE);

  if (!_graft_vk_check_lost (self, error))
    return FALSE;

  /* A storage buffer past maxStorageBufferRange cannot be a descriptor: the kernel's
   * device-address variant reaches it instead (same code, same results). */
  for (guint i = 0; i < d->n_bindings; i++)
    if (!(d->texel_mask & (1u << i)) && d->buffers[i] != NULL &&
        d->buffers[i]->size > self->props.limits.maxStorageBufferRange)
      past_range = TRUE;
  if (past_range && !self->addresses)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s cannot bind a buffer larger than %u bytes to “%s” without device addresses",
                   self->parent.info->name, self->props.limits.maxStorageBufferRange, d->shader);
      return FALSE;
    }
  addresses = self->addresses && (past_range || self->address_mode == GRAFT_VK_ADDRESSES_ALWAYS);

  pipeline = _graft_vk_pipeline_get (self, d->shader, addresses, d->n_bindings, d->texel_mask,
                                     d->spec, d->n_spec, error);
  if (pipeline == NULL)
    return FALSE;

  if (addresses)
    {
      guint32 offset = 8 * pipeline->address_slots;

      if (offset + d->push_size > self->props.limits.maxPushConstantsSize)
        {
          if (past_range)
            {
              g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                           "%s offers %u bytes of push constants; “%s” needs %u to reach buffers "
                           "larger than %u bytes by address",
                           self->parent.info->name, self->props.limits.maxPushConstantsSize,
                           d->shader, offset + d->push_size,
                           self->props.limits.maxStorageBufferRange);
              return FALSE;
            }
          /* Only forced (GRAFT_VK_ADDRESSES=always): descriptors do as well here. */
          addresses = FALSE;
          pipeline = _graft_vk_pipeline_get (self, d->shader, FALSE, d->n_bindings, d->texel_mask,
                                             d->spec, d->n_spec, error);
          if (pipeline == NULL)
            return FALSE;
        }
      else
        {
          /* Addresses as uvec2 (low word first), then the shader's own constants. */
          for (guint i = 0; i < pipeline->address_slots; i++)
            {
              GraftBuffer *buffer = d->buffers[i] != NULL ? d->buffers[i] : self->dummy;
              VkDeviceAddress address = (d->texel_mask & (1u << i)) ? 0 : buffer->address;

              push[2 * i] = (guint32) address;
              push[2 * i + 1] = (guint32) (address >> 32);
            }
          if (d->push_size > 0)
            memcpy ((guint8 *) push + offset, d->push, d->push_size);
          push_data = push;
          push_size = offset + d->push_size;
        }
    }

  /* Texel views are made before anything is recorded, so a failure leaves no trace. */
  for (guint i = 0; i < d->n_bindings; i++)
    if (d->texel_mask & (1u << i))
      {
        views[i] = _graft_vk_buffer_get_view (self, d->buffers[i] != NULL ? d->buffers[i] : self->dummy,
                                              (d->texel4_mask & (1u << i)) != 0, error);
        if (views[i] == VK_NULL_HANDLE)
          return FALSE;
      }

  if (!dispatch_target (self, pipeline, &cmd, &set, error))
    return FALSE;

  value = _graft_vk_recording_value (self);
  for (guint i = 0; i < d->n_bindings; i++)
    {
      GraftBuffer *buffer = d->buffers[i] != NULL ? d->buffers[i] : self->dummy;

      gboolean texel = (d->texel_mask & (1u << i)) != 0;

      _graft_vk_mark_use (self, buffer, value);
      if (addresses && !texel)
        continue;
      infos[i] = (VkDescriptorBufferInfo) { buffer->buffer, 0, VK_WHOLE_SIZE };
      writes[n_writes++] = (VkWriteDescriptorSet) {
        .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
        .dstSet = set,
        .dstBinding = i,
        .descriptorCount = 1,
        .descriptorType = texel ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .pBufferInfo = texel ? NULL : &infos[i],
        .pTexelBufferView = texel ? &views[i] : NULL,
      };
    }
  if (n_writes > 0)
    self->vk->UpdateDescriptorSets (self->device, n_writes, writes, 0, NULL);

  self->vk->CmdBindPipeline (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline->pipeline);
  self->vk->CmdBindDescriptorSets (cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                   pipeline->layout->pipeline_layout, 0, 1, &set, 0, NULL);
  if (push_size > 0)
    self->vk->CmdPushConstants (cmd, pipeline->layout->pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT,
                                0, push_size, push_data);
  self->vk->CmdDispatch (cmd, d->groups[0], d->groups[1], d->groups[2]);
  return TRUE;
}
