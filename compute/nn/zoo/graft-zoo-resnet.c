/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* torchvision.models.resnet: ResNet-10 (one block per stage), -18 and -34 of basic blocks, ResNet-50 of
 * bottlenecks (stride on the 3×3 convolution, torchvision's "v1.5"). */

#include "graft-zoo-private.h"

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

static int
conv_bn (GraftModel *model,
         const char *prefix,
         const char *conv,
         const char *bn,
         int         input,
         guint       out_channels,
         guint       kernel,
         guint       stride,
         guint       padding)
{
  g_autofree char *conv_name = g_strconcat (prefix, ".", conv, NULL);
  g_autofree char *bn_name = g_strconcat (prefix, ".", bn, NULL);
  int x;

  x = graft_model_add_conv2d (model, conv_name, input, out_channels, kernel, stride, padding,
                              1, 1, FALSE);
  return graft_model_add_batch_norm2d (model, bn_name, x, BN_EPS, BN_MOMENTUM);
}

static int
basic_block (GraftModel *model,
             const char *prefix,
             int         input,
             guint       in_channels,
             guint       planes,
             guint       stride)
{
  int x, identity = input;

  x = conv_bn (model, prefix, "conv1", "bn1", input, planes, 3, stride, 1);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  x = conv_bn (model, prefix, "conv2", "bn2", x, planes, 3, 1, 1);
  if (stride != 1 || in_channels != planes)
    identity = conv_bn (model, prefix, "downsample.0", "downsample.1", input, planes, 1, stride, 0);
  x = graft_model_add_add (model, x, identity);
  return graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
}

static int
bottleneck (GraftModel *model,
            const char *prefix,
            int         input,
            guint       in_channels,
            guint       planes,
            guint       stride)
{
  int x, identity = input;

  x = conv_bn (model, prefix, "conv1", "bn1", input, planes, 1, 1, 0);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  x = conv_bn (model, prefix, "conv2", "bn2", x, planes, 3, stride, 1);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  x = conv_bn (model, prefix, "conv3", "bn3", x, planes * 4, 1, 1, 0);
  if (stride != 1 || in_channels != planes * 4)
    identity = conv_bn (model, prefix, "downsample.0", "downsample.1", input, planes * 4, 1,
                        stride, 0);
  x = graft_model_add_add (model, x, identity);
  return graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
}

int
_graft_zoo_build_resnet (GraftModel            *model,
                         const char            *arch,
                         const GraftZooOptions *options)
{
  static const guint layers10[4] = { 1, 1, 1, 1 };
  static const guint layers18[4] = { 2, 2, 2, 2 };
  static const guint layers34[4] = { 3, 4, 6, 3 };
  gboolean deep = g_str_equal (arch, "resnet50");
  const guint *layers = g_str_equal (arch, "resnet10") ? layers10
                      : g_str_equal (arch, "resnet18") ? layers18 : layers34;
  guint expansion = deep ? 4 : 1;
  guint in_channels = 64;
  GraftPool2dParams pool;
  int x;

  graft_model_begin_block (model, "stem");
  x = graft_model_add_conv2d (model, "conv1", 0, 64, 7, 2, 3, 1, 1, FALSE);
  x = graft_model_add_batch_norm2d (model, "bn1", x, BN_EPS, BN_MOMENTUM);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  graft_pool2d_params_init (&pool, 3, 3);
  pool.stride_h = pool.stride_w = 2;
  pool.pad_h = pool.pad_w = 1;
  x = graft_model_add_max_pool2d (model, x, &pool);

  for (guint stage = 0; stage < 4; stage++)
    {
      g_autofree char *block = g_strdup_printf ("layer%u", stage + 1);
      guint planes = 64u << stage;

      graft_model_begin_block (model, block);
      for (guint i = 0; i < layers[stage]; i++)
        {
          g_autofree char *prefix = g_strdup_printf ("%s.%u", block, i);
          guint stride = i == 0 && stage > 0 ? 2 : 1;

          x = deep ? bottleneck (model, prefix, x, in_channels, planes, stride)
                   : basic_block (model, prefix, x, in_channels, planes, stride);
          in_channels = planes * expansion;
        }
    }

  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 1, 1);
  x = graft_model_add_flatten (model, x);
  if (options->dropout > 0.0f)
    x = graft_model_add_dropout (model, x, options->dropout);
  return _graft_zoo_add_head (model, "fc", x, options);
}
