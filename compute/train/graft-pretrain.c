/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-config.h"
#include "graft-pretrain.h"
#include "data/graft-fashion-mnist.h"
#include "nn/zoo/graft-zoo.h"

#define ARCH "resnet10"
#define N_SOURCE_CLASSES 5
#define SHIFT 2              /* random translation, pixels each way */

static const guint source_classes[N_SOURCE_CLASSES] = { 0, 1, 2, 3, 4 };

void
graft_pretrain_options_init (GraftPretrainOptions *options)
{
  g_return_if_fail (options != NULL);

  memset (options, 0, sizeof *options);
  options->epochs = 8;
  options->batch_size = 128;
  options->max_lr = 0.1f;
  options->weight_decay = 5e-4f;
}

void
graft_pretrain_result_clear (GraftPretrainResult *result)
{
  if (result == NULL)
    return;
  g_clear_pointer (&result->weights_path, g_free);
  g_clear_pointer (&result->card_path, g_free);
}

/* One source split: the images of classes 0–4, their labels (0–4 as well). */
typedef struct {
  GraftFashionMnist *set;
  GArray            *index;    /* guint into set */
  guint              side;
} Source;

static void
source_clear (Source *source)
{
  g_clear_pointer (&source->set, graft_fashion_mnist_free);
  g_clear_pointer (&source->index, g_array_unref);
}

static gboolean
source_load (Source                 *source,
             const char             *dir,
             GraftFashionMnistSplit  split,
             guint                   limit,
             GCancellable           *cancellable,
             GError                **error)
{
  source->set = graft_fashion_mnist_load (dir, split, cancellable, error);
  if (source->set == NULL)
    return FALSE;
  if (source->set->rows != source->set->cols)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Fashion-MNIST's %s images are %u×%u pixels; the recipe needs square ones",
                   graft_fashion_mnist_split_to_string (split), source->set->cols,
                   source->set->rows);
      return FALSE;
    }
  source->side = source->set->rows;
  source->index = graft_fashion_mnist_select (source->set, source_classes, N_SOURCE_CLASSES);
  if (limit > 0 && source->index->len > limit)
    g_array_set_size (source->index, limit);
  if (source->index->len == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "Fashion-MNIST's %s split holds no image of classes 0–4",
                   graft_fashion_mnist_split_to_string (split));
      return FALSE;
    }
  return TRUE;
}

/* Image @i of @source, normalised, into @out (side × side), shifted by (@dx, @dy) with
 * the background filling in, and mirrored when @flip. */
static void
fill_image (const Source *source,
            guint         i,
            float         mean,
            float         inv_std,
            int           dx,
            int           dy,
            gboolean      flip,
            float        *out)
{
  const guint8 *pixels = graft_fashion_mnist_get_image (source->set,
                                                        g_array_index (source->index, guint, i));
  int side = (int) source->side;
  float background = (0.0f - mean) * inv_std;

  for (int y = 0; y < side; y++)
    for (int x = 0; x < side; x++)
      {
        int sx = (flip ? side - 1 - x : x) - dx;
        int sy = y - dy;

        out[y * side + x] = (sx < 0 || sy < 0 || sx >= side || sy >= side)
          ? background
          : ((float) pixels[sy * side + sx] / 255.0f - mean) * inv_std;
      }
}

static float
label_of (const Source *source,
          guint         i)
{
  return (float) source->set->labels[g_array_index (source->index, guint, i)];
}

/* The fraction of @source's images @model classifies correctly (eval mode). */
static gboolean
evaluate (GraftModel   *model,
          const Source *source,
          guint         batch,
          float         mean,
          float         inv_std,
          double       *accuracy,
          GCancellable *cancellable,
          GError      **error)
{
  gsize plane = (gsize) source->side * source->side;
  g_autofree float *input = g_new0 (float, batch * plane);
  g_autofree float *logits = g_new (float, batch * N_SOURCE_CLASSES);
  guint correct = 0;

  for (guint start = 0; start < source->index->len; start += batch)
    {
      guint n = MIN (batch, source->index->len - start);

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;
      for (guint b = 0; b < batch; b++)
        if (b < n)
          fill_image (source, start + b, mean, inv_std, 0, 0, FALSE, input + b * plane);
        else
          memset (input + b * plane, 0, plane * sizeof (float));
      if (!graft_tensor_upload (graft_model_get_input (model), input, batch * plane, error) ||
          !graft_model_forward (model, FALSE, 0, error) ||
          !graft_tensor_download (graft_model_get_output (model), logits,
                                  batch * N_SOURCE_CLASSES, error))
        return FALSE;
      for (guint b = 0; b < n; b++)
        {
          guint best = 0;

          for (guint c = 1; c < N_SOURCE_CLASSES; c++)
            if (logits[b * N_SOURCE_CLASSES + c] > logits[b * N_SOURCE_CLASSES + best])
              best = c;
          correct += (float) best == label_of (source, start + b);
        }
    }
  *accuracy = (double) correct / source->index->len;
  return TRUE;
}

/* torch.optim.lr_scheduler.OneCycleLR with cosine annealing: from max / 25 up to max over
 * the first 30 % of the steps, then down to max / 25e4. */
static float
one_cycle (float max_lr,
           guint step,
           guint total)
{
  double warm = 0.3 * total;
  double initial = max_lr / 25.0, final = initial / 1e4;
  double from, to, p;

  if (step < warm)
    from = initial, to = max_lr, p = step / warm;
  else
    from = max_lr, to = final, p = (step - warm) / MAX (total - warm, 1.0);
  return (float) (to + (from - to) / 2.0 * (1.0 + cos (G_PI * p)));
}

/* A number as the card shows it: @digits significant digits, not float32's binary
 * expansion printed as a double. */
static json_object *
card_number (double value,
             int    digits)
{
  char text[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *format = g_strdup_printf ("%%.%dg", digits);

  g_ascii_formatd (text, sizeof text, format, value);
  return json_object_new_double_s (g_ascii_strtod (text, NULL), text);
}

static gboolean
write_card (const char                 *path,
            const GraftPretrainOptions *options,
            GraftModel                 *model,
            const char                 *weights_file,
            double                      mean,
            double                      std,
            double                      accuracy,
            guint                       n_train,
            guint                       n_test,
            guint                       side,
            GError                    **error)
{
  json_object *card = json_object_new_object ();
  json_object *classes = json_object_new_array ();
  json_object *input = json_object_new_object ();
  json_object *size = json_object_new_array ();
  json_object *norm_mean = json_object_new_array ();
  json_object *norm_std = json_object_new_array ();
  json_object *recipe = json_object_new_object ();
  g_autofree char *command = NULL;
  gsize n_params = graft_model_count_parameters (model, NULL, NULL);
  gboolean ok;

  for (guint c = 0; c < N_SOURCE_CLASSES; c++)
    json_object_array_add (classes,
                           json_object_new_string (graft_fashion_mnist_class_name (source_classes[c])));
  json_object_array_add (size, json_object_new_int ((int) side));
  json_object_array_add (size, json_object_new_int ((int) side));
  json_object_array_add (norm_mean, card_number (mean, 4));
  json_object_array_add (norm_std, card_number (std, 4));
  json_object_object_add (input, "channels", json_object_new_int (1));
  json_object_object_add (input, "size", size);
  json_object_object_add (input, "mean", norm_mean);
  json_object_object_add (input, "std", norm_std);

  if (options->command != NULL)
    command = g_strdup (options->command);
  else
    {
      GString *line = g_string_new (NULL);

      g_string_append_printf (line, "graft-cli --device=%s pretrain --epochs %u --batch-size %u "
                              "--lr %g --seed %" G_GUINT64_FORMAT,
                              graft_backend_get_info (graft_model_get_backend (model))->backend ==
                                GRAFT_BACKEND_KIND_CPU ? "cpu" : "auto",
                              options->epochs, options->batch_size, (double) options->max_lr,
                              options->seed);
      if (options->limit > 0)
        g_string_append_printf (line, " --limit %u", options->limit);
      command = g_string_free (line, FALSE);
    }
  json_object_object_add (recipe, "command", json_object_new_string (command));
  json_object_object_add (recipe, "epochs", json_object_new_int ((int) options->epochs));
  json_object_object_add (recipe, "batch_size", json_object_new_int ((int) options->batch_size));
  json_object_object_add (recipe, "optimizer",
                          json_object_new_string ("SGD, Nesterov momentum 0.9"));
  json_object_object_add (recipe, "max_lr", card_number (options->max_lr, 6));
  json_object_object_add (recipe, "schedule", json_object_new_string ("one-cycle (cosine)"));
  json_object_object_add (recipe, "weight_decay", card_number (options->weight_decay, 6));
  json_object_object_add (recipe, "augmentation",
                          json_object_new_string ("random shift of up to 2 pixels, horizontal flip"));
  json_object_object_add (recipe, "seed", json_object_new_int64 ((int64_t) options->seed));
  json_object_object_add (recipe, "train_images", json_object_new_int ((int) n_train));
  json_object_object_add (recipe, "device",
                          json_object_new_string (graft_backend_get_info (graft_model_get_backend (model))->name));

  json_object_object_add (card, "name", json_object_new_string (GRAFT_PRETRAIN_NAME));
  json_object_object_add (card, "title",
                          json_object_new_string ("ResNet-10 for clothing silhouettes (Fashion-MNIST 0–4)"));
  json_object_object_add (card, "arch", json_object_new_string (ARCH));
  json_object_object_add (card, "weights", json_object_new_string (weights_file));
  json_object_object_add (card, "parameters", json_object_new_int64 ((int64_t) n_params));
  json_object_object_add (card, "gmacs",
                          card_number (graft_model_count_macs (model) / 1e9, 6));
  json_object_object_add (card, "input", input);
  json_object_object_add (card, "dataset", json_object_new_string ("Fashion-MNIST (classes 0–4)"));
  json_object_object_add (card, "classes", classes);
  json_object_object_add (card, "source_test_accuracy", card_number (accuracy, 6));
  json_object_object_add (card, "source_test_images", json_object_new_int ((int) n_test));
  json_object_object_add (card, "licence",
                          json_object_new_string ("GPL-3.0-or-later (weights); data: Fashion-MNIST, MIT"));
  json_object_object_add (card, "recipe", recipe);
  json_object_object_add (card, "graft_version", json_object_new_string (GRAFT_VERSION));

  ok = g_file_set_contents (path, json_object_to_json_string_ext (card, JSON_C_TO_STRING_PRETTY |
                                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
                            -1, error);
  json_object_put (card);
  return ok;
}

gboolean
graft_pretrain_run (GraftBackend               *backend,
                    const GraftPretrainOptions *options,
                    const char                 *output_dir,
                    GraftPretrainProgressFunc   progress,
                    gpointer                    user_data,
                    GCancellable               *cancellable,
                    GraftPretrainResult        *result,
                    GError                    **error)
{
  GraftPretrainOptions defaults;
  Source train = { 0 }, test = { 0 };
  GraftZooOptions zoo;
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftModel) stored = NULL;
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GraftWeights) state = NULL;
  g_autofree float *input = NULL;
  g_autofree float *labels = NULL;
  g_autofree guint *order = NULL;
  g_autofree char *weights_path = NULL;
  g_autofree char *card_path = NULL;
  g_autofree char *tmp_weights = NULL;
  g_autoptr(GTimer) timer = g_timer_new ();
  GraftSgdParams sgd;
  double sum = 0.0, sum_sq = 0.0, mean, std, accuracy = 0.0;
  gsize plane, n_pixels = 0;
  guint batch, steps, total_steps;
  gboolean ok = FALSE;

  g_return_val_if_fail (backend != NULL && output_dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (options == NULL)
    {
      graft_pretrain_options_init (&defaults);
      options = &defaults;
    }
  batch = options->batch_size;
  if (batch == 0 || options->epochs == 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "The recipe needs at least one epoch and one image per batch");
      return FALSE;
    }

  if (!source_load (&train, options->data_dir, GRAFT_FASHION_MNIST_TRAIN, options->limit,
                    cancellable, error) ||
      !source_load (&test, options->data_dir, GRAFT_FASHION_MNIST_TEST, options->limit,
                    cancellable, error))
    goto out;
  if (train.index->len < batch)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%u training images do not fill one batch of %u", train.index->len, batch);
      goto out;
    }

  /* Normalisation from the training images of the source classes. */
  plane = (gsize) train.side * train.side;
  for (guint i = 0; i < train.index->len; i++)
    {
      const guint8 *pixels = graft_fashion_mnist_get_image (train.set,
                                                            g_array_index (train.index, guint, i));
      for (gsize p = 0; p < plane; p++)
        {
          double v = pixels[p] / 255.0;
          sum += v;
          sum_sq += v * v;
        }
      n_pixels += plane;
    }
  mean = sum / n_pixels;
  std = sqrt (MAX (sum_sq / n_pixels - mean * mean, 1e-12));
  /* The card stores them rounded; train with exactly what the card says. */
  mean = round (mean * 1e4) / 1e4;
  std = round (std * 1e4) / 1e4;

  graft_zoo_options_init (&zoo);
  zoo.n_classes = N_SOURCE_CLASSES;
  zoo.in_channels = 1;
  zoo.image_size = train.side;
  zoo.seed = options->seed;
  model = graft_zoo_build (backend, ARCH, &zoo, error);
  if (model == NULL || !graft_model_prepare (model, batch, train.side, train.side, error))
    goto out;
  target = graft_tensor_new (backend, 1, (gsize[]) { batch }, error);
  if (target == NULL)
    goto out;

  graft_sgd_params_init (&sgd, options->max_lr / 25.0f);
  sgd.momentum = 0.9f;
  sgd.nesterov = TRUE;
  sgd.weight_decay = options->weight_decay;
  optimizer = graft_optimizer_new_sgd (model, &sgd);

  input = g_new (float, batch * plane);
  labels = g_new (float, batch);
  order = g_new (guint, train.index->len);
  steps = train.index->len / batch;   /* the last partial batch is dropped, as drop_last */
  total_steps = steps * options->epochs;

  for (guint epoch = 0; epoch < options->epochs; epoch++)
    {
      g_autoptr(GRand) rng = g_rand_new_with_seed ((guint32) (options->seed * 7919 + epoch));
      double loss_sum = 0.0;
      double epoch_start = g_timer_elapsed (timer, NULL);

      for (guint i = 0; i < train.index->len; i++)
        order[i] = i;
      for (guint i = train.index->len - 1; i > 0; i--)
        {
          guint j = (guint) g_rand_int_range (rng, 0, (gint32) i + 1);
          guint t = order[i];
          order[i] = order[j];
          order[j] = t;
        }

      for (guint step = 0; step < steps; step++)
        {
          guint global = epoch * steps + step;
          float lr = one_cycle (options->max_lr, global, total_steps);
          float loss;
          GraftPretrainProgress p = { 0 };

          if (g_cancellable_set_error_if_cancelled (cancellable, error))
            goto out;
          for (guint b = 0; b < batch; b++)
            {
              guint i = order[step * batch + b];
              int dx = g_rand_int_range (rng, -SHIFT, SHIFT + 1);
              int dy = g_rand_int_range (rng, -SHIFT, SHIFT + 1);
              gboolean flip = g_rand_boolean (rng);

              fill_image (&train, i, (float) mean, (float) (1.0 / std), dx, dy, flip,
                          input + b * plane);
              labels[b] = label_of (&train, i);
            }
          graft_optimizer_set_lr (optimizer, lr);
          if (!graft_tensor_upload (graft_model_get_input (model), input, batch * plane, error) ||
              !graft_tensor_upload (target, labels, batch, error) ||
              !graft_model_train_step (model, optimizer, target, NULL, 0.0f,
                                       options->seed * 1000003 + global, error) ||
              !graft_tensor_download (graft_model_get_loss (model), &loss, 1, error))
            goto out;
          if (!isfinite (loss))
            {
              g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED,
                           "Training diverged at epoch %u, step %u (the loss is %g); "
                           "try a smaller learning rate", epoch + 1, step + 1, (double) loss);
              goto out;
            }
          loss_sum += loss;

          if (progress != NULL)
            {
              double elapsed = g_timer_elapsed (timer, NULL) - epoch_start;

              p.epoch = epoch + 1;
              p.epochs = options->epochs;
              p.step = step + 1;
              p.steps = steps;
              p.loss = (float) (loss_sum / (step + 1));
              p.lr = lr;
              p.test_accuracy = -1.0;
              p.images_per_second = elapsed > 0 ? (step + 1) * batch / elapsed : 0.0;
              if (step + 1 == steps)
                {
                  if (!evaluate (model, &test, batch, (float) mean, (float) (1.0 / std),
                                 &p.test_accuracy, cancellable, error))
                    goto out;
                }
              progress (&p, user_data);
            }
        }
    }

  /* Save in float16, then measure the weights as they are stored. */
  if (g_mkdir_with_parents (output_dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not create %s: %s", output_dir, g_strerror (saved));
      goto out;
    }
  weights_path = g_build_filename (output_dir, GRAFT_PRETRAIN_NAME ".safetensors", NULL);
  card_path = g_build_filename (output_dir, GRAFT_PRETRAIN_NAME ".json", NULL);
  tmp_weights = g_strconcat (weights_path, ".new", NULL);
  state = graft_model_get_state (model, error);
  if (state == NULL)
    goto out;
  graft_weights_set_metadata (state, "arch", ARCH);
  if (!graft_weights_save (state, tmp_weights, TRUE, error))
    goto out;

  stored = graft_zoo_build (backend, ARCH, &zoo, error);
  if (stored == NULL ||
      !graft_model_load_weights_file (stored, tmp_weights, error) ||
      !graft_model_prepare (stored, batch, train.side, train.side, error) ||
      !evaluate (stored, &test, batch, (float) mean, (float) (1.0 / std), &accuracy,
                 cancellable, error))
    {
      g_unlink (tmp_weights);
      goto out;
    }
  if (g_rename (tmp_weights, weights_path) != 0)
    {
      int saved = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (saved),
                   "Could not move the weights into %s: %s", weights_path, g_strerror (saved));
      g_unlink (tmp_weights);
      goto out;
    }
  if (!write_card (card_path, options, model, GRAFT_PRETRAIN_NAME ".safetensors",
                   mean, std, accuracy, train.index->len, test.index->len,
                   train.side, error))
    goto out;

  if (result != NULL)
    {
      result->weights_path = g_steal_pointer (&weights_path);
      result->card_path = g_steal_pointer (&card_path);
      result->test_accuracy = accuracy;
      result->n_train = train.index->len;
      result->n_test = test.index->len;
      result->seconds = g_timer_elapsed (timer, NULL);
    }
  ok = TRUE;

out:
  source_clear (&train);
  source_clear (&test);
  return ok;
}
