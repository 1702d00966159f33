/**
 * The in-memory dataset and the registry of named datasets.
 *
 * An {@link ImageDataset} holds N images as one Uint8Array, each image in CHW
 * order (channel planes, then rows), so image i, channel c, pixel (y, x) is
 *
 *     images[((i * C + c) * H + y) * W + x]
 *
 * with labels as an Int32Array of N class indices. `mean` and `std` are per
 * channel, in units of pixel/255, and define the normalization the loader applies:
 *
 *     x_normalized = (pixel / 255 - mean[c]) / std[c]
 *
 * Datasets register a {@link DatasetDefinition} by name (see datasets.ts for the
 * built-in ones; import them through src/data/index.js so they are registered).
 *
 * @example
 * import { loadDataset } from './index.js';
 * const { train, test } = loadDataset('fashion-mnist');
 * train.labels.length; // 60000
 * train.imageShape;    // [1, 28, 28]
 */
import { existsSync, readFileSync } from 'node:fs';
import { ConfigError, DataFormatError } from '../util/errors.js';

/** Image shape as (channels, height, width). */
export type ImageShape = readonly [channels: number, height: number, width: number];

/** What describes a dataset apart from its pixels. */
export interface DatasetInfo {
  /** Registry name, or a descriptive name for derived sets (e.g. "fashion-mnist/validation"). */
  name: string;
  imageShape: ImageShape;
  numClasses: number;
  /** Human-readable class names, index = label. */
  classNames: readonly string[];
  /** Per-channel mean of pixel/255 over the training set. */
  mean: readonly number[];
  /** Per-channel standard deviation of pixel/255 over the training set. */
  std: readonly number[];
}

/** N labelled images, CHW per image, as flat typed arrays. */
export interface ImageDataset extends DatasetInfo {
  /** N*C*H*W bytes, CHW per image. */
  images: Uint8Array;
  /** N class indices in [0, numClasses). */
  labels: Int32Array;
}

/** The two splits a dataset ships with. Validation is carved out of train by split.ts. */
export type DatasetSplitName = 'train' | 'test';

/** How images decoded from files are brought to a square: see {@link DatasetLoadOptions.resize}. */
export type ImageResizeMode = 'resize' | 'center-crop';

/**
 * Options a dataset's loader understands; each dataset documents which it uses
 * (and lists them in {@link DatasetDefinition.options}). Unset (undefined) means the dataset's default.
 */
export interface DatasetLoadOptions {
  /** Directory holding the dataset's files (defaults to the dataset's `defaultDir`). */
  dir?: string;
  /** cifar100: train on 'fine' (100 classes, default) or 'coarse' (20 superclasses) labels. */
  labelMode?: 'fine' | 'coarse';
  /** npy: the number of classes (default: the largest training label + 1); labels outside [0, numClasses) are an error. */
  numClasses?: number;
  /** npy: class names, index = label (default: classes.txt, else the label numbers). */
  classNames?: readonly string[];
  /** Receives warnings about the data (e.g. classes without a training image); default: `process.emitWarning`. */
  onWarning?: (message: string) => void;
  /** imagefolder: images are decoded to imageSize × imageSize pixels (default 32). */
  imageSize?: number;
  /**
   * imagefolder: 'center-crop' (default) scales the shorter side to imageSize and crops the
   * centre square (torchvision Resize(size) + CenterCrop(size)); 'resize' scales to the square
   * directly, changing the aspect ratio.
   */
  resize?: ImageResizeMode;
  /** imagefolder: 3 (RGB, default) or 1 (grayscale, L = 0.299 R + 0.587 G + 0.114 B as PIL's convert('L')). */
  channels?: 1 | 3;
  /** imagefolder: skip images that cannot be read or decoded, counted in a warning (default false: a DataFormatError). */
  skipUnreadable?: boolean;
}

/** What {@link prepareDataset} reports while it works. */
export interface DatasetPrepareHooks {
  /** Called after each decoded file: `done` of `total`. */
  onProgress?: (progress: { done: number; total: number }) => void;
  /** One line of progress or warning (default: written to stderr). */
  log?: (line: string) => void;
}

/** A named dataset that can be loaded from files. */
export interface DatasetDefinition {
  name: string;
  /** One line for `sparse-soups data list`. */
  description: string;
  /** Where the official files come from, for error messages and docs. */
  source: string;
  /** Directory used when the caller names none; null when the caller must name one. */
  defaultDir: string | null;
  /** Shape, classes and normalization, when known before loading (null for user data). */
  info: DatasetInfo | null;
  /**
   * The {@link DatasetLoadOptions} keys besides `dir` this dataset reads. When listed, setting
   * any other is a ConfigError (an `imageSize` given to cifar10 would otherwise be ignored silently).
   */
  options?: readonly (keyof DatasetLoadOptions)[];
  /**
   * Slow one-time work that `loadSplit` would otherwise do synchronously (decoding image files
   * into a cache), run asynchronously by {@link prepareDataset}. Absent: nothing to prepare.
   */
  prepare?(options: DatasetLoadOptions, hooks: DatasetPrepareHooks): Promise<void>;
  loadSplit(split: DatasetSplitName, options: DatasetLoadOptions): ImageDataset;
}

/** Number of images in a dataset. */
export function datasetSize(dataset: ImageDataset): number {
  return dataset.labels.length;
}

/** Bytes per image: C*H*W. */
export function imageSize(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

/**
 * Builds an ImageDataset, checking that the image bytes match the label count and the
 * labels are in range. `file` names the source in errors.
 */
export function createImageDataset(info: DatasetInfo, images: Uint8Array, labels: Int32Array, file: string): ImageDataset {
  const perImage = imageSize(info.imageShape);
  if (images.length !== labels.length * perImage) {
    const imageCount = images.length / perImage;
    throw new DataFormatError(file, `label count (${labels.length}) does not match image count (${imageCount})`);
  }
  if (info.mean.length !== info.imageShape[0] || info.std.length !== info.imageShape[0]) {
    throw new DataFormatError(file, `mean/std have ${info.mean.length}/${info.std.length} entries for ${info.imageShape[0]} channels`);
  }
  checkLabelRange(labels, info.numClasses, file);
  return { ...info, images, labels };
}

/** Throws a DataFormatError naming the first label outside [0, numClasses). */
export function checkLabelRange(labels: Int32Array, numClasses: number, file: string): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (label < 0 || label >= numClasses) {
      throw new DataFormatError(file, `label ${label} at index ${i} is out of range 0..${numClasses - 1}`);
    }
  }
}

/**
 * readFileSync that reports a missing or unreadable file as a DataFormatError. Returns a plain
 * Uint8Array (not a Buffer, whose `slice` is a view), so dataset arrays behave like typed arrays.
 */
export function readExistingFile(file: string): Uint8Array {
  try {
    return asPlainBytes(readFileSync(file));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataFormatError(file, code === 'ENOENT' ? 'file not found' : `cannot read file (${(error as Error).message})`);
  }
}

/** The non-empty, trimmed lines of a UTF-8 text file (class name lists). */
export function readNonEmptyLines(file: string): string[] {
  return new TextDecoder()
    .decode(readExistingFile(file))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}

/** A plain Uint8Array view of a Buffer's bytes (no copy). */
export function asPlainBytes(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * Throws a DataFormatError when `file` does not exist, saying where the official file comes
 * from (`source`). Nothing is ever downloaded at run time.
 */
export function requireFile(file: string, source: string): string {
  if (!existsSync(file)) throw new DataFormatError(file, `file not found; expected here. ${source}`);
  return file;
}

/**
 * Reorders N images from HWC (NumPy / PIL layout) to CHW.
 *
 *     chw[((i*C + c)*H + y)*W + x] = hwc[((i*H + y)*W + x)*C + c]
 */
export function hwcToChw(hwc: Uint8Array, count: number, height: number, width: number, channels: number): Uint8Array {
  if (channels === 1) return hwc;
  const plane = height * width;
  const perImage = plane * channels;
  const chw = new Uint8Array(count * perImage);
  for (let i = 0; i < count; i++) {
    const base = i * perImage;
    for (let c = 0; c < channels; c++) {
      let out = base + c * plane;
      let src = base + c;
      for (let p = 0; p < plane; p++, src += channels) chw[out++] = hwc[src];
    }
  }
  return chw;
}

/** Per-channel mean and standard deviation of pixel/255 over all images (for user datasets). */
export function computeChannelStats(images: Uint8Array, shape: ImageShape): { mean: number[]; std: number[] } {
  const [channels, height, width] = shape;
  const plane = height * width;
  const count = images.length / (channels * plane);
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let sumSquares = 0;
    for (let i = 0; i < count; i++) {
      const start = (i * channels + c) * plane;
      let rowSum = 0;
      let rowSquares = 0;
      for (let p = start; p < start + plane; p++) {
        const v = images[p];
        rowSum += v;
        rowSquares += v * v;
      }
      sum += rowSum;
      sumSquares += rowSquares;
    }
    const n = Math.max(1, count * plane);
    const m = sum / n / 255;
    mean.push(m);
    std.push(Math.sqrt(Math.max(0, sumSquares / n / (255 * 255) - m * m)) || 1);
  }
  return { mean, std };
}

const registry = new Map<string, DatasetDefinition>();

/** Adds a dataset to the registry; a second definition with the same name is an error. */
export function registerDataset(definition: DatasetDefinition): void {
  if (registry.has(definition.name)) throw new ConfigError('dataset', `dataset '${definition.name}' is already registered`);
  registry.set(definition.name, definition);
}

/** The definition registered under `name`, or a ConfigError listing the known names. */
export function getDatasetDefinition(name: string): DatasetDefinition {
  const definition = registry.get(name);
  if (!definition) {
    const known = [...registry.keys()].join(', ') || '(none registered: import src/data/index.js)';
    throw new ConfigError('dataset', `unknown dataset '${name}'; known datasets: ${known}`);
  }
  return definition;
}

/** All registered definitions, in registration order. */
export function listDatasets(): DatasetDefinition[] {
  return [...registry.values()];
}

/** The DatasetLoadOptions keys a dataset may or may not take (`dir` all take; callers may pass other keys along, e.g. preview options). */
const DATASET_OPTION_KEYS: readonly (keyof DatasetLoadOptions)[] = ['labelMode', 'imageSize', 'resize', 'channels', 'skipUnreadable'];

/**
 * Throws a ConfigError (path `data.<key>`) for an option set to a value (not undefined) that the
 * dataset does not list in its `options`; a definition without an `options` list (a user's) accepts anything.
 */
export function checkDatasetOptions(definition: DatasetDefinition, options: DatasetLoadOptions): void {
  if (definition.options === undefined) return;
  for (const key of DATASET_OPTION_KEYS) {
    if (options[key] === undefined || definition.options.includes(key)) continue;
    const takers = listDatasets()
      .filter((d) => d.options?.includes(key))
      .map((d) => d.name);
    throw new ConfigError(
      `data.${key}`,
      `dataset '${definition.name}' does not take ${key}${takers.length > 0 ? ` (only ${takers.join(', ')} do${takers.length === 1 ? 'es' : ''})` : ''}; remove it`,
    );
  }
}

/**
 * Does a dataset's slow one-time work asynchronously (for `imagefolder`: decodes the images
 * into a cache beside them), so the synchronous {@link loadDataset} that follows only reads.
 * Call it where a run starts; datasets without such work return at once.
 *
 * @example
 * await prepareDataset('imagefolder', { dir: '/data/flowers', imageSize: 64 });
 * const { train, test } = loadDataset('imagefolder', { dir: '/data/flowers', imageSize: 64 }); // reads the cache
 */
export async function prepareDataset(name: string, options: DatasetLoadOptions = {}, hooks: DatasetPrepareHooks = {}): Promise<void> {
  const definition = getDatasetDefinition(name);
  checkDatasetOptions(definition, options);
  await definition.prepare?.(options, hooks);
}

/** Loads one split of a registered dataset. */
export function loadDatasetSplit(name: string, split: DatasetSplitName, options: DatasetLoadOptions = {}): ImageDataset {
  const definition = getDatasetDefinition(name);
  checkDatasetOptions(definition, options);
  return definition.loadSplit(split, options);
}

/** Loads the train and test splits of a registered dataset. */
export function loadDataset(name: string, options: DatasetLoadOptions = {}): { train: ImageDataset; test: ImageDataset } {
  const definition = getDatasetDefinition(name);
  checkDatasetOptions(definition, options);
  return { train: definition.loadSplit('train', options), test: definition.loadSplit('test', options) };
}
