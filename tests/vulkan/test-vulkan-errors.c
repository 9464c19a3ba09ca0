/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* What a user sees when Vulkan is missing or a request is too large, and the ordering
 * promises of the backend: frees deferred while work is in flight, writes ordered
 * after earlier ops, reads after everything, with mapped memory and through staging. */

#include <string.h>

#include "graft-test-vulkan.h"

/* ---- no Vulkan ----------------------------------------------------------------- */

static void
check_unavailable (const char *expected_cause)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GPtrArray) direct = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_device_info_free);
  g_autoptr(GError) vulkan_error = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) backend = NULL;
  GraftDeviceInfo fake = { .id = (char *) "vulkan:0", .name = (char *) "fake", .backend = GRAFT_BACKEND_KIND_VULKAN };

  devices = graft_device_list (&vulkan_error);
  g_assert_error (vulkan_error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE);
  g_test_message ("%s", vulkan_error->message);
  g_assert_true (g_str_has_prefix (vulkan_error->message, "Vulkan is unavailable: "));
  g_assert_nonnull (strstr (vulkan_error->message, expected_cause));
  /* The CPU backend is still there. */
  g_assert_cmpuint (devices->len, ==, 1);
  g_assert_cmpint (((GraftDeviceInfo *) g_ptr_array_index (devices, 0))->backend, ==, GRAFT_BACKEND_KIND_CPU);

  g_assert_false (_graft_vk_enumerate (direct, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE);
  g_assert_cmpuint (direct->len, ==, 0);
  g_clear_error (&error);

  backend = graft_backend_open_device (&fake, &error);
  g_assert_null (backend);
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNAVAILABLE);
}

static void
test_no_driver (void)
{
  if (g_test_subprocess ())
    {
      /* Read by the loader when the instance is created, i.e. after this point. */
      g_setenv ("VK_ICD_FILENAMES", "/nonexistent/icd.json", TRUE);
      g_setenv ("VK_DRIVER_FILES", "/nonexistent/icd.json", TRUE);
      check_unavailable ("no Vulkan driver was found (vkCreateInstance returned VK_ERROR_INCOMPATIBLE_DRIVER)");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

static void
test_no_loader (void)
{
  if (g_test_subprocess ())
    {
      g_setenv ("GRAFT_VULKAN_LIBRARY", "/nonexistent/libvulkan.so.1", TRUE);
      check_unavailable ("could not be loaded");
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
}

/* ---- with a device ------------------------------------------------------------------ */

static void
test_wrong_device (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftBackend) other = NULL;
  GraftDeviceInfo gone;

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }

  gone = *graft_backend_get_info (vk);
  gone.id = (char *) "vulkan:99";
  gone.device_id ^= 0xffff;
  other = graft_backend_open_device (&gone, &error);
  g_assert_null (other);
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_NOT_FOUND);
}

/* A tensor past the device's largest buffer is an error that names the limit; one
 * past maxStorageBufferRange but within that limit is created (kernels reach it by
 * device address), unless the device cannot, when the limit is the range itself. */
static void
test_buffer_limit (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);
  g_autoptr(GError) error = NULL;
  g_autoptr(GraftTensor) t = NULL;
  g_autofree char *limit_str = NULL;
  const GraftDeviceInfo *info;
  guint64 limit, range;
  gsize shape[2];

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }

  info = graft_backend_get_info (vk);
  limit = info->max_buffer_size;
  range = info->max_storage_buffer_range;
  g_test_message ("max_storage_buffer_range %" G_GUINT64_FORMAT ", max_buffer_size %" G_GUINT64_FORMAT,
                  range, limit);
  /* Either may be the larger: lavapipe allocates far more than it binds, NVIDIA's 4 GiB
   * binding range is a little above its largest allocation (4 GiB - 2 MiB). */
  g_assert_cmpuint (limit, >, 0);
  g_assert_cmpuint (range, >, 0);

  if (limit / sizeof (float) + 1 > G_MAXUINT32)
    g_test_message ("The buffer limit is above what one tensor may hold");
  else
    {
      shape[0] = 2;
      shape[1] = limit / sizeof (float) / 2 + 1;
      t = graft_tensor_new (vk, 2, shape, &error);
      g_assert_null (t);
      g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_UNSUPPORTED);
      g_test_message ("%s", error->message);
      limit_str = g_strdup_printf ("%" G_GUINT64_FORMAT " bytes", limit);
      g_assert_nonnull (strstr (error->message, limit_str));
      g_clear_error (&error);
    }

  /* Exactly at the binding limit (or the allocation limit, where that is lower) is fine,
   * and one float past the binding limit where the device reaches buffers by address. */
  shape[0] = 2;
  shape[1] = MIN (range, limit) / sizeof (float) / 2;
  t = graft_tensor_new (vk, 2, shape, &error);
  g_assert_no_error (error);
  g_assert_nonnull (t);
  g_clear_pointer (&t, graft_tensor_unref);
  if (limit > range)
    {
      gsize n = range / sizeof (float) + 1;

      t = graft_tensor_new (vk, 1, &n, &error);
      g_assert_no_error (error);
      g_assert_nonnull (t);
    }
}

/* Running out of tensor memory is an error that names the request, and memory freed
 * afterwards can be used again. The limit is lowered to 200 MiB so that the test does
 * not depend on how much memory the device has. */
static void
test_out_of_memory (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_tensor_unref);
  gsize n = (gsize) 60 << 18;   /* 60 MiB of floats */
  GraftTensor *t;

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }
  if (n * sizeof (float) > graft_backend_get_info (vk)->max_storage_buffer_range)
    {
      g_test_skip ("The device binds less than 60 MiB at once");
      return;
    }

  _graft_vk_backend_set_memory_limit (vk, 200u << 20);
  for (guint i = 0; i < 10; i++)
    {
      t = graft_tensor_new (vk, 1, &n, &error);
      if (t == NULL)
        break;
      g_ptr_array_add (tensors, t);
    }
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "62914560 bytes"));   /* the request */
  g_assert_cmpuint (tensors->len, >=, 2);
  g_assert_cmpuint (tensors->len, <=, 3);

  /* Free one: the next tensor fits and holds data. */
  g_clear_error (&error);
  g_ptr_array_remove_index (tensors, 0);
  t = graft_test_tensor (vk, 1, &n, NULL);
  graft_op_fill (t, 7.0f, &error);
  g_assert_no_error (error);
  {
    g_autofree float *got = graft_test_download (t);
    g_assert_cmpfloat (got[n - 1], ==, 7.0f);
  }
  g_ptr_array_add (tensors, t);
}

/* Ops then frees without waiting, many times over: the frees are deferred until the
 * work is done, the memory comes back afterwards, and data put in new tensors in the
 * meantime is intact. */
static void
check_deferred_frees (GraftBackend *vk)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (9);
  GraftVkAllocatorStats before, after;
  gsize shape[1] = { 4096 };
  g_autofree float *x = graft_test_random (rand, shape[0]);
  g_autofree float *got = g_new (float, shape[0]);

  graft_backend_synchronize (vk, &error);
  g_assert_no_error (error);
  _graft_vk_backend_get_memory_stats (vk, &before);

  for (guint round = 0; round < 300; round++)
    {
      GraftTensor *tmp = graft_test_tensor (vk, 1, shape, x);
      g_autoptr(GraftTensor) keep = graft_test_tensor (vk, 1, shape, NULL);

      graft_op_scale (tmp, 2.0f, tmp, &error);
      g_assert_no_error (error);
      graft_op_add (tmp, tmp, keep, &error);
      g_assert_no_error (error);
      /* Freed while the two ops are at most recorded: must not be released yet. */
      graft_tensor_unref (tmp);
      if (round == 0)
        g_assert_cmpuint (GRAFT_VK_BACKEND (vk)->deferred->len, >, 0);

      if (round % 50 == 49)
        {
          graft_tensor_download (keep, got, shape[0], &error);
          g_assert_no_error (error);
          for (gsize i = 0; i < shape[0]; i++)
            g_assert_cmpfloat (got[i], ==, 4.0f * x[i]);
        }
    }

  graft_backend_synchronize (vk, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (GRAFT_VK_BACKEND (vk)->deferred->len, ==, 0);
  _graft_vk_backend_get_memory_stats (vk, &after);
  g_assert_cmpuint (after.n_allocations, ==, before.n_allocations);
  g_assert_cmpuint (after.used_bytes, ==, before.used_bytes);
}

/* An upload waits for the ops recorded before it that use the tensor; a download sees
 * every op recorded before it. */
static void
check_ordering (GraftBackend *vk,
                gsize         n)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (13);
  g_autofree float *x = graft_test_random (rand, n);
  g_autofree float *y = graft_test_random (rand, n);
  g_autofree float *got = g_new (float, n);
  g_autoptr(GraftTensor) t = graft_test_tensor (vk, 1, &n, x);
  g_autoptr(GraftTensor) u = graft_test_tensor (vk, 1, &n, NULL);

  graft_op_scale (t, 2.0f, u, &error);   /* u = 2x, recorded */
  g_assert_no_error (error);
  graft_tensor_upload (t, y, n, &error); /* must not overtake the scale */
  g_assert_no_error (error);
  graft_op_add (u, t, u, &error);        /* u = 2x + y */
  g_assert_no_error (error);

  graft_tensor_download (u, got, n, &error);
  g_assert_no_error (error);
  for (gsize i = 0; i < n; i++)
    if (got[i] != 2.0f * x[i] + y[i])
      g_error ("element %" G_GSIZE_FORMAT ": %g, expected %g", i, got[i], 2.0f * x[i] + y[i]);

  graft_tensor_download (t, got, n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (got, n * sizeof (float), y, n * sizeof (float));
}

static void
test_mapped (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }
  g_test_message ("tensor memory is %s", _graft_vk_backend_is_host_visible (vk) ? "mapped" : "staged");
  check_deferred_frees (vk);
  check_ordering (vk, 100003);
}

/* The staging path, which GPUs with separate memory take, forced on any device. The
 * size spans several staging buffers. */
static void
test_staging (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = NULL;

  g_setenv ("GRAFT_VK_STAGING", "1", TRUE);
  vk = graft_test_open_vulkan (&reason);
  g_unsetenv ("GRAFT_VK_STAGING");
  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }
  g_assert_false (_graft_vk_backend_is_host_visible (vk));
  check_deferred_frees (vk);
  check_ordering (vk, 2 * GRAFT_VK_STAGING_SIZE / sizeof (float) + 1234);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vulkan/errors/no-driver", test_no_driver);
  g_test_add_func ("/vulkan/errors/no-loader", test_no_loader);
  g_test_add_func ("/vulkan/errors/wrong-device", test_wrong_device);
  g_test_add_func ("/vulkan/errors/buffer-limit", test_buffer_limit);
  g_test_add_func ("/vulkan/errors/out-of-memory", test_out_of_memory);
  g_test_add_func ("/vulkan/ordering/mapped", test_mapped);
  g_test_add_func ("/vulkan/ordering/staging", test_staging);

  return g_test_run ();
}
