/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "nn/graft-model.h"

G_BEGIN_DECLS

/* Builders for the architectures Graft knows, in torchvision's layouts: every parameter
 * carries its torchvision state_dict name, so weights saved from torchvision load as they
 * are. Blocks (for freezing) are named "stem", "layer1" … "layer4", "head" for ResNet;
 * "features.N" and "head" for MobileNet and EfficientNet; "stem", "encoder_layer_N",
 * "encoder" (its final norm) and "head" for the Vision Transformer. */

/* The layers that give the classes, in place of the architecture's final nn.Linear
 * (named by graft_zoo_get_classifier(): "fc", "classifier.1", "classifier.3",
 * "heads.head"). */
typedef enum {
  GRAFT_ZOO_HEAD_LINEAR,  /* that one nn.Linear (features → classes), as torchvision has it */
  GRAFT_ZOO_HEAD_MLP,     /* nn.Sequential (nn.Linear (features, hidden), nn.ReLU (),
                           * nn.Dropout (head_dropout), nn.Linear (hidden, classes)) in its
                           * place: "fc.0" and "fc.3" for ResNet, "classifier.3.0" and
                           * "classifier.3.3" for MobileNetV3, "heads.head.0" and
                           * "heads.head.3" for the Vision Transformer; both start from
                           * PyTorch's default initialisation */
} GraftZooHead;

typedef struct {
  guint   n_classes;    /* 1000, as ImageNet */
  guint   in_channels;  /* 3 */
  guint   image_size;   /* 224; the Vision Transformer's position embeddings depend on it */
  float   dropout;      /* before the classifier; < 0 for the architecture's default */
  guint64 seed;         /* of the random initialisation */
  GraftZooHead head;    /* GRAFT_ZOO_HEAD_LINEAR */
  guint   head_hidden;  /* the MLP head's hidden width: 256 */
  float   head_dropout; /* the MLP head's dropout between its two layers: 0.2 */
  gboolean keep_head;   /* graft_zoo_adapt(): keep the weights' classifier when it has this
                         * head's form and classes (training on more of the same classes);
                         * FALSE (the default) gives new classes a new head always */
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

/* The width of the features @arch's classifier reads (512 for ResNet-18, 1280 for
 * MobileNetV2, 192 for the Vision Transformer), or 0 with GRAFT_MODEL_ERROR_ARCH. */
guint               graft_zoo_get_n_features (const char         *arch,
                                              GError            **error);

/* The torchvision name of @arch's first convolution, the one that reads the image and
 * whose weight is [out, in_channels, k, k] ("conv1", "features.0.0", "conv_proj"), or
 * NULL with GRAFT_MODEL_ERROR_ARCH. */
const char         *graft_zoo_get_first_conv (const char         *arch,
                                              GError            **error);

/* The names of the head's tensors that @options give @arch, in the model's order:
 * "fc.weight", "fc.bias" for a linear head; "fc.0.weight", "fc.0.bias", "fc.3.weight",
 * "fc.3.bias" for an MLP head. NULL with GRAFT_MODEL_ERROR_ARCH for an unknown
 * architecture. Free with g_strfreev(). */
char              **graft_zoo_get_head_names (const char            *arch,
                                              const GraftZooOptions *options,
                                              GError               **error);

/* A model of @arch with seeded random weights (convolutions He-normal by their fan-out,
 * linear layers uniform within 1 / sqrt (fan-in), norms at 1 and 0); an unknown
 * architecture or unusable options give GRAFT_MODEL_ERROR_ARCH saying why. */
GraftModel         *graft_zoo_build       (GraftBackend          *backend,
                                           const char            *arch,
                                           const GraftZooOptions *options,
                                           GError               **error);

G_END_DECLS
