/**
 * Sparsity of a model, counted from the weights themselves: a weight is
 * pruned when it is exactly 0 (so the numbers hold for any checkpoint, with
 * or without its mask file).
 *
 * - global sparsity: zeros / total over the prunable weights (Conv2d and
 *   Linear weights, see prune/prunable.ts);
 * - per layer: the same for each prunable weight;
 * - non-zero parameters: over all parameters (biases and BN affine
 *   included, buffers not), and over the prunable weights only.
 *
 * @example
 * const s = modelSparsity(model, prunableParameters(model));
 * s.global;             // 0.9
 * s.nonzeroParameters;  // 27 381 of s.totalParameters = 272 474
 */
import type { Module } from '../nn/module.js';
import type { Tensor } from '../tensor/tensor.js';

/** A parameter with its state-dict name. */
type NamedTensor = [string, Tensor];

export interface LayerZeros {
  name: string;
  total: number;
  /** Weights that are exactly 0. */
  zeros: number;
  nonzero: number;
  /** zeros / total. */
  sparsity: number;
}

/** What `modelSparsity` counts: zeros among the prunable weights, globally and per layer, and non-zero parameters. */
export interface ModelSparsity {
  /** Zeros / total over the prunable weights. */
  global: number;
  prunableTotal: number;
  prunableZeros: number;
  prunableNonzero: number;
  /** One entry per prunable weight, in model order. */
  perLayer: LayerZeros[];
  /** Non-zero elements over all parameters (buffers excluded). */
  nonzeroParameters: number;
  /** Elements of all parameters. */
  totalParameters: number;
}

function countZeros(name: string, t: Tensor): LayerZeros {
  const total = t.numel;
  const nonzero = t.countNonzero();
  return { name, total, zeros: total - nonzero, nonzero, sparsity: total === 0 ? 0 : (total - nonzero) / total };
}

/**
 * Global and per-layer sparsity of `model`'s prunable weights, given as the
 * parameter list or the options that select it (default: every Conv2d and
 * Linear weight), and its non-zero parameter count.
 */
export function modelSparsity(model: Module, prunable: NamedTensor[]): ModelSparsity {
  const params = prunable;
  const perLayer = params.map(([name, t]) => countZeros(name, t));
  const prunableTotal = perLayer.reduce((n, l) => n + l.total, 0);
  const prunableZeros = perLayer.reduce((n, l) => n + l.zeros, 0);
  const all = model.namedParameters().map(([name, t]) => countZeros(name, t));
  return {
    global: prunableTotal === 0 ? 0 : prunableZeros / prunableTotal,
    prunableTotal,
    prunableZeros,
    prunableNonzero: prunableTotal - prunableZeros,
    perLayer,
    nonzeroParameters: all.reduce((n, l) => n + l.nonzero, 0),
    totalParameters: all.reduce((n, l) => n + l.total, 0),
  };
}

/** Non-zero elements over all parameters of `model` (buffers excluded). */
export function nonzeroParameterCount(model: Module): number {
  return model.parameters().reduce((n, t) => n + t.countNonzero(), 0);
}
