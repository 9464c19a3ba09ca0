/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-bench"

#include "graft-bench-train.h"
#include "tensor/graft-ops-loss.h"

/* The first step runs eagerly and allocates; on a backend that records, the second
 * records the step; the timed ones replay it. */
#define WARMUP 2

static gboolean
step (GraftModel      *model,
      GraftOptimizer  *optimizer,
      GraftTensor     *target,
      guint64          seed,
      GError         **error)
{
  return graft_model_train_step (model, optimizer, target, NULL, 0.0f, seed, error) &&
         graft_backend_synchronize (graft_model_get_backend (model), error);
}

gboolean
graft_bench_train_step (GraftBackend         *backend,
                        const char           *arch,
                        guint                 batch,
                        guint                 size,
                        guint                 classes,
                        double                min_seconds,
                        GraftTrainStepBench  *result,
                        GError              **error)
{
  g_autoptr(GraftModel) model = NULL;
  g_autoptr(GraftOptimizer) optimizer = NULL;
  g_autoptr(GraftTensor) target = NULL;
  g_autoptr(GRand) rand = g_rand_new_with_seed (1);
  g_autofree float *images = NULL;
  g_autofree float *labels = NULL;
  GraftZooOptions options;
  GraftSgdParams sgd;
  gsize n_pixels = (gsize) batch * 3 * size * size;
  gint64 start;
  guint steps = 0;
  float loss;

  g_return_val_if_fail (backend != NULL && arch != NULL && result != NULL, FALSE);
  g_return_val_if_fail (batch > 0 && size > 0 && classes > 0, FALSE);

  graft_zoo_options_init (&options);
  options.n_classes = classes;
  options.image_size = size;
  model = graft_zoo_build (backend, arch, &options, error);
  if (model == NULL || !graft_model_prepare (model, batch, size, size, error))
    return FALSE;

  images = g_new (float, n_pixels);
  for (gsize i = 0; i < n_pixels; i++)
    images[i] = (float) g_rand_double_range (rand, -2.0, 2.0);
  labels = g_new (float, batch);
  for (guint i = 0; i < batch; i++)
    labels[i] = (float) g_rand_int_range (rand, 0, classes);
  target = graft_tensor_new (backend, 1, (const gsize[]) { batch }, error);
  if (target == NULL ||
      !graft_tensor_upload (graft_model_get_input (model), images, n_pixels, error) ||
      !graft_tensor_upload (target, labels, batch, error))
    return FALSE;

  graft_sgd_params_init (&sgd, 0.01f);
  sgd.momentum = 0.9f;
  optimizer = graft_optimizer_new_sgd (model, &sgd);

  for (guint i = 0; i < WARMUP; i++)
    {
      start = g_get_monotonic_time ();
      if (!step (model, optimizer, target, i, error))
        return FALSE;
      if (i == 0)
        result->first_step_seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
    }

  start = g_get_monotonic_time ();
  while (steps < 2 || (g_get_monotonic_time () - start) < min_seconds * G_USEC_PER_SEC)
    {
      if (!step (model, optimizer, target, WARMUP + steps, error))
        return FALSE;
      steps++;
    }
  result->seconds = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;
  result->batch = batch;
  result->size = size;
  result->steps = steps;
  result->images_per_second = (double) batch * steps / result->seconds;
  result->activation_bytes = graft_model_get_activation_bytes (model);
  if (!graft_tensor_download (graft_model_get_loss (model), &loss, 1, error))
    return FALSE;
  result->loss = loss;
  return TRUE;
}
