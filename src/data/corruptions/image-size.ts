/**
 * How corruption parameters tuned for 32×32 CIFAR images carry over to
 * other sizes.
 *
 * Parameters the original code writes as fractions of the image (zoom
 * factors, pixelate ratio, elastic `IMSIZE * k`, the fog fractal's extent)
 * follow the size exactly. Parameters written in pixels (blur radii and
 * sigmas, glass-blur displacement, motion-blur length) are multiplied by
 * `pixelScale`: the ratio of the image's side to 32, rounded to a power of
 * two,
 *
 *     pixelScale = 2^round(log2(sqrt(H·W) / 32)),
 *
 * so every size within a factor √2 of 32 (Fashion-MNIST's 28×28 included,
 * 23..45 pixels a side) uses the published table unchanged, and e.g. 64×64
 * doubles the radii. Rounding avoids the jumps a fractional scale would
 * cause in kernels that threshold on the radius (the defocus disk).
 */
import type { ImageShape } from './types.js';

/** Side length of the images the CIFAR-10-C tables were tuned for. */
export const REFERENCE_SIDE = 32;

/** `2^round(log2(sqrt(H·W)/32))`: multiplier for parameters given in pixels. */
export function pixelScale(shape: ImageShape): number {
  const side = Math.sqrt(shape.height * shape.width);
  return 2 ** Math.round(Math.log2(side / REFERENCE_SIDE));
}

/** Geometric-mean side `sqrt(H·W)`: the `IMSIZE` of parameters given as fractions of the image. */
export function imageSide(shape: ImageShape): number {
  return Math.sqrt(shape.height * shape.width);
}
