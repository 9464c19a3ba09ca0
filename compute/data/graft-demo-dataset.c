/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <errno.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "graft-data-error.h"
#include "io/graft-file-util.h"
#include "graft-demo-dataset.h"
#include "graft-fashion-mnist.h"
#include "graft-image-write.h"

/* Hidden folders inside the target: the dataset being built, and the one it replaces. */
#define TEMP_PREFIX ".graft-demo-"
#define SPLIT_TRAIN "train"
#define SPLIT_TEST "test"

const char *
graft_demo_dataset_class_name (guint index)
{
  if (index >= GRAFT_DEMO_DATASET_N_CLASSES)
    return NULL;
  return graft_fashion_mnist_class_name (GRAFT_DEMO_DATASET_FIRST_LABEL + index);
}

/* "WHAT PATH: the system's reason; what to check". */
static void
set_write_error (GError     **error,
                 int          saved_errno,
                 const char  *what,
                 const char  *path)
{
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
               "%s %s: %s; check that the folder is writable and that the disk has room",
               what, path, g_strerror (saved_errno));
}

/* Checks that @dir is missing, empty, or holds a demo dataset (the marker file) or the
 * remains of an interrupted run, which @clean removes. */
static gboolean
check_target (const char  *dir,
              gboolean     clean,
              GError     **error)
{
  g_autoptr(GDir) folder = NULL;
  g_autoptr(GPtrArray) leftovers = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local_error = NULL;
  g_autofree char *foreign = NULL;
  gboolean has_marker = FALSE;
  const char *name;

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    return TRUE;
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY,
                   "%s is a file, not a folder; choose a new or empty folder", dir);
      return FALSE;
    }
  folder = g_dir_open (dir, 0, &local_error);
  if (folder == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "Could not open the folder %s: %s", dir, local_error->message);
      return FALSE;
    }

  while ((name = g_dir_read_name (folder)) != NULL)
    {
      if (g_str_equal (name, GRAFT_DEMO_DATASET_MARKER))
        has_marker = TRUE;
      else if (g_str_has_prefix (name, TEMP_PREFIX))
        g_ptr_array_add (leftovers, g_build_filename (dir, name, NULL));
      else if (foreign == NULL)
        foreign = g_strdup (name);
    }

  if (!has_marker && foreign != NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_EMPTY,
                   "%s is not empty (it holds “%s”) and holds no demo dataset (no %s), so "
                   "Graft leaves it alone; choose a new or empty folder",
                   dir, foreign, GRAFT_DEMO_DATASET_MARKER);
      return FALSE;
    }

  for (guint i = 0; clean && i < leftovers->len; i++)
    graft_remove_tree (g_ptr_array_index (leftovers, i));
  return TRUE;
}

/* Creates @dir if needed, checks it again and clears what an interrupted run left. */
static gboolean
prepare_target (const char  *dir,
                GError     **error)
{
  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      set_write_error (error, errno, "Could not create the folder", dir);
      return FALSE;
    }
  return check_target (dir, TRUE, error);
}

/* The largest training draw every demo class allows, and the class that limits it. */
static guint
max_per_class (const GraftFashionMnist *train,
               guint                   *limiting_label)
{
  guint counts[GRAFT_FASHION_MNIST_N_CLASSES];
  guint max = G_MAXUINT;

  graft_fashion_mnist_count_classes (train, counts);
  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      guint label = GRAFT_DEMO_DATASET_FIRST_LABEL + c;

      if (counts[label] < max)
        {
          max = counts[label];
          *limiting_label = label;
        }
    }
  return max;
}

/* The training images of @label to write: the first @per_class of a Fisher–Yates shuffle
 * of the class's indices, from a generator seeded with @seed and the label, so that each
 * class's draw depends on nothing else and a larger @per_class extends a smaller one. */
static GArray *
draw_training_images (const GraftFashionMnist *train,
                      guint                    label,
                      guint                    per_class,
                      guint64                  seed)
{
  const guint32 seeds[] = { (guint32) seed, (guint32) (seed >> 32), label };
  g_autoptr(GRand) rand = g_rand_new_with_seed_array (seeds, G_N_ELEMENTS (seeds));
  GArray *indices = graft_fashion_mnist_select (train, &label, 1);
  guint *v = (guint *) (void *) indices->data;

  g_assert (per_class <= indices->len);
  for (guint i = 0; i < per_class; i++)
    {
      guint j = (guint) g_rand_int_range (rand, (gint32) i, (gint32) indices->len);
      guint t = v[i];

      v[i] = v[j];
      v[j] = t;
    }
  g_array_set_size (indices, per_class);
  return indices;
}

typedef struct {
  GraftDemoDatasetProgress  progress;
  gpointer                  user_data;
  GCancellable             *cancellable;
  guint                     done;
  guint                     total;
} Writing;

/* Writes images @indices of @source into @folder as PREFIX-NNNNNN.png. */
static gboolean
write_images (Writing                 *writing,
              const GraftFashionMnist *source,
              const GArray            *indices,
              const char              *folder,
              const char              *prefix,
              int                      digits,
              GError                 **error)
{
  if (g_mkdir_with_parents (folder, 0755) != 0)
    {
      set_write_error (error, errno, "Could not create the folder", folder);
      return FALSE;
    }

  for (guint i = 0; i < indices->len; i++)
    {
      guint index = g_array_index (indices, guint, i);
      g_autofree char *name = g_strdup_printf ("%s-%0*u.png", prefix, digits, index);
      g_autofree char *path = g_build_filename (folder, name, NULL);

      if (g_cancellable_set_error_if_cancelled (writing->cancellable, error))
        return FALSE;
      if (!graft_image_write_png (path, source->cols, source->rows, 1, source->cols,
                                  graft_fashion_mnist_get_image (source, index), error))
        return FALSE;
      writing->done++;
      if (writing->progress != NULL)
        writing->progress (writing->done, writing->total, writing->user_data);
    }
  return TRUE;
}

static gboolean
write_marker (const char              *dir,
              guint                    per_class,
              guint64                  seed,
              guint                    n_train,
              guint                    n_test,
              GError                 **error)
{
  g_autoptr(GKeyFile) keys = g_key_file_new ();
  g_autoptr(GError) local_error = NULL;
  g_autofree char *path = g_build_filename (dir, GRAFT_DEMO_DATASET_MARKER, NULL);
  g_autofree char *data = NULL;
  const char *names[GRAFT_DEMO_DATASET_N_CLASSES];
  int labels[GRAFT_DEMO_DATASET_N_CLASSES];
  const char *group = "Demo dataset";
  gsize len;

  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      names[c] = graft_demo_dataset_class_name (c);
      labels[c] = (int) (GRAFT_DEMO_DATASET_FIRST_LABEL + c);
    }
  g_key_file_set_comment (keys, NULL, NULL,
                          " Fashion-MNIST classes 5–9 as PNG class folders, written by Graft.\n"
                          " Each image is named after its index in the official split. Writing\n"
                          " the demo dataset again into this folder replaces train/ and test/.",
                          NULL);
  g_key_file_set_string (keys, group, "Source", graft_fashion_mnist_default_dir ());
  g_key_file_set_string_list (keys, group, "Classes", names, GRAFT_DEMO_DATASET_N_CLASSES);
  g_key_file_set_integer_list (keys, group, "Labels", labels, GRAFT_DEMO_DATASET_N_CLASSES);
  g_key_file_set_uint64 (keys, group, "PerClass", per_class);
  g_key_file_set_uint64 (keys, group, "Seed", seed);
  g_key_file_set_uint64 (keys, group, "TrainImages", n_train);
  g_key_file_set_uint64 (keys, group, "TestImages", n_test);
  data = g_key_file_to_data (keys, &len, NULL);

  if (!g_file_set_contents_full (path, data, (gssize) len, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0644, &local_error))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
                   "Could not write %s: %s", path, local_error->message);
      return FALSE;
    }
  return TRUE;
}

/* Moves @name from @from to @to, if @from has it. */
static gboolean
move_entry (const char  *from,
            const char  *to,
            const char  *name,
            GError     **error)
{
  g_autofree char *source = g_build_filename (from, name, NULL);
  g_autofree char *target = g_build_filename (to, name, NULL);

  int saved_errno;

  if (g_rename (source, target) == 0)
    return TRUE;
  saved_errno = errno;
  if (saved_errno == ENOENT)
    return TRUE;
  g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_WRITE,
               "Could not move %s to %s: %s", source, target, g_strerror (saved_errno));
  return FALSE;
}

/* Replaces DIR/train and DIR/test by those of @built. */
static gboolean
swap_in (const char  *dir,
         const char  *built,
         GError     **error)
{
  g_autofree char *old = g_build_filename (dir, TEMP_PREFIX "old-XXXXXX", NULL);
  const struct { const char *from, *to, *name; } moves[] = {
    { dir, old, SPLIT_TRAIN },
    { dir, old, SPLIT_TEST },
    { built, dir, SPLIT_TRAIN },
    { built, dir, SPLIT_TEST },
  };
  guint done = 0;
  gboolean ok;

  if (g_mkdtemp (old) == NULL)
    {
      set_write_error (error, errno, "Could not create a folder in", dir);
      return FALSE;
    }

  while (done < G_N_ELEMENTS (moves) &&
         move_entry (moves[done].from, moves[done].to, moves[done].name, error))
    done++;

  /* If a move failed, the ones before it are undone: the previous dataset goes back. */
  ok = done == G_N_ELEMENTS (moves);
  while (!ok && done-- > 0)
    move_entry (moves[done].to, moves[done].from, moves[done].name, NULL);
  graft_remove_tree (old);
  return ok;
}

gboolean
graft_demo_dataset_write (const char                *dir,
                          guint                      per_class,
                          guint64                    seed,
                          GraftDemoDatasetProgress   progress,
                          gpointer                   user_data,
                          GCancellable              *cancellable,
                          GError                   **error)
{
  g_autoptr(GraftFashionMnist) train = NULL;
  g_autoptr(GraftFashionMnist) test = NULL;
  g_autoptr(GPtrArray) test_indices = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  g_autofree char *built = NULL;
  Writing writing = { progress, user_data, cancellable, 0, 0 };
  guint limiting_label = 0, max, n_test = 0;
  gboolean ok = TRUE;

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (per_class > 0, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* A folder that will be refused is refused before the dataset is read. */
  if (!check_target (dir, FALSE, error))
    return FALSE;

  train = graft_fashion_mnist_load (NULL, GRAFT_FASHION_MNIST_TRAIN, cancellable, error);
  if (train == NULL)
    return FALSE;
  max = max_per_class (train, &limiting_label);
  if (per_class > max)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_TOO_MANY,
                   "Cannot draw %u training images per class: the training split in %s has "
                   "%u images of “%s”; the maximum is %u",
                   per_class, graft_fashion_mnist_default_dir (), max,
                   graft_fashion_mnist_class_name (limiting_label), max);
      return FALSE;
    }
  test = graft_fashion_mnist_load (NULL, GRAFT_FASHION_MNIST_TEST, cancellable, error);
  if (test == NULL)
    return FALSE;

  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      guint label = GRAFT_DEMO_DATASET_FIRST_LABEL + c;
      GArray *indices = graft_fashion_mnist_select (test, &label, 1);

      g_ptr_array_add (test_indices, indices);
      n_test += indices->len;
    }
  writing.total = GRAFT_DEMO_DATASET_N_CLASSES * per_class + n_test;

  if (!prepare_target (dir, error))
    return FALSE;

  built = g_build_filename (dir, TEMP_PREFIX "new-XXXXXX", NULL);
  if (g_mkdtemp (built) == NULL)
    {
      set_write_error (error, errno, "Could not create a folder in", dir);
      return FALSE;
    }

  for (guint c = 0; ok && c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      g_autoptr(GArray) drawn = draw_training_images (train, GRAFT_DEMO_DATASET_FIRST_LABEL + c,
                                                      per_class, seed);
      g_autofree char *folder = g_build_filename (built, SPLIT_TRAIN,
                                                  graft_demo_dataset_class_name (c), NULL);

      ok = write_images (&writing, train, drawn, folder, "train", 6, error);
    }
  for (guint c = 0; ok && c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      g_autofree char *folder = g_build_filename (built, SPLIT_TEST,
                                                  graft_demo_dataset_class_name (c), NULL);

      ok = write_images (&writing, test, g_ptr_array_index (test_indices, c), folder, "test", 5,
                         error);
    }

  /* The marker goes in first, so that an interruption of the swap leaves a folder the
   * next run recognises as its own. */
  ok = ok &&
       write_marker (dir, per_class, seed, GRAFT_DEMO_DATASET_N_CLASSES * per_class, n_test, error) &&
       swap_in (dir, built, error);
  graft_remove_tree (built);
  return ok;
}

static gboolean
count_pngs (const char  *folder,
            guint       *count,
            GError     **error)
{
  g_autoptr(GDir) dir = g_dir_open (folder, 0, NULL);
  const char *name;

  *count = 0;
  if (dir == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "The class folder %s is missing; write the demo dataset again", folder);
      return FALSE;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (name, ".png"))
      (*count)++;
  return TRUE;
}

gboolean
graft_demo_dataset_count (const char              *dir,
                          GraftDemoDatasetCounts  *counts,
                          GError                 **error)
{
  g_autofree char *marker = NULL;

  g_return_val_if_fail (dir != NULL && counts != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  marker = g_build_filename (dir, GRAFT_DEMO_DATASET_MARKER, NULL);
  if (!g_file_test (marker, G_FILE_TEST_IS_REGULAR))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "%s holds no demo dataset (no %s); “graft-cli demo-dataset %s” writes one",
                   dir, GRAFT_DEMO_DATASET_MARKER, dir);
      return FALSE;
    }

  for (guint c = 0; c < GRAFT_DEMO_DATASET_N_CLASSES; c++)
    {
      const char *name = graft_demo_dataset_class_name (c);
      g_autofree char *train = g_build_filename (dir, SPLIT_TRAIN, name, NULL);
      g_autofree char *test = g_build_filename (dir, SPLIT_TEST, name, NULL);

      if (!count_pngs (train, &counts->train[c], error) ||
          !count_pngs (test, &counts->test[c], error))
        return FALSE;
    }
  return TRUE;
}
