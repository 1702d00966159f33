/**
 * Training augmentation fused with normalization: one pass from a uint8 CHW image to
 * a normalized float32 CHW image.
 *
 * Normalization, per channel c (mean/std in units of pixel/255):
 *
 *     out = (pixel / 255 - mean[c]) / std[c]
 *
 * computed once per (channel, byte value) into a lookup table, so the float32 result is
 * exactly fround of that formula.
 *
 * Augmentation, in torchvision's order for CIFAR training:
 *
 * 1. random crop with zero padding p: pad the image with p zero pixels per side and
 *    crop H x W at offset (dy, dx), dy, dx ~ U{0..2p}; i.e. out(y, x) = in(y + dy - p, x + dx - p),
 *    zero where that falls outside (zero = black, before normalization);
 * 2. horizontal flip with probability 1/2: out(y, x) = in(y, W - 1 - x);
 * 3. optional rotation of the result by an angle ~ U(-r, r) degrees about the image centre
 *    ((W-1)/2, (H-1)/2), bilinear, zero outside the cropped image.
 *
 * The composition samples the source image once (no intermediate image). Random draws come
 * from an Rng the caller derives from (seed, epoch, batch).
 *
 * @example
 * const tables = normalizationTables([0.4914, 0.4822, 0.4465], [0.247, 0.2435, 0.2616]);
 * const params = drawAugmentParams(rng, { cropPadding: 4, horizontalFlip: true });
 * augmentNormalizedInto(images, i * 3072, [3, 32, 32], params, tables, out, k * 3072);
 */
import { ConfigError } from '../util/errors.js';
import type { Rng } from '../util/rng.js';
import type { ImageShape } from './dataset.js';

/** Which augmentations to apply; all off when omitted. */
export interface AugmentOptions {
  /** Zero padding per side for the random crop, in pixels (0 = no crop). CIFAR: 4. */
  cropPadding?: number;
  /** Flip horizontally with probability 1/2. */
  horizontalFlip?: boolean;
  /** Maximum rotation in degrees; the angle is uniform in [-r, r] (0 = no rotation). */
  rotationDegrees?: number;
}

/** One image's random draw. */
export interface AugmentParams {
  /** Source row = output row + shiftY (crop offset dy - padding). */
  shiftY: number;
  /** Source column = (flipped) output column + shiftX. */
  shiftX: number;
  flip: boolean;
  /** Rotation angle in radians (0 = none). */
  angleRadians: number;
}

/** Per-channel normalization: a 256-entry lookup table per channel, plus scale and offset for fractional values. */
export interface NormalizationTables {
  /** lut[c * 256 + v] = fround((v / 255 - mean[c]) / std[c]). */
  lut: Float32Array;
  /** scale[c] = 1 / (255 * std[c]); offset[c] = -mean[c] / std[c]. */
  scale: Float64Array;
  offset: Float64Array;
}

/** Checks augmentation options, returning them with defaults filled in. */
export function resolveAugmentOptions(options: AugmentOptions): Required<AugmentOptions> {
  const cropPadding = options.cropPadding ?? 0;
  const rotationDegrees = options.rotationDegrees ?? 0;
  if (!Number.isInteger(cropPadding) || cropPadding < 0) {
    throw new ConfigError('data.augment.cropPadding', `must be a non-negative integer, got ${cropPadding}`);
  }
  if (!(rotationDegrees >= 0 && rotationDegrees <= 180)) {
    throw new ConfigError('data.augment.rotationDegrees', `must be in [0, 180], got ${rotationDegrees}`);
  }
  return { cropPadding, horizontalFlip: options.horizontalFlip ?? false, rotationDegrees };
}

/** Builds the normalization tables for per-channel mean and std. */
export function normalizationTables(mean: readonly number[], std: readonly number[]): NormalizationTables {
  const channels = mean.length;
  if (std.length !== channels) throw new ConfigError('data.std', `has ${std.length} entries, mean has ${channels}`);
  const lut = new Float32Array(channels * 256);
  const scale = new Float64Array(channels);
  const offset = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    if (!(std[c] > 0)) throw new ConfigError('data.std', `std[${c}] must be positive, got ${std[c]}`);
    scale[c] = 1 / (255 * std[c]);
    offset[c] = -mean[c] / std[c];
    for (let v = 0; v < 256; v++) lut[c * 256 + v] = (v / 255 - mean[c]) / std[c];
  }
  return { lut, scale, offset };
}

/**
 * Draws one image's augmentation. Draw order (for reproducibility): crop dy, crop dx (when
 * cropPadding > 0), flip (when enabled), angle (when rotationDegrees > 0).
 */
export function drawAugmentParams(rng: Rng, options: Required<AugmentOptions>): AugmentParams {
  const p = options.cropPadding;
  const shiftY = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const shiftX = p > 0 ? rng.int(2 * p + 1) - p : 0;
  const flip = options.horizontalFlip ? rng.uniform() < 0.5 : false;
  const r = options.rotationDegrees;
  const angleRadians = r > 0 ? (rng.uniformRange(-r, r) * Math.PI) / 180 : 0;
  return { shiftY, shiftX, flip, angleRadians };
}

/** Normalizes one uint8 CHW image into `out` at `outOffset`, without augmentation. */
export function normalizeInto(
  src: Uint8Array,
  srcOffset: number,
  shape: ImageShape,
  tables: NormalizationTables,
  out: Float32Array,
  outOffset: number,
): void {
  const plane = shape[1] * shape[2];
  const lut = tables.lut;
  for (let c = 0; c < shape[0]; c++) {
    const base = c * 256;
    let s = srcOffset + c * plane;
    let o = outOffset + c * plane;
    const end = o + plane;
    while (o < end) out[o++] = lut[base + src[s++]];
  }
}

/** Augments and normalizes one uint8 CHW image into `out` at `outOffset`. */
export function augmentNormalizedInto(
  src: Uint8Array,
  srcOffset: number,
  shape: ImageShape,
  params: AugmentParams,
  tables: NormalizationTables,
  out: Float32Array,
  outOffset: number,
): void {
  const augment = params.angleRadians !== 0 ? rotateCropFlipInto : cropFlipInto;
  augment(src, srcOffset, shape, params, tables, out, outOffset);
}

/** augmentNormalizedInto's contract, which both of its paths (with and without rotation) implement. */
type AugmentNormalizedInto = typeof augmentNormalizedInto;

/**
 * The part of the cropped, flipped image A that reads the source rather than the
 * padding: rows [yLow, yHigh), columns [xLow, xHigh) (either may be empty).
 */
function sourceWindow(height: number, width: number, params: AugmentParams): { yLow: number; yHigh: number; xLow: number; xHigh: number } {
  const { shiftY, shiftX, flip } = params;
  return {
    yLow: Math.max(0, -shiftY),
    yHigh: Math.min(height, height - shiftY),
    xLow: flip ? Math.max(0, shiftX) : Math.max(0, -shiftX),
    xHigh: flip ? Math.min(width, width + shiftX) : Math.min(width, width - shiftX),
  };
}

/** Integer crop + flip: each output row is a shifted (maybe reversed) source row with zero fill. */
const cropFlipInto: AugmentNormalizedInto = (src, srcOffset, shape, params, tables, out, outOffset) => {
  const [channels, height, width] = shape;
  const { shiftY, shiftX, flip } = params;
  const lut = tables.lut;
  // Output rows [yLow, yHigh) and columns [x0, x1) read the source; the rest is padding.
  const { yLow, yHigh, xLow: x0, xHigh: x1 } = sourceWindow(height, width, params);
  for (let c = 0; c < channels; c++) {
    const base = c * 256;
    const pad = lut[base];
    for (let y = 0; y < height; y++) {
      const o = outOffset + (c * height + y) * width;
      if (y < yLow || y >= yHigh || x0 >= x1) {
        out.fill(pad, o, o + width);
        continue;
      }
      const row = srcOffset + (c * height + y + shiftY) * width;
      for (let x = 0; x < x0; x++) out[o + x] = pad;
      if (flip) {
        let s = row + width - 1 - x0 + shiftX;
        for (let x = x0; x < x1; x++) out[o + x] = lut[base + src[s--]];
      } else {
        let s = row + x0 + shiftX;
        for (let x = x0; x < x1; x++) out[o + x] = lut[base + src[s++]];
      }
      for (let x = x1; x < width; x++) out[o + x] = pad;
    }
  }
};

/**
 * Rotation of the cropped, flipped image A (crop and flip folded into the sampling): for
 * output (y, x), the point of A it comes from is
 *
 *     u = x - cx, v = y - cy
 *     xa = cos(a) u + sin(a) v + cx,  ya = -sin(a) u + cos(a) v + cy
 *
 * sampled bilinearly from A's four neighbouring pixels, each zero when it lies outside A
 * (the crop window) and otherwise read from the source at (yi + shiftY, (flip ? W-1-xi : xi) + shiftX),
 * zero outside the source (the padding). Taps and weights are computed once and shared by all channels.
 */
const rotateCropFlipInto: AugmentNormalizedInto = (src, srcOffset, shape, params, tables, out, outOffset) => {
  const [channels, height, width] = shape;
  const plane = height * width;
  const { neighbours, weights } = bilinearTaps(shape, params);
  for (let c = 0; c < channels; c++) {
    const base = srcOffset + c * plane;
    const scale = tables.scale[c];
    const offset = tables.offset[c];
    let o = outOffset + c * plane;
    for (let p = 0, t = 0; p < plane; p++, t += 4) {
      const value =
        src[base + neighbours[t]] * weights[t] +
        src[base + neighbours[t + 1]] * weights[t + 1] +
        src[base + neighbours[t + 2]] * weights[t + 2] +
        src[base + neighbours[t + 3]] * weights[t + 3];
      out[o++] = value * scale + offset;
    }
  }
};

let tapScratch: { size: number; neighbours: Int32Array; weights: Float64Array } | null = null;

/**
 * For each output pixel, the source plane offsets of its four bilinear neighbours and their
 * weights; a neighbour that reads padding gets weight 0 (and offset 0, any valid pixel).
 */
function bilinearTaps(shape: ImageShape, params: AugmentParams): { neighbours: Int32Array; weights: Float64Array } {
  const [, height, width] = shape;
  const plane = height * width;
  if (tapScratch === null || tapScratch.size !== plane) {
    tapScratch = { size: plane, neighbours: new Int32Array(4 * plane), weights: new Float64Array(4 * plane) };
  }
  const taps = tapScratch;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const cos = Math.cos(params.angleRadians);
  const sin = Math.sin(params.angleRadians);
  const { shiftY, shiftX, flip } = params;
  const { yLow, yHigh, xLow, xHigh } = sourceWindow(height, width, params);
  const step = flip ? -1 : 1;
  const { neighbours, weights } = taps;
  let t = 0;
  for (let y = 0; y < height; y++) {
    const v = y - cy;
    for (let x = 0; x < width; x++, t += 4) {
      const u = x - cx;
      const ya = -sin * u + cos * v + cy;
      const xa = cos * u + sin * v + cx;
      const y0 = Math.floor(ya);
      const x0 = Math.floor(xa);
      const fy = ya - y0;
      const fx = xa - x0;
      if (y0 >= yLow && y0 + 1 < yHigh && x0 >= xLow && x0 + 1 < xHigh) {
        // All four neighbours read the source: the common case, without per-tap checks.
        const at = (y0 + shiftY) * width + (flip ? width - 1 - x0 : x0) + shiftX;
        neighbours[t] = at;
        neighbours[t + 1] = at + step;
        neighbours[t + 2] = at + width;
        neighbours[t + 3] = at + width + step;
        weights[t] = (1 - fy) * (1 - fx);
        weights[t + 1] = (1 - fy) * fx;
        weights[t + 2] = fy * (1 - fx);
        weights[t + 3] = fy * fx;
        continue;
      }
      setTap(taps, t, y0, x0, (1 - fy) * (1 - fx), params, height, width);
      setTap(taps, t + 1, y0, x0 + 1, (1 - fy) * fx, params, height, width);
      setTap(taps, t + 2, y0 + 1, x0, fy * (1 - fx), params, height, width);
      setTap(taps, t + 3, y0 + 1, x0 + 1, fy * fx, params, height, width);
    }
  }
  return taps;
}

/** Tap `t`: pixel (ya, xa) of the cropped, flipped image, mapped to the source, or weight 0. */
function setTap(
  taps: { neighbours: Int32Array; weights: Float64Array },
  t: number,
  ya: number,
  xa: number,
  weight: number,
  params: AugmentParams,
  height: number,
  width: number,
): void {
  const sy = ya + params.shiftY;
  const sx = (params.flip ? width - 1 - xa : xa) + params.shiftX;
  const inside = ya >= 0 && ya < height && xa >= 0 && xa < width && sy >= 0 && sy < height && sx >= 0 && sx < width;
  taps.neighbours[t] = inside ? sy * width + sx : 0;
  taps.weights[t] = inside ? weight : 0;
}
