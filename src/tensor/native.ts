/**
 * Loads the libtorch addon (build/Release/sparse_soups.node) and declares the
 * functions it exports. Everything above this file goes through `Tensor`;
 * only tensor/ calls the addon directly.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SparseSoupsError, TensorError } from '../util/errors.js';

/** An opaque native tensor handle. */
export interface NativeTensor {
  dispose(): void;
  readonly disposed: boolean;
  /** Reports the tensor's bytes to V8 now, if they were deferred (created inside a scope). */
  reportExternal(): void;
}
/** A compiled sparse inference plan (native/src/sparse_plan.cc); src/tensor/sparse-plan.ts wraps it. */
export interface NativeSparsePlan {
  run(x: NativeTensor): NativeTensor;
  calibrate(largeBatch: number, reps: number): NativePlanTiming[];
  profile(x: NativeTensor, reps: number): { totalMicros: number; steps: { name: string; op: string; micros: number }[] };
  describe(): NativePlanStepInfo[];
  dispose(): void;
  readonly disposed: boolean;
  readonly bytes: number;
  readonly chunkImages: number;
}
export interface NativePlanTiming {
  step: number;
  name: string;
  batch: number;
  sparseMs: number;
  denseMs: number;
  kernel: 'sparse' | 'dense';
}
export interface NativePlanStepInfo {
  name: string;
  op: string;
  kernels: ['sparse' | 'dense', 'sparse' | 'dense'] | null;
  weights: number;
  nonZeros: number;
  outputShape: number[];
  tunable: boolean;
}
/** The spec a SparsePlan is built from: plain objects, tensors for the weights (the plan copies them). */
export interface NativePlanSpec {
  inputShapes: number[][];
  steps: Record<string, unknown>[];
}

/** An opaque seeded libtorch generator. */
export type NativeGenerator = { readonly __nativeGenerator: unique symbol };

type T = NativeTensor;
type Opt<X> = X | null | undefined;
type Other = T | number | boolean;

export interface NativeAddon {
  NativeTensor: new () => T;
  SparsePlan: new (spec: NativePlanSpec) => NativeSparsePlan;
  setErrorClass(cls: new (message: string) => Error): void;
  fromBuffer(data: ArrayBufferView, shape: number[], dtype: string, device?: string): T;
  toBuffer(t: T): ArrayBuffer;
  item(t: T): number;
  zeros(shape: number[], dtype?: string, device?: string): T;
  ones(shape: number[], dtype?: string, device?: string): T;
  empty(shape: number[], dtype?: string, device?: string): T;
  full(shape: number[], value: number, dtype?: string, device?: string): T;
  arange(start: number, end: number, step: number, dtype?: string, device?: string): T;
  zerosLike(t: T): T;
  onesLike(t: T): T;
  createGenerator(seed: number): NativeGenerator;
  manualSeed(seed: number): void;
  randn(shape: number[], dtype: Opt<string>, device: Opt<string>, gen: Opt<NativeGenerator>): T;
  rand(shape: number[], dtype: Opt<string>, device: Opt<string>, gen: Opt<NativeGenerator>): T;
  randint(low: number, high: number, shape: number[], gen: Opt<NativeGenerator>): T;
  randperm(n: number, gen: Opt<NativeGenerator>): T;
  uniform_(t: T, low: number, high: number, gen: Opt<NativeGenerator>): T;
  normal_(t: T, mean: number, std: number, gen: Opt<NativeGenerator>): T;
  bernoulli(t: T, gen: Opt<NativeGenerator>): T;
  shape(t: T): number[];
  dtype(t: T): string;
  device(t: T): string;
  numel(t: T): number;
  isContiguous(t: T): boolean;
  to(t: T, dtype: Opt<string>, device: Opt<string>, copy?: boolean): T;
  clone(t: T): T;
  detach(t: T): T;
  contiguous(t: T): T;
  requiresGrad(t: T): boolean;
  setRequiresGrad(t: T, flag: boolean): T;
  backward(t: T, grad?: Opt<T>, retainGraph?: boolean): void;
  grad(t: T): T | null;
  clearGrad(t: T): void;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  blasNumThreads(): number | null;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  /** The CUDA runtime libtorch was built with (12040 for 12.4), 0 for a libtorch without CUDA. */
  cudaRuntimeVersion(): number;
  /** Turns autocast on for 'cpu' or 'cuda' in `dtype` (float16, bfloat16); returns the state to restore. */
  autocastEnter(deviceType: 'cpu' | 'cuda', dtype: string): [boolean, string];
  autocastExit(deviceType: 'cpu' | 'cuda', wasEnabled: boolean, previousDtype: string): void;
  liveTensors(): number;
  setData(dst: T, src: T): void;
  reportedExternalBytes(): number;
  setDeferExternalReport(defer: boolean): void;
  version(): { torch: string; parallel: string };

  reshape(t: T, shape: number[]): T;
  view(t: T, shape: number[]): T;
  permute(t: T, dims: number[]): T;
  expand(t: T, shape: number[]): T;
  transpose(t: T, d0: number, d1: number): T;
  flatten(t: T, start: number, end: number): T;
  squeeze(t: T, dim?: Opt<number>): T;
  unsqueeze(t: T, dim: number): T;
  slice(t: T, dim: number, start: number, end: number, step?: number): T;
  select(t: T, dim: number, index: number): T;
  indexSelect(t: T, dim: number, index: T): T;
  gather(t: T, dim: number, index: T): T;
  cat(ts: T[], dim: number): T;
  stack(ts: T[], dim: number): T;
  maskedSelect(t: T, mask: T): T;
  neg(t: T): T;
  exp(t: T): T;
  log(t: T): T;
  sqrt(t: T): T;
  rsqrt(t: T): T;
  abs(t: T): T;
  sign(t: T): T;
  relu(t: T): T;
  sigmoid(t: T): T;
  tanh(t: T): T;
  square(t: T): T;
  reciprocal(t: T): T;
  floor(t: T): T;
  round(t: T): T;
  logicalNot(t: T): T;
  isnan(t: T): T;
  isfinite(t: T): T;
  add(a: T, b: Other, alpha?: number): T;
  sub(a: T, b: Other, alpha?: number): T;
  mul(a: T, b: Other): T;
  div(a: T, b: Other): T;
  pow(a: T, b: Other): T;
  remainder(a: T, b: Other): T;
  eq(a: T, b: Other): T;
  ne(a: T, b: Other): T;
  lt(a: T, b: Other): T;
  le(a: T, b: Other): T;
  gt(a: T, b: Other): T;
  ge(a: T, b: Other): T;
  maximum(a: T, b: T): T;
  minimum(a: T, b: T): T;
  logicalAnd(a: T, b: T): T;
  logicalOr(a: T, b: T): T;
  where(cond: T, a: T, b: T): T;
  clamp(t: T, min: Opt<number>, max: Opt<number>): T;
  sum(t: T, dims?: Opt<number[]>, keepDim?: boolean): T;
  mean(t: T, dims?: Opt<number[]>, keepDim?: boolean): T;
  max(t: T): T;
  max(t: T, dim: number, keepDim?: boolean): [T, T];
  min(t: T): T;
  min(t: T, dim: number, keepDim?: boolean): [T, T];
  argmax(t: T, dim?: Opt<number>, keepDim?: boolean): T;
  norm(t: T, p?: number, dims?: Opt<number[]>, keepDim?: boolean): T;
  topk(t: T, k: number, dim?: number, largest?: boolean, sorted?: boolean): [T, T];
  kthvalue(t: T, k: number, dim?: number, keepDim?: boolean): [T, T];
  sort(t: T, dim?: number, descending?: boolean): [T, T];
  countNonzero(t: T): T;
  equal(a: T, b: T): boolean;
  allclose(a: T, b: T, rtol: number, atol: number): boolean;
  matmul(a: T, b: T): T;
  add_(t: T, other: Other, alpha?: number): T;
  mul_(t: T, other: Other): T;
  div_(t: T, other: Other): T;
  copy_(dst: T, src: T): T;
  zero_(t: T): T;
  fill_(t: T, value: number | boolean): T;
  maskedFill_(t: T, mask: T, value: number): T;
  clamp_(t: T, min: Opt<number>, max: Opt<number>): T;

  linear(x: T, w: T, b: Opt<T>): T;
  conv2d(x: T, w: T, b: Opt<T>, stride: number[], padding: number[], dilation: number[], groups: number): T;
  conv2dLibtorch(x: T, w: T, b: Opt<T>, stride: number[], padding: number[], dilation: number[], groups: number): T;
  batchNorm(x: T, w: Opt<T>, b: Opt<T>, rm: Opt<T>, rv: Opt<T>, training: boolean, momentum: number, eps: number): T;
  maxPool2d(x: T, kernel: number[], stride: number[], padding: number[], dilation: number[], ceilMode: boolean): T;
  /** at::max_pool2d always (maxPool2d computes non-overlapping windows itself): for tests and benchmarks. */
  maxPool2dLibtorch(x: T, kernel: number[], stride: number[], padding: number[], dilation: number[], ceilMode: boolean): T;
  avgPool2d(x: T, kernel: number[], stride: number[], padding: number[], ceilMode: boolean, countIncludePad: boolean): T;
  adaptiveAvgPool2d(x: T, outputSize: number[]): T;
  logSoftmax(x: T, dim: number): T;
  softmax(x: T, dim: number): T;
  crossEntropy(logits: T, target: T, labelSmoothing: number, reduction: string): T;
  nllLoss(logp: T, target: T, reduction: string): T;
  mseLoss(a: T, b: T, reduction: string): T;
  dropout(x: T, p: number, training: boolean): T;
  sgdStep(
    params: T[],
    buffers: (T | null)[],
    lr: number,
    momentum: number,
    dampening: number,
    weightDecay: number,
    nesterov: boolean,
    masks: (T | null)[] | null,
  ): (T | null)[];

  denseToCsr(weight: T): [T, T, T];
  sparseLinear(rowPtr: T, colIdx: T, values: T, x: T, bias: Opt<T>, inFeatures: number): T;
  sparseConv2d(
    rowPtr: T,
    colIdx: T,
    values: T,
    x: T,
    bias: Opt<T>,
    kernel: number[],
    stride: number[],
    padding: number[],
    dilation: number[],
  ): T;
}

/**
 * Every name the addon exports (NativeTensor and SparsePlan are classes, the
 * rest are functions), as a value: the interface vanishes at runtime, this list does
 * not. test/tensor/addon-surface pins it to the loaded addon and to the
 * registrations in native/src/*.cc.
 */
// prettier-ignore
export const NATIVE_EXPORTS = [
  // native/src/addon.cc
  'NativeTensor', 'SparsePlan', 'setErrorClass',
  // native/src/ops_create.cc
  'fromBuffer', 'toBuffer', 'item', 'zeros', 'ones', 'empty', 'full', 'arange', 'zerosLike', 'onesLike', 'createGenerator', 'manualSeed',
  'randn', 'rand', 'randint', 'randperm', 'uniform_', 'normal_', 'bernoulli', 'shape', 'dtype', 'device', 'numel', 'isContiguous', 'to',
  'setData', 'clone', 'detach', 'contiguous', 'requiresGrad', 'setRequiresGrad', 'backward', 'grad', 'clearGrad', 'setGradEnabled',
  'isGradEnabled', 'setNumThreads', 'blasNumThreads', 'getNumThreads', 'cudaAvailable', 'cudaDeviceCount', 'cudaSynchronize', 'liveTensors',
  'reportedExternalBytes', 'setDeferExternalReport', 'version', 'cudaRuntimeVersion', 'autocastEnter', 'autocastExit',
  // native/src/ops_math.cc
  'reshape', 'view', 'permute', 'expand', 'transpose', 'flatten', 'squeeze', 'unsqueeze', 'slice', 'select', 'indexSelect', 'gather', 'cat',
  'stack', 'maskedSelect', 'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'abs', 'sign', 'relu', 'sigmoid', 'tanh', 'square', 'reciprocal', 'floor',
  'round', 'logicalNot', 'isnan', 'isfinite', 'add', 'sub', 'mul', 'div', 'pow', 'remainder', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'maximum',
  'minimum', 'logicalAnd', 'logicalOr', 'where', 'clamp', 'sum', 'mean', 'max', 'min', 'argmax', 'norm', 'topk', 'kthvalue', 'sort',
  'countNonzero', 'equal', 'allclose', 'matmul', 'add_', 'mul_', 'div_', 'copy_', 'zero_', 'fill_', 'maskedFill_', 'clamp_',
  // native/src/ops_nn.cc
  'linear', 'conv2d', 'conv2dLibtorch', 'batchNorm', 'maxPool2d', 'maxPool2dLibtorch', 'avgPool2d', 'adaptiveAvgPool2d', 'logSoftmax', 'softmax', 'crossEntropy', 'nllLoss',
  'mseLoss', 'dropout', 'sgdStep',
  // native/src/sparse_ops.cc
  'denseToCsr', 'sparseLinear', 'sparseConv2d',
] as const;

type Equals<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
// Fails to compile when a member of NativeAddon is not listed, or a listed name is not a member.
type _NativeExportsMatchInterface = Assert<Equals<(typeof NATIVE_EXPORTS)[number], keyof NativeAddon>>;

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(join(dir, 'binding.gyp'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}

function loadAddon(): NativeAddon {
  const root = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
  const candidates = [
    process.env.SPARSE_SOUPS_ADDON,
    join(root, 'build/Release/sparse_soups.node'),
    join(root, 'build/Debug/sparse_soups.node'),
  ].filter((p): p is string => typeof p === 'string' && p.length > 0);
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new SparseSoupsError(
      `the libtorch addon is not built (looked for ${candidates.join(', ')}). ` +
        'Run `bash scripts/setup.sh` (installs libtorch and builds everything) or `npm run build:native`.',
    );
  }
  const require = createRequire(import.meta.url);
  try {
    return require(path) as NativeAddon;
  } catch (e) {
    throw new SparseSoupsError(
      `could not load the libtorch addon ${path}: ${(e as Error).message}. ` +
        'If libtorch moved or was upgraded, rebuild with `npm run build:native`.',
    );
  }
}

/** The loaded addon. Failures inside libtorch surface as TensorError. */
export const native: NativeAddon = loadAddon();
native.setErrorClass(TensorError);
