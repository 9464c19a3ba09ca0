/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* torchvision.models.mobilenetv2 and mobilenetv3 at width 1.0: inverted residual blocks
 * (expand 1×1, depthwise, optional squeeze-and-excitation, project 1×1), each one
 * features.N, with a residual connection where the block keeps stride 1 and its width. */

#include "graft-zoo-private.h"

/* MobileNetV2 keeps nn.BatchNorm2d's defaults; MobileNetV3 sets its own. */
#define V2_BN_EPS 1e-5f
#define V2_BN_MOMENTUM 0.1f
#define V3_BN_EPS 1e-3f
#define V3_BN_MOMENTUM 0.01f
#define DEFAULT_DROPOUT 0.2f
/* both initialise their nn.Linear layers normal (0, 0.01) with zero biases */
#define LINEAR_STD 0.01

static float
head_dropout (const GraftZooOptions *options)
{
  return options->dropout < 0.0f ? DEFAULT_DROPOUT : options->dropout;
}

static void
begin_features (GraftModel *model,
                guint       index)
{
  g_autofree char *block = g_strdup_printf ("features.%u", index);

  graft_model_begin_block (model, block);
}

/* ---- MobileNetV2 ----------------------------------------------------------------------- */

static int
v2_inverted_residual (GraftModel *model,
                      guint       index,
                      int         input,
                      guint       in_channels,
                      guint       out_channels,
                      guint       stride,
                      guint       expand_ratio)
{
  guint hidden = in_channels * expand_ratio;
  guint k = 0;
  int x = input;

  begin_features (model, index);
  if (expand_ratio != 1)
    {
      g_autofree char *name = g_strdup_printf ("features.%u.conv.%u", index, k++);

      x = _graft_zoo_conv_bn_act (model, name, x, hidden, 1, 1, 1, V2_BN_EPS, V2_BN_MOMENTUM,
                                  TRUE, GRAFT_ACTIVATION_RELU6);
    }
  {
    g_autofree char *dw = g_strdup_printf ("features.%u.conv.%u", index, k++);
    g_autofree char *conv = g_strdup_printf ("features.%u.conv.%u", index, k++);
    g_autofree char *bn = g_strdup_printf ("features.%u.conv.%u", index, k++);

    x = _graft_zoo_conv_bn_act (model, dw, x, hidden, 3, stride, hidden, V2_BN_EPS,
                                V2_BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_RELU6);
    x = graft_model_add_conv2d (model, conv, x, out_channels, 1, 1, 0, 1, 1, FALSE);
    x = graft_model_add_batch_norm2d (model, bn, x, V2_BN_EPS, V2_BN_MOMENTUM);
  }
  if (stride == 1 && in_channels == out_channels)
    x = graft_model_add_add (model, input, x);
  return x;
}

int
_graft_zoo_build_mobilenet_v2 (GraftModel            *model,
                               const char            *arch,
                               const GraftZooOptions *options)
{
  /* expand ratio t, output channels c, repeats n, first stride s */
  static const guint setting[][4] = {
    { 1, 16, 1, 1 },
    { 6, 24, 2, 2 },
    { 6, 32, 3, 2 },
    { 6, 64, 4, 2 },
    { 6, 96, 3, 1 },
    { 6, 160, 3, 2 },
    { 6, 320, 1, 1 },
  };
  guint in_channels = _graft_zoo_make_divisible (32, 8);
  guint last_channels = _graft_zoo_make_divisible (1280, 8);
  guint index = 0;
  float dropout = head_dropout (options);
  int x;

  if (!g_str_equal (arch, "mobilenet_v2"))
    return -1;

  begin_features (model, index);
  x = _graft_zoo_conv_bn_act (model, "features.0", 0, in_channels, 3, 2, 1, V2_BN_EPS,
                              V2_BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_RELU6);
  for (guint s = 0; s < G_N_ELEMENTS (setting); s++)
    {
      guint out_channels = _graft_zoo_make_divisible (setting[s][1], 8);

      for (guint i = 0; i < setting[s][2]; i++)
        {
          x = v2_inverted_residual (model, ++index, x, in_channels, out_channels,
                                    i == 0 ? setting[s][3] : 1, setting[s][0]);
          in_channels = out_channels;
        }
    }
  begin_features (model, ++index);
  {
    g_autofree char *name = g_strdup_printf ("features.%u", index);

    x = _graft_zoo_conv_bn_act (model, name, x, last_channels, 1, 1, 1, V2_BN_EPS,
                                V2_BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_RELU6);
  }

  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 1, 1);
  x = graft_model_add_flatten (model, x);
  if (dropout > 0.0f)
    x = graft_model_add_dropout (model, x, dropout);
  x = _graft_zoo_add_head (model, "classifier.1", x, options);
  /* an MLP in its place keeps PyTorch's default initialisation, as a replaced module does */
  if (options->head == GRAFT_ZOO_HEAD_LINEAR &&
      !_graft_zoo_init_linear (model, "classifier.1", GRAFT_INIT_NORMAL, LINEAR_STD,
                               options->seed))
    return -1;
  return x;
}

/* ---- MobileNetV3 ----------------------------------------------------------------------- */

typedef struct {
  guint    in_channels;
  guint    kernel;
  guint    expanded;
  guint    out_channels;
  gboolean se;
  gboolean hardswish;   /* "HS", else "RE" (ReLU) */
  guint    stride;
} V3Config;

/* Tables 1 and 2 of the MobileNetV3 paper as torchvision writes them (no dilation, no
 * reduced tail). */
static const V3Config v3_large[] = {
  { 16, 3, 16, 16, FALSE, FALSE, 1 },
  { 16, 3, 64, 24, FALSE, FALSE, 2 },
  { 24, 3, 72, 24, FALSE, FALSE, 1 },
  { 24, 5, 72, 40, TRUE, FALSE, 2 },
  { 40, 5, 120, 40, TRUE, FALSE, 1 },
  { 40, 5, 120, 40, TRUE, FALSE, 1 },
  { 40, 3, 240, 80, FALSE, TRUE, 2 },
  { 80, 3, 200, 80, FALSE, TRUE, 1 },
  { 80, 3, 184, 80, FALSE, TRUE, 1 },
  { 80, 3, 184, 80, FALSE, TRUE, 1 },
  { 80, 3, 480, 112, TRUE, TRUE, 1 },
  { 112, 3, 672, 112, TRUE, TRUE, 1 },
  { 112, 5, 672, 160, TRUE, TRUE, 2 },
  { 160, 5, 960, 160, TRUE, TRUE, 1 },
  { 160, 5, 960, 160, TRUE, TRUE, 1 },
};

static const V3Config v3_small[] = {
  { 16, 3, 16, 16, TRUE, FALSE, 2 },
  { 16, 3, 72, 24, FALSE, FALSE, 2 },
  { 24, 3, 88, 24, FALSE, FALSE, 1 },
  { 24, 5, 96, 40, TRUE, TRUE, 2 },
  { 40, 5, 240, 40, TRUE, TRUE, 1 },
  { 40, 5, 240, 40, TRUE, TRUE, 1 },
  { 40, 5, 120, 48, TRUE, TRUE, 1 },
  { 48, 5, 144, 48, TRUE, TRUE, 1 },
  { 48, 5, 288, 96, TRUE, TRUE, 2 },
  { 96, 5, 576, 96, TRUE, TRUE, 1 },
  { 96, 5, 576, 96, TRUE, TRUE, 1 },
};

static int
v3_inverted_residual (GraftModel     *model,
                      guint           index,
                      int             input,
                      const V3Config *cnf)
{
  GraftActivation act = cnf->hardswish ? GRAFT_ACTIVATION_HARDSWISH : GRAFT_ACTIVATION_RELU;
  guint in_channels = _graft_zoo_make_divisible (cnf->in_channels, 8);
  guint expanded = _graft_zoo_make_divisible (cnf->expanded, 8);
  guint out_channels = _graft_zoo_make_divisible (cnf->out_channels, 8);
  guint k = 0;
  int x = input;

  begin_features (model, index);
  if (expanded != in_channels)
    {
      g_autofree char *name = g_strdup_printf ("features.%u.block.%u", index, k++);

      x = _graft_zoo_conv_bn_act (model, name, x, expanded, 1, 1, 1, V3_BN_EPS, V3_BN_MOMENTUM,
                                  TRUE, act);
    }
  {
    g_autofree char *name = g_strdup_printf ("features.%u.block.%u", index, k++);

    x = _graft_zoo_conv_bn_act (model, name, x, expanded, cnf->kernel, cnf->stride, expanded,
                                V3_BN_EPS, V3_BN_MOMENTUM, TRUE, act);
  }
  if (cnf->se)
    {
      g_autofree char *name = g_strdup_printf ("features.%u.block.%u", index, k++);

      x = _graft_zoo_squeeze_excitation (model, name, x, expanded,
                                         _graft_zoo_make_divisible (expanded / 4, 8),
                                         GRAFT_ACTIVATION_RELU, GRAFT_ACTIVATION_HARDSIGMOID);
    }
  {
    g_autofree char *name = g_strdup_printf ("features.%u.block.%u", index, k++);

    x = _graft_zoo_conv_bn_act (model, name, x, out_channels, 1, 1, 1, V3_BN_EPS,
                                V3_BN_MOMENTUM, FALSE, GRAFT_ACTIVATION_RELU);
  }
  if (cnf->stride == 1 && in_channels == out_channels)
    x = graft_model_add_add (model, x, input);
  return x;
}

int
_graft_zoo_build_mobilenet_v3 (GraftModel            *model,
                               const char            *arch,
                               const GraftZooOptions *options)
{
  gboolean large = g_str_equal (arch, "mobilenet_v3_large");
  const V3Config *setting = large ? v3_large : v3_small;
  guint n_blocks = large ? G_N_ELEMENTS (v3_large) : G_N_ELEMENTS (v3_small);
  guint last_channels = _graft_zoo_make_divisible (large ? 1280 : 1024, 8);
  guint lastconv_channels = 6 * _graft_zoo_make_divisible (setting[n_blocks - 1].out_channels, 8);
  float dropout = head_dropout (options);
  int x;

  if (!large && !g_str_equal (arch, "mobilenet_v3_small"))
    return -1;

  begin_features (model, 0);
  x = _graft_zoo_conv_bn_act (model, "features.0", 0,
                              _graft_zoo_make_divisible (setting[0].in_channels, 8), 3, 2, 1,
                              V3_BN_EPS, V3_BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_HARDSWISH);
  for (guint i = 0; i < n_blocks; i++)
    x = v3_inverted_residual (model, i + 1, x, &setting[i]);
  begin_features (model, n_blocks + 1);
  {
    g_autofree char *name = g_strdup_printf ("features.%u", n_blocks + 1);

    x = _graft_zoo_conv_bn_act (model, name, x, lastconv_channels, 1, 1, 1, V3_BN_EPS,
                                V3_BN_MOMENTUM, TRUE, GRAFT_ACTIVATION_HARDSWISH);
  }

  graft_model_begin_block (model, "head");
  x = graft_model_add_adaptive_avg_pool2d (model, x, 1, 1);
  x = graft_model_add_flatten (model, x);
  x = graft_model_add_linear (model, "classifier.0", x, last_channels, TRUE);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_HARDSWISH);
  if (dropout > 0.0f)
    x = graft_model_add_dropout (model, x, dropout);
  x = _graft_zoo_add_head (model, "classifier.3", x, options);
  if (!_graft_zoo_init_linear (model, "classifier.0", GRAFT_INIT_NORMAL, LINEAR_STD,
                               options->seed) ||
      (options->head == GRAFT_ZOO_HEAD_LINEAR &&
       !_graft_zoo_init_linear (model, "classifier.3", GRAFT_INIT_NORMAL, LINEAR_STD,
                                options->seed)))
    return -1;
  return x;
}
