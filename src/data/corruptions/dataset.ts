/**
 * Corrupting a whole test set of 8-bit images, reproducibly: image i's
 * random stream is a pure function of (seed, corruption, severity, i), so
 * the result does not depend on how the set is split into batches or
 * workers.
 */
import { Rng } from '../../util/rng.js';
import { ConfigError, TensorError } from '../../util/errors.js';
import { assertShape, checkSeverity, type ImageShape } from './types.js';
import { getCorruption } from './registry.js';

/** murmur3's 32-bit finalizer: a bijective avalanche mix. */
function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** FNV-1a hash of a string's UTF-16 code units. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The seed of image `index`'s stream:
 * `mix(mix(mix(mix(mix(seed_lo) ^ seed_hi) ^ fnv(name)) ^ severity) ^ index)`,
 * each step adding the golden-ratio constant so zeros do not collapse.
 */
export function imageStreamSeed(seed: number, corruption: string, severity: number, index: number): number {
  const golden = 0x9e3779b9;
  let h = mix32((seed >>> 0) + golden);
  h = mix32((h ^ Math.floor(seed / 4294967296)) + golden);
  h = mix32((h ^ hashString(corruption)) + golden);
  h = mix32((h ^ severity) + golden);
  h = mix32((h ^ (index >>> 0)) + golden);
  h = mix32((h ^ Math.floor(index / 4294967296)) + golden);
  return h;
}

/** The generator for image `index` of a corrupted set (see `imageStreamSeed`). */
export function imageRng(seed: number, corruption: string, severity: number, index: number): Rng {
  return new Rng(imageStreamSeed(seed, corruption, severity, index));
}

export interface CorruptDatasetOptions {
  /** Index of the first image in the whole test set (default 0): lets a batch reproduce the full-set result. */
  readonly firstIndex?: number;
}

/**
 * Corrupts N images stored as 8-bit CHW values (`images.length = N·C·H·W`)
 * and returns them in the same layout. Each value is scaled to [0, 1],
 * corrupted, and rounded back to 0..255 (the original truncates; rounding
 * avoids its half-level darkening).
 *
 * @example
 * const ood = corruptDataset(testImages, { channels: 1, height: 28, width: 28 }, 'fog', 3, 1234);
 */
export function corruptDataset(
  images: Uint8Array,
  shape: ImageShape,
  corruption: string,
  severity: number,
  seed: number,
  options: CorruptDatasetOptions = {},
): Uint8Array {
  const spec = getCorruption(corruption);
  checkSeverity(severity);
  assertShape(shape, 'corruptDataset');
  if (!Number.isSafeInteger(seed)) throw new ConfigError('seed', `seed must be a safe integer, got ${seed}`);
  const firstIndex = options.firstIndex ?? 0;
  if (!Number.isSafeInteger(firstIndex) || firstIndex < 0) {
    throw new ConfigError('firstIndex', `firstIndex must be a non-negative integer, got ${firstIndex}`);
  }
  const size = shape.channels * shape.height * shape.width;
  if (images.length % size !== 0) {
    throw new TensorError(
      `corruptDataset: ${images.length} values is not a whole number of ${shape.channels}x${shape.height}x${shape.width} images`,
    );
  }
  const count = images.length / size;
  const out = new Uint8Array(images.length);
  const image = new Float32Array(size);
  for (let n = 0; n < count; n++) {
    const offset = n * size;
    for (let k = 0; k < size; k++) image[k] = images[offset + k] / 255;
    const corrupted = spec.apply(image, shape, severity, imageRng(seed, spec.name, severity, firstIndex + n));
    for (let k = 0; k < size; k++) out[offset + k] = Math.round(corrupted[k] * 255);
  }
  return out;
}
