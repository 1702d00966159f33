/**
 * The ONNX operators an export uses, each with PyTorch's semantics and the
 * shape rule of its output, so a converter can check what a layer receives
 * (a Linear fed the wrong number of features fails here, naming the layer,
 * not later in onnxruntime). Only the batch dimension may be symbolic.
 *
 * @example
 * const y = ops.relu(g, ops.conv(g, x, w, null, { stride: 1, padding: 1, dilation: 1, groups: 1 }, 'conv1'), 'conv1/relu');
 */
import type { Dim, OnnxGraph, OnnxValue } from './graph.js';
import { TensorError } from '../../util/errors.js';

const show = (shape: readonly Dim[]): string => `[${shape.join(', ')}]`;

function staticDim(x: OnnxValue, axis: number, what: string): number {
  const d = x.shape[axis];
  if (typeof d !== 'number')
    throw new TensorError(`${what} needs a fixed size in dimension ${axis}, but input ${show(x.shape)} has '${d}' there`);
  return d;
}

function expectRank(x: OnnxValue, ranks: readonly number[], what: string): void {
  if (!ranks.includes(x.shape.length)) throw new TensorError(`${what} expects a ${ranks.join(' or ')}-D input, got ${show(x.shape)}`);
}

export interface ConvOptions {
  stride: number;
  padding: number;
  dilation: number;
  groups: number;
}

/** Output side of a conv or pooling window (floor mode, as PyTorch's default). */
function windowOut(size: number, kernel: number, stride: number, padding: number, dilation: number, what: string): number {
  const out = Math.floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
  if (out < 1) throw new TensorError(`${what}: a ${size}-pixel side is smaller than the ${kernel}-wide window (padding ${padding})`);
  return out;
}

/** 2-D convolution; weight [O, C/groups, k, k] (an initializer), bias [O] or null. */
export function conv(g: OnnxGraph, x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, o: ConvOptions, name: string): OnnxValue {
  expectRank(x, [4], 'Conv2d');
  const [outChannels, inPerGroup, k] = weight.shape as number[];
  const c = staticDim(x, 1, 'Conv2d');
  if (c !== inPerGroup * o.groups) throw new TensorError(`Conv2d takes ${inPerGroup * o.groups} channels, got input ${show(x.shape)}`);
  const h = windowOut(staticDim(x, 2, 'Conv2d'), k, o.stride, o.padding, o.dilation, 'Conv2d');
  const w = windowOut(staticDim(x, 3, 'Conv2d'), k, o.stride, o.padding, o.dilation, 'Conv2d');
  return g.addNode(
    'Conv',
    [x, weight, bias],
    [x.shape[0], outChannels, h, w],
    {
      kernel_shape: { ints: [k, k] },
      strides: { ints: [o.stride, o.stride] },
      pads: { ints: [o.padding, o.padding, o.padding, o.padding] },
      dilations: { ints: [o.dilation, o.dilation] },
      group: { int: o.groups },
    },
    name,
  );
}

/**
 * y = x Wᵀ + b for weight [out, in]: Gemm (transB) on a 2-D input, else
 * MatMul with the transposed weight, then Add.
 */
export function linear(g: OnnxGraph, x: OnnxValue, weight: OnnxValue, bias: OnnxValue | null, name: string): OnnxValue {
  const [out, inFeatures] = weight.shape as number[];
  if (x.shape.length < 2 || staticDim(x, x.shape.length - 1, 'Linear') !== inFeatures) {
    throw new TensorError(`Linear takes ${inFeatures} features in the last dimension, got input ${show(x.shape)}`);
  }
  const shape = [...x.shape.slice(0, -1), out];
  if (x.shape.length === 2) return g.addNode('Gemm', [x, weight, bias], shape, { transB: { int: 1 } }, name);
  const wt = g.addNode('Transpose', [weight], [inFeatures, out], { perm: { ints: [1, 0] } }, `${name}/weight_t`);
  const y = g.addNode('MatMul', [x, wt], shape, {}, bias === null ? name : `${name}/matmul`);
  return bias === null ? y : g.addNode('Add', [y, bias], shape, {}, name);
}

/** Inference-mode batch norm over dim 1 with the running statistics. */
export function batchNorm(
  g: OnnxGraph,
  x: OnnxValue,
  p: { scale: OnnxValue; bias: OnnxValue; mean: OnnxValue; variance: OnnxValue; eps: number },
  name: string,
): OnnxValue {
  const c = p.mean.shape[0];
  if (x.shape.length < 2 || x.shape[1] !== c) throw new TensorError(`BatchNorm has ${c} channels, got input ${show(x.shape)}`);
  return g.addNode('BatchNormalization', [x, p.scale, p.bias, p.mean, p.variance], x.shape, { epsilon: { float: p.eps } }, name);
}

export function relu(g: OnnxGraph, x: OnnxValue, name: string): OnnxValue {
  return g.addNode('Relu', [x], x.shape, {}, name);
}

/** Elementwise a + b of one shape (the residual connection). */
export function add(g: OnnxGraph, a: OnnxValue, b: OnnxValue, name: string): OnnxValue {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new TensorError(`cannot add ${show(a.shape)} and ${show(b.shape)}: the branches must have one shape`);
  }
  return g.addNode('Add', [a, b], a.shape, {}, name);
}

/** Elementwise (x - mean) / std per channel of NCHW input: the dataset normalization. */
export function normalize(g: OnnxGraph, x: OnnxValue, mean: readonly number[], std: readonly number[], name: string): OnnxValue {
  const c = staticDim(x, 1, 'normalization');
  if (mean.length !== c || std.length !== c)
    throw new TensorError(`normalization has ${mean.length} means and ${std.length} stds for ${c} channels`);
  const m = g.addInitializer(`${name}/mean`, Float32Array.from(mean), [1, c, 1, 1]);
  const s = g.addInitializer(`${name}/std`, Float32Array.from(std), [1, c, 1, 1]);
  return g.addNode('Div', [g.addNode('Sub', [x, m], x.shape, {}, `${name}/sub`), s], x.shape, {}, name);
}

export interface PoolOptions {
  kernel: number;
  stride: number;
  padding: number;
}

/** Max pooling (padding counts as -∞, floor mode). */
export function maxPool(g: OnnxGraph, x: OnnxValue, o: PoolOptions, name: string): OnnxValue {
  return pool(g, 'MaxPool', x, o, {}, name);
}

/** Average pooling with the padding counted (PyTorch's count_include_pad default), floor mode. */
export function avgPool(g: OnnxGraph, x: OnnxValue, o: PoolOptions, name: string): OnnxValue {
  return pool(g, 'AveragePool', x, o, { count_include_pad: { int: 1 } }, name);
}

function pool(g: OnnxGraph, op: string, x: OnnxValue, o: PoolOptions, extra: Record<string, { int: number }>, name: string): OnnxValue {
  expectRank(x, [4], op);
  if (o.padding * 2 > o.kernel) throw new TensorError(`${op}: padding ${o.padding} is more than half the kernel ${o.kernel}`);
  const h = windowOut(staticDim(x, 2, op), o.kernel, o.stride, o.padding, 1, op);
  const w = windowOut(staticDim(x, 3, op), o.kernel, o.stride, o.padding, 1, op);
  return g.addNode(
    op,
    [x],
    [x.shape[0], x.shape[1], h, w],
    {
      kernel_shape: { ints: [o.kernel, o.kernel] },
      strides: { ints: [o.stride, o.stride] },
      pads: { ints: [o.padding, o.padding, o.padding, o.padding] },
      ...extra,
    },
    name,
  );
}

/**
 * Adaptive average pooling to [oh, ow]: GlobalAveragePool for 1×1, else an
 * AveragePool when the windows are even (input side a multiple of the output
 * side); PyTorch's uneven windows have no ONNX operator.
 */
export function adaptiveAvgPool(g: OnnxGraph, x: OnnxValue, [oh, ow]: [number, number], name: string): OnnxValue {
  expectRank(x, [4], 'AdaptiveAvgPool2d');
  if (oh === 1 && ow === 1) return g.addNode('GlobalAveragePool', [x], [x.shape[0], x.shape[1], 1, 1], {}, name);
  const h = staticDim(x, 2, 'AdaptiveAvgPool2d');
  const w = staticDim(x, 3, 'AdaptiveAvgPool2d');
  if (h % oh !== 0 || w % ow !== 0) {
    throw new TensorError(
      `AdaptiveAvgPool2d to ${oh}×${ow} from a ${h}×${w} input has windows of different sizes, which ONNX cannot express; use an input side that is a multiple of the output side`,
    );
  }
  return g.addNode(
    'AveragePool',
    [x],
    [x.shape[0], x.shape[1], oh, ow],
    {
      kernel_shape: { ints: [h / oh, w / ow] },
      strides: { ints: [h / oh, w / ow] },
    },
    name,
  );
}

/** The mean over H and W of NCHW input, as [N, C] (`x.mean([2, 3])`). */
export function spatialMean(g: OnnxGraph, x: OnnxValue, name: string): OnnxValue {
  return flatten(g, adaptiveAvgPool(g, x, [1, 1], `${name}/pool`), 1, -1, name);
}

/** PyTorch's flatten(startDim, endDim): ONNX Flatten for (1, -1), else a Reshape. */
export function flatten(g: OnnxGraph, x: OnnxValue, startDim: number, endDim: number, name: string): OnnxValue {
  const rank = x.shape.length;
  const start = startDim < 0 ? rank + startDim : startDim;
  const end = endDim < 0 ? rank + endDim : endDim;
  if (rank === 0 || start < 0 || end >= rank || start > end) {
    throw new TensorError(`flatten(${startDim}, ${endDim}) does not fit input ${show(x.shape)}`);
  }
  if (start === end) return x;
  const merged = x.shape.slice(start, end + 1);
  const size: Dim = merged.every((d) => typeof d === 'number') ? (merged as number[]).reduce((a, b) => a * b, 1) : merged.join('*');
  const shape = [...x.shape.slice(0, start), size, ...x.shape.slice(end + 1)];
  if (start === 1 && end === rank - 1) return g.addNode('Flatten', [x], shape, { axis: { int: 1 } }, name);
  // Reshape's 0 keeps the input's size at that position, -1 infers the merged symbolic one.
  const target = shape.map((d, i) => (typeof d === 'number' ? d : i < start ? 0 : -1));
  if (target.filter((d) => d === -1).length > 1)
    throw new TensorError(`flatten(${startDim}, ${endDim}) of ${show(x.shape)} has two unknown sizes`);
  return g.addNode('Reshape', [x, g.addInt64s(`${name}/shape`, target)], shape, {}, name);
}

/** x[..., ::step] over `axes` (from 0, every element up to the end). */
export function strided(g: OnnxGraph, x: OnnxValue, axes: readonly number[], step: number, name: string): OnnxValue {
  if (step === 1) return x;
  const shape = [...x.shape];
  for (const a of axes) shape[a] = Math.ceil(staticDim(x, a, 'strided slice') / step);
  const big = Number.MAX_SAFE_INTEGER;
  return g.addNode(
    'Slice',
    [
      x,
      g.addInt64s(
        `${name}/starts`,
        axes.map(() => 0),
      ),
      g.addInt64s(
        `${name}/ends`,
        axes.map(() => big),
      ),
      g.addInt64s(`${name}/axes`, axes),
      g.addInt64s(
        `${name}/steps`,
        axes.map(() => step),
      ),
    ],
    shape,
    {},
    name,
  );
}

/** Zero channels before and after those of NCHW input (the option-A shortcut of the CIFAR ResNets). */
export function padChannels(g: OnnxGraph, x: OnnxValue, before: number, after: number, name: string): OnnxValue {
  if (before === 0 && after === 0) return x;
  const shape = [...x.shape];
  shape[1] = staticDim(x, 1, 'channel padding') + before + after;
  return g.addNode(
    'Pad',
    [x, g.addInt64s(`${name}/pads`, [0, before, 0, 0, 0, after, 0, 0])],
    shape,
    { mode: { string: 'constant' } },
    name,
  );
}
