/**
 * Batches for training and evaluation: seeded epoch order, optional augmentation,
 * normalization to float32 NCHW.
 *
 * Reproducibility: everything random is a pure function of (seed, epoch[, batch]):
 *
 *     order(e)          = Rng(deriveSeed(seed, ORDER_STREAM, e)).permutation(N)
 *     augment rng(e, b) = Rng(deriveSeed(seed, AUGMENT_STREAM, e, b))
 *
 * so the same seed gives the same batches on every machine, epochs can be replayed out of
 * order, and a resumed run can start at any batch. Batch b holds order[b*B .. (b+1)*B); the
 * last, smaller batch is dropped when `dropLast`.
 *
 * @example
 * const loader = new DataLoader(train, { batchSize: 128, seed: 1, augment: { cropPadding: 4, horizontalFlip: true } });
 * for (const batch of loader.epoch(0)) {
 *   batch.shape;  // [128, 3, 32, 32]
 *   batch.images; // Float32Array, normalized
 * }
 */
import { ConfigError } from '../util/errors.js';
import { Rng } from '../util/rng.js';
import {
  augmentNormalizedInto,
  drawAugmentParams,
  normalizationTables,
  normalizeInto,
  resolveAugmentOptions,
  type AugmentOptions,
  type NormalizationTables,
} from './augment.js';
import { datasetSize, imageSize, type ImageDataset } from './dataset.js';

/** One batch: N images as float32 NCHW, their labels, and their indices in the dataset. */
export interface Batch {
  images: Float32Array;
  labels: Int32Array;
  shape: [number, number, number, number];
  indices: Int32Array;
}

/** How a DataLoader batches: size, seed, shuffling, augmentation. */
export interface LoaderOptions {
  /** Images per batch. */
  batchSize: number;
  /** Seed of the epoch order and augmentation. Default 0. */
  seed?: number;
  /** Shuffle each epoch (training); false keeps dataset order (evaluation). Default true. */
  shuffle?: boolean;
  /** Drop the last batch when it is smaller than batchSize. Default false. */
  dropLast?: boolean;
  /** Training augmentation; none when omitted or null. */
  augment?: AugmentOptions | null;
  /**
   * Write every batch into the same buffers (faster, no garbage). A batch is then valid
   * only until the next one is made: copy it (e.g. into a tensor) before asking for the next.
   * Default false.
   */
  reuseBuffers?: boolean;
}

/** Stream ids for {@link deriveSeed}. */
export const ORDER_STREAM = 1;
export const AUGMENT_STREAM = 2;

/**
 * Mixes a seed and stream words into one 32-bit seed (MurmurHash3's word mixing and
 * finalizer), so that (seed, stream, epoch, batch) tuples get unrelated Rng streams.
 * Seeds may be any safe integer, negative included.
 */
export function deriveSeed(seed: number, ...words: number[]): number {
  if (!Number.isSafeInteger(seed)) throw new ConfigError('seed', `must be a safe integer, got ${seed}`);
  let h = 0x9747b28c;
  const mix = (word: number): void => {
    let k = Math.imul(word >>> 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  };
  mix(seed >>> 0);
  mix(Math.floor(seed / 4294967296) >>> 0);
  for (const word of words) mix(word);
  h ^= (words.length + 2) * 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Iterates a dataset in seeded, optionally augmented batches. */
export class DataLoader {
  readonly dataset: ImageDataset;
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly augment: Required<AugmentOptions> | null;
  readonly reuseBuffers: boolean;
  private readonly tables: NormalizationTables;
  private readonly imageBytes: number;
  private cachedOrder: { epoch: number; order: Int32Array } | null = null;
  private buffers: { images: Float32Array; labels: Int32Array; indices: Int32Array } | null = null;

  constructor(dataset: ImageDataset, options: LoaderOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new ConfigError('data.batchSize', `must be a positive integer, got ${options.batchSize}`);
    }
    this.dataset = dataset;
    this.batchSize = options.batchSize;
    this.seed = options.seed ?? 0;
    deriveSeed(this.seed); // validates the seed now rather than at the first batch
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    const augment = options.augment ? resolveAugmentOptions(options.augment) : null;
    const active = augment && (augment.cropPadding > 0 || augment.horizontalFlip || augment.rotationDegrees > 0);
    this.augment = active ? augment : null;
    this.reuseBuffers = options.reuseBuffers ?? false;
    this.tables = normalizationTables(dataset.mean, dataset.std);
    this.imageBytes = imageSize(dataset.imageShape);
  }

  /** Number of images in the dataset. */
  get size(): number {
    return datasetSize(this.dataset);
  }

  /** Batches per epoch: ceil(N / B), or floor(N / B) with dropLast. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.size / this.batchSize) : Math.ceil(this.size / this.batchSize);
  }

  /** The dataset indices in epoch `epoch`'s order: a permutation depending only on (seed, epoch). */
  epochOrder(epoch: number): Int32Array {
    return this.order(epoch).slice();
  }

  private order(epoch: number): Int32Array {
    checkEpoch(epoch);
    if (this.cachedOrder?.epoch === epoch) return this.cachedOrder.order;
    const order = this.shuffle
      ? new Rng(deriveSeed(this.seed, ORDER_STREAM, epoch)).permutation(this.size)
      : Int32Array.from({ length: this.size }, (_, i) => i);
    this.cachedOrder = { epoch, order };
    return order;
  }

  /** Batch `batchIndex` of epoch `epoch` (0-based), computed directly. */
  batch(epoch: number, batchIndex: number): Batch {
    if (!Number.isInteger(batchIndex) || batchIndex < 0 || batchIndex >= this.batchesPerEpoch) {
      throw new ConfigError(
        'DataLoader.batch(batchIndex)',
        `batch ${batchIndex} out of range 0..${this.batchesPerEpoch - 1} (${this.size} examples in batches of ${this.batchSize})`,
      );
    }
    const order = this.order(epoch);
    const start = batchIndex * this.batchSize;
    const count = Math.min(this.batchSize, this.size - start);
    const [channels, height, width] = this.dataset.imageShape;
    const per = this.imageBytes;
    const { images, labels, indices } = this.outputBuffers(count);
    const source = this.dataset.images;
    const sourceLabels = this.dataset.labels;
    const shape = this.dataset.imageShape;
    const rng = this.augment ? new Rng(deriveSeed(this.seed, AUGMENT_STREAM, epoch, batchIndex)) : null;
    for (let k = 0; k < count; k++) {
      const i = order[start + k];
      indices[k] = i;
      labels[k] = sourceLabels[i];
      if (rng !== null && this.augment !== null) {
        augmentNormalizedInto(source, i * per, shape, drawAugmentParams(rng, this.augment), this.tables, images, k * per);
      } else {
        normalizeInto(source, i * per, shape, this.tables, images, k * per);
      }
    }
    return { images, labels, indices, shape: [count, channels, height, width] };
  }

  /**
   * The batches of one epoch, in order, from `startBatch` (to resume mid-epoch).
   *
   * @example
   * for (let epoch = 0; epoch < epochs; epoch++) for (const batch of loader.epoch(epoch)) train(batch);
   */
  *epoch(epoch: number, startBatch = 0): Generator<Batch, void, undefined> {
    for (let b = startBatch; b < this.batchesPerEpoch; b++) yield this.batch(epoch, b);
  }

  private outputBuffers(count: number): { images: Float32Array; labels: Int32Array; indices: Int32Array } {
    const per = this.imageBytes;
    if (!this.reuseBuffers) {
      return { images: new Float32Array(count * per), labels: new Int32Array(count), indices: new Int32Array(count) };
    }
    if (this.buffers === null) {
      this.buffers = {
        images: new Float32Array(this.batchSize * per),
        labels: new Int32Array(this.batchSize),
        indices: new Int32Array(this.batchSize),
      };
    }
    const b = this.buffers;
    if (count === this.batchSize) return b;
    return { images: b.images.subarray(0, count * per), labels: b.labels.subarray(0, count), indices: b.indices.subarray(0, count) };
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0) {
    throw new ConfigError('DataLoader(epoch)', `must be a non-negative integer (epochs count from 0), got ${epoch}`);
  }
}
