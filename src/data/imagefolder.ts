/**
 * Image folders in torchvision's ImageFolder layout: the options that say how
 * files become pixels, and the listing of the files.
 *
 * ```
 * <dir>/train/<class>/[subfolders/]*.{png,jpg,jpeg}    classes = the sorted subfolder names,
 * <dir>/test/<class>/[subfolders/]*.{png,jpg,jpeg}     the same set in test/ as in train/
 * ```
 *
 * Label k is the k-th class name in sorted order (code-unit order, as Python's
 * `sorted`); within a class, files are in sorted path order, subfolders
 * included. Names starting with '.' are skipped (`.ipynb_checkpoints`, the
 * cache folder), as are files with other extensions. Decoding and the cache
 * are imagefolder-decode.ts and imagefolder-cache.ts; the dataset definition
 * is imagefolder-dataset.ts.
 *
 * @example
 * const listing = listImageFolder('/data/flowers');
 * listing.classNames; // ['daisy', 'rose', 'tulip']
 * listing.splits.train.files[0]; // { path: 'daisy/001.jpg', label: 0, size: 48213, mtimeMs: 1718000000000 }
 */
import { existsSync, readdirSync, statSync, type Dirent } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, DataFormatError } from '../util/errors.js';
import type { DatasetLoadOptions, DatasetSplitName, ImageResizeMode } from './dataset.js';

/** The decoding options with every default applied. */
export interface ImageFolderOptions {
  imageSize: number;
  resize: ImageResizeMode;
  channels: 1 | 3;
  skipUnreadable: boolean;
}

/** Defaults of the decoding options (the config's `data.imageSize`, `data.resize`, `data.channels`, `data.skipUnreadable`). */
export const IMAGE_FOLDER_DEFAULTS: Readonly<ImageFolderOptions> = {
  imageSize: 32,
  resize: 'center-crop',
  channels: 3,
  skipUnreadable: false,
};

/** File extensions decoded (case-insensitive). */
export const IMAGE_FOLDER_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Largest accepted imageSize: 1024² RGB images are 3 MiB each already. */
const MAX_IMAGE_SIZE = 1024;

export const IMAGE_FOLDER_SOURCE =
  'An imagefolder directory holds train/<class>/*.{png,jpg,jpeg} and test/<class>/*.{png,jpg,jpeg} ' +
  "(torchvision's ImageFolder layout: one subfolder per class, the same class folders in train/ and test/).";

/** The options with defaults applied; ConfigError (path `data.<key>`) for a value out of range. */
export function resolveImageFolderOptions(options: DatasetLoadOptions): ImageFolderOptions {
  const resolved: ImageFolderOptions = {
    imageSize: options.imageSize ?? IMAGE_FOLDER_DEFAULTS.imageSize,
    resize: options.resize ?? IMAGE_FOLDER_DEFAULTS.resize,
    channels: options.channels ?? IMAGE_FOLDER_DEFAULTS.channels,
    skipUnreadable: options.skipUnreadable ?? IMAGE_FOLDER_DEFAULTS.skipUnreadable,
  };
  if (!Number.isInteger(resolved.imageSize) || resolved.imageSize < 1 || resolved.imageSize > MAX_IMAGE_SIZE) {
    throw new ConfigError('data.imageSize', `expected an integer 1..${MAX_IMAGE_SIZE}, got ${resolved.imageSize}`);
  }
  if (resolved.resize !== 'resize' && resolved.resize !== 'center-crop') {
    throw new ConfigError('data.resize', `expected 'resize' or 'center-crop', got ${JSON.stringify(resolved.resize)}`);
  }
  if (resolved.channels !== 1 && resolved.channels !== 3) {
    throw new ConfigError('data.channels', `expected 1 (grayscale) or 3 (RGB), got ${JSON.stringify(resolved.channels)}`);
  }
  return resolved;
}

/** "32x32 RGB, center-crop": the options in a log line. */
export function describeImageFolderOptions(o: ImageFolderOptions): string {
  return `${o.imageSize}x${o.imageSize} ${o.channels === 3 ? 'RGB' : 'grayscale'}, ${o.resize}${o.skipUnreadable ? ', skipping unreadable files' : ''}`;
}

/** One image file of a split. */
export interface ImageFolderFile {
  /** Path relative to the split folder, '/'-separated: `<class>/<name>`. */
  path: string;
  label: number;
  size: number;
  mtimeMs: number;
}

/** One split's folder and files. */
export interface ImageFolderSplitListing {
  /** `<dir>/<split>`. */
  root: string;
  files: ImageFolderFile[];
  /** Class folders holding no image file. */
  emptyClasses: string[];
}

/** Both splits of an image folder, sharing one class list. */
export interface ImageFolderListing {
  dir: string;
  classNames: string[];
  splits: Record<DatasetSplitName, ImageFolderSplitListing>;
}

const SPLITS: readonly DatasetSplitName[] = ['train', 'test'];

/**
 * Lists both splits of `dir`. Throws DataFormatError naming the folder when `dir`, train/ or
 * test/ is missing, a split has no class folders or no images, or test/'s classes are not
 * train/'s (naming the classes only in one of them).
 */
export function listImageFolder(dir: string): ImageFolderListing {
  if (!existsSync(dir)) throw new DataFormatError(dir, `directory not found. ${IMAGE_FOLDER_SOURCE}`);
  const classesOf = {} as Record<DatasetSplitName, string[]>;
  for (const split of SPLITS) classesOf[split] = classFolders(join(dir, split));
  const [train, test] = [classesOf.train, classesOf.test];
  if (train.join('\0') !== test.join('\0')) {
    const onlyTrain = train.filter((c) => !test.includes(c));
    const onlyTest = test.filter((c) => !train.includes(c));
    const parts = [
      onlyTrain.length > 0 && `only in train/: ${onlyTrain.join(', ')}`,
      onlyTest.length > 0 && `only in test/: ${onlyTest.join(', ')}`,
    ];
    throw new DataFormatError(
      join(dir, 'test'),
      `class folders differ from ${join(dir, 'train')} (${parts.filter(Boolean).join('; ')}); train/ and test/ need the same class folders`,
    );
  }
  const splits = {} as Record<DatasetSplitName, ImageFolderSplitListing>;
  for (const split of SPLITS) splits[split] = listSplit(join(dir, split), train);
  return { dir, classNames: train, splits };
}

/** The sorted class folder names of a split folder. */
function classFolders(root: string): string[] {
  const entries = readEntries(root, `split folder not found. ${IMAGE_FOLDER_SOURCE}`);
  const classes = entries
    .filter((e) => !e.name.startsWith('.') && isDirectory(root, e))
    .map((e) => e.name)
    .sort(byCodeUnits);
  if (classes.length === 0)
    throw new DataFormatError(root, `no class folders: expected one subfolder of images per class. ${IMAGE_FOLDER_SOURCE}`);
  return classes;
}

function listSplit(root: string, classNames: readonly string[]): ImageFolderSplitListing {
  const files: ImageFolderFile[] = [];
  const emptyClasses: string[] = [];
  classNames.forEach((name, label) => {
    const before = files.length;
    collectImages(root, name, label, files);
    if (files.length === before) emptyClasses.push(name);
  });
  if (files.length === 0) {
    throw new DataFormatError(root, `no images (${IMAGE_FOLDER_EXTENSIONS.join(', ')}) in any of its ${classNames.length} class folders`);
  }
  return { root, files, emptyClasses };
}

/** Appends the image files under `root/relative` to `out`: a folder's files (sorted), then its subfolders' (sorted), as torchvision walks them. */
function collectImages(root: string, relative: string, label: number, out: ImageFolderFile[]): void {
  const folder = join(root, relative);
  const entries = readEntries(folder, 'folder not found')
    .filter((e) => !e.name.startsWith('.'))
    .sort((a, b) => byCodeUnits(a.name, b.name));
  const subfolders: string[] = [];
  for (const entry of entries) {
    const path = `${relative}/${entry.name}`;
    if (isDirectory(folder, entry)) {
      subfolders.push(path);
      continue;
    }
    const lower = entry.name.toLowerCase();
    if (!IMAGE_FOLDER_EXTENSIONS.some((ext) => lower.endsWith(ext))) continue;
    const stat = statSync(join(folder, entry.name), { throwIfNoEntry: false });
    // A dangling link still counts as an image: decoding reports it (or skips it).
    out.push({ path, label, size: stat?.size ?? -1, mtimeMs: stat?.mtimeMs ?? -1 });
  }
  for (const path of subfolders) collectImages(root, path, label, out);
}

function readEntries(folder: string, missing: string): Dirent[] {
  try {
    return readdirSync(folder, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataFormatError(folder, code === 'ENOENT' ? missing : `cannot list folder (${(error as Error).message})`);
  }
}

/** A directory, or a link to one (datasets are often assembled from links). */
function isDirectory(parent: string, entry: Dirent): boolean {
  if (entry.isDirectory()) return true;
  return entry.isSymbolicLink() && (statSync(join(parent, entry.name), { throwIfNoEntry: false })?.isDirectory() ?? false);
}

/** Python's `sorted` order for strings (UTF-16 code units; the same for all but astral characters). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
