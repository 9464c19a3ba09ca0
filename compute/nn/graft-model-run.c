/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* What each kind of layer allocates, computes forward and sends backward.
 *
 * Gradients: a layer's backward pass writes each input's gradient into that input's dy
 * the first time anything is written there in the pass, and otherwise into the input's
 * scratch tensor, which is then added to dy (a layer read by several others, as a
 * residual connection's input is, gathers a sum). */

#include <string.h>

#include "graft-model-private.h"
#include "tensor/graft-ops-pool.h"

/* ---- allocation ----------------------------------------------------------------------- */

GraftTensor *
_graft_model_new_tensor (GraftModel   *self,
            guint         rank,
            const gsize  *shape,
            const char   *what,
            int           index,
            GError      **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftTensor *t = graft_tensor_new (self->backend, rank, shape, error);
  g_autofree char *name = NULL;

  if (t == NULL)
    return NULL;
  name = g_strdup_printf ("%s %s", node->name != NULL ? node->name : "layer", what);
  graft_tensor_set_name (t, name);
  self->activation_bytes += graft_tensor_get_n_elements (t) * sizeof (float);
  return t;
}

static GraftTensor *
new_like (GraftModel   *self,
          GraftTensor  *like,
          const char   *what,
          int           index,
          GError      **error)
{
  return _graft_model_new_tensor (self, graft_tensor_get_rank (like), graft_tensor_get_shape (like), what,
                     index, error);
}

static GraftTensor *
new_ones (GraftModel   *self,
          guint         rank,
          const gsize  *shape,
          int           index,
          GError      **error)
{
  GraftTensor *t = _graft_model_new_tensor (self, rank, shape, "ones", index, error);

  if (t != NULL && !graft_op_fill (t, 1.0f, error))
    g_clear_pointer (&t, graft_tensor_unref);
  return t;
}

/* A view of @t as [rows, cols] where cols is its last dimension. */
static GraftTensor *
view_2d (GraftTensor  *t,
         GError      **error)
{
  guint rank = graft_tensor_get_rank (t);
  gsize cols = graft_tensor_get_dim (t, rank - 1);

  return graft_tensor_new_view (t, 2,
                                (const gsize[]) { graft_tensor_get_n_elements (t) / cols, cols },
                                error);
}

static GraftTensor *
param_value (GraftModel *self,
             GraftNode  *node,
             guint       slot)
{
  GraftParam *param = _graft_model_param (self, node->params[slot]);

  return param != NULL ? param->value : NULL;
}

/* The gradient tensor of a parameter when it is trainable, else NULL (not wanted). */
static GraftTensor *
param_grad (GraftModel *self,
            GraftNode  *node,
            guint       slot)
{
  GraftParam *param = _graft_model_param (self, node->params[slot]);

  return param != NULL && param->trainable ? param->grad : NULL;
}

static GraftTensor *
param_grad_row (GraftModel *self,
                GraftNode  *node,
                guint       slot)
{
  GraftParam *param = _graft_model_param (self, node->params[slot]);

  return param != NULL && param->trainable ? param->grad_row : NULL;
}

static GraftNode *
input_node (GraftModel *self,
            GraftNode  *node,
            guint       k)
{
  return _graft_model_node (self, node->inputs[k]);
}

static gboolean
set_shape (GraftNode    *node,
           guint         rank,
           const gsize  *shape)
{
  node->rank = rank;
  memcpy (node->shape, shape, rank * sizeof (gsize));
  return TRUE;
}

static gboolean
same_shape (GraftNode *a,
            GraftNode *b)
{
  return a->rank == b->rank && memcmp (a->shape, b->shape, a->rank * sizeof (gsize)) == 0;
}

static gboolean
shape_error (GError    **error,
             GraftNode  *node,
             const char *why)
{
  g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE, "%s%s%s",
               node->name != NULL ? node->name : "", node->name != NULL ? ": " : "", why);
  return FALSE;
}

/* The [N, E, h, w] grid of patches that @node's tokens come from (through a class token),
 * or NULL when they come from elsewhere. */
static GraftNode *
patch_grid (GraftModel *self,
            GraftNode  *node)
{
  GraftNode *in = input_node (self, node, 0);

  while (in->kind == GRAFT_NODE_CLASS_TOKEN)
    in = input_node (self, in, 0);
  return in->kind == GRAFT_NODE_PATCH_TOKENS ? input_node (self, in, 0) : NULL;
}

gboolean
_graft_model_prepare_node (GraftModel  *self,
                           int          index,
                           GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = node->n_inputs > 0 ? input_node (self, node, 0) : NULL;
  gsize n = self->batch;
  gsize shape[4];

  switch (node->kind)
    {
    case GRAFT_NODE_INPUT:
      set_shape (node, 4, (const gsize[]) { n, self->in_channels, self->height, self->width });
      break;

    case GRAFT_NODE_CONV:
      if (!graft_conv2d_output_shape (in->shape,
                                      graft_tensor_get_shape (param_value (self, node, 0)),
                                      &node->conv, shape, error))
        return FALSE;
      set_shape (node, 4, shape);
      break;

    case GRAFT_NODE_MAX_POOL:
    case GRAFT_NODE_AVG_POOL:
      if (!graft_pool2d_output_shape (in->shape, &node->pool, shape, error))
        return FALSE;
      set_shape (node, 4, shape);
      break;

    case GRAFT_NODE_ADAPTIVE_POOL:
      set_shape (node, 4, (const gsize[]) { n, in->shape[1], node->fixed_h, node->fixed_w });
      break;

    case GRAFT_NODE_ADD:
      if (!same_shape (in, input_node (self, node, 1)))
        return shape_error (error, node, "the two inputs of an addition differ in shape");
      set_shape (node, in->rank, in->shape);
      break;

    case GRAFT_NODE_SCALE_CHANNELS:
      {
        GraftNode *s = input_node (self, node, 1);

        if (s->rank != 4 || s->shape[0] != n || s->shape[1] != in->shape[1] ||
            s->shape[2] != 1 || s->shape[3] != 1)
          return shape_error (error, node, "channel scales must be [N, C, 1, 1]");
        set_shape (node, 4, in->shape);
      }
      break;

    case GRAFT_NODE_CONCAT:
      memcpy (shape, in->shape, sizeof shape);
      shape[1] = 0;
      for (guint k = 0; k < node->n_inputs; k++)
        {
          GraftNode *part = input_node (self, node, k);

          if (part->shape[2] != in->shape[2] || part->shape[3] != in->shape[3])
            return shape_error (error, node, "concatenated inputs differ in height or width");
          shape[1] += part->shape[1];
        }
      set_shape (node, 4, shape);
      break;

    case GRAFT_NODE_FLATTEN:
      set_shape (node, 2, (const gsize[]) { n, in->shape[1] * in->shape[2] * in->shape[3] });
      node->y = graft_tensor_new_view (in->y, 2, node->shape, error);
      return node->y != NULL;

    case GRAFT_NODE_LINEAR:
      memcpy (shape, in->shape, sizeof shape);
      shape[in->rank - 1] = node->channels;
      set_shape (node, in->rank, shape);
      break;

    case GRAFT_NODE_BATCH_NORM:
    case GRAFT_NODE_ACTIVATION:
    case GRAFT_NODE_DROPOUT:
    case GRAFT_NODE_STOCHASTIC_DEPTH:
    case GRAFT_NODE_LAYER_NORM:
    case GRAFT_NODE_SELF_ATTENTION:
      set_shape (node, in->rank, in->shape);
      break;

    case GRAFT_NODE_POSITION_EMBEDDING:
      if (in->shape[1] != node->length)
        {
          g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE,
                       "%s holds %u positions but the image gives %" G_GSIZE_FORMAT
                       " tokens; use the image size the model was built for",
                       node->name, node->length, in->shape[1]);
          return FALSE;
        }
      {
        /* as many tokens from a grid of another aspect (1 × 4 patches instead of 2 × 2)
         * would put patches at positions learned for others */
        GraftNode *grid = patch_grid (self, node);

        if (grid != NULL && grid->shape[2] != grid->shape[3])
          {
            g_set_error (error, GRAFT_MODEL_ERROR, GRAFT_MODEL_ERROR_SHAPE,
                         "%s was learned for a square grid of patches but the image gives "
                         "%" G_GSIZE_FORMAT "×%" G_GSIZE_FORMAT "; use square images of "
                         "the size the model was built for", node->name, grid->shape[3],
                         grid->shape[2]);
            return FALSE;
          }
      }
      set_shape (node, in->rank, in->shape);
      break;

    case GRAFT_NODE_PATCH_TOKENS:
      set_shape (node, 3, (const gsize[]) { n, in->shape[2] * in->shape[3], in->shape[1] });
      break;

    case GRAFT_NODE_CLASS_TOKEN:
      set_shape (node, 3, (const gsize[]) { n, in->shape[1] + 1, in->shape[2] });
      break;

    case GRAFT_NODE_FIRST_TOKEN:
      set_shape (node, 2, (const gsize[]) { n, in->shape[2] });
      break;

    default:
      g_assert_not_reached ();
    }

  node->y = _graft_model_new_tensor (self, node->rank, node->shape, "output", index, error);
  if (node->y == NULL)
    return FALSE;

  switch (node->kind)
    {
    case GRAFT_NODE_BATCH_NORM:
      node->aux[0] = _graft_model_new_tensor (self, 1, &node->shape[1], "mean", index, error);
      node->aux[1] = node->aux[0] ? _graft_model_new_tensor (self, 1, &node->shape[1], "invstd", index, error) : NULL;
      return node->aux[1] != NULL;

    case GRAFT_NODE_LAYER_NORM:
      {
        gsize rows = graft_tensor_get_n_elements (node->y) / node->shape[node->rank - 1];

        node->aux[0] = _graft_model_new_tensor (self, 1, &rows, "mean", index, error);
        node->aux[1] = node->aux[0] ? _graft_model_new_tensor (self, 1, &rows, "invstd", index, error) : NULL;
        return node->aux[1] != NULL;
      }

    case GRAFT_NODE_MAX_POOL:
      node->aux[0] = new_like (self, node->y, "argmax", index, error);
      return node->aux[0] != NULL;

    case GRAFT_NODE_LINEAR:
      node->aux[0] = view_2d (in->y, error);
      node->aux[1] = node->aux[0] ? view_2d (node->y, error) : NULL;
      return node->aux[1] != NULL;

    case GRAFT_NODE_STOCHASTIC_DEPTH:
      node->aux[0] = new_ones (self, 4, (const gsize[]) { n, 1, 1, 1 }, index, error);
      node->aux[1] = node->aux[0] ? new_like (self, node->aux[0], "mask", index, error) : NULL;
      return node->aux[1] != NULL;

    case GRAFT_NODE_PATCH_TOKENS:
    case GRAFT_NODE_CLASS_TOKEN:
    case GRAFT_NODE_POSITION_EMBEDDING:
    case GRAFT_NODE_SELF_ATTENTION:
      return _graft_model_prepare_tokens (self, index, error);

    default:
      return TRUE;
    }
}

/* ---- gradients -------------------------------------------------------------------------- */

gboolean
_graft_model_prepare_grads (GraftModel  *self,
                            GError     **error)
{
  if (self->grads_ready)
    return TRUE;

  for (guint i = 0; i < self->params->len; i++)
    {
      GraftParam *param = g_ptr_array_index (self->params, i);
      g_autofree char *name = NULL;

      if (param->is_buffer)
        continue;
      param->grad = graft_tensor_new (self->backend, param->rank, param->shape, error);
      if (param->grad == NULL)
        return FALSE;
      name = g_strconcat (param->name, " gradient", NULL);
      graft_tensor_set_name (param->grad, name);
      param->grad_row = graft_tensor_new_view (param->grad, 2,
                                               (const gsize[]) { 1, graft_tensor_get_n_elements (param->grad) },
                                               error);
      if (param->grad_row == NULL)
        return FALSE;
    }

  for (guint i = 1; i < self->nodes->len; i++)
    {
      GraftNode *node = _graft_model_node (self, i);
      GraftNode *in = input_node (self, node, 0);

      if (node->kind == GRAFT_NODE_FLATTEN)
        {
          if (in->n_consumers != 1)
            return shape_error (error, node, "a flattened layer must have no other reader");
          node->dy = in->kind == GRAFT_NODE_INPUT ? NULL
                     : graft_tensor_new_view (in->dy, node->rank, node->shape, error);
          if (in->kind != GRAFT_NODE_INPUT && node->dy == NULL)
            return FALSE;
        }
      else
        {
          node->dy = new_like (self, node->y, "gradient", i, error);
          if (node->dy == NULL)
            return FALSE;
        }
      if (node->n_consumers > 1)
        {
          node->scratch = new_like (self, node->y, "gradient part", i, error);
          if (node->scratch == NULL)
            return FALSE;
        }

      switch (node->kind)
        {
        case GRAFT_NODE_LINEAR:
          node->aux_grad[0] = view_2d (node->dy, error);
          if (node->aux_grad[0] == NULL)
            return FALSE;
          if (in->kind != GRAFT_NODE_INPUT)
            {
              node->aux_grad[1] = view_2d (in->dy, error);
              if (node->aux_grad[1] == NULL)
                return FALSE;
              if (in->scratch != NULL && (node->aux_grad[2] = view_2d (in->scratch, error)) == NULL)
                return FALSE;
            }
          node->aux_grad[3] = new_ones (self, 2, (const gsize[]) { 1, graft_tensor_get_dim (node->aux_grad[0], 0) },
                                        i, error);
          if (node->aux_grad[3] == NULL)
            return FALSE;
          break;

        case GRAFT_NODE_SCALE_CHANNELS:
          node->aux_grad[0] = new_like (self, node->y, "product", i, error);
          if (node->aux_grad[0] == NULL)
            return FALSE;
          break;

        case GRAFT_NODE_PATCH_TOKENS:
        case GRAFT_NODE_CLASS_TOKEN:
        case GRAFT_NODE_POSITION_EMBEDDING:
        case GRAFT_NODE_SELF_ATTENTION:
          if (!_graft_model_prepare_token_grads (self, i, error))
            return FALSE;
          break;

        default:
          break;
        }
    }
  self->loss = graft_tensor_new (self->backend, 1, (const gsize[]) { 1 }, error);
  if (self->loss == NULL)
    return FALSE;
  graft_tensor_set_name (self->loss, "loss");
  self->losses = graft_tensor_new (self->backend, 1, (const gsize[]) { self->batch }, error);
  if (self->losses == NULL)
    return FALSE;
  graft_tensor_set_name (self->losses, "per-sample losses");
  self->grads_ready = TRUE;
  return TRUE;
}

/* Where this layer's contribution to input @k's gradient goes (see the top of the file);
 * NULL when that input needs no gradient. With @views, the caller's reshaped views of
 * the input's dy and scratch, in that order. */
GraftTensor *
_graft_model_grad_target (GraftModel  *self,
                          GraftNode   *node,
                          guint        k,
                          GraftTensor *dy_view,
                          GraftTensor *scratch_view)
{
  GraftNode *in = input_node (self, node, k);

  if (!in->needs_grad || in->kind == GRAFT_NODE_INPUT)
    return NULL;
  if (!in->dy_written)
    return dy_view != NULL ? dy_view : in->dy;
  return scratch_view != NULL ? scratch_view : in->scratch;
}

gboolean
_graft_model_grad_done (GraftModel  *self,
                        GraftNode   *node,
                        guint        k,
                        GError     **error)
{
  GraftNode *in = input_node (self, node, k);

  if (!in->needs_grad || in->kind == GRAFT_NODE_INPUT)
    return TRUE;
  if (!in->dy_written)
    {
      in->dy_written = TRUE;
      return TRUE;
    }
  return graft_op_add (in->dy, in->scratch, in->dy, error);
}

/* An output for a gradient nobody wants but an op insists on writing (batch norm's dx
 * when the layer below is frozen). Allocated the first time it is needed. */
GraftTensor *
_graft_model_junk (GraftModel   *self,
                   int           index,
                   guint         slot,
                   GraftTensor  *like,
                   GError      **error)
{
  GraftNode *node = _graft_model_node (self, index);

  if (node->aux_grad[slot] == NULL)
    node->aux_grad[slot] = new_like (self, like, "unused gradient", index, error);
  return node->aux_grad[slot];
}

/* ---- passes ------------------------------------------------------------------------------ */

static guint64
node_seed (guint64 seed,
           int     index)
{
  return seed ^ ((guint64) (index + 1) * G_GUINT64_CONSTANT (0x9E3779B97F4A7C15));
}

/* Dropout of node @index, its key from the step's key tensor while a training step
 * runs (graft-model-step.c), else from the seed. */
static gboolean
node_dropout (GraftModel   *self,
              int           index,
              GraftTensor  *x,
              float         p,
              guint64       seed,
              gboolean      drop,
              gboolean      backward,
              GraftTensor  *y,
              GError      **error)
{
  guint64 s = node_seed (seed, index);

  if (self->step.keyed)
    return backward
      ? graft_op_dropout_backward_keyed (x, p, s, self->step.keys, index, drop, y, error)
      : graft_op_dropout_keyed (x, p, s, self->step.keys, index, drop, y, error);
  return backward ? graft_op_dropout_backward (x, p, s, drop, y, error)
                  : graft_op_dropout (x, p, s, drop, y, error);
}

gboolean
_graft_model_norm_uses_batch_stats (GraftModel *self,
                                    GraftNode  *node,
                                    gboolean    training)
{
  if (!training)
    return FALSE;
  if (!self->freeze_norm)
    return TRUE;
  /* frozen when neither its weight nor its bias learns */
  for (guint p = 0; p < 2; p++)
    {
      GraftParam *param = _graft_model_param (self, node->params[p]);

      if (param != NULL && param->trainable)
        return TRUE;
    }
  return FALSE;
}

guint64
_graft_model_node_seed (guint64 seed,
                        int     index)
{
  return node_seed (seed, index);
}

gboolean
_graft_model_forward_node (GraftModel  *self,
                           int          index,
                           gboolean     training,
                           guint64      seed,
                           GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_node (self, node, 0);
  gboolean drop = training && self->dropout_enabled;

  switch (node->kind)
    {
    case GRAFT_NODE_CONV:
      return graft_op_conv2d (in->y, param_value (self, node, 0), param_value (self, node, 1),
                              &node->conv, node->y, error);

    case GRAFT_NODE_BATCH_NORM:
      {
        GraftNormParams params = node->norm;

        /* noted for the backward pass, which must use the same formula */
        node->batch_stats = _graft_model_norm_uses_batch_stats (self, node, training);
        params.training = node->batch_stats;
        return graft_op_batch_norm2d (in->y, param_value (self, node, 0),
                                      param_value (self, node, 1), param_value (self, node, 2),
                                      param_value (self, node, 3), &params, node->y,
                                      node->aux[0], node->aux[1], error);
      }

    case GRAFT_NODE_ACTIVATION:
      return graft_op_activation (node->act, in->y, node->y, error);

    case GRAFT_NODE_MAX_POOL:
      return graft_op_max_pool2d (in->y, &node->pool, node->y, node->aux[0], error);

    case GRAFT_NODE_AVG_POOL:
      return graft_op_avg_pool2d (in->y, &node->pool, node->y, error);

    case GRAFT_NODE_ADAPTIVE_POOL:
      return graft_op_adaptive_avg_pool2d (in->y, node->y, error);

    case GRAFT_NODE_ADD:
      return graft_op_add (in->y, input_node (self, node, 1)->y, node->y, error);

    case GRAFT_NODE_SCALE_CHANNELS:
      return graft_op_mul (in->y, input_node (self, node, 1)->y, node->y, error);

    case GRAFT_NODE_CONCAT:
      {
        g_autofree GraftTensor **parts = g_new (GraftTensor *, node->n_inputs);

        for (guint k = 0; k < node->n_inputs; k++)
          parts[k] = input_node (self, node, k)->y;
        return graft_op_concat_channels (parts, node->n_inputs, node->y, error);
      }

    case GRAFT_NODE_FLATTEN:
      return TRUE;

    case GRAFT_NODE_LINEAR:
      return graft_op_gemm (node->aux[0], FALSE, param_value (self, node, 0), TRUE,
                            param_value (self, node, 1), 1.0f, 0.0f, node->aux[1], error);

    case GRAFT_NODE_DROPOUT:
      return node_dropout (self, index, in->y, node->p, seed, drop, FALSE, node->y, error);

    case GRAFT_NODE_STOCHASTIC_DEPTH:
      return node_dropout (self, index, node->aux[0], node->p, seed, drop, FALSE,
                           node->aux[1], error) &&
             graft_op_mul (in->y, node->aux[1], node->y, error);

    case GRAFT_NODE_LAYER_NORM:
      return graft_op_layer_norm (in->y, param_value (self, node, 0), param_value (self, node, 1),
                                  node->norm.eps, node->y, node->aux[0], node->aux[1], error);

    case GRAFT_NODE_POSITION_EMBEDDING:
      return graft_op_add (in->y, param_value (self, node, 0), node->y, error);

    case GRAFT_NODE_PATCH_TOKENS:
    case GRAFT_NODE_CLASS_TOKEN:
    case GRAFT_NODE_SELF_ATTENTION:
    case GRAFT_NODE_FIRST_TOKEN:
      return _graft_model_forward_tokens (self, index, error);

    case GRAFT_NODE_INPUT:
    default:
      g_assert_not_reached ();
    }
}

gboolean
_graft_model_backward_node (GraftModel  *self,
                            int          index,
                            GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_node (self, node, 0);
  gboolean drop = self->last_training && self->dropout_enabled;
  GraftTensor *dx = _graft_model_grad_target (self, node, 0, NULL, NULL);

  switch (node->kind)
    {
    case GRAFT_NODE_CONV:
      {
        GraftTensor *dw = param_grad (self, node, 0);
        GraftTensor *db = param_grad (self, node, 1);

        if (dx == NULL && dw == NULL && db == NULL)
          return TRUE;
        if (!graft_op_conv2d_backward (in->y, param_value (self, node, 0), node->dy,
                                       &node->conv, dx, dw, db, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_BATCH_NORM:
      {
        GraftNormParams params = node->norm;
        GraftTensor *dw = param_grad (self, node, 0);
        GraftTensor *db = param_grad (self, node, 1);

        if (dx == NULL && dw == NULL && db == NULL)
          return TRUE;
        params.training = node->batch_stats;
        if (!graft_op_batch_norm2d_backward (node->dy, in->y, param_value (self, node, 0),
                                             node->aux[0], node->aux[1], &params,
                                             dx != NULL ? dx : _graft_model_junk (self, index, 7, in->y, error),
                                             dw, db, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_LAYER_NORM:
      {
        GraftTensor *dw = param_grad (self, node, 0);
        GraftTensor *db = param_grad (self, node, 1);

        if (dx == NULL && dw == NULL && db == NULL)
          return TRUE;
        if (!graft_op_layer_norm_backward (node->dy, in->y, param_value (self, node, 0),
                                           node->aux[0], node->aux[1],
                                           dx != NULL ? dx : _graft_model_junk (self, index, 7, in->y, error),
                                           dw, db, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_ACTIVATION:
      if (dx != NULL && !graft_op_activation_backward (node->act, in->y, node->dy, dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_MAX_POOL:
      if (dx != NULL && !graft_op_max_pool2d_backward (node->dy, node->aux[0], &node->pool, dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_AVG_POOL:
      if (dx != NULL && !graft_op_avg_pool2d_backward (node->dy, &node->pool, dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_ADAPTIVE_POOL:
      if (dx != NULL && !graft_op_adaptive_avg_pool2d_backward (node->dy, dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_ADD:
      for (guint k = 0; k < 2; k++)
        {
          GraftTensor *target = _graft_model_grad_target (self, node, k, NULL, NULL);

          if (target != NULL &&
              (!graft_op_scale (node->dy, 1.0f, target, error) ||
               !_graft_model_grad_done (self, node, k, error)))
            return FALSE;
        }
      return TRUE;

    case GRAFT_NODE_SCALE_CHANNELS:
      {
        GraftNode *s = input_node (self, node, 1);
        GraftTensor *ds;

        /* y = x * s: dx = dy * s; ds = sum over each plane of dy * x, taken as the
         * plane's mean times its size */
        if (dx != NULL && !graft_op_mul (node->dy, s->y, dx, error))
          return FALSE;
        if (!_graft_model_grad_done (self, node, 0, error))
          return FALSE;
        ds = _graft_model_grad_target (self, node, 1, NULL, NULL);
        if (ds != NULL &&
            (!graft_op_mul (node->dy, in->y, node->aux_grad[0], error) ||
             !graft_op_adaptive_avg_pool2d (node->aux_grad[0], ds, error) ||
             !graft_op_scale (ds, (float) (node->shape[2] * node->shape[3]), ds, error) ||
             !_graft_model_grad_done (self, node, 1, error)))
          return FALSE;
        return TRUE;
      }

    case GRAFT_NODE_CONCAT:
      {
        g_autofree GraftTensor **parts = g_new (GraftTensor *, node->n_inputs);
        gboolean any = FALSE;

        for (guint k = 0; k < node->n_inputs; k++)
          {
            parts[k] = _graft_model_grad_target (self, node, k, NULL, NULL);
            any |= parts[k] != NULL;
            if (parts[k] == NULL)
              {
                /* slots 0..6 hold the parts nobody wants; more inputs are not built */
                if (k >= 7)
                  return shape_error (error, node, "too many frozen concatenated inputs");
                parts[k] = _graft_model_junk (self, index, k, input_node (self, node, k)->y, error);
                if (parts[k] == NULL)
                  return FALSE;
              }
          }
        if (!any)
          return TRUE;
        if (!graft_op_concat_channels_backward (node->dy, parts, node->n_inputs, error))
          return FALSE;
        for (guint k = 0; k < node->n_inputs; k++)
          if (!_graft_model_grad_done (self, node, k, error))
            return FALSE;
        return TRUE;
      }

    case GRAFT_NODE_FLATTEN:
      /* dy is a view of the input's: its reader wrote there already */
      if (in->kind != GRAFT_NODE_INPUT)
        in->dy_written = TRUE;
      return TRUE;

    case GRAFT_NODE_LINEAR:
      {
        GraftTensor *dw = param_grad (self, node, 0);
        GraftTensor *db = param_grad_row (self, node, 1);
        GraftTensor *dx2 = _graft_model_grad_target (self, node, 0, node->aux_grad[1],
                                                     node->aux_grad[2]);

        /* dx = dy W; dW = dy^T x; db = the column sums of dy (ones^T dy) */
        if (dx2 != NULL &&
            !graft_op_gemm (node->aux_grad[0], FALSE, param_value (self, node, 0), FALSE, NULL,
                            1.0f, 0.0f, dx2, error))
          return FALSE;
        if (dw != NULL &&
            !graft_op_gemm (node->aux_grad[0], TRUE, node->aux[0], FALSE, NULL, 1.0f, 0.0f, dw,
                            error))
          return FALSE;
        if (db != NULL &&
            !graft_op_gemm (node->aux_grad[3], FALSE, node->aux_grad[0], FALSE, NULL, 1.0f, 0.0f,
                            db, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_DROPOUT:
      if (dx != NULL &&
          !node_dropout (self, index, node->dy, node->p, self->last_seed, drop, TRUE, dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_STOCHASTIC_DEPTH:
      if (dx != NULL && !graft_op_mul (node->dy, node->aux[1], dx, error))
        return FALSE;
      break;

    case GRAFT_NODE_POSITION_EMBEDDING:
    case GRAFT_NODE_PATCH_TOKENS:
    case GRAFT_NODE_CLASS_TOKEN:
    case GRAFT_NODE_SELF_ATTENTION:
    case GRAFT_NODE_FIRST_TOKEN:
      return _graft_model_backward_tokens (self, index, error);

    case GRAFT_NODE_INPUT:
    default:
      g_assert_not_reached ();
    }

  return _graft_model_grad_done (self, node, 0, error);
}
