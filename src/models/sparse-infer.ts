/**
 * Sparse inference: a model whose Conv2d and Linear layers multiply with
 * their weights' non-zeros only (CSR kernels of tensor/sparse.ts), in eval
 * mode. Everything else (ReLU, pooling, residual adds, flatten) stays the
 * model's own forward() on libtorch.
 *
 * Batch norm in eval mode is an affine map per channel, so a BN that
 * directly follows a conv is folded into it at load time:
 *   s = γ / √(running_var + ε),  W' = s·W (per output channel),  b' = β - s·running_mean + s·b
 * Scaling a row keeps its zeros, so the sparsity pattern is unchanged; the
 * BN then becomes the identity. Folding is on for the zoo models whose
 * conv→BN pairs are known (ConvNet, CIFAR ResNets, VGG-16); other models keep
 * their BN layers as they are, which is always correct, only slower.
 *
 * @example
 * const sparse = await loadSparseModel('soup.sparse.safetensors');
 * const logits = tidy(() => sparse.forward(images)); // [N, classes], as the dense model computes them
 * sparse.stats; // ConvNet at 90%: { layers: 3, weights: 421_408, nonZeros: 42_141, foldedBatchNorms: 2, denseLayers: ['conv2: density 0.715 > maxDensity 0.6'] }
 * sparse.dispose();
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/create.js';
import { CsrMatrix, sparseConv2d, sparseLinear } from '../tensor/sparse.js';
import { tidy, keep, type Disposable } from '../tensor/scope.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Sequential } from '../nn/containers.js';
import { TensorError } from '../util/errors.js';
import { loadModel, type LoadModelHints, type ZooModelDescription } from './load.js';
import { ConvNet } from './convnet.js';
import { CifarResNet } from './resnet.js';
import { Vgg16 } from './vgg.js';
import { Mlp } from './mlp.js';

/** Models whose conv→BN pairs (by name, or consecutive in a Sequential) are checked to be conv feeding BN directly. */
const FOLDABLE_MODELS = [ConvNet, CifarResNet, Vgg16, Mlp];

export interface SparseInferenceStats {
  /** Conv2d and Linear layers running on the sparse kernels. */
  layers: number;
  /** Weights of the float32 CPU Conv2d and Linear layers (sparse or dense kernel), zeros included. */
  weights: number;
  /** Their non-zero weights (after BN folding, which keeps zeros). */
  nonZeros: number;
  /** BatchNorm2d layers folded into the conv before them. */
  foldedBatchNorms: number;
  /** Layers left on libtorch's dense kernels, with the reason (too dense, grouped conv, not float32, not on CPU). */
  denseLayers: string[];
}

/** A model converted for sparse inference; owns the model and its sparse weights. */
export interface SparseInferenceModel {
  /** The converted model (eval mode; its Conv2d/Linear forwards use the sparse kernels). Not trainable. */
  readonly model: Module;
  readonly stats: SparseInferenceStats;
  /** Logits of a batch, without autograd. */
  forward(x: Tensor): Tensor;
  dispose(): void;
}

export interface SparseInferenceOptions {
  /** Fold BN into the conv before it (default: on for the zoo models that are known to allow it). */
  foldBatchNorm?: boolean;
  /**
   * Layers with more non-zeros than this fraction keep libtorch's dense
   * kernel (with BN still folded): default 0.6. At batch 1 libtorch's conv
   * has a large fixed cost, so the sparse kernel wins up to about half
   * density on ResNet-20's layers, but not on the ConvNet's 71%-dense conv2
   * (docs/benchmarks.md). 1 puts every layer on the sparse kernels.
   */
  maxDensity?: number;
  /**
   * Layers with at most this many weights use the sparse kernels whatever
   * their density (default 4096): their arithmetic is smaller than the
   * fixed cost of a libtorch conv call at batch 1.
   */
  smallLayerWeights?: number;
}

/** See SparseInferenceOptions.maxDensity. */
export const DEFAULT_MAX_DENSITY = 0.6;
/** See SparseInferenceOptions.smallLayerWeights. */
export const DEFAULT_SMALL_LAYER_WEIGHTS = 4096;

/**
 * Loads a dense or sparse checkpoint or export (whatever `loadModel` reads)
 * and converts it for sparse inference.
 */
export async function loadSparseModel(
  path: string,
  hints: LoadModelHints = {},
  opts: SparseInferenceOptions = {},
): Promise<SparseInferenceModel & { description: ZooModelDescription }> {
  const { model, description } = await loadModel(path, hints);
  try {
    return { ...toSparseInference(model, opts), description };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * Converts `model` in place for sparse inference: eval mode, BN folded into
 * convs (see the file's comment), Conv2d/Linear forwards replaced by the CSR
 * kernels (or, for layers denser than `maxDensity`, libtorch's dense ones
 * with the folded weights). Its parameters are left as they were, but its
 * forward no longer reads them: do not train it afterwards. The result owns it.
 */
export function toSparseInference(model: Module, opts: SparseInferenceOptions = {}): SparseInferenceModel {
  model.eval();
  const fold = opts.foldBatchNorm ?? FOLDABLE_MODELS.some((cls) => model instanceof cls);
  const stats: SparseInferenceStats = { layers: 0, weights: 0, nonZeros: 0, foldedBatchNorms: 0, denseLayers: [] };
  const maxDensity = opts.maxDensity ?? DEFAULT_MAX_DENSITY;
  const smallLayer = opts.smallLayerWeights ?? DEFAULT_SMALL_LAYER_WEIGHTS;
  const owned: Disposable[] = [];
  const folded = fold ? conv2dBatchNormPairs(model) : new Map<Conv2d, BatchNorm2d>();
  noGrad(() => {
    for (const [name, layer] of model.namedModules()) {
      if (!(layer instanceof Conv2d) && !(layer instanceof Linear)) continue;
      const why = denseReason(layer);
      if (why) {
        stats.denseLayers.push(`${name}: ${why}`);
        continue;
      }
      const bn = layer instanceof Conv2d ? folded.get(layer) : undefined;
      const { weight, bias } = bn ? foldBatchNorm(layer as Conv2d, bn) : { weight: layer.weight, bias: layer.bias };
      if (bn) {
        owned.push(weight, bias!);
        bn.forward = (x: Tensor): Tensor => x;
        stats.foldedBatchNorms += 1;
      }
      const matrix = layer instanceof Conv2d ? weight.flatten(1) : weight;
      const csr = CsrMatrix.fromDense(matrix);
      if (matrix !== weight) matrix.dispose();
      stats.weights += layer.weight.numel;
      stats.nonZeros += csr.nnz;
      const density = csr.nnz / Math.max(1, layer.weight.numel);
      if (density > maxDensity && layer.weight.numel > smallLayer) {
        csr.dispose();
        stats.denseLayers.push(`${name}: density ${density.toFixed(3)} > maxDensity ${maxDensity}`);
        layer.forward = denseForward(layer, weight, bias);
        continue;
      }
      for (const t of [csr.rowPtr, csr.colIdx, csr.values]) keep(t);
      owned.push(csr);
      stats.layers += 1;
      if (layer instanceof Conv2d) {
        const g = {
          kernel: [layer.kernelSize, layer.kernelSize],
          stride: [layer.stride, layer.stride],
          padding: [layer.padding, layer.padding],
          dilation: [layer.dilation, layer.dilation],
        };
        layer.forward = (x: Tensor): Tensor => sparseConv2d(csr, x, bias, g);
      } else {
        layer.forward = (x: Tensor): Tensor => linearOnRows(csr, x, bias);
      }
    }
  });
  let disposed = false;
  return {
    model,
    stats,
    forward: (x) => noGrad(() => model.forward(x)),
    dispose: () => {
      if (disposed) return;
      disposed = true;
      for (const t of owned) t.dispose();
      model.dispose();
    },
  };
}

function denseReason(layer: Conv2d | Linear): string | null {
  if (layer.weight.dtype !== 'float32') return `weight is ${layer.weight.dtype}, the sparse kernels take float32`;
  if (layer.weight.device !== 'cpu') return `weight is on ${layer.weight.device}, the sparse kernels run on the CPU`;
  if (layer instanceof Conv2d && layer.groups !== 1) return `grouped convolution (groups ${layer.groups})`;
  return null;
}

/** libtorch's kernel with the (BN-folded) weight and bias. */
function denseForward(layer: Conv2d | Linear, weight: Tensor, bias: Tensor | null): (x: Tensor) => Tensor {
  if (layer instanceof Linear) return (x) => F.linear(x, weight, bias);
  const o = { stride: layer.stride, padding: layer.padding, dilation: layer.dilation, groups: layer.groups };
  return (x) => F.conv2d(x, weight, bias, o);
}

/** sparseLinear over the last dimension of an input of any rank ≥ 1. */
function linearOnRows(csr: CsrMatrix, x: Tensor, bias: Tensor | null): Tensor {
  if (x.rank === 2) return sparseLinear(csr, x, bias);
  if (x.rank < 1) throw new TensorError(`sparse Linear: expected an input [..., ${csr.cols}], got a scalar`);
  const lead = x.shape.slice(0, -1);
  return tidy(() => sparseLinear(csr, x.reshape([-1, x.size(-1)]), bias).reshape([...lead, csr.rows]));
}

/** W' = s·W, b' = β - s·mean + s·b with s = γ/√(var+ε): new tensors, kept out of any scope. */
function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): { weight: Tensor; bias: Tensor } {
  return tidy(() => {
    const scale = bn.runningVar.add(bn.eps).rsqrt();
    const s = bn.weight ? scale.mul(bn.weight) : scale;
    let bias = s.mul(bn.runningMean).neg();
    if (bn.bias) bias = bias.add(bn.bias);
    if (conv.bias) bias = bias.add(conv.bias.mul(s));
    const weight = conv.weight.mul(s.reshape([-1, 1, 1, 1]));
    return { weight: keep(weight), bias: keep(bias.contiguous()) };
  });
}

/**
 * The BN layers fed directly by a conv, by the zoo's conventions: siblings
 * `convK` → `bnK` (and `conv` → `bn`), or consecutive children of a
 * Sequential; the BN must have the conv's output channels.
 */
function conv2dBatchNormPairs(model: Module): Map<Conv2d, BatchNorm2d> {
  const pairs = new Map<Conv2d, BatchNorm2d>();
  for (const [, parent] of model.namedModules()) {
    const children = parent.namedChildren();
    const byName = new Map(children);
    children.forEach(([name, child], i) => {
      if (!(child instanceof Conv2d)) return;
      let bn: Module | undefined;
      if (parent instanceof Sequential) bn = children[i + 1]?.[1];
      else if (/^conv\d*$/.test(name)) bn = byName.get(name.replace('conv', 'bn'));
      if (bn instanceof BatchNorm2d && bn.numFeatures === child.outChannels) pairs.set(child, bn);
    });
  }
  return pairs;
}
