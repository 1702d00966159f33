/**
 * The built-in datasets, registered by name on import:
 *
 * | name          | files                                              | default directory                   |
 * | ------------- | -------------------------------------------------- | ----------------------------------- |
 * | fashion-mnist | {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]  | /usr/share/datasets/fashion-mnist   |
 * | mnist         | the same IDX names                                 | (the caller names it)               |
 * | cifar10       | data_batch_{1..5}.bin, test_batch.bin              | (the caller names it)               |
 * | cifar100      | train.bin, test.bin (fine labels by default)       | (the caller names it)               |
 * | npy           | {train,test}_{images,labels}.npy [+ classes.txt]   | (the caller names it)               |
 * | imagefolder   | {train,test}/<class>/*.{png,jpg,jpeg}              | (the caller names it)               |
 *
 * Nothing is downloaded: a missing file is a DataFormatError saying where it comes from.
 *
 * @example
 * import './datasets.js';
 * const test = loadDatasetSplit('cifar10', 'test', { dir: '/data/cifar-10-batches-bin' });
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataFormatError } from '../util/errors.js';
import { cifarInfo, CIFAR_SOURCES, loadCifarSplit, type CifarVariant } from './cifar.js';
import {
  computeChannelStats,
  createImageDataset,
  hwcToChw,
  readNonEmptyLines,
  registerDataset,
  type DatasetDefinition,
  type DatasetInfo,
  type DatasetLoadOptions,
  type DatasetSplitName,
  type ImageDataset,
  type ImageShape,
} from './dataset.js';
import { findIdxFile, readIdxFile } from './idx.js';
import { IMAGE_FOLDER_SOURCE, resolveImageFolderOptions } from './imagefolder.js';
import { prepareImageFolder } from './imagefolder-decode.js';
import { loadImageFolderSplit } from './imagefolder-load.js';
import { npyToInt32, readNpyFile } from './npy.js';

/** Where Debian's dataset-fashion-mnist package puts the files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_INFO: DatasetInfo = {
  name: 'fashion-mnist',
  imageShape: [1, 28, 28],
  numClasses: 10,
  classNames: ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
  mean: [0.286],
  std: [0.353],
};

export const MNIST_INFO: DatasetInfo = {
  name: 'mnist',
  imageShape: [1, 28, 28],
  numClasses: 10,
  classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  mean: [0.1307],
  std: [0.3081],
};

const FASHION_MNIST_SOURCE =
  'Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or get the four .gz files from ' +
  "Zalando Research's Fashion-MNIST repository, and pass their directory.";
const MNIST_SOURCE =
  'Get train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and ' +
  't10k-labels-idx1-ubyte.gz from the MNIST database page (Yann LeCun, Corinna Cortes, Christopher Burges) and pass their directory.';
const NPY_SOURCE =
  'An npy dataset directory holds train_images.npy and test_images.npy (uint8, (N, H, W) or (N, H, W, C)), ' +
  'train_labels.npy and test_labels.npy (integer, (N,)), and optionally classes.txt (one class name per line).';

/**
 * Loads an MNIST-format split (IDX images (N, H, W) uint8 and IDX labels (N) uint8) from `dir`.
 * Accepts gzip-compressed and plain files.
 */
export function loadIdxSplit(dir: string, split: DatasetSplitName, info: DatasetInfo, source: string): ImageDataset {
  const prefix = split === 'train' ? 'train' : 't10k';
  const imageFile = findIdxOrThrow(dir, `${prefix}-images-idx3-ubyte`, source);
  const labelFile = findIdxOrThrow(dir, `${prefix}-labels-idx1-ubyte`, source);
  const images = readIdxFile(imageFile);
  const [, height, width] = info.imageShape;
  if (images.type !== 'uint8' || images.shape.length !== 3 || images.shape[1] !== height || images.shape[2] !== width) {
    throw new DataFormatError(
      imageFile,
      `expected uint8 images of shape (N, ${height}, ${width}), found ${images.type} (${images.shape.join(', ')})`,
    );
  }
  const labels = readIdxFile(labelFile);
  if (labels.type !== 'uint8' || labels.shape.length !== 1) {
    throw new DataFormatError(labelFile, `expected uint8 labels of shape (N), found ${labels.type} (${labels.shape.join(', ')})`);
  }
  if (labels.shape[0] !== images.shape[0]) {
    throw new DataFormatError(
      labelFile,
      `label count (${labels.shape[0]}) does not match image count (${images.shape[0]}) in ${imageFile}`,
    );
  }
  return createImageDataset(info, images.data as Uint8Array, Int32Array.from(labels.data as Uint8Array), labelFile);
}

function findIdxOrThrow(dir: string, baseName: string, source: string): string {
  const found = findIdxFile(dir, baseName);
  if (found === null) throw new DataFormatError(join(dir, `${baseName}.gz`), `file not found (nor without .gz); expected here. ${source}`);
  return found;
}

function directoryFor(name: string, options: DatasetLoadOptions, defaultDir: string | null, source: string): string {
  const dir = options.dir ?? defaultDir;
  if (dir === null) throw new ConfigError('data.dir', `dataset '${name}' needs a directory (--data-dir). ${source}`);
  if (!existsSync(dir)) throw new DataFormatError(dir, `directory not found. ${source}`);
  return dir;
}

function idxDataset(info: DatasetInfo, description: string, source: string, defaultDir: string | null): DatasetDefinition {
  return {
    name: info.name,
    description,
    source,
    defaultDir,
    info,
    options: [],
    loadSplit: (split, options) => loadIdxSplit(directoryFor(info.name, options, defaultDir, source), split, info, source),
  };
}

function cifarDataset(variant: CifarVariant, description: string): DatasetDefinition {
  return {
    name: variant,
    description,
    source: CIFAR_SOURCES[variant],
    defaultDir: null,
    info: cifarInfo(variant),
    options: ['labelMode'],
    loadSplit: (split, options) =>
      loadCifarSplit(directoryFor(variant, options, null, CIFAR_SOURCES[variant]), variant, split, options.labelMode ?? 'fine'),
  };
}

/** Optional overrides for a user's own .npy data. */
export interface NpyDatasetOptions {
  name?: string;
  classNames?: readonly string[];
  numClasses?: number;
  mean?: readonly number[];
  std?: readonly number[];
}

/**
 * Loads a user's images (.npy uint8, (N, H, W) or (N, H, W, C)) and labels (.npy integer, (N,)).
 * Without overrides, numClasses is max label + 1, class names are the label numbers, and
 * mean/std are computed from these images.
 */
export function loadNpyImageDataset(imagesFile: string, labelsFile: string, options: NpyDatasetOptions = {}): ImageDataset {
  const array = readNpyFile(imagesFile);
  if (array.dtype !== '|u1') throw new DataFormatError(imagesFile, `expected uint8 images (dtype |u1), found ${array.dtype}`);
  if (array.shape.length !== 3 && array.shape.length !== 4) {
    throw new DataFormatError(imagesFile, `expected images of shape (N, H, W) or (N, H, W, C), found (${array.shape.join(', ')})`);
  }
  const [count, height, width] = array.shape;
  const channels = array.shape[3] ?? 1;
  const imageShape: ImageShape = [channels, height, width];
  const labelArray = readNpyFile(labelsFile);
  if (labelArray.shape.length !== 1) {
    throw new DataFormatError(labelsFile, `expected labels of shape (N,), found (${labelArray.shape.join(', ')})`);
  }
  if (labelArray.shape[0] !== count) {
    throw new DataFormatError(labelsFile, `label count (${labelArray.shape[0]}) does not match image count (${count}) in ${imagesFile}`);
  }
  const labels = npyToInt32(labelArray, labelsFile, options.numClasses ?? options.classNames?.length);
  let maxLabel = -1;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0) throw new DataFormatError(labelsFile, `label ${labels[i]} at index ${i} is negative`);
    if (labels[i] > maxLabel) maxLabel = labels[i];
  }
  const numClasses = options.numClasses ?? options.classNames?.length ?? maxLabel + 1;
  const images = hwcToChw(array.data as Uint8Array, count, height, width, channels);
  const stats = options.mean && options.std ? { mean: options.mean, std: options.std } : computeChannelStats(images, imageShape);
  const info: DatasetInfo = {
    name: options.name ?? 'npy',
    imageShape,
    numClasses,
    classNames: options.classNames ?? Array.from({ length: numClasses }, (_, k) => String(k)),
    mean: stats.mean,
    std: stats.std,
  };
  return createImageDataset(info, images, labels, imagesFile);
}

/** The classes in 0..numClasses-1 that no label names, in increasing order. */
export function classesWithoutImages(labels: Int32Array, numClasses: number): number[] {
  const seen = new Uint8Array(numClasses);
  for (let i = 0; i < labels.length; i++) if (labels[i] >= 0 && labels[i] < numClasses) seen[labels[i]] = 1;
  const missing: number[] = [];
  for (let k = 0; k < numClasses; k++) if (seen[k] === 0) missing.push(k);
  return missing;
}

/** Increasing integers as runs, at most `limit` of them: [1, 2, 3, 7, 11, 12] → '1..3, 7, 11..12'. */
export function formatClassRanges(values: readonly number[], limit = 12): string {
  const runs: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j] + 1) j++;
    runs.push(j === i ? String(values[i]) : `${values[i]}..${values[j]}`);
    i = j + 1;
  }
  return runs.length > limit ? `${runs.slice(0, limit).join(', ')}, ... (${values.length} classes in all)` : runs.join(', ');
}

interface NpyDirectoryInfo {
  info: NpyDatasetOptions;
  /** About the training labels; reported on every load of the train split. */
  warnings: string[];
}

const npyTrainInfoCache = new Map<string, { key: string; result: NpyDirectoryInfo }>();

/**
 * Class names, class count and train-set statistics of an npy directory, shared by both splits.
 * The class count is `numClasses`, else the number of class names (`classNames`, else
 * classes.txt), else the largest training label + 1; classes without a training image
 * are a warning (a stray label inflates an inferred count: 77 in a 10-class set makes 78).
 */
function npyDirectoryInfo(dir: string, options: DatasetLoadOptions): NpyDirectoryInfo {
  const trainImages = requireNpy(join(dir, 'train_images.npy'));
  const trainLabels = requireNpy(join(dir, 'train_labels.npy'));
  const classesFile = join(dir, 'classes.txt');
  const key = [trainImages, trainLabels, classesFile]
    .map((file) => (existsSync(file) ? `${statSync(file).size}:${statSync(file).mtimeMs}` : '-'))
    .join('/');
  const cacheKey = JSON.stringify([dir, options.numClasses ?? null, options.classNames ?? null]);
  const cached = npyTrainInfoCache.get(cacheKey);
  if (cached && cached.key === key) return cached.result;
  const classNames = options.classNames ?? (existsSync(classesFile) ? readNonEmptyLines(classesFile) : undefined);
  if (classNames !== undefined && options.numClasses !== undefined && classNames.length !== options.numClasses) {
    const problem = `${classNames.length} class names for numClasses ${options.numClasses}`;
    if (options.classNames !== undefined) throw new ConfigError('data.classNames', `${problem}: give one name per class`);
    throw new DataFormatError(classesFile, `lists ${problem}: give one name per line for each class`);
  }
  const train = loadNpyImageDataset(trainImages, trainLabels, { classNames, numClasses: options.numClasses });
  const warnings: string[] = [];
  const empty = classesWithoutImages(train.labels, train.numClasses);
  if (empty.length > 0) {
    const why =
      options.numClasses === undefined && classNames === undefined
        ? `; numClasses ${train.numClasses} was inferred as the largest label + 1: if a label is a stray value, give the class count (numClasses; data.numClasses in a run config) to have it reported`
        : ` (of ${train.numClasses} classes)`;
    warnings.push(`${trainLabels}: classes with no training image: ${formatClassRanges(empty)}${why}`);
  }
  const info: NpyDatasetOptions = {
    name: 'npy',
    classNames: train.classNames,
    numClasses: train.numClasses,
    mean: train.mean,
    std: train.std,
  };
  const result = { info, warnings };
  npyTrainInfoCache.set(cacheKey, { key, result });
  return result;
}

const emitDatasetWarning = (message: string): void => process.emitWarning(message, 'DatasetWarning');

function requireNpy(file: string): string {
  if (!existsSync(file)) throw new DataFormatError(file, `file not found; expected here. ${NPY_SOURCE}`);
  return file;
}

const npyDataset: DatasetDefinition = {
  name: 'npy',
  description: 'Your own images and labels as .npy files (uint8 (N,H,W[,C]) images, integer labels)',
  source: NPY_SOURCE,
  defaultDir: null,
  info: null,
  options: [],
  loadSplit: (split, options) => {
    const dir = directoryFor('npy', options, null, NPY_SOURCE);
    const { info, warnings } = npyDirectoryInfo(dir, options);
    if (split === 'train') for (const warning of warnings) (options.onWarning ?? emitDatasetWarning)(warning);
    return loadNpyImageDataset(requireNpy(join(dir, `${split}_images.npy`)), requireNpy(join(dir, `${split}_labels.npy`)), info);
  },
};

/**
 * Image files in torchvision's ImageFolder layout, decoded once with sharp into a cache beside
 * them (imagefolder*.ts). `prepare` decodes asynchronously; `loadSplit` reads the cache.
 */
const imageFolderDataset: DatasetDefinition = {
  name: 'imagefolder',
  description: "Your own image files, torchvision's ImageFolder layout: {train,test}/<class>/*.{png,jpg,jpeg}",
  source: IMAGE_FOLDER_SOURCE,
  defaultDir: null,
  info: null,
  options: ['imageSize', 'resize', 'channels', 'skipUnreadable'],
  prepare: async (options, hooks) => {
    await prepareImageFolder(directoryFor('imagefolder', options, null, IMAGE_FOLDER_SOURCE), resolveImageFolderOptions(options), hooks);
  },
  loadSplit: (split, options) => loadImageFolderSplit(directoryFor('imagefolder', options, null, IMAGE_FOLDER_SOURCE), split, options),
};

registerDataset(
  idxDataset(
    FASHION_MNIST_INFO,
    'Fashion-MNIST: 70,000 28x28 grayscale images of clothing, 10 classes',
    FASHION_MNIST_SOURCE,
    FASHION_MNIST_DEFAULT_DIR,
  ),
);
registerDataset(idxDataset(MNIST_INFO, 'MNIST: 70,000 28x28 grayscale handwritten digits, 10 classes', MNIST_SOURCE, null));
registerDataset(cifarDataset('cifar10', 'CIFAR-10: 60,000 32x32 colour images, 10 classes (binary version)'));
registerDataset(cifarDataset('cifar100', 'CIFAR-100: 60,000 32x32 colour images, 100 fine / 20 coarse classes (binary version)'));
registerDataset(npyDataset);
registerDataset(imageFolderDataset);
