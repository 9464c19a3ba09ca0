/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* The model graph: its life, parameters and their names, freezing, weights, and the
 * passes over the layers. Adding layers is in graft-model-build.c, what each kind of
 * layer does in graft-model-run.c. */

#include <math.h>
#include <string.h>

#include "graft-model-private.h"
#include "tensor/graft-ops-loss.h"

G_DEFINE_QUARK (graft-model-error-quark, graft_model_error)

static void
node_clear (gpointer data)
{
  GraftNode *node = data;

  g_free (node->name);
  g_free (node->inputs);
  g_clear_pointer (&node->y, graft_tensor_unref);
  g_clear_pointer (&node->dy, graft_tensor_unref);
  g_clear_pointer (&node->scratch, graft_tensor_unref);
  for (guint i = 0; i < GRAFT_NODE_MAX_AUX; i++)
    {
      g_clear_pointer (&node->aux[i], graft_tensor_unref);
      g_clear_pointer (&node->aux_grad[i], graft_tensor_unref);
    }
}

void
_graft_model_param_free (gpointer data)
{
  GraftParam *param = data;

  g_free (param->name);
  g_clear_pointer (&param->value, graft_tensor_unref);
  g_clear_pointer (&param->grad_row, graft_tensor_unref);
  g_clear_pointer (&param->grad, graft_tensor_unref);
  g_free (param);
}

GraftModel *
graft_model_new (GraftBackend *backend,
                 const char   *arch,
                 guint         in_channels,
                 guint64       seed)
{
  GraftModel *self;
  GraftNode input = { 0 };

  g_return_val_if_fail (backend != NULL, NULL);
  g_return_val_if_fail (arch != NULL, NULL);
  g_return_val_if_fail (in_channels > 0, NULL);

  self = g_new0 (GraftModel, 1);
  self->ref_count = 1;
  self->backend = graft_backend_ref (backend);
  self->arch = g_strdup (arch);
  self->in_channels = in_channels;
  self->rand = g_rand_new_with_seed_array ((const guint32[]) { (guint32) seed, (guint32) (seed >> 32) }, 2);
  self->dropout_enabled = TRUE;
  self->blocks = g_ptr_array_new_with_free_func (g_free);
  g_ptr_array_add (self->blocks, g_strdup ("stem"));
  g_ptr_array_add (self->blocks, NULL);
  self->nodes = g_array_new (FALSE, TRUE, sizeof (GraftNode));
  g_array_set_clear_func (self->nodes, node_clear);
  self->params = g_ptr_array_new_with_free_func (_graft_model_param_free);
  self->param_index = g_hash_table_new (g_str_hash, g_str_equal);
  self->output = -1;

  input.kind = GRAFT_NODE_INPUT;
  input.channels = in_channels;
  for (guint i = 0; i < GRAFT_NODE_MAX_PARAMS; i++)
    input.params[i] = -1;
  g_array_append_val (self->nodes, input);
  return self;
}

GraftModel *
graft_model_ref (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);

  g_atomic_int_inc (&self->ref_count);
  return self;
}

void
graft_model_unref (GraftModel *self)
{
  if (self == NULL || !g_atomic_int_dec_and_test (&self->ref_count))
    return;

  _graft_model_step_reset (self);
  g_clear_pointer (&self->step.keys, graft_tensor_unref);
  g_array_unref (self->nodes);
  g_hash_table_unref (self->param_index);
  g_ptr_array_unref (self->params);
  g_ptr_array_unref (self->blocks);
  g_clear_pointer (&self->ones_batch, graft_tensor_unref);
  g_clear_pointer (&self->loss, graft_tensor_unref);
  g_clear_pointer (&self->losses, graft_tensor_unref);
  g_rand_free (self->rand);
  g_free (self->arch);
  graft_backend_unref (self->backend);
  g_free (self);
}

void
graft_model_begin_block (GraftModel *self,
                         const char *block)
{
  g_return_if_fail (self != NULL);
  g_return_if_fail (block != NULL);

  for (guint i = 0; i + 1 < self->blocks->len; i++)
    if (g_str_equal (g_ptr_array_index (self->blocks, i), block))
      {
        self->current_block = i;
        return;
      }
  /* A builder that names its first block before adding a layer ("features.0") renames
   * the implicit "stem", which would otherwise be offered for freezing and hold nothing. */
  if (self->nodes->len == 1 && self->params->len == 0 && self->blocks->len == 2)
    {
      g_free (self->blocks->pdata[0]);
      self->blocks->pdata[0] = g_strdup (block);
      self->current_block = 0;
      return;
    }
  /* keep the NULL terminator last */
  self->blocks->pdata[self->blocks->len - 1] = g_strdup (block);
  g_ptr_array_add (self->blocks, NULL);
  self->current_block = self->blocks->len - 2;
}

/* ---- inspecting ---------------------------------------------------------------------- */

const char *
graft_model_get_arch (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->arch;
}

GraftBackend *
graft_model_get_backend (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->backend;
}

guint
graft_model_get_in_channels (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->in_channels;
}

guint
graft_model_get_n_classes (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_classes;
}

guint
graft_model_get_n_params (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->params->len;
}

const GraftParamInfo *
graft_model_get_param (GraftModel *self,
                       guint       index)
{
  GraftParam *param;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (index < self->params->len, NULL);

  param = g_ptr_array_index (self->params, index);
  param->info.name = param->name;
  param->info.block = g_ptr_array_index (self->blocks, param->block);
  param->info.value = param->value;
  param->info.grad = param->grad;
  param->info.is_buffer = param->is_buffer;
  param->info.trainable = param->trainable;
  return &param->info;
}

const GraftParamInfo *
graft_model_find_param (GraftModel *self,
                        const char *name)
{
  guint index;

  g_return_val_if_fail (self != NULL && name != NULL, NULL);

  index = GPOINTER_TO_UINT (g_hash_table_lookup (self->param_index, name));
  return index == 0 ? NULL : graft_model_get_param (self, index - 1);
}

gsize
graft_model_count_parameters (GraftModel *self,
                              gsize      *trainable,
                              gsize      *frozen)
{
  gsize on = 0, off = 0;

  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (param->is_buffer)
        continue;
      if (param->trainable)
        on += graft_tensor_get_n_elements (param->value);
      else
        off += graft_tensor_get_n_elements (param->value);
    }
  if (trainable != NULL)
    *trainable = on;
  if (frozen != NULL)
    *frozen = off;
  return on + off;
}

const char *const *
graft_model_get_blocks (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return (const char *const *) self->blocks->pdata;
}

gboolean
graft_model_set_trainable (GraftModel  *self,
                           const char  *name,
                           gboolean     trainable,
                           GError     **error)
{
  gsize len;
  gboolean found = FALSE;

  g_return_val_if_fail (self != NULL && name != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  len = strlen (name);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (g_str_equal (g_ptr_array_index (self->blocks, param->block), name) ||
          (strncmp (param->name, name, len) == 0 && param->name[len] == '.') ||
          g_str_equal (param->name, name))
        {
          found = TRUE;
          if (!param->is_buffer && param->trainable != trainable)
            {
              param->trainable = trainable;
              self->generation++;
            }
        }
    }
  if (!found)
    g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                 "%s has no block or layer named “%s”", self->arch, name);
  return found;
}

void
graft_model_set_all_trainable (GraftModel *self,
                               gboolean    trainable)
{
  g_return_if_fail (self != NULL);

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!param->is_buffer && param->trainable != trainable)
        {
          param->trainable = trainable;
          self->generation++;
        }
    }
}

void
graft_model_set_dropout_enabled (GraftModel *self,
                                 gboolean    enabled)
{
  g_return_if_fail (self != NULL);
  if (self->dropout_enabled != enabled)
    self->generation++;
  self->dropout_enabled = enabled;
}

void
graft_model_set_freeze_norm (GraftModel *self,
                             gboolean    freeze)
{
  g_return_if_fail (self != NULL);
  freeze = !!freeze;
  if (self->freeze_norm != freeze)
    self->generation++;
  self->freeze_norm = freeze;
}

/* ---- layers ----------------------------------------------------------------------------- */

guint
graft_model_get_n_layers (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->nodes->len;
}

gboolean
graft_model_get_layer_info (GraftModel     *self,
                            int             layer,
                            GraftLayerInfo *info)
{
  GraftNode *node;

  g_return_val_if_fail (self != NULL && info != NULL, FALSE);

  if (layer < 0 || (guint) layer >= self->nodes->len)
    return FALSE;
  node = _graft_model_node (self, layer);
  info->name = node->name;
  info->block = g_ptr_array_index (self->blocks, node->block);
  info->is_batch_norm = node->kind == GRAFT_NODE_BATCH_NORM;
  info->input = node->n_inputs > 0 ? node->inputs[0] : -1;
  return TRUE;
}

GraftTensor *
graft_model_get_layer_output (GraftModel *self,
                              int         layer)
{
  g_return_val_if_fail (self != NULL, NULL);

  if (layer < 0 || (guint) layer >= self->nodes->len)
    return NULL;
  return _graft_model_node (self, layer)->y;
}

/* The first layer after @layer that reads a layer before it, or -1 when there is none
 * (@layer is a cut: its output is all the later layers see of the input). */
static int
skips_over (GraftModel *self,
            int         layer,
            int        *reads)
{
  for (guint j = layer + 1; j < self->nodes->len; j++)
    {
      GraftNode *node = _graft_model_node (self, j);

      for (guint k = 0; k < node->n_inputs; k++)
        if (node->inputs[k] < layer)
          {
            if (reads != NULL)
              *reads = node->inputs[k];
            return (int) j;
          }
    }
  return -1;
}

int
graft_model_get_block_output (GraftModel *self,
                              const char *block)
{
  int last = -1;

  g_return_val_if_fail (self != NULL && block != NULL, -1);

  for (guint b = 0; b + 1 < self->blocks->len; b++)
    if (g_str_equal (g_ptr_array_index (self->blocks, b), block))
      {
        for (guint i = 1; i < self->nodes->len; i++)
          if (_graft_model_node (self, i)->block == b)
            last = (int) i;
        break;
      }
  if (last < 0 || skips_over (self, last, NULL) >= 0)
    return -1;
  return last;
}

/* The first trainable parameter of layers 1..@layer, or NULL. */
static GraftParam *
prefix_trainable (GraftModel *self,
                  int         layer)
{
  for (int i = 1; i <= layer; i++)
    {
      GraftNode *node = _graft_model_node (self, i);

      for (guint p = 0; p < GRAFT_NODE_MAX_PARAMS; p++)
        {
          GraftParam *param = _graft_model_param (self, node->params[p]);

          if (param != NULL && param->trainable)
            return param;
        }
    }
  return NULL;
}

static gboolean
prefix_trainable_error (GraftModel  *self,
                        GraftParam  *param,
                        GError     **error)
{
  GraftNode *start = _graft_model_node (self, self->start_layer);

  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
               "%s: %s is trainable but the layers up to %d%s%s do not run (they start "
               "from cached features); freeze it, or start from layer 0", self->arch,
               param->name, self->start_layer, start->name != NULL ? " " : "",
               start->name != NULL ? start->name : "");
  return FALSE;
}

static gboolean check_finished (GraftModel  *self,
                                GError     **error);

static gboolean
check_layer (GraftModel  *self,
             int          layer,
             GError     **error)
{
  if (layer >= 0 && (guint) layer < self->nodes->len)
    return TRUE;
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
               "%s has no layer %d (it has %u)", self->arch, layer, self->nodes->len);
  return FALSE;
}

gboolean
graft_model_set_start_layer (GraftModel  *self,
                             int          layer,
                             GError     **error)
{
  GraftParam *param;
  int skipper, reads = -1;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_finished (self, error) || !check_layer (self, layer, error))
    return FALSE;
  if (layer > 0 && (skipper = skips_over (self, layer, &reads)) >= 0)
    {
      GraftNode *node = _graft_model_node (self, layer);

      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_ARCH,
                   "%s: layer %d%s%s is not a cut of the network: layer %d reads layer %d "
                   "before it; start at the end of a block (graft_model_get_block_output)",
                   self->arch, layer, node->name != NULL ? " " : "",
                   node->name != NULL ? node->name : "", skipper, reads);
      return FALSE;
    }
  if ((param = prefix_trainable (self, layer)) != NULL)
    {
      int was = self->start_layer;

      self->start_layer = layer;   /* for the message */
      prefix_trainable_error (self, param, error);
      self->start_layer = was;
      return FALSE;
    }
  if (self->start_layer != layer)
    {
      /* other layers run: a backward pass needs a forward pass of this kind first */
      self->generation++;
      self->forward_done = FALSE;
    }
  self->start_layer = layer;
  return TRUE;
}

/* ---- weights --------------------------------------------------------------------------- */

gboolean
graft_model_load_weights (GraftModel        *self,
                          GraftSafetensors  *file,
                          GError           **error)
{
  static const char *const ignore[] = { "num_batches_tracked", NULL };
  g_autofree GraftSafetensorsSpec *specs = NULL;
  g_autoptr(GPtrArray) data = NULL;

  g_return_val_if_fail (self != NULL && file != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  specs = g_new0 (GraftSafetensorsSpec, self->params->len);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      specs[i].name = param->name;
      specs[i].rank = param->rank;
      specs[i].shape = param->shape;
    }
  if (!graft_safetensors_check_keys (file, specs, self->params->len, ignore, error))
    goto fail;

  /* Read everything before changing anything, so a failure leaves the model as it was. */
  data = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      float *values = g_new (float, graft_tensor_get_n_elements (param->value));

      g_ptr_array_add (data, values);
      if (!graft_safetensors_read_f32 (file, param->name, param->rank, param->shape,
                                       values, error))
        goto fail;
    }
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!graft_tensor_upload (param->value, g_ptr_array_index (data, i),
                                graft_tensor_get_n_elements (param->value), error))
        goto fail;
    }
  return TRUE;

fail:
  g_prefix_error (error, "Weights %s do not fit %s: ", graft_safetensors_get_path (file),
                  self->arch);
  return FALSE;
}

gboolean
graft_model_load_weights_file (GraftModel  *self,
                               const char  *path,
                               GError     **error)
{
  g_autoptr(GraftSafetensors) file = NULL;

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  file = graft_safetensors_open (path, error);
  return file != NULL && graft_model_load_weights (self, file, error);
}

gboolean
_graft_param_check_shape (const GraftParam        *param,
                          const GraftWeightsEntry *entry,
                          char                   **got,
                          char                   **want)
{
  GraftWeightsEntry expected = { .rank = param->rank };
  gboolean same = entry->rank == param->rank;

  for (guint d = 0; same && d < param->rank; d++)
    same = entry->shape[d] == param->shape[d];
  if (same)
    return TRUE;
  memcpy (expected.shape, param->shape, param->rank * sizeof (gsize));
  *got = graft_weights_entry_shape_string (entry);
  *want = graft_weights_entry_shape_string (&expected);
  return FALSE;
}

gboolean
graft_model_load_state (GraftModel    *self,
                        GraftWeights  *weights,
                        GError       **error)
{
  g_autoptr(GString) problems = g_string_new (NULL);
  g_autoptr(GHashTable) known = g_hash_table_new (g_str_hash, g_str_equal);
  int first_code = -1;
  guint n_problems = 0;

  g_return_val_if_fail (self != NULL && weights != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

#define PROBLEM(code, ...) G_STMT_START {                                   \
    if (first_code < 0) first_code = (code);                                 \
    if (n_problems++ < 12)                                                   \
      {                                                                      \
        if (problems->len > 0) g_string_append (problems, "; ");             \
        g_string_append_printf (problems, __VA_ARGS__);                      \
      }                                                                      \
  } G_STMT_END

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      GraftWeightsEntry *entry = graft_weights_lookup (weights, param->name);
      char *got = NULL, *want = NULL;

      g_hash_table_add (known, param->name);
      if (entry == NULL)
        {
          PROBLEM (GRAFT_IO_ERROR_MISSING_KEY, "%s is missing", param->name);
          continue;
        }
      if (!_graft_param_check_shape (param, entry, &got, &want))
        {
          PROBLEM (GRAFT_IO_ERROR_SHAPE, "%s is %s, the model needs %s", param->name, got,
                   want);
          g_free (got);
          g_free (want);
        }
    }
  for (guint i = 0; i < graft_weights_get_n (weights); i++)
    {
      GraftWeightsEntry *entry = graft_weights_get (weights, i);

      if (!g_hash_table_contains (known, entry->name) &&
          !g_str_has_suffix (entry->name, "num_batches_tracked") &&
          !g_str_has_prefix (entry->name, "optimizer/"))
        PROBLEM (GRAFT_IO_ERROR_UNEXPECTED_KEY, "%s is not part of the model", entry->name);
    }
#undef PROBLEM

  if (n_problems > 0)
    {
      if (n_problems > 12)
        g_string_append_printf (problems, "; and %u more", n_problems - 12);
      g_set_error (error, GRAFT_IO_ERROR, first_code, "Weights do not fit %s: %s", self->arch,
                   problems->str);
      return FALSE;
    }

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      GraftWeightsEntry *entry = graft_weights_lookup (weights, param->name);

      if (!graft_tensor_upload (param->value, entry->data, entry->n_elements, error))
        return FALSE;
    }
  return TRUE;
}

GraftWeights *
graft_model_get_state (GraftModel  *self,
                       GError     **error)
{
  g_autoptr(GraftWeights) weights = graft_weights_new ();

  g_return_val_if_fail (self != NULL, NULL);

  graft_weights_set_metadata (weights, "arch", self->arch);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      gsize n = graft_tensor_get_n_elements (param->value);
      float *data = g_try_new (float, MAX (n, 1));

      if (data == NULL)
        {
          g_set_error (error, GRAFT_IO_ERROR, GRAFT_IO_ERROR_READ,
                       "Out of memory copying %s of %s", param->name, self->arch);
          return NULL;
        }
      if (!graft_tensor_download (param->value, data, n, error))
        {
          g_free (data);
          return NULL;
        }
      graft_weights_take (weights, param->name, param->rank, param->shape, data);
    }
  return g_steal_pointer (&weights);
}

gboolean
graft_model_save_weights (GraftModel  *self,
                          const char  *path,
                          GError     **error)
{
  g_autoptr(GraftSafetensorsWriter) writer = graft_safetensors_writer_new ();

  g_return_val_if_fail (self != NULL && path != NULL, FALSE);

  graft_safetensors_writer_set_metadata (writer, "arch", self->arch);
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      if (!graft_safetensors_writer_add_tensor (writer, param->name, param->value, error))
        return FALSE;
    }
  return graft_safetensors_writer_save (writer, path, error);
}

/* ---- running ---------------------------------------------------------------------------- */

static gboolean
check_finished (GraftModel  *self,
                GError     **error)
{
  if (self->finished)
    return TRUE;
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
               "%s is not a complete model", self->arch);
  return FALSE;
}

static void
release_activations (GraftModel *self)
{
  /* A recorded step uses these tensors: it goes first, and is recorded anew. */
  _graft_model_step_reset (self);
  self->generation++;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);

      g_clear_pointer (&node->y, graft_tensor_unref);
      g_clear_pointer (&node->dy, graft_tensor_unref);
      g_clear_pointer (&node->scratch, graft_tensor_unref);
      for (guint a = 0; a < GRAFT_NODE_MAX_AUX; a++)
        {
          g_clear_pointer (&node->aux[a], graft_tensor_unref);
          g_clear_pointer (&node->aux_grad[a], graft_tensor_unref);
        }
    }
  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);

      g_clear_pointer (&param->grad_row, graft_tensor_unref);
      g_clear_pointer (&param->grad, graft_tensor_unref);
    }
  g_clear_pointer (&self->ones_batch, graft_tensor_unref);
  g_clear_pointer (&self->loss, graft_tensor_unref);
  g_clear_pointer (&self->losses, graft_tensor_unref);
  self->batch = self->height = self->width = 0;
  self->grads_ready = FALSE;
  self->backward_done = FALSE;
  self->forward_done = FALSE;
  self->activation_bytes = 0;
}

guint64
graft_model_count_macs (GraftModel *self)
{
  guint64 macs = 0;

  g_return_val_if_fail (self != NULL, 0);

  if (self->batch == 0)
    return 0;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);
      guint64 per_image = 1;
      GraftParam *weight;

      for (guint d = 1; d < node->rank; d++)
        per_image *= node->shape[d];
      switch (node->kind)
        {
        case GRAFT_NODE_CONV:
          /* each output: C_in / groups × kh × kw products */
          weight = g_ptr_array_index (self->params, node->params[0]);
          macs += per_image * weight->shape[1] * weight->shape[2] * weight->shape[3];
          break;
        case GRAFT_NODE_LINEAR:
          weight = g_ptr_array_index (self->params, node->params[0]);
          macs += per_image * weight->shape[1];
          break;
        case GRAFT_NODE_SELF_ATTENTION:
          {
            guint64 length = node->shape[1], width = node->shape[2];

            /* the q, k, v and output projections, then q·k and the weighted sum of v */
            macs += 4 * length * width * width + 2 * length * length * width;
          }
          break;
        default:
          break;
        }
    }
  return macs;
}

gboolean
graft_model_prepare (GraftModel  *self,
                     guint        batch,
                     guint        height,
                     guint        width,
                     GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_finished (self, error))
    return FALSE;
  if (batch == self->batch && height == self->height && width == self->width)
    return TRUE;
  if (batch == 0 || height == 0 || width == 0)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE,
                   "%s cannot take a batch of %u images of %u×%u", self->arch, batch, width,
                   height);
      return FALSE;
    }

  release_activations (self);
  self->batch = batch;
  self->height = height;
  self->width = width;
  for (guint i = 0; i < self->nodes->len; i++)
    if (!_graft_model_prepare_node (self, i, error))
      {
        g_prefix_error (error, "%s at %u×%u, batch %u: ", self->arch, width, height, batch);
        release_activations (self);
        return FALSE;
      }
  return TRUE;
}

guint64
graft_model_get_activation_bytes (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->activation_bytes;
}

GraftTensor *
graft_model_get_input (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return _graft_model_node (self, 0)->y;
}

GraftTensor *
graft_model_get_output (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->output >= 0 ? _graft_model_node (self, self->output)->y : NULL;
}

static gboolean
check_prepared (GraftModel  *self,
                GError     **error)
{
  if (!check_finished (self, error))
    return FALSE;
  if (self->batch != 0)
    return TRUE;
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
               "%s has not been prepared for a batch size", self->arch);
  return FALSE;
}

gboolean
graft_model_forward (GraftModel  *self,
                     gboolean     training,
                     guint64      seed,
                     GError     **error)
{
  GraftParam *param;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_prepared (self, error))
    return FALSE;
  /* trainable flags may have changed since graft_model_set_start_layer() */
  if ((param = prefix_trainable (self, self->start_layer)) != NULL)
    return prefix_trainable_error (self, param, error);
  self->forward_done = FALSE;
  for (guint i = self->start_layer + 1; i < self->nodes->len; i++)
    if (!_graft_model_forward_node (self, i, training, seed, error))
      {
        GraftNode *node = _graft_model_node (self, i);

        g_prefix_error (error, "%s forward, layer %u%s%s: ", self->arch, i,
                        node->name != NULL ? " " : "", node->name != NULL ? node->name : "");
        return FALSE;
      }
  self->forward_done = TRUE;
  self->last_training = training;
  self->last_seed = seed;
  return TRUE;
}

gboolean
graft_model_forward_to (GraftModel  *self,
                        int          layer,
                        GError     **error)
{
  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!check_prepared (self, error) || !check_layer (self, layer, error))
    return FALSE;
  /* the later layers' outputs no longer follow from these: no backward through them */
  self->forward_done = FALSE;
  for (int i = 1; i <= layer; i++)
    if (!_graft_model_forward_node (self, i, FALSE, 0, error))
      {
        GraftNode *node = _graft_model_node (self, i);

        g_prefix_error (error, "%s forward, layer %d%s%s: ", self->arch, i,
                        node->name != NULL ? " " : "", node->name != NULL ? node->name : "");
        return FALSE;
      }
  return TRUE;
}

/* Which layers the backward pass visits: those with a trainable parameter, and those
 * between such a layer and the output; never the start layer or those before it, which
 * did not run. */
static void
mark_needs_grad (GraftModel *self)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);

      node->needs_grad = FALSE;
      node->dy_written = FALSE;
      if ((int) i <= self->start_layer)
        continue;
      for (guint p = 0; p < GRAFT_NODE_MAX_PARAMS; p++)
        {
          GraftParam *param = _graft_model_param (self, node->params[p]);

          if (param != NULL && param->trainable)
            node->needs_grad = TRUE;
        }
      for (guint k = 0; k < node->n_inputs; k++)
        if (_graft_model_node (self, node->inputs[k])->needs_grad)
          node->needs_grad = TRUE;
    }
}

/* A backward pass needs a prepared model, a forward pass to go back through and the
 * gradient tensors (allocated on the first call). */
static gboolean
backward_ready (GraftModel  *self,
                GError     **error)
{
  if (!check_prepared (self, error))
    return FALSE;
  if (!self->forward_done)
    {
      g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_STATE,
                   "%s: backward needs a forward pass first", self->arch);
      return FALSE;
    }
  return _graft_model_prepare_grads (self, error);
}

gboolean
graft_model_backward (GraftModel   *self,
                      GraftTensor  *grad_output,
                      GError      **error)
{
  GraftNode *out;

  g_return_val_if_fail (self != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!backward_ready (self, error))
    return FALSE;

  /* from here the gradients are being overwritten: until the pass completes, no
   * optimizer step may use them */
  self->backward_done = FALSE;
  mark_needs_grad (self);
  out = _graft_model_node (self, self->output);
  if (grad_output != out->dy)
    {
      if (graft_tensor_get_n_elements (grad_output) != graft_tensor_get_n_elements (out->dy))
        {
          _graft_ops_shape_error (error, "backward", grad_output, "the output's shape");
          return FALSE;
        }
      if (!graft_op_scale (grad_output, 1.0f, out->dy, error))
        return FALSE;
    }
  out->dy_written = TRUE;

  for (int i = self->output; i > self->start_layer; i--)
    {
      GraftNode *node = _graft_model_node (self, i);

      if (!node->needs_grad || !node->dy_written)
        continue;
      if (!_graft_model_backward_node (self, i, error))
        {
          g_prefix_error (error, "%s backward, layer %d%s%s: ", self->arch, i,
                          node->name != NULL ? " " : "", node->name != NULL ? node->name : "");
          return FALSE;
        }
    }
  self->backward_done = TRUE;
  return TRUE;
}

gboolean
graft_model_backward_cross_entropy (GraftModel   *self,
                                    GraftTensor  *target,
                                    GraftTensor  *class_weight,
                                    float         label_smoothing,
                                    GError      **error)
{
  GraftNode *out;

  g_return_val_if_fail (self != NULL && target != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  /* the loss of an output that no forward pass computed would be meaningless */
  if (!backward_ready (self, error))
    return FALSE;
  out = _graft_model_node (self, self->output);
  if (!graft_op_cross_entropy (out->y, target, class_weight, label_smoothing, self->loss,
                               self->losses, out->dy, error))
    return FALSE;
  return graft_model_backward (self, out->dy, error);
}

GraftTensor *
graft_model_get_loss (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->loss;
}

GraftTensor *
graft_model_get_losses (GraftModel *self)
{
  g_return_val_if_fail (self != NULL, NULL);
  return self->losses;
}
