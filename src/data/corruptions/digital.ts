/**
 * Digital corruptions of CIFAR-10-C: contrast, elastic transform, pixelate
 * and JPEG compression.
 */
import { defineCorruption } from './types.js';
import { mapPlanes } from './planes.js';
import { imageSide } from './image-size.js';
import { gaussianBlurPlane } from './filters.js';
import { affineFromPoints, applySampler, bilinearSampler, boxResizePlane, warpAffineSampler } from './resample.js';
import { jpegRoundTrip } from './jpeg.js';
import { TensorError } from '../../util/errors.js';

/** Contrast: `(x - μ_c)·factor + μ_c`, μ_c the mean of channel c over the image. */
export const contrast = defineCorruption<{ readonly factor: number }>({
  name: 'contrast',
  category: 'digital',
  description: 'Lower contrast: every channel pulled towards its mean, (x - mean) * factor + mean.',
  paramsBySeverity: [{ factor: 0.75 }, { factor: 0.5 }, { factor: 0.4 }, { factor: 0.3 }, { factor: 0.15 }],
  usesRandomness: false,
  corrupt: (image, shape, { factor }) =>
    mapPlanes(image, shape, (plane) => {
      let sum = 0;
      for (const v of plane) sum += v;
      const mean = sum / plane.length;
      return plane.map((x) => (x - mean) * factor + mean);
    }),
});

/**
 * Elastic transform, parameters as fractions of the image side L = √(H·W)
 * (the original's `IMSIZE * k`):
 * 1. a random affine warp: the three points centre ± L/3 are moved by
 *    U(-affine·L, affine·L) each coordinate (OpenCV `warpAffine`, bilinear,
 *    reflect-101 border);
 * 2. a smooth displacement field `d = alpha·L · G_{sigma·L} * U(-1, 1)` per
 *    axis (Gaussian truncated at 3σ, reflect border), resampled bilinearly:
 *    `out(y, x) = warped(y + d_y, x + d_x)`.
 */
export const elasticTransform = defineCorruption<{ readonly alpha: number; readonly sigma: number; readonly affine: number }>({
  name: 'elastic_transform',
  category: 'digital',
  description: 'Elastic deformation: a random affine warp plus a smooth random displacement field.',
  paramsBySeverity: [
    { alpha: 0, sigma: 0, affine: 0.08 },
    { alpha: 0.05, sigma: 0.2, affine: 0.07 },
    { alpha: 0.08, sigma: 0.06, affine: 0.06 },
    { alpha: 0.1, sigma: 0.04, affine: 0.05 },
    { alpha: 0.1, sigma: 0.03, affine: 0.03 },
  ],
  usesRandomness: true,
  corrupt: (image, shape, { alpha, sigma, affine }, rng) => {
    const { height, width } = shape;
    if (Math.min(height, width) < 3) {
      // The affine warp moves the points centre ± floor(min(H, W) / 3): below 3 pixels they coincide.
      throw new TensorError(
        `elastic_transform: needs images of at least 3x3 pixels, got ${height}x${width}; leave it out of the corruptions for smaller images`,
      );
    }
    const side = imageSide(shape);
    const cx = Math.floor(width / 2);
    const cy = Math.floor(height / 2);
    const half = Math.floor(Math.min(height, width) / 3);
    const from: [number, number][] = [
      [cx + half, cy + half],
      [cx + half, cy - half],
      [cx - half, cy - half],
    ];
    const jitter = affine * side;
    const to = from.map(([x, y]): [number, number] => [x + rng.uniformRange(-jitter, jitter), y + rng.uniformRange(-jitter, jitter)]);
    const matrix = affineFromPoints(from, to);
    const displacement = (): Float64Array => {
      const field = new Float64Array(height * width);
      if (alpha === 0) return field;
      for (let k = 0; k < field.length; k++) field[k] = rng.uniformRange(-1, 1);
      const smooth = gaussianBlurPlane(field, height, width, sigma * side, 'reflect', 3);
      for (let k = 0; k < smooth.length; k++) smooth[k] *= alpha * side;
      return smooth;
    };
    const dx = displacement();
    const dy = displacement();
    const warp = warpAffineSampler(height, width, matrix, 'reflect101');
    const ys = new Float64Array(height * width);
    const xs = new Float64Array(height * width);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        ys[y * width + x] = y + dy[y * width + x];
        xs[y * width + x] = x + dx[y * width + x];
      }
    }
    const displace = bilinearSampler(height, width, ys, xs, 'reflect');
    return mapPlanes(image, shape, (plane) => applySampler(displace, applySampler(warp, plane)));
  },
});

/**
 * Pixelate: Pillow BOX resize down to `trunc(ratio·W) × trunc(ratio·H)`
 * and back up (nearest-pixel), so blocks of 1-2 pixels merge.
 */
export const pixelate = defineCorruption<{ readonly ratio: number }>({
  name: 'pixelate',
  category: 'digital',
  description: 'Low resolution: box-downscale by ratio and upscale back to the original size.',
  paramsBySeverity: [{ ratio: 0.95 }, { ratio: 0.9 }, { ratio: 0.85 }, { ratio: 0.75 }, { ratio: 0.65 }],
  usesRandomness: false,
  corrupt: (image, shape, { ratio }) => {
    const { height, width } = shape;
    const smallH = Math.max(1, Math.trunc(height * ratio));
    const smallW = Math.max(1, Math.trunc(width * ratio));
    return mapPlanes(image, shape, (plane) =>
      boxResizePlane(boxResizePlane(plane, height, width, smallH, smallW), smallH, smallW, height, width),
    );
  },
});

/** JPEG compression at a quality factor: 8×8 DCT quantization with 4:2:0 chroma (see jpeg.ts). */
export const jpegCompression = defineCorruption<{ readonly quality: number }>({
  name: 'jpeg_compression',
  category: 'digital',
  description: 'JPEG artefacts: 8x8 DCT quantized with the IJG tables at quality 80..40, 4:2:0 chroma.',
  paramsBySeverity: [{ quality: 80 }, { quality: 65 }, { quality: 58 }, { quality: 50 }, { quality: 40 }],
  usesRandomness: false,
  corrupt: (image, shape, { quality }) => jpegRoundTrip(image, shape.channels, shape.height, shape.width, quality, '4:2:0'),
});
