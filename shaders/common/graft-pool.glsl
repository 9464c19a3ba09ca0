// SPDX-License-Identifier: GPL-3.0-or-later
// Shared by the pooling kernels (pool_*.comp): the geometry of GraftPoolPlan as push
// constants, and where an input row or column sits in the output's windows.
// NCHW planes of in_h x in_w inputs and out_h x out_w outputs; PyTorch's windows.

layout(push_constant) uniform Params {
  uint planes;
  uint in_h, in_w;
  uint out_h, out_w;
  uint kernel_h, kernel_w;
  uint stride_h, stride_w;
  uint pad_h, pad_w;
  uint dilation_h, dilation_w;
  uint count_include_pad;
  uint total;   // invocations with work: outputs forward, inputs backward
} p;

// avg_pool2d's window of output row (or column) o along an axis of @size: [start, end)
// clipped to the input, and the divisor's share (padded or clipped length).
int graft_avg_window(uint o, uint size, uint kernel, uint stride, uint pad,
                     out int start, out int end)
{
  int s = int(o * stride) - int(pad);
  int e = min(s + int(kernel), int(size + pad));
  int padded = e - s;
  start = max(s, 0);
  end = min(e, int(size));
  return p.count_include_pad != 0u ? padded : max(end - start, 0);
}

// adaptive_avg_pool2d's bin of output row o: [floor(o*size/n), ceil((o+1)*size/n)).
// The host keeps size * n below 2^32.
void graft_adaptive_window(uint o, uint size, uint n, out int start, out int end)
{
  start = int((o * size) / n);
  end = int(((o + 1u) * size + n - 1u) / n);
}
