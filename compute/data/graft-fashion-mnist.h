/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* Fashion-MNIST (Zalando Research): 28×28 grey images of ten kinds of clothing, 60000 for
 * training and 10000 for testing, as Debian's package dataset-fashion-mnist installs them:
 * gzip'd IDX files in /usr/share/datasets/fashion-mnist. A split is read whole into memory
 * after every header field has been checked against the data that follows it. */

#include <gio/gio.h>

G_BEGIN_DECLS

#define GRAFT_FASHION_MNIST_N_CLASSES 10
/* Where Debian installs the dataset; $GRAFT_FASHION_MNIST_DIR points elsewhere. */
#define GRAFT_FASHION_MNIST_SYSTEM_DIR "/usr/share/datasets/fashion-mnist"
/* The most images a split may claim before anything is allocated for it. */
#define GRAFT_FASHION_MNIST_MAX_COUNT 1000000
/* The largest side an image may claim. */
#define GRAFT_FASHION_MNIST_MAX_SIDE 1024

typedef enum {
  GRAFT_FASHION_MNIST_TRAIN,  /* train-{images-idx3,labels-idx1}-ubyte.gz: 60000 images */
  GRAFT_FASHION_MNIST_TEST,   /* t10k-{images-idx3,labels-idx1}-ubyte.gz: 10000 images */
} GraftFashionMnistSplit;

/* One split in memory. Image i is the rows × cols bytes at pixels + i × rows × cols, row
 * by row, 0 the background and 255 the brightest ink; labels[i] < 10 is its class. */
typedef struct {
  GraftFashionMnistSplit  split;
  guint                   count;
  guint                   rows;
  guint                   cols;
  guint8                 *pixels;
  guint8                 *labels;
} GraftFashionMnist;

/* "train" or "test". */
const char *graft_fashion_mnist_split_to_string (GraftFashionMnistSplit split);

/* The English name of class @label ("T-shirt/top", …, "Ankle boot"), or NULL past 9. */
const char *graft_fashion_mnist_class_name      (guint                  label);

/* The folder read when none is given: $GRAFT_FASHION_MNIST_DIR if set, else
 * GRAFT_FASHION_MNIST_SYSTEM_DIR. */
const char *graft_fashion_mnist_default_dir     (void);

/* The path of one of a split's two files in @dir (NULL: the default folder). */
char       *graft_fashion_mnist_get_path        (const char             *dir,
                                                 GraftFashionMnistSplit  split,
                                                 gboolean                labels);

/* Reads @split from @dir (NULL: the default folder). The files may also be stored
 * uncompressed (without “.gz”). Errors are GRAFT_DATA_ERROR (NOT_FOUND, READ, CORRUPT) and
 * name the file at fault, or G_IO_ERROR_CANCELLED. */
GraftFashionMnist *graft_fashion_mnist_load     (const char             *dir,
                                                 GraftFashionMnistSplit  split,
                                                 GCancellable           *cancellable,
                                                 GError                **error);
void               graft_fashion_mnist_free     (GraftFashionMnist      *self);

/* The pixels of image @index. */
const guint8      *graft_fashion_mnist_get_image (const GraftFashionMnist *self,
                                                  guint                    index);

/* The indices, in ascending order, of the images whose label is one of @classes (each
 * < 10; @n_classes of them). The array holds guint and is the caller's. */
GArray            *graft_fashion_mnist_select   (const GraftFashionMnist *self,
                                                 const guint             *classes,
                                                 guint                    n_classes);

/* How many images of each class @self holds. */
void               graft_fashion_mnist_count_classes (const GraftFashionMnist *self,
                                                      guint                    counts[GRAFT_FASHION_MNIST_N_CLASSES]);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftFashionMnist, graft_fashion_mnist_free)

G_END_DECLS
