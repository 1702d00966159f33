/**
 * Creating tensors, combining several, and the runtime switches (seed,
 * threads, devices, autograd mode).
 *
 * @example
 * const x = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]);
 * const z = zeros([3, 3]);
 * const y = noGrad(() => x.mul(2));
 */
import { native } from './native.js';
import { Tensor, Generator, dtypeOfArray, type AnyTypedArray, type DType } from './tensor.js';
import { TensorError } from '../util/errors.js';

/** The dtype (default float32) and device (default cpu) of a new tensor. */
export interface CreateOptions {
  dtype?: DType;
  device?: string;
}

/** A tensor holding a copy of `data` with the given shape (default: 1-D). */
export function tensor(data: AnyTypedArray | number[], shape?: number[], opts: CreateOptions = {}): Tensor {
  let arr: AnyTypedArray;
  if (Array.isArray(data)) {
    const dtype = opts.dtype ?? 'float32';
    arr = fromNumbers(data, dtype);
  } else {
    arr = data;
    const sameBits = (opts.dtype === 'bool' && arr instanceof Uint8Array) || (opts.dtype === 'bfloat16' && arr instanceof Uint16Array);
    if (opts.dtype !== undefined && opts.dtype !== dtypeOfArray(arr) && !sameBits) {
      throw new TensorError(`tensor(): data is a ${arr.constructor.name}, which does not hold dtype ${opts.dtype}`);
    }
  }
  const dtype = opts.dtype ?? dtypeOfArray(arr);
  return new Tensor(native.fromBuffer(arr, shape ?? [arr.length], dtype, opts.device));
}

function fromNumbers(data: number[], dtype: DType): AnyTypedArray {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(data);
    case 'float64':
      return Float64Array.from(data);
    case 'int64':
      return BigInt64Array.from(data, (v) => BigInt(Math.trunc(v)));
    case 'int32':
      return Int32Array.from(data);
    case 'int16':
      return Int16Array.from(data);
    case 'int8':
      return Int8Array.from(data);
    case 'uint8':
    case 'bool':
      return Uint8Array.from(data);
    default:
      throw new TensorError(`tensor(): cannot build a ${dtype} tensor from numbers`);
  }
}

/** A one-element tensor of shape []. */
export function scalar(value: number, opts: CreateOptions = {}): Tensor {
  return full([], value, opts);
}
/** A tensor of `shape` filled with 0. */
export function zeros(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.zeros(shape, opts.dtype, opts.device));
}
/** A tensor of `shape` filled with 1. */
export function ones(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.ones(shape, opts.dtype, opts.device));
}
/** A tensor of `shape` with unspecified contents (write it before reading). */
export function empty(shape: number[], opts: CreateOptions = {}): Tensor {
  return new Tensor(native.empty(shape, opts.dtype, opts.device));
}
/** A tensor of `shape` filled with `value`. */
export function full(shape: number[], value: number, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.full(shape, value, opts.dtype, opts.device));
}
/** Zeros with `t`'s shape, dtype and device. */
export function zerosLike(t: Tensor): Tensor {
  return new Tensor(native.zerosLike(t.handle));
}
/** Ones with `t`'s shape, dtype and device. */
export function onesLike(t: Tensor): Tensor {
  return new Tensor(native.onesLike(t.handle));
}
/** start, start+step, ... below end (int64 unless a dtype is given). */
export function arange(start: number, end: number, step = 1, opts: CreateOptions = {}): Tensor {
  return new Tensor(native.arange(start, end, step, opts.dtype ?? 'int64', opts.device));
}

/** A new random tensor's dtype, device and generator (default: libtorch's global one, seeded by `manualSeed`). */
export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}
/** Standard normal samples. */
export function randn(shape: number[], opts: RandomOptions = {}): Tensor {
  return new Tensor(native.randn(shape, opts.dtype, opts.device, opts.generator?.handle));
}
/** Uniform samples in [0, 1). */
export function rand(shape: number[], opts: RandomOptions = {}): Tensor {
  return new Tensor(native.rand(shape, opts.dtype, opts.device, opts.generator?.handle));
}
/** Uniform integers in [low, high), int64. */
export function randint(low: number, high: number, shape: number[], generator?: Generator): Tensor {
  return new Tensor(native.randint(low, high, shape, generator?.handle));
}
/** A random permutation of 0..n-1, int64. */
export function randperm(n: number, generator?: Generator): Tensor {
  return new Tensor(native.randperm(n, generator?.handle));
}
/** Samples 1 with probability p (elementwise), else 0. */
export function bernoulli(p: Tensor, generator?: Generator): Tensor {
  return new Tensor(native.bernoulli(p.handle, generator?.handle));
}

/** Concatenates tensors along an existing dimension `dim` (torch.cat); TensorError for none or mismatched shapes. */
export function cat(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('cat(): needs at least one tensor');
  return new Tensor(
    native.cat(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
/** Stacks same-shaped tensors along a new dimension `dim` (torch.stack); TensorError for none or mismatched shapes. */
export function stack(tensors: Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new TensorError('stack(): needs at least one tensor');
  return new Tensor(
    native.stack(
      tensors.map((t) => t.handle),
      dim,
    ),
  );
}
/** Elementwise `condition ? a : b`. */
export function where(condition: Tensor, a: Tensor, b: Tensor): Tensor {
  return new Tensor(native.where(condition.handle, a.handle, b.handle));
}

/** Runs fn with autograd recording off (like `torch.no_grad()`). */
export function noGrad<R>(fn: () => R): R {
  const previous = native.setGradEnabled(false);
  try {
    return fn();
  } finally {
    native.setGradEnabled(previous);
  }
}
/** False inside `noGrad`. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}

/** Seeds libtorch's global generator (weight init, dropout). */
export function manualSeed(seed: number): void {
  native.manualSeed(seed);
}
/**
 * Threads libtorch uses for intra-op parallelism in this process, and, when
 * the BLAS libtorch calls is OpenBLAS, OpenBLAS's thread pool too (it sizes
 * itself from OPENBLAS_NUM_THREADS or the core count when it loads, and
 * `at::set_num_threads` alone leaves it there).
 */
export function setNumThreads(n: number): void {
  native.setNumThreads(n);
}
/** libtorch's intra-op thread count. */
export function getNumThreads(): number {
  return native.getNumThreads();
}
/** OpenBLAS's thread count, or null when libtorch's BLAS is not OpenBLAS (MKL, reference BLAS). */
export function blasNumThreads(): number | null {
  return native.blasNumThreads();
}
/** True when the linked libtorch has CUDA and a GPU is visible. */
export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}
/** Visible CUDA devices (0 without CUDA). */
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}
/**
 * Why `cuda` devices cannot be used here, or null when they can: the addon
 * is linked against a libtorch without CUDA (a CPU build such as Debian's
 * libtorch-dev), or libtorch has CUDA but no GPU is visible.
 */
export function cudaUnavailableReason(): string | null {
  if (native.cudaAvailable()) return null;
  const runtime = native.cudaRuntimeVersion();
  if (runtime > 0) {
    const version = `${Math.floor(runtime / 1000)}.${Math.floor((runtime % 1000) / 10)}`;
    return `libtorch has CUDA ${version}, but no GPU is visible (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides them)`;
  }
  return (
    `the addon is linked against libtorch ${native.version().torch} without CUDA (a CPU build, such as Debian's libtorch-dev); ` +
    'a CUDA libtorch is needed: point LIBTORCH at a CUDA libtorch 2.x and run `npm run build:native` (README, docs/libtorch2.md)'
  );
}
/** Waits for the current CUDA device's queued work (for timing); a no-op without CUDA. */
export function cudaSynchronize(): void {
  native.cudaSynchronize();
}
/** Native tensors currently alive in this process (for leak tests). */
export function liveTensorCount(): number {
  return native.liveTensors();
}
/**
 * Bytes of CPU tensors reported to V8 as external memory (what makes the
 * garbage collector hurry). Tensors created inside `tidy` are reported only
 * if they outlive it.
 */
export function reportedExternalBytes(): number {
  return native.reportedExternalBytes();
}
/** The version of the libtorch the addon is linked against, 'major.minor.patch' (e.g. '2.6.0'). */
export function libtorchVersion(): string {
  return native.version().torch;
}
