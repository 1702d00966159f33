/**
 * The `layout` metadata of sparse files (sparse-format.ts): the format
 * versions this reader knows, writing the v2 rows and reading (and
 * validating) the layout of any known version.
 *
 * @example
 * const metadata = { format: SPARSE_FORMAT, bit_order: 'msb', layout: encodeLayout(layout) };
 * readSparseLayout(metadata, 'm.safetensors'); // the same entries, validated
 */
import { SAFE_DTYPES, type SafeDType, type SafeMetadata } from '../io/safetensors.js';
import { DataFormatError } from '../util/errors.js';
import { indexBits, LOW_BITS, MAX_GAP_BITS } from './packed-storage.js';

const numelOf = (shape: readonly number[]): number => shape.reduce((n, d) => n * d, 1);
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
