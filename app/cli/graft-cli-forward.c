/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-cli"

/* graft-cli forward: one forward pass (and optionally a cross-entropy backward pass) of a
 * zoo architecture on tensors stored in safetensors files, so that anyone can hold Graft
 * against another framework on weights and inputs of their own. */

#include <stdio.h>

#include "graft.h"
#include "graft-cli-private.h"

/* The tensor called @name in @file, or the file's only tensor. */
static const GraftSafetensorsEntry *
find_tensor (GraftSafetensors  *file,
             const char        *name,
             GError           **error)
{
  const GraftSafetensorsEntry *entry = graft_safetensors_lookup (file, name);

  if (entry == NULL && graft_safetensors_get_n_tensors (file) == 1)
    entry = graft_safetensors_lookup (file, graft_safetensors_get_names (file)[0]);
  if (entry == NULL)
    g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                 "%s holds %u tensors and none is called “%s”", graft_safetensors_get_path (file),
                 graft_safetensors_get_n_tensors (file), name);
  return entry;
}

/* The classifier's output size: the rows of its weight as the weights file stores it. */
static gboolean
classes_from_weights (const char        *arch,
                      GraftSafetensors  *weights,
                      guint             *classes,
                      GError           **error)
{
  const char *classifier = graft_zoo_get_classifier (arch, error);
  g_autofree char *name = NULL;
  const GraftSafetensorsEntry *entry;

  if (classifier == NULL)
    return FALSE;
  name = g_strconcat (classifier, ".weight", NULL);
  entry = graft_safetensors_lookup (weights, name);
  if (entry == NULL || entry->rank != 2 || entry->shape[0] == 0 || entry->shape[0] > G_MAXUINT32)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_MISSING_KEY,
                   "%s has no 2-D tensor “%s”, the classifier of %s",
                   graft_safetensors_get_path (weights), name, arch);
      return FALSE;
    }
  *classes = (guint) entry->shape[0];
  return TRUE;
}

static gboolean
run_forward (GraftCliGlobals  *globals,
             const char       *arch,
             const char       *weights_path,
             const char       *input_path,
             const char       *output_path,
             const char       *labels_path,
             const char       *grads_path,
             gboolean          train,
             gboolean          no_dropout,
             guint64           seed,
             GError          **error)
{
  g_autoptr(GraftBackend) backend = NULL;
  g_autoptr(GraftSafetensors) weights = NULL;
  g_autoptr(GraftSafetensors) input_file = NULL;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftSafetensorsWriter) out = graft_safetensors_writer_new ();
  g_autofree float *input = NULL;
  const GraftSafetensorsEntry *x;
  GraftZooOptions options;
  guint classes = 0;

  backend = graft_backend_open (globals->device, error);
  if (backend == NULL)
    return FALSE;
  weights = graft_safetensors_open (weights_path, error);
  input_file = weights != NULL ? graft_safetensors_open (input_path, error) : NULL;
  if (input_file == NULL)
    return FALSE;

  x = find_tensor (input_file, "input", error);
  if (x == NULL)
    return FALSE;
  if (x->rank != 4 || x->shape[1] > 64 || x->shape[2] > 8192 || x->shape[3] > 8192 ||
      x->shape[2] != x->shape[3] || x->n_elements == 0)
    {
      g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                   "%s: the input must be a batch of square images [N, C, H, W] (C ≤ 64, "
                   "H = W ≤ 8192); “%s” is not", input_path, x->name);
      return FALSE;
    }

  if (!classes_from_weights (arch, weights, &classes, error))
    return FALSE;
  graft_zoo_options_init (&options);
  options.n_classes = classes;
  options.in_channels = x->shape[1];
  options.image_size = x->shape[2];
  model = graft_zoo_build (backend, arch, &options, error);
  if (model == NULL ||
      !graft_model_load_weights (model, weights, error) ||
      !graft_model_prepare (model, x->shape[0], x->shape[2], x->shape[3], error))
    return FALSE;

  input = g_new (float, x->n_elements);
  if (!graft_safetensors_read_f32 (input_file, x->name, x->rank, x->shape, input, error) ||
      !graft_tensor_upload (graft_model_get_input (model), input, x->n_elements, error))
    return FALSE;

  graft_model_set_dropout_enabled (model, !no_dropout);
  if (!graft_model_forward (model, train, seed, error) ||
      !graft_safetensors_writer_add_tensor (out, "output", graft_model_get_output (model), error))
    return FALSE;

  if (labels_path != NULL)
    {
      g_autoptr(GraftSafetensors) labels_file = graft_safetensors_open (labels_path, error);
      const GraftSafetensorsEntry *l = labels_file != NULL ? find_tensor (labels_file, "labels", error) : NULL;
      g_autoptr(GraftTensor) target = NULL;
      g_autofree float *labels = NULL;

      if (l == NULL)
        return FALSE;
      if (l->rank != 1 || l->shape[0] != x->shape[0])
        {
          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                       "%s: the labels must be [%" G_GSIZE_FORMAT "], one class index per image",
                       labels_path, x->shape[0]);
          return FALSE;
        }
      labels = g_new (float, l->n_elements);
      if (!graft_safetensors_read_f32 (labels_file, l->name, 1, l->shape, labels, error))
        return FALSE;
      for (gsize i = 0; i < l->n_elements; i++)
        if (!(labels[i] >= 0.0f && labels[i] < (float) classes && labels[i] == (float) (guint) labels[i]))
          {
            g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_SHAPE,
                         "%s: label %" G_GSIZE_FORMAT " is %g, not a class index below %u",
                         labels_path, i, labels[i], classes);
            return FALSE;
          }
      target = graft_tensor_new (backend, 1, l->shape, error);
      if (target == NULL || !graft_tensor_upload (target, labels, l->n_elements, error) ||
          !graft_model_backward_cross_entropy (model, target, NULL, 0.0f, error) ||
          !graft_safetensors_writer_add_tensor (out, "loss", graft_model_get_loss (model), error) ||
          !graft_safetensors_writer_add_tensor (out, "losses", graft_model_get_losses (model), error))
        return FALSE;

      if (grads_path != NULL)
        {
          g_autoptr(GraftSafetensorsWriter) grads = graft_safetensors_writer_new ();

          graft_safetensors_writer_set_metadata (grads, "arch", arch);
          for (guint i = 0; i < graft_model_get_n_params (model); i++)
            {
              const GraftParamInfo *param = graft_model_get_param (model, i);

              if (param->trainable &&
                  !graft_safetensors_writer_add_tensor (grads, param->name, param->grad, error))
                return FALSE;
            }
          if (!graft_safetensors_writer_save (grads, grads_path, error))
            return FALSE;
        }
    }

  /* In training mode the batch norms' running statistics moved: they go out too. */
  if (train)
    for (guint i = 0; i < graft_model_get_n_params (model); i++)
      {
        const GraftParamInfo *param = graft_model_get_param (model, i);

        if (param->is_buffer &&
            !graft_safetensors_writer_add_tensor (out, param->name, param->value, error))
          return FALSE;
      }

  graft_safetensors_writer_set_metadata (out, "arch", arch);
  graft_safetensors_writer_set_metadata (out, "device", graft_backend_get_info (backend)->name);
  graft_safetensors_writer_set_metadata (out, "mode", train ? "train" : "eval");
  return graft_safetensors_writer_save (out, output_path, error);
}

int
_graft_cli_forward (GraftCliGlobals  *globals,
                    int               argc,
                    char            **argv)
{
  g_autofree char *arch = NULL;
  g_autofree char *weights = NULL;
  g_autofree char *input = NULL;
  g_autofree char *output = NULL;
  g_autofree char *labels = NULL;
  g_autofree char *grads = NULL;
  g_autoptr(GError) error = NULL;
  gboolean train = FALSE, no_dropout = FALSE;
  gint64 seed = 0;
  const GOptionEntry entries[] = {
    { "arch", 0, 0, G_OPTION_ARG_STRING, &arch, "Architecture (resnet18, mobilenet_v3_small, vit_tiny, …)", "NAME" },
    { "weights", 0, 0, G_OPTION_ARG_FILENAME, &weights, "Weights with torchvision's state_dict names", "W.safetensors" },
    { "input", 0, 0, G_OPTION_ARG_FILENAME, &input, "Images [N, C, H, W] as “input” (or the only tensor)", "X.safetensors" },
    { "output", 0, 0, G_OPTION_ARG_FILENAME, &output, "Where to write “output” [N, classes] (and loss, statistics)", "Y.safetensors" },
    { "train", 0, 0, G_OPTION_ARG_NONE, &train, "Training mode: batch statistics, dropout", NULL },
    { "no-dropout", 0, 0, G_OPTION_ARG_NONE, &no_dropout, "Switch dropout and stochastic depth off in training mode", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Seed of dropout's draws (default 0)", "N" },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &labels, "Class indices [N] as “labels”: adds cross-entropy and a backward pass", "L.safetensors" },
    { "grads", 0, 0, G_OPTION_ARG_FILENAME, &grads, "Where to write every parameter's gradient (needs --labels)", "G.safetensors" },
    G_OPTION_ENTRY_NULL
  };

  if (!_graft_cli_parse (globals, &argc, &argv, entries, "",
                         "Run one forward pass (and, with --labels, a cross-entropy backward\n"
                         "pass) of a model on tensors stored in safetensors files."))
    return GRAFT_CLI_EXIT_USAGE;

  if (argc != 1 || arch == NULL || weights == NULL || input == NULL || output == NULL ||
      (grads != NULL && labels == NULL))
    {
      _graft_cli_error ("usage: graft-cli forward --arch NAME --weights W.safetensors "
                        "--input X.safetensors --output Y.safetensors [--train [--no-dropout]] "
                        "[--labels L.safetensors [--grads G.safetensors]] [--device DEVICE]");
      return GRAFT_CLI_EXIT_USAGE;
    }

  if (!run_forward (globals, arch, weights, input, output, labels, grads, train, no_dropout,
                    (guint64) seed, &error))
    {
      _graft_cli_error ("%s", error->message);
      return GRAFT_CLI_EXIT_FAILURE;
    }
  if (!globals->json)
    printf ("Wrote %s%s%s\n", output, grads != NULL ? " and " : "", grads != NULL ? grads : "");
  return GRAFT_CLI_EXIT_OK;
}
