/**
 * The compact sparse format for exported models: an ordinary safetensors
 * file whose metadata says how to rebuild the dense state dict. Each float32
 * tensor is stored in whichever of four storages is smallest for it; other
 * tensors (e.g. BN's int64 `num_batches_tracked`) are stored as they are.
 *
 * | storage   | file entries                                    | bytes (n elements, k non-zero) |
 * | --------- | ----------------------------------------------- | ------------------------------ |
 * | `dense`   | `<name>`          dtype, shape as in the model  | 4n                             |
 * | `bitmask` | `<name>:values` F32 [k], `<name>:mask` U8 [⌈n/8⌉] | 4k + ⌈n/8⌉                   |
 * | `indices` | `<name>:values` F32 [k], `<name>:indices` I32 [k] | 8k                           |
 * | `packed`  | `<name>:gaps`, `<name>:high`, `<name>:low` U8 bit streams (packed-storage.ts) | ≈ k·(23 + high_bits + gap cost) / 8 |
 *
 * Versions (the `format` metadata key): `sparse-soups-sparse-v1` has the
 * first three storages; `sparse-soups-sparse-v2` (written now) adds
 * `packed`. Both are read; any other `sparse-soups-sparse-*` version is
 * refused, not mistaken for a dense file.
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
 * The metadata key `layout` is a JSON array, in state-dict order, of
 * `{ name, storage, dtype, shape, nonzero }` (a `packed` entry adds
 * `gap_bits`, `gap_codes`, `high`, `high_bits`, `low_bits`); `format` and `bit_order`
 * name the format. Entries lie in the file by element size, largest first,
 * so each is aligned. See docs/export.md for a numpy reader.
 *
 * @example
 * const { tensors, metadata } = encodeSparseStateDict(state); // state: Map<string, SafeTensor>
 * await saveSafetensors('model.sparse.safetensors', tensors, { ...metadata, model: 'convnet' });
 * const loaded = await loadSafetensors('model.sparse.safetensors');
 * decodeSparseStateDict(loaded.tensors, loaded.metadata, 'model.sparse.safetensors'); // the dense state dict
 */
import { dtypeByteSize, SAFE_DTYPES, typedArrayView, type SafeDType, type SafeMetadata, type SafeTensor } from '../io/safetensors.js';
import { DataFormatError } from '../util/errors.js';
import {
  decodePacked,
  encodePacked,
  indexBits,
  LOW_BITS,
  MAX_GAP_BITS,
  packedDataBytes,
  planPacked,
  streamBytes,
  type PackedPlan,
} from './packed-storage.js';

/** Value of the `format` metadata key of the sparse files written now. */
export const SPARSE_FORMAT = 'sparse-soups-sparse-v2';
/** The first version: storages dense, bitmask and indices only. Still read. */
export const SPARSE_FORMAT_V1 = 'sparse-soups-sparse-v1';
/** Every version this reader knows, with the storages each may use. */
const KNOWN_FORMATS: Record<string, readonly SparseStorage[]> = {
  [SPARSE_FORMAT_V1]: ['dense', 'bitmask', 'indices'],
  [SPARSE_FORMAT]: ['dense', 'bitmask', 'indices', 'packed'],
};
/** What every sparse format's name starts with, known version or not. */
const SPARSE_FORMAT_PREFIX = 'sparse-soups-sparse-';
export const SPARSE_STORAGES = ['dense', 'bitmask', 'indices', 'packed'] as const;
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
  /** `packed` only (packed-storage.ts): width and count of the gap codes, the high table and its index width. */
  gap_bits?: number;
  gap_codes?: number;
  high?: number[];
  high_bits?: number;
  low_bits?: number;
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
      groups.set(t.dtype, [...(groups.get(t.dtype) ?? []), { ...t, data } as SafeTensor]);
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

/**
 * The v2 `layout` metadata: a JSON array with one array per tensor, in
 * state-dict order, `[name, storage, dtype, shape, nonzero]`, a packed one
 * followed by `gap_bits, gap_codes, high, high_bits, low_bits` (half the bytes of
 * v1's objects, which matters for models of many small tensors).
 */
export function encodeLayout(layout: readonly SparseLayoutEntry[]): string {
  return JSON.stringify(
    layout.map((e) => {
      const row: unknown[] = [e.name, e.storage, e.dtype, e.shape, e.nonzero];
      if (e.storage === 'packed') row.push(e.gap_bits, e.gap_codes, e.high, e.high_bits, e.low_bits);
      return row;
    }),
  );
}

const LAYOUT_ROW_KEYS = ['name', 'storage', 'dtype', 'shape', 'nonzero', 'gap_bits', 'gap_codes', 'high', 'high_bits', 'low_bits'];

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
 * Whether a file's metadata says it is in a sparse format, of any version:
 * a version this reader does not know is then refused by the reader, not
 * read as a dense file.
 */
export function isSparseFormat(metadata: SafeMetadata): boolean {
  return typeof metadata.format === 'string' && metadata.format.startsWith(SPARSE_FORMAT_PREFIX);
}

/** The layout recorded in a sparse file's metadata, validated. Errors name `file`. */
export function readSparseLayout(metadata: SafeMetadata, file: string): SparseLayoutEntry[] {
  const storages = KNOWN_FORMATS[metadata.format ?? ''];
  if (!isSparseFormat(metadata))
    throw new DataFormatError(file, `metadata format is '${metadata.format ?? '(none)'}', not '${SPARSE_FORMAT}'`);
  if (storages === undefined)
    throw new DataFormatError(
      file,
      `metadata format '${metadata.format}' is a sparse layout version this reader does not know ` +
        `(it reads ${Object.keys(KNOWN_FORMATS).join(', ')}): the file was written by a newer sparse-soups; read it with that version`,
    );
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
  const rows = metadata.format !== SPARSE_FORMAT_V1;
  return raw.map((entry: unknown, i): SparseLayoutEntry => {
    const e = (
      rows
        ? Object.fromEntries(Array.isArray(entry) ? entry.map((v: unknown, j) => [LAYOUT_ROW_KEYS[j] ?? `extra${j}`, v]) : [])
        : typeof entry === 'object' && entry !== null
          ? entry
          : {}
    ) as Record<string, unknown>;
    if (rows && (!Array.isArray(entry) || entry.length !== (e.storage === 'packed' ? 10 : 5)))
      throw new DataFormatError(
        file,
        `layout[${i}] must be [name, storage, dtype, shape, nonzero] (a packed one followed by gap_bits, gap_codes, high, high_bits, low_bits), got ${JSON.stringify(entry)?.slice(0, 120)}`,
      );
    const where = `layout[${i}]${typeof e.name === 'string' ? ` ("${e.name}")` : ''}`;
    const fail = (problem: string): never => {
      throw new DataFormatError(file, `${where}: ${problem}`);
    };
    if (typeof e.name !== 'string' || e.name === '') fail('name must be a non-empty string');
    const name = e.name as string;
    if (seen.has(name)) fail('the name appears twice');
    seen.add(name);
    if (!(storages as readonly unknown[]).includes(e.storage))
      fail(`storage must be one of ${storages.join(', ')} in ${metadata.format}, got ${JSON.stringify(e.storage)}`);
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
    const out: SparseLayoutEntry = {
      name,
      storage: e.storage as SparseStorage,
      dtype: e.dtype as SafeDType,
      shape: [...(shape as number[])],
      nonzero: e.nonzero as number,
    };
    if (e.storage === 'packed') Object.assign(out, readPackedFields(e, fail));
    return out;
  });
}

/** The `packed` fields of a layout entry, validated. */
function readPackedFields(
  e: Record<string, unknown>,
  fail: (problem: string) => never,
): Required<Pick<SparseLayoutEntry, 'gap_bits' | 'gap_codes' | 'high' | 'high_bits' | 'low_bits'>> {
  const { gap_bits: gapBits, gap_codes: gapCodes, high, high_bits: highBits, low_bits: lowBits } = e;
  if (!Number.isSafeInteger(gapBits) || (gapBits as number) < 1 || (gapBits as number) > MAX_GAP_BITS)
    fail(`gap_bits must be an integer in 1..${MAX_GAP_BITS}, got ${JSON.stringify(gapBits)}`);
  if (!Number.isSafeInteger(gapCodes) || (gapCodes as number) < (e.nonzero as number))
    fail(`gap_codes must be an integer of at least nonzero (${String(e.nonzero)}), got ${JSON.stringify(gapCodes)}`);
  if (
    !Array.isArray(high) ||
    !high.every((h, i) => Number.isSafeInteger(h) && h >= 0 && h < 512 && (i === 0 || h > (high[i - 1] as number)))
  )
    fail(`high must be an increasing list of integers in 0..511 (sign and exponent bits), got ${JSON.stringify(high)}`);
  const table = high as number[];
  if ((e.nonzero as number) > 0 && table.length === 0) fail('high is empty but there are non-zero values');
  if (highBits !== indexBits(table.length))
    fail(`high_bits must be ${indexBits(table.length)} for a ${table.length}-entry high table, got ${JSON.stringify(highBits)}`);
  if (!Number.isSafeInteger(lowBits) || (lowBits as number) < 0 || (lowBits as number) > LOW_BITS)
    fail(`low_bits must be an integer in 0..${LOW_BITS}, got ${JSON.stringify(lowBits)}`);
  return {
    gap_bits: gapBits as number,
    gap_codes: gapCodes as number,
    high: table,
    high_bits: highBits as number,
    low_bits: lowBits as number,
  };
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
