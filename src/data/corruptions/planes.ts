/**
 * Per-channel plumbing for CHW images: run a plane operation on every
 * channel, and clip results to [0, 1].
 */
import type { ImageShape } from './types.js';

/** `min(max(v, 0), 1)`. */
export function clip01(v: number): number {
  return v < 0 ? 0 : v > 1 ? 1 : v;
}

/** A new image with `fn(plane, channel)` for each channel plane, clipped to [0, 1]. */
export function mapPlanes(
  image: Float32Array,
  shape: ImageShape,
  fn: (plane: Float32Array, channel: number) => ArrayLike<number>,
): Float32Array {
  const pixels = shape.height * shape.width;
  const out = new Float32Array(image.length);
  for (let c = 0; c < shape.channels; c++) {
    const result = fn(image.subarray(c * pixels, (c + 1) * pixels), c);
    for (let p = 0; p < pixels; p++) out[c * pixels + p] = clip01(result[p]);
  }
  return out;
}

/** A new image with `fn(value, index)` for every value, clipped to [0, 1]. */
export function mapValues(image: Float32Array, fn: (value: number, index: number) => number): Float32Array {
  const out = new Float32Array(image.length);
  for (let i = 0; i < image.length; i++) out[i] = clip01(fn(image[i], i));
  return out;
}
