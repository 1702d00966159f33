// Max pooling over non-overlapping windows with its own autograd node (max_pool.cc).
#pragma once

#include <ATen/ATen.h>

namespace ss {

// Whether MaxPool2dOrLibtorch computes `x` itself: contiguous float32 NCHW on
// the CPU, kernel == stride, no padding, dilation 1, no partial ceil-mode window.
bool NonOverlappingMaxPoolApplies(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                                  bool ceil_mode);

// at::max_pool2d's result (values, and gradients through autograd, bit for
// bit), computed by the non-overlapping kernel where it applies.
at::Tensor MaxPool2dOrLibtorch(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation,
                               bool ceil_mode);

}  // namespace ss
