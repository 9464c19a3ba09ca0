/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Ops record work on the operands' backend and may return before it has run; errors in
 * the arguments (shapes, backends) are reported at once, device failures at the latest by
 * the next download or graft_backend_synchronize(). All operands share one backend. */

/* out[...] = value */
gboolean graft_op_fill  (GraftTensor  *out,
                         float         value,
                         GError      **error);

/* out = a + b, out = a * b with NumPy broadcasting: shapes are aligned on their last
 * dimension and each pair of dimensions must be equal or one of them 1. out must have
 * the broadcast shape; it may be a or b when that operand already has it. */
gboolean graft_op_add   (GraftTensor  *a,
                         GraftTensor  *b,
                         GraftTensor  *out,
                         GError      **error);
gboolean graft_op_mul   (GraftTensor  *a,
                         GraftTensor  *b,
                         GraftTensor  *out,
                         GError      **error);

/* out = a * s; out has a's element count and may be a */
gboolean graft_op_scale (GraftTensor  *a,
                         float         s,
                         GraftTensor  *out,
                         GError      **error);

/* c = alpha * op(a) @ op(b) + beta * c + bias, with 2-D a, b, c and a 1-D bias of c's
 * column count (or NULL). op(a) is a or its transpose (@trans_a), likewise for b: with
 * c of shape [m, n], a is [m, k] ([k, m] when transposed) and b is [k, n] ([n, k] when
 * transposed), so a Linear layer's y = x W^T + b is graft_op_gemm (x, FALSE, W, TRUE, b, …).
 * With beta == 0 the old contents of c are ignored. c must not alias a, b or bias. */
gboolean graft_op_gemm  (GraftTensor  *a,
                         gboolean      trans_a,
                         GraftTensor  *b,
                         gboolean      trans_b,
                         GraftTensor  *bias,
                         float         alpha,
                         float         beta,
                         GraftTensor  *c,
                         GError      **error);

/* Activation functions, with PyTorch's definitions (torch.nn.functional):
 *   relu         max(x, 0)
 *   relu6        min(max(x, 0), 6)
 *   silu         x * sigmoid(x)                 (also called swish)
 *   hardswish    x * relu6(x + 3) / 6
 *   hardsigmoid  relu6(x + 3) / 6
 *   sigmoid      1 / (1 + exp(-x))
 *   gelu         x * Φ(x), Φ the standard normal CDF (the exact erf form, PyTorch's
 *                approximate='none', not the tanh approximation) */
typedef enum {
  GRAFT_ACTIVATION_RELU,
  GRAFT_ACTIVATION_RELU6,
  GRAFT_ACTIVATION_SILU,
  GRAFT_ACTIVATION_HARDSWISH,
  GRAFT_ACTIVATION_HARDSIGMOID,
  GRAFT_ACTIVATION_SIGMOID,
  GRAFT_ACTIVATION_GELU,
} GraftActivation;

#define GRAFT_N_ACTIVATIONS (GRAFT_ACTIVATION_GELU + 1)

/* "relu", "relu6", "silu", "hardswish", "hardsigmoid", "sigmoid", "gelu" */
const char *graft_activation_to_string  (GraftActivation  act);

/* y = act(x) elementwise; y has x's element count and may be x. */
gboolean    graft_op_activation          (GraftActivation  act,
                                          GraftTensor     *x,
                                          GraftTensor     *y,
                                          GError         **error);

/* dx = dy * act'(x) elementwise, from the forward op's INPUT x. dy and dx have x's
 * element count; dx may be dy (or x). Where the function has a kink the gradient is
 * PyTorch's: relu' (0) = 0; relu6' is 1 only for 0 < x < 6; hardsigmoid' is 1/6 only
 * for -3 < x < 3; hardswish' is 0 for x < -3, x / 3 + 0.5 for -3 <= x <= 3, 1 above. */
gboolean    graft_op_activation_backward (GraftActivation  act,
                                          GraftTensor     *x,
                                          GraftTensor     *dy,
                                          GraftTensor     *dx,
                                          GError         **error);

G_END_DECLS
