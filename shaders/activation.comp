// SPDX-License-Identifier: GPL-3.0-or-later
// y[i] = act(x[i]) for the activation ACT (specialization constant 1, see
// common/graft-activation.glsl); y may be x. Each invocation does four elements as
// vec4s; the last one does whatever remains of n one element at a time.
#version 450
#include "graft-common.glsl"
#include "graft-activation.glsl"

layout(std430, set = 0, binding = 0) readonly buffer X { float x[]; };
layout(std430, set = 0, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y { float y[]; };
layout(std430, set = 0, binding = 1) writeonly buffer Y4 { vec4 y4[]; };

layout(push_constant) uniform Params {
  uint n;
} p;

void main()
{
  uint i = graft_global_index();

  if (i * 4u + 4u <= p.n)
    y4[i] = graft_activation(x4[i]);
  else
    for (uint e = i * 4u; e < p.n; e++)
      y[e] = graft_activation(vec4(x[e])).x;
}
