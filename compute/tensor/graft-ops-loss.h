/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "graft-tensor.h"

G_BEGIN_DECLS

/* Softmax cross-entropy with the semantics of PyTorch 1.13's
 * torch.nn.functional.cross_entropy (logits, target, weight, label_smoothing = eps,
 * reduction = 'mean') for class-index targets. Like every op it runs on the operands'
 * backend and may return before the work is done; argument errors are reported at once.
 *
 * With log p = log_softmax (logits) (computed from the max-subtracted log-sum-exp, so
 * logits of any magnitude are safe), y = target[i] and w the class weights (all 1 when
 * @weight is NULL):
 *   losses[i] = (1 - eps) * w[y] * -log p[i, y] + eps / C * sum_c w[c] * -log p[i, c]
 *   loss      = sum_i losses[i] / sum_i w[y_i]
 * which is PyTorch's mean: its smoothing term uses every class's weight but, like the
 * NLL term, is divided by the sum of the targets' weights. losses[i] equals PyTorch's
 * reduction = 'none'. When the targets' weights sum to 0 the loss is NaN, as in PyTorch.
 *
 * Targets are class indices stored as floats. A target that is not in [0, C) (or is
 * NaN) is a programming error that a GPU cannot report; such a row contributes nothing:
 * its loss is 0, its weight is left out of the mean's divisor and its gradient is 0.
 *
 * @logits   [N, C]
 * @target   [N]
 * @weight   [C], or NULL
 * @loss     [1]: the mean loss
 * @losses   [N]: each row's loss (for finding the worst predictions)
 * @dlogits  [N, C] = d loss / d logits, or NULL when no gradient is wanted. It must not
 *           share storage with @logits. */
gboolean graft_op_cross_entropy (GraftTensor  *logits,
                                 GraftTensor  *target,
                                 GraftTensor  *weight,
                                 float         label_smoothing,
                                 GraftTensor  *loss,
                                 GraftTensor  *losses,
                                 GraftTensor  *dlogits,
                                 GError      **error);

G_END_DECLS
