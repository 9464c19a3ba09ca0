/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

/* Importing a weights file for one of the zoo's architectures: which architecture and
 * which library's names it holds (inferred from its tensors), timm's names mapped onto
 * torchvision's, and every tensor checked against the zoo's own model, built on the CPU
 * backend with the file's class count, input channels and image size.
 *
 * timm's names, from its module structure:
 *   ResNet: torchvision's own (conv1, bn1, layerS.B.conv1 …, downsample.0/1, fc).
 *   EfficientNet class (mobilenetv2_100, efficientnet_b0) and MobileNetV3 class
 *   (mobilenetv3_large_100, mobilenetv3_small_100): conv_stem, bn1 (torchvision's
 *   features.0); blocks.S.B, stage S and block B of the timm arch definition, one block
 *   per torchvision inverted residual (features.N for the MobileNets, features.S+1.B for
 *   EfficientNet), the first a depthwise-separable block (conv_dw, bn1, se, conv_pw, bn2),
 *   the others inverted residuals (conv_pw, bn1, conv_dw, bn2, se, conv_pwl, bn3),
 *   MobileNetV3's last a conv-bn block (conv, bn1); se.conv_reduce and se.conv_expand are
 *   torchvision's fc1 and fc2. The EfficientNet class ends in conv_head, bn2 (the last
 *   features entry) and classifier; MobileNetV3 pools first and ends in conv_head, a 1×1
 *   convolution with bias (torchvision's linear classifier.0) and classifier
 *   (classifier.3).
 *   VisionTransformer: cls_token, pos_embed (class token first, as torchvision's),
 *   patch_embed.proj, blocks.N.{norm1, attn.qkv (q, k, v stacked as in_proj_weight),
 *   attn.proj, norm2, mlp.fc1, mlp.fc2}, norm, head. */

#include <math.h>
#include <string.h>

#include "graft-zoo-import.h"
#include "graft-zoo-import-private.h"
#include "graft-zoo.h"
#include "backend/graft-backend.h"

#define NAMING_TORCHVISION "torchvision"
#define NAMING_TIMM "timm"
#define VIT_PATCH 16

/* Blocks per stage of torchvision's ResNets, and its inverted residuals (features.1 …)
 * of the MobileNets; EfficientNet-B0's stages are timm's. Inference only: the zoo's model
 * is what every tensor is checked against. */
typedef struct {
  const char *arch;
  guint       blocks[4];
  gboolean    bottleneck;
} ResNetShape;

static const ResNetShape resnets[] = {
  { "resnet10", { 1, 1, 1, 1 }, FALSE },
  { "resnet18", { 2, 2, 2, 2 }, FALSE },
  { "resnet34", { 3, 4, 6, 3 }, FALSE },
  { "resnet50", { 3, 4, 6, 3 }, TRUE },
};

#define TV_MOBILENET_V2_BLOCKS 17
#define TV_MOBILENET_V3_LARGE_BLOCKS 15
#define TV_MOBILENET_V3_SMALL_BLOCKS 11
#define VIT_TINY_LAYERS 12
#define VIT_TINY_HIDDEN 192

void
graft_zoo_import_info_clear (GraftZooImportInfo *info)
{
  g_return_if_fail (info != NULL);

  g_free (info->arch);
  g_free (info->file_arch);
  memset (info, 0, sizeof *info);
}

/* ---- looking at a file ------------------------------------------------------------------ */

static GraftWeightsEntry *find (GraftWeights *w, const char *format, ...) G_GNUC_PRINTF (2, 3);

static GraftWeightsEntry *
find (GraftWeights *w,
      const char   *format,
      ...)
{
  g_autofree char *name = NULL;
  va_list args;

  va_start (args, format);
  name = g_strdup_vprintf (format, args);
  va_end (args);
  return graft_weights_lookup (w, name);
}

static gboolean
same_counts (const guint *a,
             guint        n_a,
             const guint *b,
             guint        n_b)
{
  return n_a == n_b && memcmp (a, b, n_a * sizeof (guint)) == 0;
}

static char *
counts_string (const guint *counts,
               guint        n)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < n; i++)
    g_string_append_printf (s, "%s%u", i > 0 ? "-" : "", counts[i]);
  return g_string_free (s, FALSE);
}

static gboolean
has_timm_block (GraftWeights *w,
                guint         stage,
                guint         block)
{
  return find (w, "blocks.%u.%u.conv_dw.weight", stage, block) != NULL ||
         find (w, "blocks.%u.%u.conv_pw.weight", stage, block) != NULL ||
         find (w, "blocks.%u.%u.conv.weight", stage, block) != NULL;
}

static const char *
infer_resnet (GraftWeights *w,
              GString      *looks)
{
  gboolean bottleneck = find (w, "layer1.0.conv3.weight") != NULL;
  g_autofree char *counts = NULL;
  guint blocks[4];

  for (guint s = 0; s < 4; s++)
    for (blocks[s] = 0; find (w, "layer%u.%u.conv1.weight", s + 1, blocks[s]) != NULL;)
      blocks[s]++;
  counts = counts_string (blocks, 4);
  g_string_printf (looks, "a ResNet of %s %s blocks", counts, bottleneck ? "bottleneck" : "basic");
  for (guint i = 0; i < G_N_ELEMENTS (resnets); i++)
    if (resnets[i].bottleneck == bottleneck && same_counts (blocks, 4, resnets[i].blocks, 4))
      return resnets[i].arch;
  return NULL;
}

static const char *
infer_vit (GraftWeights *w,
           gboolean      timm,
           GString      *looks)
{
  GraftWeightsEntry *proj = find (w, timm ? "patch_embed.proj.weight" : "conv_proj.weight");
  guint layers = 0;
  gsize hidden = 0, patch = 0;

  while (timm ? find (w, "blocks.%u.norm1.weight", layers) != NULL
              : find (w, "encoder.layers.encoder_layer_%u.ln_1.weight", layers) != NULL)
    layers++;
  if (proj != NULL && proj->rank == 4)
    {
      hidden = proj->shape[0];
      patch = proj->shape[2];
    }
  g_string_printf (looks, "a Vision Transformer (%s's names) of %u layers, width %" G_GSIZE_FORMAT
                   " and %" G_GSIZE_FORMAT "-pixel patches", timm ? "timm" : "torchvision", layers,
                   hidden, patch);
  if (layers == VIT_TINY_LAYERS && hidden == VIT_TINY_HIDDEN && patch == VIT_PATCH)
    return "vit_tiny";
  return NULL;
}

static const char *
infer_torchvision_mobile (GraftWeights *w,
                          GString      *looks)
{
  guint n = 0;

  if (find (w, "features.1.conv.0.0.weight") != NULL)
    {
      while (find (w, "features.%u.conv.0.0.weight", n + 1) != NULL)
        n++;
      g_string_printf (looks, "a MobileNetV2 (torchvision's names) of %u inverted residuals", n);
      return n == TV_MOBILENET_V2_BLOCKS ? "mobilenet_v2" : NULL;
    }
  if (find (w, "features.1.block.0.0.weight") != NULL)
    {
      while (find (w, "features.%u.block.0.0.weight", n + 1) != NULL)
        n++;
      g_string_printf (looks, "a MobileNetV3 (torchvision's names) of %u inverted residuals", n);
      return n == TV_MOBILENET_V3_LARGE_BLOCKS ? "mobilenet_v3_large"
           : n == TV_MOBILENET_V3_SMALL_BLOCKS ? "mobilenet_v3_small" : NULL;
    }
  if (find (w, "features.1.0.block.0.0.weight") != NULL)
    {
      guint stages[16], n_stages = 0;
      g_autofree char *counts = NULL;

      while (n_stages < G_N_ELEMENTS (stages) &&
             find (w, "features.%u.0.block.0.0.weight", n_stages + 1) != NULL)
        {
          for (stages[n_stages] = 0;
               find (w, "features.%u.%u.block.0.0.weight", n_stages + 1, stages[n_stages]) != NULL;)
            stages[n_stages]++;
          n_stages++;
        }
      counts = counts_string (stages, n_stages);
      g_string_printf (looks, "an EfficientNet (torchvision's names) of stages of %s blocks", counts);
      return same_counts (stages, n_stages, _graft_zoo_timm_efficientnet_b0,
                          G_N_ELEMENTS (_graft_zoo_timm_efficientnet_b0)) ? "efficientnet_b0" : NULL;
    }
  g_string_printf (looks, "a network of torchvision's “features” layout that Graft does not know");
  return NULL;
}

static const char *
infer_timm_mobile (GraftWeights *w,
                   GString      *looks)
{
  /* timm's EfficientNet class normalises after its head convolution (bn2); its
   * MobileNetV3 class pools first and has none */
  gboolean efficient_head = find (w, "bn2.weight") != NULL;
  guint stages[16], n_stages = 0;
  g_autofree char *counts = NULL;

  while (n_stages < G_N_ELEMENTS (stages) && has_timm_block (w, n_stages, 0))
    {
      for (stages[n_stages] = 0; has_timm_block (w, n_stages, stages[n_stages]);)
        stages[n_stages]++;
      n_stages++;
    }
  counts = counts_string (stages, n_stages);
  g_string_printf (looks, "a timm %s of stages of %s blocks",
                   efficient_head ? "EfficientNet-class network" : "MobileNetV3-class network",
                   counts);
#define IS(table) same_counts (stages, n_stages, table, G_N_ELEMENTS (table))
  if (efficient_head)
    return IS (_graft_zoo_timm_mobilenet_v2) ? "mobilenet_v2" : IS (_graft_zoo_timm_efficientnet_b0) ? "efficientnet_b0" : NULL;
  return IS (_graft_zoo_timm_mobilenet_v3_large) ? "mobilenet_v3_large"
       : IS (_graft_zoo_timm_mobilenet_v3_small) ? "mobilenet_v3_small" : NULL;
#undef IS
}

/* timm's names: its stems, or its "blocks", which torchvision's models of the zoo do not
 * have at the top. */
static gboolean
is_timm (GraftWeights *w)
{
  if (find (w, "conv_stem.weight") != NULL || find (w, "cls_token") != NULL ||
      find (w, "pos_embed") != NULL || find (w, "patch_embed.proj.weight") != NULL)
    return TRUE;
  for (guint i = 0; i < graft_weights_get_n (w); i++)
    if (g_str_has_prefix (graft_weights_get (w, i)->name, "blocks."))
      return TRUE;
  return FALSE;
}

/* The architecture the tensors show, or NULL; @looks says what they look like. */
static const char *
infer_arch (GraftWeights *w,
            GString      *looks)
{
  if (find (w, "conv1.weight") != NULL && find (w, "layer1.0.conv1.weight") != NULL)
    return infer_resnet (w, looks);
  if (find (w, "cls_token") != NULL || find (w, "patch_embed.proj.weight") != NULL)
    return infer_vit (w, TRUE, looks);
  if (find (w, "class_token") != NULL || find (w, "conv_proj.weight") != NULL)
    return infer_vit (w, FALSE, looks);
  if (find (w, "conv_stem.weight") != NULL)
    return infer_timm_mobile (w, looks);
  if (find (w, "features.0.0.weight") != NULL)
    return infer_torchvision_mobile (w, looks);
  g_string_printf (looks, "no layout Graft recognises");
  return NULL;
}

static gboolean
is_zoo_arch (const char *arch)
{
  return arch != NULL && g_strv_contains ((const char *const *) graft_zoo_list (), arch);
}

static gboolean
is_resnet (const char *arch)
{
  return g_str_has_prefix (arch, "resnet");
}

static gboolean
is_vit (const char *arch)
{
  return g_str_equal (arch, "vit_tiny");
}

/* The first @n tensors with their shapes, for messages. */
static char *
first_tensors (GraftWeights *w,
               guint         n)
{
  GString *s = g_string_new (NULL);
  guint total = graft_weights_get_n (w);

  for (guint i = 0; i < MIN (n, total); i++)
    {
      GraftWeightsEntry *entry = graft_weights_get (w, i);
      g_autofree char *shape = graft_weights_entry_shape_string (entry);

      g_string_append_printf (s, "%s%s %s", i > 0 ? ", " : "", entry->name, shape);
    }
  if (total > n)
    g_string_append_printf (s, " and %u more", total - n);
  if (total == 0)
    g_string_append (s, "none");
  return g_string_free (s, FALSE);
}

/* ---- the file's own facts: classes, input channels, image size -------------------------- */

typedef struct {
  guint n_classes;
  guint in_channels;
  guint image_size;   /* 0 for the CNNs */
} FileFacts;

static gboolean
read_facts (GraftWeights  *w,
            const char    *path,
            const char    *arch,
            gboolean       timm,
            FileFacts     *facts,
            GError       **error)
{
  g_autofree char *classifier = NULL;
  const char *first_conv, *pos_name = NULL;
  GraftWeightsEntry *entry;

  if (is_resnet (arch))
    {
      first_conv = "conv1.weight";
      classifier = g_strdup ("fc.weight");
    }
  else if (is_vit (arch))
    {
      first_conv = timm ? "patch_embed.proj.weight" : "conv_proj.weight";
      classifier = g_strdup (timm ? "head.weight" : "heads.head.weight");
      pos_name = timm ? "pos_embed" : "encoder.pos_embedding";
    }
  else
    {
      first_conv = timm ? "conv_stem.weight" : "features.0.0.weight";
      classifier = timm ? g_strdup ("classifier.weight")
                        : g_strconcat (graft_zoo_get_classifier (arch, NULL), ".weight", NULL);
    }

  /* where a tensor is missing or of another rank, the defaults stand and the check
   * against the model names it */
  facts->n_classes = 1000;
  facts->in_channels = 3;
  facts->image_size = 0;
  entry = graft_weights_lookup (w, classifier);
  if (entry != NULL && entry->rank == 2 && entry->shape[0] > 0)
    facts->n_classes = entry->shape[0];
  entry = graft_weights_lookup (w, first_conv);
  if (entry != NULL && entry->rank == 4 && entry->shape[1] > 0)
    facts->in_channels = entry->shape[1];

  if (pos_name != NULL)
    {
      facts->image_size = 224;
      entry = graft_weights_lookup (w, pos_name);
      if (entry != NULL && entry->rank == 3)
        {
          gsize side = entry->shape[1] >= 2
                     ? (gsize) llround (sqrt ((double) entry->shape[1] - 1.0)) : 0;

          if (side == 0 || side * side + 1 != entry->shape[1])
            {
              g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                           "The position embedding %s of “%s” holds %" G_GSIZE_FORMAT " positions; "
                           "a Vision Transformer needs one for the class token and a square grid "
                           "of %d-pixel patches (197 for 224 pixels). The file is damaged or of "
                           "another model", pos_name, path, entry->shape[1], VIT_PATCH);
              return FALSE;
            }
          facts->image_size = side * VIT_PATCH;
        }
    }
  return TRUE;
}

/* ---- checking against the zoo's model ----------------------------------------------------- */

typedef struct {
  GString    *text;
  int         first_code;
  guint       n;
  GraftZooNameMap *map;       /* NULL for torchvision's names */
} Problems;

static void problem (Problems *p, int code, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
problem (Problems   *p,
         int         code,
         const char *format,
         ...)
{
  va_list args;

  if (p->first_code < 0)
    p->first_code = code;
  if (p->n++ > 0)
    g_string_append (p->text, "; ");
  va_start (args, format);
  g_string_append_vprintf (p->text, format, args);
  va_end (args);
}

/* "features.2.block.0.0.weight (timm's blocks.1.0.conv_pw.weight)" for a tensor that has
 * a timm name, else the name alone. */
static char *
both_names (Problems   *p,
            const char *tv)
{
  g_autofree char *timm = p->map != NULL ? _graft_zoo_map_name (p->map->by_tv, tv, FALSE, NULL) : NULL;

  if (timm == NULL || g_str_equal (timm, tv))
    return g_strdup (tv);
  return g_strdup_printf ("%s (timm's %s)", tv, timm);
}

static gboolean
check_against (GraftWeights  *w,
               GraftModel    *model,
               const char    *path,
               const char    *arch,
               const char    *naming,
               GraftZooNameMap *map,
               GError       **error)
{
  Problems p = { g_string_new (NULL), -1, 0, map };
  g_autoptr(GString) text = p.text;
  g_autoptr(GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);

  for (guint i = 0; i < graft_model_get_n_params (model); i++)
    {
      const GraftParamInfo *param = graft_model_get_param (model, i);
      GraftWeightsEntry *entry = graft_weights_lookup (w, param->name);
      g_autofree char *name = both_names (&p, param->name);
      GraftWeightsEntry expected = { .rank = graft_tensor_get_rank (param->value) };
      gboolean same;

      g_hash_table_add (known, (gpointer) param->name);
      if (entry == NULL)
        {
          problem (&p, GRAFT_IO_ERROR_MISSING_KEY, "%s is missing", name);
          continue;
        }
      memcpy (expected.shape, graft_tensor_get_shape (param->value), expected.rank * sizeof (gsize));
      same = entry->rank == expected.rank &&
             memcmp (entry->shape, expected.shape, expected.rank * sizeof (gsize)) == 0;
      if (!same)
        {
          g_autofree char *got = graft_weights_entry_shape_string (entry);
          g_autofree char *want = graft_weights_entry_shape_string (&expected);

          problem (&p, GRAFT_IO_ERROR_SHAPE, "%s is %s, %s needs %s", name, got, arch, want);
        }
    }
  for (guint i = 0; i < graft_weights_get_n (w); i++)
    {
      GraftWeightsEntry *entry = graft_weights_get (w, i);

      if (!g_hash_table_contains (known, entry->name))
        {
          g_autofree char *name = both_names (&p, entry->name);

          problem (&p, GRAFT_IO_ERROR_UNEXPECTED_KEY, "%s is not part of %s", name, arch);
        }
    }

  if (p.n == 0)
    return TRUE;
  g_set_error (error, GRAFT_IO_ERROR, p.first_code,
               "The weights in “%s” (%s's names) do not fit %s with %u classes and %u input "
               "channels, %u problem%s: %s. Use weights saved from %s (by torchvision, timm or "
               "Graft), or name the architecture they were saved from", path, naming, arch,
               graft_model_get_n_classes (model), graft_model_get_in_channels (model), p.n,
               p.n == 1 ? "" : "s", text->str, arch);
  return FALSE;
}

static guint
drop_counters (GraftWeights *w)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; i < graft_weights_get_n (w); i++)
    {
      const char *name = graft_weights_get (w, i)->name;

      if (g_str_equal (name, "num_batches_tracked") || g_str_has_suffix (name, ".num_batches_tracked"))
        g_ptr_array_add (names, g_strdup (name));
    }
  for (guint i = 0; i < names->len; i++)
    graft_weights_remove (w, g_ptr_array_index (names, i));
  return names->len;
}

/* ---- importing ------------------------------------------------------------------------------ */

/* A CPU backend of one thread to hold the model the file is checked against: it runs
 * nothing, so it needs no workers, and opening it does not list the Vulkan devices. */
static GraftBackend *
open_cpu (GError **error)
{
  GraftDeviceInfo info = {
    .id = (char *) "cpu",
    .backend = GRAFT_BACKEND_KIND_CPU,
    .type = GRAFT_DEVICE_TYPE_CPU,
    .name = (char *) "CPU (checking imported weights)",
    .driver = (char *) "",
    .max_storage_buffer_range = (guint64) G_MAXUINT32 * sizeof (float),
    .max_buffer_size = (guint64) G_MAXUINT32 * sizeof (float),
    .n_threads = 1,
  };

  return graft_backend_open_device (&info, error);
}

GraftWeights *
graft_zoo_import (const char          *path,
                  const char          *arch,
                  GraftZooImportInfo  *info,
                  GError             **error)
{
  g_autoptr(GraftWeights) weights = NULL;
  g_autoptr(GString) looks = g_string_new (NULL);
  g_autoptr(GraftBackend) cpu = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftZooNameMap) map = NULL;
  GraftZooOptions options;
  FileFacts facts;
  g_autofree char *file_arch = NULL;
  const char *inferred, *naming;
  gboolean timm;
  guint n_dropped, n_renamed = 0, n_reshaped = 0;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  weights = graft_weights_read_file (path, error);
  if (weights == NULL)
    return NULL;
  n_dropped = drop_counters (weights);
  timm = is_timm (weights);
  inferred = infer_arch (weights, looks);
  file_arch = g_strdup (graft_weights_get_metadata (weights, "arch"));

  if (is_zoo_arch (file_arch) && inferred != NULL && !g_str_equal (file_arch, inferred))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "“%s” says it holds %s, but its tensors are %s's (%s): its “arch” metadata "
                   "is wrong or its tensors were replaced. Correct the metadata or use the file "
                   "it was meant to be", path, file_arch, inferred, looks->str);
      return NULL;
    }
  if (arch == NULL)
    arch = inferred != NULL ? inferred : is_zoo_arch (file_arch) ? file_arch : NULL;
  if (arch == NULL)
    {
      g_autofree char *known = g_strjoinv (", ", (char **) graft_zoo_list ());
      g_autofree char *first = first_tensors (weights, 6);

      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "“%s” holds weights of no architecture Graft knows (%s, in torchvision's or "
                   "timm's names): its %u tensors look like %s; the first are %s. Use weights "
                   "of one of these architectures", path, known, graft_weights_get_n (weights),
                   looks->str, first);
      return NULL;
    }
  if (!is_zoo_arch (arch))
    {
      g_autofree char *known = g_strjoinv (", ", (char **) graft_zoo_list ());

      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "Cannot import “%s” as %s: Graft knows %s", path, arch, known);
      return NULL;
    }
  /* timm's ResNets have torchvision's names */
  timm = timm && !is_resnet (arch);
  naming = timm ? NAMING_TIMM : NAMING_TORCHVISION;

  if (!read_facts (weights, path, arch, timm, &facts, error))
    return NULL;
  graft_zoo_options_init (&options);
  options.n_classes = facts.n_classes;
  options.in_channels = facts.in_channels;
  if (facts.image_size > 0)
    options.image_size = facts.image_size;

  cpu = open_cpu (error);
  if (cpu == NULL)
    {
      g_prefix_error (error, "Cannot check “%s” against %s: ", path, arch);
      return NULL;
    }
  model = graft_zoo_build (cpu, arch, &options, error);
  if (model == NULL)
    {
      g_prefix_error (error, "Cannot check “%s” against %s: ", path, arch);
      return NULL;
    }

  if (timm)
    {
      map = _graft_zoo_name_map_new ();
      if (is_vit (arch))
        _graft_zoo_timm_add_vit_pairs (map, model);
      else
        _graft_zoo_timm_add_mobile_pairs (map, arch, model);
      _graft_zoo_timm_apply_names (weights, map, model, &n_renamed, &n_reshaped);
    }
  if (!check_against (weights, model, path, arch, naming, map, error))
    {
      if (inferred != NULL && !g_str_equal (inferred, arch))
        g_prefix_error (error, "%s was asked for, but the tensors look like %s's. ", arch, inferred);
      return NULL;
    }

  graft_weights_set_metadata (weights, "arch", arch);
  if (info != NULL)
    {
      graft_zoo_import_info_clear (info);
      info->arch = g_strdup (arch);
      info->naming = naming;
      info->n_classes = facts.n_classes;
      info->in_channels = facts.in_channels;
      info->image_size = facts.image_size;
      info->n_tensors = graft_weights_get_n (weights);
      info->n_renamed = n_renamed;
      info->n_reshaped = n_reshaped;
      info->n_dropped = n_dropped;
      info->file_arch = g_strdup (file_arch);
    }
  return g_steal_pointer (&weights);
}
