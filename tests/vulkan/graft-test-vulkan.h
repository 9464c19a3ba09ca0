/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Functions shared by the Vulkan tests: finding a device, comparing results. */

#include <math.h>

#include "graft.h"
#include "graft-test-util.h"
#include "backend/vulkan/graft-vk-private.h"

/* Opens the first Vulkan device of graft_device_list(), or returns NULL and sets
 * @reason to why there is none. */
static inline GraftBackend *
graft_test_open_vulkan (char **reason)
{
  g_autoptr(GPtrArray) devices = NULL;
  g_autoptr(GError) vulkan_error = NULL;
  g_autoptr(GError) error = NULL;
  GraftBackend *backend;

  devices = graft_device_list (&vulkan_error);
  for (guint i = 0; i < devices->len; i++)
    {
      const GraftDeviceInfo *info = g_ptr_array_index (devices, i);

      if (info->backend != GRAFT_BACKEND_KIND_VULKAN)
        continue;
      backend = graft_backend_open_device (info, &error);
      if (backend != NULL)
        return backend;
      *reason = g_strdup_printf ("Vulkan device %s did not open: %s", info->name, error->message);
      return NULL;
    }

  *reason = g_strdup_printf ("No Vulkan device: %s",
                             vulkan_error != NULL ? vulkan_error->message : "the driver lists none");
  return NULL;
}

/* Inside a test without a device: skipped, or failed when GRAFT_TEST_REQUIRE_VULKAN=1. */
static inline void
graft_test_no_vulkan (const char *reason)
{
  if (graft_test_require_vulkan ())
    g_test_fail_printf ("%s (GRAFT_TEST_REQUIRE_VULKAN=1)", reason);
  else
    g_test_skip (reason);
}

/* The two backends a Vulkan test compares, opened once per test program. */
typedef struct {
  GraftBackend *vk;       /* the first Vulkan device, or NULL */
  GraftBackend *cpu;
  char         *reason;   /* why vk is NULL */
} GraftTestBackends;

static inline void
graft_test_backends_open (GraftTestBackends *b)
{
  g_autoptr(GError) error = NULL;

  b->cpu = graft_backend_open ("cpu", &error);
  g_assert_no_error (error);
  b->vk = graft_test_open_vulkan (&b->reason);
}

static inline void
graft_test_backends_close (GraftTestBackends *b)
{
  g_clear_pointer (&b->vk, graft_backend_unref);
  g_clear_pointer (&b->cpu, graft_backend_unref);
  g_clear_pointer (&b->reason, g_free);
}

/* Inside a test: TRUE when there is a Vulkan device, else the test is skipped (or fails,
 * see graft_test_no_vulkan()). */
static inline gboolean
graft_test_have_vulkan (GraftTestBackends *b)
{
  if (b->vk != NULL)
    return TRUE;
  graft_test_no_vulkan (b->reason);
  return FALSE;
}

/* ||got - want||_2 / ||want||_2 (the absolute norm when want is all zeros). */
static inline double
graft_test_rel_error (const float *got,
                      const float *want,
                      gsize        n)
{
  double diff = 0.0, norm = 0.0;

  for (gsize i = 0; i < n; i++)
    {
      double d = (double) got[i] - (double) want[i];
      diff += d * d;
      norm += (double) want[i] * (double) want[i];
    }
  if (norm == 0.0)
    return sqrt (diff);
  return sqrt (diff / norm);
}
