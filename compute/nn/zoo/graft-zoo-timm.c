/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* timm's tensor names for the zoo's MobileNets, EfficientNet-B0 and Vision Transformer,
 * paired with torchvision's (the module structure is described in graft-zoo-import.c). */

#include <string.h>

#include "graft-zoo-import-private.h"

/* Stages of timm's arch definitions, in blocks (its _gen_mobilenet_v2, _gen_efficientnet
 * and _gen_mobilenet_v3 at multiplier 1.0); MobileNetV3's last stage is its 1×1 conv. */
const guint _graft_zoo_timm_mobilenet_v2[] = { 1, 2, 3, 4, 3, 3, 1 };
const guint _graft_zoo_timm_efficientnet_b0[] = { 1, 2, 2, 3, 3, 4, 1 };
const guint _graft_zoo_timm_mobilenet_v3_large[] = { 1, 2, 3, 4, 2, 3, 1 };
const guint _graft_zoo_timm_mobilenet_v3_small[] = { 1, 2, 3, 2, 3, 1 };

static void
name_pair_free (gpointer data)
{
  GraftZooNamePair *pair = data;

  g_free (pair->timm);
  g_free (pair->tv);
  g_free (pair);
}

void
_graft_zoo_name_map_free (GraftZooNameMap *map)
{
  g_hash_table_unref (map->by_timm);
  g_hash_table_unref (map->by_tv);
  g_ptr_array_unref (map->pairs);
  g_free (map);
}

GraftZooNameMap *
_graft_zoo_name_map_new (void)
{
  GraftZooNameMap *map = g_new0 (GraftZooNameMap, 1);

  map->pairs = g_ptr_array_new_with_free_func (name_pair_free);
  map->by_timm = g_hash_table_new (g_str_hash, g_str_equal);
  map->by_tv = g_hash_table_new (g_str_hash, g_str_equal);
  return map;
}

/* Takes both names. */
static void
add_pair (GraftZooNameMap  *map,
          char     *timm,
          char     *tv,
          gboolean  squeeze)
{
  GraftZooNamePair *pair = g_new0 (GraftZooNamePair, 1);

  pair->timm = timm;
  pair->tv = tv;
  pair->squeeze = squeeze;
  g_ptr_array_add (map->pairs, pair);
  g_hash_table_insert (map->by_timm, pair->timm, pair);
  g_hash_table_insert (map->by_tv, pair->tv, pair);
}

/* "T.suffix" and "P.suffix" for a block's prefixes. */
static void
add_sub (GraftZooNameMap    *map,
         const char *timm_prefix,
         const char *timm_suffix,
         const char *tv_prefix,
         const char *tv_suffix)
{
  add_pair (map, g_strconcat (timm_prefix, ".", timm_suffix, NULL),
            g_strconcat (tv_prefix, ".", tv_suffix, NULL), FALSE);
}

/* @name under the other library's name through the pair of its longest prefix ending at
 * a dot (or the whole name), or NULL; @pair_out receives the pair. */
char *
_graft_zoo_map_name (GHashTable  *table,
          const char  *name,
          gboolean     to_tv,
          GraftZooNamePair   **pair_out)
{
  g_autofree char *prefix = g_strdup (name);
  char *dot;

  for (;;)
    {
      GraftZooNamePair *pair = g_hash_table_lookup (table, prefix);

      if (pair != NULL)
        {
          if (pair_out != NULL)
            *pair_out = pair;
          return g_strconcat (to_tv ? pair->tv : pair->timm, name + strlen (prefix), NULL);
        }
      dot = strrchr (prefix, '.');
      if (dot == NULL)
        return NULL;
      *dot = '\0';
    }
}

static gboolean
model_has (GraftModel *model,
           const char *prefix,
           guint       k,
           const char *suffix)
{
  g_autofree char *name = g_strdup_printf ("%s.%u.%s", prefix, k, suffix);

  return graft_model_find_param (model, name) != NULL;
}

/* MobileNetV2, MobileNetV3 and EfficientNet-B0: timm's blocks in order onto torchvision's
 * inverted residuals; @model (torchvision's layout) says which of them have
 * squeeze-and-excitation. */
void
_graft_zoo_timm_add_mobile_pairs (GraftZooNameMap    *map,
                  const char *arch,
                  GraftModel *model)
{
  gboolean v2 = g_str_equal (arch, "mobilenet_v2");
  gboolean efficientnet = g_str_equal (arch, "efficientnet_b0");
  gboolean v3 = !v2 && !efficientnet;
  const guint *stages = v2 ? _graft_zoo_timm_mobilenet_v2
                      : efficientnet ? _graft_zoo_timm_efficientnet_b0
                      : g_str_equal (arch, "mobilenet_v3_large") ? _graft_zoo_timm_mobilenet_v3_large
                      : _graft_zoo_timm_mobilenet_v3_small;
  guint n_stages = v2 ? G_N_ELEMENTS (_graft_zoo_timm_mobilenet_v2)
                 : efficientnet ? G_N_ELEMENTS (_graft_zoo_timm_efficientnet_b0)
                 : g_str_equal (arch, "mobilenet_v3_large") ? G_N_ELEMENTS (_graft_zoo_timm_mobilenet_v3_large)
                 : G_N_ELEMENTS (_graft_zoo_timm_mobilenet_v3_small);
  guint index = 0;   /* blocks so far */

  add_pair (map, g_strdup ("conv_stem"), g_strdup ("features.0.0"), FALSE);
  add_pair (map, g_strdup ("bn1"), g_strdup ("features.0.1"), FALSE);

  for (guint s = 0; s < n_stages; s++)
    for (guint b = 0; b < stages[s]; b++, index++)
      {
        g_autofree char *t = g_strdup_printf ("blocks.%u.%u", s, b);
        g_autofree char *p = efficientnet ? g_strdup_printf ("features.%u.%u.block", s + 1, b)
                           : g_strdup_printf ("features.%u.%s", index + 1, v2 ? "conv" : "block");
        gboolean separable = s == 0 && b == 0;
        guint k = 0;

        if (v3 && s == n_stages - 1)
          {
            /* a conv-bn block: torchvision's Conv2dNormActivation features.N */
            g_autofree char *f = g_strdup_printf ("features.%u", index + 1);

            add_sub (map, t, "conv", f, "0");
            add_sub (map, t, "bn1", f, "1");
            continue;
          }
        if (v2)
          {
            /* torchvision's MobileNetV2 keeps its projection as a bare conv and norm */
            if (separable)
              {
                add_sub (map, t, "conv_dw", p, "0.0");
                add_sub (map, t, "bn1", p, "0.1");
                add_sub (map, t, "conv_pw", p, "1");
                add_sub (map, t, "bn2", p, "2");
              }
            else
              {
                add_sub (map, t, "conv_pw", p, "0.0");
                add_sub (map, t, "bn1", p, "0.1");
                add_sub (map, t, "conv_dw", p, "1.0");
                add_sub (map, t, "bn2", p, "1.1");
                add_sub (map, t, "conv_pwl", p, "2");
                add_sub (map, t, "bn3", p, "3");
              }
            continue;
          }
        if (!separable)
          {
            add_sub (map, t, "conv_pw", p, "0.0");
            add_sub (map, t, "bn1", p, "0.1");
            k++;
          }
        {
          g_autofree char *conv = g_strdup_printf ("%u.0", k);
          g_autofree char *bn = g_strdup_printf ("%u.1", k);

          add_sub (map, t, "conv_dw", p, conv);
          add_sub (map, t, separable ? "bn1" : "bn2", p, bn);
          k++;
        }
        if (model_has (model, p, k, "fc1.weight"))
          {
            g_autofree char *fc1 = g_strdup_printf ("%u.fc1", k);
            g_autofree char *fc2 = g_strdup_printf ("%u.fc2", k);

            add_sub (map, t, "se.conv_reduce", p, fc1);
            add_sub (map, t, "se.conv_expand", p, fc2);
            k++;
          }
        {
          g_autofree char *conv = g_strdup_printf ("%u.0", k);
          g_autofree char *bn = g_strdup_printf ("%u.1", k);

          add_sub (map, t, separable ? "conv_pw" : "conv_pwl", p, conv);
          add_sub (map, t, separable ? "bn2" : "bn3", p, bn);
        }
      }

  if (v3)
    {
      add_pair (map, g_strdup ("conv_head"), g_strdup ("classifier.0"), TRUE);
      add_pair (map, g_strdup ("classifier"), g_strdup ("classifier.3"), FALSE);
    }
  else
    {
      guint head = efficientnet ? n_stages + 1 : index + 1;

      add_pair (map, g_strdup ("conv_head"), g_strdup_printf ("features.%u.0", head), FALSE);
      add_pair (map, g_strdup ("bn2"), g_strdup_printf ("features.%u.1", head), FALSE);
      add_pair (map, g_strdup ("classifier"), g_strdup ("classifier.1"), FALSE);
    }
}

void
_graft_zoo_timm_add_vit_pairs (GraftZooNameMap    *map,
               GraftModel *model)
{
  add_pair (map, g_strdup ("cls_token"), g_strdup ("class_token"), FALSE);
  add_pair (map, g_strdup ("pos_embed"), g_strdup ("encoder.pos_embedding"), FALSE);
  add_pair (map, g_strdup ("patch_embed.proj"), g_strdup ("conv_proj"), FALSE);
  for (guint i = 0;; i++)
    {
      g_autofree char *t = g_strdup_printf ("blocks.%u", i);
      g_autofree char *p = g_strdup_printf ("encoder.layers.encoder_layer_%u", i);
      g_autofree char *ln_1 = g_strconcat (p, ".ln_1.weight", NULL);

      if (graft_model_find_param (model, ln_1) == NULL)
        break;

      add_sub (map, t, "norm1", p, "ln_1");
      /* timm's fused projection stacks q, k and v as nn.MultiheadAttention does */
      add_sub (map, t, "attn.qkv.weight", p, "self_attention.in_proj_weight");
      add_sub (map, t, "attn.qkv.bias", p, "self_attention.in_proj_bias");
      add_sub (map, t, "attn.proj", p, "self_attention.out_proj");
      add_sub (map, t, "norm2", p, "ln_2");
      add_sub (map, t, "mlp.fc1", p, "mlp.0");
      add_sub (map, t, "mlp.fc2", p, "mlp.3");
    }
  add_pair (map, g_strdup ("norm"), g_strdup ("encoder.ln"), FALSE);
  add_pair (map, g_strdup ("head"), g_strdup ("heads.head"), FALSE);
}

/* Renames @w's timm tensors to torchvision's names in place, reshaping where the layouts
 * differ; a tensor whose new name is taken stays as it is (and is reported as
 * unexpected). */
void
_graft_zoo_timm_apply_names (GraftWeights *w,
             GraftZooNameMap      *map,
             GraftModel   *model,
             guint        *n_renamed,
             guint        *n_reshaped)
{
  for (guint i = 0; i < graft_weights_get_n (w); i++)
    {
      GraftWeightsEntry *entry = graft_weights_get (w, i);
      GraftZooNamePair *pair = NULL;
      g_autofree char *tv = _graft_zoo_map_name (map->by_timm, entry->name, TRUE, &pair);
      const GraftParamInfo *param;

      if (tv == NULL || g_str_equal (tv, entry->name))
        continue;
      if (!graft_weights_rename (w, entry->name, tv))
        continue;
      (*n_renamed)++;
      param = graft_model_find_param (model, tv);
      if (pair->squeeze && param != NULL && graft_tensor_get_rank (param->value) == 2 &&
          entry->rank == 4 && entry->shape[2] == 1 && entry->shape[3] == 1)
        {
          entry->rank = 2;
          entry->shape[2] = entry->shape[3] = 0;
          (*n_reshaped)++;
        }
    }
}

