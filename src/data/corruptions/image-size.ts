/**
 * How corruption parameters tuned for 32×32 CIFAR images carry over to
 * other sizes.
 *
 * Parameters the original code writes as fractions of the image (zoom
 * factors, pixelate ratio, elastic `IMSIZE * k`, the fog fractal's extent)
 * follow the size exactly. Parameters written in pixels (blur radii and
 * sigmas, glass-blur displacement, motion-blur length) are multiplied by
 * `pixelScale`: the ratio of the image's side to 32, rounded to a power of
 * two and never below 1,
 *
 *     pixelScale = max(1, 2^round(log2(sqrt(H·W) / 32))),
 *
 * so every size up to 45 pixels a side (Fashion-MNIST's 28×28 included)
 * uses the published table unchanged, and e.g. 64×64 doubles the radii.
 * Rounding avoids the jumps a fractional scale would cause in kernels that
 * threshold on the radius (the defocus disk); the floor at 1 because the
 * published radii (0.3..1.5 px for defocus) are already at the one-pixel
 * scale: halved, all five defocus severities would collapse to a single
 * pixel.
 */
import type { ImageShape } from './types.js';

/** Side length of the images the CIFAR-10-C tables were tuned for. */
export const REFERENCE_SIDE = 32;

/** `max(1, 2^round(log2(sqrt(H·W)/32)))`: multiplier for parameters given in pixels. */
export function pixelScale(shape: ImageShape): number {
  const side = Math.sqrt(shape.height * shape.width);
  return Math.max(1, 2 ** Math.round(Math.log2(side / REFERENCE_SIDE)));
}

/** Geometric-mean side `sqrt(H·W)`: the `IMSIZE` of parameters given as fractions of the image. */
export function imageSide(shape: ImageShape): number {
  return Math.sqrt(shape.height * shape.width);
}
