// SPDX-License-Identifier: GPL-3.0-or-later
// The body of conv_dweight.comp and conv_dweight_texel.comp (see there).

GRAFT_CONV_OPERAND(0, DY, dy)
GRAFT_CONV_OPERAND(1, X, x)
layout(std430, set = 0, binding = 2) writeonly buffer DW { float dw[]; };

void main()
{
  uint g = gl_WorkGroupID.z % p.groups;
  uint slice = gl_WorkGroupID.z / p.groups;
  uint r0 = gl_WorkGroupID.y * 4u;
  uint j0 = (p.col0 + gl_GlobalInvocationID.x) * 4u;
  if (j0 >= p.ncols)
    return;

  uint ohw = p.out_h * p.out_w, hw = p.in_h * p.in_w;
  uint taps = p.kernel_h * p.kernel_w;
  uint og = p.m;
  uint cg = p.c_in / p.groups;
  uint img0 = slice * p.images;
  uint img1 = min(img0 + p.images, p.n);

  uvec4 j = min(uvec4(j0) + uvec4(0, 1, 2, 3), uvec4(p.ncols - 1u));
  uvec4 ci = j / taps;
  uvec4 t = j - ci * taps;
  uvec4 ki = t / p.kernel_w;
  uvec4 kj = t - ki * p.kernel_w;
  ivec4 hoff = ivec4(ki * p.dilation_h) - int(p.pad_h);
  ivec4 woff = ivec4(kj * p.dilation_w) - int(p.pad_w);
  uvec4 xc = (g * cg + ci) * hw;

  uvec4 r = min(uvec4(r0) + uvec4(0, 1, 2, 3), uvec4(og - 1u));
  uvec4 dyc = (g * og + r) * ohw;

  vec4 acc0 = vec4(0.0), acc1 = vec4(0.0), acc2 = vec4(0.0), acc3 = vec4(0.0);
  for (uint img = img0; img < img1; img++)
    {
      uint dyi = img * p.c_out * ohw;
      uvec4 xi = img * p.c_in * hw + xc;
      for (uint oh = 0u; oh < p.out_h; oh++)
        {
          ivec4 h = int(oh * p.stride_h) + hoff;
          uvec4 okh = uvec4(greaterThanEqual(h, ivec4(0))) & uvec4(lessThan(h, ivec4(p.in_h)));
          uvec4 xrow = xi + uvec4(clamp(h, ivec4(0), ivec4(p.in_h - 1u))) * p.in_w;
          uint dyrow = dyi + oh * p.out_w;
          for (uint ow = 0u; ow < p.out_w; ow++)
            {
              ivec4 ww = int(ow * p.stride_w) + woff;
              bvec4 ok = bvec4(okh & uvec4(greaterThanEqual(ww, ivec4(0))) & uvec4(lessThan(ww, ivec4(p.in_w))));
              uvec4 idx = xrow + uvec4(clamp(ww, ivec4(0), ivec4(p.in_w - 1u)));
              vec4 b = mix(vec4(0.0), GRAFT_CONV_LOAD4(x, idx), ok);
              vec4 a = GRAFT_CONV_LOAD4(dy, dyc + dyrow + ow);
              GRAFT_CONV_FMA(a, b)
            }
        }
    }

  uint out_base = slice * p.c_out * p.ncols;
  [[unroll]] for (uint i = 0u; i < 4u; i++)
    {
      if (r0 + i >= og)
        break;
      uint co = g * og + r0 + i;
      vec4 v = i == 0u ? acc0 : i == 1u ? acc1 : i == 2u ? acc2 : acc3;
      [[unroll]] for (uint c = 0u; c < 4u; c++)
        if (j0 + c < p.ncols)
          dw[out_base + co * p.ncols + j0 + c] = v[c];
    }
}
