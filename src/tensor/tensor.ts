/**
 * Tensor: an n-dimensional array on libtorch, with autograd.
 *
 * Every operation returns a new Tensor that owns native memory. Free it with
 * `dispose()`, or create it inside `tidy(() => ...)` so it is freed when the
 * scope ends. Methods ending in `_` modify the tensor in place (never
 * recorded by autograd) and return `this`.
 *
 * @example
 * const x = tensor(new Float32Array([1, 2, 3, 4]), [2, 2]).requireGrad();
 * const y = x.mul(x).sum();
 * y.backward();
 * x.grad!.toArray(); // Float32Array [2, 4, 6, 8]
 */
import { native, type NativeTensor } from './native.js';
import { trackTensor, setScopeListener, type Disposable } from './scope.js';
import './device-trace.js'; // SPARSE_SOUPS_DEVICE_ALIAS starts a device trace when tensors load (device-trace.ts)
import { TensorError } from '../util/errors.js';

// Inside tidy scopes, new tensors defer reporting their bytes to V8 (the scope frees them itself).
setScopeListener((active) => native.setDeferExternalReport(active));

/** A tensor's element type, as PyTorch names it (float16 and bfloat16 elements travel as Uint16Array bits). */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
/** Where a tensor lives: the CPU, the current CUDA device, or CUDA device N. */
export type Device = 'cpu' | 'cuda' | `cuda:${number}`;

/** The TypedArray that holds each dtype's elements. */
export interface TypedArrayFor {
  float32: Float32Array;
  float64: Float64Array;
  float16: Uint16Array;
  bfloat16: Uint16Array;
  int64: BigInt64Array;
  int32: Int32Array;
  int16: Int16Array;
  int8: Int8Array;
  uint8: Uint8Array;
  bool: Uint8Array;
}
/** Any TypedArray a tensor can be created from or read into. */
export type AnyTypedArray = TypedArrayFor[DType];

const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

/** True when `s` names a DType ('float32', 'int64', ...). */
export function isDType(s: string): s is DType {
  return (DTYPES as readonly string[]).includes(s);
}

/** float32, float64, float16 and bfloat16: the dtypes that averaging and dtype conversion apply to. */
export function isFloatingDType(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

/** The dtype that matches a TypedArray's element type. */
export function dtypeOfArray(a: AnyTypedArray): DType {
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  if (a instanceof BigInt64Array) return 'int64';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Uint16Array) return 'float16';
  throw new TensorError(`unsupported TypedArray ${(a as object).constructor.name}`);
}

function viewAs<D extends DType>(buf: ArrayBuffer, dtype: D): TypedArrayFor[D] {
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf) as TypedArrayFor[D];
    case 'float64':
      return new Float64Array(buf) as TypedArrayFor[D];
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf) as TypedArrayFor[D];
    case 'int64':
      return new BigInt64Array(buf) as TypedArrayFor[D];
    case 'int32':
      return new Int32Array(buf) as TypedArrayFor[D];
    case 'int16':
      return new Int16Array(buf) as TypedArrayFor[D];
    case 'int8':
      return new Int8Array(buf) as TypedArrayFor[D];
    default:
      return new Uint8Array(buf) as TypedArrayFor[D];
  }
}

type Operand = Tensor | number;
const raw = (o: Operand): NativeTensor | number => (typeof o === 'number' ? o : o.handle);

/**
 * An n-dimensional array on libtorch with autograd (see the file comment):
 * shape, dtype and device; math returning new tensors; `_` methods in
 * place; `backward()` and `grad`; `toArray()` to read it back. Owns native
 * memory: `dispose()` it or create it inside `tidy`. Errors from libtorch
 * (bad shapes, dtypes, devices) are TensorErrors.
 */
export class Tensor implements Disposable {
  /** The native handle; only tensor/ uses it. */
  readonly handle: NativeTensor;
  private shapeCache: number[] | undefined;

  constructor(handle: NativeTensor) {
    this.handle = handle;
    trackTensor(this);
  }

  // ---- lifetime ----

  /** Frees the native memory now. Using the tensor afterwards throws. Idempotent. */
  dispose(): void {
    this.handle.dispose();
  }

  get isDisposed(): boolean {
    return this.handle.disposed;
  }

  /** Reports the native bytes to V8 once the tensor outlives every scope (see scope.ts). */
  escapeScopes(): void {
    if (!this.handle.disposed) this.handle.reportExternal();
  }

  // ---- metadata ----

  get shape(): number[] {
    if (this.shapeCache === undefined) this.shapeCache = native.shape(this.handle);
    return this.shapeCache.slice();
  }
  get rank(): number {
    return this.shape.length;
  }
  get dtype(): DType {
    return native.dtype(this.handle) as DType;
  }
  get device(): string {
    return native.device(this.handle);
  }
  get numel(): number {
    return native.numel(this.handle);
  }
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** The accumulated gradient, or null before the first backward. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : new Tensor(g);
  }
  size(dim: number): number {
    const s = this.shape;
    const d = dim < 0 ? s.length + dim : dim;
    if (d < 0 || d >= s.length) throw new TensorError(`size(${dim}): tensor has ${s.length} dimensions`);
    return s[d];
  }
  isContiguous(): boolean {
    return native.isContiguous(this.handle);
  }
  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(', ')}], ${this.device})`;
  }

  // ---- data out ----

  /** A copy of the elements (row-major) as the dtype's TypedArray. */
  toArray<D extends DType = DType>(): TypedArrayFor[D] {
    return viewAs(native.toBuffer(this.handle), this.dtype as D);
  }
  /** The elements as plain numbers (int64 converted with Number()). */
  toNumbers(): number[] {
    const a = this.toArray();
    return a instanceof BigInt64Array ? Array.from(a, Number) : Array.from(a as ArrayLike<number>);
  }
  /** The single element of a one-element tensor. */
  item(): number {
    return native.item(this.handle);
  }

  // ---- autograd ----

  /** Marks this tensor as a leaf that accumulates gradients. Returns this. */
  requireGrad(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  backward(gradient?: Tensor, retainGraph = false): void {
    native.backward(this.handle, gradient?.handle, retainGraph);
  }
  /** Drops the accumulated gradient (like `param.grad = None`). */
  clearGrad(): void {
    native.clearGrad(this.handle);
  }
  /** A tensor sharing storage but cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(native.detach(this.handle));
  }

  // ---- conversion ----

  to(dtype?: DType | null, device?: string | null): Tensor {
    return new Tensor(native.to(this.handle, dtype, device));
  }
  /**
   * Moves or converts this tensor in place (PyTorch's `t.data = t.to(...)`):
   * the same object, now holding its values on `device` and/or as `dtype`,
   * with its requiresGrad flag kept. Its gradient, if any, is dropped.
   */
  moveTo_(dtype?: DType | null, device?: string | null): this {
    const moved = native.to(this.handle, dtype, device);
    try {
      this.clearGrad();
      native.setData(this.handle, moved);
    } finally {
      moved.dispose();
    }
    return this;
  }
  clone(): Tensor {
    return new Tensor(native.clone(this.handle));
  }
  contiguous(): Tensor {
    return new Tensor(native.contiguous(this.handle));
  }

  // ---- shape ----

  reshape(shape: number[]): Tensor {
    return new Tensor(native.reshape(this.handle, shape));
  }
  view(shape: number[]): Tensor {
    return new Tensor(native.view(this.handle, shape));
  }
  permute(dims: number[]): Tensor {
    return new Tensor(native.permute(this.handle, dims));
  }
  transpose(d0: number, d1: number): Tensor {
    return new Tensor(native.transpose(this.handle, d0, d1));
  }
  expand(shape: number[]): Tensor {
    return new Tensor(native.expand(this.handle, shape));
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return new Tensor(native.flatten(this.handle, startDim, endDim));
  }
  squeeze(dim?: number): Tensor {
    return new Tensor(native.squeeze(this.handle, dim));
  }
  unsqueeze(dim: number): Tensor {
    return new Tensor(native.unsqueeze(this.handle, dim));
  }
  /** Elements start..end-1 (step) along dim; a view. */
  slice(dim: number, start: number, end: number, step = 1): Tensor {
    return new Tensor(native.slice(this.handle, dim, start, end, step));
  }
  select(dim: number, index: number): Tensor {
    return new Tensor(native.select(this.handle, dim, index));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return new Tensor(native.indexSelect(this.handle, dim, index.handle));
  }
  gather(dim: number, index: Tensor): Tensor {
    return new Tensor(native.gather(this.handle, dim, index.handle));
  }
  maskedSelect(mask: Tensor): Tensor {
    return new Tensor(native.maskedSelect(this.handle, mask.handle));
  }

  // ---- elementwise ----

  add(other: Operand, alpha?: number): Tensor {
    return new Tensor(native.add(this.handle, raw(other), alpha));
  }
  sub(other: Operand, alpha?: number): Tensor {
    return new Tensor(native.sub(this.handle, raw(other), alpha));
  }
  mul(other: Operand): Tensor {
    return new Tensor(native.mul(this.handle, raw(other)));
  }
  div(other: Operand): Tensor {
    return new Tensor(native.div(this.handle, raw(other)));
  }
  pow(exponent: Operand): Tensor {
    return new Tensor(native.pow(this.handle, raw(exponent)));
  }
  remainder(other: Operand): Tensor {
    return new Tensor(native.remainder(this.handle, raw(other)));
  }
  neg(): Tensor {
    return new Tensor(native.neg(this.handle));
  }
  exp(): Tensor {
    return new Tensor(native.exp(this.handle));
  }
  log(): Tensor {
    return new Tensor(native.log(this.handle));
  }
  sqrt(): Tensor {
    return new Tensor(native.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return new Tensor(native.rsqrt(this.handle));
  }
  abs(): Tensor {
    return new Tensor(native.abs(this.handle));
  }
  sign(): Tensor {
    return new Tensor(native.sign(this.handle));
  }
  relu(): Tensor {
    return new Tensor(native.relu(this.handle));
  }
  sigmoid(): Tensor {
    return new Tensor(native.sigmoid(this.handle));
  }
  tanh(): Tensor {
    return new Tensor(native.tanh(this.handle));
  }
  square(): Tensor {
    return new Tensor(native.square(this.handle));
  }
  reciprocal(): Tensor {
    return new Tensor(native.reciprocal(this.handle));
  }
  floor(): Tensor {
    return new Tensor(native.floor(this.handle));
  }
  round(): Tensor {
    return new Tensor(native.round(this.handle));
  }
  clamp(min?: number | null, max?: number | null): Tensor {
    return new Tensor(native.clamp(this.handle, min, max));
  }
  maximum(other: Tensor): Tensor {
    return new Tensor(native.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return new Tensor(native.minimum(this.handle, other.handle));
  }

  // ---- comparisons and logic (bool results) ----

  eq(other: Operand): Tensor {
    return new Tensor(native.eq(this.handle, raw(other)));
  }
  ne(other: Operand): Tensor {
    return new Tensor(native.ne(this.handle, raw(other)));
  }
  lt(other: Operand): Tensor {
    return new Tensor(native.lt(this.handle, raw(other)));
  }
  le(other: Operand): Tensor {
    return new Tensor(native.le(this.handle, raw(other)));
  }
  gt(other: Operand): Tensor {
    return new Tensor(native.gt(this.handle, raw(other)));
  }
  ge(other: Operand): Tensor {
    return new Tensor(native.ge(this.handle, raw(other)));
  }
  logicalNot(): Tensor {
    return new Tensor(native.logicalNot(this.handle));
  }
  logicalAnd(other: Tensor): Tensor {
    return new Tensor(native.logicalAnd(this.handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return new Tensor(native.logicalOr(this.handle, other.handle));
  }
  isnan(): Tensor {
    return new Tensor(native.isnan(this.handle));
  }
  isfinite(): Tensor {
    return new Tensor(native.isfinite(this.handle));
  }
  /** True when both tensors have the same shape and elements. */
  equal(other: Tensor): boolean {
    return native.equal(this.handle, other.handle);
  }
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.allclose(this.handle, other.handle, rtol, atol);
  }

  // ---- reductions ----

  sum(dims?: number[], keepDim = false): Tensor {
    return new Tensor(native.sum(this.handle, dims, keepDim));
  }
  mean(dims?: number[], keepDim = false): Tensor {
    return new Tensor(native.mean(this.handle, dims, keepDim));
  }
  /** The largest element (a scalar tensor). */
  max(): Tensor {
    return new Tensor(native.max(this.handle));
  }
  /** The largest elements along dim and their indices. */
  maxDim(dim: number, keepDim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.max(this.handle, dim, keepDim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  min(): Tensor {
    return new Tensor(native.min(this.handle));
  }
  minDim(dim: number, keepDim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.min(this.handle, dim, keepDim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  argmax(dim?: number, keepDim = false): Tensor {
    return new Tensor(native.argmax(this.handle, dim, keepDim));
  }
  /** The p-norm over dims (all elements when omitted). */
  norm(p = 2, dims?: number[], keepDim = false): Tensor {
    return new Tensor(native.norm(this.handle, p, dims, keepDim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this.handle, k, dim, largest, sorted);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  /** The k-th smallest element along dim (k is 1-based, like PyTorch). */
  kthvalue(k: number, dim = -1, keepDim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.kthvalue(this.handle, k, dim, keepDim);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.sort(this.handle, dim, descending);
    return { values: new Tensor(v), indices: new Tensor(i) };
  }
  countNonzero(): number {
    const c = native.countNonzero(this.handle);
    try {
      return native.item(c);
    } finally {
      c.dispose();
    }
  }

  // ---- linear algebra ----

  matmul(other: Tensor): Tensor {
    return new Tensor(native.matmul(this.handle, other.handle));
  }

  // ---- in place (not recorded by autograd) ----

  add_(other: Operand, alpha?: number): this {
    native.add_(this.handle, raw(other), alpha);
    return this;
  }
  mul_(other: Operand): this {
    native.mul_(this.handle, raw(other));
    return this;
  }
  div_(other: Operand): this {
    native.div_(this.handle, raw(other));
    return this;
  }
  copy_(source: Tensor): this {
    native.copy_(this.handle, source.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.handle);
    return this;
  }
  fill_(value: number | boolean): this {
    native.fill_(this.handle, value);
    return this;
  }
  maskedFill_(mask: Tensor, value: number): this {
    native.maskedFill_(this.handle, mask.handle, value);
    return this;
  }
  clamp_(min?: number | null, max?: number | null): this {
    native.clamp_(this.handle, min, max);
    return this;
  }
  /** Fills with samples from U(low, high), from `generator` or the global one. */
  uniform_(low: number, high: number, generator?: Generator): this {
    native.uniform_(this.handle, low, high, generator?.handle);
    return this;
  }
  normal_(mean: number, std: number, generator?: Generator): this {
    native.normal_(this.handle, mean, std, generator?.handle);
    return this;
  }
}

/** A seeded libtorch random generator, for draws that must not depend on the global seed. */
export class Generator {
  readonly handle: ReturnType<typeof native.createGenerator>;
  constructor(readonly seed: number) {
    this.handle = native.createGenerator(seed);
  }
}
