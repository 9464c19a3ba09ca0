/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "io/graft-safetensors.h"

G_BEGIN_DECLS

/* A state dict in host memory: named float32 tensors in order. Pre-trained weights pass
 * through it on their way into a model — read from a file, their names mapped (timm to
 * torchvision), adapted (a new head, other input channels, another image size) — so
 * that each step can be checked and reported before a model is touched. */

typedef struct {
  char  *name;
  guint  rank;
  gsize  shape[GRAFT_TENSOR_MAX_RANK];
  gsize  n_elements;
  float *data;
} GraftWeightsEntry;

typedef struct _GraftWeights GraftWeights;

GraftWeights            *graft_weights_new        (void);
void                     graft_weights_free       (GraftWeights        *self);
/* Every tensor of @file as float32 (integer tensors such as batch norm's
 * num_batches_tracked included) and its metadata. */
GraftWeights            *graft_weights_read       (GraftSafetensors    *file,
                                                   GError             **error);
GraftWeights            *graft_weights_read_file  (const char          *path,
                                                   GError             **error);
/* Writes float32 tensors, or float16 with @half (values outside its range are an error
 * naming the tensor), with the metadata, atomically. */
gboolean                 graft_weights_save       (GraftWeights        *self,
                                                   const char          *path,
                                                   gboolean             half,
                                                   GError             **error);

guint                    graft_weights_get_n      (GraftWeights        *self);
/* Entries in order; the pointer stays valid until the entry is replaced or removed. */
GraftWeightsEntry       *graft_weights_get        (GraftWeights        *self,
                                                   guint                index);
GraftWeightsEntry       *graft_weights_lookup     (GraftWeights        *self,
                                                   const char          *name);
/* Adds @name (or replaces it in place, keeping its position) with @data, which it takes. */
GraftWeightsEntry       *graft_weights_take       (GraftWeights        *self,
                                                   const char          *name,
                                                   guint                rank,
                                                   const gsize         *shape,
                                                   float               *data);
gboolean                 graft_weights_remove     (GraftWeights        *self,
                                                   const char          *name);
/* FALSE if @old_name is missing or @new_name taken. */
gboolean                 graft_weights_rename     (GraftWeights        *self,
                                                   const char          *old_name,
                                                   const char          *new_name);
/* "[64, 3, 7, 7]", for messages. */
char                    *graft_weights_entry_shape_string (const GraftWeightsEntry *entry);

const char              *graft_weights_get_metadata (GraftWeights      *self,
                                                   const char          *key);
void                     graft_weights_set_metadata (GraftWeights      *self,
                                                   const char          *key,
                                                   const char          *value);
/* The metadata keys, sorted; free with g_free (not the strings). */
const char             **graft_weights_get_metadata_keys (GraftWeights *self);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftWeights, graft_weights_free)

G_END_DECLS
