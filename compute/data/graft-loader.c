/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <string.h>

#include "graft-data-error.h"
#include "graft-loader.h"

/* How often a waiting graft_loader_next() looks at the cancellable. */
#define WAIT_SLICE_US (5 * 1000)

typedef struct {
  char   *path;
  guint   index;     /* in the dataset */
  int     label;
  GArray *boxes;     /* GraftBox, or NULL */
} Item;

typedef enum {
  SLOT_FREE,
  SLOT_FILLING,
  SLOT_READY,
  SLOT_IN_USE,       /* returned to the caller */
} SlotState;

typedef struct {
  SlotState  state;
  gint       generation;  /* of the epoch it was taken for */
  GraftBatch batch;
} Slot;

struct _GraftLoader {
  GraftLoaderOptions  options;
  GraftImageCache    *cache;
  GCancellable       *cancellable;
  gboolean            detection;
  Item               *items;
  guint               n_items;

  GMutex              mutex;
  GCond               work;        /* threads wait here for a batch to take */
  GCond               ready;       /* the caller waits here for its batch */
  GPtrArray          *threads;
  Slot               *slots;
  guint               n_slots;
  gboolean            stop;

  /* the epoch in progress, under @mutex */
  gint                generation;  /* changes with each epoch started; atomic reads */
  gboolean            running;
  guint               epoch;
  guint              *order;       /* n_items positions into @items */
  guint               n_batches;
  guint               next_take;   /* the next batch a thread takes */
  guint               next_give;   /* the next batch the caller gets */

  GPtrArray          *problems;    /* char *, under @mutex */
  GHashTable         *reported;    /* dataset indices already in @problems */
  guint               n_waits;
  gint64              wait_us;
};

void
graft_loader_options_init (GraftLoaderOptions *options,
                           guint               size,
                           gboolean            train)
{
  static const float mean[3] = { 0.485f, 0.456f, 0.406f };
  static const float std[3] = { 0.229f, 0.224f, 0.225f };

  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->batch_size = 32;
  options->channels = 3;
  memcpy (options->mean, mean, sizeof mean);
  memcpy (options->std, std, sizeof std);
  options->train = train;
  if (train)
    graft_augment_options_init (&options->augment, size);
  else
    graft_augment_options_init_eval (&options->augment, size, GRAFT_AUGMENT_RESIZE_CENTRE_CROP);
  options->shuffle = train;
  options->drop_last = FALSE;
  options->seed = 0;
  options->n_threads = 0;
  options->prefetch = 2;
}

static gboolean
check_options (const GraftLoaderOptions  *options,
               GraftImageCache           *cache,
               GError                   **error)
{
  if (!graft_augment_options_check (&options->augment, error))
    return FALSE;
  if (options->batch_size < 1 || options->batch_size > 65536)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Loader: a batch of %u images is not possible; choose 1 to 65536",
                   options->batch_size);
      return FALSE;
    }
  if (options->channels != 1 && options->channels != 3)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Loader: models take 1 or 3 channels, not %u", options->channels);
      return FALSE;
    }
  for (guint c = 0; c < options->channels; c++)
    if (!(options->std[c] > 0.0f) || !(options->mean[c] == options->mean[c]))
      {
        g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "Loader: the normalisation of channel %u (mean %g, std %g) needs a "
                     "standard deviation above 0", c, options->mean[c], options->std[c]);
        return FALSE;
      }
  if (options->prefetch < 1 || options->prefetch > 64 || options->n_threads > 64)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Loader: prefetch (%u) must lie between 1 and 64 and threads (%u) at most 64",
                   options->prefetch, options->n_threads);
      return FALSE;
    }
  if (cache != NULL &&
      (graft_image_cache_get_channels (cache) != options->channels ||
       graft_image_cache_get_side (cache) != graft_image_cache_side_for (options->augment.size)))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Loader: the image cache %s was made for another input size or channel "
                   "count; open the cache for %u channels at %u pixels",
                   graft_image_cache_get_dir (cache), options->channels, options->augment.size);
      return FALSE;
    }
  return TRUE;
}

/* Records that the image of @item cannot be read, once per image. Called with @mutex
 * held. */
static void
report_locked (GraftLoader *self,
               const Item  *item,
               const char  *message)
{
  if (g_hash_table_contains (self->reported, GUINT_TO_POINTER (item->index + 1)))
    return;
  g_hash_table_add (self->reported, GUINT_TO_POINTER (item->index + 1));
  g_ptr_array_add (self->problems, g_strdup (message));
}

static gboolean
stopping (GraftLoader *self)
{
  return g_atomic_int_get (&self->stop) || g_cancellable_is_cancelled (self->cancellable);
}

/* One image of a batch into @out (channels × size × size) and its boxes; FALSE when it
 * cannot be read. */
static gboolean
render_item (GraftLoader  *self,
             const Item   *item,
             guint         epoch,
             float        *out,
             GArray       *boxes,
             char        **problem)
{
  const GraftLoaderOptions *options = &self->options;
  g_autoptr(GraftImage) decoded = NULL;
  GraftCachedImage cached;
  const GraftImage *image;
  guint source_width, source_height;
  GraftAugmentParams params;

  if (self->cache != NULL && graft_image_cache_lookup (self->cache, item->path, &cached, NULL))
    {
      image = &cached.image;
      source_width = cached.source_width;
      source_height = cached.source_height;
    }
  else
    {
      g_autoptr(GError) error = NULL;

      decoded = graft_image_load (item->path, options->channels, 0, &error);
      if (decoded == NULL)
        {
          *problem = g_strdup (error->message);
          return FALSE;
        }
      image = decoded;
      source_width = decoded->width;
      source_height = decoded->height;
    }

  if (options->train)
    graft_augment_draw (&options->augment, source_width, source_height,
                        graft_augment_seed (options->seed, epoch, item->index), &params);
  else
    graft_augment_eval_params (&options->augment, source_width, source_height, &params);
  graft_augment_render_float (&options->augment, &params, image, options->mean, options->std, out);
  if (boxes != NULL && item->boxes != NULL)
    graft_augment_boxes (&options->augment, &params, source_width, source_height,
                         (const GraftBox *) (gpointer) item->boxes->data, item->boxes->len, boxes);
  return TRUE;
}

/* Assembles batch @index of the epoch into @batch; FALSE when stopped halfway. */
static gboolean
assemble (GraftLoader *self,
          gint         generation,
          guint        epoch,
          const guint *order,
          guint        index,
          GraftBatch  *batch)
{
  guint bs = self->options.batch_size;
  guint first = index * bs;
  guint last = MIN (first + bs, self->n_items);
  gsize image_floats = (gsize) self->options.channels * self->options.augment.size * self->options.augment.size;

  batch->epoch = epoch;
  batch->index = index;
  batch->n = 0;
  if (batch->boxes != NULL)
    g_ptr_array_set_size (batch->boxes, 0);

  for (guint i = first; i < last; i++)
    {
      const Item *item = &self->items[order[i]];
      GArray *boxes = self->detection ? g_array_new (FALSE, FALSE, sizeof (GraftBox)) : NULL;
      char *problem = NULL;

      /* stopped, or a new epoch started: this batch is not wanted any more */
      if (stopping (self) || g_atomic_int_get (&self->generation) != generation)
        {
          g_clear_pointer (&boxes, g_array_unref);
          return FALSE;
        }
      if (!render_item (self, item, epoch, batch->images + batch->n * image_floats, boxes, &problem))
        {
          g_mutex_lock (&self->mutex);
          report_locked (self, item, problem);
          g_mutex_unlock (&self->mutex);
          g_free (problem);
          g_clear_pointer (&boxes, g_array_unref);
          continue;
        }
      batch->labels[batch->n] = (float) item->label;
      batch->samples[batch->n] = item->index;
      if (boxes != NULL)
        g_ptr_array_add (batch->boxes, boxes);
      batch->n++;
    }
  return TRUE;
}

static gpointer
worker (gpointer data)
{
  GraftLoader *self = data;

  g_mutex_lock (&self->mutex);
  while (!self->stop)
    {
      Slot *slot = NULL;
      guint index, epoch;
      gint generation;
      const guint *order;
      gboolean complete;

      if (self->running && self->next_take < self->n_batches && !stopping (self))
        for (guint s = 0; s < self->n_slots && slot == NULL; s++)
          if (self->slots[s].state == SLOT_FREE)
            slot = &self->slots[s];
      if (slot == NULL)
        {
          g_cond_wait (&self->work, &self->mutex);
          continue;
        }

      index = self->next_take++;
      generation = self->generation;
      epoch = self->epoch;
      order = self->order;
      slot->state = SLOT_FILLING;
      slot->generation = generation;
      /* @order stays alive while a slot of its generation is FILLING: see start_epoch */
      g_mutex_unlock (&self->mutex);

      complete = assemble (self, generation, epoch, order, index, &slot->batch);

      g_mutex_lock (&self->mutex);
      if (complete && slot->generation == self->generation)
        slot->state = SLOT_READY;
      else
        slot->state = SLOT_FREE;
      g_cond_broadcast (&self->ready);
      g_cond_broadcast (&self->work);
    }
  g_mutex_unlock (&self->mutex);
  return NULL;
}

static void
batch_init (GraftBatch *batch,
            guint       batch_size,
            guint       channels,
            guint       size,
            gboolean    detection)
{
  memset (batch, 0, sizeof *batch);
  batch->channels = channels;
  batch->size = size;
  batch->images = g_try_new (float, (gsize) batch_size * channels * size * size);
  batch->labels = g_new (float, batch_size);
  batch->samples = g_new (guint, batch_size);
  if (detection)
    batch->boxes = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
}

static void
batch_clear (GraftBatch *batch)
{
  g_free (batch->images);
  g_free (batch->labels);
  g_free (batch->samples);
  g_clear_pointer (&batch->boxes, g_ptr_array_unref);
}

GraftLoader *
graft_loader_new (GraftDataset              *dataset,
                  GraftSplit                 split,
                  GraftImageCache           *cache,
                  const GraftLoaderOptions  *options,
                  GCancellable              *cancellable,
                  GError                   **error)
{
  g_autoptr(GArray) items = NULL;
  GraftLoader *self;
  guint n_threads;

  g_return_val_if_fail (dataset != NULL && options != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_options (options, cache, error))
    return NULL;

  self = g_new0 (GraftLoader, 1);
  self->options = *options;
  self->cache = cache;
  self->cancellable = cancellable != NULL ? g_object_ref (cancellable) : NULL;
  self->detection = dataset->task == GRAFT_TASK_DETECTION;
  self->problems = g_ptr_array_new_with_free_func (g_free);
  self->reported = g_hash_table_new (NULL, NULL);
  g_mutex_init (&self->mutex);
  g_cond_init (&self->work);
  g_cond_init (&self->ready);

  /* a copy of the split, less the images the cache knows to be unreadable */
  items = g_array_new (FALSE, FALSE, sizeof (Item));
  for (guint i = 0; i < dataset->samples->len; i++)
    {
      const GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      const char *failure = NULL;
      Item item;

      /* GRAFT_SPLIT_NONE: every sample but those the health check took out */
      if (!sample->usable || (split != GRAFT_SPLIT_NONE && sample->split != split))
        continue;
      item.index = i;
      if (dataset->task == GRAFT_TASK_CLASSIFICATION && sample->label < 0)
        {
          g_autofree char *message = g_strdup_printf ("%s has no label and is left out; "
                                                      "give it a class or remove it",
                                                      sample->name);
          report_locked (self, &item, message);
          continue;
        }
      if (cache != NULL && !graft_image_cache_lookup (cache, sample->path, NULL, &failure) &&
          failure != NULL)
        {
          report_locked (self, &item, failure);
          continue;
        }
      item.path = g_strdup (sample->path);
      item.label = sample->label;
      item.boxes = sample->boxes != NULL ? g_array_copy (sample->boxes) : NULL;
      g_array_append_val (items, item);
    }
  self->n_items = items->len;
  self->items = (Item *) (gpointer) g_array_free (g_steal_pointer (&items), FALSE);

  if (self->n_items == 0 || (options->drop_last && self->n_items < options->batch_size))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "The %s split of %s holds %u readable images, too few for a batch of %u; "
                   "import more images or change the split",
                   graft_split_to_string (split), dataset->root != NULL ? dataset->root : "the dataset",
                   self->n_items, options->batch_size);
      graft_loader_free (self);
      return NULL;
    }

  n_threads = options->n_threads > 0 ? options->n_threads : MIN (g_get_num_processors (), 8u);
  self->n_slots = MAX (options->prefetch, n_threads) + 1;
  self->slots = g_new0 (Slot, self->n_slots);
  for (guint s = 0; s < self->n_slots; s++)
    {
      batch_init (&self->slots[s].batch, options->batch_size, options->channels,
                  options->augment.size, self->detection);
      if (self->slots[s].batch.images == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
                       "Not enough memory for %u batches of %u images of %u × %u pixels; "
                       "choose a smaller batch or fewer threads",
                       self->n_slots, options->batch_size, options->augment.size, options->augment.size);
          graft_loader_free (self);
          return NULL;
        }
    }
  self->n_batches = options->drop_last ? self->n_items / options->batch_size
                                       : (self->n_items + options->batch_size - 1) / options->batch_size;

  self->threads = g_ptr_array_new ();
  for (guint t = 0; t < n_threads; t++)
    g_ptr_array_add (self->threads, g_thread_new ("graft-loader", worker, self));
  return self;
}

void
graft_loader_free (GraftLoader *self)
{
  if (self == NULL)
    return;

  g_mutex_lock (&self->mutex);
  g_atomic_int_set (&self->stop, TRUE);
  g_cond_broadcast (&self->work);
  g_mutex_unlock (&self->mutex);
  for (guint t = 0; self->threads != NULL && t < self->threads->len; t++)
    g_thread_join (g_ptr_array_index (self->threads, t));
  g_clear_pointer (&self->threads, g_ptr_array_unref);

  for (guint s = 0; self->slots != NULL && s < self->n_slots; s++)
    batch_clear (&self->slots[s].batch);
  g_free (self->slots);
  for (guint i = 0; self->items != NULL && i < self->n_items; i++)
    {
      g_free (self->items[i].path);
      g_clear_pointer (&self->items[i].boxes, g_array_unref);
    }
  g_free (self->items);
  g_free (self->order);
  g_ptr_array_unref (self->problems);
  g_hash_table_unref (self->reported);
  g_clear_object (&self->cancellable);
  g_mutex_clear (&self->mutex);
  g_cond_clear (&self->work);
  g_cond_clear (&self->ready);
  g_free (self);
}

guint
graft_loader_get_n_samples (GraftLoader *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_items;
}

guint
graft_loader_get_n_batches (GraftLoader *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_batches;
}

guint
graft_loader_get_n_threads (GraftLoader *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->threads->len;
}

void
graft_loader_epoch_order (guint64  seed,
                          guint    epoch,
                          guint    n,
                          guint   *order)
{
  guint64 key = graft_augment_seed (seed, epoch, G_MAXUINT);
  guint32 words[2] = { (guint32) key, (guint32) (key >> 32) };
  g_autoptr(GRand) rand = g_rand_new_with_seed_array (words, 2);

  for (guint i = 0; i < n; i++)
    order[i] = i;
  for (guint i = n; i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
      guint t = order[i - 1];

      order[i - 1] = order[j];
      order[j] = t;
    }
}

void
graft_loader_start_epoch (GraftLoader *self,
                          guint        epoch)
{
  guint *order;
  gboolean busy;

  g_return_if_fail (self != NULL);

  order = g_new (guint, self->n_items);
  if (self->options.shuffle)
    graft_loader_epoch_order (self->options.seed, epoch, self->n_items, order);
  else
    for (guint i = 0; i < self->n_items; i++)
      order[i] = i;

  g_mutex_lock (&self->mutex);
  /* the threads still filling batches of the old epoch read its order: wait for them
   * (a batch at most) before it is freed */
  g_atomic_int_inc (&self->generation);
  self->running = FALSE;
  do
    {
      busy = FALSE;
      for (guint s = 0; s < self->n_slots; s++)
        {
          if (self->slots[s].state == SLOT_FILLING)
            busy = TRUE;
          else
            self->slots[s].state = SLOT_FREE;
        }
      if (busy)
        g_cond_wait (&self->ready, &self->mutex);
    }
  while (busy);
  g_free (self->order);
  self->order = order;
  self->epoch = epoch;
  self->next_take = 0;
  self->next_give = 0;
  self->running = TRUE;
  g_cond_broadcast (&self->work);
  g_mutex_unlock (&self->mutex);
}

const GraftBatch *
graft_loader_next (GraftLoader  *self,
                   GError      **error)
{
  const GraftBatch *batch = NULL;
  gint64 wait_start = 0;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  g_mutex_lock (&self->mutex);
  /* the batch handed out last time goes back to the threads */
  for (guint s = 0; s < self->n_slots; s++)
    if (self->slots[s].state == SLOT_IN_USE)
      {
        self->slots[s].state = SLOT_FREE;
        g_cond_broadcast (&self->work);
      }

  while (batch == NULL)
    {
      Slot *slot = NULL;

      if (g_cancellable_set_error_if_cancelled (self->cancellable, error))
        break;
      if (!self->running || self->next_give >= self->n_batches)
        break;
      for (guint s = 0; s < self->n_slots && slot == NULL; s++)
        if (self->slots[s].state == SLOT_READY && self->slots[s].generation == self->generation &&
            self->slots[s].batch.index == self->next_give)
          slot = &self->slots[s];
      if (slot != NULL)
        {
          slot->state = SLOT_IN_USE;
          self->next_give++;
          batch = &slot->batch;
          break;
        }
      if (wait_start == 0)
        wait_start = g_get_monotonic_time ();
      g_cond_wait_until (&self->ready, &self->mutex, g_get_monotonic_time () + WAIT_SLICE_US);
    }
  if (wait_start != 0)
    {
      self->n_waits++;
      self->wait_us += g_get_monotonic_time () - wait_start;
    }
  g_mutex_unlock (&self->mutex);
  return batch;
}

const GraftBatch *
graft_loader_next_upload (GraftLoader  *self,
                          GraftTensor  *images,
                          GraftTensor  *labels,
                          GError      **error)
{
  const GraftBatch *batch;
  gsize n_floats;

  g_return_val_if_fail (self != NULL && images != NULL, NULL);

  batch = graft_loader_next (self, error);
  if (batch == NULL)
    return NULL;
  n_floats = (gsize) batch->n * batch->channels * batch->size * batch->size;
  if (graft_tensor_get_n_elements (images) != n_floats ||
      (labels != NULL && graft_tensor_get_n_elements (labels) != batch->n))
    {
      g_autofree char *shape = graft_tensor_format_shape (images);

      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "Batch %u of epoch %u holds [%u, %u, %u, %u] images, which do not fit "
                   "the input %s; prepare the model for this batch size or drop the "
                   "last, short batch", batch->index, batch->epoch, batch->n,
                   batch->channels, batch->size, batch->size, shape);
      return NULL;
    }
  if (!graft_tensor_upload (images, batch->images, n_floats, error) ||
      (labels != NULL && !graft_tensor_upload (labels, batch->labels, batch->n, error)))
    return NULL;
  return batch;
}

guint
graft_loader_get_n_waits (GraftLoader *self,
                          double      *seconds)
{
  guint n;

  g_return_val_if_fail (self != NULL, 0);

  g_mutex_lock (&self->mutex);
  n = self->n_waits;
  if (seconds != NULL)
    *seconds = self->wait_us / (double) G_USEC_PER_SEC;
  g_mutex_unlock (&self->mutex);
  return n;
}

GPtrArray *
graft_loader_dup_problems (GraftLoader *self)
{
  GPtrArray *copy;

  g_return_val_if_fail (self != NULL, NULL);

  g_mutex_lock (&self->mutex);
  copy = g_ptr_array_new_full (self->problems->len, g_free);
  for (guint i = 0; i < self->problems->len; i++)
    g_ptr_array_add (copy, g_strdup (g_ptr_array_index (self->problems, i)));
  g_mutex_unlock (&self->mutex);
  return copy;
}
