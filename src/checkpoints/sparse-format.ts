/**
 * The compact sparse format for exported models (`sparse-soups-sparse-v1`):
 * an ordinary safetensors file whose metadata says how to rebuild the dense
 * state dict. Each float32 tensor is stored in whichever of three layouts is
 * smallest for it; other tensors (e.g. BN's int64 `num_batches_tracked`) are
 * stored as they are.
 *
 * | storage   | file entries                                    | bytes (n elements, k non-zero) |
 * | --------- | ----------------------------------------------- | ------------------------------ |
 * | `dense`   | `<name>`          dtype, shape as in the model  | 4n                             |
 * | `bitmask` | `<name>:values` F32 [k], `<name>:mask` U8 [⌈n/8⌉] | 4k + ⌈n/8⌉                   |
 * | `indices` | `<name>:values` F32 [k], `<name>:indices` I32 [k] | 8k                           |
 *
 * - `mask` bits are packed most significant bit first (`bit_order: msb`,
 *   like `numpy.packbits` and the mask files): element i of the row-major
 *   flattened tensor is bit `7 - i % 8` of byte `⌊i / 8⌋`; padding bits in
 *   the last byte are 0. `values` are the non-zero elements in row-major
 *   order, one per set bit.
 * - `indices` are the row-major flat positions of the non-zero elements,
 *   strictly increasing, one per value.
 * - A zero is +0.0 or -0.0. Zeros are not stored, and come back as +0.0:
 *   masking a negative weight (w · 0) leaves -0.0, and keeping that sign
 *   would cost a bit per pruned weight for no effect on any prediction. The
 *   exporter writes +0.0 in the dense format too, so both formats hold the
 *   same bits. Every other value (NaN payloads included) is kept bit-exact.
 * - The choice per tensor minimizes its data bytes plus its header entries;
 *   ties prefer dense, then bitmask.
 *
 * The metadata key `layout` is a JSON array, in state-dict order, of
 * `{ name, storage, dtype, shape, nonzero }`; `format` and `bit_order` name
 * the format. Entries lie in the file by element size, largest first, so
 * each is aligned. See docs/export.md for a numpy reader.
 *
 * @example
 * const { tensors, metadata } = encodeSparseStateDict(state); // state: Map<string, SafeTensor>
 * await saveSafetensors('model.sparse.safetensors', tensors, { ...metadata, model: 'convnet' });
 * const loaded = await loadSafetensors('model.sparse.safetensors');
 * decodeSparseStateDict(loaded.tensors, loaded.metadata, 'model.sparse.safetensors'); // the dense state dict
 */
import { dtypeByteSize, SAFE_DTYPES, type SafeDType, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { DataFormatError } from '../util/errors.js';

/** Value of the `format` metadata key of sparse model files. */
export const SPARSE_FORMAT = 'sparse-soups-sparse-v1';
export const SPARSE_STORAGES = ['dense', 'bitmask', 'indices'] as const;
export type SparseStorage = (typeof SPARSE_STORAGES)[number];
/** `auto` picks the smallest storage per tensor; a storage name forces it for every float32 tensor. */
export type StoragePolicy = 'auto' | SparseStorage;

/** How one tensor of the state dict is stored. */
export interface SparseLayoutEntry {
  name: string;
  storage: SparseStorage;
  /** The tensor's dtype in the model (F32 for every sparse storage). */
  dtype: SafeDType;
  shape: number[];
  /** Elements that are not zero. */
  nonzero: number;
}

export interface SparseEncoding {
  /** The entries to write, in state-dict order. */
  tensors: Map<string, SafeTensor>;
  /** `format`, `bit_order` and `layout`; add the model's own keys beside them. */
  metadata: SafeMetadata;
  layout: SparseLayoutEntry[];
}

const VALUES = ':values';
const MASK = ':mask';
const INDICES = ':indices';
const SIGN_OFF = 0x7fffffff;

const numelOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
const fmtShape = (shape: readonly number[]): string => `[${shape.join(', ')}]`;

/** The raw 32-bit patterns of a float32 array (a view, not a copy). */
function bitsOf(data: Float32Array): Uint32Array {
  return new Uint32Array(data.buffer, data.byteOffset, data.length);
}

/** Elements that are not zero (+0.0 and -0.0 are zero; NaN is not). */
export function countNonzero(t: SafeTensor): number {
  let count = 0;
  if (t.dtype === 'F32') {
    const bits = bitsOf(t.data);
    for (let i = 0; i < bits.length; i++) if ((bits[i] & SIGN_OFF) !== 0) count++;
  } else if (t.dtype === 'I64') {
    for (const v of t.data) if (v !== 0n) count++;
  } else {
    for (const v of t.data) if (v !== 0) count++; // F16/BF16 bit patterns: -0.0 counts as non-zero here, harmless
  }
  return count;
}

/** Rewrites every -0.0 of a float32 array as +0.0, in place. */
export function canonicalizeZeros(data: Float32Array): void {
  const bits = bitsOf(data);
  for (let i = 0; i < bits.length; i++) if (bits[i] === 0x80000000) bits[i] = 0;
}

/** Approximate header bytes of one entry: `"name":{"dtype":"F32","shape":[k],"data_offsets":[a,b]},`. */
function headerEntryBytes(entryName: string): number {
  return JSON.stringify(entryName).length + 64;
}

/** Bytes a storage costs for a float32 tensor of n elements, k non-zero: data plus header entries. */
export function storageBytes(storage: SparseStorage, name: string, numel: number, nonzero: number): number {
  switch (storage) {
    case 'dense':
      return 4 * numel + headerEntryBytes(name);
    case 'bitmask':
      return 4 * nonzero + Math.ceil(numel / 8) + headerEntryBytes(name + VALUES) + headerEntryBytes(name + MASK);
    case 'indices':
      return 8 * nonzero + headerEntryBytes(name + VALUES) + headerEntryBytes(name + INDICES);
  }
}

/** The smallest storage for a float32 tensor (ties: dense, then bitmask). */
export function chooseStorage(name: string, numel: number, nonzero: number): SparseStorage {
  let best: SparseStorage = 'dense';
  for (const storage of SPARSE_STORAGES) {
    if (storageBytes(storage, name, numel, nonzero) < storageBytes(best, name, numel, nonzero)) best = storage;
  }
  return best;
}

/**
 * Encodes a state dict in the sparse format. Float32 tensors are stored by
 * `policy` (default: the smallest per tensor), everything else densely.
 */
export function encodeSparseStateDict(state: ReadonlyMap<string, SafeTensor>, policy: StoragePolicy = 'auto'): SparseEncoding {
  const tensors = new Map<string, SafeTensor>();
  const layout: SparseLayoutEntry[] = [];
  const put = (name: string, t: SafeTensor): void => {
    if (tensors.has(name)) throw new DataFormatError('sparse export', `entry name "${name}" is used twice`);
    tensors.set(name, t);
  };
  for (const name of state.keys()) {
    for (const suffix of [VALUES, MASK, INDICES]) {
      if (state.has(name + suffix))
        throw new DataFormatError('sparse export', `state-dict names "${name}" and "${name + suffix}" would collide in the sparse layout`);
    }
  }
  for (const [name, t] of state) {
    const nonzero = countNonzero(t);
    const numel = numelOf(t.shape);
    const storage: SparseStorage = t.dtype !== 'F32' ? 'dense' : policy === 'auto' ? chooseStorage(name, numel, nonzero) : policy;
    layout.push({ name, storage, dtype: t.dtype, shape: [...t.shape], nonzero });
    if (t.dtype !== 'F32') {
      put(name, t);
      continue;
    }
    if (storage === 'dense') {
      const data = t.data.slice();
      canonicalizeZeros(data);
      put(name, { dtype: 'F32', shape: [...t.shape], data });
      continue;
    }
    const bits = bitsOf(t.data);
    const values = new Uint32Array(nonzero);
    const positions = storage === 'indices' ? new Int32Array(nonzero) : null;
    const mask = storage === 'bitmask' ? new Uint8Array(Math.ceil(numel / 8)) : null;
    for (let i = 0, k = 0; i < numel; i++) {
      if ((bits[i] & SIGN_OFF) === 0) continue;
      values[k] = bits[i];
      if (positions) positions[k] = i;
      if (mask) mask[i >> 3] |= 0x80 >> (i & 7);
      k++;
    }
    put(name + VALUES, { dtype: 'F32', shape: [nonzero], data: new Float32Array(values.buffer) });
    if (mask) put(name + MASK, { dtype: 'U8', shape: [mask.length], data: mask });
    if (positions) put(name + INDICES, { dtype: 'I32', shape: [nonzero], data: positions });
  }
  const metadata: SafeMetadata = { format: SPARSE_FORMAT, bit_order: 'msb', layout: JSON.stringify(layout) };
  return { tensors: alignedOrder(tensors), metadata, layout };
}

/**
 * Entries by element size, largest first (stable), as the reference writer
 * orders them: every tensor then starts at a multiple of its element size,
 * so readers can view it in place instead of copying (odd-length masks last).
 */
function alignedOrder(tensors: Map<string, SafeTensor>): Map<string, SafeTensor> {
  return new Map([...tensors].sort(([, a], [, b]) => dtypeByteSize(b.dtype) - dtypeByteSize(a.dtype)));
}

/** Whether a file's metadata says it is in the sparse format. */
export function isSparseFormat(metadata: SafeMetadata): boolean {
  return metadata.format === SPARSE_FORMAT;
}

/** The layout recorded in a sparse file's metadata, validated. Errors name `file`. */
export function readSparseLayout(metadata: SafeMetadata, file: string): SparseLayoutEntry[] {
  if (!isSparseFormat(metadata))
    throw new DataFormatError(file, `metadata format is '${metadata.format ?? '(none)'}', not '${SPARSE_FORMAT}'`);
  if (metadata.bit_order !== 'msb')
    throw new DataFormatError(file, `metadata bit_order is '${metadata.bit_order ?? '(none)'}'; this reader knows 'msb'`);
  let raw: unknown;
  try {
    raw = JSON.parse(metadata.layout ?? '');
  } catch {
    throw new DataFormatError(file, "metadata 'layout' is missing or not JSON");
  }
  if (!Array.isArray(raw))
    throw new DataFormatError(file, "metadata 'layout' must be a JSON array of {name, storage, dtype, shape, nonzero}");
  const seen = new Set<string>();
  return raw.map((entry: unknown, i): SparseLayoutEntry => {
    const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<string, unknown>;
    const where = `layout[${i}]${typeof e.name === 'string' ? ` ("${e.name}")` : ''}`;
    const fail = (problem: string): never => {
      throw new DataFormatError(file, `${where}: ${problem}`);
    };
    if (typeof e.name !== 'string' || e.name === '') fail('name must be a non-empty string');
    const name = e.name as string;
    if (seen.has(name)) fail('the name appears twice');
    seen.add(name);
    if (!(SPARSE_STORAGES as readonly unknown[]).includes(e.storage))
      fail(`storage must be one of ${SPARSE_STORAGES.join(', ')}, got ${JSON.stringify(e.storage)}`);
    if (!(SAFE_DTYPES as readonly unknown[]).includes(e.dtype)) fail(`unknown dtype ${JSON.stringify(e.dtype)}`);
    if (e.storage !== 'dense' && e.dtype !== 'F32') fail(`storage ${String(e.storage)} needs dtype F32, got ${String(e.dtype)}`);
    const shape = e.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isSafeInteger(d) && d >= 0) ||
      !Number.isSafeInteger(numelOf(shape as number[]))
    ) {
      fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const numel = numelOf(shape as number[]);
    if (!Number.isSafeInteger(e.nonzero) || (e.nonzero as number) < 0 || (e.nonzero as number) > numel) {
      fail(`nonzero must be an integer in 0..${numel}, got ${JSON.stringify(e.nonzero)}`);
    }
    if (e.storage === 'indices' && numel > 2 ** 31) fail(`${numel} elements do not fit int32 indices`);
    return {
      name,
      storage: e.storage as SparseStorage,
      dtype: e.dtype as SafeDType,
      shape: [...(shape as number[])],
      nonzero: e.nonzero as number,
    };
  });
}

/**
 * Rebuilds the dense state dict of a sparse file (tensors in layout order).
 * Throws DataFormatError, naming `file` and the tensor, for a missing or
 * unexpected entry, a wrong dtype or shape, values whose count differs from
 * the mask's popcount or the index count, non-zero padding bits, or indices
 * out of range or not increasing.
 */
export function decodeSparseStateDict(
  tensors: ReadonlyMap<string, SafeTensor>,
  metadata: SafeMetadata,
  file: string,
): Map<string, SafeTensor> {
  const layout = readSparseLayout(metadata, file);
  const used = new Set<string>();
  const out = new Map<string, SafeTensor>();
  for (const entry of layout) {
    const fail = (problem: string): never => {
      throw new DataFormatError(file, `tensor "${entry.name}" (${entry.storage}): ${problem}`);
    };
    const take = (entryName: string, dtype: SafeDType, shape: number[]): SafeTensor => {
      const t = tensors.get(entryName);
      if (t === undefined) return fail(`the file has no entry "${entryName}"`);
      if (t.dtype !== dtype || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        fail(`entry "${entryName}" is ${t.dtype} ${fmtShape(t.shape)}, the layout needs ${dtype} ${fmtShape(shape)}`);
      }
      used.add(entryName);
      return t;
    };
    if (entry.storage === 'dense') {
      const t = take(entry.name, entry.dtype, entry.shape);
      const nonzero = countNonzero(t);
      if (entry.dtype === 'F32' && nonzero !== entry.nonzero) fail(`has ${nonzero} non-zero values, the layout says ${entry.nonzero}`);
      out.set(entry.name, t);
      continue;
    }
    const numel = numelOf(entry.shape);
    const valuesEntry = tensors.get(entry.name + VALUES);
    if (valuesEntry === undefined) fail(`the file has no entry "${entry.name + VALUES}"`);
    if (valuesEntry!.dtype !== 'F32' || valuesEntry!.shape.length !== 1) {
      fail(`entry "${entry.name + VALUES}" is ${valuesEntry!.dtype} ${fmtShape(valuesEntry!.shape)}, expected a 1-D F32 list`);
    }
    used.add(entry.name + VALUES);
    const values = bitsOf(valuesEntry!.data as Float32Array);
    if (values.length !== entry.nonzero) fail(`has ${values.length} values, the layout says ${entry.nonzero} non-zero`);
    const zero = values.findIndex((v) => (v & SIGN_OFF) === 0);
    if (zero >= 0) fail(`value ${zero} is zero; zeros are not stored`);
    const bits = new Uint32Array(numel); // +0.0 everywhere a value is absent
    if (entry.storage === 'bitmask') {
      const mask = take(entry.name + MASK, 'U8', [Math.ceil(numel / 8)]).data as Uint8Array;
      const popcount = countSetBits(mask);
      if (numel % 8 !== 0 && (mask[mask.length - 1] & (0xff >> (numel % 8))) !== 0)
        fail(`padding bits after the ${numel} mask bits are not zero`);
      if (popcount !== values.length) fail(`the bitmask has ${popcount} bits set but there are ${values.length} values`);
      for (let i = 0, k = 0; i < numel; i++) if (mask[i >> 3] & (0x80 >> (i & 7))) bits[i] = values[k++];
    } else {
      const indices = take(entry.name + INDICES, 'I32', [values.length]).data as Int32Array;
      for (let k = 0; k < indices.length; k++) {
        const i = indices[k];
        if (i < 0 || i >= numel) fail(`index ${i} (entry ${k}) is outside 0..${numel - 1}`);
        if (k > 0 && i <= indices[k - 1]) fail(`indices must be strictly increasing; entry ${k} is ${i} after ${indices[k - 1]}`);
        bits[i] = values[k];
      }
    }
    out.set(entry.name, { dtype: 'F32', shape: [...entry.shape], data: new Float32Array(bits.buffer) });
  }
  const unexpected = [...tensors.keys()].filter((name) => !used.has(name));
  if (unexpected.length > 0) {
    throw new DataFormatError(
      file,
      `entries ${unexpected
        .slice(0, 8)
        .map((n) => `"${n}"`)
        .join(', ')}${unexpected.length > 8 ? ` and ${unexpected.length - 8} more` : ''} are not in the layout`,
    );
  }
  return out;
}

function countSetBits(bytes: Uint8Array): number {
  let count = 0;
  for (let i = 0; i < bytes.length; i++) {
    let b = bytes[i];
    while (b) {
      b &= b - 1;
      count++;
    }
  }
  return count;
}
