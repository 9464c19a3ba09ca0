/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-zoo"

#include <math.h>

#include "graft-zoo-private.h"

typedef struct {
  const char      *arch;
  GraftZooBuilder  build;
  const char      *classifier;
  guint            n_features;   /* the classifier's input width */
  const char      *first_conv;
} ZooEntry;

static const ZooEntry zoo[] = {
  { "resnet10", _graft_zoo_build_resnet, "fc", 512, "conv1" },
  { "resnet18", _graft_zoo_build_resnet, "fc", 512, "conv1" },
  { "resnet34", _graft_zoo_build_resnet, "fc", 512, "conv1" },
  { "resnet50", _graft_zoo_build_resnet, "fc", 2048, "conv1" },
  { "mobilenet_v2", _graft_zoo_build_mobilenet_v2, "classifier.1", 1280, "features.0.0" },
  { "mobilenet_v3_small", _graft_zoo_build_mobilenet_v3, "classifier.3", 1024, "features.0.0" },
  { "mobilenet_v3_large", _graft_zoo_build_mobilenet_v3, "classifier.3", 1280, "features.0.0" },
  { "efficientnet_b0", _graft_zoo_build_efficientnet, "classifier.1", 1280, "features.0.0" },
  { "vit_tiny", _graft_zoo_build_vit, "heads.head", 192, "conv_proj" },
};

static const char *const zoo_names[] = {
  "resnet10", "resnet18", "resnet34", "resnet50",
  "mobilenet_v2", "mobilenet_v3_small", "mobilenet_v3_large",
  "efficientnet_b0",
  "vit_tiny",
  NULL
};

G_STATIC_ASSERT (G_N_ELEMENTS (zoo) + 1 == G_N_ELEMENTS (zoo_names));

void
graft_zoo_options_init (GraftZooOptions *options)
{
  g_return_if_fail (options != NULL);

  options->n_classes = 1000;
  options->in_channels = 3;
  options->image_size = 224;
  options->dropout = -1.0f;
  options->seed = 0;
  options->head = GRAFT_ZOO_HEAD_LINEAR;
  options->head_hidden = 256;
  options->head_dropout = 0.2f;
}

const char *const *
graft_zoo_list (void)
{
  return zoo_names;
}

/* The zoo's entry for @arch, or NULL with an error listing the known ones. */
static const ZooEntry *
find_entry (const char  *arch,
            GError     **error)
{
  g_autofree char *known = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (zoo); i++)
    if (g_str_equal (zoo[i].arch, arch))
      return &zoo[i];

  known = g_strjoinv (", ", (char **) zoo_names);
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
               "Unknown architecture “%s”; known ones are %s", arch, known);
  return NULL;
}

const char *
graft_zoo_get_classifier (const char  *arch,
                          GError     **error)
{
  const ZooEntry *entry;

  g_return_val_if_fail (arch != NULL, NULL);

  entry = find_entry (arch, error);
  return entry != NULL ? entry->classifier : NULL;
}

guint
graft_zoo_get_n_features (const char  *arch,
                          GError     **error)
{
  const ZooEntry *entry;

  g_return_val_if_fail (arch != NULL, 0);

  entry = find_entry (arch, error);
  return entry != NULL ? entry->n_features : 0;
}

const char *
graft_zoo_get_first_conv (const char  *arch,
                          GError     **error)
{
  const ZooEntry *entry;

  g_return_val_if_fail (arch != NULL, NULL);

  entry = find_entry (arch, error);
  return entry != NULL ? entry->first_conv : NULL;
}

char **
graft_zoo_get_head_names (const char             *arch,
                          const GraftZooOptions  *options,
                          GError                **error)
{
  GraftZooOptions defaults;
  const ZooEntry *entry;
  GPtrArray *names;

  g_return_val_if_fail (arch != NULL, NULL);

  if (options == NULL)
    {
      graft_zoo_options_init (&defaults);
      options = &defaults;
    }
  entry = find_entry (arch, error);
  if (entry == NULL)
    return NULL;
  names = g_ptr_array_new ();
  if (options->head == GRAFT_ZOO_HEAD_MLP)
    {
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".0.weight", NULL));
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".0.bias", NULL));
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".3.weight", NULL));
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".3.bias", NULL));
    }
  else
    {
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".weight", NULL));
      g_ptr_array_add (names, g_strconcat (entry->classifier, ".bias", NULL));
    }
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

GraftModel *
graft_zoo_build (GraftBackend           *backend,
                 const char             *arch,
                 const GraftZooOptions  *options,
                 GError                **error)
{
  g_autoptr(GraftModel) model = NULL;
  const ZooEntry *entry;
  GraftZooOptions defaults;
  int output;

  g_return_val_if_fail (backend != NULL && arch != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (options == NULL)
    {
      graft_zoo_options_init (&defaults);
      options = &defaults;
    }
  if (options->n_classes == 0 || options->in_channels == 0 || options->image_size == 0 ||
      options->dropout >= 1.0f)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "%s needs at least one class, one input channel, an image size and a "
                   "dropout below 1", arch);
      return NULL;
    }
  if (options->head != GRAFT_ZOO_HEAD_LINEAR &&
      (options->head != GRAFT_ZOO_HEAD_MLP || options->head_hidden == 0 ||
       !(options->head_dropout >= 0.0f && options->head_dropout < 1.0f)))
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "%s: an MLP head needs a hidden width of at least one and a dropout from "
                   "0 up to (not including) 1; choose a linear head otherwise", arch);
      return NULL;
    }

  entry = find_entry (arch, error);
  if (entry == NULL)
    return NULL;
  model = graft_model_new (backend, arch, options->in_channels, options->seed);
  output = entry->build (model, arch, options);
  if (output < 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "%s cannot be built with %u input channels at %u pixels", arch,
                   options->in_channels, options->image_size);
      return NULL;
    }
  if (!graft_model_finish (model, output, error))
    return NULL;
  return g_steal_pointer (&model);
}

int
_graft_zoo_conv_bn_act (GraftModel      *model,
                        const char      *prefix,
                        int              input,
                        guint            out_channels,
                        guint            kernel,
                        guint            stride,
                        guint            groups,
                        float            bn_eps,
                        float            bn_momentum,
                        gboolean         has_act,
                        GraftActivation  act)
{
  g_autofree char *conv = g_strconcat (prefix, ".0", NULL);
  g_autofree char *bn = g_strconcat (prefix, ".1", NULL);
  int x;

  x = graft_model_add_conv2d (model, conv, input, out_channels, kernel, stride,
                              (kernel - 1) / 2, 1, groups, FALSE);
  x = graft_model_add_batch_norm2d (model, bn, x, bn_eps, bn_momentum);
  return has_act ? graft_model_add_activation (model, x, act) : x;
}

int
_graft_zoo_add_head (GraftModel            *model,
                     const char            *name,
                     int                    input,
                     const GraftZooOptions *options)
{
  g_autofree char *hidden = NULL;
  g_autofree char *out = NULL;
  int x;

  if (options->head != GRAFT_ZOO_HEAD_MLP)
    return graft_model_add_linear (model, name, input, options->n_classes, TRUE);

  /* nn.Sequential (Linear, ReLU, Dropout, Linear): its linear layers are items 0 and 3 */
  hidden = g_strconcat (name, ".0", NULL);
  out = g_strconcat (name, ".3", NULL);
  x = graft_model_add_linear (model, hidden, input, options->head_hidden, TRUE);
  x = graft_model_add_activation (model, x, GRAFT_ACTIVATION_RELU);
  if (options->head_dropout > 0.0f)
    x = graft_model_add_dropout (model, x, options->head_dropout);
  return graft_model_add_linear (model, out, x, options->n_classes, TRUE);
}

int
_graft_zoo_squeeze_excitation (GraftModel      *model,
                               const char      *prefix,
                               int              input,
                               guint            channels,
                               guint            squeeze_channels,
                               GraftActivation  act,
                               GraftActivation  scale_act)
{
  g_autofree char *fc1 = g_strconcat (prefix, ".fc1", NULL);
  g_autofree char *fc2 = g_strconcat (prefix, ".fc2", NULL);
  int s;

  s = graft_model_add_adaptive_avg_pool2d (model, input, 1, 1);
  s = graft_model_add_conv2d (model, fc1, s, squeeze_channels, 1, 1, 0, 1, 1, TRUE);
  s = graft_model_add_activation (model, s, act);
  s = graft_model_add_conv2d (model, fc2, s, channels, 1, 1, 0, 1, 1, TRUE);
  s = graft_model_add_activation (model, s, scale_act);
  return graft_model_add_scale_channels (model, input, s);
}

guint
_graft_zoo_make_divisible (double v,
                           guint  divisor)
{
  guint rounded = (guint) (v + divisor / 2.0) / divisor * divisor;

  rounded = MAX (rounded, divisor);
  if (rounded < 0.9 * v)
    rounded += divisor;
  return rounded;
}

static gboolean
fill_param (GraftModel    *model,
            const char    *layer,
            const char    *suffix,
            GraftInitKind  init,
            double         a,
            GRand         *rand)
{
  g_autofree char *name = g_strconcat (layer, ".", suffix, NULL);
  const GraftParamInfo *info = graft_model_find_param (model, name);
  g_autoptr(GError) error = NULL;
  g_autofree float *data = NULL;
  gsize n;

  if (info == NULL)
    return FALSE;
  n = graft_tensor_get_n_elements (info->value);
  data = g_new (float, n);
  _graft_model_init_values (rand, a == 0.0 ? GRAFT_INIT_ZEROS : init, a, data, n);
  if (!graft_tensor_upload (info->value, data, n, &error))
    {
      g_warning ("Cannot initialise %s: %s", name, error->message);
      return FALSE;
    }
  return TRUE;
}

gboolean
_graft_zoo_init_linear (GraftModel   *model,
                        const char   *name,
                        GraftInitKind init,
                        double        a,
                        guint64       seed)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed_array ((const guint32[]) {
                                                        (guint32) seed, (guint32) (seed >> 32),
                                                        g_str_hash (name) }, 3);

  return fill_param (model, name, "weight", init, a, rand) &&
         fill_param (model, name, "bias", init, 0.0, rand);
}
