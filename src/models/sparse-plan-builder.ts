/**
 * Compiles a zoo model into a SparsePlan spec (tensor/sparse-plan.ts): the
 * model's forward, written once more as a straight line of native steps,
 * with each BN folded into the conv before it and each ReLU and residual add
 * fused into the step that produces its input. One builder per architecture
 * (ConvNet, CIFAR ResNets with option A or B shortcuts, WideResNets, VGG-16,
 * MLP), chosen by the model's exact class: a subclass may override forward(),
 * so it gets no plan (sparse-infer.ts then runs the model's own forward on
 * per-layer sparse kernels).
 *
 * Folding (conv then BN, eval mode): s = γ/√(running_var + ε),
 * W' = s·W per output channel, b' = β − s·mean + s·b. Scaling a row keeps
 * its zeros. A BN that does not follow a conv (WideResNet's pre-activation)
 * becomes an `affine` step y = s·x + (β − s·mean).
 *
 * @example
 * const built = buildSparsePlanSpec(model, { fold: true, chooseKernel: () => ({ kernel: 'sparse' }) });
 * if (built) { const plan = SparsePlan.compile(built.spec); built.dispose(); }
 */
import type { Tensor } from '../tensor/tensor.js';
import { tidy, keep } from '../tensor/scope.js';
import type { PlanKernel, PlanResidual, SparsePlanSpec, SparsePlanStep } from '../tensor/sparse-plan.js';
import type { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { Dropout, Flatten, Identity, MaxPool2d, ReLU, Sequential } from '../nn/containers.js';
import { ConvNet } from './convnet.js';
import { BasicBlock, CifarResNet, PadShortcut } from './resnet.js';
import { WideBasicBlock, WideResNet } from './wide-resnet.js';
import { Vgg16 } from './vgg.js';
import { Mlp } from './mlp.js';

/** A layer's kernel, decided from its size and non-zeros; `tunable` lets the plan's calibration choose instead. */
export type KernelChooser = (layer: { name: string; weights: number; nonZeros: number }) => {
  kernel: PlanKernel;
  tunable?: boolean;
  reason?: string;
};

export interface PlanBuildOptions {
  /** Fold each conv→BN pair (false: every BN is an affine step). */
  fold: boolean;
  chooseKernel: KernelChooser;
}

export interface BuiltPlanSpec {
  spec: SparsePlanSpec;
  foldedBatchNorms: number;
  /** Why each conv/linear layer got its kernel, by layer name (from the chooser). */
  reasons: Map<string, string>;
  /** Frees the folded weights made for the spec (the compiled plan holds its own copies). */
  dispose(): void;
}

/**
 * The plan spec of `model` (eval mode assumed), or null when its class has
 * no builder or a layer is not float32 on the CPU (or is a grouped conv).
 */
export function buildSparsePlanSpec(model: Module, opts: PlanBuildOptions): BuiltPlanSpec | null {
  if (!model.parameters().every((p) => p.dtype === 'float32' && p.device === 'cpu')) return null;
  const b = new PlanBuilder(opts);
  try {
    const ok = buildFor(model, b);
    if (!ok) {
      b.dispose();
      return null;
    }
  } catch (e) {
    b.dispose();
    throw e;
  }
  return {
    spec: { inputShapes: b.inputShapes, steps: b.steps },
    foldedBatchNorms: b.folded,
    reasons: b.reasons,
    dispose: () => b.dispose(),
  };
}

function buildFor(model: Module, b: PlanBuilder): boolean {
  switch (model.constructor) {
    case ConvNet:
      return convNet(model as ConvNet, b);
    case CifarResNet:
      return cifarResNet(model as CifarResNet, b);
    case WideResNet:
      return wideResNet(model as WideResNet, b);
    case Vgg16:
      return vgg16(model as Vgg16, b);
    case Mlp:
      return mlp(model as Mlp, b);
    default:
      return false;
  }
}

/** Steps and the tensors made for them; values are numbered as in SparsePlanSpec. */
class PlanBuilder {
  readonly steps: SparsePlanStep[] = [];
  inputShapes: number[][] = [];
  folded = 0;
  readonly reasons = new Map<string, string>();
  private readonly made: Tensor[] = [];

  constructor(private readonly opts: PlanBuildOptions) {}

  private push(step: SparsePlanStep): number {
    this.steps.push(step);
    return this.steps.length;
  }

  private kernelFor(name: string, weight: Tensor): { kernel: PlanKernel; tunable?: boolean } {
    const nonZeros = weight.countNonzero();
    const choice = this.opts.chooseKernel({ name, weights: weight.numel, nonZeros });
    if (choice.reason) this.reasons.set(name, choice.reason);
    return { kernel: choice.kernel, tunable: choice.tunable };
  }

  /** conv (+ BN folded, or an affine step after it) (+ residual) (+ ReLU). Null when the conv is grouped. */
  conv(name: string, conv: Conv2d, bn: BatchNorm2d | null, input: number, relu: boolean, residual?: PlanResidual): number | null {
    if (conv.constructor !== Conv2d || conv.groups !== 1 || (bn !== null && bn.constructor !== BatchNorm2d)) return null;
    const geometry = {
      stride: [conv.stride, conv.stride] as [number, number],
      padding: [conv.padding, conv.padding] as [number, number],
      dilation: [conv.dilation, conv.dilation] as [number, number],
    };
    if (bn !== null && this.opts.fold) {
      const { weight, bias } = this.keep(foldBatchNorm(conv, bn));
      this.folded += 1;
      return this.push({ op: 'conv2d', name, input, weight, bias, ...geometry, relu, residual, ...this.kernelFor(name, weight) });
    }
    const fused = bn === null;
    const out = this.push({
      op: 'conv2d',
      name,
      input,
      weight: conv.weight,
      bias: conv.bias,
      ...geometry,
      relu: fused && relu,
      residual: fused ? residual : null,
      ...this.kernelFor(name, conv.weight),
    });
    return fused ? out : this.batchNorm(/conv\d*$/.test(name) ? name.replace(/conv(\d*)$/, 'bn$1') : `${name} bn`, bn, out, relu, residual);
  }

  /** BN as y = s·x + (β − s·mean), s = γ/√(var+ε) (+ residual) (+ ReLU). */
  batchNorm(name: string, bn: BatchNorm2d, input: number, relu: boolean, residual?: PlanResidual): number {
    const { scale, shift } = this.keep(batchNormAffine(bn));
    return this.push({ op: 'affine', name, input, scale, shift, relu, residual });
  }

  linear(name: string, fc: Linear, input: number, relu: boolean): number | null {
    if (fc.constructor !== Linear) return null;
    return this.push({ op: 'linear', name, input, weight: fc.weight, bias: fc.bias, relu, ...this.kernelFor(name, fc.weight) });
  }

  maxPool(name: string, input: number, kernel: number, stride = kernel, padding = 0): number {
    return this.push({ op: 'maxPool2d', name, input, kernel: [kernel, kernel], stride: [stride, stride], padding: [padding, padding] });
  }

  globalAvgPool(name: string, input: number): number {
    return this.push({ op: 'globalAvgPool', name, input });
  }

  flatten(name: string, input: number): number {
    return this.push({ op: 'flatten', name, input });
  }

  /** Sets ReLU on the step that produced `value` if it is the last one and can fuse it, else adds an affine ReLU. */
  relu(name: string, value: number): number {
    const last = this.steps[value - 1];
    if (value === this.steps.length && last && (last.op === 'conv2d' || last.op === 'linear' || last.op === 'affine')) {
      last.relu = true;
      return value;
    }
    return this.push({ op: 'affine', name, input: value, relu: true });
  }

  private keep<R extends Record<string, Tensor>>(made: R): R {
    for (const t of Object.values(made)) this.made.push(t);
    return made;
  }

  dispose(): void {
    for (const t of this.made) t.dispose();
    this.made.length = 0;
  }
}

/** W' = s·W, b' = β − s·mean + s·b with s = γ/√(var+ε): new tensors, kept out of any scope. */
export function foldBatchNorm(conv: Conv2d, bn: BatchNorm2d): { weight: Tensor; bias: Tensor } {
  return tidy(() => {
    const { scale, shift } = batchNormAffine(bn);
    const bias = conv.bias ? shift.add(conv.bias.mul(scale)) : shift;
    const weight = conv.weight.mul(scale.reshape([-1, 1, 1, 1]));
    return { weight: keep(weight), bias: keep(bias.contiguous()) };
  });
}

/** BN in eval mode as y = scale·x + shift per channel. */
function batchNormAffine(bn: BatchNorm2d): { scale: Tensor; shift: Tensor } {
  return tidy(() => {
    const inv = bn.runningVar.add(bn.eps).rsqrt();
    const scale = bn.weight ? inv.mul(bn.weight) : inv;
    let shift = scale.mul(bn.runningMean).neg();
    if (bn.bias) shift = shift.add(bn.bias);
    return { scale: keep(scale.contiguous()), shift: keep(shift.contiguous()) };
  });
}

function imageShape(config: { inChannels: number; imageSize: number }): number[] {
  return [config.inChannels, config.imageSize, config.imageSize];
}

// Each builder mirrors its model's forward(); null from a step means a layer the plan cannot hold.

function convNet(m: ConvNet, b: PlanBuilder): boolean {
  b.inputShapes = [imageShape(m.config)];
  let v = b.conv('conv1', m.conv1, m.bn1, 0, true);
  if (v === null) return false;
  v = b.conv('conv2', m.conv2, m.bn2, b.maxPool('pool1', v, 2), true);
  if (v === null) return false;
  v = b.linear('fc1', m.fc1, b.flatten('flatten', b.maxPool('pool2', v, 2)), true);
  return v !== null && b.linear('fc2', m.fc2, v, false) !== null;
}

function cifarResNet(m: CifarResNet, b: PlanBuilder): boolean {
  b.inputShapes = [imageShape(m.config)];
  let v = b.conv('conv1', m.conv1, m.bn1, 0, true);
  for (const [s, stage] of [m.layer1, m.layer2, m.layer3].entries()) {
    for (let i = 0; i < stage.length && v !== null; i++) {
      const block = stage.at(i);
      if (block.constructor !== BasicBlock) return false;
      v = basicBlock(`layer${s + 1}.${i}`, block as BasicBlock, v, b);
    }
  }
  return v !== null && b.linear('fc', m.fc, b.globalAvgPool('pool', v), false) !== null;
}

function basicBlock(name: string, block: BasicBlock, x: number, b: PlanBuilder): number | null {
  let residual: PlanResidual;
  const sc = block.shortcut;
  if (sc.constructor === Identity) residual = { value: x };
  else if (sc.constructor === PadShortcut)
    residual = { value: x, channelOffset: (sc as PadShortcut).padBefore, stride: (sc as PadShortcut).stride };
  else if (sc.constructor === Sequential && (sc as Sequential).length === 2) {
    const [conv, bn] = [(sc as Sequential).at(0), (sc as Sequential).at(1)];
    if (!(conv instanceof Conv2d) || !(bn instanceof BatchNorm2d)) return null;
    const projected = b.conv(`${name}.shortcut.0`, conv, bn, x, false);
    if (projected === null) return null;
    residual = { value: projected };
  } else return null;
  const a = b.conv(`${name}.conv1`, block.conv1, block.bn1, x, true);
  return a === null ? null : b.conv(`${name}.conv2`, block.conv2, block.bn2, a, true, residual);
}

function wideResNet(m: WideResNet, b: PlanBuilder): boolean {
  b.inputShapes = [imageShape(m.config)];
  let v = b.conv('conv1', m.conv1, null, 0, false);
  for (const [s, stage] of [m.layer1, m.layer2, m.layer3].entries()) {
    for (let i = 0; i < stage.length && v !== null; i++) {
      const block = stage.at(i);
      if (block.constructor !== WideBasicBlock) return false;
      v = wideBlock(`layer${s + 1}.${i}`, block as WideBasicBlock, v, b);
    }
  }
  if (v === null) return false;
  v = b.batchNorm('bn', m.bn, v, true);
  return b.linear('fc', m.fc, b.globalAvgPool('pool', v), false) !== null;
}

function wideBlock(name: string, block: WideBasicBlock, x: number, b: PlanBuilder): number | null {
  const pre = b.batchNorm(`${name}.bn1`, block.bn1, x, true);
  const a = b.conv(`${name}.conv1`, block.conv1, block.bn2, pre, true); // dropout is the identity in eval mode
  if (a === null) return null;
  const shortcut = block.shortcut === null ? x : b.conv(`${name}.shortcut`, block.shortcut, null, pre, false);
  return shortcut === null ? null : b.conv(`${name}.conv2`, block.conv2, null, a, false, { value: shortcut });
}

function vgg16(m: Vgg16, b: PlanBuilder): boolean {
  b.inputShapes = [imageShape(m.config)];
  let v: number | null = sequence('features', m.features, 0, b);
  if (v === null) return false;
  v = b.flatten('flatten', v);
  return (
    (m.classifier.constructor === Linear
      ? b.linear('classifier', m.classifier as Linear, v, false)
      : sequence('classifier', m.classifier, v, b)) !== null
  );
}

/** The layers of a Sequential in order: Conv2d (+ the BatchNorm2d after it), BatchNorm2d, ReLU, MaxPool2d, Linear, Flatten, Dropout and Identity. */
function sequence(name: string, seq: Module, input: number, b: PlanBuilder): number | null {
  if (seq.constructor !== Sequential) return null;
  const layers = seq as Sequential;
  let v: number | null = input;
  for (let i = 0; i < layers.length && v !== null; i++) {
    const layer = layers.at(i);
    const at = `${name}.${i}`;
    const next = i + 1 < layers.length ? layers.at(i + 1) : null;
    if (layer.constructor === Conv2d) {
      const bn = next?.constructor === BatchNorm2d ? (next as BatchNorm2d) : null;
      v = b.conv(at, layer as Conv2d, bn, v, false);
      if (bn) i++;
    } else if (layer.constructor === BatchNorm2d) v = b.batchNorm(at, layer as BatchNorm2d, v, false);
    else if (layer.constructor === ReLU) v = b.relu(at, v);
    else if (layer.constructor === MaxPool2d) {
      const pool = layer as MaxPool2d;
      v = b.maxPool(at, v, pool.kernelSize, pool.stride, pool.padding);
    } else if (layer.constructor === Linear) v = b.linear(at, layer as Linear, v, false);
    else if (layer.constructor === Flatten && (layer as Flatten).startDim === 1 && (layer as Flatten).endDim === -1) v = b.flatten(at, v);
    else if (layer.constructor !== Dropout && layer.constructor !== Identity) return null;
  }
  return v;
}

function mlp(m: Mlp, b: PlanBuilder): boolean {
  const { inChannels, imageSize } = m.config;
  b.inputShapes = [imageShape(m.config), [inChannels * imageSize * imageSize]];
  let v: number | null = b.flatten('flatten', 0);
  m.layers.forEach((fc, i) => {
    if (v !== null) v = b.linear(`fc${i + 1}`, fc, v, i < m.layers.length - 1);
  });
  return v !== null;
}
