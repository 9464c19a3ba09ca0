/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "graft-nn"

/* The Vision Transformer's layers over tokens [N, L, E]: patches to tokens, the class
 * token, the position embedding, self-attention (torch.nn.MultiheadAttention's packed
 * in-projection, heads, out-projection) and taking the first token. Sums over the batch
 * (the gradients of parameters shared by every sample) are GEMMs with a row of ones. */

#include "graft-model-private.h"
#include "tensor/graft-ops-attention.h"

static GraftNode *
input_of (GraftModel *self,
          GraftNode  *node)
{
  return _graft_model_node (self, node->inputs[0]);
}

static GraftParam *
param_of (GraftModel *self,
          GraftNode  *node,
          guint       slot)
{
  return _graft_model_param (self, node->params[slot]);
}

static GraftTensor *
view (GraftTensor  *t,
      guint         rank,
      const gsize  *shape,
      GError      **error)
{
  return t != NULL ? graft_tensor_new_view (t, rank, shape, error) : NULL;
}

static GraftTensor *
ones (GraftModel   *self,
      int           index,
      gsize         count,
      GError      **error)
{
  GraftTensor *t = _graft_model_new_tensor (self, 2, (const gsize[]) { 1, count }, "ones",
                                            index, error);

  if (t != NULL && !graft_op_fill (t, 1.0f, error))
    g_clear_pointer (&t, graft_tensor_unref);
  return t;
}

gboolean
_graft_model_prepare_tokens (GraftModel  *self,
                             int          index,
                             GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_of (self, node);
  gsize n = node->shape[0];

  switch (node->kind)
    {
    case GRAFT_NODE_PATCH_TOKENS:
      /* [N, E, h, w] seen as [N, E, h * w], transposed into [N, h * w, E] */
      node->aux[0] = view (in->y, 3, (const gsize[]) { n, in->shape[1], in->shape[2] * in->shape[3] }, error);
      return node->aux[0] != NULL;

    case GRAFT_NODE_CLASS_TOKEN:
      {
        gsize l = in->shape[1], e = in->shape[2];

        /* the token repeated over the batch ([N, 1, 1] ones times [1, 1, E]), then
         * concatenated before the tokens, as channels of [N, C, E, 1] */
        node->aux[5] = ones (self, index, n, error);
        node->aux[0] = view (node->aux[5], 3, (const gsize[]) { n, 1, 1 }, error);
        node->aux[1] = node->aux[0] ? _graft_model_new_tensor (self, 3, (const gsize[]) { n, 1, e },
                                                               "class tokens", index, error) : NULL;
        node->aux[2] = view (node->aux[1], 4, (const gsize[]) { n, 1, e, 1 }, error);
        node->aux[3] = view (node->aux[2] ? in->y : NULL, 4, (const gsize[]) { n, l, e, 1 }, error);
        node->aux[4] = view (node->aux[3] ? node->y : NULL, 4, (const gsize[]) { n, l + 1, e, 1 }, error);
        return node->aux[4] != NULL;
      }

    case GRAFT_NODE_POSITION_EMBEDDING:
      return TRUE;

    case GRAFT_NODE_SELF_ATTENTION:
      {
        gsize l = in->shape[1], e = in->shape[2];

        node->aux[0] = _graft_model_new_tensor (self, 3, (const gsize[]) { n, l, 3 * e }, "qkv", index, error);
        node->aux[1] = node->aux[0] ? _graft_model_new_tensor (self, 4, (const gsize[]) { n, node->heads, l, l },
                                                               "attention weights", index, error) : NULL;
        node->aux[2] = node->aux[1] ? _graft_model_new_tensor (self, 3, (const gsize[]) { n, l, e },
                                                               "attention output", index, error) : NULL;
        node->aux[3] = view (node->aux[2] ? in->y : NULL, 2, (const gsize[]) { n * l, e }, error);
        node->aux[4] = view (node->aux[3] ? node->aux[0] : NULL, 2, (const gsize[]) { n * l, 3 * e }, error);
        node->aux[5] = view (node->aux[4] ? node->aux[2] : NULL, 2, (const gsize[]) { n * l, e }, error);
        node->aux[6] = view (node->aux[5] ? node->y : NULL, 2, (const gsize[]) { n * l, e }, error);
        return node->aux[6] != NULL;
      }

    default:
      g_assert_not_reached ();
    }
}

gboolean
_graft_model_prepare_token_grads (GraftModel  *self,
                                  int          index,
                                  GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_of (self, node);
  gboolean has_in = in->kind != GRAFT_NODE_INPUT;
  gsize n = node->shape[0];

  switch (node->kind)
    {
    case GRAFT_NODE_PATCH_TOKENS:
      {
        const gsize shape[3] = { n, in->shape[1], in->shape[2] * in->shape[3] };

        if (has_in && (node->aux_grad[0] = view (in->dy, 3, shape, error)) == NULL)
          return FALSE;
        if (has_in && in->scratch != NULL &&
            (node->aux_grad[1] = view (in->scratch, 3, shape, error)) == NULL)
          return FALSE;
        return TRUE;
      }

    case GRAFT_NODE_CLASS_TOKEN:
      {
        gsize l = in->shape[1], e = in->shape[2];
        const gsize in4[4] = { n, l, e, 1 };

        node->aux_grad[0] = _graft_model_new_tensor (self, 3, (const gsize[]) { n, 1, e },
                                                     "class token gradients", index, error);
        node->aux_grad[1] = view (node->aux_grad[0], 4, (const gsize[]) { n, 1, e, 1 }, error);
        node->aux_grad[2] = view (node->aux_grad[1] ? node->aux_grad[0] : NULL, 2, (const gsize[]) { n, e }, error);
        node->aux_grad[3] = view (node->aux_grad[2] ? node->dy : NULL, 4, (const gsize[]) { n, l + 1, e, 1 }, error);
        if (node->aux_grad[3] == NULL)
          return FALSE;
        if (has_in && (node->aux_grad[4] = view (in->dy, 4, in4, error)) == NULL)
          return FALSE;
        if (has_in && in->scratch != NULL &&
            (node->aux_grad[5] = view (in->scratch, 4, in4, error)) == NULL)
          return FALSE;
        return TRUE;
      }

    case GRAFT_NODE_POSITION_EMBEDDING:
      node->aux_grad[0] = view (node->dy, 2, (const gsize[]) { n, node->shape[1] * node->shape[2] }, error);
      node->aux_grad[1] = node->aux_grad[0] ? ones (self, index, n, error) : NULL;
      return node->aux_grad[1] != NULL;

    case GRAFT_NODE_SELF_ATTENTION:
      {
        gsize l = in->shape[1], e = in->shape[2];

        node->aux_grad[0] = _graft_model_new_tensor (self, 3, (const gsize[]) { n, l, e },
                                                     "attention output gradient", index, error);
        node->aux_grad[1] = view (node->aux_grad[0], 2, (const gsize[]) { n * l, e }, error);
        node->aux_grad[2] = node->aux_grad[1] ? _graft_model_new_tensor (self, 3, (const gsize[]) { n, l, 3 * e },
                                                                         "qkv gradient", index, error) : NULL;
        node->aux_grad[3] = view (node->aux_grad[2], 2, (const gsize[]) { n * l, 3 * e }, error);
        node->aux_grad[4] = node->aux_grad[3] ? ones (self, index, n * l, error) : NULL;
        node->aux_grad[5] = view (node->aux_grad[4] ? node->dy : NULL, 2, (const gsize[]) { n * l, e }, error);
        if (node->aux_grad[5] == NULL)
          return FALSE;
        if (has_in && (node->aux_grad[6] = view (in->dy, 2, (const gsize[]) { n * l, e }, error)) == NULL)
          return FALSE;
        if (has_in && in->scratch != NULL &&
            (node->aux_grad[7] = view (in->scratch, 2, (const gsize[]) { n * l, e }, error)) == NULL)
          return FALSE;
        return TRUE;
      }

    default:
      g_assert_not_reached ();
    }
}

/* The first token of each sample: a strided copy, [N, L, E] -> [N, E] (forward) or
 * [N, E] -> the first rows of [N, L, E] (backward). */
static gboolean
copy_first_token (GraftModel   *self,
                  GraftTensor  *src,
                  GraftTensor  *dst,
                  gsize         n,
                  gsize         l,
                  gsize         e,
                  gboolean      forward,
                  GError      **error)
{
  GraftCopyPlan plan = {
    .outer = n,
    .block = e,
    .src_stride = forward ? l * e : e,
    .dst_stride = forward ? e : l * e,
  };

  return self->backend->ops->copy_strided (self->backend, &plan, src->buffer, dst->buffer, error);
}

gboolean
_graft_model_forward_tokens (GraftModel  *self,
                             int          index,
                             GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_of (self, node);

  switch (node->kind)
    {
    case GRAFT_NODE_PATCH_TOKENS:
      return graft_op_transpose_last2 (node->aux[0], node->y, error);

    case GRAFT_NODE_CLASS_TOKEN:
      {
        GraftTensor *parts[2] = { node->aux[2], node->aux[3] };

        return graft_op_mul (node->aux[0], param_of (self, node, 0)->value, node->aux[1], error) &&
               graft_op_concat_channels (parts, 2, node->aux[4], error);
      }

    case GRAFT_NODE_SELF_ATTENTION:
      return graft_op_gemm (node->aux[3], FALSE, param_of (self, node, 0)->value, TRUE,
                            param_of (self, node, 1)->value, 1.0f, 0.0f, node->aux[4], error) &&
             graft_op_attention (node->aux[0], node->heads, node->aux[1], node->aux[2], error) &&
             graft_op_gemm (node->aux[5], FALSE, param_of (self, node, 2)->value, TRUE,
                            param_of (self, node, 3)->value, 1.0f, 0.0f, node->aux[6], error);

    case GRAFT_NODE_FIRST_TOKEN:
      return copy_first_token (self, in->y, node->y, in->shape[0], in->shape[1], in->shape[2],
                               TRUE, error);

    default:
      g_assert_not_reached ();
    }
}

static GraftTensor *
trainable_grad_row (GraftModel *self,
                    GraftNode  *node,
                    guint       slot)
{
  GraftParam *param = param_of (self, node, slot);

  return param->trainable ? param->grad_row : NULL;
}

gboolean
_graft_model_backward_tokens (GraftModel  *self,
                              int          index,
                              GError     **error)
{
  GraftNode *node = _graft_model_node (self, index);
  GraftNode *in = input_of (self, node);

  switch (node->kind)
    {
    case GRAFT_NODE_PATCH_TOKENS:
      {
        GraftTensor *dx = _graft_model_grad_target (self, node, 0, node->aux_grad[0], node->aux_grad[1]);

        if (dx != NULL && !graft_op_transpose_last2 (node->dy, dx, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_CLASS_TOKEN:
      {
        GraftTensor *dx = _graft_model_grad_target (self, node, 0, node->aux_grad[4], node->aux_grad[5]);
        GraftTensor *dtoken = trainable_grad_row (self, node, 0);
        GraftTensor *parts[2] = { node->aux_grad[1], dx };

        if (dx == NULL && dtoken == NULL)
          return TRUE;
        if (dx == NULL)
          {
            parts[1] = _graft_model_junk (self, index, 7, node->aux[3], error);
            if (parts[1] == NULL)
              return FALSE;
          }
        if (!graft_op_concat_channels_backward (node->aux_grad[3], parts, 2, error))
          return FALSE;
        /* the token's gradient: its copies' gradients summed over the batch */
        if (dtoken != NULL &&
            !graft_op_gemm (node->aux[5], FALSE, node->aux_grad[2], FALSE, NULL, 1.0f, 0.0f,
                            dtoken, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_POSITION_EMBEDDING:
      {
        GraftTensor *dx = _graft_model_grad_target (self, node, 0, NULL, NULL);
        GraftTensor *dpos = trainable_grad_row (self, node, 0);

        if (dx != NULL && !graft_op_scale (node->dy, 1.0f, dx, error))
          return FALSE;
        if (dpos != NULL &&
            !graft_op_gemm (node->aux_grad[1], FALSE, node->aux_grad[0], FALSE, NULL, 1.0f, 0.0f,
                            dpos, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_SELF_ATTENTION:
      {
        GraftParam *w_in = param_of (self, node, 0), *w_out = param_of (self, node, 2);
        GraftTensor *dx = _graft_model_grad_target (self, node, 0, node->aux_grad[6], node->aux_grad[7]);
        GraftTensor *dy2 = node->aux_grad[5];

        /* out-projection: d attn = dy W_out; dW_out = dy^T attn; db_out = ones^T dy */
        if (!graft_op_gemm (dy2, FALSE, w_out->value, FALSE, NULL, 1.0f, 0.0f, node->aux_grad[1], error))
          return FALSE;
        if (w_out->trainable &&
            !graft_op_gemm (dy2, TRUE, node->aux[5], FALSE, NULL, 1.0f, 0.0f, w_out->grad, error))
          return FALSE;
        if (trainable_grad_row (self, node, 3) != NULL &&
            !graft_op_gemm (node->aux_grad[4], FALSE, dy2, FALSE, NULL, 1.0f, 0.0f,
                            trainable_grad_row (self, node, 3), error))
          return FALSE;
        if (!graft_op_attention_backward (node->aux[0], node->aux[1], node->aux_grad[0], node->heads,
                                          node->aux_grad[2], error))
          return FALSE;
        /* in-projection: dx = dqkv W_in; dW_in = dqkv^T x; db_in = ones^T dqkv */
        if (w_in->trainable &&
            !graft_op_gemm (node->aux_grad[3], TRUE, node->aux[3], FALSE, NULL, 1.0f, 0.0f, w_in->grad, error))
          return FALSE;
        if (trainable_grad_row (self, node, 1) != NULL &&
            !graft_op_gemm (node->aux_grad[4], FALSE, node->aux_grad[3], FALSE, NULL, 1.0f, 0.0f,
                            trainable_grad_row (self, node, 1), error))
          return FALSE;
        if (dx != NULL &&
            !graft_op_gemm (node->aux_grad[3], FALSE, w_in->value, FALSE, NULL, 1.0f, 0.0f, dx, error))
          return FALSE;
        break;
      }

    case GRAFT_NODE_FIRST_TOKEN:
      {
        GraftTensor *dx = _graft_model_grad_target (self, node, 0, NULL, NULL);

        if (dx != NULL &&
            (!graft_op_fill (dx, 0.0f, error) ||
             !copy_first_token (self, node->dy, dx, in->shape[0], in->shape[1], in->shape[2],
                                FALSE, error)))
          return FALSE;
        break;
      }

    default:
      g_assert_not_reached ();
    }

  return _graft_model_grad_done (self, node, 0, error);
}
