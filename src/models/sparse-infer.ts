/**
 * Sparse inference: a model whose Conv2d and Linear layers multiply with
 * their weights' non-zeros only, in eval mode. Two engines:
 *
 * - **plan** (the zoo models: ConvNet, CIFAR ResNets, WideResNets, VGG-16,
 *   MLP; sparse-plan-builder.ts): the whole network is compiled at load time
 *   into one native SparsePlan (tensor/sparse-plan.ts), run by one call per
 *   batch: convs with BN folded, residual adds and ReLUs fused, pooling and
 *   flatten in native code, preallocated buffers. Each conv and linear layer
 *   runs on the sparse kernel or on a dense GEMM, whichever was faster when
 *   both were timed at load (at batch 1, and at batch 16 when the plan runs
 *   4 or more images at a time), or by the density rule when `maxDensity`
 *   is given.
 * - **modules** (any other model): the model's own forward() on libtorch,
 *   with its Conv2d and Linear forwards replaced by the CSR kernels of
 *   tensor/sparse.ts, one native call per op.
 *
 * Batch norm in eval mode is an affine map per channel, so a BN that
 * directly follows a conv is folded into it at load time:
 *   s = γ / √(running_var + ε),  W' = s·W (per output channel),  b' = β - s·running_mean + s·b
 * Scaling a row keeps its zeros, so the sparsity pattern is unchanged.
 *
 * @example
 * const sparse = await loadSparseModel('soup.sparse.safetensors');
 * const logits = tidy(() => sparse.forward(images)); // [N, classes], as the dense model computes them
 * sparse.stats; // ConvNet at 90%: { engine: 'plan', layers: 3, weights: 421_408, nonZeros: 42_141, foldedBatchNorms: 2, denseLayers: ['conv2: dense at batch 1: 0.110 ms vs sparse 0.160 ms'], ... }
 * sparse.dispose();
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/create.js';
import { CsrMatrix, sparseConv2d, sparseLinear } from '../tensor/sparse.js';
import { SparsePlan, type PlanKernel, type PlanTiming } from '../tensor/sparse-plan.js';
import { tidy, keep, type Disposable } from '../tensor/scope.js';
import * as F from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Sequential } from '../nn/containers.js';
import { TensorError } from '../util/errors.js';
import { loadModel, type LoadModelHints, type ZooModelDescription } from './load.js';
import { buildSparsePlanSpec, foldBatchNorm, type BuiltPlanSpec, type KernelChooser } from './sparse-plan-builder.js';
import { ConvNet } from './convnet.js';
import { CifarResNet } from './resnet.js';
import { Vgg16 } from './vgg.js';
import { Mlp } from './mlp.js';

/** Models whose conv→BN pairs (by name, or consecutive in a Sequential) are checked to be conv feeding BN directly (the modules engine). */
const FOLDABLE_MODELS = [ConvNet, CifarResNet, Vgg16, Mlp];

export interface SparseInferenceStats {
  /** 'plan': the whole network in one native SparsePlan; 'modules': the model's own forward with per-layer sparse kernels. */
  engine: 'plan' | 'modules';
  /** Conv2d and Linear layers running on the sparse kernels (for a plan: at batch 1). */
  layers: number;
  /** Weights of the float32 CPU Conv2d and Linear layers (sparse or dense kernel), zeros included. */
  weights: number;
  /** Their non-zero weights (after BN folding, which keeps zeros). */
  nonZeros: number;
  /** BatchNorm2d layers folded into the conv before them. */
  foldedBatchNorms: number;
  /** Layers on dense kernels (for a plan: at some batch size), with the reason (measured faster, too dense, grouped conv, not float32, not on CPU). */
  denseLayers: string[];
  /** Plan only: each conv and linear layer's kernel at batches below 4 and from 4 up, and what calibration measured. */
  kernels: LayerKernels[];
}

/** A layer of a plan: its kernels per batch regime and the calibration's fastest runs (ms), if measured. */
export interface LayerKernels {
  name: string;
  weights: number;
  nonZeros: number;
  kernels: [PlanKernel, PlanKernel];
  timings: PlanTiming[];
}

/** A model converted for sparse inference; owns the model and its sparse weights. */
export interface SparseInferenceModel {
  /**
   * The model, in eval mode. With the modules engine its Conv2d/Linear
   * forwards use the sparse kernels; with a plan it is left as loaded (its
   * own forward is dense libtorch). Not trainable either way.
   */
  readonly model: Module;
  /** The compiled plan (engine 'plan'), else null. Owned: dispose() frees it. */
  readonly plan: SparsePlan | null;
  readonly stats: SparseInferenceStats;
  /** Logits of a batch [N, ...input shape] → [N, classes], without autograd. TensorError for an input of another shape. */
  forward(x: Tensor): Tensor;
  /** Frees the plan's native memory and the model's tensors now (the garbage collector would, later). Idempotent. */
  dispose(): void;
}

export interface SparseInferenceOptions {
  /** Fold BN into the conv before it (default: on; for the modules engine only for the zoo models known to allow it). */
  foldBatchNorm?: boolean;
  /** Compile a native plan when the model has a builder (default true); false: the modules engine. */
  plan?: boolean;
  /**
   * How a plan picks each layer's kernel: 'measure' times the sparse and the
   * dense kernel of every conv and linear layer at load (SparsePlan.calibrate:
   * batch 1, and batch 16 for plans that run 4 or more images at a time) and
   * keeps the faster per batch regime; 'density' applies
   * `maxDensity` and `smallLayerWeights`; 'sparse' and 'dense' put every
   * layer on that kernel. Default: 'density' when `maxDensity` is given,
   * else 'measure' (it adds about 2 ms to loading the ConvNet, 35 ms for
   * ResNet-20, 0.8 s for VGG-16). The modules engine always uses the
   * density rule.
   */
  kernelChoice?: 'measure' | 'density' | PlanKernel;
  /** Calibration of kernelChoice 'measure': its large batch (default 16) and timed runs per kernel (default 7). */
  calibration?: { largeBatch?: number; reps?: number };
  /**
   * Layers with more non-zeros than this fraction use a dense kernel (with
   * BN still folded): default 0.6. 1 puts every layer on the sparse kernels.
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
 * Converts `model` for sparse inference (see the file's comment): a native
 * plan for the zoo models, else its Conv2d/Linear forwards replaced in place
 * by the CSR kernels (or, for layers denser than `maxDensity`, libtorch's
 * dense ones with the folded weights). Its parameters are left as they
 * were; do not train it afterwards. The result owns it.
 */
export function toSparseInference(model: Module, opts: SparseInferenceOptions = {}): SparseInferenceModel {
  model.eval();
  if (opts.plan !== false) {
    const planned = compilePlan(model, opts);
    if (planned !== null) return planned;
  }
  return toModuleKernels(model, opts);
}

/** The plan engine, or null when the model has no plan builder (or a layer the plan cannot hold). */
function compilePlan(model: Module, opts: SparseInferenceOptions): SparseInferenceModel | null {
  const choice = opts.kernelChoice ?? (opts.maxDensity === undefined ? 'measure' : 'density');
  const maxDensity = opts.maxDensity ?? DEFAULT_MAX_DENSITY;
  const smallLayer = opts.smallLayerWeights ?? DEFAULT_SMALL_LAYER_WEIGHTS;
  const chooseKernel: KernelChooser = ({ weights, nonZeros }) => {
    if (choice === 'sparse' || choice === 'dense') return { kernel: choice, reason: `kernelChoice '${choice}'` };
    const density = nonZeros / Math.max(1, weights);
    const dense = density > maxDensity && weights > smallLayer;
    if (choice === 'measure') return { kernel: dense ? 'dense' : 'sparse', tunable: true };
    return { kernel: dense ? 'dense' : 'sparse', reason: dense ? `density ${density.toFixed(3)} > maxDensity ${maxDensity}` : undefined };
  };
  const built = noGrad(() => buildSparsePlanSpec(model, { fold: opts.foldBatchNorm ?? true, chooseKernel }));
  if (built === null) return null;
  let plan: SparsePlan;
  try {
    plan = SparsePlan.compile(built.spec);
  } finally {
    built.dispose();
  }
  let stats: SparseInferenceStats;
  try {
    const timings = choice === 'measure' ? plan.calibrate(opts.calibration) : [];
    stats = planStats(plan, built, timings);
  } catch (e) {
    plan.dispose();
    throw e;
  }
  let disposed = false;
  return {
    model,
    plan,
    stats,
    forward: (x) => plan.run(x),
    dispose: () => {
      if (disposed) return;
      disposed = true;
      plan.dispose();
      model.dispose();
    },
  };
}

function planStats(plan: SparsePlan, built: BuiltPlanSpec, timings: PlanTiming[]): SparseInferenceStats {
  const stats: SparseInferenceStats = {
    engine: 'plan',
    layers: 0,
    weights: 0,
    nonZeros: 0,
    foldedBatchNorms: built.foldedBatchNorms,
    denseLayers: [],
    kernels: [],
  };
  for (const step of plan.describe()) {
    if (step.kernels === null) continue;
    const measured = timings.filter((t) => t.name === step.name);
    stats.kernels.push({ name: step.name, weights: step.weights, nonZeros: step.nonZeros, kernels: step.kernels, timings: measured });
    stats.weights += step.weights;
    stats.nonZeros += step.nonZeros;
    if (step.kernels[0] === 'sparse') stats.layers += 1;
    if (!step.kernels.includes('dense')) continue;
    const why =
      measured.length > 0
        ? measured
            .filter((t) => t.kernel === 'dense')
            .map((t) => `dense at batch ${t.batch}: ${t.denseMs.toFixed(3)} ms vs sparse ${t.sparseMs.toFixed(3)} ms`)
            .join(', ')
        : (built.reasons.get(step.name) ?? 'dense kernel');
    stats.denseLayers.push(`${step.name}: ${why}`);
  }
  return stats;
}

/** The modules engine: the model's own forward, each Conv2d/Linear on a per-layer kernel. */
function toModuleKernels(model: Module, opts: SparseInferenceOptions): SparseInferenceModel {
  const fold = opts.foldBatchNorm ?? FOLDABLE_MODELS.some((cls) => model instanceof cls);
  const stats: SparseInferenceStats = {
    engine: 'modules',
    layers: 0,
    weights: 0,
    nonZeros: 0,
    foldedBatchNorms: 0,
    denseLayers: [],
    kernels: [],
  };
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
    plan: null,
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
