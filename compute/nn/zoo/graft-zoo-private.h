/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-zoo.h"
#include "nn/graft-model-private.h"

G_BEGIN_DECLS

/* Each builder adds its layers to @model (created by graft_zoo_build with the input
 * channels and seed) and returns the index of its [N, classes] output, or -1. */
typedef int (*GraftZooBuilder) (GraftModel            *model,
                                const char            *arch,
                                const GraftZooOptions *options);

int _graft_zoo_build_resnet       (GraftModel *model, const char *arch, const GraftZooOptions *options);
int _graft_zoo_build_mobilenet_v2 (GraftModel *model, const char *arch, const GraftZooOptions *options);
int _graft_zoo_build_mobilenet_v3 (GraftModel *model, const char *arch, const GraftZooOptions *options);
int _graft_zoo_build_efficientnet (GraftModel *model, const char *arch, const GraftZooOptions *options);
int _graft_zoo_build_vit          (GraftModel *model, const char *arch, const GraftZooOptions *options);

/* conv (no bias) + batch norm + optional activation, as torchvision's
 * Conv2dNormActivation named @prefix ("features.0"): the convolution is @prefix.0 and
 * the norm @prefix.1. Padding is (kernel - 1) / 2 * dilation. */
int _graft_zoo_conv_bn_act        (GraftModel *model, const char *prefix, int input,
                                   guint out_channels, guint kernel, guint stride,
                                   guint groups, float bn_eps, float bn_momentum,
                                   gboolean has_act, GraftActivation act);

/* The head named @name ("fc", "classifier.3", "heads.head") over the [N, features] @input:
 * the nn.Linear to the classes, or the MLP of @options->head (its layers @name.0 and
 * @name.3), with PyTorch's default initialisation. */
int _graft_zoo_add_head           (GraftModel *model, const char *name, int input,
                                   const GraftZooOptions *options);

/* torchvision.ops.SqueezeExcitation named @prefix ("features.4.block.2") over @input of
 * @channels channels: global average pooling, @prefix.fc1 (1×1 convolution with bias to
 * @squeeze_channels), @act, @prefix.fc2 (back to @channels), @scale_act, and the input
 * scaled per channel by the result. */
int _graft_zoo_squeeze_excitation (GraftModel *model, const char *prefix, int input,
                                   guint channels, guint squeeze_channels,
                                   GraftActivation act, GraftActivation scale_act);

/* torchvision's own initialisation of a classifier's nn.Linear @name, in place of
 * PyTorch's default: weights normal with standard deviation @a (MobileNet) or uniform in
 * [-@a, @a] (EfficientNet), bias zero, drawn from @seed. FALSE if there is no such
 * layer or the values cannot be written. */
gboolean _graft_zoo_init_linear   (GraftModel *model, const char *name, GraftInitKind init,
                                   double a, guint64 seed);

/* torchvision.models._utils._make_divisible: @v rounded to the nearest multiple of
 * @divisor (at least @divisor), never more than 10 % below @v. */
guint _graft_zoo_make_divisible   (double v, guint divisor);

G_END_DECLS
