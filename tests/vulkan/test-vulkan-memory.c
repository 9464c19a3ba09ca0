/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-test"

/* The block sub-allocator of the Vulkan backend, driven with plain host memory, and the
 * pipeline cache it leaves on disk. */

#include <string.h>

#include <glib/gstdio.h>

#include "graft-test-vulkan.h"

#define BLOCK_SIZE (1u << 20)

/* Host memory standing in for VkDeviceMemory; counts what the allocator asks for. */
typedef struct {
  guint   n_new;
  guint   n_free;
  guint   live;
  guint64 fail_at_or_above;   /* block_new fails for sizes >= this; 0: never */
  guint64 fail_all;           /* every block_new fails */
} FakeDevice;

typedef struct {
  guint64  size;
  guint8  *bytes;
} FakeBlock;

static gpointer
fake_block_new (gpointer   user_data,
                guint64    size,
                GError   **error)
{
  FakeDevice *dev = user_data;
  FakeBlock *block;

  if (dev->fail_all || (dev->fail_at_or_above != 0 && size >= dev->fail_at_or_above))
    {
      g_set_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY,
                   "out of device memory: a block of %" G_GUINT64_FORMAT " bytes", size);
      return NULL;
    }
  block = g_new0 (FakeBlock, 1);
  block->size = size;
  block->bytes = g_malloc0 (size);
  dev->n_new++;
  dev->live++;
  return block;
}

static void
fake_block_free (gpointer user_data,
                 gpointer memory)
{
  FakeDevice *dev = user_data;
  FakeBlock *block = memory;

  g_free (block->bytes);
  g_free (block);
  dev->n_free++;
  dev->live--;
}

static const GraftVkBlockFuncs fake_funcs = { fake_block_new, fake_block_free };

typedef struct {
  GraftVkAllocation alloc;
  guint8            tag;
} Held;

/* Writes a tag over the whole allocation; a later overlap would overwrite another's. */
static void
stamp (Held *h)
{
  FakeBlock *block = h->alloc.memory;

  g_assert_cmpuint (h->alloc.offset + h->alloc.size, <=, block->size);
  memset (block->bytes + h->alloc.offset, h->tag, h->alloc.size);
}

static void
check_stamp (Held *h)
{
  FakeBlock *block = h->alloc.memory;

  for (guint64 i = 0; i < h->alloc.size; i++)
    if (block->bytes[h->alloc.offset + i] != h->tag)
      g_error ("allocation at %" G_GUINT64_FORMAT " (+%" G_GUINT64_FORMAT ") was overwritten at byte %" G_GUINT64_FORMAT,
               h->alloc.offset, h->alloc.size, i);
}

/* Many sizes and alignments, freed in random order, interleaved with new allocations:
 * no two allocations overlap, every one is aligned, and once all are freed the memory
 * has coalesced back into one block with one free range. */
static void
test_allocator_many_sizes (void)
{
  static const guint64 alignments[] = { 0, 1, 4, 16, 64, 256, 4096 };
  FakeDevice dev = { 0 };
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autoptr(GPtrArray) held = g_ptr_array_new_with_free_func (g_free);
  GraftVkAllocator *allocator = _graft_vk_allocator_new (BLOCK_SIZE, &fake_funcs, &dev);
  GraftVkAllocatorStats stats;

  for (guint round = 0; round < 4000; round++)
    {
      if (held->len > 0 && g_rand_int_range (rand, 0, 100) < 45)
        {
          guint i = g_rand_int_range (rand, 0, held->len);
          Held *h = g_ptr_array_index (held, i);

          check_stamp (h);
          _graft_vk_allocator_release (allocator, &h->alloc);
          g_assert_null (h->alloc.block);
          g_ptr_array_remove_index_fast (held, i);
        }
      else
        {
          g_autoptr(GError) error = NULL;
          Held *h = g_new0 (Held, 1);
          guint64 align = alignments[g_rand_int_range (rand, 0, G_N_ELEMENTS (alignments))];
          /* Mostly small, sometimes a sizeable part of a block. */
          guint64 size = g_rand_int_range (rand, 0, 8) == 0
                         ? (guint64) g_rand_int_range (rand, 1, BLOCK_SIZE / 3)
                         : (guint64) g_rand_int_range (rand, 1, 5000);

          g_assert_true (_graft_vk_allocator_alloc (allocator, size, align, &h->alloc, &error));
          g_assert_no_error (error);
          g_assert_cmpuint (h->alloc.size, ==, size);
          if (align > 1)
            g_assert_cmpuint (h->alloc.offset % align, ==, 0);
          h->tag = (guint8) (round * 7 + 1);
          stamp (h);
          g_ptr_array_add (held, h);
        }
    }

  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_allocations, ==, held->len);
  g_test_message ("%u live allocations in %u blocks, %u free ranges",
                  stats.n_allocations, stats.n_blocks, stats.n_free_ranges);
  /* Sub-allocation: far fewer blocks than allocations made. */
  g_assert_cmpuint (dev.n_new, <, 40);

  for (guint i = 0; i < held->len; i++)
    {
      Held *h = g_ptr_array_index (held, i);
      check_stamp (h);
      _graft_vk_allocator_release (allocator, &h->alloc);
    }

  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_allocations, ==, 0);
  g_assert_cmpuint (stats.used_bytes, ==, 0);
  g_assert_cmpuint (stats.n_blocks, ==, 1);          /* one empty block kept for reuse */
  g_assert_cmpuint (stats.n_free_ranges, ==, 1);     /* fully coalesced */
  g_assert_cmpuint (stats.largest_free_range, ==, BLOCK_SIZE);
  g_assert_cmpuint (dev.live, ==, 1);

  _graft_vk_allocator_free (allocator);
  g_assert_cmpuint (dev.live, ==, 0);
}

/* Freed memory is handed out again instead of asking the device for more. */
static void
test_allocator_reuse (void)
{
  FakeDevice dev = { 0 };
  GraftVkAllocator *allocator = _graft_vk_allocator_new (BLOCK_SIZE, &fake_funcs, &dev);
  GraftVkAllocation a, b;
  GraftVkBlock *first_block;
  guint64 first_offset;

  g_assert_true (_graft_vk_allocator_alloc (allocator, 1000, 256, &a, NULL));
  first_block = a.block;
  first_offset = a.offset;
  g_assert_cmpuint (dev.n_new, ==, 1);

  for (guint i = 0; i < 100; i++)
    {
      _graft_vk_allocator_release (allocator, &a);
      g_assert_true (_graft_vk_allocator_alloc (allocator, 1000, 256, &a, NULL));
      g_assert_true (a.block == first_block);
      g_assert_cmpuint (a.offset, ==, first_offset);
    }

  /* Filling the block exactly needs no second block. */
  g_assert_true (_graft_vk_allocator_alloc (allocator, BLOCK_SIZE - 1024, 1024, &b, NULL));
  g_assert_true (b.block == first_block);
  g_assert_cmpuint (dev.n_new, ==, 1);
  _graft_vk_allocator_release (allocator, &b);
  _graft_vk_allocator_release (allocator, &a);
  g_assert_cmpuint (dev.n_free, ==, 0);

  _graft_vk_allocator_free (allocator);
  g_assert_cmpuint (dev.live, ==, 0);
}

/* Neighbouring free ranges merge, so a large request fits again after small frees. */
static void
test_allocator_coalescing (void)
{
  FakeDevice dev = { 0 };
  GraftVkAllocator *allocator = _graft_vk_allocator_new (BLOCK_SIZE, &fake_funcs, &dev);
  GraftVkAllocation parts[4], big;
  GraftVkAllocatorStats stats;
  const guint64 quarter = BLOCK_SIZE / 4;

  for (guint i = 0; i < 4; i++)
    {
      g_assert_true (_graft_vk_allocator_alloc (allocator, quarter, 1, &parts[i], NULL));
      g_assert_cmpuint (parts[i].offset, ==, i * quarter);
    }
  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_free_ranges, ==, 0);

  /* Free 0 and 2: two separate holes. */
  _graft_vk_allocator_release (allocator, &parts[0]);
  _graft_vk_allocator_release (allocator, &parts[2]);
  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_free_ranges, ==, 2);
  g_assert_cmpuint (stats.largest_free_range, ==, quarter);

  /* Free 1: 0, 1 and 2 become one hole of three quarters. */
  _graft_vk_allocator_release (allocator, &parts[1]);
  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_free_ranges, ==, 1);
  g_assert_cmpuint (stats.largest_free_range, ==, 3 * quarter);

  g_assert_true (_graft_vk_allocator_alloc (allocator, 3 * quarter, 1, &big, NULL));
  g_assert_cmpuint (big.offset, ==, 0);
  g_assert_cmpuint (dev.n_new, ==, 1);

  _graft_vk_allocator_release (allocator, &parts[3]);
  _graft_vk_allocator_release (allocator, &big);
  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_free_ranges, ==, 1);
  g_assert_cmpuint (stats.largest_free_range, ==, BLOCK_SIZE);

  _graft_vk_allocator_free (allocator);
}

/* Requests above the block size get a block of their own, released with them; empty
 * shared blocks beyond one are given back. */
static void
test_allocator_dedicated_and_release (void)
{
  FakeDevice dev = { 0 };
  GraftVkAllocator *allocator = _graft_vk_allocator_new (BLOCK_SIZE, &fake_funcs, &dev);
  GraftVkAllocation huge, parts[3];
  GraftVkAllocatorStats stats;

  g_assert_true (_graft_vk_allocator_alloc (allocator, 3 * BLOCK_SIZE + 5, 64, &huge, NULL));
  _graft_vk_allocator_get_stats (allocator, &stats);
  g_assert_cmpuint (stats.n_dedicated, ==, 1);
  g_assert_cmpuint (huge.offset, ==, 0);
  _graft_vk_allocator_release (allocator, &huge);
  g_assert_cmpuint (dev.n_free, ==, 1);
  g_assert_cmpuint (dev.live, ==, 0);

  /* Three allocations of 60 % of a block need three blocks... */
  for (guint i = 0; i < 3; i++)
    g_assert_true (_graft_vk_allocator_alloc (allocator, BLOCK_SIZE * 6 / 10, 16, &parts[i], NULL));
  g_assert_cmpuint (dev.live, ==, 3);
  /* ...and freeing them keeps only one. */
  for (guint i = 0; i < 3; i++)
    _graft_vk_allocator_release (allocator, &parts[i]);
  g_assert_cmpuint (dev.live, ==, 1);

  _graft_vk_allocator_free (allocator);
  g_assert_cmpuint (dev.live, ==, 0);
}

/* When a whole block no longer fits in the heap, the request alone is tried; when that
 * fails too, the error says so and nothing leaks. */
static void
test_allocator_out_of_memory (void)
{
  FakeDevice dev = { .fail_at_or_above = BLOCK_SIZE };
  GraftVkAllocator *allocator = _graft_vk_allocator_new (BLOCK_SIZE, &fake_funcs, &dev);
  g_autoptr(GError) error = NULL;
  GraftVkAllocation a = { 0 };

  g_assert_true (_graft_vk_allocator_alloc (allocator, 1000, 16, &a, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (dev.live, ==, 1);
  _graft_vk_allocator_release (allocator, &a);
  g_assert_cmpuint (dev.live, ==, 0);

  dev.fail_all = TRUE;
  g_assert_false (_graft_vk_allocator_alloc (allocator, 1000, 16, &a, &error));
  g_assert_error (error, GRAFT_DEVICE_ERROR, GRAFT_DEVICE_ERROR_OUT_OF_MEMORY);
  g_assert_null (a.block);
  g_assert_cmpuint (dev.live, ==, 0);

  _graft_vk_allocator_free (allocator);
}

/* Tensors of a real device share memory blocks. */
static void
test_device_suballocates (void)
{
  g_autofree char *reason = NULL;
  g_autoptr(GraftBackend) vk = graft_test_open_vulkan (&reason);
  GraftTensor *tensors[200];
  GraftVkAllocatorStats before, during, after;

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }

  _graft_vk_backend_get_memory_stats (vk, &before);
  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++)
    {
      gsize shape[1] = { 1 + i * 37 };
      tensors[i] = graft_test_tensor (vk, 1, shape, NULL);
    }
  _graft_vk_backend_get_memory_stats (vk, &during);
  g_assert_cmpuint (during.n_allocations, ==, before.n_allocations + G_N_ELEMENTS (tensors));
  g_assert_cmpuint (during.n_blocks, <=, before.n_blocks + 1);

  for (guint i = 0; i < G_N_ELEMENTS (tensors); i++)
    graft_tensor_unref (tensors[i]);
  _graft_vk_backend_get_memory_stats (vk, &after);
  g_assert_cmpuint (after.n_allocations, ==, before.n_allocations);
  g_assert_cmpuint (after.used_bytes, ==, before.used_bytes);
}

/* Closing a device saves its compiled pipelines where the next start finds them, and
 * the next start accepts the file. */
static void
test_pipeline_cache (void)
{
  g_autofree char *reason = NULL;
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  g_autofree char *cache_dir = NULL;
  g_autoptr(GError) error = NULL;
  GraftBackend *vk = graft_test_open_vulkan (&reason);
  GraftTensor *t;
  gsize shape[1] = { 1000 };
  gsize length;
  float values[1000];

  if (vk == NULL)
    {
      graft_test_no_vulkan (reason);
      return;
    }

  path = _graft_vk_pipeline_cache_path (graft_backend_get_info (vk));
  cache_dir = g_build_filename (g_get_user_cache_dir (), "graft", "pipeline-cache", NULL);
  g_assert_true (g_str_has_prefix (path, cache_dir));
  g_test_message ("pipeline cache: %s", path);
  g_unlink (path);

  t = graft_test_tensor (vk, 1, shape, NULL);
  graft_op_fill (t, 2.5f, &error);
  g_assert_no_error (error);
  graft_tensor_unref (t);
  graft_backend_unref (vk);

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  /* VkPipelineCacheHeaderVersionOne: 16 bytes of ids, then the UUID. */
  g_assert_cmpuint (length, >=, 16 + VK_UUID_SIZE);
  g_assert_cmpuint (GUINT32_FROM_LE (((guint32 *) contents)[1]), ==, VK_PIPELINE_CACHE_HEADER_VERSION_ONE);

  /* Reopen with the saved cache and run the same pipeline. */
  vk = graft_test_open_vulkan (&reason);
  g_assert_nonnull (vk);
  t = graft_test_tensor (vk, 1, shape, NULL);
  graft_op_fill (t, 2.5f, &error);
  g_assert_no_error (error);
  graft_tensor_download (t, values, G_N_ELEMENTS (values), &error);
  g_assert_no_error (error);
  g_assert_cmpfloat (values[0], ==, 2.5f);
  g_assert_cmpfloat (values[999], ==, 2.5f);
  graft_tensor_unref (t);
  graft_backend_unref (vk);

  /* A damaged file is ignored, not fed to the driver. */
  g_assert_true (g_file_set_contents (path, "not a pipeline cache", -1, &error));
  vk = graft_test_open_vulkan (&reason);
  g_assert_nonnull (vk);
  t = graft_test_tensor (vk, 1, shape, NULL);
  graft_op_fill (t, 1.0f, &error);
  g_assert_no_error (error);
  graft_tensor_unref (t);
  graft_backend_unref (vk);
  g_clear_pointer (&contents, g_free);
  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_cmpuint (length, >=, 16 + VK_UUID_SIZE);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/vulkan/allocator/many-sizes", test_allocator_many_sizes);
  g_test_add_func ("/vulkan/allocator/reuse", test_allocator_reuse);
  g_test_add_func ("/vulkan/allocator/coalescing", test_allocator_coalescing);
  g_test_add_func ("/vulkan/allocator/dedicated", test_allocator_dedicated_and_release);
  g_test_add_func ("/vulkan/allocator/out-of-memory", test_allocator_out_of_memory);
  g_test_add_func ("/vulkan/memory/suballocation", test_device_suballocates);
  g_test_add_func ("/vulkan/pipeline-cache", test_pipeline_cache);

  return g_test_run ();
}
