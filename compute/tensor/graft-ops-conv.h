/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* 2-D convolution of float32 NCHW tensors with the semantics of PyTorch's
 * torch.nn.functional.conv2d (cross-correlation, zero padding), forward and backward.
 * x is [N, C_in, H, W], weight [C_out, C_in / groups, kernel_h, kernel_w], bias [C_out]
 * and y [N, C_out, out_h, out_w]. Like every op they run on the operands' backend and may
 * return before the work is done; argument errors are reported at once. */

typedef struct {
  guint stride_h, stride_w;
  guint pad_h, pad_w;             /* zeros added on each side */
  guint dilation_h, dilation_w;
  guint groups;                   /* divides C_in and C_out */
} GraftConv2dParams;

/* PyTorch's defaults: stride 1, no padding, dilation 1, one group. */
void     graft_conv2d_params_init  (GraftConv2dParams        *params);

/* The output shape [N, C_out, out_h, out_w] of convolving an input of shape @in_shape
 * with a weight of shape @weight_shape. Each output size is
 *   floor ((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1.
 * Fails, saying why, when the shapes or parameters disagree or the output would be
 * empty. */
gboolean graft_conv2d_output_shape (const gsize               in_shape[4],
                                    const gsize               weight_shape[4],
                                    const GraftConv2dParams  *params,
                                    gsize                     out_shape[4],
                                    GError                  **error);

/* y = conv2d (x, weight, bias); @bias may be NULL. y is overwritten. */
gboolean graft_op_conv2d           (GraftTensor              *x,
                                    GraftTensor              *weight,
                                    GraftTensor              *bias,
                                    const GraftConv2dParams  *params,
                                    GraftTensor              *y,
                                    GError                  **error);

/* The gradients of a loss with respect to x, weight and bias from dy = d loss / d y,
 * the forward pass's x and weight giving the shapes. Each of @dx (x's shape), @dweight
 * (weight's shape) and @dbias ([C_out]) may be NULL when not wanted (a frozen layer needs
 * no dweight, the first layer no dx); those given are overwritten. */
gboolean graft_op_conv2d_backward  (GraftTensor              *x,
                                    GraftTensor              *weight,
                                    GraftTensor              *dy,
                                    const GraftConv2dParams  *params,
                                    GraftTensor              *dx,
                                    GraftTensor              *dweight,
                                    GraftTensor              *dbias,
                                    GError                  **error);

G_END_DECLS
