/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-data"

#include <errno.h>
#include <string.h>
#include <zlib.h>

#include "graft-data-error.h"
#include "graft-fashion-mnist.h"

#define IDX_MAGIC_IMAGES 0x00000803u  /* unsigned bytes, three dimensions */
#define IDX_MAGIC_LABELS 0x00000801u  /* unsigned bytes, one dimension */
/* The most bytes a split's images may claim, whatever their count and size. */
#define MAX_PIXEL_BYTES (G_GUINT64_CONSTANT (1) << 30)
/* Data is decompressed and copied this much at a time, with a look at the cancellable. */
#define CHUNK (1u << 20)

static const char * const class_names[GRAFT_FASHION_MNIST_N_CLASSES] = {
  "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

const char *
graft_fashion_mnist_split_to_string (GraftFashionMnistSplit split)
{
  return split == GRAFT_FASHION_MNIST_TRAIN ? "train" : "test";
}

const char *
graft_fashion_mnist_class_name (guint label)
{
  return label < GRAFT_FASHION_MNIST_N_CLASSES ? class_names[label] : NULL;
}

const char *
graft_fashion_mnist_default_dir (void)
{
  const char *dir = g_getenv ("GRAFT_FASHION_MNIST_DIR");

  return dir != NULL && *dir != '\0' ? dir : GRAFT_FASHION_MNIST_SYSTEM_DIR;
}

char *
graft_fashion_mnist_get_path (const char             *dir,
                              GraftFashionMnistSplit  split,
                              gboolean                labels)
{
  const char *prefix = split == GRAFT_FASHION_MNIST_TRAIN ? "train" : "t10k";
  g_autofree char *name = g_strdup_printf ("%s-%s-ubyte.gz", prefix,
                                           labels ? "labels-idx1" : "images-idx3");

  return g_build_filename (dir != NULL ? dir : graft_fashion_mnist_default_dir (), name, NULL);
}

/* ---- IDX files ---------------------------------------------------------------------- */

/* What to do about a damaged file: the package's files come back with the package. */
static const char *
remedy (const char *path)
{
  return g_str_has_prefix (path, GRAFT_FASHION_MNIST_SYSTEM_DIR "/")
           ? "reinstall the package dataset-fashion-mnist"
           : "download it again or install the package dataset-fashion-mnist";
}

typedef struct {
  char   *path;  /* the file actually read: the .gz one, or the one without .gz */
  gzFile  gz;
} IdxFile;

static void
idx_file_close (IdxFile *file)
{
  if (file->gz != NULL)
    gzclose_r (file->gz);
  file->gz = NULL;
  g_clear_pointer (&file->path, g_free);
}

/* Opens @gz_path or, if only that exists, the same name without “.gz”. zlib reads a file
 * that is not gzip'd as it is. */
static gboolean
idx_file_open (IdxFile     *file,
               const char  *gz_path,
               GError     **error)
{
  int saved_errno;

  file->path = g_strdup (gz_path);
  if (!g_file_test (file->path, G_FILE_TEST_EXISTS))
    {
      g_autofree char *plain = g_strndup (gz_path, strlen (gz_path) - strlen (".gz"));

      if (!g_file_test (plain, G_FILE_TEST_EXISTS))
        {
          g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                       "%s is missing; reinstall the package dataset-fashion-mnist, or set "
                       "GRAFT_FASHION_MNIST_DIR to a folder that holds all four "
                       "Fashion-MNIST files", gz_path);
          return FALSE;
        }
      g_free (file->path);
      file->path = g_steal_pointer (&plain);
    }

  errno = 0;
  file->gz = gzopen (file->path, "rb");
  if (file->gz == NULL)
    {
      saved_errno = errno;
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Could not open %s: %s", file->path,
                   saved_errno != 0 ? g_strerror (saved_errno) : "out of memory");
      return FALSE;
    }
  gzbuffer (file->gz, 128 * 1024);
  return TRUE;
}

/* Why the last read of @file stopped short, as an error naming it. */
static void
idx_file_set_read_error (IdxFile     *file,
                         const char  *expected,
                         GError     **error)
{
  int zerr = Z_OK;
  const char *message = gzerror (file->gz, &zerr);

  if (zerr == Z_ERRNO)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                 "Could not read %s: %s", file->path, g_strerror (errno));
  else if (zerr == Z_OK || zerr == Z_BUF_ERROR)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 "%s is truncated: it ends before %s; the file is incomplete, %s",
                 file->path, expected, remedy (file->path));
  else
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 "%s is damaged (%s) before %s; %s",
                 file->path, message, expected, remedy (file->path));
}

/* Reads exactly @len bytes, or fails naming what @expected would have been. */
static gboolean
idx_file_read (IdxFile       *file,
               guint8        *buffer,
               gsize          len,
               const char    *expected,
               GCancellable  *cancellable,
               GError       **error)
{
  while (len > 0)
    {
      unsigned chunk = (unsigned) MIN (len, CHUNK);
      int got;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      got = gzread (file->gz, buffer, chunk);
      if (got <= 0 || (unsigned) got < chunk)
        {
          idx_file_set_read_error (file, expected, error);
          return FALSE;
        }
      buffer += got;
      len -= (gsize) got;
    }
  return TRUE;
}

/* After the data its header declares, a file must end (and its gzip check must hold). */
static gboolean
idx_file_check_end (IdxFile     *file,
                    const char  *declared,
                    GError     **error)
{
  guint8 extra;
  int got = gzread (file->gz, &extra, 1);

  if (got == 0 && gzeof (file->gz))
    return TRUE;
  if (got > 0)
    g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                 "%s holds more data than its header declares (%s); the file is damaged, %s",
                 file->path, declared, remedy (file->path));
  else
    idx_file_set_read_error (file, "its end", error);
  return FALSE;
}

static gboolean
idx_file_read_header (IdxFile       *file,
                      guint32        magic,
                      guint32       *dims,
                      guint          n_dims,
                      GCancellable  *cancellable,
                      GError       **error)
{
  guint8 header[16];
  guint32 found;

  g_assert (n_dims <= 3);
  if (!idx_file_read (file, header, 4 + 4 * (gsize) n_dims, "the end of its header",
                      cancellable, error))
    return FALSE;

  memcpy (&found, header, 4);
  found = GUINT32_FROM_BE (found);
  if (found != magic)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s is not an IDX file of %s: it starts with 0x%08x, not 0x%08x; %s",
                   file->path, magic == IDX_MAGIC_IMAGES ? "images" : "labels", found, magic,
                   remedy (file->path));
      return FALSE;
    }
  for (guint i = 0; i < n_dims; i++)
    {
      memcpy (&dims[i], header + 4 + 4 * i, 4);
      dims[i] = GUINT32_FROM_BE (dims[i]);
    }
  return TRUE;
}

/* ---- a split ------------------------------------------------------------------------ */

static gboolean
load_images (GraftFashionMnist  *self,
             IdxFile            *file,
             GCancellable       *cancellable,
             GError            **error)
{
  g_autofree char *declared = NULL;
  guint32 dims[3];
  guint64 bytes;

  if (!idx_file_read_header (file, IDX_MAGIC_IMAGES, dims, 3, cancellable, error))
    return FALSE;
  if (dims[0] == 0 || dims[0] > GRAFT_FASHION_MNIST_MAX_COUNT ||
      dims[1] == 0 || dims[1] > GRAFT_FASHION_MNIST_MAX_SIDE ||
      dims[2] == 0 || dims[2] > GRAFT_FASHION_MNIST_MAX_SIDE ||
      (guint64) dims[0] * dims[1] * dims[2] > MAX_PIXEL_BYTES)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s claims %u images of %u×%u pixels; Graft reads 1 to %u images of at "
                   "most %u×%u pixels. The file is damaged or not Fashion-MNIST",
                   file->path, dims[0], dims[1], dims[2], GRAFT_FASHION_MNIST_MAX_COUNT,
                   GRAFT_FASHION_MNIST_MAX_SIDE, GRAFT_FASHION_MNIST_MAX_SIDE);
      return FALSE;
    }

  self->count = dims[0];
  self->rows = dims[1];
  self->cols = dims[2];
  bytes = (guint64) dims[0] * dims[1] * dims[2];
  self->pixels = g_try_malloc (bytes);
  if (self->pixels == NULL)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_READ,
                   "Not enough memory for the %" G_GUINT64_FORMAT " bytes of images in %s",
                   bytes, file->path);
      return FALSE;
    }

  declared = g_strdup_printf ("%u images of %u×%u pixels", dims[0], dims[1], dims[2]);
  return idx_file_read (file, self->pixels, bytes, declared, cancellable, error) &&
         idx_file_check_end (file, declared, error);
}

static gboolean
load_labels (GraftFashionMnist  *self,
             IdxFile            *file,
             const char         *images_path,
             GCancellable       *cancellable,
             GError            **error)
{
  g_autofree char *declared = NULL;
  guint32 count;

  if (!idx_file_read_header (file, IDX_MAGIC_LABELS, &count, 1, cancellable, error))
    return FALSE;
  if (count != self->count)
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                   "%s holds %u labels but %s holds %u images; both files must come from "
                   "the same split of the same dataset",
                   file->path, count, images_path, self->count);
      return FALSE;
    }

  self->labels = g_malloc (count);
  declared = g_strdup_printf ("%u labels", count);
  if (!idx_file_read (file, self->labels, count, declared, cancellable, error) ||
      !idx_file_check_end (file, declared, error))
    return FALSE;

  for (guint i = 0; i < count; i++)
    if (self->labels[i] >= GRAFT_FASHION_MNIST_N_CLASSES)
      {
        g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_CORRUPT,
                     "%s: the label of image %u is %u, not a class from 0 to %u; the file "
                     "is damaged or not Fashion-MNIST",
                     file->path, i, self->labels[i], GRAFT_FASHION_MNIST_N_CLASSES - 1);
        return FALSE;
      }
  return TRUE;
}

GraftFashionMnist *
graft_fashion_mnist_load (const char              *dir,
                          GraftFashionMnistSplit   split,
                          GCancellable            *cancellable,
                          GError                 **error)
{
  g_autoptr(GraftFashionMnist) self = NULL;
  g_autofree char *images_path = NULL;
  g_autofree char *labels_path = NULL;
  IdxFile images = { 0 }, labels = { 0 };
  gboolean ok;

  g_return_val_if_fail (split == GRAFT_FASHION_MNIST_TRAIN || split == GRAFT_FASHION_MNIST_TEST, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (dir == NULL)
    dir = graft_fashion_mnist_default_dir ();
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, GRAFT_DATA_ERROR, GRAFT_DATA_ERROR_NOT_FOUND,
                   "The Fashion-MNIST folder %s does not exist; install the package "
                   "dataset-fashion-mnist (apt install dataset-fashion-mnist), or set "
                   "GRAFT_FASHION_MNIST_DIR to a folder that holds its four files", dir);
      return NULL;
    }

  self = g_new0 (GraftFashionMnist, 1);
  self->split = split;
  images_path = graft_fashion_mnist_get_path (dir, split, FALSE);
  labels_path = graft_fashion_mnist_get_path (dir, split, TRUE);

  ok = idx_file_open (&images, images_path, error) &&
       load_images (self, &images, cancellable, error) &&
       idx_file_open (&labels, labels_path, error) &&
       load_labels (self, &labels, images.path, cancellable, error);
  idx_file_close (&images);
  idx_file_close (&labels);
  return ok ? g_steal_pointer (&self) : NULL;
}

void
graft_fashion_mnist_free (GraftFashionMnist *self)
{
  if (self == NULL)
    return;
  g_free (self->pixels);
  g_free (self->labels);
  g_free (self);
}

const guint8 *
graft_fashion_mnist_get_image (const GraftFashionMnist *self,
                               guint                    index)
{
  g_return_val_if_fail (self != NULL && index < self->count, NULL);

  return self->pixels + (gsize) index * self->rows * self->cols;
}

GArray *
graft_fashion_mnist_select (const GraftFashionMnist *self,
                            const guint             *classes,
                            guint                    n_classes)
{
  gboolean wanted[GRAFT_FASHION_MNIST_N_CLASSES] = { FALSE };
  GArray *indices;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (classes != NULL || n_classes == 0, NULL);

  for (guint i = 0; i < n_classes; i++)
    {
      g_return_val_if_fail (classes[i] < GRAFT_FASHION_MNIST_N_CLASSES, NULL);
      wanted[classes[i]] = TRUE;
    }

  indices = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < self->count; i++)
    if (wanted[self->labels[i]])
      g_array_append_val (indices, i);
  return indices;
}

void
graft_fashion_mnist_count_classes (const GraftFashionMnist *self,
                                   guint                    counts[GRAFT_FASHION_MNIST_N_CLASSES])
{
  g_return_if_fail (self != NULL && counts != NULL);

  memset (counts, 0, GRAFT_FASHION_MNIST_N_CLASSES * sizeof (guint));
  for (guint i = 0; i < self->count; i++)
    counts[self->labels[i]]++;
}
