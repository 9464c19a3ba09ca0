/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-vulkan"

#include "graft-vk-memory-private.h"

typedef struct {
  guint64 offset;
  guint64 size;
} GraftVkRange;

struct _GraftVkBlock {
  gpointer  memory;
  guint64   size;
  gboolean  dedicated;
  GArray   *free_ranges;    /* GraftVkRange, sorted by offset, never adjacent */
  guint     n_allocations;
};

struct _GraftVkAllocator {
  guint64            block_size;
  GraftVkBlockFuncs  funcs;
  gpointer           user_data;
  GPtrArray         *blocks;   /* GraftVkBlock*, in creation order */
};

GraftVkAllocator *
_graft_vk_allocator_new (guint64                  block_size,
                         const GraftVkBlockFuncs *funcs,
                         gpointer                 user_data)
{
  GraftVkAllocator *self;

  g_return_val_if_fail (block_size > 0, NULL);
  g_return_val_if_fail (funcs != NULL && funcs->block_new != NULL && funcs->block_free != NULL, NULL);

  self = g_new0 (GraftVkAllocator, 1);
  self->block_size = block_size;
  self->funcs = *funcs;
  self->user_data = user_data;
  self->blocks = g_ptr_array_new ();
  return self;
}

static void
block_destroy (GraftVkAllocator *self,
               GraftVkBlock     *block)
{
  self->funcs.block_free (self->user_data, block->memory);
  g_array_unref (block->free_ranges);
  g_free (block);
}

void
_graft_vk_allocator_free (GraftVkAllocator *self)
{
  if (self == NULL)
    return;

  for (guint i = 0; i < self->blocks->len; i++)
    block_destroy (self, g_ptr_array_index (self->blocks, i));
  g_ptr_array_unref (self->blocks);
  g_free (self);
}

guint64
_graft_vk_allocator_get_block_size (GraftVkAllocator *self)
{
  g_return_val_if_fail (self != NULL, 0);

  return self->block_size;
}

static GraftVkBlock *
block_new (GraftVkAllocator  *self,
           guint64            size,
           gboolean           dedicated,
           GError           **error)
{
  GraftVkBlock *block;
  gpointer memory;

  memory = self->funcs.block_new (self->user_data, size, error);
  if (memory == NULL)
    return NULL;

  block = g_new0 (GraftVkBlock, 1);
  block->memory = memory;
  block->size = size;
  block->dedicated = dedicated;
  block->free_ranges = g_array_new (FALSE, FALSE, sizeof (GraftVkRange));
  if (!dedicated)
    {
      GraftVkRange all = { 0, size };
      g_array_append_val (block->free_ranges, all);
    }
  g_ptr_array_add (self->blocks, block);
  return block;
}

static inline guint64
align_up (guint64 value,
          guint64 alignment)
{
  if (alignment <= 1)
    return value;
  return (value + alignment - 1) & ~(alignment - 1);
}

/* First fit inside one shared block. The alignment padding in front of the allocation
 * stays part of it, so that no sliver too small to be useful is left in the list. */
static gboolean
block_take (GraftVkBlock      *block,
            guint64            size,
            guint64            alignment,
            GraftVkAllocation *out)
{
  for (guint i = 0; i < block->free_ranges->len; i++)
    {
      GraftVkRange *r = &g_array_index (block->free_ranges, GraftVkRange, i);
      guint64 start = align_up (r->offset, alignment);
      guint64 end = start + size;

      if (end > r->offset + r->size)
        continue;

      out->block = block;
      out->memory = block->memory;
      out->offset = start;
      out->size = size;
      out->range_offset = r->offset;
      out->range_size = end - r->offset;

      r->size -= out->range_size;
      r->offset = end;
      if (r->size == 0)
        g_array_remove_index (block->free_ranges, i);
      block->n_allocations++;
      return TRUE;
    }
  return FALSE;
}

gboolean
_graft_vk_allocator_alloc (GraftVkAllocator   *self,
                           guint64             size,
                           guint64             alignment,
                           GraftVkAllocation  *out,
                           GError            **error)
{
  g_autoptr(GError) block_error = NULL;
  GraftVkBlock *block;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (out != NULL, FALSE);
  g_return_val_if_fail (alignment == 0 || (alignment & (alignment - 1)) == 0, FALSE);

  *out = (GraftVkAllocation) { 0 };
  size = MAX (size, 1);

  if (size <= self->block_size)
    {
      for (guint i = 0; i < self->blocks->len; i++)
        {
          block = g_ptr_array_index (self->blocks, i);
          if (!block->dedicated && block_take (block, size, alignment, out))
            return TRUE;
        }

      block = block_new (self, self->block_size, FALSE, &block_error);
      if (block != NULL)
        {
          gboolean ok = block_take (block, size, alignment, out);
          g_assert (ok);
          return TRUE;
        }
      /* A full block did not fit in what is left of the heap; the request alone may. */
      g_debug ("A %" G_GUINT64_FORMAT "-byte memory block failed (%s); trying %" G_GUINT64_FORMAT " bytes",
               self->block_size, block_error->message, size);
    }

  block = block_new (self, size, TRUE, error);
  if (block == NULL)
    return FALSE;

  block->n_allocations = 1;
  out->block = block;
  out->memory = block->memory;
  out->offset = 0;
  out->size = size;
  out->range_offset = 0;
  out->range_size = size;
  return TRUE;
}

static guint
count_empty_shared (GraftVkAllocator *self)
{
  guint n = 0;

  for (guint i = 0; i < self->blocks->len; i++)
    {
      GraftVkBlock *block = g_ptr_array_index (self->blocks, i);
      if (!block->dedicated && block->n_allocations == 0)
        n++;
    }
  return n;
}

void
_graft_vk_allocator_release (GraftVkAllocator  *self,
                             GraftVkAllocation *allocation)
{
  GraftVkBlock *block;
  GArray *ranges;
  GraftVkRange range;
  guint lo, hi;

  g_return_if_fail (self != NULL);
  g_return_if_fail (allocation != NULL);

  block = allocation->block;
  if (block == NULL)
    return;
  g_return_if_fail (block->n_allocations > 0);

  range.offset = allocation->range_offset;
  range.size = allocation->range_size;
  *allocation = (GraftVkAllocation) { 0 };
  block->n_allocations--;

  if (block->dedicated)
    {
      g_ptr_array_remove (self->blocks, block);
      block_destroy (self, block);
      return;
    }

  /* Binary search for the first free range after the released one. */
  ranges = block->free_ranges;
  lo = 0;
  hi = ranges->len;
  while (lo < hi)
    {
      guint mid = (lo + hi) / 2;
      if (g_array_index (ranges, GraftVkRange, mid).offset < range.offset)
        lo = mid + 1;
      else
        hi = mid;
    }

  /* Coalesce with the following range, then with the preceding one. */
  if (lo < ranges->len)
    {
      GraftVkRange *next = &g_array_index (ranges, GraftVkRange, lo);
      g_return_if_fail (range.offset + range.size <= next->offset);
      if (range.offset + range.size == next->offset)
        {
          range.size += next->size;
          g_array_remove_index (ranges, lo);
        }
    }
  if (lo > 0)
    {
      GraftVkRange *prev = &g_array_index (ranges, GraftVkRange, lo - 1);
      g_return_if_fail (prev->offset + prev->size <= range.offset);
      if (prev->offset + prev->size == range.offset)
        {
          prev->size += range.size;
          range.size = 0;
        }
    }
  if (range.size > 0)
    g_array_insert_val (ranges, lo, range);

  /* Keep one empty block for the next allocations; give the others back. */
  if (block->n_allocations == 0 && count_empty_shared (self) > 1)
    {
      g_ptr_array_remove (self->blocks, block);
      block_destroy (self, block);
    }
}

void
_graft_vk_allocator_get_stats (GraftVkAllocator      *self,
                               GraftVkAllocatorStats *stats)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (stats != NULL);

  *stats = (GraftVkAllocatorStats) { 0 };
  for (guint i = 0; i < self->blocks->len; i++)
    {
      GraftVkBlock *block = g_ptr_array_index (self->blocks, i);
      guint64 free_bytes = 0;

      stats->n_blocks++;
      stats->reserved_bytes += block->size;
      stats->n_allocations += block->n_allocations;
      if (block->dedicated)
        {
          stats->n_dedicated++;
          stats->used_bytes += block->size;
          continue;
        }
      for (guint j = 0; j < block->free_ranges->len; j++)
        {
          GraftVkRange *r = &g_array_index (block->free_ranges, GraftVkRange, j);
          free_bytes += r->size;
          stats->largest_free_range = MAX (stats->largest_free_range, r->size);
        }
      stats->n_free_ranges += block->free_ranges->len;
      stats->used_bytes += block->size - free_bytes;
    }
}
