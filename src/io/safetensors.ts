/**
 * Safetensors reading and writing over TypedArrays, in pure TypeScript.
 *
 * The format (https://github.com/huggingface/safetensors):
 *
 * ```
 * [8 bytes]  N, the header length, unsigned 64-bit little-endian
 * [N bytes]  UTF-8 JSON header, padded with spaces to a multiple of 8:
 *            {"__metadata__": {"format": "pt"},
 *             "conv1.weight": {"dtype": "F32", "shape": [64, 3, 7, 7], "data_offsets": [0, 37632]}, ...}
 * [rest]     the data buffer: raw little-endian, row-major tensor bytes;
 *            data_offsets [begin, end) are relative to its start, and the
 *            tensors cover it exactly (no gaps, no overlaps, no trailing bytes)
 * ```
 *
 * We write tensors in insertion order; the reference writer sorts them by
 * dtype alignment, then name. We read any order, and return tensors in the
 * order they lie in the data buffer (so a file we wrote reads back in the
 * order it was written). Decoded arrays are zero-copy views into the input
 * bytes where the offset is aligned for the element type, copies otherwise.
 *
 * @example
 * await saveSafetensors('soup.safetensors', new Map([
 *   ['fc.weight', { dtype: 'F32', shape: [2, 3], data: new Float32Array(6) }],
 *   ['fc.bias', { dtype: 'F32', shape: [2], data: new Float32Array([0.5, -1]) }],
 * ]), { format: 'pt' });
 * const { tensors, metadata } = await loadSafetensors('soup.safetensors');
 * tensors.get('fc.bias')?.data; // Float32Array [0.5, -1]
 * (await readSafetensorsHeader('soup.safetensors')).tensors.get('fc.weight')?.shape; // [2, 3], data not read
 */
import { endianness } from 'node:os';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { CheckpointError, DataFormatError } from '../util/errors.js';
import { writeFileAtomic } from './atomic.js';

export const SAFE_DTYPES = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'] as const;
export type SafeDType = (typeof SAFE_DTYPES)[number];

/** The TypedArray holding each dtype. F16 and BF16 are kept as their raw 16-bit patterns. */
export interface SafeDataByDType {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array; // one byte per element, 0 or 1
}
export type SafeTensorData = SafeDataByDType[SafeDType];
export type SafeTensorOf<D extends SafeDType> = { dtype: D; shape: number[]; data: SafeDataByDType[D] };
/** A tensor as stored: `dtype` tells the type of `data`; `data.length` is the product of `shape` ([] is a scalar). */
export type SafeTensor = { [D in SafeDType]: SafeTensorOf<D> }[SafeDType];
export type SafeMetadata = Record<string, string>;
export type SafeTensors = ReadonlyMap<string, SafeTensor> | Readonly<Record<string, SafeTensor>>;

/** One header entry; `dataOffsets` are relative to the start of the data buffer. */
export interface SafeTensorInfo {
  dtype: SafeDType;
  shape: number[];
  dataOffsets: [begin: number, end: number];
}
export interface SafetensorsHeader {
  /** Entries in data-buffer order. */
  tensors: Map<string, SafeTensorInfo>;
  metadata: SafeMetadata;
  /** Byte offset of the data buffer in the file: 8 + header length. */
  dataStart: number;
}
export interface DecodedSafetensors {
  /** Tensors in data-buffer order. */
  tensors: Map<string, SafeTensor>;
  metadata: SafeMetadata;
}
export interface DecodeOptions {
  /** Return F16 and BF16 tensors as F32 (exact: every half value is a float32). */
  halfToFloat32?: boolean;
}

type TypedArrayClass = {
  new (length: number): SafeTensorData;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): SafeTensorData;
  readonly BYTES_PER_ELEMENT: number;
};
const ARRAY_CLASS: Record<SafeDType, TypedArrayClass> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

/** Bytes per element of a dtype. */
export function dtypeByteSize(dtype: SafeDType): number {
  return ARRAY_CLASS[dtype].BYTES_PER_ELEMENT;
}

/** A typed array of `dtype` over `length` elements of `buffer` from `byteOffset` (a view, not a copy). */
export function typedArrayView(dtype: SafeDType, buffer: ArrayBufferLike, byteOffset: number, length: number): SafeTensorData {
  return new ARRAY_CLASS[dtype](buffer, byteOffset, length);
}

/** The reference implementation refuses headers above 100 MB; so do we, before allocating them. */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

// ---------------------------------------------------------------- writing

/**
 * The file as a list of chunks: the 8-byte length and padded header, then
 * one zero-copy byte view per tensor. `saveSafetensors` writes these
 * without concatenating them. `where` names the file in errors.
 */
export function encodeSafetensorsChunks(tensors: SafeTensors, metadata: SafeMetadata = {}, where = 'safetensors'): Uint8Array[] {
  assertLittleEndianHost();
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const headerParts: string[] = [];
  if (Object.keys(metadata).length > 0) {
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string') {
        throw new CheckpointError(`${where}: metadata "${key}" must be a string, got ${typeof value}`);
      }
    }
    headerParts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  }
  const dataChunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, tensor] of entries) {
    assertWritableTensor(name, tensor, where);
    const bytes = new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength);
    const info = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    // Built by hand, not with JSON.stringify of one object, which would move integer-like names first.
    headerParts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    dataChunks.push(bytes);
    offset += bytes.byteLength;
  }
  const json = `{${headerParts.join(',')}}`;
  const jsonBytes = Buffer.from(json, 'utf8');
  const paddedLength = Math.ceil(jsonBytes.byteLength / 8) * 8;
  const head = new Uint8Array(8 + paddedLength).fill(0x20, 8); // space padding, as the reference writer does
  new DataView(head.buffer).setBigUint64(0, BigInt(paddedLength), true);
  head.set(jsonBytes, 8);
  return [head, ...dataChunks];
}

/** The whole file as one byte array. See {@link encodeSafetensorsChunks}. */
export function encodeSafetensors(tensors: SafeTensors, metadata: SafeMetadata = {}): Uint8Array {
  return Buffer.concat(encodeSafetensorsChunks(tensors, metadata));
}

/** Write a safetensors file atomically (temp file, fsync, rename): readers see the old file or the new one. */
export async function saveSafetensors(path: string, tensors: SafeTensors, metadata: SafeMetadata = {}): Promise<void> {
  await writeFileAtomic(path, encodeSafetensorsChunks(tensors, metadata, path));
}

function assertWritableTensor(name: string, tensor: SafeTensor, where: string): void {
  const fail = (problem: string): never => {
    throw new CheckpointError(`${where}: tensor "${name}": ${problem}`);
  };
  if (name === '' || name === METADATA_KEY) fail('this name is not allowed');
  if (!SAFE_DTYPES.includes(tensor.dtype)) fail(`unknown dtype "${String(tensor.dtype)}"; supported: ${SAFE_DTYPES.join(', ')}`);
  const shapeProblem = problemWithShape(tensor.shape);
  if (shapeProblem) fail(shapeProblem);
  const expectedClass = ARRAY_CLASS[tensor.dtype];
  if (!(tensor.data instanceof expectedClass)) {
    fail(`dtype ${tensor.dtype} needs a ${expectedClass.name}, got ${tensor.data?.constructor?.name ?? typeof tensor.data}`);
  }
  const numel = tensor.shape.reduce((a, b) => a * b, 1);
  if (tensor.data.length !== numel) {
    fail(`shape [${tensor.shape.join(', ')}] has ${numel} elements but data has ${tensor.data.length}`);
  }
  if (tensor.dtype === 'BOOL') {
    const index = tensor.data.findIndex((value) => value > 1);
    if (index >= 0) fail(`BOOL element ${index} is ${tensor.data[index]}, must be 0 or 1`);
  }
}

// ---------------------------------------------------------------- reading

/**
 * Decode a whole safetensors file from memory. The returned arrays may be
 * views into `bytes` (zero-copy where aligned): copy `bytes` first if it
 * will be reused. `file` names the source in errors.
 */
export function decodeSafetensors(bytes: Uint8Array, file = '<safetensors bytes>', options: DecodeOptions = {}): DecodedSafetensors {
  assertLittleEndianHost();
  if (bytes.byteLength < 8)
    throw new DataFormatError(
      file,
      `${bytes.byteLength} bytes is too short for a safetensors file (needs at least the 8-byte header length)`,
    );
  const headerLength = readHeaderLength(bytes.subarray(0, 8), bytes.byteLength, file);
  const dataStart = 8 + headerLength;
  const header = parseHeader(bytes.subarray(8, dataStart), bytes.byteLength - dataStart, file);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, info] of header.tensors) {
    let tensor = tensorFromBytes(info, bytes, dataStart);
    if (options.halfToFloat32 && (tensor.dtype === 'F16' || tensor.dtype === 'BF16')) {
      tensor = { dtype: 'F32', shape: tensor.shape, data: halfBitsToFloat32(tensor.data, tensor.dtype) };
    }
    tensors.set(name, tensor);
  }
  return { tensors, metadata: header.metadata };
}

/** Read and decode a safetensors file. Errors name `path`. */
export async function loadSafetensors(path: string, options: DecodeOptions = {}): Promise<DecodedSafetensors> {
  return decodeSafetensors(await readFile(path), path, options);
}

/** Read and validate only the header: names, dtypes, shapes, offsets and metadata, without the tensor data. */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, 'r');
  try {
    const fileLength = (await handle.stat()).size;
    if (fileLength < 8)
      throw new DataFormatError(path, `${fileLength} bytes is too short for a safetensors file (needs at least the 8-byte header length)`);
    const headerLength = readHeaderLength(await readExactly(handle, 0, 8, path), fileLength, path);
    const headerBytes = await readExactly(handle, 8, headerLength, path);
    return parseHeader(headerBytes, fileLength - 8 - headerLength, path);
  } finally {
    await handle.close();
  }
}

/**
 * Convert raw F16 (IEEE half) or BF16 (bfloat16) bit patterns to float32.
 * Exact, including subnormals, infinities, -0 and NaN payloads.
 */
export function halfBitsToFloat32(bits: Uint16Array, dtype: 'F16' | 'BF16'): Float32Array {
  const out = new Uint32Array(bits.length);
  if (dtype === 'BF16') {
    for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
    return new Float32Array(out.buffer);
  }
  const asFloat = new Float32Array(out.buffer);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0)
      asFloat[i] = (sign ? -1 : 1) * mantissa * 2 ** -24; // zero or subnormal
    else if (exponent === 0x1f)
      out[i] = sign | 0x7f800000 | (mantissa << 13); // infinity or NaN
    else out[i] = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  }
  return asFloat;
}

function readHeaderLength(first8: Uint8Array, fileLength: number, file: string): number {
  const length = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new DataFormatError(
      file,
      `header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupted)`,
    );
  }
  if (8 + Number(length) > fileLength) {
    throw new DataFormatError(
      file,
      `header length ${length} goes beyond the end of the file (${fileLength} bytes): truncated or not a safetensors file`,
    );
  }
  return Number(length);
}

async function readExactly(handle: FileHandle, position: number, length: number, file: string): Promise<Uint8Array> {
  const buffer = new Uint8Array(length);
  for (let done = 0; done < length;) {
    const { bytesRead } = await handle.read(buffer, done, length - done, position + done);
    if (bytesRead === 0)
      throw new DataFormatError(file, `the file ended at byte ${position + done} while reading the header (changed while being read?)`);
    done += bytesRead;
  }
  return buffer;
}

function parseHeader(headerBytes: Uint8Array, dataLength: number, file: string): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new DataFormatError(file, problem);
  };
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    fail('the header is not valid UTF-8');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    fail(`the header is not valid JSON: ${(error as Error).message}`);
  }
  if (!isPlainObject(json)) fail('the header must be a JSON object');
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) fail(`the header has the key "${duplicate}" twice`);
  const header = json as Record<string, unknown>;

  const metadata: SafeMetadata = {};
  if (METADATA_KEY in header) {
    const raw = header[METADATA_KEY];
    if (!isPlainObject(raw)) fail(`"${METADATA_KEY}" must be an object of strings`);
    for (const [key, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value !== 'string') fail(`metadata "${key}" must be a string, got ${JSON.stringify(value)}`);
      metadata[key] = value as string;
    }
  }

  const infos: [string, SafeTensorInfo][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name !== METADATA_KEY) infos.push([name, parseTensorInfo(name, raw, dataLength, fail)]);
  }
  infos.sort(([, a], [, b]) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let covered = 0;
  let previous = '';
  for (const [
    name,
    {
      dataOffsets: [begin, end],
    },
  ] of infos) {
    if (begin < covered) fail(`tensors "${previous}" and "${name}" overlap (bytes ${begin}..${covered} of the data)`);
    if (begin > covered) fail(`bytes ${covered}..${begin} of the data belong to no tensor (before "${name}")`);
    covered = end;
    previous = name;
  }
  if (covered !== dataLength) fail(`the data is ${dataLength} bytes but the tensors cover ${covered}: truncated or trailing bytes`);
  return { tensors: new Map(infos), metadata, dataStart: 8 + headerBytes.byteLength };
}

function parseTensorInfo(name: string, raw: unknown, dataLength: number, fail: (problem: string) => never): SafeTensorInfo {
  const where = `tensor "${name}"`;
  if (!isPlainObject(raw)) fail(`${where}: entry must be an object with dtype, shape and data_offsets`);
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(SAFE_DTYPES as readonly string[]).includes(dtype)) {
    fail(`${where}: unknown dtype ${JSON.stringify(dtype)}; supported: ${SAFE_DTYPES.join(', ')}`);
  }
  const shapeProblem = problemWithShape(shape);
  if (shapeProblem) fail(`${where}: ${shapeProblem}`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
    fail(`${where}: data_offsets must be [begin, end], two non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) {
    fail(`${where}: data_offsets [${begin}, ${end}] go beyond the ${dataLength}-byte data: the file is truncated or the header wrong`);
  }
  const info: SafeTensorInfo = { dtype: dtype as SafeDType, shape: shape as number[], dataOffsets: [begin, end] };
  const expected = info.shape.reduce((a, b) => a * b, 1) * dtypeByteSize(info.dtype);
  if (end - begin !== expected) {
    fail(
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${info.dtype} [${info.shape.join(', ')}] needs ${expected}`,
    );
  }
  return info;
}

function tensorFromBytes(info: SafeTensorInfo, bytes: Uint8Array, dataStart: number): SafeTensor {
  const ArrayClass = ARRAY_CLASS[info.dtype];
  const [begin, end] = info.dataOffsets;
  const numel = (end - begin) / ArrayClass.BYTES_PER_ELEMENT;
  const absolute = bytes.byteOffset + dataStart + begin;
  let data: SafeTensorData;
  if (absolute % ArrayClass.BYTES_PER_ELEMENT === 0) {
    data = new ArrayClass(bytes.buffer, absolute, numel);
  } else {
    data = new ArrayClass(numel); // misaligned (e.g. F32 after an odd-length U8): copy
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
  }
  return { dtype: info.dtype, shape: [...info.shape], data } as SafeTensor;
}

// ---------------------------------------------------------------- shared checks

function problemWithShape(shape: unknown): string | undefined {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    return `shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`;
  }
  const numel = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(numel)) return `shape ${JSON.stringify(shape)} has too many elements`;
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON.parse silently keeps the last of two equal keys; a header with
 * duplicates is corrupt (or crafted), so find them. Runs only on text that
 * JSON.parse accepted, which keeps the scan simple.
 */
function findDuplicateKey(json: string): string | undefined {
  const open: (Set<string> | null)[] = []; // one entry per open container: keys seen, or null for an array
  let expectingKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      const keys = open[open.length - 1];
      if (keys && expectingKey) {
        const key = JSON.parse(json.slice(i, j + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
        expectingKey = false;
      }
      i = j;
    } else if (c === '{') {
      open.push(new Set());
      expectingKey = true;
    } else if (c === '[') {
      open.push(null);
    } else if (c === '}' || c === ']') {
      open.pop();
    } else if (c === ',') {
      expectingKey = open[open.length - 1] != null;
    }
  }
  return undefined;
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new CheckpointError('safetensors: this reader/writer supports little-endian hosts only');
}
