/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

#include <json-c/json.h>
#include <stdio.h>

#include "graft.h"
#include "graft-cli-private.h"

static char *
format_bytes (guint64 bytes)
{
  return g_format_size_full (bytes, G_FORMAT_SIZE_IEC_UNITS);
}

static json_object *
device_to_json (const GraftDeviceInfo *info,
                gboolean               selected)
{
  json_object *obj = json_object_new_object ();

  json_object_object_add (obj, "index", json_object_new_int ((int) info->index));
  json_object_object_add (obj, "id", json_object_new_string (info->id));
  json_object_object_add (obj, "backend", json_object_new_string (graft_backend_kind_to_string (info->backend)));
  json_object_object_add (obj, "name", json_object_new_string (info->name));
  json_object_object_add (obj, "type", json_object_new_string (graft_device_type_to_string (info->type)));
  json_object_object_add (obj, "driver", json_object_new_string (info->driver != NULL ? info->driver : ""));
  json_object_object_add (obj, "memory_bytes", json_object_new_int64 ((int64_t) info->memory_bytes));
  json_object_object_add (obj, "max_storage_buffer_range", json_object_new_int64 ((int64_t) info->max_storage_buffer_range));
  json_object_object_add (obj, "max_buffer_size", json_object_new_int64 ((int64_t) info->max_buffer_size));
  json_object_object_add (obj, "max_shared_memory", json_object_new_int64 (info->max_shared_memory));
  json_object_object_add (obj, "subgroup_size", json_object_new_int64 (info->subgroup_size));
  json_object_object_add (obj, "max_workgroup_invocations", json_object_new_int64 (info->max_workgroup_invocations));
  json_object_object_add (obj, "fp16", json_object_new_boolean (info->fp16));
  json_object_object_add (obj, "threads", json_object_new_int64 (info->n_threads));
  json_object_object_add (obj, "selected", json_object_new_boolean (selected));
  return obj;
}

static void
print_device (const GraftDeviceInfo *info,
              gboolean               selected)
{
  g_autofree char *memory = format_bytes (info->memory_bytes);
  g_autofree char *range = format_bytes (info->max_storage_buffer_range);

  printf ("%c %u  %-8s %s\n", selected ? '*' : ' ', info->index, info->id, info->name);
  printf ("      backend: %s   type: %s   memory: %s\n",
          graft_backend_kind_to_string (info->backend),
          graft_device_type_to_string (info->type), memory);
  if (info->driver != NULL)
    printf ("      driver: %s\n", info->driver);

  if (info->backend == GRAFT_BACKEND_KIND_VULKAN)
    {
      g_autofree char *shared = format_bytes (info->max_shared_memory);
      g_autofree char *largest = format_bytes (info->max_buffer_size);
      printf ("      max storage buffer range: %s   largest tensor: %s\n"
              "      shared memory: %s   subgroup size: %u   max workgroup invocations: %u   fp16: %s\n",
              range, largest, shared, info->subgroup_size, info->max_workgroup_invocations,
              info->fp16 ? "yes" : "no");
    }
  else
    {
      printf ("      threads: %u   largest tensor: %s   fp16: no\n", info->n_threads, range);
    }
}

int
_graft_cli_devices (GraftCliGlobals  *globals,
                    int               argc,
                    char            **argv)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) vulkan_error = NULL;
  g_autoptr(GError) select_error = NULL;
  const GraftDeviceInfo *selected;

  if (!_graft_cli_parse (globals, &argc, &argv, NULL, "devices",
                         "List every compute device Graft can use. “*” marks the one\n"
                         "--device (default: auto) selects."))
    return GRAFT_CLI_EXIT_USAGE;
  if (argc > 1)
    {
      _graft_cli_error ("devices takes no arguments");
      return GRAFT_CLI_EXIT_USAGE;
    }

  devices = graft_device_list (&vulkan_error);
  selected = graft_device_select (devices, globals->device, &select_error);

  if (globals->json)
    {
      json_object *root = json_object_new_object ();
      json_object *list = json_object_new_array ();

      for (guint i = 0; i < devices->len; i++)
        {
          const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
          json_object_array_add (list, device_to_json (info, info == selected));
        }
      json_object_object_add (root, "devices", list);
      json_object_object_add (root, "vulkan_error",
                              vulkan_error != NULL ? json_object_new_string (vulkan_error->message) : NULL);
      json_object_object_add (root, "selector", json_object_new_string (globals->device));
      json_object_object_add (root, "selected", selected != NULL ? json_object_new_string (selected->id) : NULL);
      printf ("%s\n", json_object_to_json_string_ext (root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
      json_object_put (root);
    }
  else
    {
      for (guint i = 0; i < devices->len; i++)
        {
          const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
          print_device (info, info == selected);
        }
      if (vulkan_error != NULL)
        printf ("\n%s\n", vulkan_error->message);
    }

  if (selected == NULL)
    {
      _graft_cli_error ("%s; “graft-cli devices” lists them", select_error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  return GRAFT_CLI_EXIT_OK;
}
