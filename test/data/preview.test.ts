import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import {
  defaultPreviewScale,
  FASHION_MNIST_DEFAULT_DIR,
  pickPreviewIndices,
  previewDataset,
  previewImages,
  renderPreviewGrid,
  type ImageDataset,
  type PreviewTransform,
} from '../../src/data/index.js';

const dir = mkdtempSync(join(tmpdir(), 'sparse-soups-preview-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Width, height, colour type and pixels of a PNG written by encodePng (filter 0 rows). */
function decodeSimplePng(bytes: Uint8Array): { width: number; height: number; colourType: number; pixels: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(String.fromCharCode(...bytes.subarray(12, 16)), 'IHDR');
  const width = view.getUint32(16);
  const height = view.getUint32(20);
  const colourType = bytes[25];
  const idat: Uint8Array[] = [];
  for (let at = 8; at < bytes.length; at += 12 + view.getUint32(at)) {
    if (String.fromCharCode(...bytes.subarray(at + 4, at + 8)) === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + view.getUint32(at)));
  }
  const raw = inflateSync(Buffer.concat(idat));
  const rowBytes = width * (colourType === 0 ? 1 : 3);
  const pixels = new Uint8Array(height * rowBytes);
  for (let y = 0; y < height; y++) pixels.set(raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1)), y * rowBytes);
  return { width, height, colourType, pixels };
}

/** 20 RGB 4x4 images: image i has every pixel of channel c equal to 10*i + 50*c; labels i mod 5. */
function colourDataset(): ImageDataset {
  const images = new Uint8Array(20 * 48);
  for (let i = 0; i < 20; i++) for (let c = 0; c < 3; c++) images.fill(10 * i + 50 * c, i * 48 + c * 16, i * 48 + (c + 1) * 16);
  return {
    name: 'colours',
    imageShape: [3, 4, 4],
    numClasses: 5,
    classNames: ['a', 'b', 'c', 'd', 'e'],
    mean: [0.5, 0.5, 0.5],
    std: [0.25, 0.25, 0.25],
    images,
    labels: Int32Array.from({ length: 20 }, (_, i) => i % 5),
  };
}

test('pickPreviewIndices shows one image per class first, in class order, then more', () => {
  const data = colourDataset();
  const five = pickPreviewIndices(data, 5, 0);
  assert.deepEqual(five.map((i) => data.labels[i]), [0, 1, 2, 3, 4]);
  assert.deepEqual(pickPreviewIndices(data, 5, 0), five);
  const seven = pickPreviewIndices(data, 7, 0);
  assert.equal(new Set(seven).size, 7);
  assert.deepEqual(seven.slice(0, 5), five);
  assert.equal(defaultPreviewScale([1, 28, 28]), 3);
  assert.equal(defaultPreviewScale([3, 32, 32]), 2);
});

test('renderPreviewGrid places upscaled cells after the margin and label column', () => {
  const shape = [1, 2, 2] as const;
  const rows = [
    { label: 'a', images: [Float32Array.from([0, 1, 0.5, 0.2])] },
    { label: 'bb', images: [Float32Array.from([1, 1, 1, 1]), Float32Array.from([-1, 2, Number.NaN, 0.25])] },
  ];
  const raster = renderPreviewGrid(rows, shape, { scale: 3, margin: 2, labels: false });
  assert.equal(raster.channels, 1);
  assert.equal(raster.width, 2 + 2 * (6 + 2));
  assert.equal(raster.height, 2 + 2 * (6 + 2));
  const at = (x: number, y: number): number => raster.pixels[y * raster.width + x];
  assert.equal(at(2, 2), 0); // row 0, cell 0, pixel (0, 0) = 0
  assert.equal(at(7, 4), 255); // pixel (0, 1) = 1, upscaled: columns 5..7
  assert.equal(at(2, 5), 128); // pixel (1, 0) = 0.5
  assert.equal(at(10 + 0, 10 + 0), 0); // row 1, cell 1: -1 clamps to 0
  assert.equal(at(10 + 3, 10 + 0), 255); // 2 clamps to 255
  assert.equal(at(10 + 0, 10 + 3), 0); // NaN shows black
  assert.equal(at(0, 0), 255); // margin is white
  const labelled = renderPreviewGrid(rows, shape, { scale: 3, margin: 2 });
  assert.ok(labelled.width > raster.width);
  const labelColumn = labelled.pixels.filter((_, i) => i % labelled.width < labelled.width - raster.width + 2);
  assert.ok(labelColumn.some((v) => v === 0), 'label text drawn');
  assert.throws(() => renderPreviewGrid([{ label: 'x', images: [new Float32Array(3)] }], shape), /has 3 values, expected 1x2x2/);
});

test('previewImages writes a decodable RGB PNG: clean row first, then each transform on a copy', () => {
  const data = colourDataset();
  const seenInputs: number[] = [];
  const transforms: PreviewTransform[] = [
    {
      name: 'darken',
      apply: (image, channels, height, width) => {
        assert.deepEqual([channels, height, width], [3, 4, 4]);
        seenInputs.push(image[0]);
        for (let i = 0; i < image.length; i++) image[i] *= 0.5; // mutates its input: must not leak into 'clean'
        return image;
      },
    },
  ];
  const outPath = join(dir, 'colours.png');
  const result = previewImages(data, { outPath, count: 3, scale: 2, margin: 1, labels: false }, transforms);
  assert.deepEqual(result.rowLabels, ['clean', 'darken']);
  assert.equal(result.indices.length, 3);
  const png = decodeSimplePng(readFileSync(outPath));
  assert.equal(png.colourType, 2);
  assert.equal(png.width, 1 + 3 * (8 + 1));
  assert.equal(png.height, 1 + 2 * (8 + 1));
  assert.deepEqual([png.width, png.height], [result.width, result.height]);
  const rgbAt = (x: number, y: number): number[] => [...png.pixels.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)];
  result.indices.forEach((index, k) => {
    const expected = [0, 1, 2].map((c) => 10 * index + 50 * c);
    assert.deepEqual(rgbAt(1 + k * 9, 1), expected, `clean cell ${k}`);
    assert.deepEqual(rgbAt(1 + k * 9 + 7, 1 + 7), expected);
    assert.deepEqual(rgbAt(1 + k * 9, 10), expected.map((v) => Math.round(v / 2)), `darkened cell ${k}`);
    assert.equal(seenInputs[k], Math.fround((10 * index) / 255));
  });
});

const fashionMissing = existsSync(FASHION_MNIST_DEFAULT_DIR) ? undefined : `${FASHION_MNIST_DEFAULT_DIR} not present`;

test('previewDataset renders real Fashion-MNIST test images upscaled to 84x84, grayscale', { skip: fashionMissing }, () => {
  const outPath = join(dir, 'fashion.png');
  const invert: PreviewTransform = { name: 'invert', apply: (image) => image.map((v) => 1 - v) };
  const result = previewDataset('fashion-mnist', { outPath, count: 10 }, [invert]);
  const png = decodeSimplePng(readFileSync(outPath));
  assert.equal(png.colourType, 0);
  assert.deepEqual([png.width, png.height], [result.width, result.height]);
  assert.equal(png.height, 4 + 2 * (84 + 4));
  assert.deepEqual(result.rowLabels, ['clean', 'invert']);
});
