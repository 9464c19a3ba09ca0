/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* 2-D pooling of float32 NCHW tensors with the semantics of PyTorch's
 * torch.nn.functional.max_pool2d, avg_pool2d and adaptive_avg_pool2d, forward and
 * backward. Like every op they run on the operands' backend and may return before the
 * work is done; argument errors are reported at once. */

typedef struct {
  guint    kernel_h, kernel_w;
  guint    stride_h, stride_w;
  guint    pad_h, pad_w;          /* at most half the kernel, on each side */
  guint    dilation_h, dilation_w; /* max pooling only; must be 1 for average pooling */
  gboolean ceil_mode;             /* round the output size up: a last, partial window */
  gboolean count_include_pad;     /* average pooling: padding counts in the divisor */
} GraftPool2dParams;

/* PyTorch's defaults for a kernel_h x kernel_w window: stride equal to the kernel, no
 * padding, dilation 1, ceil_mode off, count_include_pad on. */
void     graft_pool2d_params_init   (GraftPool2dParams        *params,
                                     guint                     kernel_h,
                                     guint                     kernel_w);

/* The output shape [N, C, out_h, out_w] of pooling an input of shape @in_shape
 * ([N, C, H, W]) with @params. Each output size is
 *   floor_or_ceil ((size + 2 * pad - dilation * (kernel - 1) - 1) / stride) + 1
 * and with ceil_mode a last window that would start in the right padding is dropped.
 * Fails, saying why, when the parameters are invalid or the output would be empty. */
gboolean graft_pool2d_output_shape  (const gsize               in_shape[4],
                                     const GraftPool2dParams  *params,
                                     gsize                     out_shape[4],
                                     GError                  **error);

/* out = max_pool2d (x). @indices, when not NULL, has out's shape and receives for each
 * output the position h * W + w of its maximum within its input plane, as a float
 * (exact, since a plane may hold at most 2^24 values); the first maximum in scan order
 * wins ties, a NaN wins over numbers. The backward pass needs these indices. */
gboolean graft_op_max_pool2d            (GraftTensor              *x,
                                         const GraftPool2dParams  *params,
                                         GraftTensor              *out,
                                         GraftTensor              *indices,
                                         GError                  **error);
/* grad_in = d loss / d x from grad_out = d loss / d out: each output's gradient goes to
 * the input its index names, summed where windows overlap. grad_in has x's shape and is
 * overwritten. */
gboolean graft_op_max_pool2d_backward   (GraftTensor              *grad_out,
                                         GraftTensor              *indices,
                                         const GraftPool2dParams  *params,
                                         GraftTensor              *grad_in,
                                         GError                  **error);

/* out = avg_pool2d (x): the mean over each window (see count_include_pad). */
gboolean graft_op_avg_pool2d            (GraftTensor              *x,
                                         const GraftPool2dParams  *params,
                                         GraftTensor              *out,
                                         GError                  **error);
/* grad_in (x's shape, overwritten): each output's gradient spread evenly over its window. */
gboolean graft_op_avg_pool2d_backward   (GraftTensor              *grad_out,
                                         const GraftPool2dParams  *params,
                                         GraftTensor              *grad_in,
                                         GError                  **error);

/* out = adaptive_avg_pool2d (x, (out_h, out_w)), the output size taken from out's shape
 * [N, C, out_h, out_w]: output row i averages input rows floor(i * H / out_h) to
 * ceil((i + 1) * H / out_h) - 1, likewise for columns. [N, C, 1, 1] is global average
 * pooling. */
gboolean graft_op_adaptive_avg_pool2d          (GraftTensor   *x,
                                                GraftTensor   *out,
                                                GError       **error);
gboolean graft_op_adaptive_avg_pool2d_backward (GraftTensor   *grad_out,
                                                GraftTensor   *grad_in,
                                                GError       **error);

G_END_DECLS
