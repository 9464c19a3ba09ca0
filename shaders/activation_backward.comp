// SPDX-License-Identifier: GPL-3.0-or-later
// dx[i] = dy[i] * act'(x[i]), x the forward input, for the activation ACT
// (specialization constant 1, see common/graft-activation.glsl); dx may be dy or x.
// Each invocation does four elements as vec4s; the last one does whatever remains of n
// one element at a time.
#version 450
#include "graft-common.glsl"
#include "graft-activation.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY { float dy[]; };
layout(std430, set = 0, binding = 1) readonly buffer DY4 { vec4 dy4[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };
layout(std430, set = 0, binding = 2) writeonly buffer DX4 { vec4 dx4[]; };

layout(push_constant) uniform Params {
  uint n;
} p;

void main()
{
  uint i = graft_global_index();

  if (i * 4u + 4u <= p.n)
    dx4[i] = graft_activation_grad(x4[i], dy4[i]);
  else
    for (uint e = i * 4u; e < p.n; e++)
      dx[e] = graft_activation_grad(vec4(x[e]), vec4(dy[e])).x;
}
