/**
 * The compact sparse format for exported models: an ordinary safetensors
 * file whose metadata says how to rebuild the dense state dict. Each float32
 * tensor is stored in whichever of four storages is smallest for it; other
 * tensors (e.g. BN's int64 `num_batches_tracked`) are stored as they are.
 *
 * | storage   | file entries (v2)                               | bytes (n elements, k non-zero) |
 * | --------- | ----------------------------------------------- | ------------------------------ |
 * | `dense`   | in `:dense:<dtype>`, every dense tensor of that dtype concatenated in layout order | 4n |
 * | `packed`  | in `:packed` (U8), the three bit streams of every packed tensor in layout order (packed-storage.ts) | ≈ k·(low_bits + high_bits + gap bits) / 8 |
 * | `bitmask` | `<name>:values` F32 [k], `<name>:mask` U8 [⌈n/8⌉] | 4k + ⌈n/8⌉                   |
 * | `indices` | `<name>:values` F32 [k], `<name>:indices` I32 [k] | 8k                           |
 *
 * Versions (the `format` metadata key, sparse-layout.ts):
 * `sparse-soups-sparse-v1` has dense (an entry `<name>` each), bitmask and
 * indices, and a layout of objects; `sparse-soups-sparse-v2` (written now)
 * groups the dense tensors, adds `packed`, and writes the layout as rows.
 * Both are read; any other `sparse-soups-sparse-*` version is refused, not
 * mistaken for a dense file.
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
 *   ties prefer dense, then bitmask, indices, packed.
 *
 * The metadata key `layout` is a JSON array, in state-dict order, of rows
 * `[name, storage, dtype, shape, nonzero]` (a `packed` row adds
 * `gap_bits, gap_codes, high, high_bits, low_bits`); `format` and
 * `bit_order` name the format. Entries lie in the file by element size, largest first,
 * so each is aligned. See docs/export.md for a numpy reader.
 *
 * @example
 * const { tensors, metadata } = encodeSparseStateDict(state); // state: Map<string, SafeTensor>
 * await saveSafetensors('model.sparse.safetensors', tensors, { ...metadata, model: 'convnet' });
 * const loaded = await loadSafetensors('model.sparse.safetensors');
 * decodeSparseStateDict(loaded.tensors, loaded.metadata, 'model.sparse.safetensors'); // the dense state dict
 */
import { dtypeByteSize, typedArrayView, type SafeDType, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { DataFormatError } from '../util/errors.js';
import { decodePacked, encodePacked, packedDataBytes, planPacked, streamBytes, type PackedPlan } from './packed-storage.js';
import {
  encodeLayout,
  readSparseLayout,
  SPARSE_FORMAT,
  SPARSE_FORMAT_V1,
  type SparseLayoutEntry,
  type SparseStorage,
  type StoragePolicy,
} from './sparse-layout.js';

export {
  encodeLayout,
  isSparseFormat,
  readSparseLayout,
  SPARSE_FORMAT,
  SPARSE_FORMAT_V1,
  SPARSE_STORAGES,
  type SparseLayoutEntry,
  type SparseStorage,
  type StoragePolicy,
} from './sparse-layout.js';

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
const SUFFIXES = [VALUES, MASK, INDICES];
/** v2: the entry holding every tensor of one dtype stored `dense`, concatenated in layout order. */
export const denseGroupName = (dtype: SafeDType): string => `:dense:${dtype}`;
/** v2: the U8 entry holding the streams of every `packed` tensor, one after the other in layout order. */
export const PACKED_ENTRY = ':packed';
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

/** Bytes a data-independent storage (dense, bitmask, indices) costs for a float32 tensor of n elements, k non-zero: data plus header entries. */
export function storageBytes(storage: Exclude<SparseStorage, 'packed'>, name: string, numel: number, nonzero: number): number {
  switch (storage) {
    case 'dense':
      return 4 * numel; // v2: in the dense group, no header entry of its own
    case 'bitmask':
      return 4 * nonzero + Math.ceil(numel / 8) + headerEntryBytes(name + VALUES) + headerEntryBytes(name + MASK);
    case 'indices':
      return 8 * nonzero + headerEntryBytes(name + VALUES) + headerEntryBytes(name + INDICES);
  }
}

const DATA_INDEPENDENT = ['dense', 'bitmask', 'indices'] as const;

/** The smallest of the storages whose size depends on the counts only: dense, bitmask, indices (ties in that order). */
export function chooseStorage(name: string, numel: number, nonzero: number): Exclude<SparseStorage, 'packed'> {
  let best: Exclude<SparseStorage, 'packed'> = 'dense';
  for (const storage of DATA_INDEPENDENT) {
    if (storageBytes(storage, name, numel, nonzero) < storageBytes(best, name, numel, nonzero)) best = storage;
  }
  return best;
}

/** Bytes of the packed storage: its streams and its layout fields (no header entry: it lies in the shared packed entry). */
function packedBytes(plan: PackedPlan): number {
  return packedDataBytes(plan) + JSON.stringify([plan.gapBits, plan.gapCodes, plan.high, plan.highBits, plan.lowBits]).length;
}

/** The byte lengths of the three streams of a packed entry (gaps, high, low), in that order in `<name>:packed`. */
function packedStreamBytes(p: PackedPlan): [gaps: number, high: number, low: number] {
  return [streamBytes(p.gapCodes, p.gapBits), streamBytes(p.nonzero, p.highBits), streamBytes(p.nonzero, p.lowBits)];
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
    for (const suffix of SUFFIXES) {
      if (state.has(name + suffix))
        throw new DataFormatError('sparse export', `state-dict names "${name}" and "${name + suffix}" would collide in the sparse layout`);
    }
    if (name.startsWith(':')) throw new DataFormatError('sparse export', `state-dict name "${name}": names starting with ':' are reserved`);
  }
  const groups = new Map<SafeDType, SafeTensor[]>(); // tensors stored dense, by dtype
  const packedChunks: Uint8Array[] = [];
  for (const [name, t] of state) {
    const nonzero = countNonzero(t);
    const numel = numelOf(t.shape);
    let storage: SparseStorage = t.dtype !== 'F32' ? 'dense' : policy === 'auto' ? chooseStorage(name, numel, nonzero) : policy;
    const plan = t.dtype === 'F32' && (policy === 'auto' || policy === 'packed') ? planPacked(bitsOf(t.data)) : null;
    if (plan && policy === 'auto' && storage !== 'packed' && packedBytes(plan) < storageBytes(storage, name, numel, nonzero)) {
      storage = 'packed';
    }
    const entry: SparseLayoutEntry = { name, storage, dtype: t.dtype, shape: [...t.shape], nonzero };
    layout.push(entry);
    if (storage === 'dense') {
      const data = t.data.slice() as typeof t.data;
      if (t.dtype === 'F32') canonicalizeZeros(data as Float32Array);
      if (!groups.has(t.dtype)) groups.set(t.dtype, []);
      groups.get(t.dtype)!.push({ ...t, data } as SafeTensor);
      continue;
    }
    if (storage === 'packed') {
      Object.assign(entry, {
        gap_bits: plan!.gapBits,
        gap_codes: plan!.gapCodes,
        high: plan!.high,
        high_bits: plan!.highBits,
        low_bits: plan!.lowBits,
      });
      const streams = encodePacked(bitsOf(t.data as Float32Array), plan!);
      packedChunks.push(streams.gaps, streams.high, streams.low);
      continue;
    }
    const bits = bitsOf(t.data as Float32Array);
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
  for (const [dtype, members] of groups) put(denseGroupName(dtype), concatenate(dtype, members));
  if (packedChunks.length > 0) {
    const packed = concatenate(
      'U8',
      packedChunks.map((data) => ({ dtype: 'U8', shape: [data.length], data })),
    );
    put(PACKED_ENTRY, packed);
  }
  const metadata: SafeMetadata = { format: SPARSE_FORMAT, bit_order: 'msb', layout: encodeLayout(layout) };
  return { tensors: alignedOrder(tensors), metadata, layout };
}

/** One 1-D tensor of the elements of `members` (all of `dtype`), in order. */
function concatenate(dtype: SafeDType, members: SafeTensor[]): SafeTensor {
  const bytes = new Uint8Array(members.reduce((n, t) => n + t.data.byteLength, 0));
  let at = 0;
  for (const t of members) {
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  const numel = bytes.byteLength / dtypeByteSize(dtype);
  return { dtype, shape: [numel], data: typedArrayView(dtype, bytes.buffer, 0, numel) } as SafeTensor;
}

/**
 * Entries by element size, largest first (stable), as the reference writer
 * orders them: every tensor then starts at a multiple of its element size,
 * so readers can view it in place instead of copying (odd-length masks last).
 */
function alignedOrder(tensors: Map<string, SafeTensor>): Map<string, SafeTensor> {
  return new Map([...tensors].sort(([, a], [, b]) => dtypeByteSize(b.dtype) - dtypeByteSize(a.dtype)));
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
  const grouped = metadata.format !== SPARSE_FORMAT_V1; // v2 keeps dense tensors in one entry per dtype
  const groupCursor = new Map<SafeDType, number>();
  let packedCursor = 0;
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
    /** A dense tensor's elements in its dtype's group, which follow the previous dense tensors of that dtype. */
    const fromDenseGroup = (e: SparseLayoutEntry): SafeTensor => {
      const groupName = denseGroupName(e.dtype);
      const group = tensors.get(groupName);
      if (group === undefined) return fail(`the file has no entry "${groupName}"`);
      if (group.dtype !== e.dtype || group.shape.length !== 1)
        fail(`entry "${groupName}" is ${group.dtype} ${fmtShape(group.shape)}, expected a 1-D ${e.dtype} list`);
      used.add(groupName);
      const begin = groupCursor.get(e.dtype) ?? 0;
      const end = begin + numelOf(e.shape);
      if (end > group.data.length)
        fail(`needs elements ${begin}..${end - 1} of "${groupName}", which has ${group.data.length}: truncated, or another layout`);
      groupCursor.set(e.dtype, end);
      return { dtype: e.dtype, shape: [...e.shape], data: group.data.subarray(begin, end) } as SafeTensor;
    };
    if (entry.storage === 'dense') {
      const t = grouped ? fromDenseGroup(entry) : take(entry.name, entry.dtype, entry.shape);
      const nonzero = countNonzero(t);
      if (entry.dtype === 'F32' && nonzero !== entry.nonzero) fail(`has ${nonzero} non-zero values, the layout says ${entry.nonzero}`);
      out.set(entry.name, t);
      continue;
    }
    const numel = numelOf(entry.shape);
    if (entry.storage === 'packed') {
      const plan: PackedPlan = {
        gapBits: entry.gap_bits!,
        gapCodes: entry.gap_codes!,
        high: entry.high!,
        highBits: entry.high_bits!,
        lowBits: entry.low_bits!,
        nonzero: entry.nonzero,
      };
      const [gapBytes, highBytes, lowBytes] = packedStreamBytes(plan);
      const packed = tensors.get(PACKED_ENTRY);
      if (packed === undefined || packed.dtype !== 'U8' || packed.shape.length !== 1)
        fail(
          `the file has no 1-D U8 entry "${PACKED_ENTRY}" (${packed === undefined ? 'missing' : `${packed.dtype} ${fmtShape(packed.shape)}`})`,
        );
      used.add(PACKED_ENTRY);
      const begin = packedCursor;
      packedCursor += gapBytes + highBytes + lowBytes;
      if (packedCursor > packed!.data.length)
        fail(
          `needs bytes ${begin}..${packedCursor - 1} of "${PACKED_ENTRY}", which has ${packed!.data.length}: truncated, or another layout`,
        );
      const bytes = (packed!.data as Uint8Array).subarray(begin, packedCursor);
      const streams = {
        gaps: bytes.subarray(0, gapBytes),
        high: bytes.subarray(gapBytes, gapBytes + highBytes),
        low: bytes.subarray(gapBytes + highBytes),
      };
      const bits = decodePacked(streams, plan, numel, fail);
      out.set(entry.name, { dtype: 'F32', shape: [...entry.shape], data: new Float32Array(bits.buffer) });
      continue;
    }
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
  const packedEntry = tensors.get(PACKED_ENTRY);
  if (grouped && packedEntry !== undefined && packedEntry.data.length !== packedCursor)
    throw new DataFormatError(
      file,
      `entry "${PACKED_ENTRY}" holds ${packedEntry.data.length} bytes, the layout's packed tensors ${packedCursor}`,
    );
  for (const [dtype, end] of groupCursor) {
    const length = tensors.get(denseGroupName(dtype))!.data.length;
    if (end !== length)
      throw new DataFormatError(
        file,
        `entry "${denseGroupName(dtype)}" holds ${length} elements, the layout's dense ${dtype} tensors ${end}`,
      );
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
