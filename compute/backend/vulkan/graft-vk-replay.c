/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Recording and replay. Between record_begin and record_end every dispatch goes into a
 * command buffer of its own (begun without ONE_TIME_SUBMIT) with descriptor sets from
 * pools that belong to the recording, so that the sets stay valid for its whole life.
 * The recording remembers each buffer it uses and keeps it alive: a buffer freed while a
 * recording holds it is only marked, and released when the last such recording goes.
 * A replay submits the command buffer like a frame, signalling the next timeline value
 * and setting that value as the last use of every buffer it holds, so reads, writes and
 * frees of those buffers wait for it. A replay first waits for the recording's previous
 * submission (a command buffer without SIMULTANEOUS_USE runs once at a time). */

#include "graft-vk-private.h"

gboolean
_graft_vk_check_not_recording (GraftVkBackend  *self,
                               const char      *what,
                               GError         **error)
{
  if (self->recording == NULL)
    return TRUE;
  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
               "%s on %s is not possible while ops are being recorded for replay; "
               "end the recording first", what, self->parent.info->name);
  return FALSE;
}

void
_graft_vk_mark_use (GraftVkBackend *self,
                    GraftBuffer    *buffer,
                    guint64         value)
{
  if (self->recording == NULL)
    {
      buffer->last_use = value;
      return;
    }
  if (g_hash_table_add (self->recording->buffers, buffer))
    buffer->n_recordings++;
}

static gboolean
add_pool (GraftVkBackend  *self,
          GraftRecording  *rec,
          GError         **error)
{
  VkDescriptorPoolSize sizes[] = {
    { VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, GRAFT_VK_SETS_PER_POOL * GRAFT_VK_MAX_BINDINGS },
    { VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, GRAFT_VK_SETS_PER_POOL * GRAFT_VK_MAX_BINDINGS },
  };
  VkDescriptorPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = GRAFT_VK_SETS_PER_POOL,
    .poolSizeCount = G_N_ELEMENTS (sizes),
    .pPoolSizes = sizes,
  };
  VkDescriptorPool pool;
  VkResult result;

  result = self->vk->CreateDescriptorPool (self->device, &info, NULL, &pool);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not create a descriptor pool for a recording on %s",
                           self->parent.info->name);
      return FALSE;
    }
  g_array_append_val (rec->pools, pool);
  rec->n_sets = 0;
  return TRUE;
}

static void
recording_destroy (GraftVkBackend *self,
                   GraftRecording *rec)
{
  GHashTableIter iter;
  gpointer key;

  if (rec->cmd != VK_NULL_HANDLE)
    self->vk->FreeCommandBuffers (self->device, self->cmd_pool, 1, &rec->cmd);
  for (guint i = 0; i < rec->pools->len; i++)
    self->vk->DestroyDescriptorPool (self->device, g_array_index (rec->pools, VkDescriptorPool, i), NULL);
  g_array_unref (rec->pools);

  /* Buffers freed while the recording held them go now (deferred past the replay). */
  g_hash_table_iter_init (&iter, rec->buffers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    {
      GraftBuffer *buffer = key;

      g_assert (buffer->n_recordings > 0);
      if (--buffer->n_recordings == 0 && buffer->orphaned)
        {
          buffer->orphaned = FALSE;
          _graft_vk_buffer_free (&self->parent, buffer);
        }
    }
  g_hash_table_unref (rec->buffers);
  if (self->recordings != NULL)
    g_ptr_array_remove_fast (self->recordings, rec);
  g_free (rec);
}

gboolean
_graft_vk_record_begin (GraftBackend  *backend,
                        GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  VkCommandBufferAllocateInfo cmd_info = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = self->cmd_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkCommandBufferBeginInfo begin = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
  };
  GraftRecording *rec;
  VkResult result;

  if (!_graft_vk_check_lost (self, error))
    return FALSE;
  if (!_graft_vk_check_not_recording (self, "Starting another recording", error))
    return FALSE;
  /* Work already queued runs as it is, before anything recorded. */
  if (!_graft_vk_submit (self, error))
    return FALSE;

  rec = g_new0 (GraftRecording, 1);
  rec->pools = g_array_new (FALSE, FALSE, sizeof (VkDescriptorPool));
  rec->buffers = g_hash_table_new (NULL, NULL);

  result = self->vk->AllocateCommandBuffers (self->device, &cmd_info, &rec->cmd);
  if (result != VK_SUCCESS)
    {
      rec->cmd = VK_NULL_HANDLE;
      _graft_vk_set_error (error, result, "Could not allocate a command buffer for a recording on %s",
                           self->parent.info->name);
      recording_destroy (self, rec);
      return FALSE;
    }
  result = self->vk->BeginCommandBuffer (rec->cmd, &begin);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not start a recording on %s", self->parent.info->name);
      recording_destroy (self, rec);
      return FALSE;
    }
  if (!add_pool (self, rec, error))
    {
      self->vk->EndCommandBuffer (rec->cmd);
      recording_destroy (self, rec);
      return FALSE;
    }

  if (self->recordings == NULL)
    self->recordings = g_ptr_array_new ();
  g_ptr_array_add (self->recordings, rec);
  self->recording = rec;
  return TRUE;
}

gboolean
_graft_vk_recording_target (GraftVkBackend         *self,
                            VkDescriptorSetLayout   layout,
                            VkCommandBuffer        *cmd,
                            VkDescriptorSet        *set,
                            GError                **error)
{
  GraftRecording *rec = self->recording;
  VkDescriptorSetAllocateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorSetCount = 1,
    .pSetLayouts = &layout,
  };
  VkResult result;

  if (rec->n_sets >= GRAFT_VK_SETS_PER_POOL && !add_pool (self, rec, error))
    return FALSE;
  info.descriptorPool = g_array_index (rec->pools, VkDescriptorPool, rec->pools->len - 1);
  result = self->vk->AllocateDescriptorSets (self->device, &info, set);
  if (result != VK_SUCCESS)
    {
      /* A pool can run out before its set count (fragmentation): one fresh try. */
      if (!add_pool (self, rec, error))
        return FALSE;
      info.descriptorPool = g_array_index (rec->pools, VkDescriptorPool, rec->pools->len - 1);
      result = self->vk->AllocateDescriptorSets (self->device, &info, set);
      if (result != VK_SUCCESS)
        {
          _graft_vk_set_error (error, result, "%s could not allocate a descriptor set for a recording",
                               self->parent.info->name);
          return FALSE;
        }
    }
  rec->n_sets++;

  _graft_vk_barrier (self, rec->cmd);
  *cmd = rec->cmd;
  return TRUE;
}

GraftRecording *
_graft_vk_record_end (GraftBackend  *backend,
                      GError       **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  GraftRecording *rec = self->recording;
  VkMemoryBarrier to_host = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
  };
  VkResult result;

  if (rec == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "%s is not recording: there is no recording to end", backend->info->name);
      return NULL;
    }
  self->recording = NULL;

  /* As at the end of a frame: results visible to mapped reads once signalled. */
  self->vk->CmdPipelineBarrier (rec->cmd,
                                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                                VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &to_host, 0, NULL, 0, NULL);
  result = self->vk->EndCommandBuffer (rec->cmd);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "Could not finish a recording on %s", backend->info->name);
      recording_destroy (self, rec);
      return NULL;
    }
  rec->ended = TRUE;
  return rec;
}

gboolean
_graft_vk_replay (GraftBackend    *backend,
                  GraftRecording  *rec,
                  GError         **error)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);
  GHashTableIter iter;
  gpointer key;
  guint64 value;

  g_return_val_if_fail (rec->ended, FALSE);

  if (!_graft_vk_check_lost (self, error))
    return FALSE;
  if (!_graft_vk_check_not_recording (self, "Replaying a recording", error))
    return FALSE;
  /* Ops queued since run first; the recording's barriers order it after them. */
  if (!_graft_vk_submit (self, error))
    return FALSE;
  if (!_graft_vk_wait (self, rec->value, error))
    return FALSE;

  value = _graft_vk_queue_submit (self, rec->cmd, "Replaying a recording", error);
  if (value == 0)
    return FALSE;
  rec->value = value;

  g_hash_table_iter_init (&iter, rec->buffers);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    ((GraftBuffer *) key)->last_use = value;

  return _graft_vk_poll (self, error);
}

void
_graft_vk_recording_free (GraftBackend   *backend,
                          GraftRecording *rec)
{
  GraftVkBackend *self = GRAFT_VK_BACKEND (backend);

  if (rec == NULL)
    return;

  if (self->recording == rec)
    {
      self->recording = NULL;
      self->vk->EndCommandBuffer (rec->cmd);
    }
  else if (rec->value > self->completed && !self->lost)
    {
      g_autoptr(GError) error = NULL;

      /* The command buffer and its sets may not go while a replay runs. */
      if (!_graft_vk_wait (self, rec->value, &error))
        g_debug ("Freeing a recording on %s: %s", backend->info->name, error->message);
    }
  recording_destroy (self, rec);
}
