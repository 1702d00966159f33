/**
 * Plasma fractal (diamond-square) height map, the cloud texture behind fog
 * and the procedural frost layer.
 */
import type { Rng } from '../../util/rng.js';

/**
 * A `size×size` (power of two) fractal on a torus, normalized to [0, 1].
 *
 * Diamond-square with the CIFAR-10-C amplitudes: starting at step = size
 * and wibble w = 100, each level sets every square centre to the mean of
 * its 4 corners plus `w·U(-w, w)`, then every edge midpoint to the mean of
 * its 4 diamond neighbours plus `w·U(-w, w)`; then step /= 2 and
 * w /= wibbleDecay. A larger decay gives a smoother map (the coarse levels
 * dominate).
 */
export function plasmaFractal(size: number, wibbleDecay: number, rng: Rng): Float64Array {
  if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
    // Internal invariant: plasmaLayer, the one caller, rounds the size up to a power of two >= 2.
    throw new Error(`plasmaFractal: size must be a power of two >= 2, got ${size}`);
  }
  const map = new Float64Array(size * size);
  const at = (i: number, j: number): number => map[(i & (size - 1)) * size + (j & (size - 1))];
  let wibble = 100;
  for (let step = size; step >= 2; step /= 2) {
    const half = step / 2;
    const wibbled = (sum: number): number => sum / 4 + wibble * rng.uniformRange(-wibble, wibble);
    for (let i = 0; i < size; i += step) {
      for (let j = 0; j < size; j += step) {
        const corners = at(i, j) + at(i + step, j) + at(i, j + step) + at(i + step, j + step);
        map[(i + half) * size + j + half] = wibbled(corners);
      }
    }
    for (let i = 0; i < size; i += step) {
      for (let j = 0; j < size; j += step) {
        const top = at(i - half, j + half) + at(i + half, j + half) + at(i, j) + at(i, j + step);
        map[i * size + j + half] = wibbled(top);
      }
    }
    for (let i = 0; i < size; i += step) {
      for (let j = 0; j < size; j += step) {
        const left = at(i + half, j - half) + at(i + half, j + half) + at(i, j) + at(i + step, j);
        map[(i + half) * size + j] = wibbled(left);
      }
    }
    wibble /= wibbleDecay;
  }
  let min = Infinity;
  let max = -Infinity;
  for (const v of map) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const range = max - min;
  for (let k = 0; k < map.length; k++) map[k] = range > 0 ? (map[k] - min) / range : 0;
  return map;
}

/** The top-left `height×width` of a plasma fractal on the smallest power-of-two square that holds it. */
export function plasmaLayer(height: number, width: number, wibbleDecay: number, rng: Rng): Float64Array {
  let size = 2;
  while (size < Math.max(height, width)) size *= 2;
  const map = plasmaFractal(size, wibbleDecay, rng);
  const out = new Float64Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out[y * width + x] = map[y * size + x];
  }
  return out;
}
