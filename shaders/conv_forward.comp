// SPDX-License-Identifier: GPL-3.0-or-later
// conv2d forward as an implicit GEMM per group: rows are the group's output channels,
// columns the (image, output position) pairs, the reduction runs over the group's
// (input channel, kernel row, kernel column) taps in weight order. Input values are
// gathered straight from x (zero in the padding): no column matrix is materialised.
// Operands are read from storage buffers; conv_forward_texel reads them as texel buffers.
#version 450
#include "graft-common.glsl"
#include "graft-conv.glsl"
#include "graft-conv-forward.glsl"
