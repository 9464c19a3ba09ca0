/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

/* safetensors: the weight format of torchvision/timm exports. An 8-byte little-endian
 * header length, a JSON header naming each tensor's dtype, shape and byte range, then the
 * raw little-endian data. Reading maps the file and checks every range before any data is
 * touched; writing goes to a temporary file that replaces the old one only when complete. */

#include <glib.h>

#include "tensor/graft-tensor.h"

G_BEGIN_DECLS

#define GRAFT_IO_ERROR (graft_io_error_quark ())
GQuark graft_io_error_quark (void);

typedef enum {
  GRAFT_IO_ERROR_READ,            /* the file could not be opened or read */
  GRAFT_IO_ERROR_WRITE,           /* the file could not be written */
  GRAFT_IO_ERROR_CORRUPT,         /* truncated, malformed header, bad offsets */
  GRAFT_IO_ERROR_MISSING_KEY,     /* a tensor the model needs is not in the file */
  GRAFT_IO_ERROR_UNEXPECTED_KEY,  /* the file holds a tensor the model has no place for */
  GRAFT_IO_ERROR_SHAPE,           /* a tensor has another shape than expected */
  GRAFT_IO_ERROR_DTYPE,           /* a dtype that cannot become float32 */
} GraftIoError;

typedef enum {
  GRAFT_DTYPE_F32,
  GRAFT_DTYPE_F16,
  GRAFT_DTYPE_BF16,
  GRAFT_DTYPE_F64,
  GRAFT_DTYPE_I64,
  GRAFT_DTYPE_I32,
  GRAFT_DTYPE_I16,
  GRAFT_DTYPE_I8,
  GRAFT_DTYPE_U8,
  GRAFT_DTYPE_BOOL,
} GraftDType;

const char *graft_dtype_to_string (GraftDType dtype);
gsize       graft_dtype_size      (GraftDType dtype);

/* One tensor as the header describes it. rank 0 is a scalar. */
typedef struct {
  const char *name;
  GraftDType  dtype;
  guint       rank;
  gsize       shape[GRAFT_TENSOR_MAX_RANK];
  gsize       n_elements;
} GraftSafetensorsEntry;

/* What a model expects to find: a name and a shape. */
typedef struct {
  const char  *name;
  guint        rank;
  const gsize *shape;
} GraftSafetensorsSpec;

/* ---- reading ------------------------------------------------------------------------ */

typedef struct _GraftSafetensors GraftSafetensors;

GraftSafetensors            *graft_safetensors_open           (const char        *path,
                                                               GError           **error);
void                         graft_safetensors_free           (GraftSafetensors  *self);
const char                  *graft_safetensors_get_path       (GraftSafetensors  *self);
guint                        graft_safetensors_get_n_tensors  (GraftSafetensors  *self);
/* Tensor names in byte order of the file; NULL-terminated, owned by @self. */
const char * const          *graft_safetensors_get_names      (GraftSafetensors  *self);
const GraftSafetensorsEntry *graft_safetensors_lookup         (GraftSafetensors  *self,
                                                               const char        *name);
/* A value of the "__metadata__" object, or NULL. */
const char                  *graft_safetensors_get_metadata   (GraftSafetensors  *self,
                                                               const char        *key);

/* The "__metadata__" keys, NULL-terminated; free the array with g_free. */
const char                 **graft_safetensors_get_metadata_keys (GraftSafetensors *self);

/* Copies tensor @name into @out as float32, converting from any float or integer dtype.
 * @rank/@shape give the shape the caller expects; a different one is an error that names
 * the tensor and both shapes. */
gboolean graft_safetensors_read_f32   (GraftSafetensors  *self,
                                       const char        *name,
                                       guint              rank,
                                       const gsize       *shape,
                                       float             *out,
                                       GError           **error);
/* The same into a GraftTensor, whose shape is the expected one. */
gboolean graft_safetensors_load       (GraftSafetensors  *self,
                                       const char        *name,
                                       GraftTensor       *tensor,
                                       GError           **error);
/* Checks that the file holds exactly the @n_specs tensors of @specs with those shapes:
 * the first missing key, unexpected key or shape mismatch is reported by name, with the
 * expected and found shapes. Extra tensors whose names end in one of @ignore_suffixes
 * (NULL-terminated, may be NULL; e.g. "num_batches_tracked") are allowed. */
gboolean graft_safetensors_check_keys (GraftSafetensors           *self,
                                       const GraftSafetensorsSpec *specs,
                                       guint                       n_specs,
                                       const char * const         *ignore_suffixes,
                                       GError                    **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftSafetensors, graft_safetensors_free)

/* ---- writing ------------------------------------------------------------------------ */

typedef struct _GraftSafetensorsWriter GraftSafetensorsWriter;

GraftSafetensorsWriter *graft_safetensors_writer_new          (void);
void                    graft_safetensors_writer_free         (GraftSafetensorsWriter  *self);
void                    graft_safetensors_writer_set_metadata (GraftSafetensorsWriter  *self,
                                                               const char              *key,
                                                               const char              *value);
/* Adds a float32 tensor (copied). rank may be 0. Names must be unique. */
gboolean                graft_safetensors_writer_add_f32      (GraftSafetensorsWriter  *self,
                                                               const char              *name,
                                                               guint                    rank,
                                                               const gsize             *shape,
                                                               const float             *data,
                                                               GError                 **error);
/* The same stored as float16 (round to nearest even); a finite value beyond float16's
 * range is an error naming the tensor. */
gboolean                graft_safetensors_writer_add_f16      (GraftSafetensorsWriter  *self,
                                                               const char              *name,
                                                               guint                    rank,
                                                               const gsize             *shape,
                                                               const float             *data,
                                                               GError                 **error);
/* Downloads @tensor and adds it under @name. */
gboolean                graft_safetensors_writer_add_tensor   (GraftSafetensorsWriter  *self,
                                                               const char              *name,
                                                               GraftTensor             *tensor,
                                                               GError                 **error);
/* Writes the file atomically: a crash leaves the old file or the new one, never half. */
gboolean                graft_safetensors_writer_save         (GraftSafetensorsWriter  *self,
                                                               const char              *path,
                                                               GError                 **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (GraftSafetensorsWriter, graft_safetensors_writer_free)

G_END_DECLS
