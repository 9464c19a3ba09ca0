/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Helpers shared by the engine's test programs: random operands, tensors made from host
 * data and read back, whether CI demands a Vulkan device, and a backend of each kind. */

#include "graft.h"

/* Removes @path and everything below it (links are removed, not followed): a test's
 * temporary folder at tear-down. */
static inline void
graft_test_remove_tree (const char *path)
{
  graft_remove_tree (path);
}

/* Set in CI on machines that have lavapipe: a missing Vulkan device is then a failure
 * instead of a skipped test. */
static inline gboolean
graft_test_require_vulkan (void)
{
  return g_strcmp0 (g_getenv ("GRAFT_TEST_REQUIRE_VULKAN"), "1") == 0;
}

static inline float *
graft_test_random (GRand *rand,
                   gsize  n)
{
  float *data = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    data[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  return data;
}

static inline GraftTensor *
graft_test_tensor (GraftBackend *backend,
                   guint         rank,
                   const gsize  *shape,
                   const float  *data)
{
  g_autoptr(GError) error = NULL;
  GraftTensor *t = graft_tensor_new (backend, rank, shape, &error);

  g_assert_no_error (error);
  g_assert_nonnull (t);
  if (data != NULL)
    {
      graft_tensor_upload (t, data, graft_tensor_get_n_elements (t), &error);
      g_assert_no_error (error);
    }
  return t;
}

static inline float *
graft_test_download (GraftTensor *t)
{
  g_autoptr(GError) error = NULL;
  gsize n = graft_tensor_get_n_elements (t);
  float *data = g_new (float, n);

  graft_tensor_download (t, data, n, &error);
  g_assert_no_error (error);
  return data;
}

/* One backend of each kind this machine has: the CPU and the first Vulkan device, if
 * any (*have_vulkan says). */
static inline GPtrArray *
graft_test_backends (gboolean *have_vulkan)
{
  GPtrArray *backends = g_ptr_array_new_with_free_func ((GDestroyNotify) graft_backend_unref);
  g_autoptr(GPtrArray) devices = graft_device_list (NULL);

  *have_vulkan = FALSE;
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);
      g_autoptr(GError) error = NULL;
      GraftBackend *backend;

      if (info->backend == GRAFT_BACKEND_KIND_VULKAN && *have_vulkan)
        continue;
      backend = graft_backend_open_device (info, &error);
      g_assert_no_error (error);
      g_ptr_array_add (backends, backend);
      *have_vulkan |= info->backend == GRAFT_BACKEND_KIND_VULKAN;
    }
  return backends;
}
