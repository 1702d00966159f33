/**
 * NumPy `.npy` files: a small reader and writer for the dtypes datasets use.
 *
 * Format (versions 1.0, 2.0, 3.0):
 *
 * ```
 * bytes 0-5   "\x93NUMPY"
 * byte  6, 7  major, minor version
 * then        header length: uint16 LE (v1) or uint32 LE (v2, v3)
 * then        header: a Python dict literal, ASCII (v1, v2) or UTF-8 (v3),
 *             e.g. {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
 *             padded with spaces and a final '\n'
 * then        the elements, C order, in the byte order `descr` names
 * ```
 *
 * Supported dtypes: `|u1` (uint8), `|b1` (bool, as 0/1 bytes), `<i4`, `<i8`,
 * `<f4`, `<f8`. `fortran_order: True` and any other dtype are DataFormatErrors.
 *
 * @example
 * writeNpyFile('/tmp/x.npy', { dtype: '<f4', shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
 * readNpyFile('/tmp/x.npy').shape; // [2, 2]
 */
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { endianness } from 'node:os';
import { DataFormatError, TensorError } from '../util/errors.js';
import { readExistingFile } from './dataset.js';

/** The dtypes this reader understands, as NumPy spells them. */
export type NpyDtype = '|u1' | '|b1' | '<i4' | '<i8' | '<f4' | '<f8';

/** Element storage for each dtype (int64 as BigInt64Array: labels are converted with {@link npyToInt32}). */
export type NpyData = Uint8Array | Int32Array | BigInt64Array | Float32Array | Float64Array;

/** A decoded array: C-order elements and their shape. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: NpyData;
}

/** Where an array's elements start in its file, from the header alone. */
export interface NpyHeader {
  dtype: NpyDtype;
  shape: number[];
  /** Byte offset of the first element. */
  dataOffset: number;
  /** Bytes per element. */
  itemSize: number;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ITEM_SIZE: Record<NpyDtype, number> = { '|u1': 1, '|b1': 1, '<i4': 4, '<i8': 8, '<f4': 4, '<f8': 8 };
const HOST_IS_LITTLE_ENDIAN = endianness() === 'LE';

/** Parses the header of an `.npy` file from its first bytes (enough of them to cover the header). */
export function parseNpyHeader(bytes: Uint8Array, file: string): NpyHeader {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw new DataFormatError(file, 'wrong magic number: not a NumPy .npy file (expected "\\x93NUMPY")');
  }
  const major = bytes[6];
  if (major < 1 || major > 3) throw new DataFormatError(file, `unsupported .npy version ${major}.${bytes[7]} (supported: 1, 2, 3)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) throw new DataFormatError(file, 'truncated .npy header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (bytes.length < prefix + headerLength) {
    throw new DataFormatError(file, `truncated .npy header: needs ${prefix + headerLength} bytes, have ${bytes.length}`);
  }
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(prefix, prefix + headerLength));
  const { dtype, shape } = parseHeaderDict(text, file);
  return { dtype, shape, dataOffset: prefix + headerLength, itemSize: ITEM_SIZE[dtype] };
}

function parseHeaderDict(text: string, file: string): { dtype: NpyDtype; shape: number[] } {
  const descr = /['"]descr['"]\s*:\s*(['"])([^'"]*)\1/.exec(text);
  if (!descr) {
    const structured = /['"]descr['"]\s*:\s*\[/.test(text);
    throw new DataFormatError(
      file,
      structured ? 'unsupported dtype: structured arrays are not supported' : `malformed .npy header: ${text.trim()}`,
    );
  }
  const dtype = normalizeDtype(descr[2]);
  if (dtype === null) {
    throw new DataFormatError(file, `unsupported dtype '${descr[2]}' (supported: ${Object.keys(ITEM_SIZE).join(', ')})`);
  }
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text);
  if (!fortran) throw new DataFormatError(file, `malformed .npy header (no fortran_order): ${text.trim()}`);
  if (fortran[1] === 'True') {
    throw new DataFormatError(file, 'fortran_order is True: only C-order arrays are supported (save with np.ascontiguousarray)');
  }
  const shapeMatch = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text);
  if (!shapeMatch) throw new DataFormatError(file, `malformed .npy header (no shape): ${text.trim()}`);
  const shape = shapeMatch[1]
    .split(',')
    .map((s) => s.trim().replace(/L$/, ''))
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0) throw new DataFormatError(file, `malformed .npy shape (${shapeMatch[1]})`);
      return n;
    });
  return { dtype, shape };
}

function normalizeDtype(descr: string): NpyDtype | null {
  // One-byte types carry no byte order; NumPy writes '|' but '<', '>' and '=' mean the same.
  const oneByte = /^[|<>=]?(u1|b1)$/.exec(descr);
  if (oneByte) return oneByte[1] === 'u1' ? '|u1' : '|b1';
  const little = /^[<]?(i4|i8|f4|f8)$/.exec(descr) ?? (HOST_IS_LITTLE_ENDIAN ? /^=(i4|i8|f4|f8)$/.exec(descr) : null);
  return little ? (`<${little[1]}` as NpyDtype) : null;
}

/** Number of elements of a shape (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Parses a whole `.npy` file's bytes. Uint8 data is a view on `bytes`; other dtypes are aligned copies. */
export function parseNpy(bytes: Uint8Array, file: string): NpyArray {
  const header = parseNpyHeader(bytes, file);
  const count = shapeSize(header.shape);
  const byteLength = count * header.itemSize;
  const available = bytes.length - header.dataOffset;
  if (available < byteLength) {
    throw new DataFormatError(
      file,
      `truncated .npy data: shape (${header.shape.join(', ')}) of ${header.dtype} needs ${byteLength} bytes, file has ${available}`,
    );
  }
  const raw = bytes.subarray(header.dataOffset, header.dataOffset + byteLength);
  return { dtype: header.dtype, shape: header.shape, data: decodeElements(raw, header.dtype, count) };
}

function decodeElements(raw: Uint8Array, dtype: NpyDtype, count: number): NpyData {
  if (dtype === '|u1' || dtype === '|b1') return raw;
  const copy = new Uint8Array(raw); // aligned, owned
  if (!HOST_IS_LITTLE_ENDIAN) swapBytes(copy, ITEM_SIZE[dtype]);
  switch (dtype) {
    case '<i4':
      return new Int32Array(copy.buffer, 0, count);
    case '<i8':
      return new BigInt64Array(copy.buffer, 0, count);
    case '<f4':
      return new Float32Array(copy.buffer, 0, count);
    case '<f8':
      return new Float64Array(copy.buffer, 0, count);
  }
}

function swapBytes(bytes: Uint8Array, itemSize: number): void {
  for (let i = 0; i < bytes.length; i += itemSize) bytes.subarray(i, i + itemSize).reverse();
}

/** Reads a whole `.npy` file. */
export function readNpyFile(file: string): NpyArray {
  return parseNpy(readExistingFile(file), file);
}

/** Reads only the header of an `.npy` file (shape and dtype without the data). */
export function readNpyFileHeader(file: string): NpyHeader {
  const fd = openExisting(file);
  try {
    return readHeaderFromFd(fd, file);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads `count` rows (entries along axis 0) starting at row `start` of a uint8 `.npy`
 * file without reading the rest: CIFAR-10-C files are 150 MB and a caller wants one severity.
 */
export function readNpyUint8Rows(file: string, start: number, count: number): { shape: number[]; data: Uint8Array } {
  const fd = openExisting(file);
  try {
    const header = readHeaderFromFd(fd, file);
    if (header.dtype !== '|u1') throw new DataFormatError(file, `expected dtype |u1 (uint8 images), found ${header.dtype}`);
    if (header.shape.length === 0) throw new DataFormatError(file, 'expected an array with at least one dimension, found a scalar');
    const rows = header.shape[0];
    if (start < 0 || count < 0 || start + count > rows) {
      throw new DataFormatError(file, `rows ${start}..${start + count - 1} requested, the array has ${rows} rows`);
    }
    const rowBytes = shapeSize(header.shape.slice(1));
    const data = new Uint8Array(count * rowBytes);
    const read = data.length === 0 ? 0 : readSync(fd, data, 0, data.length, header.dataOffset + start * rowBytes);
    if (read < data.length) {
      throw new DataFormatError(
        file,
        `truncated .npy data: shape (${header.shape.join(', ')}) needs ${rows * rowBytes} bytes of data after the header`,
      );
    }
    return { shape: [count, ...header.shape.slice(1)], data };
  } finally {
    closeSync(fd);
  }
}

function readHeaderFromFd(fd: number, file: string): NpyHeader {
  const head = new Uint8Array(4096);
  const headBytes = readSync(fd, head, 0, head.length, 0);
  return parseNpyHeaderGrowing(fd, head.subarray(0, headBytes), file);
}

function parseNpyHeaderGrowing(fd: number, head: Uint8Array, file: string): NpyHeader {
  if (head.length >= 12 && MAGIC.every((b, i) => head[i] === b)) {
    const view = new DataView(head.buffer, head.byteOffset);
    const needed = head[6] === 1 ? 10 + view.getUint16(8, true) : 12 + view.getUint32(8, true);
    if (needed > head.length) {
      const bigger = new Uint8Array(needed);
      const got = readSync(fd, bigger, 0, needed, 0);
      return parseNpyHeader(bigger.subarray(0, got), file);
    }
  }
  return parseNpyHeader(head, file);
}

function openExisting(file: string): number {
  try {
    return openSync(file, 'r');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataFormatError(file, code === 'ENOENT' ? 'file not found' : `cannot open file (${(error as Error).message})`);
  }
}

/**
 * Converts an integer (or uint8 / bool) array to Int32Array, checking every value is in
 * [0, limit) when `limit` is given. Used for label files, which NumPy saves as int64.
 */
export function npyToInt32(array: NpyArray, file: string, limit?: number): Int32Array {
  if (array.dtype === '<f4' || array.dtype === '<f8') {
    throw new DataFormatError(file, `expected integer labels, found dtype ${array.dtype}`);
  }
  const out = new Int32Array(array.data.length);
  const data = array.data;
  for (let i = 0; i < out.length; i++) {
    const v = Number(data[i]);
    if (v < -2147483648 || v > 2147483647) throw new DataFormatError(file, `value ${v} at index ${i} does not fit in int32`);
    if (limit !== undefined && (v < 0 || v >= limit)) {
      throw new DataFormatError(file, `label ${v} at index ${i} is out of range 0..${limit - 1}`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Encodes an array as `.npy` bytes (version 1.0, or 2.0 when the header needs it), with the
 * header padded so the data starts on a 64-byte boundary, as NumPy does.
 */
export function encodeNpy(array: NpyArray): Uint8Array {
  const count = shapeSize(array.shape);
  if (array.data.length !== count) {
    throw new TensorError(`encodeNpy: data has ${array.data.length} elements, shape (${array.shape.join(', ')}) needs ${count}`);
  }
  const shapeText = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  const dict = `{'descr': '${array.dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  let version = 1;
  let prefix = 10;
  let padded = padHeader(dict, prefix);
  if (padded.length > 0xffff) {
    version = 2;
    prefix = 12;
    padded = padHeader(dict, prefix);
  }
  const itemSize = ITEM_SIZE[array.dtype];
  const out = new Uint8Array(prefix + padded.length + count * itemSize);
  out.set(MAGIC, 0);
  out[6] = version;
  out[7] = 0;
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, padded.length, true);
  else view.setUint32(8, padded.length, true);
  for (let i = 0; i < padded.length; i++) out[prefix + i] = padded.charCodeAt(i);
  const body = new Uint8Array(array.data.buffer, array.data.byteOffset, count * itemSize);
  const dataOffset = prefix + padded.length;
  out.set(body, dataOffset);
  if (!HOST_IS_LITTLE_ENDIAN && itemSize > 1) swapBytes(out.subarray(dataOffset), itemSize);
  return out;
}

function padHeader(dict: string, prefix: number): string {
  const unpadded = prefix + dict.length + 1; // + '\n'
  const padding = (64 - (unpadded % 64)) % 64;
  return dict + ' '.repeat(padding) + '\n';
}

/** Writes an array as a `.npy` file. */
export function writeNpyFile(file: string, array: NpyArray): void {
  writeFileSync(file, encodeNpy(array));
}
