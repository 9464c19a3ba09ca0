// SPDX-License-Identifier: GPL-3.0-or-later
// The body of conv_forward.comp and conv_forward_texel.comp (see there).

GRAFT_CONV_OPERAND(0, W, w)
GRAFT_CONV_OPERAND(1, X, x)
layout(std430, set = 0, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, set = 0, binding = 3) writeonly buffer Y { float y[]; };

void main()
{
  uint g = gl_WorkGroupID.z;
  uint r0 = gl_WorkGroupID.y * 4u;
  uint j0 = (p.col0 + gl_GlobalInvocationID.x) * 4u;
  if (j0 >= p.ncols)
    return;

  uint ohw = p.out_h * p.out_w, hw = p.in_h * p.in_w;
  uint cg = p.c_in / p.groups;
  uint co_base = g * p.m;

  // Per column: where its window starts and its image's group of channels.
  uvec4 j = min(uvec4(j0) + uvec4(0, 1, 2, 3), uvec4(p.ncols - 1u));
  uvec4 img = j / ohw;
  uvec4 pos = j - img * ohw;
  uvec4 oh = pos / p.out_w;
  uvec4 ow = pos - oh * p.out_w;
  ivec4 hb = ivec4(oh * p.stride_h) - int(p.pad_h);
  ivec4 wb = ivec4(ow * p.stride_w) - int(p.pad_w);
  uvec4 xb = (img * p.c_in + g * cg) * hw;

  // Per row: its weights.
  uvec4 r = min(uvec4(r0) + uvec4(0, 1, 2, 3), uvec4(p.m - 1u));
  uvec4 wrow = (co_base + r) * p.k;

  vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
  uint ci = 0u, ki = 0u, kj = 0u;
  for (uint kk = 0u; kk < p.k; kk++)
    {
      ivec4 h = hb + int(ki * p.dilation_h);
      ivec4 ww = wb + int(kj * p.dilation_w);
      bvec4 ok = bvec4(uvec4(greaterThanEqual(h, ivec4(0))) & uvec4(lessThan(h, ivec4(p.in_h))) &
                       uvec4(greaterThanEqual(ww, ivec4(0))) & uvec4(lessThan(ww, ivec4(p.in_w))));
      uvec4 idx = xb + ci * hw + uvec4(clamp(h, ivec4(0), ivec4(p.in_h - 1u))) * p.in_w +
                  uvec4(clamp(ww, ivec4(0), ivec4(p.in_w - 1u)));
      vec4 b = mix(vec4(0.0), GRAFT_CONV_LOAD4(x, idx), ok);
      vec4 a = GRAFT_CONV_LOAD4(w, wrow + kk);
      GRAFT_CONV_FMA(a, b)

      if (++kj == p.kernel_w)
        {
          kj = 0u;
          if (++ki == p.kernel_h)
            {
              ki = 0u;
              ci++;
            }
        }
    }

  uvec4 yb = img * p.c_out * ohw + pos;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    {
      if (r0 + i >= p.m)
        break;
      uint co = co_base + r0 + i;
      vec4 v = i == 0u ? acc0 : i == 1u ? acc1 : i == 2u ? acc2 : acc3;
      float bv = p.has_bias != 0u ? bias[co] : 0.0;
      [[unroll]] for (uint c = 0u; c < 4u; c++)
        if (j0 + c < p.ncols)
          y[yb[c] + co * ohw] = v[c] + bv;
    }
}
