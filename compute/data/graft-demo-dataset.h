/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* The target domain of Graft's demo task: the five Fashion-MNIST classes a model trained on
 * the other five has never seen (Sandal, Shirt, Sneaker, Bag, Ankle boot), written as the
 * PNG class folders any image dataset on disk looks like:
 *
 *   DIR/train/Sandal/train-012345.png   PER_CLASS images per class, a seeded draw from the
 *   …                                   official training split
 *   DIR/test/Sandal/test-01234.png      every official test image of the class (1000)
 *   DIR/graft-demo-dataset.ini          how the folder was made (source, seed, counts)
 *
 * Each file is named after its index in the official split. */

#include <gio/gio.h>

G_BEGIN_DECLS

#define GRAFT_DEMO_DATASET_N_CLASSES 5
/* The Fashion-MNIST label of the first demo class; the others follow it. */
#define GRAFT_DEMO_DATASET_FIRST_LABEL 5
#define GRAFT_DEMO_DATASET_DEFAULT_PER_CLASS 20
#define GRAFT_DEMO_DATASET_DEFAULT_SEED 0
/* The file that marks a folder as a demo dataset this module may replace. */
#define GRAFT_DEMO_DATASET_MARKER "graft-demo-dataset.ini"

/* Called after each image written, with the images done and the images in all. */
typedef void (*GraftDemoDatasetProgress) (guint    done,
                                          guint    total,
                                          gpointer user_data);

/* The folder name of demo class @index (0 to 4): "Sandal", …, "Ankle boot"; NULL past 4. */
const char *graft_demo_dataset_class_name (guint index);

/* Writes the demo dataset into @dir, reading Fashion-MNIST from
 * graft_fashion_mnist_default_dir(). @dir may be missing or empty, or hold a demo dataset
 * written before, which is replaced as a whole: the new one is built in a hidden folder
 * inside @dir and moved in only once complete, so no file of the old one stays. Any other
 * folder that is not empty is refused (GRAFT_DATA_ERROR_NOT_EMPTY). The same @seed draws
 * the same training images, and the images @per_class draws include those of any smaller
 * @per_class. More @per_class than a class has is GRAFT_DATA_ERROR_TOO_MANY (the official
 * split has 6000 of each). @progress (may be NULL) is called on the calling thread. */
gboolean graft_demo_dataset_write (const char                *dir,
                                   guint                      per_class,
                                   guint64                    seed,
                                   GraftDemoDatasetProgress   progress,
                                   gpointer                   user_data,
                                   GCancellable              *cancellable,
                                   GError                   **error);

/* The PNG files in each class folder of a demo dataset in @dir. */
typedef struct {
  guint train[GRAFT_DEMO_DATASET_N_CLASSES];
  guint test[GRAFT_DEMO_DATASET_N_CLASSES];
} GraftDemoDatasetCounts;

/* Counts the images of the demo dataset in @dir. A folder without the marker file or
 * without one of the ten class folders is GRAFT_DATA_ERROR_NOT_FOUND. */
gboolean graft_demo_dataset_count (const char              *dir,
                                   GraftDemoDatasetCounts  *counts,
                                   GError                 **error);

G_END_DECLS
