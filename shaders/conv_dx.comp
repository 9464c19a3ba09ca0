// SPDX-License-Identifier: GPL-3.0-or-later
// conv2d input gradient as an implicit GEMM per group: rows are the group's input
// channels, columns the (image, input position) pairs, the reduction runs over the
// group's (output channel, kernel row, kernel column) taps. A tap contributes where the
// input position minus the tap's offset is a whole number of strides inside the output;
// the gradient is gathered, never scattered, so no atomics and a fixed order.
// Operands are read from storage buffers; conv_dx_texel reads them as texel buffers.
#version 450
#include "graft-common.glsl"
#include "graft-conv.glsl"
#include "graft-conv-dx.glsl"
