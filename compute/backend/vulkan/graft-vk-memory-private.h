/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* A sub-allocator over large memory blocks: every tensor takes a range of a shared
 * block instead of a VkDeviceMemory of its own (drivers allow a few thousand of those at
 * most, and each costs a kernel call). First fit over a free list kept sorted by offset,
 * neighbouring free ranges coalesced, requests larger than the block size given a
 * dedicated block. It makes no Vulkan call itself: blocks come from callbacks, so the
 * tests drive it with plain host memory. */

#include <glib.h>

G_BEGIN_DECLS

typedef struct _GraftVkAllocator GraftVkAllocator;
typedef struct _GraftVkBlock     GraftVkBlock;

typedef struct {
  /* Returns the backing store of a new block of @size bytes, or NULL and sets @error. */
  gpointer (*block_new)  (gpointer   user_data,
                          guint64    size,
                          GError   **error);
  void     (*block_free) (gpointer   user_data,
                          gpointer   memory);
} GraftVkBlockFuncs;

typedef struct {
  GraftVkBlock *block;         /* NULL when nothing is allocated */
  gpointer      memory;        /* what block_new returned for that block */
  guint64       offset;        /* aligned start in the block */
  guint64       size;          /* as requested */
  /* private: the range given back on release (offset - padding .. offset + size) */
  guint64       range_offset;
  guint64       range_size;
} GraftVkAllocation;

typedef struct {
  guint   n_blocks;            /* shared and dedicated */
  guint   n_dedicated;
  guint   n_allocations;
  guint   n_free_ranges;       /* over all shared blocks */
  guint64 reserved_bytes;      /* sum of block sizes */
  guint64 used_bytes;          /* sum of allocated ranges, padding included */
  guint64 largest_free_range;
} GraftVkAllocatorStats;

GraftVkAllocator *_graft_vk_allocator_new       (guint64                   block_size,
                                                 const GraftVkBlockFuncs  *funcs,
                                                 gpointer                  user_data);
/* Frees every block; allocations still held become invalid. */
void              _graft_vk_allocator_free      (GraftVkAllocator         *self);
guint64           _graft_vk_allocator_get_block_size (GraftVkAllocator    *self);
/* @alignment is a power of two (vkGetBufferMemoryRequirements says so) or 0/1. */
gboolean          _graft_vk_allocator_alloc     (GraftVkAllocator         *self,
                                                 guint64                   size,
                                                 guint64                   alignment,
                                                 GraftVkAllocation        *out,
                                                 GError                  **error);
void              _graft_vk_allocator_release   (GraftVkAllocator         *self,
                                                 GraftVkAllocation        *allocation);
void              _graft_vk_allocator_get_stats (GraftVkAllocator         *self,
                                                 GraftVkAllocatorStats    *stats);

G_END_DECLS
