/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "graft-dataset-health-private.h"
#include "graft-dataset-private.h"
#include "graft-image.h"

/* Boxes read from normalised coordinates may overshoot their image by rounding. */
#define BOX_SLACK 0.5f

#define MAX_THREADS 8

typedef struct {
  GraftDatasetHealth health;
  guint              n_base;  /* problems that do not depend on the splits */
} Health;

typedef GraftHealthFileResult FileResult;

typedef struct {
  GraftDataset *dataset;
  FileResult   *results;
  guint        *todo;     /* the samples to read: all, or those the memo does not know */
  guint         n_todo;
  guint64       max_pixels;
  GCancellable *cancellable;
  gint          next;     /* atomic: the next of @todo to read */
  gint          done;     /* atomic: files read */
  GMutex        mutex;
  GCond         cond;
  guint         running;  /* readers not finished, under mutex */
} Pool;

void
graft_health_options_init (GraftHealthOptions *options)
{
  g_return_if_fail (options != NULL);

  options->min_side = GRAFT_HEALTH_DEFAULT_MIN_SIDE;
  options->n_threads = 0;
  options->max_pixels = 0;
  options->remember = FALSE;
  options->memo_dir = NULL;
}

static void
problem_free (gpointer data)
{
  GraftDataProblem *problem = data;

  g_free (problem->file);
  g_free (problem->message);
  g_free (problem->other);
  g_free (problem);
}

static GraftDataProblem *
problem_copy (const GraftDataProblem *from)
{
  GraftDataProblem *problem = g_new0 (GraftDataProblem, 1);

  problem->kind = from->kind;
  problem->file = g_strdup (from->file);
  problem->line = from->line;
  problem->message = g_strdup (from->message);
  problem->other = g_strdup (from->other);
  return problem;
}

G_GNUC_PRINTF (5, 6)
static void
add_problem (GPtrArray            *problems,
             GraftDataProblemKind  kind,
             const char           *file,
             const char           *other,
             const char           *format,
             ...)
{
  GraftDataProblem *problem = g_new0 (GraftDataProblem, 1);
  va_list args;

  problem->kind = kind;
  problem->file = g_strdup (file);
  problem->other = g_strdup (other);
  va_start (args, format);
  problem->message = g_strdup_vprintf (format, args);
  va_end (args);
  g_ptr_array_add (problems, problem);
}

static void
read_one (Pool  *pool,
          guint  index)
{
  GraftSample *sample = g_ptr_array_index (pool->dataset->samples, index);
  FileResult *result = &pool->results[index];
  g_autoptr(GError) error = NULL;
  g_autoptr(GChecksum) checksum = NULL;
  g_autoptr(GraftImage) image = NULL;
  g_autofree char *data = NULL;
  gsize length = 0, digest_len = GRAFT_HEALTH_HASH_SIZE;
  GStatBuf st;

  /* the identity before the bytes: a file rewritten meanwhile is read again next time */
  if (g_stat (sample->path, &st) == 0)
    {
      result->stated = TRUE;
      result->size = (gint64) st.st_size;
      result->mtime_ns = _graft_stat_mtime_ns (&st);
    }
  if (!g_file_get_contents (sample->path, &data, &length, &error))
    {
      result->reason = g_strdup_printf ("%s cannot be read: %s; check that it exists and "
                                        "that you may read it", sample->name, error->message);
      return;
    }
  checksum = g_checksum_new (G_CHECKSUM_SHA256);
  g_checksum_update (checksum, (const guchar *) data, length);
  g_checksum_get_digest (checksum, result->hash, &digest_len);
  result->hashed = TRUE;

  image = graft_image_decode_bytes ((const guint8 *) data, length, sample->name, 0,
                                    pool->max_pixels, &error);
  if (image == NULL)
    {
      result->reason = g_strdup (error->message);
      return;
    }
  result->ok = TRUE;
  result->width = image->width;
  result->height = image->height;
}

static gpointer
reader (gpointer data)
{
  Pool *pool = data;

  for (;;)
    {
      guint index;

      if (g_cancellable_is_cancelled (pool->cancellable))
        break;
      index = (guint) g_atomic_int_add (&pool->next, 1);
      if (index >= pool->n_todo)
        break;
      read_one (pool, pool->todo[index]);
      g_atomic_int_inc (&pool->done);
      g_mutex_lock (&pool->mutex);
      g_cond_signal (&pool->cond);
      g_mutex_unlock (&pool->mutex);
    }

  g_mutex_lock (&pool->mutex);
  pool->running--;
  g_cond_signal (&pool->cond);
  g_mutex_unlock (&pool->mutex);
  return NULL;
}

/* The decoder's limit, which decides what is readable: a memo made under another is not
 * used. */
static guint64
memo_limit (const Pool *pool)
{
  return pool->max_pixels > 0 ? pool->max_pixels : GRAFT_IMAGE_DEFAULT_MAX_PIXELS;
}

/* The results the memo in @memo_dir holds for files unchanged since (same size and
 * modification time), straight into the pool's results; the other samples into its
 * list to read. */
static void
recall (Pool       *pool,
        const char *memo_dir,
        const char *root)
{
  GraftDataset *dataset = pool->dataset;
  g_autoptr(GHashTable) memo = _graft_health_memo_load (memo_dir, root, memo_limit (pool));

  for (guint i = 0; i < dataset->samples->len; i++)
    {
      const GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      const FileResult *known = memo != NULL ? g_hash_table_lookup (memo, sample->path) : NULL;
      GStatBuf st;

      if (known != NULL && g_stat (sample->path, &st) == 0 &&
          known->size == (gint64) st.st_size &&
          known->mtime_ns == _graft_stat_mtime_ns (&st))
        {
          pool->results[i] = *known;
          pool->results[i].reason = g_strdup (known->reason);
        }
      else
        pool->todo[pool->n_todo++] = i;
    }
}

/* Reads every file on @n_threads readers, calling @progress here as they go. */
static void
read_all (Pool                 *pool,
          guint                 n_threads,
          GraftDatasetProgress  progress,
          gpointer              user_data)
{
  g_autoptr(GPtrArray) threads = g_ptr_array_new ();
  guint n = pool->dataset->samples->len;
  guint reported = G_MAXUINT;

  g_mutex_init (&pool->mutex);
  g_cond_init (&pool->cond);
  pool->running = n_threads;
  for (guint t = 0; t < n_threads; t++)
    g_ptr_array_add (threads, g_thread_new ("graft-health", reader, pool));

  g_mutex_lock (&pool->mutex);
  for (;;)
    {
      guint done = (guint) g_atomic_int_get (&pool->done);
      gboolean finished = pool->running == 0;

      if (progress != NULL && done != reported)
        {
          g_mutex_unlock (&pool->mutex);
          progress (done, n, user_data);
          reported = done;
          g_mutex_lock (&pool->mutex);
          continue;
        }
      if (finished)
        break;
      g_cond_wait_until (&pool->cond, &pool->mutex,
                         g_get_monotonic_time () + 100 * G_TIME_SPAN_MILLISECOND);
    }
  g_mutex_unlock (&pool->mutex);

  for (guint t = 0; t < threads->len; t++)
    g_thread_join (g_ptr_array_index (threads, t));
  g_mutex_clear (&pool->mutex);
  g_cond_clear (&pool->cond);
}

/* The name a label file and its image share: the file's name without its extension and
 * without a leading images/ or labels/ folder (YOLO keeps them side by side). */
static char *
file_key (const char *file)
{
  const char *start = file;
  const char *slash, *dot;

  if (g_str_has_prefix (start, "images/") || g_str_has_prefix (start, "labels/"))
    start += strlen ("images/");
  slash = strrchr (start, '/');
  dot = strrchr (start, '.');
  if (dot != NULL && (slash == NULL || dot > slash))
    return g_strndup (start, (gsize) (dot - start));
  return g_strdup (start);
}

static char *
seen_key (GraftDataProblemKind  kind,
          const char           *file)
{
  g_autofree char *key = file_key (file);

  return g_strdup_printf ("%d:%s", (int) kind, key);
}

/* Whether the importer reported @kind for @sample already. */
static gboolean
already_reported (GHashTable           *seen,
                  GraftDataProblemKind  kind,
                  const GraftSample    *sample)
{
  g_autofree char *by_name = seen_key (kind, sample->name);
  g_autofree char *by_path = g_strdup_printf ("%d:%s", (int) kind, sample->path);

  return g_hash_table_contains (seen, by_name) || g_hash_table_contains (seen, by_path);
}

static GHashTable *
reported_by_importer (GraftDataset *dataset)
{
  GHashTable *seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < dataset->problems->len; i++)
    {
      const GraftDataProblem *problem = g_ptr_array_index (dataset->problems, i);

      if (problem->file == NULL)
        continue;
      g_hash_table_add (seen, seen_key (problem->kind, problem->file));
      g_hash_table_add (seen, g_strdup_printf ("%d:%s", (int) problem->kind, problem->file));
    }
  return seen;
}

/* The checks of one sample whose file was read; FALSE if it cannot be used. */
static gboolean
check_sample (GraftDataset      *dataset,
              GraftSample       *sample,
              guint              min_side,
              GHashTable        *seen,
              GPtrArray         *problems)
{
  guint n_classes = dataset->classes->len;
  gboolean usable = TRUE;

  if (MIN (sample->width, sample->height) < min_side &&
      !already_reported (seen, GRAFT_DATA_PROBLEM_SMALL_IMAGE, sample))
    add_problem (problems, GRAFT_DATA_PROBLEM_SMALL_IMAGE, sample->name, NULL,
                 "%s is %u×%u pixels, less than %u on its shorter side: the model will see "
                 "it enlarged and blurred; check that it is the image you meant",
                 sample->name, sample->width, sample->height, min_side);

  if (dataset->task == GRAFT_TASK_CLASSIFICATION)
    {
      if (sample->label < 0)
        {
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_NO_LABEL, sample))
            add_problem (problems, GRAFT_DATA_PROBLEM_NO_LABEL, sample->name, NULL,
                         "%s has no label, so it cannot be trained on; give it one or "
                         "remove it", sample->name);
          usable = FALSE;
        }
      else if ((guint) sample->label >= n_classes)
        {
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, sample))
            add_problem (problems, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, sample->name, NULL,
                         "%s has the label %d, which names none of the %u classes; fix "
                         "its label", sample->name, sample->label, n_classes);
          usable = FALSE;
        }
      return usable;
    }

  for (guint b = 0; sample->boxes != NULL && b < sample->boxes->len; b++)
    {
      const GraftBox *box = &g_array_index (sample->boxes, GraftBox, b);
      float w = (float) sample->width, h = (float) sample->height;

      if (box->label >= n_classes)
        {
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, sample))
            add_problem (problems, GRAFT_DATA_PROBLEM_UNKNOWN_LABEL, sample->name, NULL,
                         "Box %u of %s has the class %u, which names none of the %u "
                         "classes; fix its label", b + 1, sample->name, box->label, n_classes);
          usable = FALSE;
        }
      if (!(box->width > 0.0f) || !(box->height > 0.0f) || !isfinite (box->x) ||
          !isfinite (box->y) || !isfinite (box->width) || !isfinite (box->height))
        {
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_BOX_EMPTY, sample))
            add_problem (problems, GRAFT_DATA_PROBLEM_BOX_EMPTY, sample->name, NULL,
                         "Box %u of %s (x %g, y %g, %g×%g) has no area; remove or fix it "
                         "in the labels", b + 1, sample->name, (double) box->x,
                         (double) box->y, (double) box->width, (double) box->height);
        }
      else if (box->x < -BOX_SLACK || box->y < -BOX_SLACK ||
               box->x + box->width > w + BOX_SLACK || box->y + box->height > h + BOX_SLACK)
        {
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, sample))
            add_problem (problems, GRAFT_DATA_PROBLEM_BOX_OUTSIDE, sample->name, NULL,
                         "Box %u of %s (x %g, y %g, %g×%g) leaves the %u×%u image; fix its "
                         "coordinates in the labels", b + 1, sample->name, (double) box->x,
                         (double) box->y, (double) box->width, (double) box->height,
                         sample->width, sample->height);
        }
    }
  return usable;
}

static guint
hash_digest (gconstpointer key)
{
  guint h;

  memcpy (&h, key, sizeof h);
  return h;
}

static gboolean
equal_digest (gconstpointer a,
              gconstpointer b)
{
  return memcmp (a, b, GRAFT_HEALTH_HASH_SIZE) == 0;
}

static void
find_duplicates (GraftDatasetHealth *self)
{
  g_autoptr(GHashTable) by_hash = g_hash_table_new (hash_digest, equal_digest);

  for (guint i = 0; i < self->n_samples; i++)
    {
      const guint8 *digest = self->hashes + (gsize) i * GRAFT_HEALTH_HASH_SIZE;
      GArray *group;

      if (!self->usable[i])
        continue;
      group = g_hash_table_lookup (by_hash, digest);
      if (group == NULL)
        {
          group = g_array_new (FALSE, FALSE, sizeof (guint));
          g_hash_table_insert (by_hash, (gpointer) digest, group);
          g_ptr_array_add (self->duplicates, group);
        }
      g_array_append_val (group, i);
    }

  /* Only the groups with copies stay, still in the order of their first sample. */
  for (guint g = self->duplicates->len; g > 0; g--)
    if (((GArray *) g_ptr_array_index (self->duplicates, g - 1))->len < 2)
      g_ptr_array_remove_index (self->duplicates, g - 1);
}

static const char *
split_purpose (GraftSplit split)
{
  return split == GRAFT_SPLIT_TEST ? "the test score" : "the validation score";
}

void
graft_dataset_health_update (GraftDatasetHealth *self,
                             GraftDataset       *dataset)
{
  Health *priv = (Health *) self;
  g_autofree guint *totals = NULL;
  g_autofree gboolean *seen = NULL;
  guint n_classes;

  g_return_if_fail (self != NULL && dataset != NULL);
  g_return_if_fail (dataset->samples->len == self->n_samples);
  g_return_if_fail (dataset->classes->len >= self->n_classes);

  n_classes = self->n_classes;
  memset (self->counts, 0, sizeof (guint) * n_classes * GRAFT_N_SPLITS);
  memset (self->unlabelled, 0, sizeof self->unlabelled);
  memset (self->per_split, 0, sizeof self->per_split);
  seen = g_new0 (gboolean, n_classes + 1);
  for (guint i = 0; i < self->n_samples; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      guint split = (guint) sample->split < GRAFT_N_SPLITS ? (guint) sample->split : 0;

      if (!self->usable[i])
        continue;
      self->per_split[split]++;
      if (dataset->task == GRAFT_TASK_DETECTION)
        {
          gboolean any = FALSE;

          memset (seen, 0, sizeof (gboolean) * (n_classes + 1));
          for (guint b = 0; sample->boxes != NULL && b < sample->boxes->len; b++)
            {
              guint label = g_array_index (sample->boxes, GraftBox, b).label;

              if (label < n_classes && !seen[label])
                {
                  seen[label] = TRUE;
                  self->counts[label * GRAFT_N_SPLITS + split]++;
                  any = TRUE;
                }
            }
          if (!any)
            self->unlabelled[split]++;
        }
      else if (sample->label >= 0 && (guint) sample->label < n_classes)
        self->counts[(guint) sample->label * GRAFT_N_SPLITS + split]++;
      else
        self->unlabelled[split]++;
    }

  self->imbalance = 0.0;
  self->largest_class = self->smallest_class = -1;
  totals = g_new0 (guint, n_classes + 1);
  for (guint c = 0; c < n_classes; c++)
    {
      totals[c] = graft_dataset_health_total (self, c);
      if (totals[c] == 0)
        continue;
      if (self->largest_class < 0 || totals[c] > totals[self->largest_class])
        self->largest_class = (int) c;
      if (self->smallest_class < 0 || totals[c] < totals[self->smallest_class])
        self->smallest_class = (int) c;
    }
  if (self->largest_class >= 0)
    self->imbalance = (double) totals[self->largest_class] / totals[self->smallest_class];

  /* Duplicates and leakage depend on the splits: found again each time. */
  g_ptr_array_set_size (self->problems, priv->n_base);
  for (guint g = 0; g < self->duplicates->len; g++)
    {
      GArray *group = g_ptr_array_index (self->duplicates, g);
      GraftSample *first = NULL;

      /* The copy in train, else the first: the others repeat it. */
      for (guint m = 0; m < group->len; m++)
        {
          GraftSample *sample = g_ptr_array_index (dataset->samples, g_array_index (group, guint, m));

          if (sample->split == GRAFT_SPLIT_TRAIN)
            {
              first = sample;
              break;
            }
        }
      if (first == NULL)
        first = g_ptr_array_index (dataset->samples, g_array_index (group, guint, 0));

      for (guint m = 0; m < group->len; m++)
        {
          GraftSample *sample = g_ptr_array_index (dataset->samples, g_array_index (group, guint, m));

          if (sample == first)
            continue;
          if (sample->split != GRAFT_SPLIT_NONE && first->split != GRAFT_SPLIT_NONE &&
              sample->split != first->split)
            add_problem (self->problems, GRAFT_DATA_PROBLEM_LEAKAGE, sample->name, first->name,
                         "%s (%s) has the same bytes as %s (%s): an image on both sides of "
                         "the split makes %s look better than it is; remove one of them",
                         sample->name, graft_split_to_string (sample->split), first->name,
                         graft_split_to_string (first->split),
                         split_purpose (MAX (sample->split, first->split)));
          else
            add_problem (self->problems, GRAFT_DATA_PROBLEM_DUPLICATE, sample->name, first->name,
                         "%s has the same bytes as %s; remove one of them unless the "
                         "repetition is meant", sample->name, first->name);
        }
    }
}

GraftDatasetHealth *
graft_dataset_check_health (GraftDataset              *dataset,
                            const GraftHealthOptions  *options,
                            GraftDatasetProgress       progress,
                            gpointer                   user_data,
                            GCancellable              *cancellable,
                            GError                   **error)
{
  GraftHealthOptions defaults;
  g_autoptr(GHashTable) seen = NULL;
  g_autofree char *memo_dir = NULL;
  Pool pool = { 0 };
  Health *priv;
  GraftDatasetHealth *self;
  guint n, n_threads, n_small = 0, first_small = 0;
  gboolean small_everywhere;

  g_return_val_if_fail (dataset != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    {
      graft_health_options_init (&defaults);
      options = &defaults;
    }

  n = dataset->samples->len;
  n_threads = options->n_threads > 0 ? options->n_threads
                                     : MIN ((guint) g_get_num_processors (), MAX_THREADS);
  n_threads = MAX (1u, MIN (n_threads, MAX (n, 1u)));

  pool.dataset = dataset;
  pool.results = g_new0 (FileResult, n + 1);
  pool.todo = g_new (guint, n + 1);
  pool.max_pixels = options->max_pixels;
  pool.cancellable = cancellable;
  if (options->remember)
    {
      memo_dir = options->memo_dir != NULL
                   ? g_strdup (options->memo_dir)
                   : g_build_filename (g_get_user_cache_dir (), "graft", "health", NULL);
      recall (&pool, memo_dir, dataset->root);
    }
  else
    for (guint i = 0; i < n; i++)
      pool.todo[pool.n_todo++] = i;
  pool.done = (gint) (n - pool.n_todo);
  n_threads = MAX (1u, MIN (n_threads, MAX (pool.n_todo, 1u)));
  read_all (&pool, n_threads, progress, user_data);
  g_free (pool.todo);

  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    {
      for (guint i = 0; i < n; i++)
        g_free (pool.results[i].reason);
      g_free (pool.results);
      return NULL;
    }
  if (memo_dir != NULL && pool.n_todo > 0)
    {
      g_autoptr(GError) memo_error = NULL;

      if (!_graft_health_memo_save (memo_dir, dataset->root, memo_limit (&pool), dataset,
                                    pool.results, &memo_error))
        g_debug ("The health check's memo is not saved: %s", memo_error->message);
    }

  priv = g_new0 (Health, 1);
  self = &priv->health;
  self->n_classes = dataset->classes->len;
  self->n_samples = n;
  self->min_side = options->min_side;
  self->counts = g_new0 (guint, (gsize) self->n_classes * GRAFT_N_SPLITS + 1);
  self->usable = g_new0 (gboolean, n + 1);
  self->hashes = g_new0 (guint8, (gsize) n * GRAFT_HEALTH_HASH_SIZE + 1);
  self->duplicates = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  self->problems = g_ptr_array_new_with_free_func (problem_free);

  for (guint i = 0; i < dataset->problems->len; i++)
    g_ptr_array_add (self->problems, problem_copy (g_ptr_array_index (dataset->problems, i)));

  /* When most images are small, that is the dataset's resolution rather than a few odd
   * files: one line says so instead of one per image. */
  {
    guint n_read = 0;

    for (guint i = 0; i < n; i++)
      if (pool.results[i].ok)
        {
          n_read++;
          if (MIN (pool.results[i].width, pool.results[i].height) < options->min_side)
            {
              if (n_small++ == 0)
                first_small = i;
            }
        }
    small_everywhere = n_small * 2 > n_read;
  }

  /* Merged in sample order, whatever order the readers finished in. */
  seen = reported_by_importer (dataset);
  for (guint i = 0; i < n; i++)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, i);
      FileResult *result = &pool.results[i];

      if (result->hashed)
        memcpy (self->hashes + (gsize) i * GRAFT_HEALTH_HASH_SIZE, result->hash,
                GRAFT_HEALTH_HASH_SIZE);
      if (result->ok)
        {
          sample->width = result->width;
          sample->height = result->height;
          self->usable[i] = check_sample (dataset, sample,
                                          small_everywhere ? 0 : options->min_side, seen,
                                          self->problems);
        }
      else
        {
          sample->width = sample->height = 0;
          if (!already_reported (seen, GRAFT_DATA_PROBLEM_UNREADABLE, sample) &&
              !already_reported (seen, GRAFT_DATA_PROBLEM_MISSING_FILE, sample))
            add_problem (self->problems, GRAFT_DATA_PROBLEM_UNREADABLE, sample->name, NULL,
                         "%s", result->reason);
          self->usable[i] = FALSE;
        }
      if (self->usable[i])
        self->n_usable++;
      else
        {
          sample->split = GRAFT_SPLIT_NONE;
          sample->usable = FALSE;
        }
      g_free (result->reason);
    }
  if (small_everywhere)
    {
      GraftSample *sample = g_ptr_array_index (dataset->samples, first_small);

      add_problem (self->problems, GRAFT_DATA_PROBLEM_SMALL_IMAGE, sample->name, NULL,
                   "%u of the %u images are less than %u pixels on their shorter side (%s "
                   "is %u×%u): the dataset's resolution is low, so choose an input size "
                   "near it rather than a model's native one", n_small, n, options->min_side,
                   sample->name, sample->width, sample->height);
    }
  g_free (pool.results);
  priv->n_base = self->problems->len;

  find_duplicates (self);
  graft_dataset_health_update (self, dataset);
  return self;
}

guint
graft_dataset_health_count (const GraftDatasetHealth *self,
                            guint                     label,
                            GraftSplit                split)
{
  g_return_val_if_fail (self != NULL, 0);
  g_return_val_if_fail ((guint) split < GRAFT_N_SPLITS, 0);

  if (label >= self->n_classes)
    return 0;
  return self->counts[label * GRAFT_N_SPLITS + (guint) split];
}

guint
graft_dataset_health_total (const GraftDatasetHealth *self,
                            guint                     label)
{
  guint total = 0;

  g_return_val_if_fail (self != NULL, 0);

  if (label >= self->n_classes)
    return 0;
  for (guint s = 0; s < GRAFT_N_SPLITS; s++)
    total += self->counts[label * GRAFT_N_SPLITS + s];
  return total;
}

guint
graft_dataset_health_count_problems (const GraftDatasetHealth *self,
                                     GraftDataProblemKind      kind)
{
  guint count = 0;

  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < self->problems->len; i++)
    if (((const GraftDataProblem *) g_ptr_array_index (self->problems, i))->kind == kind)
      count++;
  return count;
}

void
graft_dataset_health_free (GraftDatasetHealth *self)
{
  if (self == NULL)
    return;
  g_free (self->counts);
  g_free (self->usable);
  g_free (self->hashes);
  g_ptr_array_unref (self->duplicates);
  g_ptr_array_unref (self->problems);
  g_free ((Health *) self);
}
