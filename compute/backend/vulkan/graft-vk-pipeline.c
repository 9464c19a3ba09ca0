/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* Compute pipelines, created on first use from the SPIR-V embedded in libgraft and kept
 * per (shader, specialization constants). A VkPipelineCache saved in the user's cache
 * folder spares the driver's compiler on the next start. */

#include <errno.h>
#include <string.h>

#include "graft-shaders.h"
#include "graft-vk-private.h"

char *
_graft_vk_pipeline_cache_path (const GraftDeviceInfo *info)
{
  g_autofree char *uuid = NULL;
  g_autofree char *file = NULL;

  uuid = g_malloc0 (2 * sizeof info->uuid + 1);
  for (gsize i = 0; i < sizeof info->uuid; i++)
    g_snprintf (uuid + 2 * i, 3, "%02x", info->uuid[i]);
  file = g_strdup_printf ("%04x-%04x-%s.bin", info->vendor_id, info->device_id, uuid);
  return g_build_filename (g_get_user_cache_dir (), "graft", "pipeline-cache", file, NULL);
}

/* A cache is only handed to the driver when its header says it was written by this
 * very driver and device (VkPipelineCacheHeaderVersionOne, little-endian). */
static gboolean
cache_header_valid (GraftVkBackend *self,
                    const guint8   *data,
                    gsize           size)
{
  guint32 header_size, version, vendor, device;

  if (size < 16 + VK_UUID_SIZE)
    return FALSE;
  header_size = GUINT32_FROM_LE (((const guint32 *) data)[0]);
  version = GUINT32_FROM_LE (((const guint32 *) data)[1]);
  vendor = GUINT32_FROM_LE (((const guint32 *) data)[2]);
  device = GUINT32_FROM_LE (((const guint32 *) data)[3]);
  return header_size >= 16 + VK_UUID_SIZE && header_size <= size &&
         version == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
         vendor == self->props.vendorID && device == self->props.deviceID &&
         memcmp (data + 16, self->props.pipelineCacheUUID, VK_UUID_SIZE) == 0;
}

static gboolean
create_cache (GraftVkBackend  *self,
              GError         **error)
{
  VkPipelineCacheCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
  };
  g_autofree char *data = NULL;
  g_autoptr(GError) local_error = NULL;
  gsize size = 0;
  VkResult result;

  self->pipeline_cache_path = _graft_vk_pipeline_cache_path (self->parent.info);
  if (g_file_get_contents (self->pipeline_cache_path, &data, &size, &local_error))
    {
      if (cache_header_valid (self, (const guint8 *) data, size))
        {
          info.initialDataSize = size;
          info.pInitialData = data;
        }
      else
        g_debug ("Ignoring %s: written by another driver or device", self->pipeline_cache_path);
    }
  else if (!g_error_matches (local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_debug ("Ignoring the pipeline cache: %s", local_error->message);

  result = self->vk->CreatePipelineCache (self->device, &info, NULL, &self->pipeline_cache);
  if (result != VK_SUCCESS && info.initialDataSize > 0)
    {
      g_debug ("The driver refused %s; starting an empty pipeline cache", self->pipeline_cache_path);
      info.initialDataSize = 0;
      info.pInitialData = NULL;
      result = self->vk->CreatePipelineCache (self->device, &info, NULL, &self->pipeline_cache);
    }
  if (result != VK_SUCCESS)
    {
      self->pipeline_cache = VK_NULL_HANDLE;
      _graft_vk_set_error (error, result, "Could not create a pipeline cache on %s",
                           self->parent.info->name);
      return FALSE;
    }
  return TRUE;
}

/* Written whole to a temporary file and renamed over the old one, so a crash never
 * leaves half a cache. A cache that cannot be saved only costs compile time later. */
static void
save_cache (GraftVkBackend *self)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = NULL;
  g_autofree guint8 *data = NULL;
  gsize size = 0;
  VkResult result;

  result = self->vk->GetPipelineCacheData (self->device, self->pipeline_cache, &size, NULL);
  if (result != VK_SUCCESS || size == 0)
    return;
  data = g_malloc (size);
  result = self->vk->GetPipelineCacheData (self->device, self->pipeline_cache, &size, data);
  if (result != VK_SUCCESS)
    return;

  dir = g_path_get_dirname (self->pipeline_cache_path);
  if (g_mkdir_with_parents (dir, 0700) != 0)
    {
      g_debug ("Not saving the pipeline cache: cannot create %s: %s", dir, g_strerror (errno));
      return;
    }
  if (!g_file_set_contents (self->pipeline_cache_path, (const char *) data, size, &error))
    g_debug ("Not saving the pipeline cache: %s", error->message);
}

gboolean
_graft_vk_pipelines_init (GraftVkBackend  *self,
                          GError         **error)
{
  self->pipelines = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return create_cache (self, error);
}

/* The device-address variant of a pattern keeps only its texel bindings, and its push
 * constants hold up to one address per binding more. */
static const GraftVkLayout *
get_layout (GraftVkBackend  *self,
            gboolean         addresses,
            guint            n_bindings,
            guint32          texel_mask,
            GError         **error)
{
  GraftVkLayout *layout = addresses ? &self->address_layouts[n_bindings][texel_mask]
                                    : &self->layouts[n_bindings][texel_mask];
  VkDescriptorSetLayoutBinding bindings[GRAFT_VK_MAX_BINDINGS];
  guint32 push_size = addresses ? GRAFT_VK_MAX_PUSH + 8 * GRAFT_VK_MAX_BINDINGS : GRAFT_VK_MAX_PUSH;
  VkPushConstantRange push = {
    .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    .offset = 0,
    .size = MIN (push_size, self->props.limits.maxPushConstantsSize),
  };
  VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .pBindings = bindings,
  };
  VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &layout->set_layout,
    .pushConstantRangeCount = 1,
    .pPushConstantRanges = &push,
  };
  VkResult result;

  if (layout->pipeline_layout != VK_NULL_HANDLE)
    return layout;

  for (guint i = 0; i < n_bindings; i++)
    if (!addresses || (texel_mask & (1u << i)))
      bindings[set_info.bindingCount++] = (VkDescriptorSetLayoutBinding) {
        .binding = i,
        .descriptorType = (texel_mask & (1u << i)) ? VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER
                                                   : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
        .descriptorCount = 1,
        .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
      };

  if (layout->set_layout == VK_NULL_HANDLE)
    {
      result = self->vk->CreateDescriptorSetLayout (self->device, &set_info, NULL, &layout->set_layout);
      if (result != VK_SUCCESS)
        {
          layout->set_layout = VK_NULL_HANDLE;
          _graft_vk_set_error (error, result, "Could not create a descriptor set layout on %s",
                               self->parent.info->name);
          return NULL;
        }
    }
  result = self->vk->CreatePipelineLayout (self->device, &layout_info, NULL, &layout->pipeline_layout);
  if (result != VK_SUCCESS)
    {
      layout->pipeline_layout = VK_NULL_HANDLE;
      _graft_vk_set_error (error, result, "Could not create a pipeline layout on %s",
                           self->parent.info->name);
      return NULL;
    }
  return layout;
}

void
_graft_vk_pipelines_fini (GraftVkBackend *self)
{
  if (self->pipelines != NULL)
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->pipelines);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        self->vk->DestroyPipeline (self->device, ((GraftVkPipeline *) value)->pipeline, NULL);
      g_clear_pointer (&self->pipelines, g_hash_table_unref);
    }

  if (self->pipeline_cache != VK_NULL_HANDLE)
    {
      save_cache (self);
      self->vk->DestroyPipelineCache (self->device, self->pipeline_cache, NULL);
      self->pipeline_cache = VK_NULL_HANDLE;
    }
  g_clear_pointer (&self->pipeline_cache_path, g_free);

  for (guint variant = 0; variant < 2; variant++)
    for (guint n = 0; n <= GRAFT_VK_MAX_BINDINGS; n++)
      for (guint mask = 0; mask < GRAFT_VK_N_MASKS; mask++)
        {
          GraftVkLayout *layout = variant ? &self->address_layouts[n][mask] : &self->layouts[n][mask];

          if (layout->pipeline_layout != VK_NULL_HANDLE)
            self->vk->DestroyPipelineLayout (self->device, layout->pipeline_layout, NULL);
          if (layout->set_layout != VK_NULL_HANDLE)
            self->vk->DestroyDescriptorSetLayout (self->device, layout->set_layout, NULL);
          *layout = (GraftVkLayout) { VK_NULL_HANDLE, VK_NULL_HANDLE };
        }
}

const GraftVkPipeline *
_graft_vk_pipeline_get (GraftVkBackend  *self,
                        const char      *shader,
                        gboolean         addresses,
                        guint            n_bindings,
                        guint32          texel_mask,
                        const guint32   *spec,
                        guint            n_spec,
                        GError         **error)
{
  VkSpecializationMapEntry entries[GRAFT_VK_MAX_SPEC];
  VkSpecializationInfo spec_info = {
    .mapEntryCount = n_spec,
    .pMapEntries = entries,
    .dataSize = n_spec * sizeof (guint32),
    .pData = spec,
  };
  VkShaderModuleCreateInfo module_info = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
  };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .pName = "main",
      .pSpecializationInfo = &spec_info,
    },
  };
  const GraftVkLayout *layout;
  const GraftShaderCode *code;
  GraftVkPipeline *pipeline;
  GString *key;
  VkShaderModule module;
  VkPipeline handle;
  VkResult result;

  g_return_val_if_fail (n_spec <= GRAFT_VK_MAX_SPEC, NULL);
  g_return_val_if_fail (n_bindings >= 1 && n_bindings <= GRAFT_VK_MAX_BINDINGS, NULL);
  g_return_val_if_fail (texel_mask < (1u << n_bindings), NULL);

  key = g_string_new (shader);
  g_string_append_printf (key, "%s/%u/%x", addresses ? "@addr" : "", n_bindings, texel_mask);
  for (guint i = 0; i < n_spec; i++)
    g_string_append_printf (key, "%c%u", i == 0 ? ':' : ',', spec[i]);

  pipeline = g_hash_table_lookup (self->pipelines, key->str);
  if (pipeline != NULL)
    {
      g_string_free (key, TRUE);
      return pipeline;
    }

  layout = get_layout (self, addresses, n_bindings, texel_mask, error);
  if (layout == NULL)
    {
      g_string_free (key, TRUE);
      return NULL;
    }
  info.layout = layout->pipeline_layout;

  code = graft_shader_find (shader);
  if (code == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "The compute shader “%s” is missing from this build of Graft", shader);
      g_string_free (key, TRUE);
      return NULL;
    }

  if (addresses && code->address_slots > n_bindings)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED,
                   "The compute shader “%s” reaches %u buffers by address, more than the %u bound",
                   shader, code->address_slots, n_bindings);
      g_string_free (key, TRUE);
      return NULL;
    }
  module_info.codeSize = addresses ? code->size_addr : code->size;
  module_info.pCode = addresses ? code->code_addr : code->code;
  result = self->vk->CreateShaderModule (self->device, &module_info, NULL, &module);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "%s refused the compute shader “%s”",
                           self->parent.info->name, shader);
      g_string_free (key, TRUE);
      return NULL;
    }

  for (guint i = 0; i < n_spec; i++)
    entries[i] = (VkSpecializationMapEntry) { i, i * sizeof (guint32), sizeof (guint32) };
  info.stage.module = module;

  result = self->vk->CreateComputePipelines (self->device, self->pipeline_cache, 1, &info, NULL, &handle);
  self->vk->DestroyShaderModule (self->device, module, NULL);
  if (result != VK_SUCCESS)
    {
      _graft_vk_set_error (error, result, "%s could not compile the compute pipeline %s",
                           self->parent.info->name, key->str);
      g_string_free (key, TRUE);
      return NULL;
    }

  g_debug ("Created pipeline %s", key->str);
  pipeline = g_new0 (GraftVkPipeline, 1);
  pipeline->pipeline = handle;
  pipeline->layout = layout;
  pipeline->address_slots = addresses ? code->address_slots : 0;
  g_hash_table_insert (self->pipelines, g_string_free (key, FALSE), pipeline);
  return pipeline;
}
