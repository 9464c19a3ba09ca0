/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* torchvision.models.efficientnet: EfficientNet-B0 (width and depth 1.0). Seven stages
 * features.1 … features.7 of MBConv blocks (features.S.B: expand 1×1, depthwise,
 * squeeze-and-excitation, project 1×1), SiLU throughout, and stochastic depth on the
 * residual branch whose rate grows linearly with the block's position. */

#include <math.h>

#include "graft-zoo-private.h"

/* EfficientNet V1 keeps nn.BatchNorm2d's defaults (only V2 sets eps 1e-3). */
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define DEFAULT_DROPOUT 0.2f
#define STOCHASTIC_DEPTH_PROB 0.2f

typedef struct {
  guint expand_ratio;
  guint kernel;
  guint stride;
  guint in_channels;
  guint out_channels;
  guint n_layers;
} MBConvConfig;

static const MBConvConfig b0[] = {
  { 1, 3, 1, 32, 16, 1 },
  { 6, 3, 2, 16, 24, 2 },
  { 6, 5, 2, 24, 40, 2 },
  { 6, 3, 2, 40, 80, 3 },
  { 6, 5, 1, 80, 112, 3 },
  { 6, 5, 2, 112, 192, 4 },
  { 6, 3, 1, 192, 320, 1 },
};

static int
mbconv (GraftModel *model,
        const char *prefix,
        int         input,
        guint       in_channels,
        guint       out_channels,
        guint       expand_ratio,
        guint       kernel,
        guint       stride,
        float       sd_prob)
{
  guint expanded = _graft_zoo_make_divisible ((double) in_channels * expand_ratio, 8);
  guint k = 0;
  int x = input;

  if (expanded != in_channels)
    {
      g_autofree char *name = g_strdup_printf ("%s.block.%u", prefix, k++);

      x = _graft_zoo_conv_bn_act (model, name, x, expanded, 1, 1, 1, BN_EPS, BN_MOMENTUM,
                                  TRUE, GRAFT_ACTIVATION_SILU);
    }
  {
    g_autofree char *dw = g_strdup_printf ("%s.block.%u", prefix, k++);
    g_autofree char *se = g_strdup_printf ("%s.block.%u", prefix, k++);
    g_autofree char *project = g_strdup_printf ("%s.block.%u", prefix, k++);

    x = _graft_zoo_conv_bn_act (model, dw, x, expanded, kernel, stride, expanded, BN_EPS,
                                BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_SILU);
    x = _graft_zoo_squeeze_excitation (model, se, x, expanded, MAX (1, in_channels / 4),
                                       GRAFT_ACTIVATION_SILU, GRAFT_ACTIVATION_SIGMOID);
    x = _graft_zoo_conv_bn_act (model, project, x, out_channels, 1, 1, 1, BN_EPS, BN_MOMENTUM,
                                FALSE, GRAFT_ACTIVATION_SILU);
  }
  if (stride == 1 && in_channels == out_channels)
    {
      x = graft_model_add_stochastic_depth (model, x, sd_prob);
      x = graft_model_add_add (model, x, input);
    }
  return x;
}

int
_graft_zoo_build_efficientnet (GraftModel            *model,
                               const char            *arch,
                               const GraftZooOptions *options)
{
  float dropout = options->dropout < 0.0f ? DEFAULT_DROPOUT : options->dropout;
  guint total_blocks = 0, block_id = 0, last_in, n_stages = G_N_ELEMENTS (b0);
  int x;

  if (!g_str_equal (arch, "efficientnet_b0"))
    return -1;

  for (guint s = 0; s < n_stages; s++)
    total_blocks += b0[s].n_layers;

  graft_model_begin_block (model, "features.0");
  x = _graft_zoo_conv_bn_act (model, "features.0", 0, _graft_zoo_make_divisible (b0[0].in_channels, 8),
                              3, 2, 1, BN_EPS, BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_SILU);
  for (guint s = 0; s < n_stages; s++)
    {
      g_autofree char *stage = g_strdup_printf ("features.%u", s + 1);
      guint out_channels = _graft_zoo_make_divisible (b0[s].out_channels, 8);

      graft_model_begin_block (model, stage);
      for (guint i = 0; i < b0[s].n_layers; i++)
        {
          g_autofree char *prefix = g_strdup_printf ("%s.%u", stage, i);
          guint in_channels = i == 0 ? _graft_zoo_make_divisible (b0[s].in_channels, 8)
                                     : out_channels;
          /* torchvision: stochastic_depth_prob * stage_block_id / total_stage_blocks */
          float sd_prob = STOCHASTIC_DEPTH_PROB * (float) block_id / (float) total_blocks;

          x = mbconv (model, prefix, x, in_channels, out_channels, b0[s].expand_ratio,
                      b0[s].kernel, i == 0 ? b0[s].stride : 1, sd_prob);
          block_id++;
        }
    }

  last_in = _graft_zoo_make_divisible (b0[n_stages - 1].out_channels, 8);
  {
    g_autofree char *name = g_strdup_printf ("features.%u", n_stages + 1);

    graft_model_begin_block (model, name);
    x = _graft_zoo_conv_bn_act (model, name, x, 4 * last_in, 1, 1, 1, BN_EPS, BN_MOMENTUM,
                                TRUE, GRAFT_ACTIVATION_SILU);
  }

  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 1, 1);
  x = graft_model_add_flatten (model, x);
  if (dropout > 0.0f)
    x = graft_model_add_dropout (model, x, dropout);
  x = _graft_zoo_add_head (model, "classifier.1", x, options);
  /* torchvision: uniform within 1 / sqrt (out_features), zero bias; an MLP in its place
   * keeps PyTorch's default initialisation, as a replaced module does */
  if (options->head == GRAFT_ZOO_HEAD_LINEAR &&
      !_graft_zoo_init_linear (model, "classifier.1", GRAFT_INIT_UNIFORM,
                               1.0 / sqrt ((double) options->n_classes), options->seed))
    return -1;
  return x;
}
