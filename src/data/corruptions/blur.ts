/**
 * Blur corruptions of CIFAR-10-C: defocus, glass, motion and zoom blur.
 * Pixel-unit parameters are multiplied by `pixelScale` (1 up to 45 px a
 * side, see image-size.ts); zoom factors are relative and need no scaling.
 */
import { defineCorruption } from './types.js';
import { mapPlanes } from './planes.js';
import { pixelScale } from './image-size.js';
import { filter2d, fixedSizeGaussianKernel, gaussianBlurPlane } from './filters.js';
import { motionBlurPlane, motionKernel } from './motion-kernel.js';
import { applySparse, clippedZoomAverageOperator, type SparseOperator } from './resample.js';

/**
 * The anti-aliased disk of CIFAR-10-C's defocus blur, as a square kernel:
 * the pixels with `i² + j² <= radius²`, normalized, then blurred by a
 * `ksize×ksize` Gaussian of σ = `aliasBlur` (ksize 3, or 5 for radius > 8).
 */
export function defocusKernel(radius: number, aliasBlur: number): { kernel: Float64Array; size: number } {
  const r = Math.floor(radius);
  const diskSize = 2 * r + 1;
  const disk = new Float64Array(diskSize * diskSize);
  let count = 0;
  for (let j = -r; j <= r; j++) {
    for (let i = -r; i <= r; i++) {
      if (i * i + j * j <= radius * radius) {
        disk[(j + r) * diskSize + i + r] = 1;
        count++;
      }
    }
  }
  const gauss = fixedSizeGaussianKernel(radius <= 8 ? 3 : 5, aliasBlur);
  const g = (gauss.length - 1) / 2;
  const size = diskSize + 2 * g;
  const kernel = new Float64Array(size * size);
  for (let j = 0; j < diskSize; j++) {
    for (let i = 0; i < diskSize; i++) {
      const v = disk[j * diskSize + i] / count;
      if (v === 0) continue;
      for (let b = 0; b < gauss.length; b++) {
        for (let a = 0; a < gauss.length; a++) kernel[(j + b) * size + i + a] += v * gauss[b] * gauss[a];
      }
    }
  }
  return { kernel, size };
}

/** Defocus blur: correlation with an anti-aliased disk (OpenCV `filter2D`, reflect-101 border). */
export const defocusBlur = defineCorruption<{ readonly radius: number; readonly aliasBlur: number }>({
  name: 'defocus_blur',
  category: 'blur',
  description: 'Out-of-focus lens: convolution with an anti-aliased disk of the given radius.',
  paramsBySeverity: [
    { radius: 0.3, aliasBlur: 0.4 },
    { radius: 0.4, aliasBlur: 0.5 },
    { radius: 0.5, aliasBlur: 0.6 },
    { radius: 1, aliasBlur: 0.2 },
    { radius: 1.5, aliasBlur: 0.1 },
  ],
  usesRandomness: false,
  corrupt: (image, shape, { radius, aliasBlur }) => {
    const scale = pixelScale(shape);
    const { kernel, size } = defocusKernel(radius * scale, aliasBlur * scale);
    return mapPlanes(image, shape, (plane) => filter2d(plane, shape.height, shape.width, kernel, size, 'reflect101'));
  },
});

/**
 * Glass blur (frosted glass): Gaussian blur, quantize to 8 bits, then
 * `iterations` sweeps that swap each pixel (bottom-right to top-left, all
 * channels together) with a neighbour offset by (dy, dx) drawn uniformly
 * from [-maxDelta, maxDelta-1]², then blur again.
 */
export const glassBlur = defineCorruption<{ readonly sigma: number; readonly maxDelta: number; readonly iterations: number }>({
  name: 'glass_blur',
  category: 'blur',
  description: 'Frosted glass: blur, locally shuffle pixels with their neighbours, blur again.',
  paramsBySeverity: [
    { sigma: 0.05, maxDelta: 1, iterations: 1 },
    { sigma: 0.25, maxDelta: 1, iterations: 1 },
    { sigma: 0.4, maxDelta: 1, iterations: 1 },
    { sigma: 0.25, maxDelta: 1, iterations: 2 },
    { sigma: 0.4, maxDelta: 1, iterations: 2 },
  ],
  usesRandomness: true,
  corrupt: (image, shape, { sigma, maxDelta, iterations }, rng) => {
    const { channels, height, width } = shape;
    const pixels = height * width;
    const scale = pixelScale(shape);
    const s = sigma * scale;
    const delta = Math.max(1, Math.round(maxDelta * scale));
    // The original blurs (scikit-image `gaussian`, mode 'nearest') and truncates to uint8.
    const blurred = mapPlanes(image, shape, (plane) =>
      gaussianBlurPlane(plane, height, width, s, 'nearest').map((v) => Math.floor(Math.min(Math.max(v, 0), 1) * 255) / 255),
    );
    for (let it = 0; it < iterations; it++) {
      for (let y = height - delta; y > delta; y--) {
        for (let x = width - delta; x > delta; x--) {
          const dx = rng.int(2 * delta) - delta;
          const dy = rng.int(2 * delta) - delta;
          const here = y * width + x;
          const there = (y + dy) * width + (x + dx);
          for (let c = 0; c < channels; c++) {
            const tmp = blurred[c * pixels + here];
            blurred[c * pixels + here] = blurred[c * pixels + there];
            blurred[c * pixels + there] = tmp;
          }
        }
      }
    }
    return mapPlanes(blurred, shape, (plane) => gaussianBlurPlane(plane, height, width, s, 'nearest'));
  },
});

/**
 * Motion blur (ImageMagick `motion_blur(radius, sigma, angle)`): a
 * one-sided line kernel of `2·ceil(radius)+1` Gaussian-weighted taps at an
 * angle drawn uniformly from [-45°, 45°].
 */
export const motionBlur = defineCorruption<{ readonly radius: number; readonly sigma: number }>({
  name: 'motion_blur',
  category: 'blur',
  description: 'Camera shake: a Gaussian-weighted line kernel at a random angle in [-45, 45] degrees.',
  paramsBySeverity: [
    { radius: 6, sigma: 1 },
    { radius: 6, sigma: 1.5 },
    { radius: 6, sigma: 2 },
    { radius: 8, sigma: 2 },
    { radius: 9, sigma: 2.5 },
  ],
  usesRandomness: true,
  corrupt: (image, shape, { radius, sigma }, rng) => {
    const scale = pixelScale(shape);
    const kernel = motionKernel(radius * scale, sigma * scale, rng.uniformRange(-45, 45));
    return mapPlanes(image, shape, (plane) => motionBlurPlane(plane, shape.height, shape.width, kernel));
  },
});

/**
 * `count` zoom factors `1 + i·δ`, i = 0..count-1, as numpy's
 * `arange(1, end, 0.01)` computes them: δ = (1 + 0.01) - 1 in floating
 * point (0.010000000000000009), which decides `round(ch·z)` at ties.
 */
function zoomFactors(count: number): readonly number[] {
  const step = 1 + 0.01 - 1;
  return Array.from({ length: count }, (_, i) => 1 + i * step);
}

/**
 * Zoom blur: the mean of the image and its clipped zooms,
 * `(x + Σ_z zoom_z(x)) / (n + 1)` over the n factors (the factor 1 included,
 * so the clean image counts twice, as in the original).
 */
export const zoomBlur = defineCorruption<{ readonly zooms: readonly number[] }>({
  name: 'zoom_blur',
  category: 'blur',
  description: 'Fast zoom towards the centre: the average of the image zoomed by 1.00..1.25.',
  paramsBySeverity: [
    { zooms: zoomFactors(7) },
    { zooms: zoomFactors(12) },
    { zooms: zoomFactors(16) },
    { zooms: zoomFactors(21) },
    { zooms: zoomFactors(26) },
  ],
  usesRandomness: false,
  corrupt: (image, shape, { zooms }) => {
    const op = zoomOperator(shape.height, shape.width, zooms);
    return mapPlanes(image, shape, (plane) => applySparse(op, plane));
  },
});

/** Zoom-blur operators by size and zoom list: a data set reuses one per severity. */
const zoomOperatorCache = new Map<string, SparseOperator>();
const ZOOM_OPERATOR_CACHE_SIZE = 16;

function zoomOperator(height: number, width: number, zooms: readonly number[]): SparseOperator {
  const key = `${height}x${width}:${zooms.join(',')}`;
  let op = zoomOperatorCache.get(key);
  if (op === undefined) {
    op = clippedZoomAverageOperator(height, width, zooms);
    if (zoomOperatorCache.size >= ZOOM_OPERATOR_CACHE_SIZE) zoomOperatorCache.clear();
    zoomOperatorCache.set(key, op);
  }
  return op;
}
