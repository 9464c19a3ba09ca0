/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

/* libvulkan is opened at run time so that libgraft starts, and falls back to the CPU
 * backend, on machines without Vulkan. Every entry point goes through the function
 * table of the instance (and device) it belongs to. */

#include <stdarg.h>

#include "graft-vk-private.h"

#define GRAFT_VK_LIBRARY "libvulkan.so.1"

typedef struct {
  GModule *module;
  char    *error;   /* why it could not be opened */
} GraftVkLibrary;

/* The module handle is process-wide and never closed: opening and closing libvulkan
 * repeatedly gains nothing and some drivers do not survive it. GRAFT_VULKAN_LIBRARY
 * names another loader (tests use it to simulate a machine without one). */
static gpointer
open_library (gpointer data G_GNUC_UNUSED)
{
  GraftVkLibrary *lib = g_new0 (GraftVkLibrary, 1);
  const char *name = g_getenv ("GRAFT_VULKAN_LIBRARY");

  if (name == NULL || *name == '\0')
    name = GRAFT_VK_LIBRARY;

  lib->module = g_module_open (name, G_MODULE_BIND_LAZY | G_MODULE_BIND_LOCAL);
  if (lib->module == NULL)
    lib->error = g_strdup_printf ("%s could not be loaded (%s)", name, g_module_error ());
  return lib;
}

static const GraftVkLibrary *
get_library (void)
{
  static GOnce once = G_ONCE_INIT;

  return g_once (&once, open_library, NULL);
}

const char *
_graft_vk_result_to_string (VkResult result)
{
  switch (result)
    {
#define CASE(r) case r: return #r
    CASE (VK_SUCCESS);
    CASE (VK_NOT_READY);
    CASE (VK_TIMEOUT);
    CASE (VK_INCOMPLETE);
    CASE (VK_ERROR_OUT_OF_HOST_MEMORY);
    CASE (VK_ERROR_OUT_OF_DEVICE_MEMORY);
    CASE (VK_ERROR_INITIALIZATION_FAILED);
    CASE (VK_ERROR_DEVICE_LOST);
    CASE (VK_ERROR_MEMORY_MAP_FAILED);
    CASE (VK_ERROR_LAYER_NOT_PRESENT);
    CASE (VK_ERROR_EXTENSION_NOT_PRESENT);
    CASE (VK_ERROR_FEATURE_NOT_PRESENT);
    CASE (VK_ERROR_INCOMPATIBLE_DRIVER);
    CASE (VK_ERROR_TOO_MANY_OBJECTS);
    CASE (VK_ERROR_FORMAT_NOT_SUPPORTED);
    CASE (VK_ERROR_FRAGMENTED_POOL);
    CASE (VK_ERROR_UNKNOWN);
    CASE (VK_ERROR_OUT_OF_POOL_MEMORY);
    CASE (VK_ERROR_FRAGMENTATION);
    CASE (VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS);
    CASE (VK_PIPELINE_COMPILE_REQUIRED);
#undef CASE
    default:
      return "an unknown VkResult";
    }
}

void
_graft_vk_set_error (GError     **error,
                     VkResult     result,
                     const char  *format,
                     ...)
{
  g_autofree char *what = NULL;
  va_list args;
  GraftDeviceError code;

  switch (result)
    {
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    case VK_ERROR_OUT_OF_POOL_MEMORY:
    case VK_ERROR_FRAGMENTATION:
      code = GRAFT_DEVICE_ERROR_OUT_OF_MEMORY;
      break;
    case VK_ERROR_DEVICE_LOST:
      code = GRAFT_DEVICE_ERROR_LOST;
      break;
    default:
      code = GRAFT_DEVICE_ERROR_INIT_FAILED;
      break;
    }

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);

  g_set_error (error, GRAFT_DEVICE_ERROR, code, "%s (%s)", what,
               _graft_vk_result_to_string (result));
}

static gboolean
load_global_funcs (GraftVkFuncs  *vk,
                   GError       **error)
{
  const GraftVkLibrary *lib = get_library ();

  if (lib->module == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                   "Vulkan is unavailable: the Vulkan loader %s; install libvulkan1 "
                   "and mesa-vulkan-drivers or your GPU's driver", lib->error);
      return FALSE;
    }

  if (!g_module_symbol (lib->module, "vkGetInstanceProcAddr", (gpointer *) &vk->GetInstanceProcAddr) ||
      vk->GetInstanceProcAddr == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                   "Vulkan is unavailable: %s has no vkGetInstanceProcAddr, it is not a "
                   "Vulkan loader", g_module_name (lib->module));
      return FALSE;
    }

  vk->CreateInstance = (PFN_vkCreateInstance) vk->GetInstanceProcAddr (NULL, "vkCreateInstance");
  /* Absent from 1.0 loaders, which is what its absence means. */
  vk->EnumerateInstanceVersion =
    (PFN_vkEnumerateInstanceVersion) vk->GetInstanceProcAddr (NULL, "vkEnumerateInstanceVersion");
  if (vk->CreateInstance == NULL)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                   "Vulkan is unavailable: the Vulkan loader has no vkCreateInstance");
      return FALSE;
    }
  return TRUE;
}

static gboolean
load_instance_funcs (GraftVkFuncs  *vk,
                     VkInstance     instance,
                     GError       **error)
{
#define LOAD(name) \
  vk->name = (PFN_vk##name) vk->GetInstanceProcAddr (instance, "vk" #name); \
  if (vk->name == NULL) \
    { \
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE, \
                   "Vulkan is unavailable: the Vulkan driver lacks vk%s, which " \
                   "Vulkan 1.2 requires; update the driver", #name); \
      return FALSE; \
    }
  GRAFT_VK_INSTANCE_FUNCS (LOAD)
#undef LOAD
  return TRUE;
}

gboolean
_graft_vk_load_device_funcs (GraftVkFuncs  *vk,
                             VkDevice       device,
                             GError       **error)
{
#define LOAD(name) \
  vk->name = (PFN_vk##name) vk->GetDeviceProcAddr (device, "vk" #name); \
  if (vk->name == NULL) \
    { \
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED, \
                   "The Vulkan driver lacks vk%s, which Vulkan 1.2 requires; update the driver", \
                   #name); \
      return FALSE; \
    }
  GRAFT_VK_DEVICE_FUNCS (LOAD)
#undef LOAD
  return TRUE;
}

static void
set_create_instance_error (GError   **error,
                           VkResult   result)
{
  const char *cause;
  const char *advice;

  switch (result)
    {
    case VK_ERROR_INCOMPATIBLE_DRIVER:
      cause = "no Vulkan driver was found";
      advice = "install mesa-vulkan-drivers or your GPU's driver";
      break;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
      cause = "the Vulkan driver ran out of memory while starting";
      advice = "close other programs and try again";
      break;
    case VK_ERROR_LAYER_NOT_PRESENT:
    case VK_ERROR_EXTENSION_NOT_PRESENT:
      cause = "a Vulkan layer set in the environment (VK_INSTANCE_LAYERS) is missing";
      advice = "unset it or install the layer";
      break;
    default:
      cause = "the Vulkan driver failed to start";
      advice = "check the driver installation (vulkaninfo shows what it reports)";
      break;
    }

  g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
               "Vulkan is unavailable: %s (vkCreateInstance returned %s); %s",
               cause, _graft_vk_result_to_string (result), advice);
}

GraftVkInstance *
_graft_vk_instance_new (GError **error)
{
  g_autofree GraftVkInstance *inst = g_new0 (GraftVkInstance, 1);
  guint32 version = VK_API_VERSION_1_0;
  VkResult result;

  if (!load_global_funcs (&inst->vk, error))
    return NULL;

  if (inst->vk.EnumerateInstanceVersion != NULL &&
      inst->vk.EnumerateInstanceVersion (&version) != VK_SUCCESS)
    version = VK_API_VERSION_1_0;
  if (version < VK_API_VERSION_1_2)
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                   "Vulkan is unavailable: the Vulkan loader implements version %u.%u, "
                   "Graft needs 1.2; update libvulkan1",
                   VK_API_VERSION_MAJOR (version), VK_API_VERSION_MINOR (version));
      return NULL;
    }

  {
    VkApplicationInfo app = {
      .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
      .pApplicationName = "Graft",
      .applicationVersion = VK_MAKE_API_VERSION (0, 0, 1, 0),
      .pEngineName = "libgraft",
      .engineVersion = VK_MAKE_API_VERSION (0, 0, 1, 0),
      .apiVersion = VK_API_VERSION_1_2,
    };
    VkInstanceCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
      .pApplicationInfo = &app,
    };

    result = inst->vk.CreateInstance (&info, NULL, &inst->instance);
    if (result != VK_SUCCESS)
      {
        set_create_instance_error (error, result);
        return NULL;
      }
  }

  /* vkDestroyInstance first, so that a failure below can clean up. */
  inst->vk.DestroyInstance =
    (PFN_vkDestroyInstance) inst->vk.GetInstanceProcAddr (inst->instance, "vkDestroyInstance");
  if (inst->vk.DestroyInstance == NULL || !load_instance_funcs (&inst->vk, inst->instance, error))
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                     "Vulkan is unavailable: the Vulkan driver lacks vkDestroyInstance");
      if (inst->vk.DestroyInstance != NULL)
        inst->vk.DestroyInstance (inst->instance, NULL);
      return NULL;
    }

  result = inst->vk.EnumeratePhysicalDevices (inst->instance, &inst->n_physical, NULL);
  if (result == VK_SUCCESS && inst->n_physical > 0)
    {
      inst->physical = g_new0 (VkPhysicalDevice, inst->n_physical);
      result = inst->vk.EnumeratePhysicalDevices (inst->instance, &inst->n_physical, inst->physical);
      if (result == VK_INCOMPLETE)
        result = VK_SUCCESS;
    }
  if (result != VK_SUCCESS || inst->n_physical == 0)
    {
      if (result != VK_SUCCESS)
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                     "Vulkan is unavailable: the Vulkan driver could not list its devices "
                     "(vkEnumeratePhysicalDevices returned %s); check the driver installation",
                     _graft_vk_result_to_string (result));
      else
        g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE,
                     "Vulkan is unavailable: the Vulkan driver reports no device; install "
                     "mesa-vulkan-drivers or your GPU's driver");
      g_free (inst->physical);
      inst->vk.DestroyInstance (inst->instance, NULL);
      return NULL;
    }

  return g_steal_pointer (&inst);
}

void
_graft_vk_instance_free (GraftVkInstance *inst)
{
  if (inst == NULL)
    return;

  if (inst->instance != VK_NULL_HANDLE)
    inst->vk.DestroyInstance (inst->instance, NULL);
  g_free (inst->physical);
  g_free (inst);
}
