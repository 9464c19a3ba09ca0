// SPDX-License-Identifier: GPL-3.0-or-later
// One optimizer step, one parameter per invocation, updating param and its state in
// place (see GraftOptimPlan). KIND 0: torch.optim.SGD, state0 the momentum buffer when
// HAS_MOMENTUM; KIND 1: torch.optim.AdamW, state0 exp_avg and state1 exp_avg_sq. The
// scalars that change from step to step (step, lr, step_size, bias2_sqrt) are push
// constants, or with SCALARS read from sc[slot * 4 ..], so that a recorded step can be
// replayed with each step's values.
#version 450
#include "graft-common.glsl"

layout(constant_id = 1) const uint KIND = 0;
layout(constant_id = 2) const uint HAS_MOMENTUM = 0;
layout(constant_id = 3) const uint SCALARS = 0;

layout(std430, set = 0, binding = 0) buffer P { float param[]; };
layout(std430, set = 0, binding = 1) readonly buffer G { float grad[]; };
layout(std430, set = 0, binding = 2) buffer S0 { float s0[]; };
layout(std430, set = 0, binding = 3) buffer S1 { float s1[]; };
layout(std430, set = 0, binding = 4) readonly buffer SC { float sc[]; };

layout(push_constant) uniform Params {
  uint n;
  uint step;
  float lr;
  float weight_decay;
  float momentum, dampening;
  uint nesterov;
  float beta1, beta2, eps;
  float step_size, bias2_sqrt;
  uint slot;
} p;

void main()
{
  uint i = graft_global_index();
  if (i >= p.n)
    return;

  uint step = p.step;
  float lr = p.lr, step_size = p.step_size, bias2_sqrt = p.bias2_sqrt;
  if (SCALARS != 0u)
    {
      step = uint(sc[p.slot * 4u]);
      lr = sc[p.slot * 4u + 1u];
      step_size = sc[p.slot * 4u + 2u];
      bias2_sqrt = sc[p.slot * 4u + 3u];
    }

  float g = grad[i];
  if (KIND == 0u)
    {
      float d = g;
      if (p.weight_decay != 0.0)
        d = d + p.weight_decay * param[i];
      if (HAS_MOMENTUM != 0u)
        {
          float buf = step == 1u ? d : p.momentum * s0[i] + (1.0 - p.dampening) * d;
          s0[i] = buf;
          d = p.nesterov != 0u ? d + p.momentum * buf : buf;
        }
      param[i] = param[i] - lr * d;
    }
  else
    {
      float m = p.beta1 * s0[i] + (1.0 - p.beta1) * g;
      float v = p.beta2 * s1[i] + (1.0 - p.beta2) * g * g;
      float denom = sqrt(v) / bias2_sqrt + p.eps;
      s0[i] = m;
      s1[i] = v;
      param[i] = param[i] * (1.0 - lr * p.weight_decay) - step_size * (m / denom);
    }
}
