/**
 * Weather corruptions of CIFAR-10-C: snow, frost (procedural substitute),
 * fog and brightness.
 */
import type { Rng } from '../../util/rng.js';
import { defineCorruption, type ImageShape } from './types.js';
import { clip01, mapPlanes } from './planes.js';
import { pixelScale } from './image-size.js';
import { lumaPlane, hsvToRgb, rgbToHsv } from './color.js';
import { gaussianBlurPlane } from './filters.js';
import { motionBlurPlane, motionKernel } from './motion-kernel.js';
import { clippedZoomPlane } from './resample.js';
import { plasmaLayer } from './plasma.js';

type SnowParams = {
  readonly mean: number;
  readonly std: number;
  readonly zoom: number;
  readonly threshold: number;
  readonly blurRadius: number;
  readonly blurSigma: number;
  readonly imageWeight: number;
};

/**
 * The snow layer: Gaussian noise N(mean, std²) per pixel, zoomed by `zoom`
 * (bigger flakes), values below `threshold` dropped, clipped and truncated
 * to 8 bits, then motion-blurred along an angle from [-135°, -45°] (falling
 * streaks).
 */
function snowLayer(shape: ImageShape, p: SnowParams, rng: Rng): Float64Array {
  const { height, width } = shape;
  const noise = new Float64Array(height * width);
  for (let k = 0; k < noise.length; k++) noise[k] = rng.normal(p.mean, p.std);
  const flakes = clippedZoomPlane(noise, height, width, p.zoom);
  for (let k = 0; k < flakes.length; k++) {
    flakes[k] = flakes[k] < p.threshold ? 0 : Math.floor(clip01(flakes[k]) * 255) / 255;
  }
  const scale = pixelScale(shape);
  const kernel = motionKernel(p.blurRadius * scale, p.blurSigma * scale, rng.uniformRange(-135, -45));
  return motionBlurPlane(flakes, height, width, kernel);
}

/**
 * Snow: whiten the image towards `max(x, 1.5·luma + 0.5)` with weight
 * `1 - imageWeight`, then add the snow layer and its 180° rotation.
 */
export const snow = defineCorruption<SnowParams>({
  name: 'snow',
  category: 'weather',
  description: 'Falling snow: a brightened image under motion-blurred random snowflakes.',
  paramsBySeverity: [
    { mean: 0.1, std: 0.2, zoom: 1, threshold: 0.6, blurRadius: 8, blurSigma: 3, imageWeight: 0.95 },
    { mean: 0.1, std: 0.2, zoom: 1, threshold: 0.5, blurRadius: 10, blurSigma: 4, imageWeight: 0.9 },
    { mean: 0.15, std: 0.3, zoom: 1.75, threshold: 0.55, blurRadius: 10, blurSigma: 4, imageWeight: 0.9 },
    { mean: 0.25, std: 0.3, zoom: 2.25, threshold: 0.6, blurRadius: 12, blurSigma: 6, imageWeight: 0.85 },
    { mean: 0.3, std: 0.3, zoom: 1.25, threshold: 0.65, blurRadius: 14, blurSigma: 12, imageWeight: 0.8 },
  ],
  usesRandomness: true,
  corrupt: (image, shape, params, rng) => {
    const pixels = shape.height * shape.width;
    const layer = snowLayer(shape, params, rng);
    const luma = lumaPlane(image, shape.channels, pixels);
    const w = params.imageWeight;
    return mapPlanes(image, shape, (plane) => {
      const out = new Float64Array(pixels);
      for (let p = 0; p < pixels; p++) {
        const x = plane[p];
        const whitened = w * x + (1 - w) * Math.max(x, 1.5 * luma[p] + 0.5);
        out[p] = whitened + layer[p] + layer[pixels - 1 - p];
      }
      return out;
    });
  },
});

/** Per-channel tint of the substitute frost layer on RGB images: slightly blue ice. */
const FROST_TINT = [0.9, 0.95, 1] as const;

/**
 * The procedural frost layer (NOT the paper's frost photographs, which are
 * not available here): a rough plasma fractal (wibble decay 1.6) for the
 * icy haze plus short random bright needles (about one per 7 pixels,
 * 2-6 px long at 32×32, scaled by pixelScale), lightly blurred. Mean about
 * 0.5, values in [0, 1].
 */
export function frostLayer(shape: ImageShape, rng: Rng): Float64Array {
  const { height, width } = shape;
  const scale = pixelScale(shape);
  const haze = plasmaLayer(height, width, 1.6, rng);
  const needles = new Float64Array(height * width);
  const count = Math.round((height * width) / 7);
  for (let n = 0; n < count; n++) {
    const x0 = rng.uniformRange(0, width);
    const y0 = rng.uniformRange(0, height);
    const angle = rng.uniformRange(0, Math.PI);
    const length = rng.uniformRange(2, 6) * scale;
    const brightness = rng.uniformRange(0.4, 1);
    for (let t = 0; t <= length; t += 0.5) {
      const x = Math.floor(x0 + t * Math.cos(angle));
      const y = Math.floor(y0 + t * Math.sin(angle));
      if (x < 0 || y < 0 || x >= width || y >= height) break;
      needles[y * width + x] = Math.max(needles[y * width + x], brightness);
    }
  }
  const softNeedles = gaussianBlurPlane(needles, height, width, 0.5 * scale, 'nearest');
  const layer = new Float64Array(height * width);
  for (let p = 0; p < layer.length; p++) layer[p] = clip01(0.25 + 0.45 * haze[p] + 0.6 * softNeedles[p]);
  return layer;
}

/**
 * Frost (procedural substitute): `imageWeight·x + frostWeight·frost` with
 * the published weights, but a generated frost layer instead of crops of
 * the paper's six frost photographs.
 */
export const frost = defineCorruption<{ readonly imageWeight: number; readonly frostWeight: number }>({
  name: 'frost',
  category: 'weather',
  description: "Frosted window (procedural substitute for the paper's frost photos): x*a + frost*b.",
  paramsBySeverity: [
    { imageWeight: 1, frostWeight: 0.2 },
    { imageWeight: 1, frostWeight: 0.3 },
    { imageWeight: 0.9, frostWeight: 0.4 },
    { imageWeight: 0.85, frostWeight: 0.4 },
    { imageWeight: 0.75, frostWeight: 0.45 },
  ],
  usesRandomness: true,
  matchesPublished: false,
  corrupt: (image, shape, { imageWeight, frostWeight }, rng) => {
    const layer = frostLayer(shape, rng);
    return mapPlanes(image, shape, (plane, c) => {
      const tint = shape.channels === 3 ? FROST_TINT[c] : 1;
      return plane.map((x, p) => imageWeight * x + frostWeight * tint * layer[p]);
    });
  },
});

/**
 * Fog: add a plasma fractal of amplitude `amount` (smoother for larger
 * `wibbleDecay`) and rescale by `max/(max + amount)`, max = the image's
 * largest value, so bright regions keep their level and contrast drops.
 */
export const fog = defineCorruption<{ readonly amount: number; readonly wibbleDecay: number }>({
  name: 'fog',
  category: 'weather',
  description: 'Fog: a plasma-fractal haze added and the image rescaled, lowering contrast.',
  paramsBySeverity: [
    { amount: 0.2, wibbleDecay: 3 },
    { amount: 0.5, wibbleDecay: 3 },
    { amount: 0.75, wibbleDecay: 2.5 },
    { amount: 1, wibbleDecay: 2 },
    { amount: 1.5, wibbleDecay: 1.75 },
  ],
  usesRandomness: true,
  corrupt: (image, shape, { amount, wibbleDecay }, rng) => {
    let max = 0;
    for (const v of image) if (v > max) max = v;
    const haze = plasmaLayer(shape.height, shape.width, wibbleDecay, rng);
    const rescale = max / (max + amount);
    return mapPlanes(image, shape, (plane) => plane.map((x, p) => (x + amount * haze[p]) * rescale));
  },
});

/**
 * Brightness: `V ← clip(V + delta)` in HSV for RGB images (hue and
 * saturation kept); a grayscale value is its own V, so `x + delta`.
 */
export const brightness = defineCorruption<{ readonly delta: number }>({
  name: 'brightness',
  category: 'weather',
  description: 'Brighter light: delta added to the HSV value channel (to the value itself for grayscale).',
  paramsBySeverity: [{ delta: 0.05 }, { delta: 0.1 }, { delta: 0.15 }, { delta: 0.2 }, { delta: 0.3 }],
  usesRandomness: false,
  corrupt: (image, shape, { delta }) => {
    if (shape.channels === 1) return mapPlanes(image, shape, (plane) => plane.map((x) => x + delta));
    const pixels = shape.height * shape.width;
    const { h, s, v } = rgbToHsv(image, pixels);
    for (let p = 0; p < pixels; p++) v[p] = clip01(v[p] + delta);
    return mapPlanes(hsvToRgb(h, s, v), shape, (plane) => plane);
  },
});
