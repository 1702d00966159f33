import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { crc32, encodePng, PNG_SIGNATURE, type RasterImage } from '../../src/data/index.js';
import { TensorError } from '../../src/util/errors.js';

/** Bit-by-bit CRC-32, independent of the table-driven one under test. */
function slowCrc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  pixels: Uint8Array;
  text: Record<string, string>;
  chunkTypes: string[];
}

/** Decodes the PNGs encodePng writes (8-bit, filter 0 rows), checking signature and every chunk CRC. */
function decodePng(bytes: Uint8Array): DecodedPng {
  assert.deepEqual(bytes.subarray(0, 8), PNG_SIGNATURE);
  assert.deepEqual([...PNG_SIGNATURE], [137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const idat: Uint8Array[] = [];
  const text: Record<string, string> = {};
  const chunkTypes: string[] = [];
  let header = { width: 0, height: 0, bitDepth: 0, colourType: 0 };
  for (let at = 8; at < bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    assert.equal(view.getUint32(at + 8 + length), slowCrc32(bytes.subarray(at + 4, at + 8 + length)), `${type} CRC`);
    chunkTypes.push(type);
    if (type === 'IHDR') {
      const d = new DataView(data.buffer, data.byteOffset, data.byteLength);
      header = { width: d.getUint32(0), height: d.getUint32(4), bitDepth: data[8], colourType: data[9] };
      assert.deepEqual([...data.subarray(10)], [0, 0, 0]);
    }
    if (type === 'IDAT') idat.push(data);
    if (type === 'tEXt') {
      const zero = data.indexOf(0);
      text[String.fromCharCode(...data.subarray(0, zero))] = String.fromCharCode(...data.subarray(zero + 1));
    }
    at += 12 + length;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const channels = header.colourType === 0 ? 1 : 3;
  const rowBytes = header.width * channels;
  assert.equal(raw.length, header.height * (rowBytes + 1));
  const pixels = new Uint8Array(header.height * rowBytes);
  for (let y = 0; y < header.height; y++) {
    assert.equal(raw[y * (rowBytes + 1)], 0, 'filter type 0');
    pixels.set(raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1)), y * rowBytes);
  }
  return { ...header, pixels, text, chunkTypes };
}

test('crc32 matches the standard check value and a bitwise implementation', () => {
  assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  assert.equal(crc32(new TextEncoder().encode('IEND')), 0xae426082);
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) % 256);
  assert.equal(crc32(bytes), slowCrc32(bytes));
  assert.equal(crc32(bytes.subarray(400), crc32(bytes.subarray(0, 400))), crc32(bytes), 'continuation');
});

test('grayscale PNG decodes to the same pixels', () => {
  const image: RasterImage = { width: 7, height: 3, channels: 1, pixels: Uint8Array.from({ length: 21 }, (_, i) => i * 12) };
  const decoded = decodePng(encodePng(image));
  assert.equal(decoded.width, 7);
  assert.equal(decoded.height, 3);
  assert.equal(decoded.bitDepth, 8);
  assert.equal(decoded.colourType, 0);
  assert.deepEqual(decoded.pixels, image.pixels);
  assert.deepEqual(decoded.chunkTypes, ['IHDR', 'IDAT', 'IEND']);
});

test('RGB PNG with a tEXt chunk decodes to the same pixels and text', () => {
  const image: RasterImage = { width: 5, height: 4, channels: 3, pixels: Uint8Array.from({ length: 60 }, (_, i) => (i * 53) % 256) };
  const decoded = decodePng(encodePng(image, { Comment: 'rows: clean, fog' }));
  assert.equal(decoded.colourType, 2);
  assert.deepEqual([decoded.width, decoded.height], [5, 4]);
  assert.deepEqual(decoded.pixels, image.pixels);
  assert.deepEqual(decoded.text, { Comment: 'rows: clean, fog' });
  assert.deepEqual(decoded.chunkTypes, ['IHDR', 'tEXt', 'IDAT', 'IEND']);
});

test('encodePng rejects inconsistent images', () => {
  const refused = (pattern: RegExp) => (e: Error) => e instanceof TensorError && pattern.test(e.message);
  assert.throws(() => encodePng({ width: 2, height: 2, channels: 1, pixels: new Uint8Array(3) }), refused(/2x2x1 needs 4 bytes, got 3/));
  assert.throws(() => encodePng({ width: 0, height: 2, channels: 1, pixels: new Uint8Array(0) }), refused(/positive integers, got 0x2/));
  assert.throws(
    () => encodePng({ width: 1, height: 1, channels: 4 as 3, pixels: new Uint8Array(4) }),
    refused(/channels must be 1 .* or 3 .*, got 4/),
  );
});
