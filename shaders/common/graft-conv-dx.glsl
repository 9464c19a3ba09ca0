// SPDX-License-Identifier: GPL-3.0-or-later
// The body of conv_dx.comp and conv_dx_texel.comp (see there).

GRAFT_CONV_OPERAND(0, W, w)
GRAFT_CONV_OPERAND(1, DY, dy)
layout(std430, set = 0, binding = 2) writeonly buffer DX { float dx[]; };

void main()
{
  uint g = gl_WorkGroupID.z;
  uint r0 = gl_WorkGroupID.y * 4u;
  uint j0 = (p.col0 + gl_GlobalInvocationID.x) * 4u;
  if (j0 >= p.ncols)
    return;

  uint ohw = p.out_h * p.out_w, hw = p.in_h * p.in_w;
  uint taps = p.kernel_h * p.kernel_w;
  uint og = p.c_out / p.groups;
  uint cg = p.m;

  uvec4 j = min(uvec4(j0) + uvec4(0, 1, 2, 3), uvec4(p.ncols - 1u));
  uvec4 img = j / hw;
  uvec4 pos = j - img * hw;
  uvec4 ih = pos / p.in_w;
  uvec4 iw = pos - ih * p.in_w;
  ivec4 th0 = ivec4(ih) + int(p.pad_h);
  ivec4 tw0 = ivec4(iw) + int(p.pad_w);
  uvec4 dyb = (img * p.c_out + g * og) * ohw;

  uvec4 r = min(uvec4(r0) + uvec4(0, 1, 2, 3), uvec4(cg - 1u));
  uvec4 wb = (g * og * cg + r) * taps;

  vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
  for (uint co = 0u; co < og; co++)
    {
      uint wc = co * cg * taps;
      uint dyc = co * ohw;
      for (uint ki = 0u; ki < p.kernel_h; ki++)
        {
          ivec4 th = th0 - int(ki * p.dilation_h);
          uvec4 uth = uvec4(max(th, ivec4(0)));
          uvec4 oh = uth / p.stride_h;
          uvec4 okh = uvec4(greaterThanEqual(th, ivec4(0))) & uvec4(equal(oh * p.stride_h, uth)) &
                      uvec4(lessThan(oh, uvec4(p.out_h)));
          for (uint kj = 0u; kj < p.kernel_w; kj++)
            {
              ivec4 tw = tw0 - int(kj * p.dilation_w);
              uvec4 utw = uvec4(max(tw, ivec4(0)));
              uvec4 ow = utw / p.stride_w;
              bvec4 ok = bvec4(okh & uvec4(greaterThanEqual(tw, ivec4(0))) &
                               uvec4(equal(ow * p.stride_w, utw)) & uvec4(lessThan(ow, uvec4(p.out_w))));
              uvec4 idx = dyb + dyc + min(oh, uvec4(p.out_h - 1u)) * p.out_w + min(ow, uvec4(p.out_w - 1u));
              vec4 b = mix(vec4(0.0), GRAFT_CONV_LOAD4(dy, idx), ok);
              uint t = wc + ki * p.kernel_w + kj;
              vec4 a = GRAFT_CONV_LOAD4(w, wb + t);
              GRAFT_CONV_FMA(a, b)
            }
        }
    }

  uvec4 xb = img * p.c_in * hw + pos;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    {
      if (r0 + i >= cg)
        break;
      uint ci = g * cg + r0 + i;
      vec4 v = i == 0u ? acc0 : i == 1u ? acc1 : i == 2u ? acc2 : acc3;
      [[unroll]] for (uint c = 0u; c < 4u; c++)
        if (j0 + c < p.ncols)
          dx[xb[c] + ci * hw] = v[c];
    }
}
