/**
 * Image corruptions following CIFAR-10-C (Hendrycks & Dietterich, ICLR
 * 2019): 15 corruption types × 5 severities, pure TypeScript over
 * Float32Array CHW images in [0, 1]. See docs/corruptions.md.
 */
export type {
  ImageShape,
  Severity,
  CorruptionCategory,
  CorruptionParams,
  CorruptionFn,
  Corruption,
  ParameterizedCorruption,
} from './types.js';
export { SEVERITIES, checkSeverity } from './types.js';
export { CORRUPTION_NAMES, CORRUPTIONS, getCorruption, isCorruptionName, corrupt, type CorruptionName } from './registry.js';
export { corruptDataset, imageRng, imageStreamSeed, type CorruptDatasetOptions } from './dataset.js';
export { validateOodSet, fullOodSet, type OodSet } from './ood-set.js';
export { gaussianNoise, shotNoise, impulseNoise } from './noise.js';
export { defocusBlur, glassBlur, motionBlur, zoomBlur } from './blur.js';
export { snow, frost, fog, brightness } from './weather.js';
export { contrast, elasticTransform, pixelate, jpegCompression } from './digital.js';
export { jpegRoundTrip, type ChromaSubsampling } from './jpeg.js';
export { pixelScale } from './image-size.js';
