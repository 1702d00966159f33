/**
 * Stateless neural-network operations (the layers in nn/ call these): PyTorch's
 * defaults over the kernels in tensor/nn-ops.
 * Shapes follow PyTorch: images are NCHW, logits [N, C], targets int64 [N].
 *
 * @example
 * const logits = linear(x, w, b);
 * const loss = crossEntropy(logits, y, { labelSmoothing: 0.1 });
 */
import * as ops from '../tensor/nn-ops.js';
import type { Tensor } from '../tensor/tensor.js';

type Pair = number | [number, number];
const pair = (v: Pair): number[] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);
export type Reduction = ops.Reduction;

/** y = x Wᵀ + b */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  return ops.linear(x, weight, bias);
}

export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}
export function conv2d(x: Tensor, weight: Tensor, bias?: Tensor | null, o: Conv2dOptions = {}): Tensor {
  return ops.conv2d(x, weight, bias, pair(o.stride ?? 1), pair(o.padding ?? 0), pair(o.dilation ?? 1), o.groups ?? 1);
}

export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  runningMean?: Tensor | null;
  runningVar?: Tensor | null;
  training: boolean;
  /** Weight of the new batch statistic in the running average: r = (1 - m) r + m x. */
  momentum: number;
  eps: number;
}
/** Batch normalization over dim 1; in training it also updates the running statistics in place. */
export function batchNorm(x: Tensor, o: BatchNormOptions): Tensor {
  return ops.batchNorm(x, o.weight, o.bias, o.runningMean, o.runningVar, o.training, o.momentum, o.eps);
}

export function maxPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0, ceilMode = false): Tensor {
  return ops.maxPool2d(x, pair(kernel), pair(stride ?? kernel), pair(padding), [1, 1], ceilMode);
}
export function avgPool2d(x: Tensor, kernel: Pair, stride?: Pair, padding: Pair = 0): Tensor {
  return ops.avgPool2d(x, pair(kernel), pair(stride ?? kernel), pair(padding), false, true);
}
export function adaptiveAvgPool2d(x: Tensor, outputSize: Pair): Tensor {
  return ops.adaptiveAvgPool2d(x, pair(outputSize));
}
export function relu(x: Tensor): Tensor {
  return x.relu();
}
export function logSoftmax(x: Tensor, dim = -1): Tensor {
  return ops.logSoftmax(x, dim);
}
export function softmax(x: Tensor, dim = -1): Tensor {
  return ops.softmax(x, dim);
}

export interface CrossEntropyOptions {
  /** ε: the target distribution is (1-ε)·onehot + ε/C. */
  labelSmoothing?: number;
  reduction?: Reduction;
}
/** Cross-entropy between logits [N, C] and class indices [N] (int64). */
export function crossEntropy(logits: Tensor, target: Tensor, o: CrossEntropyOptions = {}): Tensor {
  return ops.crossEntropy(logits, target, o.labelSmoothing ?? 0, o.reduction ?? 'mean');
}
export function nllLoss(logProbs: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return ops.nllLoss(logProbs, target, reduction);
}
export function mseLoss(a: Tensor, b: Tensor, reduction: Reduction = 'mean'): Tensor {
  return ops.mseLoss(a, b, reduction);
}
/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export function dropout(x: Tensor, p: number, training: boolean): Tensor {
  return ops.dropout(x, p, training);
}
