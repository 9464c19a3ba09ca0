/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* Device listing and selection, in-process and through graft-cli. */

#include <json-c/json.h>
#include <string.h>
#include <sys/wait.h>

#include "graft.h"
#include "graft-test-util.h"

static void
test_list (void)
{
  g_autoptr(GError) vulkan_error = NULL;
  g_autoptr(GPtrArray) devices = graft_device_list (&vulkan_error);
  const GraftDeviceInfo *last;
  gboolean have_vulkan = FALSE;

  g_assert_cmpuint (devices->len, >=, 1);
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_assert_cmpuint (info->index, ==, i);
      g_assert_nonnull (info->name);
      g_assert_cmpuint (info->memory_bytes, >, 0);
      g_assert_cmpuint (info->max_storage_buffer_range, >, 0);
      g_assert_cmpuint (info->max_buffer_size, >=, info->max_storage_buffer_range);
      if (info->backend == GRAFT_BACKEND_KIND_VULKAN)
        {
          have_vulkan = TRUE;
          g_assert_true (g_str_has_prefix (info->id, "vulkan:"));
          g_assert_cmpuint (info->subgroup_size, >=, 1);
          g_assert_cmpuint (info->max_shared_memory, >, 0);
        }
    }

  /* The CPU backend is always there, last. */
  last = g_ptr_array_index (devices, devices->len - 1);
  g_assert_cmpint (last->backend, ==, GRAFT_BACKEND_KIND_CPU);
  g_assert_cmpstr (last->id, ==, "cpu");
  g_assert_cmpuint (last->n_threads, >=, 1);

  if (graft_test_require_vulkan ())
    {
      g_assert_no_error (vulkan_error);
      g_assert_true (have_vulkan);
    }
  else if (!have_vulkan)
    g_assert_nonnull (vulkan_error);
}

static void
test_select (void)
{
  g_autoptr(GPtrArray) devices = graft_device_list (NULL);
  g_autoptr(GError) error = NULL;
  const GraftDeviceInfo *info, *auto_info;

  info = graft_device_select (devices, "cpu", &error);
  g_assert_no_error (error);
  g_assert_cmpint (info->backend, ==, GRAFT_BACKEND_KIND_CPU);

  info = graft_device_select (devices, "0", &error);
  g_assert_no_error (error);
  g_assert_true (info == g_ptr_array_index (devices, 0));

  /* auto takes a discrete GPU, then an integrated one, else the CPU backend: never
   * lavapipe, which computes far slower than BLAS on the same cores. */
  auto_info = graft_device_select (devices, "auto", &error);
  g_assert_no_error (error);
  g_assert_true (auto_info->type == GRAFT_DEVICE_TYPE_DISCRETE_GPU ||
                 auto_info->type == GRAFT_DEVICE_TYPE_INTEGRATED_GPU ||
                 auto_info->backend == GRAFT_BACKEND_KIND_CPU);
  for (guint i = 0; i < devices->len && auto_info->type != GRAFT_DEVICE_TYPE_DISCRETE_GPU; i++)
    g_assert_cmpint (((GraftDeviceInfo *) g_ptr_array_index (devices, i))->type, !=, GRAFT_DEVICE_TYPE_DISCRETE_GPU);
  g_assert_true (graft_device_select (devices, NULL, &error) == auto_info);

  g_assert_null (graft_device_select (devices, "no-such-device", &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "no-such-device"));
  g_clear_error (&error);

  g_assert_null (graft_device_select (devices, "99", &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND);
  g_clear_error (&error);

  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *d = g_ptr_array_index (devices, i);
      g_assert_true (graft_device_select (devices, d->id, &error) == d);
    }

  if (graft_test_require_vulkan ())
    {
      info = graft_device_select (devices, "LLVMPIPE", &error);
      g_assert_no_error (error);
      g_assert_cmpint (info->backend, ==, GRAFT_BACKEND_KIND_VULKAN);
      g_assert_cmpint (info->type, ==, GRAFT_DEVICE_TYPE_CPU);
    }
}

static void
test_open_every_device (void)
{
  g_autoptr(GPtrArray) devices = graft_device_list (NULL);

  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_autoptr(GError) error = NULL;
      g_autoptr(GraftBackend) backend = graft_backend_open_device (info, &error);

      g_assert_no_error (error);
      g_assert_cmpstr (graft_backend_get_info (backend)->id, ==, info->id);
      g_assert_true (graft_backend_synchronize (backend, &error));
    }
}

/* ---- graft-cli ---------------------------------------------------------------------- */

static int
run_cli (const char * const  *args,
         const char          *icd_override,
         char               **out,
         char               **err)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_auto(GStrv) envp = g_get_environ ();
  int wait_status = 0;

  g_ptr_array_add (argv, (gpointer) g_getenv ("GRAFT_CLI"));
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);

  envp = g_environ_unsetenv (envp, "GRAFT_DEVICE");
  if (icd_override != NULL)
    {
      envp = g_environ_setenv (envp, "VK_ICD_FILENAMES", icd_override, TRUE);
      envp = g_environ_setenv (envp, "VK_DRIVER_FILES", icd_override, TRUE);
    }

  g_spawn_sync (NULL, (char **) argv->pdata, envp, G_SPAWN_DEFAULT, NULL, NULL,
                out, err, &wait_status, &error);
  g_assert_no_error (error);
  return WIFEXITED (wait_status) ? WEXITSTATUS (wait_status) : -1;
}

static void
test_cli_devices (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "devices", NULL };

  g_assert_cmpint (run_cli (args, NULL, &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "cpu"));
  g_assert_nonnull (strstr (out, "threads:"));
  if (graft_test_require_vulkan ())
    {
      g_assert_nonnull (strstr (out, "llvmpipe"));
      g_assert_nonnull (strstr (out, "max storage buffer range:"));
      g_assert_nonnull (strstr (out, "largest tensor:"));
      g_assert_nonnull (strstr (out, "subgroup size:"));
      g_assert_null (strstr (out, "Vulkan is unavailable"));
    }
}

static void
test_cli_devices_json (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "devices", "--json", NULL };
  json_object *root, *list, *selected;
  gboolean saw_cpu = FALSE, saw_lavapipe = FALSE;

  g_assert_cmpint (run_cli (args, NULL, &out, &err), ==, 0);
  root = json_tokener_parse (out);
  g_assert_nonnull (root);
  g_assert_true (json_object_object_get_ex (root, "devices", &list));
  for (size_t i = 0; i < json_object_array_length (list); i++)
    {
      json_object *dev = json_object_array_get_idx (list, i), *field;
      gint64 range, largest;
      g_assert_true (json_object_object_get_ex (dev, "max_storage_buffer_range", &field));
      range = json_object_get_int64 (field);
      g_assert_cmpint (range, >, 0);
      g_assert_true (json_object_object_get_ex (dev, "max_buffer_size", &field));
      largest = json_object_get_int64 (field);
      g_assert_cmpint (largest, >=, range);
      g_assert_true (json_object_object_get_ex (dev, "name", &field));
      if (strstr (json_object_get_string (field), "llvmpipe") != NULL)
        {
          saw_lavapipe = TRUE;
          /* lavapipe binds 128 MiB at once but reaches larger buffers by address. */
          g_assert_cmpint (largest, >, range);
        }
      g_assert_true (json_object_object_get_ex (dev, "id", &field));
      if (g_str_equal (json_object_get_string (field), "cpu"))
        saw_cpu = TRUE;
    }
  g_assert_true (saw_cpu);
  g_assert_true (saw_lavapipe || !graft_test_require_vulkan ());
  g_assert_true (json_object_object_get_ex (root, "selected", &selected));
  g_assert_nonnull (json_object_get_string (selected));
  json_object_put (root);
}

static void
test_cli_without_vulkan_driver (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "devices", NULL };
  const char *llvmpipe_args[] = { "--device=llvmpipe", "devices", NULL };

  /* A machine whose Vulkan driver is missing still has the CPU backend, and is told why
   * Vulkan is unavailable. */
  g_assert_cmpint (run_cli (args, "/nonexistent/graft-test-icd.json", &out, &err), ==, 0);
  g_assert_nonnull (strstr (out, "cpu"));
  g_assert_null (strstr (out, "llvmpipe"));
  g_assert_nonnull (strstr (out, "Vulkan is unavailable:"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);

  /* Asking for a Vulkan device then fails with a reason, not a crash. */
  g_assert_cmpint (run_cli (llvmpipe_args, "/nonexistent/graft-test-icd.json", &out, &err), ==, 1);
  g_assert_nonnull (strstr (err, "llvmpipe"));
}

static void
test_cli_usage (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *bad_command[] = { "frobnicate", NULL };
  const char *bad_sizes[] = { "bench", "gemm", "--sizes=12q", NULL };

  g_assert_cmpint (run_cli (bad_command, NULL, &out, &err), ==, 2);
  g_assert_nonnull (strstr (err, "frobnicate"));
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_cmpint (run_cli (bad_sizes, NULL, &out, &err), ==, 2);
  g_assert_nonnull (strstr (err, "--sizes"));
}

static void
test_cli_bench (void)
{
  g_autofree char *out = NULL, *err = NULL;
  const char *args[] = { "bench", "gemm", "--sizes=96,33x65x17", "--seconds=0", "--json", NULL };
  json_object *root, *devices, *peer;
  g_autoptr(GPtrArray) expected = graft_device_list (NULL);

  g_assert_cmpint (run_cli (args, NULL, &out, &err), ==, 0);
  root = json_tokener_parse (out);
  g_assert_nonnull (root);
  g_assert_true (json_object_object_get_ex (root, "openblas", &peer));
  g_assert_cmpuint (json_object_array_length (peer), ==, 2);
  g_assert_true (json_object_object_get_ex (root, "devices", &devices));
  /* every device is measured, and each result is a correct product */
  g_assert_cmpuint (json_object_array_length (devices), ==, expected->len);
  for (size_t i = 0; i < json_object_array_length (devices); i++)
    {
      json_object *dev = json_object_array_get_idx (devices, i), *results;
      g_assert_true (json_object_object_get_ex (dev, "results", &results));
      g_assert_cmpuint (json_object_array_length (results), ==, 2);
      for (size_t r = 0; r < 2; r++)
        {
          json_object *res = json_object_array_get_idx (results, r), *field;
          g_assert_true (json_object_object_get_ex (res, "gflops", &field));
          g_assert_cmpfloat (json_object_get_double (field), >, 0.0);
          /* spot-checked against double precision, relative to sum |a·b| */
          g_assert_true (json_object_object_get_ex (res, "max_rel_error", &field));
          g_assert_cmpfloat (json_object_get_double (field), <, 1e-5);
        }
    }
  json_object_put (root);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/devices/list", test_list);
  g_test_add_func ("/devices/select", test_select);
  g_test_add_func ("/devices/open-every-device", test_open_every_device);
  g_test_add_func ("/cli/devices", test_cli_devices);
  g_test_add_func ("/cli/devices-json", test_cli_devices_json);
  g_test_add_func ("/cli/without-vulkan-driver", test_cli_without_vulkan_driver);
  g_test_add_func ("/cli/usage", test_cli_usage);
  g_test_add_func ("/cli/bench", test_cli_bench);

  return g_test_run ();
}
