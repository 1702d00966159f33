// Direct convolution of single-channel input (a grayscale network's first
// layer), with its own autograd node (small_conv.cc).
#pragma once

#include <ATen/ATen.h>

namespace ss {

// Whether Conv2dOrLibtorch computes the convolution itself: contiguous float32
// NCHW input and [out, 1, kh, kw] weight on the CPU, one input channel, kh
// and kw <= 7, no bias, stride 1, dilation 1, one group, padding < kernel.
bool SmallConvApplies(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

// at::conv2d's result (values equal up to float32 rounding: the sums run in
// another order; the weight gradient through autograd likewise, the input
// gradient by libtorch), computed by the direct kernel where it applies.
at::Tensor Conv2dOrLibtorch(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias, at::IntArrayRef stride,
                            at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups);

}  // namespace ss
