/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "nn/graft-model.h"

G_BEGIN_DECLS

/* Builders for the architectures Graft knows, in torchvision's layouts: every parameter
 * carries its torchvision state_dict name, so weights saved from torchvision load as they
 * are. Blocks (for freezing) are named "stem", "layer1" … "layer4", "head" for ResNet;
 * "features.N" and "head" for MobileNet and EfficientNet; "stem", "encoder_layer_N",
 * "encoder" (its final norm) and "head" for the Vision Transformer. */

typedef struct {
  guint   n_classes;    /* 1000, as ImageNet */
  guint   in_channels;  /* 3 */
  guint   image_size;   /* 224; the Vision Transformer's position embeddings depend on it */
  float   dropout;      /* before the classifier; < 0 for the architecture's default */
  guint64 seed;         /* of the random initialisation */
} GraftZooOptions;

void                graft_zoo_options_init (GraftZooOptions       *options);

/* "resnet10" (torchvision's ResNet class with one basic block per stage, the layout of
 * Graft's bundled model), "resnet18", "resnet34", "resnet50", "mobilenet_v2", "mobilenet_v3_small",
 * "mobilenet_v3_large", "efficientnet_b0", "vit_tiny"; NULL-terminated. */
const char *const  *graft_zoo_list        (void);

/* The torchvision name of @arch's final linear layer, whose weight is
 * [classes, features] ("fc", "classifier.3", "heads.head"), or NULL with
 * GRAFT_MODEL_ERROR_ARCH for an unknown architecture. */
const char         *graft_zoo_get_classifier (const char         *arch,
                                              GError            **error);

/* A model of @arch with seeded random weights (convolutions He-normal by their fan-out,
 * linear layers uniform within 1 / sqrt (fan-in), norms at 1 and 0); an unknown
 * architecture or unusable options give GRAFT_MODEL_ERROR_ARCH saying why. */
GraftModel         *graft_zoo_build       (GraftBackend          *backend,
                                           const char            *arch,
                                           const GraftZooOptions *options,
                                           GError               **error);

G_END_DECLS
