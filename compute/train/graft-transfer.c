/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-train"

#include <json-c/json.h>
#include <math.h>
#include <string.h>

#include "graft-transfer.h"
#include "graft-train-config.h"
#include "data/graft-loader.h"

/* Per batch-norm layer: the running statistics, and sums over the target images. */
typedef struct {
  int          layer;
  int          input;
  const char  *block;
  guint        channels;
  float       *running_mean;
  float       *running_var;
  double      *sum;
  double      *sum_sq;
  guint64      count;       /* values per channel summed */
} NormStats;

static void
norm_stats_free (gpointer data)
{
  NormStats *s = data;

  g_free (s->running_mean);
  g_free (s->running_var);
  g_free (s->sum);
  g_free (s->sum_sq);
  g_free (s);
}

static gboolean
download_param (GraftModel  *model,
                const char  *layer_name,
                const char  *what,
                guint        n,
                float      **out,
                GError     **error)
{
  g_autofree char *name = g_strdup_printf ("%s.%s", layer_name, what);
  const GraftParamInfo *param = graft_model_find_param (model, name);

  if (param == NULL || graft_tensor_get_n_elements (param->value) != n)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
                   "%s has no %s of %u values", graft_model_get_arch (model), name, n);
      return FALSE;
    }
  *out = g_new (float, n);
  return graft_tensor_download (param->value, *out, n, error);
}

static GPtrArray *
collect_norms (GraftModel *model,
               GError    **error)
{
  g_autoptr(GPtrArray) norms = g_ptr_array_new_with_free_func (norm_stats_free);
  guint n_layers = graft_model_get_n_layers (model);

  for (guint l = 1; l < n_layers; l++)
    {
      GraftLayerInfo info;
      GraftTensor *in;
      NormStats *s;

      if (!graft_model_get_layer_info (model, (int) l, &info) || !info.is_batch_norm ||
          info.name == NULL || info.input < 0)
        continue;
      in = graft_model_get_layer_output (model, info.input);
      if (in == NULL || graft_tensor_get_rank (in) != 4)
        continue;
      s = g_new0 (NormStats, 1);
      s->layer = (int) l;
      s->input = info.input;
      s->block = info.block;
      s->channels = (guint) graft_tensor_get_dim (in, 1);
      s->sum = g_new0 (double, s->channels);
      s->sum_sq = g_new0 (double, s->channels);
      g_ptr_array_add (norms, s);
      if (!download_param (model, info.name, "running_mean", s->channels, &s->running_mean, error) ||
          !download_param (model, info.name, "running_var", s->channels, &s->running_var, error))
        return NULL;
    }
  if (norms->len == 0)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
                   "%s has no batch norm layers, whose statistics measure the shift",
                   graft_model_get_arch (model));
      return NULL;
    }
  return g_steal_pointer (&norms);
}

/* Adds the first @n images of the batch in @in ([batch, C, H, W]) to @s. */
static gboolean
accumulate (NormStats   *s,
            GraftTensor *in,
            guint        n,
            GError     **error)
{
  gsize total = graft_tensor_get_n_elements (in);
  gsize plane = (gsize) graft_tensor_get_dim (in, 2) * graft_tensor_get_dim (in, 3);
  g_autofree float *host = g_try_new (float, total);

  if (host == NULL)
    {
      g_set_error (error, GRAFT_TRAIN_ERROR, GRAFT_TRAIN_ERROR_MODEL,
                   "Out of memory measuring the domain shift");
      return FALSE;
    }
  if (!graft_tensor_download (in, host, total, error))
    return FALSE;
  for (guint i = 0; i < n; i++)
    for (guint c = 0; c < s->channels; c++)
      {
        const float *x = host + ((gsize) i * s->channels + c) * plane;
        double sum = 0.0, sq = 0.0;

        for (gsize p = 0; p < plane; p++)
          {
            sum += x[p];
            sq += (double) x[p] * x[p];
          }
        s->sum[c] += sum;
        s->sum_sq[c] += sq;
      }
  s->count += (guint64) n * plane;
  return TRUE;
}

static double
layer_shift (const NormStats *s)
{
  double total = 0.0;

  for (guint c = 0; c < s->channels; c++)
    {
      double mean = s->sum[c] / s->count;
      double var = MAX (s->sum_sq[c] / s->count - mean * mean, 0.0);
      double src_var = MAX ((double) s->running_var[c], 1e-5);
      double dm = mean - s->running_mean[c];
      double ds = sqrt (var) - sqrt (src_var);

      total += (dm * dm + ds * ds) / src_var;
    }
  return total / MAX (s->channels, 1);
}

json_object *
graft_transfer_measure_shift (GraftModel           *model,
                              GraftDataset         *dataset,
                              GraftSplit            split,
                              GraftImageCache      *cache,
                              const GraftInputSpec *spec,
                              GCancellable         *cancellable,
                              GError              **error)
{
  GraftTensor *input = graft_model_get_input (model);
  guint batch = (guint) graft_tensor_get_dim (input, 0);
  gsize image_len = (gsize) spec->channels * spec->size * spec->size;
  const char *const *blocks = graft_model_get_blocks (model);
  guint n_blocks = g_strv_length ((char **) blocks);
  g_autoptr(GPtrArray) norms = NULL;
  g_autoptr(GraftLoader) loader = NULL;
  g_autofree float *host = g_new0 (float, batch * image_len);
  GraftLoaderOptions options;
  const GraftBatch *b;
  guint seen = 0, n_body = n_blocks > 0 ? n_blocks - 1 : 0;
  int first_shifted = -1;
  double score = 0.0;
  guint scored = 0;
  json_object *result, *list;
  GError *local = NULL;

  norms = collect_norms (model, error);
  if (norms == NULL)
    return NULL;
  graft_input_spec_loader_options (spec, FALSE, GRAFT_AUGMENT_LEVEL_NONE, batch, 0, &options);
  loader = graft_loader_new (dataset, split, cache, &options, cancellable, error);
  if (loader == NULL)
    return NULL;

  graft_loader_start_epoch (loader, 0);
  while (seen < GRAFT_TRANSFER_SHIFT_IMAGES && (b = graft_loader_next (loader, &local)) != NULL)
    {
      guint n = MIN (b->n, GRAFT_TRANSFER_SHIFT_IMAGES - seen);

      memcpy (host, b->images, (gsize) b->n * image_len * sizeof (float));
      if (b->n < batch)
        memset (host + (gsize) b->n * image_len, 0, (batch - b->n) * image_len * sizeof (float));
      if (!graft_tensor_upload (input, host, batch * image_len, &local) ||
          !graft_model_forward (model, FALSE, 0, &local))
        break;
      for (guint i = 0; i < norms->len; i++)
        {
          NormStats *s = g_ptr_array_index (norms, i);

          if (!accumulate (s, graft_model_get_layer_output (model, s->input), n, &local))
            break;
        }
      if (local != NULL)
        break;
      seen += n;
    }
  if (local != NULL)
    {
      g_propagate_error (error, local);
      return NULL;
    }

  result = json_object_new_object ();
  list = json_object_new_array ();
  for (guint k = 0; k < n_body; k++)
    {
      double sum = 0.0;
      guint count = 0;

      for (guint i = 0; i < norms->len; i++)
        {
          NormStats *s = g_ptr_array_index (norms, i);

          if (g_strcmp0 (s->block, blocks[k]) == 0 && s->count > 0)
            {
              sum += layer_shift (s);
              count++;
            }
        }
      if (count == 0)
        continue;
      {
        json_object *entry = json_object_new_object ();
        double shift = sum / count;

        json_object_object_add (entry, "block", json_object_new_string (blocks[k]));
        json_object_object_add (entry, "shift", json_object_new_double (shift));
        json_object_array_add (list, entry);
        if (first_shifted < 0 && shift > GRAFT_TRANSFER_SHIFT_THRESHOLD)
          first_shifted = (int) k;
        score += shift;
        scored++;
      }
    }
  json_object_object_add (result, "score", json_object_new_double (scored > 0 ? score / scored : 0.0));
  json_object_object_add (result, "blocks", list);
  json_object_object_add (result, "threshold", json_object_new_double (GRAFT_TRANSFER_SHIFT_THRESHOLD));
  json_object_object_add (result, "images", json_object_new_int ((int) seen));
  if (first_shifted < 0)
    {
      json_object_object_add (result, "recommended_unfreeze", json_object_new_string ("head"));
      json_object_object_add (result, "recommendation", json_object_new_string (
        "These images look like the ones the model learned from, block by block: training "
        "the head alone should do."));
    }
  else if (first_shifted == 0)
    {
      json_object_object_add (result, "recommended_unfreeze", json_object_new_string ("all"));
      json_object_object_add (result, "recommendation", json_object_new_string (
        "These images differ from the model's from the first block on: fine-tune every block."));
    }
  else
    {
      guint n = n_body - (guint) first_shifted;
      g_autofree char *text = n == 1
        ? g_strdup_printf ("These images differ from the model's in its last block, %s: "
                           "unfreeze it with the head.", blocks[first_shifted])
        : g_strdup_printf ("These images differ from the model's from %s on: unfreeze the "
                           "last %u blocks (%s to %s) with the head.", blocks[first_shifted], n,
                           blocks[first_shifted], blocks[n_body - 1]);

      json_object_object_add (result, "recommended_unfreeze", json_object_new_int ((int) n));
      json_object_object_add (result, "recommendation", json_object_new_string (text));
    }
  return result;
}

/* ---- Verdict ------------------------------------------------------------------------ */

static gboolean
run_is_scratch (GraftRun *run)
{
  json_object *v = NULL;

  return json_object_object_get_ex (graft_run_get_config (run), "scratch", &v) &&
         json_object_get_boolean (v);
}

static gboolean
run_accuracy (GraftRun *run,
              double   *accuracy)
{
  json_object *metrics = graft_run_get_final_metrics (run);
  json_object *v = NULL;

  if (graft_run_get_status (run) != GRAFT_RUN_STATUS_FINISHED || metrics == NULL ||
      !json_object_object_get_ex (metrics, "accuracy", &v))
    return FALSE;
  *accuracy = json_object_get_double (v);
  return isfinite (*accuracy);
}

json_object *
graft_transfer_verdict (GraftRun *a,
                        GraftRun *b)
{
  GraftRun *transfer, *scratch;
  double ta, sa, gain;
  json_object *result, *unfreeze = NULL, *shift;
  g_autofree char *verdict = NULL;
  g_autofree char *advice = NULL;
  gboolean negative;

  g_return_val_if_fail (a != NULL && b != NULL, NULL);

  if (run_is_scratch (a) == run_is_scratch (b))
    return NULL;
  transfer = run_is_scratch (a) ? b : a;
  scratch = transfer == a ? b : a;
  if (!run_accuracy (transfer, &ta) || !run_accuracy (scratch, &sa))
    return NULL;
  gain = (ta - sa) * 100.0;
  negative = ta < sa;
  json_object_object_get_ex (graft_run_get_config (transfer), "unfreeze", &unfreeze);
  shift = graft_run_get_member (transfer, "domain_shift");

  if (!negative)
    verdict = g_strdup_printf ("Transfer helped: %.1f %% against %.1f %% from scratch, %+.1f points.",
                               ta * 100.0, sa * 100.0, gain);
  else
    verdict = g_strdup_printf ("Negative transfer: %.1f %% against %.1f %% from scratch, "
                               "%.1f points worse.", ta * 100.0, sa * 100.0, -gain);

  if (negative)
    {
      gboolean all = unfreeze != NULL && json_object_is_type (unfreeze, json_type_string) &&
                     g_str_equal (json_object_get_string (unfreeze), "all");
      json_object *rec = NULL;

      if (shift != NULL)
        json_object_object_get_ex (shift, "recommended_unfreeze", &rec);
      if (all)
        advice = g_strdup ("Every block already trained: the pre-trained start pulled the model "
                           "the wrong way. Try a smaller learning rate, or keep the model "
                           "trained from scratch.");
      else if (rec != NULL && json_object_is_type (rec, json_type_int))
        advice = g_strdup_printf ("The frozen blocks' features fit these images worse than "
                                  "features learned from them. Unfreeze more blocks: the domain "
                                  "shift suggests training the last %d block%s with the head, "
                                  "or fine-tune all.", json_object_get_int (rec),
                                  json_object_get_int (rec) == 1 ? "" : "s");
      else
        advice = g_strdup ("The frozen blocks' features fit these images worse than features "
                           "learned from them. Unfreeze more blocks, or fine-tune all.");
    }

  result = json_object_new_object ();
  json_object_object_add (result, "transfer_run", json_object_new_string (graft_run_get_id (transfer)));
  json_object_object_add (result, "scratch_run", json_object_new_string (graft_run_get_id (scratch)));
  json_object_object_add (result, "transfer_accuracy", json_object_new_double (ta));
  json_object_object_add (result, "scratch_accuracy", json_object_new_double (sa));
  json_object_object_add (result, "gain_points", json_object_new_double (gain));
  json_object_object_add (result, "negative_transfer", json_object_new_boolean (negative));
  json_object_object_add (result, "verdict", json_object_new_string (verdict));
  if (advice != NULL)
    json_object_object_add (result, "advice", json_object_new_string (advice));
  return result;
}
