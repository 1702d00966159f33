/**
 * Validation split and seeded subsets.
 *
 * Validation is a fixed fraction of the *training* set, never the test set:
 *
 *     order       = Rng(seed).permutation(N)
 *     validation  = sorted(order[0 .. round(N * fraction)))
 *     train       = sorted(the rest)
 *
 * so it depends only on (N, fraction, seed): the same on every run and machine
 * (defaults: fraction 0.1, seed 42, as DESIGN.md prescribes). A larger fraction with
 * the same seed contains the smaller one's validation set.
 *
 * @example
 * const { train, validation } = splitTrainValidation(loadDatasetSplit('fashion-mnist', 'train'));
 * validation.labels.length; // 6000
 */
import { ConfigError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import { datasetSize, imageSize, type ImageDataset } from './dataset.js';

/** Default validation fraction and seed. */
export const DEFAULT_VALIDATION_FRACTION = 0.1;
export const DEFAULT_SPLIT_SEED = 42;

export interface ValidationSplitOptions {
  /** Fraction of the training set held out, in (0, 1). Default 0.1. */
  fraction?: number;
  /** Seed of the split's permutation. Default 42. */
  seed?: number;
}

/** Index sets of a split, each sorted ascending, disjoint, together 0..N-1. */
export interface SplitIndices {
  trainIndices: Int32Array;
  validationIndices: Int32Array;
}

/** A training set split into train and validation parts, with the indices of each in the original set. */
export interface TrainValidationSplit extends SplitIndices {
  train: ImageDataset;
  validation: ImageDataset;
}

/** The indices of a train/validation split of N examples. */
export function validationSplitIndices(count: number, options: ValidationSplitOptions = {}): SplitIndices {
  const fraction = options.fraction ?? DEFAULT_VALIDATION_FRACTION;
  const seed = options.seed ?? DEFAULT_SPLIT_SEED;
  if (!(fraction > 0 && fraction < 1)) throw new ConfigError('data.validationFraction', `must be in (0, 1), got ${fraction}`);
  const validationCount = Math.round(count * fraction);
  if (validationCount < 1 || validationCount >= count) {
    throw new ConfigError('data.validationFraction', `${fraction} of ${count} examples leaves an empty train or validation set`);
  }
  const order = new Rng(seed).permutation(count);
  const validationIndices = order.slice(0, validationCount).sort();
  const trainIndices = order.slice(validationCount).sort();
  return { trainIndices, validationIndices };
}

/** Splits a training set into train and validation parts (copies of the selected images). */
export function splitTrainValidation(trainingSet: ImageDataset, options: ValidationSplitOptions = {}): TrainValidationSplit {
  const indices = validationSplitIndices(datasetSize(trainingSet), options);
  return {
    ...indices,
    train: subsetDataset(trainingSet, indices.trainIndices, `${trainingSet.name}/train-split`),
    validation: subsetDataset(trainingSet, indices.validationIndices, `${trainingSet.name}/validation`),
  };
}

/** A new dataset of the images at `indices`, in that order (images copied). */
export function subsetDataset(dataset: ImageDataset, indices: ArrayLike<number>, name = `${dataset.name}/subset`): ImageDataset {
  const perImage = imageSize(dataset.imageShape);
  const count = datasetSize(dataset);
  const images = new Uint8Array(indices.length * perImage);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < count) || !Number.isInteger(i)) {
      throw new ConfigError(
        `subsetDataset(indices[${k}])`,
        `index ${i} out of range 0..${count - 1} (dataset ${dataset.name} has ${count} images)`,
      );
    }
    images.set(dataset.images.subarray(i * perImage, (i + 1) * perImage), k * perImage);
    labels[k] = dataset.labels[i];
  }
  return { ...dataset, name, images, labels };
}

/**
 * A seeded random subset of `count` images (for quick runs), indices sorted ascending so the
 * subset keeps the dataset's order. The same (dataset size, count, seed) gives the same subset.
 *
 * @example
 * const quick = randomSubset(train, 2000, 0);
 */
export function randomSubset(dataset: ImageDataset, count: number, seed: number): ImageDataset {
  const size = datasetSize(dataset);
  if (!Number.isInteger(count) || count < 1 || count > size) {
    throw new ConfigError('data.subset', `subset size must be an integer in 1..${size}, got ${count}`);
  }
  const indices = new Rng(seed).permutation(size).slice(0, count).sort();
  return subsetDataset(dataset, indices, `${dataset.name}/subset-${count}`);
}
