/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <float.h>
#include <math.h>
#include <string.h>

#include "graft-predict.h"
#include "graft-train-config.h"

void
graft_input_spec_loader_options (const GraftInputSpec *spec,
                                 gboolean              train,
                                 int                   level,
                                 guint                 batch,
                                 guint64               seed,
                                 GraftLoaderOptions   *options)
{
  g_return_if_fail (spec != NULL && options != NULL);

  graft_loader_options_init (options, spec->size, train);
  options->batch_size = batch;
  options->channels = spec->channels;
  memcpy (options->mean, spec->mean, sizeof options->mean);
  memcpy (options->std, spec->std, sizeof options->std);
  options->seed = seed;
  options->shuffle = train;
  options->drop_last = train;

  /* The whole image: a model trained on small images (28 pixels) loses too much to
   * ImageNet's 87.5 % centre crop, and training and evaluation see the same framing. */
  graft_augment_options_init_eval (&options->augment, spec->size, GRAFT_AUGMENT_RESIZE_CENTRE_CROP);
  options->augment.centre_fraction = 1.0f;
  options->train = train && level != GRAFT_AUGMENT_LEVEL_NONE;
  if (!options->train)
    return;

  graft_augment_options_init (&options->augment, spec->size);
  options->augment.centre_fraction = 1.0f;
  options->augment.hflip_probability = 0.5f;
  options->augment.crop_probability = 1.0f;
  if (level == GRAFT_AUGMENT_LEVEL_LIGHT)
    {
      options->augment.crop_scale[0] = 0.7f;
      options->augment.crop_scale[1] = 1.0f;
      options->augment.crop_ratio[0] = 0.9f;
      options->augment.crop_ratio[1] = 1.0f / 0.9f;
    }
  else
    {
      options->augment.crop_scale[0] = 0.25f;
      options->augment.crop_scale[1] = 1.0f;
      options->augment.rotate_probability = 0.5f;
      options->augment.brightness_probability = 0.5f;
      options->augment.contrast_probability = 0.5f;
    }
}

void
graft_predictions_clear (GraftPredictions *self)
{
  if (self == NULL)
    return;
  g_free (self->labels);
  g_free (self->probs);
  g_free (self->losses);
  g_free (self->brightness);
  g_free (self->pixels);
  g_strfreev (self->names);
  g_free (self->samples);
  if (self->problems != NULL)
    g_ptr_array_unref (self->problems);
  memset (self, 0, sizeof *self);
}

/* Mean luma of one normalised image, back in 0–255. */
static float
image_brightness (const float          *image,
                  const GraftInputSpec *spec)
{
  static const double luma[3] = { 0.299, 0.587, 0.114 };
  gsize plane = (gsize) spec->size * spec->size;
  double sum = 0.0;

  for (guint c = 0; c < spec->channels; c++)
    {
      double s = 0.0, w = spec->channels == 3 ? luma[c] : 1.0 / spec->channels;

      for (gsize p = 0; p < plane; p++)
        s += image[c * plane + p];
      sum += w * (s / plane * spec->std[c] + spec->mean[c]);
    }
  return (float) CLAMP (sum * 255.0, 0.0, 255.0);
}

gboolean
graft_predict_split (GraftModel           *model,
                     int                   cut_layer,
                     GraftDataset         *dataset,
                     GraftSplit            split,
                     GraftImageCache      *cache,
                     const GraftInputSpec *spec,
                     GraftPredictProgress  progress,
                     gpointer              user_data,
                     GCancellable         *cancellable,
                     GraftPredictions     *out,
                     GError              **error)
{
  GraftTensor *input = graft_model_get_input (model);
  GraftTensor *output = graft_model_get_output (model);
  guint batch = (guint) graft_tensor_get_dim (input, 0);
  guint n_classes = graft_model_get_n_classes (model);
  gsize image_len = (gsize) spec->channels * spec->size * spec->size;
  g_autoptr(GraftLoader) loader = NULL;
  g_autofree float *host = NULL;
  g_autofree float *logits = NULL;
  GraftLoaderOptions options;
  GPtrArray *names;
  const GraftBatch *b;
  guint n = 0, capacity;

  g_return_val_if_fail (model != NULL && dataset != NULL && spec != NULL && out != NULL, FALSE);

  memset (out, 0, sizeof *out);
  graft_input_spec_loader_options (spec, FALSE, GRAFT_AUGMENT_LEVEL_NONE, batch, 0, &options);
  loader = graft_loader_new (dataset, split, cache, &options, cancellable, error);
  if (loader == NULL)
    return FALSE;

  capacity = graft_loader_get_n_samples (loader);
  out->n_classes = n_classes;
  out->labels = g_new (int, capacity);
  out->probs = g_new (float, (gsize) capacity * n_classes);
  out->losses = g_new (float, capacity);
  out->brightness = g_new (float, capacity);
  out->pixels = g_new0 (guint64, capacity);
  out->samples = g_new (guint, capacity);
  names = g_ptr_array_new ();
  host = g_new0 (float, batch * image_len);
  logits = g_new (float, (gsize) batch * n_classes);

  graft_loader_start_epoch (loader, 0);
  while ((b = graft_loader_next (loader, error)) != NULL)
    {
      if (b->n > batch || b->channels != spec->channels || b->size != spec->size)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                       "A batch of %u images of %u×%u does not fit the model's %u of %u×%u",
                       b->n, b->size, b->size, batch, spec->size, spec->size);
          break;
        }
      memcpy (host, b->images, b->n * image_len * sizeof (float));
      if (b->n < batch)
        memset (host + b->n * image_len, 0, (batch - b->n) * image_len * sizeof (float));
      if (!graft_tensor_upload (input, host, batch * image_len, error) ||
          (cut_layer > 0 && !graft_model_forward_to (model, cut_layer, error)) ||
          !graft_model_forward (model, FALSE, 0, error) ||
          !graft_tensor_download (output, logits, (gsize) batch * n_classes, error))
        break;

      for (guint i = 0; i < b->n && n < capacity; i++, n++)
        {
          const float *z = logits + (gsize) i * n_classes;
          float *p = out->probs + (gsize) n * n_classes;
          const GraftSample *sample = g_ptr_array_index (dataset->samples, b->samples[i]);
          float max = z[0];
          double sum = 0.0;
          int label = (int) b->labels[i];

          for (guint c = 1; c < n_classes; c++)
            max = MAX (max, z[c]);
          for (guint c = 0; c < n_classes; c++)
            sum += exp ((double) z[c] - max);
          for (guint c = 0; c < n_classes; c++)
            p[c] = (float) (exp ((double) z[c] - max) / sum);
          out->labels[n] = label;
          out->losses[n] = label >= 0 && label < (int) n_classes
            ? (float) (log (sum) + max - z[label]) : 0.0f;
          out->brightness[n] = image_brightness (b->images + i * image_len, spec);
          out->pixels[n] = (guint64) sample->width * sample->height;
          out->samples[n] = b->samples[i];
          g_ptr_array_add (names, g_strdup (sample->name));
        }
      if (progress != NULL)
        progress (n, capacity, user_data);
    }
  g_ptr_array_add (names, NULL);
  out->names = (char **) g_ptr_array_free (names, FALSE);
  out->n_images = n;
  out->problems = graft_loader_dup_problems (loader);
  if (error != NULL && *error != NULL)
    {
      graft_predictions_clear (out);
      return FALSE;
    }
  return TRUE;
}

GraftMetrics *
graft_predictions_metrics (const GraftPredictions *predictions,
                           const char * const     *class_names,
                           GError                **error)
{
  GraftMetricsInput input = { 0 };
  gboolean sizes = TRUE;

  g_return_val_if_fail (predictions != NULL, NULL);

  for (guint i = 0; i < predictions->n_images; i++)
    sizes = sizes && predictions->pixels[i] > 0;
  input.n_images = predictions->n_images;
  input.n_classes = predictions->n_classes;
  input.labels = predictions->labels;
  input.probs = predictions->probs;
  input.losses = predictions->losses;
  input.brightness = predictions->brightness;
  input.pixels = sizes ? predictions->pixels : NULL;
  input.names = (const char * const *) predictions->names;
  input.class_names = class_names;
  return graft_metrics_compute (&input, NULL, error);
}

void
graft_predictions_summary (const GraftPredictions *predictions,
                           double                 *loss,
                           double                 *accuracy)
{
  double sum = 0.0;
  guint correct = 0;

  for (guint i = 0; i < predictions->n_images; i++)
    {
      const float *p = predictions->probs + (gsize) i * predictions->n_classes;
      guint best = 0;

      for (guint c = 1; c < predictions->n_classes; c++)
        if (p[c] > p[best])
          best = c;
      correct += (int) best == predictions->labels[i];
      sum += predictions->losses[i];
    }
  *loss = predictions->n_images > 0 ? sum / predictions->n_images : NAN;
  *accuracy = predictions->n_images > 0 ? (double) correct / predictions->n_images : NAN;
}
