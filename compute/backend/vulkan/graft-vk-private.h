/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Internal API shared by the files of the Vulkan backend.
 *
 *   graft-vk-loader.c     libvulkan opened at run time, function tables, VkInstance
 *   graft-vk-enumerate.c  physical devices -> GraftDeviceInfo
 *   graft-vk-device.c     open/destroy, the op table
 *   graft-vk-memory.c     the block sub-allocator (no Vulkan calls; unit-tested alone)
 *   graft-vk-buffer.c     VkBuffers on sub-allocated memory, staging, deferred frees
 *   graft-vk-commands.c   command recording, submission, timeline waits, descriptors
 *   graft-vk-replay.c     whole steps recorded once into their own command buffer, replayed
 *   graft-vk-pipeline.c   pipeline cache on disk, lazily created compute pipelines
 *   graft-vk-ops.c        fill, scale, binary, the 1-D dispatch they share
 *   graft-vk-activation.c activation functions, forward and backward
 *   graft-vk-gemm.c       GEMM kernel choice and dispatch
 *   graft-vk-pool.c       max, average and adaptive average pooling
 *   graft-vk-shape.c      strided copies (concatenation), nearest upsampling, dropout
 *   graft-vk-attention.c  batched transpose, multi-head attention forward and backward
 *   graft-vk-conv.c       2-D convolution: implicit GEMM and depthwise kernels
 *   graft-vk-loss.c       softmax cross-entropy
 *   graft-vk-optim.c      SGD and AdamW steps, gradient-norm clipping
 *   graft-vk-norm.c       batch and layer normalisation
 *
 * Environment, for tests and for finding out why something is slow:
 *   GRAFT_VULKAN_LIBRARY=path  another Vulkan loader than libvulkan.so.1
 *   GRAFT_VK_GEMM=tiled|cpu    force a GEMM kernel, and the matching convolution and
 *                              attention kernels (default: by device type)
 *   GRAFT_VK_STAGING=1         copy through a staging buffer even to mappable memory
 *   GRAFT_VK_ADDRESSES=auto|always|never
 *                              how kernels reach storage buffers: by descriptor unless a
 *                              buffer is past maxStorageBufferRange, then by device address
 *                              (auto, the default); always by address; never (then no
 *                              tensor may exceed maxStorageBufferRange)
 */

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>
#include <gmodule.h>

#include "backend/graft-backend-private.h"
#include "graft-vk-memory-private.h"

G_BEGIN_DECLS

/* ---- loader ------------------------------------------------------------------- */

#define GRAFT_VK_GLOBAL_FUNCS(X) \
  X (CreateInstance) \
  X (EnumerateInstanceVersion)

#define GRAFT_VK_INSTANCE_FUNCS(X) \
  X (DestroyInstance) \
  X (EnumeratePhysicalDevices) \
  X (EnumerateDeviceExtensionProperties) \
  X (GetPhysicalDeviceProperties) \
  X (GetPhysicalDeviceProperties2) \
  X (GetPhysicalDeviceFeatures2) \
  X (GetPhysicalDeviceMemoryProperties) \
  X (GetPhysicalDeviceQueueFamilyProperties) \
  X (CreateDevice) \
  X (GetDeviceProcAddr)

#define GRAFT_VK_DEVICE_FUNCS(X) \
  X (DestroyDevice) \
  X (DeviceWaitIdle) \
  X (GetDeviceQueue) \
  X (QueueSubmit) \
  X (CreateBuffer) \
  X (DestroyBuffer) \
  X (CreateBufferView) \
  X (DestroyBufferView) \
  X (GetBufferMemoryRequirements) \
  X (AllocateMemory) \
  X (FreeMemory) \
  X (MapMemory) \
  X (UnmapMemory) \
  X (BindBufferMemory) \
  X (GetBufferDeviceAddress) \
  X (CreateCommandPool) \
  X (DestroyCommandPool) \
  X (AllocateCommandBuffers) \
  X (FreeCommandBuffers) \
  X (ResetCommandBuffer) \
  X (BeginCommandBuffer) \
  X (EndCommandBuffer) \
  X (CmdPipelineBarrier) \
  X (CmdBindPipeline) \
  X (CmdBindDescriptorSets) \
  X (CmdPushConstants) \
  X (CmdDispatch) \
  X (CmdCopyBuffer) \
  X (CreateSemaphore) \
  X (DestroySemaphore) \
  X (WaitSemaphores) \
  X (GetSemaphoreCounterValue) \
  X (CreateDescriptorSetLayout) \
  X (DestroyDescriptorSetLayout) \
  X (CreatePipelineLayout) \
  X (DestroyPipelineLayout) \
  X (CreateDescriptorPool) \
  X (DestroyDescriptorPool) \
  X (ResetDescriptorPool) \
  X (AllocateDescriptorSets) \
  X (UpdateDescriptorSets) \
  X (CreateShaderModule) \
  X (DestroyShaderModule) \
  X (CreateComputePipelines) \
  X (DestroyPipeline) \
  X (CreatePipelineCache) \
  X (DestroyPipelineCache) \
  X (GetPipelineCacheData)

/* Entry points of one instance (and, once loaded, one device). */
typedef struct {
  PFN_vkGetInstanceProcAddr GetInstanceProcAddr;
#define GRAFT_VK_DECLARE(name) PFN_vk##name name;
  GRAFT_VK_GLOBAL_FUNCS (GRAFT_VK_DECLARE)
  GRAFT_VK_INSTANCE_FUNCS (GRAFT_VK_DECLARE)
  GRAFT_VK_DEVICE_FUNCS (GRAFT_VK_DECLARE)
#undef GRAFT_VK_DECLARE
} GraftVkFuncs;

typedef struct {
  GraftVkFuncs      vk;
  VkInstance        instance;
  guint32           n_physical;
  VkPhysicalDevice *physical;
} GraftVkInstance;

/* Opens libvulkan, creates a Vulkan 1.2 instance and lists its physical devices.
 * Fails with GRAFT_DEVICE_ERROR_UNAVAILABLE and a message naming the cause. */
GraftVkInstance *_graft_vk_instance_new          (GError          **error);
void             _graft_vk_instance_free         (GraftVkInstance  *inst);
gboolean         _graft_vk_load_device_funcs     (GraftVkFuncs     *vk,
                                                  VkDevice          device,
                                                  GError          **error);
const char      *_graft_vk_result_to_string      (VkResult          result);
/* Sets @error from a failed Vulkan call: OUT_OF_MEMORY for memory exhaustion, LOST for
 * a lost device, INIT_FAILED otherwise; the message ends with the VkResult name. */
void             _graft_vk_set_error             (GError          **error,
                                                  VkResult          result,
                                                  const char       *format,
                                                  ...) G_GNUC_PRINTF (3, 4);

/* ---- enumeration ---------------------------------------------------------------- */

/* What the backend needs beyond GraftDeviceInfo. */
typedef struct {
  guint32  api_version;
  gboolean timeline_semaphore;
  gboolean buffer_device_address;  /* bufferDeviceAddress (Vulkan 1.2 feature) */
  guint64  max_allocation;         /* maxMemoryAllocationSize (Vulkan 1.1) */
  guint64  max_buffer_size;        /* maxBufferSize (maintenance4); 0: not reported */
  guint32  loop_limit;             /* loop iterations an invocation may run; 0: no limit */
} GraftVkDeviceCaps;

/* llvmpipe (lavapipe) stops every loop of an invocation once 65535 iterations have run
 * in total (its guard against endless loops), silently: kernels whose invocations loop
 * over a long reduction split it where the device has such a limit. */
#define GRAFT_VK_LLVMPIPE_LOOP_LIMIT 65535
/* What kernels plan for, leaving room for a kernel's short loops (tree reductions,
 * epilogues) beside its main one. */
#define GRAFT_VK_LOOP_MARGIN         1024

/* The largest tensor buffer when kernels use device addresses: the smallest of
 * maxBufferSize, maxMemoryAllocationSize, @heap_size and 2^32 - 1 floats. */
guint64 _graft_vk_max_buffer_size (const GraftVkDeviceCaps *caps,
                                   guint64                  heap_size);
void _graft_vk_describe_device (GraftVkInstance   *inst,
                                VkPhysicalDevice   physical,
                                guint              position,
                                GraftDeviceInfo   *info,
                                GraftVkDeviceCaps *caps);

/* ---- the backend ------------------------------------------------------------------ */

#define GRAFT_VK_N_FRAMES        3    /* command buffers in flight */
#define GRAFT_VK_SETS_PER_POOL   256  /* descriptor sets per frame */
#define GRAFT_VK_MAX_BINDINGS    5  /* cross-entropy binds five buffers */
#define GRAFT_VK_MAX_SPEC        8
#define GRAFT_VK_MAX_PUSH        128  /* a shader's own push constants, addresses not included */
#define GRAFT_VK_WORKGROUP_1D    256  /* invocations of the 1-D kernels, before device limits */
#define GRAFT_VK_STAGING_SIZE    (16u << 20)
#define GRAFT_VK_GEMM_CPU_TM     16   /* rows of C per workgroup of gemm_cpu */
#define GRAFT_VK_N_TILED_CONFIGS 6    /* tile shapes of gemm_tiled, largest first */

/* How kernels reach their storage buffers (GRAFT_VK_ADDRESSES). */
typedef enum {
  GRAFT_VK_ADDRESSES_AUTO,    /* descriptors, device addresses past maxStorageBufferRange */
  GRAFT_VK_ADDRESSES_ALWAYS,  /* device addresses for every dispatch (tests) */
  GRAFT_VK_ADDRESSES_NEVER,   /* descriptors only, as on devices without the feature */
} GraftVkAddressMode;

typedef enum {
  GRAFT_VK_GEMM_AUTO,   /* by device type */
  GRAFT_VK_GEMM_TILED,  /* shared-memory tiles: GPUs */
  GRAFT_VK_GEMM_CPU,    /* register blocks, no shared memory: CPU devices (lavapipe) */
} GraftVkGemmKernel;

struct _GraftBuffer {
  VkBuffer          buffer;
  VkBufferView      view[2];   /* R32_SFLOAT, R32G32B32A32_SFLOAT views, made on first use */
  GraftVkAllocation alloc;
  gsize             size;
  guint8           *mapped;    /* host pointer when the memory is mapped, else NULL */
  VkDeviceAddress   address;   /* 0 unless the device has bufferDeviceAddress */
  guint64           last_use;  /* timeline value of the last submission that uses it */
  guint             n_recordings; /* recordings that use it (they keep it alive) */
  gboolean          orphaned;  /* freed while a recording used it */
};

/* A recording (graft-vk-replay.c): its own command buffer and descriptor pools, and the
 * set of buffers it uses. */
struct _GraftRecording {
  VkCommandBuffer  cmd;
  GArray          *pools;      /* VkDescriptorPool; sets live as long as the recording */
  guint            n_sets;     /* in the last pool */
  GHashTable      *buffers;    /* GraftBuffer* it uses */
  gboolean         ended;
  guint64          value;      /* timeline value of its last replay; 0: none */
};

typedef struct {
  VkCommandBuffer  cmd;
  VkDescriptorPool pool;
  guint            n_sets;
  guint            n_commands;
  gboolean         recording;
  guint64          value;      /* timeline value its last submission signals; 0: none */
} GraftVkFrame;

/* Descriptor set layout and pipeline layout for one binding pattern: n bindings, each a
 * storage buffer or (bit set in the texel mask) a uniform texel buffer. */
typedef struct {
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout      pipeline_layout;
} GraftVkLayout;

#define GRAFT_VK_N_MASKS (1u << GRAFT_VK_MAX_BINDINGS)

typedef struct {
  VkPipeline           pipeline;
  const GraftVkLayout *layout;
  guint                address_slots;  /* device-address variant: uvec2s pushed first; else 0 */
} GraftVkPipeline;

typedef struct {
  GraftBackend                     parent;

  GraftVkInstance                 *inst;
  GraftVkFuncs                    *vk;          /* &inst->vk, device entry points loaded */
  VkPhysicalDevice                 physical;
  VkPhysicalDeviceProperties       props;
  VkPhysicalDeviceMemoryProperties mem_props;
  VkDevice                         device;
  VkQueue                          queue;
  guint32                          queue_family;
  gboolean                         lost;

  /* memory */
  GraftVkAllocator                *allocator;
  guint64                          memory_limit;     /* the heap size, or a test's limit */
  guint64                          max_buffer;       /* largest tensor buffer, in bytes */
  gboolean                         addresses;        /* bufferDeviceAddress enabled */
  GraftVkAddressMode               address_mode;
  guint64                          memory_reserved;  /* in tensor memory blocks */
  guint32                          memory_type;
  gboolean                         host_visible;  /* tensors mapped and memcpy'd */
  guint32                          staging_type;
  GraftBuffer                     *staging;       /* lazily, when not host_visible */
  VkDeviceMemory                   staging_memory;
  GraftBuffer                     *dummy;         /* bound where an op has no operand */
  GPtrArray                       *deferred;      /* GraftBuffer* freed while in flight */
  guint64                          n_buffers_created;

  /* commands */
  VkCommandPool                    cmd_pool;
  VkSemaphore                      timeline;
  GraftVkFrame                     frames[GRAFT_VK_N_FRAMES];
  guint                            current;
  guint64                          submitted;     /* last value submitted */
  guint64                          completed;     /* last value known finished */
  GraftRecording                  *recording;     /* ops go there instead when set */
  GPtrArray                       *recordings;    /* every live GraftRecording */

  /* pipelines */
  VkPipelineCache                  pipeline_cache;
  char                            *pipeline_cache_path;
  GraftVkLayout                    layouts[GRAFT_VK_MAX_BINDINGS + 1][GRAFT_VK_N_MASKS];
  /* The device-address variants: only the texel bindings are descriptors. */
  GraftVkLayout                    address_layouts[GRAFT_VK_MAX_BINDINGS + 1][GRAFT_VK_N_MASKS];
  GHashTable                      *pipelines;     /* key -> GraftVkPipeline* */

  /* kernel choices */
  guint32                          wg_1d;
  guint32                          loop_limit;    /* see GRAFT_VK_LLVMPIPE_LOOP_LIMIT; 0: none */
  GraftVkGemmKernel                gemm_kernel;
  gint                             tiled_config;  /* -1: the largest that fits */
} GraftVkBackend;

#define GRAFT_VK_BACKEND(b) ((GraftVkBackend *) (b))

/* Test and benchmark knobs (also set at open from GRAFT_VK_GEMM=tiled|cpu). */
void              _graft_vk_backend_set_gemm_kernel (GraftBackend      *backend,
                                                     GraftVkGemmKernel  kernel);
GraftVkGemmKernel _graft_vk_backend_get_gemm_kernel (GraftBackend      *backend);
/* Forces tile shape @index (< GRAFT_VK_N_TILED_CONFIGS) of gemm_tiled when the device
 * can run it; -1 picks the largest that fits. Smaller shapes serve small GPUs. */
void              _graft_vk_backend_set_tiled_config (GraftBackend     *backend,
                                                      gint              index);
/* Workgroup size of the 1-D kernels (0: GRAFT_VK_WORKGROUP_1D, as at open), capped by
 * the device. A small one lets a test reach the 2-D grid used past
 * maxComputeWorkGroupCount[0] workgroups with tensors the device can bind. */
void              _graft_vk_backend_set_workgroup_1d (GraftBackend     *backend,
                                                      guint32           size);
/* Whether tensors are mapped (TRUE) or copied through a staging buffer (FALSE).
 * GRAFT_VK_STAGING=1 forces staging copies on devices whose memory is mappable. */
gboolean          _graft_vk_backend_is_host_visible (GraftBackend      *backend);
/* Caps the tensor memory below the heap size, for tests of running out of it. */
void              _graft_vk_backend_set_memory_limit (GraftBackend     *backend,
                                                      guint64           bytes);
/* Statistics of the tensor allocator, for tests. */
void              _graft_vk_backend_get_memory_stats (GraftBackend          *backend,
                                                      GraftVkAllocatorStats *stats);

/* Buffers created since open, for tests that check a replayed step allocates nothing. */
guint64           _graft_vk_backend_get_buffers_created (GraftBackend  *backend);

/* ---- buffers (graft-vk-buffer.c) ----------------------------------------------- */

gboolean     _graft_vk_memory_init   (GraftVkBackend  *self,
                                      GError         **error);
void         _graft_vk_memory_fini   (GraftVkBackend  *self);
GraftBuffer *_graft_vk_buffer_new    (GraftBackend    *backend,
                                      gsize            size,
                                      GError         **error);
void         _graft_vk_buffer_free   (GraftBackend    *backend,
                                      GraftBuffer     *buffer);
gboolean     _graft_vk_buffer_write  (GraftBackend    *backend,
                                      GraftBuffer     *buffer,
                                      gsize            offset,
                                      const void      *data,
                                      gsize            size,
                                      GError         **error);
gboolean     _graft_vk_buffer_read   (GraftBackend    *backend,
                                      GraftBuffer     *buffer,
                                      gsize            offset,
                                      void            *data,
                                      gsize            size,
                                      GError         **error);
/* The buffer's R32_SFLOAT uniform texel buffer view, created on first use. */
VkBufferView _graft_vk_buffer_get_view (GraftVkBackend  *self,
                                        GraftBuffer     *buffer,
                                        gboolean         vec4,
                                        GError         **error);
/* Releases the buffers whose deferred free has become safe. */
void         _graft_vk_release_deferred (GraftVkBackend *self,
                                         gboolean        all);

/* ---- commands (graft-vk-commands.c) -------------------------------------------- */

gboolean        _graft_vk_commands_init (GraftVkBackend  *self,
                                         GError         **error);
void            _graft_vk_commands_fini (GraftVkBackend  *self);
gboolean        _graft_vk_check_lost    (GraftVkBackend  *self,
                                         GError         **error);
/* The command buffer being recorded, begun if needed, with a barrier after earlier
 * work so that the next command sees every earlier write. */
VkCommandBuffer _graft_vk_record        (GraftVkBackend  *self,
                                         GError         **error);
/* The timeline value the commands being recorded will signal. */
guint64         _graft_vk_recording_value (GraftVkBackend *self);
/* Submits @cmd to signal the timeline's next value, and returns that value; 0 with an
 * error (naming @what) if the queue refused it, after which the backend is lost. */
guint64         _graft_vk_queue_submit  (GraftVkBackend  *self,
                                         VkCommandBuffer  cmd,
                                         const char      *what,
                                         GError         **error);
/* Submits what was recorded (nothing if empty). */
gboolean        _graft_vk_submit        (GraftVkBackend  *self,
                                         GError         **error);
/* Submits if @value is still being recorded, then waits until it has completed. */
gboolean        _graft_vk_wait          (GraftVkBackend  *self,
                                         guint64          value,
                                         GError         **error);
gboolean        _graft_vk_synchronize   (GraftBackend    *backend,
                                         GError         **error);
/* Refreshes self->completed from the timeline semaphore. */
gboolean        _graft_vk_poll          (GraftVkBackend  *self,
                                         GError         **error);

typedef struct {
  const char  *shader;
  guint        n_bindings;
  guint32      texel_mask;                  /* bit i: binding i is a samplerBuffer */
  guint32      texel4_mask;                 /* bit i: ... viewed as RGBA32F, not R32F */
  GraftBuffer *buffers[GRAFT_VK_MAX_BINDINGS];
  guint32      spec[GRAFT_VK_MAX_SPEC];     /* constant_id 0..n_spec-1 */
  guint        n_spec;
  const void  *push;
  guint32      push_size;
  guint32      groups[3];
} GraftVkDispatch;

/* Records one dispatch (pipeline, descriptors, push constants, barrier). */
gboolean _graft_vk_dispatch (GraftVkBackend         *self,
                             const GraftVkDispatch  *dispatch,
                             GError                **error);
/* A grid of @n_groups workgroups as x (and, past maxComputeWorkGroupCount[0], y). */
gboolean _graft_vk_grid_1d  (GraftVkBackend  *self,
                             guint64          n_groups,
                             guint32          groups[3],
                             GError         **error);
/* Records a 1-D kernel over @n elements, @per_invocation of them per invocation: sets
 * specialization constant 0 to the workgroup size and the grid from it (2-D past
 * maxComputeWorkGroupCount[0]; shaders index with graft_global_index()). */
gboolean _graft_vk_dispatch_1d (GraftVkBackend   *self,
                                GraftVkDispatch  *dispatch,
                                guint32           n,
                                guint32           per_invocation,
                                GError          **error);

/* The loop iterations one invocation may plan for: G_MAXUINT32 on devices without a
 * limit. */
guint32  _graft_vk_loop_budget   (GraftVkBackend  *self);
/* Fails with GRAFT_DEVICE_ERROR_UNSUPPORTED, naming @what, when @iterations exceed the
 * device's loop limit even after a kernel has split its work as far as it can. */
gboolean _graft_vk_check_loop    (GraftVkBackend  *self,
                                  guint64          iterations,
                                  const char      *what,
                                  GError         **error);

/* A global barrier after earlier work (and earlier submissions) into @cmd. */
void     _graft_vk_barrier      (GraftVkBackend  *self,
                                 VkCommandBuffer  cmd);

/* ---- recording and replay (graft-vk-replay.c) ---------------------------------- */

gboolean        _graft_vk_record_begin    (GraftBackend    *backend,
                                           GError         **error);
GraftRecording *_graft_vk_record_end      (GraftBackend    *backend,
                                           GError         **error);
gboolean        _graft_vk_replay          (GraftBackend    *backend,
                                           GraftRecording  *recording,
                                           GError         **error);
void            _graft_vk_recording_free  (GraftBackend    *backend,
                                           GraftRecording  *recording);
/* Fails naming @what while a recording is being made (reads, writes, waits). */
gboolean        _graft_vk_check_not_recording (GraftVkBackend *self,
                                               const char     *what,
                                               GError        **error);
/* The recording's command buffer (behind a barrier) and a descriptor set of @layout
 * from its pools, which grow as needed. */
gboolean        _graft_vk_recording_target (GraftVkBackend        *self,
                                            VkDescriptorSetLayout  layout,
                                            VkCommandBuffer       *cmd,
                                            VkDescriptorSet       *set,
                                            GError               **error);
/* Notes that the commands being recorded use @buffer: its last_use becomes @value, or,
 * while recording, the recording keeps it. */
void            _graft_vk_mark_use        (GraftVkBackend  *self,
                                           GraftBuffer     *buffer,
                                           guint64          value);

/* ---- pipelines (graft-vk-pipeline.c) ------------------------------------------- */

gboolean               _graft_vk_pipelines_init (GraftVkBackend  *self,
                                                 GError         **error);
void                   _graft_vk_pipelines_fini (GraftVkBackend  *self);
/* With @addresses, the variant that reaches storage buffers through device addresses. */
const GraftVkPipeline *_graft_vk_pipeline_get   (GraftVkBackend  *self,
                                                 const char      *shader,
                                                 gboolean         addresses,
                                                 guint            n_bindings,
                                                 guint32          texel_mask,
                                                 const guint32   *spec,
                                                 guint            n_spec,
                                                 GError         **error);
/* g_get_user_cache_dir()/graft/pipeline-cache/<vendor>-<device>-<uuid>.bin */
char                  *_graft_vk_pipeline_cache_path (const GraftDeviceInfo *info);

/* ---- ops (graft-vk-ops.c, graft-vk-activation.c, graft-vk-gemm.c) ---------------- */

gboolean _graft_vk_fill   (GraftBackend           *backend,
                           GraftBuffer            *out,
                           guint32                 n,
                           float                   value,
                           GError                **error);
gboolean _graft_vk_scale  (GraftBackend           *backend,
                           GraftBuffer            *a,
                           GraftBuffer            *out,
                           guint32                 n,
                           float                   s,
                           GError                **error);
gboolean _graft_vk_binary (GraftBackend           *backend,
                           GraftBinaryOp           op,
                           const GraftBroadcast   *plan,
                           GraftBuffer            *a,
                           GraftBuffer            *b,
                           GraftBuffer            *out,
                           GError                **error);
gboolean _graft_vk_activation (GraftBackend        *backend,
                               GraftActivation      act,
                               GraftBuffer         *x,
                               GraftBuffer         *y,
                               guint32              n,
                               GError             **error);
gboolean _graft_vk_activation_backward (GraftBackend  *backend,
                                        GraftActivation act,
                                        GraftBuffer   *x,
                                        GraftBuffer   *dy,
                                        GraftBuffer   *dx,
                                        guint32        n,
                                        GError       **error);
gboolean _graft_vk_gemm   (GraftBackend           *backend,
                           const GraftGemmParams  *params,
                           GraftBuffer            *a,
                           GraftBuffer            *b,
                           GraftBuffer            *bias,
                           GraftBuffer            *c,
                           GError                **error);

/* ---- shape ops (graft-vk-shape.c) ---------------------------------------------- */

gboolean _graft_vk_copy_strided     (GraftBackend             *backend,
                                     const GraftCopyPlan      *plan,
                                     GraftBuffer              *src,
                                     GraftBuffer              *dst,
                                     GError                  **error);
gboolean _graft_vk_upsample_nearest (GraftBackend             *backend,
                                     const GraftUpsamplePlan  *plan,
                                     GraftBuffer              *x,
                                     GraftBuffer              *out,
                                     GError                  **error);
gboolean _graft_vk_upsample_nearest_backward (GraftBackend             *backend,
                                              const GraftUpsamplePlan  *plan,
                                              GraftBuffer              *grad_out,
                                              GraftBuffer              *grad_in,
                                              GError                  **error);
gboolean _graft_vk_dropout          (GraftBackend             *backend,
                                     const GraftDropoutPlan   *plan,
                                     GraftBuffer              *x,
                                     GraftBuffer              *y,
                                     GError                  **error);

/* ---- attention (graft-vk-attention.c) ------------------------------------------ */

gboolean _graft_vk_transpose_last2  (GraftBackend              *backend,
                                     const GraftTransposePlan  *plan,
                                     GraftBuffer               *x,
                                     GraftBuffer               *out,
                                     GError                   **error);
gboolean _graft_vk_attention        (GraftBackend              *backend,
                                     const GraftAttentionPlan  *plan,
                                     GraftBuffer               *qkv,
                                     GraftBuffer               *probs,
                                     GraftBuffer               *out,
                                     GError                   **error);
gboolean _graft_vk_attention_backward (GraftBackend              *backend,
                                       const GraftAttentionPlan  *plan,
                                       GraftBuffer               *qkv,
                                       GraftBuffer               *probs,
                                       GraftBuffer               *dout,
                                       GraftBuffer               *dqkv,
                                       GError                   **error);

/* ---- pooling (graft-vk-pool.c) ------------------------------------------------- */

gboolean _graft_vk_pool2d          (GraftBackend         *backend,
                                    const GraftPoolPlan  *plan,
                                    GraftBuffer          *x,
                                    GraftBuffer          *out,
                                    GraftBuffer          *indices,
                                    GError              **error);
gboolean _graft_vk_pool2d_backward (GraftBackend         *backend,
                                    const GraftPoolPlan  *plan,
                                    GraftBuffer          *grad_out,
                                    GraftBuffer          *indices,
                                    GraftBuffer          *grad_in,
                                    GError              **error);

/* ---- convolution (graft-vk-conv.c) -------------------------------------------- */

gboolean _graft_vk_conv2d          (GraftBackend         *backend,
                                    const GraftConvPlan  *plan,
                                    GraftBuffer          *x,
                                    GraftBuffer          *weight,
                                    GraftBuffer          *bias,
                                    GraftBuffer          *y,
                                    GError              **error);
gboolean _graft_vk_conv2d_backward (GraftBackend         *backend,
                                    const GraftConvPlan  *plan,
                                    GraftBuffer          *x,
                                    GraftBuffer          *weight,
                                    GraftBuffer          *dy,
                                    GraftBuffer          *dx,
                                    GraftBuffer          *dweight,
                                    GraftBuffer          *dbias,
                                    GError              **error);

/* ---- normalisation (graft-vk-norm.c) ------------------------------------------- */

gboolean _graft_vk_norm            (GraftBackend         *backend,
                                    const GraftNormPlan  *plan,
                                    GraftBuffer          *x,
                                    GraftBuffer          *weight,
                                    GraftBuffer          *bias,
                                    GraftBuffer          *running_mean,
                                    GraftBuffer          *running_var,
                                    GraftBuffer          *y,
                                    GraftBuffer          *mean,
                                    GraftBuffer          *invstd,
                                    GError              **error);
gboolean _graft_vk_norm_backward   (GraftBackend         *backend,
                                    const GraftNormPlan  *plan,
                                    GraftBuffer          *x,
                                    GraftBuffer          *dy,
                                    GraftBuffer          *weight,
                                    GraftBuffer          *mean,
                                    GraftBuffer          *invstd,
                                    GraftBuffer          *dx,
                                    GraftBuffer          *dweight,
                                    GraftBuffer          *dbias,
                                    GError              **error);

/* ---- loss and optimizers (graft-vk-loss.c, graft-vk-optim.c) ------------------- */

gboolean _graft_vk_cross_entropy   (GraftBackend                 *backend,
                                    const GraftCrossEntropyPlan  *plan,
                                    GraftBuffer                  *logits,
                                    GraftBuffer                  *target,
                                    GraftBuffer                  *weight,
                                    GraftBuffer                  *loss,
                                    GraftBuffer                  *losses,
                                    GraftBuffer                  *dlogits,
                                    GError                      **error);
gboolean _graft_vk_optim_step      (GraftBackend          *backend,
                                    const GraftOptimPlan  *plan,
                                    GraftBuffer           *param,
                                    GraftBuffer           *grad,
                                    GraftBuffer           *state0,
                                    GraftBuffer           *state1,
                                    GError               **error);
gboolean _graft_vk_sum_squares     (GraftBackend  *backend,
                                    GraftBuffer   *x,
                                    guint32        n,
                                    GraftBuffer   *partial,
                                    guint32        slot,
                                    GError       **error);
gboolean _graft_vk_sqrt_sum        (GraftBackend  *backend,
                                    GraftBuffer   *partial,
                                    guint32        n,
                                    GraftBuffer   *out,
                                    GError       **error);
gboolean _graft_vk_clip_scale      (GraftBackend  *backend,
                                    GraftBuffer   *norm,
                                    float          max_norm,
                                    GraftBuffer   *x,
                                    guint32        n,
                                    GError       **error);

G_END_DECLS
