/**
 * CIFAR-10 / CIFAR-100 "binary version" files and the pre-corrupted
 * CIFAR-10-C / CIFAR-100-C directories.
 *
 * Binary records (no header, records back to back):
 *
 * ```
 * CIFAR-10   1 label byte,                         3072 pixel bytes   (3073 per record)
 * CIFAR-100  1 coarse label byte, 1 fine label byte, 3072 pixel bytes (3074 per record)
 * pixels     1024 red, then 1024 green, then 1024 blue, each 32x32 row-major (CHW)
 * ```
 *
 * CIFAR-10 ships data_batch_1.bin .. data_batch_5.bin (10,000 records each) and
 * test_batch.bin; CIFAR-100 ships train.bin (50,000) and test.bin (10,000).
 *
 * CIFAR-10-C style directories hold `<corruption>.npy`, uint8 (5*N, 32, 32, 3), severities
 * 1..5 stacked (rows (s-1)*N .. s*N-1), and `labels.npy` with N or 5*N labels.
 *
 * @example
 * const { images, labels } = parseCifarBinary(readFileSync('test_batch.bin'), 'test_batch.bin', 'cifar10');
 * const fog3 = loadCorruptedCifar('/data/CIFAR-10-C', 'fog', 3, 'cifar10');
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DataFormatError } from '../util/errors.js';
import {
  createImageDataset,
  hwcToChw,
  readExistingFile,
  readNonEmptyLines,
  requireFile,
  type DatasetInfo,
  type ImageDataset,
} from './dataset.js';
import { npyToInt32, readNpyFile, readNpyFileHeader, readNpyUint8Rows } from './npy.js';

export type CifarVariant = 'cifar10' | 'cifar100';
export type CifarLabelMode = 'fine' | 'coarse';

/** Pixels per CIFAR image: 3 x 32 x 32. */
export const CIFAR_IMAGE_BYTES = 3072;

// prettier-ignore
export const CIFAR10_CLASSES: readonly string[] = [
  'airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck',
];

// prettier-ignore
export const CIFAR100_FINE_CLASSES: readonly string[] = [
  'apple', 'aquarium_fish', 'baby', 'bear', 'beaver', 'bed', 'bee', 'beetle', 'bicycle', 'bottle',
  'bowl', 'boy', 'bridge', 'bus', 'butterfly', 'camel', 'can', 'castle', 'caterpillar', 'cattle',
  'chair', 'chimpanzee', 'clock', 'cloud', 'cockroach', 'couch', 'crab', 'crocodile', 'cup', 'dinosaur',
  'dolphin', 'elephant', 'flatfish', 'forest', 'fox', 'girl', 'hamster', 'house', 'kangaroo', 'keyboard',
  'lamp', 'lawn_mower', 'leopard', 'lion', 'lizard', 'lobster', 'man', 'maple_tree', 'motorcycle', 'mountain',
  'mouse', 'mushroom', 'oak_tree', 'orange', 'orchid', 'otter', 'palm_tree', 'pear', 'pickup_truck', 'pine_tree',
  'plain', 'plate', 'poppy', 'porcupine', 'possum', 'rabbit', 'raccoon', 'ray', 'road', 'rocket',
  'rose', 'sea', 'seal', 'shark', 'shrew', 'skunk', 'skyscraper', 'snail', 'snake', 'spider',
  'squirrel', 'streetcar', 'sunflower', 'sweet_pepper', 'table', 'tank', 'telephone', 'television', 'tiger', 'tractor',
  'train', 'trout', 'tulip', 'turtle', 'wardrobe', 'whale', 'willow_tree', 'wolf', 'woman', 'worm',
];

// prettier-ignore
export const CIFAR100_COARSE_CLASSES: readonly string[] = [
  'aquatic_mammals', 'fish', 'flowers', 'food_containers', 'fruit_and_vegetables',
  'household_electrical_devices', 'household_furniture', 'insects', 'large_carnivores',
  'large_man-made_outdoor_things', 'large_natural_outdoor_scenes', 'large_omnivores_and_herbivores',
  'medium_mammals', 'non-insect_invertebrates', 'people', 'reptiles', 'small_mammals', 'trees',
  'vehicles_1', 'vehicles_2',
];

/** Where the official files come from (shown when a file is missing). */
export const CIFAR_SOURCES: Record<CifarVariant, string> = {
  cifar10:
    'Get the "CIFAR-10 binary version" (cifar-10-binary.tar.gz) from the CIFAR-10 and CIFAR-100 datasets page ' +
    "(Alex Krizhevsky, University of Toronto), extract it and pass the directory 'cifar-10-batches-bin'.",
  cifar100:
    'Get the "CIFAR-100 binary version" (cifar-100-binary.tar.gz) from the CIFAR-10 and CIFAR-100 datasets page ' +
    "(Alex Krizhevsky, University of Toronto), extract it and pass the directory 'cifar-100-binary'.",
};

/** Where the official corrupted sets come from. */
export const CIFAR_C_SOURCES: Record<CifarVariant, string> = {
  cifar10:
    'CIFAR-10-C (Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common Corruptions", ICLR 2019) ' +
    'is published on Zenodo (record 2535967): extract CIFAR-10-C.tar and pass its directory.',
  cifar100:
    'CIFAR-100-C (Hendrycks & Dietterich, ICLR 2019) is published on Zenodo (record 3555552): ' +
    'extract CIFAR-100-C.tar and pass its directory.',
};

/**
 * Shape, classes and normalization of CIFAR-10 / CIFAR-100. Mean and std are those of
 * pixel/255 over the 50,000 training images, per RGB channel.
 */
export function cifarInfo(variant: CifarVariant, labelMode: CifarLabelMode = 'fine'): DatasetInfo {
  if (variant === 'cifar10') {
    return {
      name: 'cifar10',
      imageShape: [3, 32, 32],
      numClasses: 10,
      classNames: CIFAR10_CLASSES,
      mean: [0.4914, 0.4822, 0.4465],
      std: [0.247, 0.2435, 0.2616],
    };
  }
  const classNames = labelMode === 'fine' ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES;
  return {
    name: 'cifar100',
    imageShape: [3, 32, 32],
    numClasses: classNames.length,
    classNames,
    mean: [0.5071, 0.4865, 0.4409],
    std: [0.2673, 0.2564, 0.2762],
  };
}

/** Bytes per record: label byte(s) + 3072 pixels. */
export function cifarRecordBytes(variant: CifarVariant): number {
  return variant === 'cifar10' ? 1 + CIFAR_IMAGE_BYTES : 2 + CIFAR_IMAGE_BYTES;
}

/**
 * Splits CIFAR binary bytes into CHW images and labels, checking the size and label range.
 * For CIFAR-100, `labelMode` picks the fine (default) or coarse label byte.
 */
export function parseCifarBinary(
  bytes: Uint8Array,
  file: string,
  variant: CifarVariant,
  labelMode: CifarLabelMode = 'fine',
): { images: Uint8Array; labels: Int32Array } {
  const recordBytes = cifarRecordBytes(variant);
  if (bytes.length === 0 || bytes.length % recordBytes !== 0) {
    throw new DataFormatError(
      file,
      `file size ${bytes.length} is not a multiple of the ${variant} record size ${recordBytes} ` +
        `(${variant === 'cifar10' ? '1 label byte' : '2 label bytes'} + ${CIFAR_IMAGE_BYTES} pixels); truncated or not a ${variant} binary file`,
    );
  }
  const count = bytes.length / recordBytes;
  const labelOffset = variant === 'cifar100' && labelMode === 'fine' ? 1 : 0;
  const numClasses = cifarInfo(variant, labelMode).numClasses;
  const labelName = variant === 'cifar10' ? 'label' : `${labelMode} label`;
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  const labels = new Int32Array(count);
  const pixelOffset = recordBytes - CIFAR_IMAGE_BYTES;
  for (let i = 0; i < count; i++) {
    const record = i * recordBytes;
    const label = bytes[record + labelOffset];
    if (label >= numClasses) {
      throw new DataFormatError(file, `record ${i}: ${labelName} ${label} is out of range 0..${numClasses - 1}`);
    }
    labels[i] = label;
    images.set(bytes.subarray(record + pixelOffset, record + recordBytes), i * CIFAR_IMAGE_BYTES);
  }
  return { images, labels };
}

/** File names of each split in the official binary archives. */
export function cifarSplitFiles(variant: CifarVariant, split: 'train' | 'test'): string[] {
  if (variant === 'cifar100') return [split === 'train' ? 'train.bin' : 'test.bin'];
  return split === 'train' ? [1, 2, 3, 4, 5].map((k) => `data_batch_${k}.bin`) : ['test_batch.bin'];
}

/** `dir`, or its archive subdirectory (cifar-10-batches-bin / cifar-100-binary) when the files are there. */
export function resolveCifarDir(dir: string, variant: CifarVariant): string {
  const first = cifarSplitFiles(variant, 'test')[0];
  if (existsSync(join(dir, first))) return dir;
  const nested = join(dir, variant === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary');
  return existsSync(join(nested, first)) ? nested : dir;
}

/** Loads a split from the official binary files in `dir` as an ImageDataset. */
export function loadCifarSplit(
  dir: string,
  variant: CifarVariant,
  split: 'train' | 'test',
  labelMode: CifarLabelMode = 'fine',
): ImageDataset {
  const root = resolveCifarDir(dir, variant);
  const parts = cifarSplitFiles(variant, split).map((name) => {
    const file = requireFile(join(root, name), CIFAR_SOURCES[variant]);
    return parseCifarBinary(readExistingFile(file), file, variant, labelMode);
  });
  const images = concatBytes(parts.map((p) => p.images));
  const labels = new Int32Array(parts.reduce((n, p) => n + p.labels.length, 0));
  let at = 0;
  for (const part of parts) {
    labels.set(part.labels, at);
    at += part.labels.length;
  }
  const info = { ...cifarInfo(variant, labelMode), classNames: readClassNames(root, variant, labelMode) };
  return createImageDataset(info, images, labels, join(root, cifarSplitFiles(variant, split)[0]));
}

/** Class names from the archive's *.txt when present (they match the built-in lists), else the built-ins. */
function readClassNames(root: string, variant: CifarVariant, labelMode: CifarLabelMode): readonly string[] {
  const builtIn = cifarInfo(variant, labelMode).classNames;
  const file = join(root, variant === 'cifar10' ? 'batches.meta.txt' : `${labelMode}_label_names.txt`);
  if (!existsSync(file)) return builtIn;
  const names = readNonEmptyLines(file);
  return names.length === builtIn.length ? names : builtIn;
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Corruption names in a CIFAR-10-C style directory: every `<name>.npy` except labels.npy, sorted. */
export function listCorruptionFiles(dir: string): string[] {
  if (!existsSync(dir))
    throw new DataFormatError(dir, 'directory not found; expected a CIFAR-10-C style directory of <corruption>.npy files');
  return readdirSync(dir)
    .filter((name) => name.endsWith('.npy') && name !== 'labels.npy')
    .map((name) => name.slice(0, -'.npy'.length))
    .sort();
}

/**
 * Severity `severity` (1..5) of `<dir>/<corruption>.npy` from a CIFAR-10-C /
 * CIFAR-100-C directory: uint8 (5·N, 32, 32, 3), severities stacked, with
 * `labels.npy` of N or 5·N labels. A missing or mis-sized file is a
 * DataFormatError naming it.
 */
export function loadCorruptedCifar(dir: string, corruption: string, severity: number, variant: CifarVariant = 'cifar10'): ImageDataset {
  return loadStackedCorruption(dir, corruption, severity, { ...cifarInfo(variant), name: `${variant}-c` }, CIFAR_C_SOURCES[variant]);
}

/**
 * Checks `<dir>/<corruption>.npy` and `<dir>/labels.npy` exist and that the
 * images are (5·N, H, W, C) for `info.imageShape`, reading only the header:
 * the check to run before any expensive work.
 */
export function checkStackedCorruption(
  dir: string,
  corruption: string,
  info: DatasetInfo,
  source: string,
): { imageFile: string; labelFile: string; fileShape: number[] } {
  const imageFile = requireFile(join(dir, `${corruption}.npy`), source);
  const labelFile = requireFile(join(dir, 'labels.npy'), source);
  const [channels, height, width] = info.imageShape;
  const fileShape = readNpyFileHeader(imageFile).shape;
  if (fileShape.length !== 4 || fileShape[1] !== height || fileShape[2] !== width || fileShape[3] !== channels) {
    throw new DataFormatError(
      imageFile,
      `expected shape (N, ${height}, ${width}, ${channels}) to match ${info.name}'s images, found (${fileShape.join(', ')})`,
    );
  }
  if (fileShape[0] % 5 !== 0) {
    throw new DataFormatError(imageFile, `${fileShape[0]} images is not 5 severities of equal size`);
  }
  return { imageFile, labelFile, fileShape };
}

/**
 * Severity `severity` (1..5) of `<dir>/<corruption>.npy` in the CIFAR-10-C
 * layout for any dataset described by `info`: uint8 (5·N, H, W, C) with the
 * five severities stacked (rows (s-1)·N .. s·N-1), and `labels.npy` with N or
 * 5·N labels in [0, info.numClasses). The file's image shape must be
 * `info.imageShape` (C, H, W). Errors are DataFormatErrors naming the file;
 * `source` says where such files come from.
 */
export function loadStackedCorruption(dir: string, corruption: string, severity: number, info: DatasetInfo, source: string): ImageDataset {
  if (!Number.isInteger(severity) || severity < 1 || severity > 5) {
    throw new DataFormatError(join(dir, `${corruption}.npy`), `severity must be an integer 1..5, got ${severity}`);
  }
  const { imageFile, labelFile, fileShape } = checkStackedCorruption(dir, corruption, info, source);
  const [channels, height, width] = info.imageShape;
  const perSeverity = fileShape[0] / 5;
  const rows = readNpyUint8Rows(imageFile, (severity - 1) * perSeverity, perSeverity);
  const allLabels = npyToInt32(readNpyFile(labelFile), labelFile, info.numClasses);
  let labels: Int32Array;
  if (allLabels.length === fileShape[0]) labels = allLabels.slice((severity - 1) * perSeverity, severity * perSeverity);
  else if (allLabels.length === perSeverity) labels = allLabels;
  else {
    throw new DataFormatError(
      labelFile,
      `label count (${allLabels.length}) does not match image count (${perSeverity} per severity, ${fileShape[0]} in ${corruption}.npy)`,
    );
  }
  const images = hwcToChw(rows.data, perSeverity, height, width, channels);
  return createImageDataset({ ...info, name: `${info.name}/${corruption}/${severity}` }, images, labels, imageFile);
}
