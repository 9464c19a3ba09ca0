// SPDX-License-Identifier: GPL-3.0-or-later
// conv_dweight.comp with its two input operands read as uniform texel buffers, which
// CPU implementations of Vulkan (lavapipe) fetch with one gather instead of a loop
// over the lanes (see gemm_cpu.comp).
#version 450
#define GRAFT_CONV_TEXEL 1
#include "graft-common.glsl"
#include "graft-conv.glsl"
#include "graft-conv-dweight.glsl"
