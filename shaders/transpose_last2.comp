// SPDX-License-Identifier: GPL-3.0-or-later
// Batched transpose: x holds batch matrices of rows x cols values, out batch matrices of
// cols x rows, out[b, j, i] = x[b, i, j]; one invocation per output value, so the writes
// are contiguous and the reads strided.
#version 450
#include "graft-common.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Out { float y[]; };

layout(push_constant) uniform Params {
  uint batch, rows, cols;
  uint total;
} p;

void main()
{
  uint e = graft_global_index();
  if (e >= p.total)
    return;
  uint plane = p.rows * p.cols;
  uint b = e / plane;
  uint r = e - b * plane;
  uint j = r / p.rows;
  uint i = r - j * p.rows;
  y[e] = x[b * plane + i * p.cols + j];
}
