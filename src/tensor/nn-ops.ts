/**
 * Neural-network kernels over Tensors, one libtorch call each. Every argument
 * is explicit (pairs as [h, w] arrays), so PyTorch's defaults live in one
 * place: nn/functional, which wraps these for the layers and for users.
 * Shapes follow PyTorch: images are NCHW, logits [N, C], targets int64 [N].
 *
 * @example
 * const y = conv2d(x, w, null, [1, 1], [1, 1], [1, 1], 1); // x [N, C, H, W], w [O, C, 3, 3]
 */
import { native } from './native.js';
import { Tensor } from './tensor.js';

export type Reduction = 'mean' | 'sum' | 'none';

/** y = x Wᵀ + b: x [..., in], weight [out, in], bias [out] → [..., out]. */
export function linear(x: Tensor, weight: Tensor, bias: Tensor | null | undefined): Tensor {
  return new Tensor(native.linear(x.handle, weight.handle, bias?.handle));
}

/**
 * x [N, C, H, W], weight [O, C/groups, kH, kW], bias [O] → [N, O, H', W'].
 * Float32 CPU convolutions of one input channel with stride 1, no bias and
 * kernels up to 7×7 (a grayscale network's first layer) run on the addon's
 * direct kernel (native/src/small_conv.cc): equal to libtorch's up to
 * float32 rounding, as the sums run in another order; everything else on
 * libtorch's at::conv2d.
 */
export function conv2d(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  stride: number[],
  padding: number[],
  dilation: number[],
  groups: number,
): Tensor {
  return new Tensor(native.conv2d(x.handle, weight.handle, bias?.handle, stride, padding, dilation, groups));
}
/** conv2d through libtorch's at::conv2d always (conv2d computes single-channel convolutions with stride 1 and no bias on the addon's own kernel): for comparisons. */
export function conv2dLibtorch(
  x: Tensor,
  weight: Tensor,
  bias: Tensor | null | undefined,
  stride: number[],
  padding: number[],
  dilation: number[],
  groups: number,
): Tensor {
  return new Tensor(native.conv2dLibtorch(x.handle, weight.handle, bias?.handle, stride, padding, dilation, groups));
}

/**
 * Batch normalization over dim 1 of x [N, C, ...], with affine weight and bias
 * [C]; in training it also updates runningMean and runningVar [C] in place:
 * r = (1 - momentum) r + momentum x.
 */
export function batchNorm(
  x: Tensor,
  weight: Tensor | null | undefined,
  bias: Tensor | null | undefined,
  runningMean: Tensor | null | undefined,
  runningVar: Tensor | null | undefined,
  training: boolean,
  momentum: number,
  eps: number,
): Tensor {
  return new Tensor(
    native.batchNorm(x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle, training, momentum, eps),
  );
}

/** x [N, C, H, W] → [N, C, H', W']. */
export function maxPool2d(x: Tensor, kernel: number[], stride: number[], padding: number[], dilation: number[], ceilMode: boolean): Tensor {
  return new Tensor(native.maxPool2d(x.handle, kernel, stride, padding, dilation, ceilMode));
}
/** maxPool2d through libtorch's at::max_pool2d always (maxPool2d computes non-overlapping float32 windows with the addon's own kernel): for comparisons. */
export function maxPool2dLibtorch(
  x: Tensor,
  kernel: number[],
  stride: number[],
  padding: number[],
  dilation: number[],
  ceilMode: boolean,
): Tensor {
  return new Tensor(native.maxPool2dLibtorch(x.handle, kernel, stride, padding, dilation, ceilMode));
}
/** x [N, C, H, W] → [N, C, H', W']. */
export function avgPool2d(
  x: Tensor,
  kernel: number[],
  stride: number[],
  padding: number[],
  ceilMode: boolean,
  countIncludePad: boolean,
): Tensor {
  return new Tensor(native.avgPool2d(x.handle, kernel, stride, padding, ceilMode, countIncludePad));
}
/** x [N, C, H, W] → [N, C, outputSize[0], outputSize[1]]. */
export function adaptiveAvgPool2d(x: Tensor, outputSize: number[]): Tensor {
  return new Tensor(native.adaptiveAvgPool2d(x.handle, outputSize));
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  return new Tensor(native.logSoftmax(x.handle, dim));
}
export function softmax(x: Tensor, dim: number): Tensor {
  return new Tensor(native.softmax(x.handle, dim));
}

/**
 * Cross-entropy between logits [N, C] and class indices [N] (int64); the
 * target distribution is (1-ε)·onehot + ε/C for labelSmoothing ε.
 */
export function crossEntropy(logits: Tensor, target: Tensor, labelSmoothing: number, reduction: Reduction): Tensor {
  return new Tensor(native.crossEntropy(logits.handle, target.handle, labelSmoothing, reduction));
}
/** Negative log-likelihood of log-probabilities [N, C] at class indices [N] (int64). */
export function nllLoss(logProbs: Tensor, target: Tensor, reduction: Reduction): Tensor {
  return new Tensor(native.nllLoss(logProbs.handle, target.handle, reduction));
}
/** Mean squared error between tensors of one shape. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction): Tensor {
  return new Tensor(native.mseLoss(input.handle, target.handle, reduction));
}
/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return new Tensor(native.dropout(x.handle, p, training));
}
