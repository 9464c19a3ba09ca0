/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* torchvision.models.VisionTransformer with patch 16, 12 layers, 3 heads, hidden size 192
 * and MLP size 768 ("vit_tiny"): a 16×16 stride-16 convolution cuts the image into
 * patch tokens, a class token goes first, a learned position embedding is added, then
 * pre-norm encoder blocks (layer norm, self-attention, residual; layer norm, MLP with
 * GELU, residual), a final layer norm, and the class token's features go to the head. */

#include <math.h>

#include "graft-zoo-private.h"

#define PATCH 16
#define LAYERS 12
#define HEADS 3
#define HIDDEN 192
#define MLP 768
#define LN_EPS 1e-6f

int
_graft_zoo_build_vit (GraftModel            *model,
                      G_GNUC_UNUSED const char *arch,
                      const GraftZooOptions *options)
{
  guint side = options->image_size / PATCH;
  int x;

  if (options->image_size % PATCH != 0)
    return -1;

  graft_model_begin_block (model, "stem");
  x = graft_model_add_conv2d (model, "conv_proj", 0, HIDDEN, PATCH, PATCH, 0, 1, 1, TRUE);
  x = graft_model_add_patch_tokens (model, x);
  x = graft_model_add_class_token (model, "class_token", x);
  x = graft_model_add_position_embedding (model, "encoder.pos_embedding", x, side * side + 1);

  for (guint i = 0; i < LAYERS; i++)
    {
      g_autofree char *block = g_strdup_printf ("encoder_layer_%u", i);
      g_autofree char *prefix = g_strdup_printf ("encoder.layers.%s", block);
      g_autofree char *ln_1 = g_strconcat (prefix, ".ln_1", NULL);
      g_autofree char *attention = g_strconcat (prefix, ".self_attention", NULL);
      g_autofree char *ln_2 = g_strconcat (prefix, ".ln_2", NULL);
      g_autofree char *mlp_0 = g_strconcat (prefix, ".mlp.0", NULL);
      g_autofree char *mlp_3 = g_strconcat (prefix, ".mlp.3", NULL);
      int y;

      graft_model_begin_block (model, block);
      y = graft_model_add_layer_norm (model, ln_1, x, LN_EPS);
      y = graft_model_add_self_attention (model, attention, y, HEADS);
      x = graft_model_add_add (model, y, x);
      y = graft_model_add_layer_norm (model, ln_2, x, LN_EPS);
      y = graft_model_add_linear (model, mlp_0, y, MLP, TRUE);
      y = graft_model_add_activation (model, y, GRAFT_ACTIVATION_GELU);
      y = graft_model_add_linear (model, mlp_3, y, HIDDEN, TRUE);
      x = graft_model_add_add (model, x, y);
    }

  graft_model_begin_block (model, "encoder");
  x = graft_model_add_layer_norm (model, "encoder.ln", x, LN_EPS);

  graft_model_begin_block (model, "head");
  x = graft_model_add_first_token (model, x);
  if (options->dropout > 0.0f)
    x = graft_model_add_dropout (model, x, options->dropout);
  x = _graft_zoo_add_head (model, "heads.head", x, options);

  /* torchvision's initialisation where it differs from the layers' defaults: the patch
   * projection normal with std sqrt (1 / fan_in) (torchvision truncates it at 2 std),
   * the MLPs' weights Xavier-uniform, their biases (near) zero, the head zero (an MLP
   * head keeps PyTorch's default initialisation, as a replaced module does) */
  if (x >= 0)
    {
      double fan_in = (double) graft_model_get_in_channels (model) * PATCH * PATCH;
      gboolean ok = _graft_zoo_init_linear (model, "conv_proj", GRAFT_INIT_NORMAL,
                                            sqrt (1.0 / fan_in), options->seed) &&
                    (options->head != GRAFT_ZOO_HEAD_LINEAR ||
                     _graft_zoo_init_linear (model, "heads.head", GRAFT_INIT_NORMAL, 0.0,
                                             options->seed));

      for (guint i = 0; ok && i < LAYERS; i++)
        {
          g_autofree char *mlp_0 = g_strdup_printf ("encoder.layers.encoder_layer_%u.mlp.0", i);
          g_autofree char *mlp_3 = g_strdup_printf ("encoder.layers.encoder_layer_%u.mlp.3", i);
          double bound = sqrt (6.0 / (HIDDEN + MLP));

          ok = _graft_zoo_init_linear (model, mlp_0, GRAFT_INIT_UNIFORM, bound, options->seed) &&
               _graft_zoo_init_linear (model, mlp_3, GRAFT_INIT_UNIFORM, bound, options->seed);
        }
      if (!ok)
        return -1;
    }
  return x;
}
