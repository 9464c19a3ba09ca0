/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Ops that move values between float32 NCHW tensors: channel concatenation, nearest
 * upsampling and dropout, forward and backward, with PyTorch's semantics. Like every op
 * they run on the operands' backend and may return before the work is done; argument
 * errors are reported at once. A backend that lacks one fails with
 * GRAFT_DEVICE_ERROR_UNSUPPORTED. */

/* out = torch.cat (inputs, dim=1): the @n_inputs (at least 1) tensors [N, C_i, H, W]
 * share N, H and W; out is [N, sum C_i, H, W]. */
gboolean graft_op_concat_channels          (GraftTensor  *const *inputs,
                                            guint                 n_inputs,
                                            GraftTensor          *out,
                                            GError              **error);
/* The backward pass: grad_out [N, sum C_i, H, W] is split along the channels into the
 * @n_inputs gradients, each overwritten. */
gboolean graft_op_concat_channels_backward (GraftTensor          *grad_out,
                                            GraftTensor  *const  *grad_inputs,
                                            guint                 n_inputs,
                                            GError              **error);

/* out = F.interpolate (x, scale_factor=scale, mode='nearest'), x [N, C, H, W], out
 * [N, C, H * scale, W * scale], scale >= 1: out[n, c, h, w] = x[n, c, h / scale,
 * w / scale]. */
gboolean graft_op_upsample_nearest2d          (GraftTensor  *x,
                                               guint         scale,
                                               GraftTensor  *out,
                                               GError      **error);
/* grad_in (x's shape, overwritten): each value the sum of the gradients of its
 * scale x scale block of outputs, added in a fixed order (deterministic). */
gboolean graft_op_upsample_nearest2d_backward (GraftTensor  *grad_out,
                                               guint         scale,
                                               GraftTensor  *grad_in,
                                               GError      **error);

/* Dropout (F.dropout): when @training and p > 0, out[i] = x[i] * mask[i] / (1 - p),
 * where mask[i] is 0 with probability p; otherwise out is a copy of x. Any shape; p in
 * [0, 1] (p = 1 gives zeros).
 *
 * The mask is not stored: it is a function of @seed and the element's index i (its
 * position in the flattened tensor), so the backward pass recomputes it and every
 * backend draws the same mask bit for bit. With mix the 32-bit integer hash lowbias32
 * (x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16):
 *   key  = mix (seed_lo ^ mix (seed_hi ^ 0x9e3779b9))
 *   h    = mix (mix (i ^ key) + key)
 *   u    = (h >> 8) / 2^24, uniform on [0, 1) in steps of 2^-24
 *   mask = u >= p
 * This is not PyTorch's random generator: the same seed gives a different mask than
 * torch.manual_seed would, with the same distribution. Use a new seed for each step. */
gboolean graft_op_dropout          (GraftTensor  *x,
                                    float         p,
                                    guint64       seed,
                                    gboolean      training,
                                    GraftTensor  *out,
                                    GError      **error);
/* grad_in = grad_out * mask / (1 - p) with the forward pass's p, seed and training:
 * the same mask, recomputed. grad_in has grad_out's shape and is overwritten. */
gboolean graft_op_dropout_backward (GraftTensor  *grad_out,
                                    float         p,
                                    guint64       seed,
                                    gboolean      training,
                                    GraftTensor  *grad_in,
                                    GError      **error);

/* Dropout whose key is read from a tensor when the op runs, for work recorded once and
 * replayed (graft_backend_record_begin()): @keys[@slot] holds graft_dropout_key (@seed)
 * as a uint32 (its bits stored in the float tensor, see graft_dropout_write_keys()),
 * written before the op runs or before each replay. Same results as with @seed alone. */
guint32  graft_dropout_key                (guint64       seed);
gboolean graft_dropout_write_keys         (GraftTensor  *keys,
                                           const guint64 *seeds,
                                           guint         n_seeds,
                                           GError      **error);
gboolean graft_op_dropout_keyed           (GraftTensor  *x,
                                           float         p,
                                           guint64       seed,
                                           GraftTensor  *keys,
                                           guint         slot,
                                           gboolean      training,
                                           GraftTensor  *out,
                                           GError      **error);
gboolean graft_op_dropout_backward_keyed  (GraftTensor  *grad_out,
                                           float         p,
                                           guint64       seed,
                                           GraftTensor  *keys,
                                           guint         slot,
                                           gboolean      training,
                                           GraftTensor  *grad_in,
                                           GError      **error);

G_END_DECLS
