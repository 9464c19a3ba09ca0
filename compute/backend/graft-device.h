/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define GRAFT_DEVICE_ERROR (graft_device_error_quark ())
GQuark graft_device_error_quark (void);

typedef enum {
  GRAFT_DEVICE_ERROR_UNAVAILABLE,   /* no loader, no driver, no device of that kind */
  GRAFT_DEVICE_ERROR_NOT_FOUND,     /* a selector matched no device */
  GRAFT_DEVICE_ERROR_INIT_FAILED,   /* the driver refused to create something */
  GRAFT_DEVICE_ERROR_OUT_OF_MEMORY, /* host or device memory exhausted */
  GRAFT_DEVICE_ERROR_LOST,          /* the device stopped answering */
  GRAFT_DEVICE_ERROR_UNSUPPORTED,   /* the device lacks a feature an op needs */
} GraftDeviceError;

typedef enum {
  GRAFT_BACKEND_KIND_CPU,
  GRAFT_BACKEND_KIND_VULKAN,
} GraftBackendKind;

typedef enum {
  GRAFT_DEVICE_TYPE_DISCRETE_GPU,
  GRAFT_DEVICE_TYPE_INTEGRATED_GPU,
  GRAFT_DEVICE_TYPE_VIRTUAL_GPU,
  GRAFT_DEVICE_TYPE_CPU,
  GRAFT_DEVICE_TYPE_OTHER,
} GraftDeviceType;

/* What the engine knows about one compute device, before it is opened. */
typedef struct {
  char             *id;        /* stable selector: "vulkan:N" or "cpu" */
  guint             index;     /* position in graft_device_list() */
  GraftBackendKind  backend;
  GraftDeviceType   type;
  char             *name;      /* "NVIDIA H100", "llvmpipe (LLVM 15.0.6, 256 bits)", "CPU (OpenBLAS)" */
  char             *driver;    /* driver name and version, or the BLAS library */
  guint64           memory_bytes;             /* largest device-local heap; system RAM for the CPU */
  guint64           max_storage_buffer_range; /* largest single binding, in bytes */
  guint64           max_buffer_size;          /* largest single tensor, in bytes: past the
                                                 binding limit where kernels reach buffers by
                                                 device address */
  guint32           max_shared_memory;        /* workgroup shared memory, in bytes */
  guint32           subgroup_size;            /* 0 where it does not apply (CPU backend) */
  guint32           max_workgroup_invocations;
  gboolean          fp16;                     /* float16 arithmetic and 16-bit storage */
  guint32           n_threads;                /* CPU backend worker threads; 0 for Vulkan */
  guint32           vendor_id;                /* PCI vendor id; 0 for the CPU backend */
  guint32           device_id;
  guint8            uuid[16];                 /* pipelineCacheUUID for Vulkan */
} GraftDeviceInfo;

GraftDeviceInfo *graft_device_info_copy (const GraftDeviceInfo *info);
void             graft_device_info_free (GraftDeviceInfo       *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftDeviceInfo, graft_device_info_free)

const char *graft_backend_kind_to_string (GraftBackendKind kind);
const char *graft_device_type_to_string  (GraftDeviceType  type);

/* Every compute device of this machine: each Vulkan physical device (lavapipe included)
 * in driver order, then the CPU backend, which is always there. Never fails: when Vulkan
 * cannot be used (no loader, no driver, instance refused), the list holds the CPU backend
 * alone and @vulkan_error (if not NULL) says why. Elements are GraftDeviceInfo*, owned. */
GPtrArray       *graft_device_list   (GError          **vulkan_error);

/* Picks a device from @devices by @selector:
 *   "auto" (or NULL/empty): first discrete GPU, then first integrated GPU, else the CPU;
 *   "cpu"; a device id ("vulkan:1"); a list index ("0"); or a case-insensitive
 *   substring of the device name ("llvmpipe", "h100").
 * Returns a borrowed pointer into @devices, or NULL with GRAFT_DEVICE_ERROR_NOT_FOUND. */
const GraftDeviceInfo *graft_device_select (GPtrArray   *devices,
                                            const char  *selector,
                                            GError     **error);

G_END_DECLS
