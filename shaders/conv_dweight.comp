// SPDX-License-Identifier: GPL-3.0-or-later
// conv2d weight gradient as an implicit GEMM per group: rows are the group's output
// channels, columns the weight's (input channel, kernel row, kernel column) taps, the
// reduction runs over (image, output position) with the input gathered per tap. When
// the reduction is long and the weight small, the images are split into slices
// (gl_WorkGroupID.z = slice * groups + group), each writing its own partial weight
// gradient; conv_sum_slices adds them in slice order, so results are deterministic.
// Operands are read from storage buffers; conv_dweight_texel reads them as texel buffers.
#version 450
#include "graft-common.glsl"
#include "graft-conv.glsl"
#include "graft-conv-dweight.glsl"
