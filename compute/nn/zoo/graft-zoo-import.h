/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "nn/graft-weights.h"

G_BEGIN_DECLS

/* Importing a weights file saved by torchvision, by timm or by Graft for one of the zoo's
 * architectures: the tensors come back under torchvision's names, checked name by name
 * and shape by shape against the zoo's model, ready for graft_model_load_state().
 *
 * timm's names map onto torchvision's for every architecture of the zoo (ResNet's are
 * the same in both libraries). The timm models that map fully, tensor for tensor, whatever
 * their pretrained tag (a1_in1k, ra_in1k, lamb_in1k, augreg_in21k_ft_in1k, …): resnet18,
 * resnet34, resnet50, mobilenetv2_100, mobilenetv3_large_100, mobilenetv3_small_100,
 * efficientnet_b0 and vit_tiny_patch16_224 (or _384: any image size whose position
 * embedding is a square grid).
 * Two caveats where the weights fit but timm's own model computes a little otherwise:
 * timm's mobilenetv3 normalises with eps 1e-5 where torchvision's (and Graft's) uses 1e-3,
 * and the tf_ ports (tf_efficientnet_b0, tf_mobilenetv3_*) pad like TensorFlow ("same").
 * Variants of another structure fail with every tensor that does not fit named:
 * mobilenetv3_rw (squeeze-and-excitation widths rounded otherwise, no bias on conv_head),
 * efficientnet_lite0 (no squeeze-and-excitation), the deep-stem ResNets (resnet18d,
 * resnet50d, …) and wider or deeper ViTs. */

typedef struct {
  char       *arch;         /* the zoo architecture, as given or as inferred */
  const char *naming;       /* "torchvision" or "timm" (static); timm's ResNet names are
                               torchvision's and read as "torchvision" */
  guint       n_classes;    /* rows of the classifier's weight */
  guint       in_channels;  /* input channels of the first convolution */
  guint       image_size;   /* the Vision Transformer's side in pixels implied by its
                               position embedding (sqrt (L - 1) * 16); 0 for the CNNs,
                               which take any size */
  guint       n_tensors;    /* tensors returned */
  guint       n_renamed;    /* of them, how many were renamed from timm's names */
  guint       n_reshaped;   /* and how many reshaped (a 1×1 convolution that torchvision
                               holds as a linear layer) */
  guint       n_dropped;    /* num_batches_tracked counters left out */
  char       *file_arch;    /* the file's "arch" metadata, or NULL */
} GraftZooImportInfo;

/* Frees the strings and zeroes @info; g_auto (GraftZooImportInfo) info = { 0 } does it. */
void          graft_zoo_import_info_clear (GraftZooImportInfo  *info);

/* Reads the safetensors file @path (any float or integer dtype becomes float32) and
 * returns its tensors under torchvision's names, num_batches_tracked dropped, with the
 * metadata "arch" set to the architecture. @arch NULL infers the architecture from the
 * tensors' names and shapes; a file's "arch" metadata (Graft writes one) must agree with
 * them, and stands in for them when they fit no architecture.
 *
 * The class count (the classifier's rows), the input channels (the first convolution's)
 * and the Vision Transformer's image size are taken from the file. Every other tensor
 * must be the zoo model's: otherwise a GRAFT_IO_ERROR lists every missing, unexpected
 * and misshapen tensor by name, timm's name beside torchvision's (the code is that of the
 * first: MISSING_KEY, UNEXPECTED_KEY or SHAPE). A file that fits no architecture, or
 * whose metadata names another one than its tensors show, is GRAFT_MODEL_ERROR_ARCH
 * saying what the file holds. @info, if not NULL, is filled on success (what it held
 * before is cleared). */
GraftWeights *graft_zoo_import            (const char          *path,
                                           const char          *arch,
                                           GraftZooImportInfo  *info,
                                           GError             **error);

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (GraftZooImportInfo, graft_zoo_import_info_clear)

G_END_DECLS
