/**
 * The corruptions by their CIFAR-10-C names, in the paper's order.
 *
 * @example
 * const rng = new Rng(0);
 * const noisy = getCorruption('gaussian_noise').apply(image, { channels: 3, height: 32, width: 32 }, 3, rng);
 */
import type { Rng } from '../../util/rng.js';
import { ConfigError } from '../../util/errors.js';
import type { Corruption, ImageShape } from './types.js';
import { gaussianNoise, impulseNoise, shotNoise } from './noise.js';
import { defocusBlur, glassBlur, motionBlur, zoomBlur } from './blur.js';
import { brightness, fog, frost, snow } from './weather.js';
import { contrast, elasticTransform, jpegCompression, pixelate } from './digital.js';

/** The 15 CIFAR-10-C corruption names, in the paper's order. */
export const CORRUPTION_NAMES = [
  'gaussian_noise',
  'shot_noise',
  'impulse_noise',
  'defocus_blur',
  'glass_blur',
  'motion_blur',
  'zoom_blur',
  'snow',
  'frost',
  'fog',
  'brightness',
  'contrast',
  'elastic_transform',
  'pixelate',
  'jpeg_compression',
] as const;

export type CorruptionName = (typeof CORRUPTION_NAMES)[number];

/** Every corruption by name. Frost is a procedural substitute (`matchesPublished: false`). */
export const CORRUPTIONS: Readonly<Record<CorruptionName, Corruption>> = Object.freeze({
  gaussian_noise: gaussianNoise,
  shot_noise: shotNoise,
  impulse_noise: impulseNoise,
  defocus_blur: defocusBlur,
  glass_blur: glassBlur,
  motion_blur: motionBlur,
  zoom_blur: zoomBlur,
  snow,
  frost,
  fog,
  brightness,
  contrast,
  elastic_transform: elasticTransform,
  pixelate,
  jpeg_compression: jpegCompression,
});

/** True when `name` is a registered corruption. */
export function isCorruptionName(name: string): name is CorruptionName {
  return Object.prototype.hasOwnProperty.call(CORRUPTIONS, name);
}

/** The corruption called `name`, or ConfigError at `path` listing the valid names. */
export function getCorruption(name: string, path = 'corruption'): Corruption {
  if (!isCorruptionName(name)) {
    throw new ConfigError(path, `unknown corruption '${name}'; valid names: ${CORRUPTION_NAMES.join(', ')}`);
  }
  return CORRUPTIONS[name];
}

/** Corrupts one image (CHW, [0,1]) with the named corruption at severity 1..5; returns a new image. */
export function corrupt(name: string, image: Float32Array, shape: ImageShape, severity: number, rng: Rng): Float32Array {
  return getCorruption(name).apply(image, shape, severity, rng);
}
