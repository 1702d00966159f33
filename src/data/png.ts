/**
 * A minimal PNG encoder: 8-bit grayscale or RGB, no interlacing, filter 0 ("None")
 * on every row, deflated with zlib.
 *
 * File layout (PNG spec, chunks = length(4, BE) type(4) data CRC32(4, BE, over type+data)):
 *
 * ```
 * 89 50 4E 47 0D 0A 1A 0A                     signature
 * IHDR  width, height (uint32 BE), bit depth 8, colour type 0 (gray) / 2 (RGB),
 *       compression 0, filter 0, interlace 0
 * tEXt  keyword \0 text (optional, Latin-1)
 * IDAT  zlib(deflate) of H rows, each: filter byte 0 + W*channels bytes
 * IEND
 * ```
 *
 * @example
 * const pixels = new Uint8Array(4 * 4).fill(128); // 4x4 mid-gray
 * writePng('/tmp/gray.png', { width: 4, height: 4, channels: 1, pixels });
 */
import { writeFileSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { TensorError } from '../util/errors.js';

/** An 8-bit image, rows top to bottom, channels interleaved (HWC). */
export interface RasterImage {
  width: number;
  height: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** width * height * channels bytes. */
  pixels: Uint8Array;
}

/** The 8 bytes every PNG file starts with. */
export const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/**
 * CRC-32 (ISO 3309 / ITU-T V.42, polynomial 0xEDB88320 reflected), as PNG and zlib's crc32 use.
 * Pass the previous result as `crc` to continue over several buffers.
 *
 * @example
 * crc32(new TextEncoder().encode('123456789')).toString(16); // 'cbf43926'
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** Encodes an image as PNG bytes, with optional tEXt entries (keyword -> Latin-1 text). */
export function encodePng(image: RasterImage, text: Record<string, string> = {}): Uint8Array {
  const { width, height, channels, pixels } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new TensorError(`encodePng: width and height must be positive integers, got ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new TensorError(`encodePng: channels must be 1 (grayscale) or 3 (RGB), got ${channels}`);
  const rowBytes = width * channels;
  if (pixels.length !== rowBytes * height) {
    throw new TensorError(`encodePng: ${width}x${height}x${channels} needs ${rowBytes * height} bytes, got ${pixels.length}`);
  }
  const header = new Uint8Array(13);
  const headerView = new DataView(header.buffer);
  headerView.setUint32(0, width);
  headerView.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : 2; // colour type
  const raw = new Uint8Array((rowBytes + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * rowBytes, (y + 1) * rowBytes), y * (rowBytes + 1) + 1);
  const chunks = [chunk('IHDR', header)];
  for (const [keyword, value] of Object.entries(text)) chunks.push(chunk('tEXt', latin1(`${keyword}\0${value}`)));
  chunks.push(chunk('IDAT', deflateSync(raw)), chunk('IEND', new Uint8Array(0)));
  const out = new Uint8Array(PNG_SIGNATURE.length + chunks.reduce((n, c) => n + c.length, 0));
  out.set(PNG_SIGNATURE, 0);
  let at = PNG_SIGNATURE.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Writes an image as a PNG file. */
export function writePng(path: string, image: RasterImage, text: Record<string, string> = {}): void {
  writeFileSync(path, encodePng(image, text));
}

/** One chunk: length, type, data, CRC32 over type and data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function latin1(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    out[i] = code < 256 ? code : 0x3f; // '?'
  }
  return out;
}
