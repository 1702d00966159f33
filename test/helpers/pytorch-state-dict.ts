/**
 * State dicts as PyTorch users save them, built in TypeScript: a zoo
 * model's names and shapes, floating tensors in float16, bfloat16, float64
 * or float32, and the variations of older or wrapped models (no
 * `num_batches_tracked`, scalars stored as [1], the `module.` prefix of
 * nn.DataParallel). Tensors are laid out as safetensors' reference writer
 * lays them out (largest dtype first, then by name).
 *
 * Half-precision values are exactly representable (k/128, |k| ≤ 256; powers
 * of two for the positive running variances), so the
 * float32 values a load must give are known without converting anything;
 * float64 values are not, and must load rounded to nearest as float32
 * (`Float32Array.from`, like C's cast and PyTorch's `copy_`).
 *
 * @example
 * const { tensors, expected } = pytorchStyleStateDict(model, { dtype: 'BF16', withoutBatchCounts: true });
 * await saveSafetensors(path, tensors, { format: 'pt' });
 */
import type { SafeTensor } from '../../src/io/safetensors.js';
import type { Module } from '../../src/nn/index.js';

export type FloatSafeDType = 'F16' | 'BF16' | 'F64' | 'F32';

export interface PytorchStyleOptions {
  /** The dtype of every floating tensor. */
  dtype: FloatSafeDType;
  /** Leave out every `num_batches_tracked` (state dicts of old PyTorch, filtered dicts). */
  withoutBatchCounts?: boolean;
  /** Store the scalar `num_batches_tracked` with shape [1] (PyTorch 0.3, some converters). */
  scalarsAsVectors?: boolean;
  /** Put this before every name (`module.`: a model wrapped in nn.DataParallel). */
  prefix?: string;
  /** The value of every `num_batches_tracked` (default 3). */
  batchCount?: bigint;
}

export interface PytorchStyleStateDict {
  /** By name as stored, in the reference writer's order. */
  tensors: Map<string, SafeTensor>;
  /** What the model must hold after loading, by the model's names (floating: float32; counts: int64). */
  expected: Map<string, Float32Array | BigInt64Array>;
}

/** IEEE half bits of a value that float16 represents exactly (zeros, normals, subnormals, ±Infinity); throws otherwise. */
export function halfBits(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (a === 0) return sign;
  if (a === Infinity) return sign | 0x7c00;
  const exponent = Math.max(Math.floor(Math.log2(a)), -14); // below 2^-14 the exponent field is 0: subnormal
  const mantissa = exponent === -14 && a < 2 ** -14 ? a / 2 ** -24 : (a / 2 ** exponent - 1) * 1024;
  if (!Number.isInteger(mantissa) || exponent > 15) throw new Error(`${x} is not exactly a float16`);
  return sign | (a < 2 ** -14 ? 0 : (exponent + 15) << 10) | mantissa;
}

/** bfloat16 bits of a value that bfloat16 represents exactly (the upper half of its float32); throws otherwise. */
export function bfloat16Bits(x: number): number {
  const bits = new Uint32Array(new Float32Array([x]).buffer)[0];
  if ((bits & 0xffff) !== 0 || Math.fround(x) !== x) throw new Error(`${x} is not exactly a bfloat16`);
  return bits >>> 16;
}

/** `count` values k/128 (|k| ≤ 256), exact in float16, bfloat16 and float32, different for each `salt`. */
export function halfExactValues(count: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => ((((i + salt) * 37) % 513) - 256) / 128);
}

/** `count` powers of two 2^-3..2^3: positive variances, exact in every float format. */
export function powersOfTwo(count: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => 2 ** (((i + salt) % 7) - 3));
}

/** `count` values that float32 does not represent exactly (they must load rounded). */
export function float64Values(count: number, salt: number): number[] {
  return Array.from({ length: count }, (_, i) => Math.sin(i + salt) / 3);
}

const BYTES: Record<SafeTensor['dtype'], number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** `model`'s state dict as a PyTorch user would have saved it (see the file comment). */
export function pytorchStyleStateDict(model: Module, opts: PytorchStyleOptions): PytorchStyleStateDict {
  const entries: [string, SafeTensor][] = [];
  const expected = new Map<string, Float32Array | BigInt64Array>();
  let salt = 0;
  for (const [name, t] of model.stateDict()) {
    if (t.dtype === 'int64') {
      if (opts.withoutBatchCounts) continue;
      const count = opts.batchCount ?? 3n;
      entries.push([name, { dtype: 'I64', shape: opts.scalarsAsVectors ? [1] : t.shape, data: new BigInt64Array([count]) }]);
      expected.set(name, new BigInt64Array([count]));
      continue;
    }
    salt++;
    const values = name.endsWith('running_var')
      ? powersOfTwo(t.numel, salt) // a variance is positive: the model must run
      : opts.dtype === 'F64'
        ? float64Values(t.numel, salt)
        : halfExactValues(t.numel, salt);
    entries.push([name, floatTensor(opts.dtype, t.shape, values)]);
    expected.set(name, Float32Array.from(values));
  }
  entries.sort(([a, x], [b, y]) => BYTES[y.dtype] - BYTES[x.dtype] || (a < b ? -1 : a > b ? 1 : 0));
  const prefix = opts.prefix ?? '';
  return { tensors: new Map(entries.map(([name, s]) => [prefix + name, s])), expected };
}

function floatTensor(dtype: FloatSafeDType, shape: number[], values: number[]): SafeTensor {
  switch (dtype) {
    case 'F16':
      return { dtype, shape, data: Uint16Array.from(values, halfBits) };
    case 'BF16':
      return { dtype, shape, data: Uint16Array.from(values, bfloat16Bits) };
    case 'F64':
      return { dtype, shape, data: Float64Array.from(values) };
    case 'F32':
      return { dtype, shape, data: Float32Array.from(values) };
  }
}
