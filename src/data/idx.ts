/**
 * IDX files (the MNIST / Fashion-MNIST container), plain or gzip-compressed.
 *
 * Format (all integers big-endian):
 *
 * ```
 * bytes 0-1   0x00 0x00
 * byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
 *             0x0D float32, 0x0E float64
 * byte  3     number of dimensions d
 * 4 .. 4+4d   d uint32 sizes, outermost first
 * then        the elements, C order, big-endian
 * ```
 *
 * MNIST images are `idx3-ubyte` (N, 28, 28) and labels `idx1-ubyte` (N).
 * A file that starts with the gzip magic 0x1f 0x8b is inflated first.
 *
 * @example
 * const labels = readIdxFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz');
 * labels.shape; // [10000]
 */
import { existsSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { DataFormatError, TensorError } from '../util/errors.js';
import { asPlainBytes, readExistingFile } from './dataset.js';

/** Element types an IDX file can hold, by their type byte. */
export type IdxElementType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** A decoded IDX array. `data` is a Uint8Array for uint8, otherwise a copy in host order. */
export interface IdxArray {
  type: IdxElementType;
  shape: number[];
  data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const TYPE_BY_CODE: Record<number, IdxElementType> = {
  0x08: 'uint8',
  0x09: 'int8',
  0x0b: 'int16',
  0x0c: 'int32',
  0x0d: 'float32',
  0x0e: 'float64',
};
const CODE_BY_TYPE: Record<IdxElementType, number> = {
  uint8: 0x08,
  int8: 0x09,
  int16: 0x0b,
  int32: 0x0c,
  float32: 0x0d,
  float64: 0x0e,
};
const ITEM_SIZE: Record<IdxElementType, number> = { uint8: 1, int8: 1, int16: 2, int32: 4, float32: 4, float64: 8 };

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Parses IDX bytes (already inflated). `file` names the source in errors. */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length < 4) throw new DataFormatError(file, `truncated IDX file: ${bytes.length} bytes, the header needs at least 4`);
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new DataFormatError(file, `wrong magic number: IDX files start with 0x00 0x00, found 0x${hex(bytes[0])} 0x${hex(bytes[1])}`);
  }
  const type = TYPE_BY_CODE[bytes[2]];
  if (type === undefined) throw new DataFormatError(file, `wrong magic number: unknown IDX element type 0x${hex(bytes[2])}`);
  const dims = bytes[3];
  const headerBytes = 4 + 4 * dims;
  if (bytes.length < headerBytes) {
    throw new DataFormatError(file, `truncated IDX header: ${dims} dimensions need ${headerBytes} bytes, file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < dims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    shape.push(size);
    count *= size;
  }
  const itemSize = ITEM_SIZE[type];
  const expected = headerBytes + count * itemSize;
  if (bytes.length < expected) {
    throw new DataFormatError(
      file,
      `truncated IDX data: shape [${shape.join(', ')}] of ${type} needs ${expected} bytes, file has ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw new DataFormatError(file, `IDX file has ${bytes.length - expected} bytes after the data for shape [${shape.join(', ')}]`);
  }
  return { type, shape, data: decodeElements(view, headerBytes, count, type, bytes) };
}

function decodeElements(view: DataView, offset: number, count: number, type: IdxElementType, bytes: Uint8Array): IdxArray['data'] {
  switch (type) {
    case 'uint8':
      return bytes.subarray(offset, offset + count);
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads an IDX file, inflating it when it is gzip-compressed. */
export function readIdxFile(file: string): IdxArray {
  let bytes: Uint8Array = readExistingFile(file);
  if (isGzip(bytes)) {
    try {
      bytes = asPlainBytes(gunzipSync(bytes));
    } catch (error) {
      throw new DataFormatError(file, `corrupt or truncated gzip stream (${(error as Error).message})`);
    }
  }
  return parseIdx(bytes, file);
}

/**
 * Finds an IDX file by its base name in `dir`, accepting `name.gz`, `name`, and the
 * `train-images.idx3-ubyte` spelling some mirrors use. Returns null when none exists.
 */
export function findIdxFile(dir: string, baseName: string): string | null {
  const dotted = baseName.replace(/-(idx\d-ubyte)$/, '.$1');
  for (const name of [`${baseName}.gz`, baseName, `${dotted}.gz`, dotted]) {
    const path = `${dir}/${name}`;
    if (existsSync(path)) return path;
  }
  return null;
}

/**
 * Encodes an array as IDX bytes (for tests and exports); gzip it with zlib's gzipSync if wanted.
 *
 * @example
 * writeFileSync('labels-idx1-ubyte', encodeIdx({ type: 'uint8', shape: [3], data: new Uint8Array([0, 1, 2]) }));
 */
export function encodeIdx(array: IdxArray): Uint8Array {
  const count = array.shape.reduce((a, b) => a * b, 1);
  if (array.data.length !== count) {
    throw new TensorError(`encodeIdx: data has ${array.data.length} elements, shape [${array.shape.join(', ')}] needs ${count}`);
  }
  const itemSize = ITEM_SIZE[array.type];
  const headerBytes = 4 + 4 * array.shape.length;
  const out = new Uint8Array(headerBytes + count * itemSize);
  const view = new DataView(out.buffer);
  out[2] = CODE_BY_TYPE[array.type];
  out[3] = array.shape.length;
  array.shape.forEach((size, d) => view.setUint32(4 + 4 * d, size, false));
  const data = array.data;
  for (let i = 0; i < count; i++) {
    const at = headerBytes + i * itemSize;
    switch (array.type) {
      case 'uint8':
        view.setUint8(at, data[i]);
        break;
      case 'int8':
        view.setInt8(at, data[i]);
        break;
      case 'int16':
        view.setInt16(at, data[i], false);
        break;
      case 'int32':
        view.setInt32(at, data[i], false);
        break;
      case 'float32':
        view.setFloat32(at, data[i], false);
        break;
      case 'float64':
        view.setFloat64(at, data[i], false);
        break;
    }
  }
  return out;
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
