/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Multi-head self-attention as nn.MultiheadAttention (batch_first=True, dropout 0)
 * computes it between its in-projection and its out-projection, and the batched
 * transpose a Vision Transformer needs around it. Like every op they run on the
 * operands' backend and may return before the work is done; argument errors are
 * reported at once. A backend that lacks one fails with GRAFT_DEVICE_ERROR_UNSUPPORTED. */

/* out[b] = x[b]^T: x is [B, M, K] and out [B, K, M] (or x [M, K] and out [K, M], one
 * matrix). The backward pass is the same op on the gradient: grad_x = transpose_last2
 * (grad_out). out must not share storage with x. */
gboolean graft_op_transpose_last2   (GraftTensor  *x,
                                     GraftTensor  *out,
                                     GError      **error);

/* Scaled dot-product attention over packed projections. qkv is [N, L, 3E], the output
 * of the in-projection: q = qkv[..., 0:E], k = qkv[..., E:2E], v = qkv[..., 2E:3E].
 * @n_heads (at least 1) must divide E; head h owns columns h * d .. (h + 1) * d - 1 of
 * each of q, k and v, d = E / n_heads. For each n and h:
 *   S   = q_h k_h^T / sqrt (d)                     [L, L]
 *   P   = softmax (S) along the last axis           (the row maximum subtracted first)
 *   O_h = P v_h                                     [L, d]
 * out [N, L, E] holds O_h in its columns h * d ..; probs [N, n_heads, L, L] receives P,
 * which the backward pass needs. This is torch.nn.functional.multi_head_attention_forward
 * with batch_first=True up to (not including) out_proj. Neither output may share
 * storage with qkv or with the other. */
gboolean graft_op_attention          (GraftTensor  *qkv,
                                      guint         n_heads,
                                      GraftTensor  *probs,
                                      GraftTensor  *out,
                                      GError      **error);

/* The backward pass of graft_op_attention from the forward's qkv and probs and the
 * gradient dout [N, L, E] of out. dqkv ([N, L, 3E], qkv's shape) is overwritten with
 * the gradients of q, k and v in the same packing: for each n and h
 *   dV = P^T dO,  dP = dO V^T,  dS = P ⊙ (dP − rowsum (dP ⊙ P)),
 *   dQ = dS K / sqrt (d),  dK = dS^T Q / sqrt (d).
 * dqkv must not share storage with any input. */
gboolean graft_op_attention_backward (GraftTensor  *qkv,
                                      GraftTensor  *probs,
                                      GraftTensor  *dout,
                                      guint         n_heads,
                                      GraftTensor  *dqkv,
                                      GError      **error);

G_END_DECLS
