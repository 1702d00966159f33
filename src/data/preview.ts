/**
 * PNG previews of a dataset: a grid with one row per variant (clean first, then each
 * transform, e.g. a corruption), the same sample images in every row, and the row's
 * name written at its left in a tiny 3x5 pixel font.
 *
 * Layout (all sizes in output pixels; s = upscale factor, m = margin):
 *
 * ```
 * m | label column | m | cell (W*s) | m | cell | ... | m        one row per variant,
 *                                                              rows separated by m
 * ```
 *
 * Small images are upscaled by nearest neighbour (default: the smallest s with
 * max(H, W) * s >= 64, so 28x28 becomes 84x84).
 *
 * @example
 * previewDataset('fashion-mnist', { outPath: '/tmp/fmnist.png', count: 10 }, [
 *   { name: 'inverted', apply: (image) => image.map((v) => 1 - v) },
 * ]);
 */
import { ConfigError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import {
  datasetSize,
  imageSize,
  loadDatasetSplit,
  type DatasetLoadOptions,
  type DatasetSplitName,
  type ImageDataset,
  type ImageShape,
} from './dataset.js';
import './datasets.js'; // registers the built-in datasets previewDataset looks up by name
import { writePng, type RasterImage } from './png.js';

/** A named image transform for a preview row: CHW floats in [0, 1] in, same shape out. */
export interface PreviewTransform {
  name: string;
  apply(image: Float32Array, channels: number, height: number, width: number): Float32Array;
}

/** One grid row: a label and its images (CHW floats in [0, 1], all of one shape). */
export interface PreviewRow {
  label: string;
  images: Float32Array[];
}

export interface PreviewGridOptions {
  /** Nearest-neighbour upscale factor; default: smallest with max(H, W) * scale >= 64. */
  scale?: number;
  /** Pixels between and around cells. Default 4. */
  margin?: number;
  /** Write row labels at the left. Default true. */
  labels?: boolean;
}

export interface PreviewDatasetOptions extends DatasetLoadOptions, PreviewGridOptions {
  /** Where to write the PNG. */
  outPath: string;
  /** Images per row. Default 8. */
  count?: number;
  /** Which split to sample. Default 'test'. */
  split?: DatasetSplitName;
  /** Seed of the sample. Default 0. */
  seed?: number;
}

/** What a written preview holds. */
export interface PreviewResult {
  path: string;
  width: number;
  height: number;
  rowLabels: string[];
  /** Dataset indices of the images shown, left to right. */
  indices: number[];
}

const BACKGROUND = 255;
const TEXT = 0;
const GLYPH_WIDTH = 3;
const GLYPH_HEIGHT = 5;
const TEXT_SCALE = 2;

/** Default upscale factor: the smallest s with max(H, W) * s >= 64. */
export function defaultPreviewScale(shape: ImageShape): number {
  return Math.max(1, Math.ceil(64 / Math.max(shape[1], shape[2])));
}

/** Image `index` of a dataset as CHW floats in [0, 1]. */
export function imageAsUnitFloats(dataset: ImageDataset, index: number): Float32Array {
  const per = imageSize(dataset.imageShape);
  const out = new Float32Array(per);
  const src = dataset.images;
  for (let p = 0, s = index * per; p < per; p++, s++) out[p] = src[s] / 255;
  return out;
}

/**
 * Up to `count` sample indices: one image of each class first (classes in order, each the
 * first of its class in a seeded shuffle), then more from that shuffle if count > classes.
 */
export function pickPreviewIndices(dataset: ImageDataset, count: number, seed: number): number[] {
  const order = new Rng(seed).permutation(datasetSize(dataset));
  const firstOfClass = new Map<number, number>();
  for (const i of order) if (!firstOfClass.has(dataset.labels[i])) firstOfClass.set(dataset.labels[i], i);
  const picked = [...firstOfClass.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([, i]) => i)
    .slice(0, count);
  const taken = new Set(picked);
  for (const i of order) {
    if (picked.length >= count) break;
    if (!taken.has(i)) picked.push(i);
  }
  return picked;
}

/** Draws the grid into an 8-bit image (grayscale for 1 channel, RGB for 3). */
export function renderPreviewGrid(rows: PreviewRow[], shape: ImageShape, options: PreviewGridOptions = {}): RasterImage {
  const [channels, height, width] = shape;
  if (channels !== 1 && channels !== 3) throw new ConfigError('preview', `images must have 1 or 3 channels, got ${channels}`);
  const scale = options.scale ?? defaultPreviewScale(shape);
  const margin = options.margin ?? 4;
  const columns = Math.max(0, ...rows.map((r) => r.images.length));
  const labelWidth = options.labels === false ? 0 : Math.max(0, ...rows.map((r) => textWidth(r.label))) + margin;
  const cellWidth = width * scale;
  const cellHeight = height * scale;
  const outWidth = margin + labelWidth + columns * (cellWidth + margin);
  const outHeight = margin + rows.length * (cellHeight + margin);
  const pixels = new Uint8Array(outWidth * outHeight * channels).fill(BACKGROUND);
  const raster: RasterImage = { width: outWidth, height: outHeight, channels, pixels };
  rows.forEach((row, r) => {
    const top = margin + r * (cellHeight + margin);
    if (options.labels !== false) drawText(raster, row.label, margin, top + Math.floor((cellHeight - GLYPH_HEIGHT * TEXT_SCALE) / 2));
    row.images.forEach((image, k) => {
      if (image.length !== channels * height * width) {
        throw new ConfigError(
          'preview',
          `row '${row.label}' image ${k} has ${image.length} values, expected ${channels}x${height}x${width}`,
        );
      }
      drawImage(raster, image, shape, scale, margin + labelWidth + k * (cellWidth + margin), top);
    });
  });
  return raster;
}

/** Renders the grid and writes it as a PNG (row labels also stored in a tEXt "Comment"). */
export function writePreviewGrid(rows: PreviewRow[], shape: ImageShape, outPath: string, options: PreviewGridOptions = {}): RasterImage {
  const raster = renderPreviewGrid(rows, shape, options);
  writePng(outPath, raster, { Comment: `rows: ${rows.map((r) => r.label).join(', ')}` });
  return raster;
}

/**
 * Preview of a dataset already in memory: row "clean", then one row per transform, each
 * applied to a fresh copy of the clean images.
 */
export function previewImages(dataset: ImageDataset, options: PreviewDatasetOptions, transforms: PreviewTransform[] = []): PreviewResult {
  const indices = pickPreviewIndices(dataset, options.count ?? 8, options.seed ?? 0);
  const [channels, height, width] = dataset.imageShape;
  const clean = indices.map((i) => imageAsUnitFloats(dataset, i));
  const rows: PreviewRow[] = [{ label: 'clean', images: clean }];
  for (const transform of transforms) {
    rows.push({ label: transform.name, images: clean.map((image) => transform.apply(image.slice(), channels, height, width)) });
  }
  const raster = writePreviewGrid(rows, dataset.imageShape, options.outPath, options);
  return { path: options.outPath, width: raster.width, height: raster.height, rowLabels: rows.map((r) => r.label), indices };
}

/**
 * Loads a registered dataset's split (test by default) and writes its preview grid.
 *
 * @example
 * previewDataset('cifar10', { dir: '/data/cifar-10-batches-bin', outPath: 'preview.png' }, corruptionTransforms);
 */
export function previewDataset(datasetName: string, options: PreviewDatasetOptions, transforms: PreviewTransform[] = []): PreviewResult {
  const dataset = loadDatasetSplit(datasetName, options.split ?? 'test', options);
  return previewImages(dataset, options, transforms);
}

function drawImage(raster: RasterImage, image: Float32Array, shape: ImageShape, scale: number, left: number, top: number): void {
  const [channels, height, width] = shape;
  const plane = height * width;
  for (let y = 0; y < height * scale; y++) {
    const sy = Math.floor(y / scale);
    let o = ((top + y) * raster.width + left) * channels;
    for (let x = 0; x < width * scale; x++) {
      const s = sy * width + Math.floor(x / scale);
      for (let c = 0; c < channels; c++) raster.pixels[o++] = toByte(image[c * plane + s]);
    }
  }
}

function toByte(value: number): number {
  if (!(value > 0)) return 0; // NaN too
  if (value >= 1) return 255;
  return Math.round(value * 255);
}

function textWidth(text: string): number {
  return text.length === 0 ? 0 : (text.length * (GLYPH_WIDTH + 1) - 1) * TEXT_SCALE;
}

function drawText(raster: RasterImage, text: string, left: number, top: number): void {
  let x0 = left;
  for (const char of text.toUpperCase()) {
    const glyph = GLYPHS[char] ?? GLYPHS['?'];
    for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
      for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
        if (glyph[gy][gx] !== '#') continue;
        fillRect(raster, x0 + gx * TEXT_SCALE, top + gy * TEXT_SCALE, TEXT_SCALE, TEXT_SCALE, TEXT);
      }
    }
    x0 += (GLYPH_WIDTH + 1) * TEXT_SCALE;
  }
}

function fillRect(raster: RasterImage, left: number, top: number, w: number, h: number, value: number): void {
  for (let y = Math.max(0, top); y < Math.min(raster.height, top + h); y++) {
    for (let x = Math.max(0, left); x < Math.min(raster.width, left + w); x++) {
      raster.pixels.fill(value, (y * raster.width + x) * raster.channels, (y * raster.width + x + 1) * raster.channels);
    }
  }
}

/** A 3x5 pixel font: letters (upper case), digits and a few signs; '#' = ink. */
// prettier-ignore
const GLYPHS: Record<string, readonly string[]> = {
  A: ['.#.', '#.#', '###', '#.#', '#.#'], B: ['##.', '#.#', '##.', '#.#', '##.'], C: ['.##', '#..', '#..', '#..', '.##'],
  D: ['##.', '#.#', '#.#', '#.#', '##.'], E: ['###', '#..', '##.', '#..', '###'], F: ['###', '#..', '##.', '#..', '#..'],
  G: ['.##', '#..', '#.#', '#.#', '.##'], H: ['#.#', '#.#', '###', '#.#', '#.#'], I: ['###', '.#.', '.#.', '.#.', '###'],
  J: ['..#', '..#', '..#', '#.#', '.#.'], K: ['#.#', '#.#', '##.', '#.#', '#.#'], L: ['#..', '#..', '#..', '#..', '###'],
  M: ['#.#', '###', '###', '#.#', '#.#'], N: ['##.', '#.#', '#.#', '#.#', '#.#'], O: ['.#.', '#.#', '#.#', '#.#', '.#.'],
  P: ['##.', '#.#', '##.', '#..', '#..'], Q: ['.#.', '#.#', '#.#', '##.', '.##'], R: ['##.', '#.#', '##.', '#.#', '#.#'],
  S: ['.##', '#..', '.#.', '..#', '##.'], T: ['###', '.#.', '.#.', '.#.', '.#.'], U: ['#.#', '#.#', '#.#', '#.#', '###'],
  V: ['#.#', '#.#', '#.#', '#.#', '.#.'], W: ['#.#', '#.#', '###', '###', '#.#'], X: ['#.#', '#.#', '.#.', '#.#', '#.#'],
  Y: ['#.#', '#.#', '.#.', '.#.', '.#.'], Z: ['###', '..#', '.#.', '#..', '###'],
  '0': ['###', '#.#', '#.#', '#.#', '###'], '1': ['.#.', '##.', '.#.', '.#.', '###'], '2': ['##.', '..#', '.#.', '#..', '###'],
  '3': ['##.', '..#', '.#.', '..#', '##.'], '4': ['#.#', '#.#', '###', '..#', '..#'], '5': ['###', '#..', '##.', '..#', '##.'],
  '6': ['.##', '#..', '###', '#.#', '###'], '7': ['###', '..#', '.#.', '.#.', '.#.'], '8': ['###', '#.#', '###', '#.#', '###'],
  '9': ['###', '#.#', '###', '..#', '##.'],
  ' ': ['...', '...', '...', '...', '...'], _: ['...', '...', '...', '...', '###'], '-': ['...', '...', '###', '...', '...'],
  '.': ['...', '...', '...', '...', '.#.'], '/': ['..#', '..#', '.#.', '#..', '#..'], '=': ['...', '###', '...', '###', '...'],
  '(': ['.#.', '#..', '#..', '#..', '.#.'], ')': ['.#.', '..#', '..#', '..#', '.#.'], ':': ['...', '.#.', '...', '.#.', '...'],
  '?': ['##.', '..#', '.#.', '...', '.#.'],
};
