/**
 * The decoded-image cache of an image folder: decoding happens once, and every
 * later load (a second run, child processes, queue workers) reads the cache.
 *
 * ```
 * <dir>/.sparse-soups-cache/imagefolder-<key>/      (or, when <dir> is not writable,
 *   manifest.json          classes, counts, mean/std,  <tmpdir>/sparse-soups-cache-<uid>/<hash of dir>/imagefolder-<key>/)
 *                          options, skipped files
 *   train_images.npy       uint8 (N, C, H, W): the in-memory layout, read without conversion
 *   train_labels.npy       int32 (N,)
 *   test_images.npy, test_labels.npy
 * ```
 *
 * `key` is a hash of the decoding options, the class names and every file's
 * path, size and modification time: a changed, added or removed image (or
 * other options) means another key, so a stale cache is never read. Old
 * entries are not deleted; remove `.sparse-soups-cache` to reclaim the space.
 * An entry is written into a temporary folder renamed into place when
 * complete, so a reader never sees half of one and concurrent writers do not
 * collide.
 *
 * @example
 * const key = imageFolderCacheKey(listImageFolder(dir), resolveImageFolderOptions({}));
 * const entry = findImageFolderCache(dir, key); // null until prepareImageFolder has run
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DataFormatError } from '../util/errors.js';
import { createImageDataset, type DatasetSplitName, type ImageDataset } from './dataset.js';
import type { ImageFolderListing, ImageFolderOptions } from './imagefolder.js';
import { npyToInt32, readNpyFile, writeNpyFile } from './npy.js';

/** Bumped when the cache's contents or decoding change meaning, so old entries are not read. */
export const IMAGE_FOLDER_CACHE_FORMAT = 1;

/** The cache folder inside an image folder. */
export const IMAGE_FOLDER_CACHE_FOLDER = '.sparse-soups-cache';

/** What manifest.json records. */
export interface ImageFolderManifest {
  format: number;
  key: string;
  /** The image folder, resolved. */
  dir: string;
  options: ImageFolderOptions;
  classNames: string[];
  /** Images per split (after skipping). */
  counts: Record<DatasetSplitName, number>;
  /** Per-channel mean and std of pixel/255 over the training images. */
  mean: number[];
  std: number[];
  /** Files skipped as unreadable (skipUnreadable), relative to the split folder. */
  skipped: Record<DatasetSplitName, string[]>;
  decodeSeconds: number;
}

/** A decoded split: CHW images (N*C*H*W bytes) and labels. */
export interface DecodedSplit {
  images: Uint8Array;
  labels: Int32Array;
}

/** The cache key of a listing decoded with `options` (16 hex digits). */
export function imageFolderCacheKey(listing: ImageFolderListing, options: ImageFolderOptions): string {
  const hash = createHash('sha256');
  const { imageSize, resize, channels, skipUnreadable } = options;
  hash.update(
    JSON.stringify({
      format: IMAGE_FOLDER_CACHE_FORMAT,
      options: { imageSize, resize, channels, skipUnreadable },
      classNames: listing.classNames,
    }),
  );
  for (const [split, { files }] of Object.entries(listing.splits)) {
    hash.update(`\n${split}`);
    for (const f of files) hash.update(`\n${f.path}\t${f.label}\t${f.size}\t${f.mtimeMs}`);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Where an image folder's cache entries may live, in order of preference:
 * beside the images, then under the OS temp dir (per user, per folder).
 */
export function imageFolderCacheRoots(dir: string): string[] {
  const absolute = resolve(dir);
  const user = process.getuid?.() ?? 'user';
  const folderHash = createHash('sha256').update(absolute).digest('hex').slice(0, 16);
  return [join(absolute, IMAGE_FOLDER_CACHE_FOLDER), join(tmpdir(), `sparse-soups-cache-${user}`, folderHash)];
}

const entryName = (key: string): string => `imagefolder-${key}`;

/** The folder of the complete cache entry `key` of `dir`, or null when there is none. */
export function findImageFolderCache(dir: string, key: string): string | null {
  for (const root of imageFolderCacheRoots(dir)) {
    const entry = join(root, entryName(key));
    if (existsSync(join(entry, 'manifest.json'))) return entry;
  }
  return null;
}

/** Reads the manifest of a cache entry, checking it is the entry `key`. */
export function readImageFolderManifest(entry: string, key: string): ImageFolderManifest {
  const file = join(entry, 'manifest.json');
  let manifest: ImageFolderManifest;
  try {
    manifest = JSON.parse(readFileSync(file, 'utf8')) as ImageFolderManifest;
  } catch (error) {
    throw new DataFormatError(file, `unreadable cache manifest (${(error as Error).message}); delete ${entry} to decode the images again`);
  }
  if (manifest.format !== IMAGE_FOLDER_CACHE_FORMAT || manifest.key !== key) {
    throw new DataFormatError(
      file,
      `cache manifest of format ${manifest.format}, key ${manifest.key}; expected ${IMAGE_FOLDER_CACHE_FORMAT}, ${key}: delete ${entry}`,
    );
  }
  return manifest;
}

/** One split of a cache entry as an ImageDataset named `imagefolder`. */
export function readImageFolderCacheSplit(entry: string, key: string, split: DatasetSplitName): ImageDataset {
  const manifest = readImageFolderManifest(entry, key);
  const { imageSize, channels } = manifest.options;
  const imagesFile = join(entry, `${split}_images.npy`);
  const labelsFile = join(entry, `${split}_labels.npy`);
  const images = readNpyFile(imagesFile);
  const expected = [manifest.counts[split], channels, imageSize, imageSize];
  if (images.dtype !== '|u1' || images.shape.join() !== expected.join()) {
    throw new DataFormatError(
      imagesFile,
      `expected uint8 (${expected.join(', ')}) as the manifest says, found ${images.dtype} (${images.shape.join(', ')}); delete ${entry}`,
    );
  }
  const labels = npyToInt32(readNpyFile(labelsFile), labelsFile, manifest.classNames.length);
  const info = {
    name: 'imagefolder',
    imageShape: [channels, imageSize, imageSize] as const,
    numClasses: manifest.classNames.length,
    classNames: manifest.classNames,
    mean: manifest.mean,
    std: manifest.std,
  };
  return createImageDataset(info, images.data as Uint8Array, labels, imagesFile);
}

/** Where a cache entry was written, and whether that is the temp-dir fallback. */
export interface WrittenCache {
  entry: string;
  inTempDir: boolean;
  /** Why it is not beside the images (when inTempDir). */
  notBeside?: string;
}

/**
 * Writes cache entry `manifest.key` of `dir` and returns its folder: beside the images, or
 * under the temp dir when that fails (a read-only dataset folder). When another process
 * completed the same entry first, theirs is kept (it holds the same bytes).
 */
export function writeImageFolderCache(
  dir: string,
  manifest: ImageFolderManifest,
  splits: Record<DatasetSplitName, DecodedSplit>,
): WrittenCache {
  const failures: string[] = [];
  for (const [index, root] of imageFolderCacheRoots(dir).entries()) {
    try {
      return { entry: writeEntry(root, manifest, splits), inTempDir: index > 0, notBeside: failures[0] };
    } catch (error) {
      failures.push(`${root}: ${(error as Error).message}`);
    }
  }
  throw new DataFormatError(dir, `cannot write the decoded-image cache (${failures.join('; ')})`);
}

function writeEntry(root: string, manifest: ImageFolderManifest, splits: Record<DatasetSplitName, DecodedSplit>): string {
  mkdirSync(root, { recursive: true });
  const final = join(root, entryName(manifest.key));
  if (existsSync(join(final, 'manifest.json'))) return final;
  const temp = join(root, `${entryName(manifest.key)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  mkdirSync(temp);
  try {
    const { imageSize, channels } = manifest.options;
    for (const [split, { images, labels }] of Object.entries(splits)) {
      writeNpyFile(join(temp, `${split}_images.npy`), {
        dtype: '|u1',
        shape: [labels.length, channels, imageSize, imageSize],
        data: images,
      });
      writeNpyFile(join(temp, `${split}_labels.npy`), { dtype: '<i4', shape: [labels.length], data: labels });
    }
    writeFileSync(join(temp, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    if (existsSync(final) && !existsSync(join(final, 'manifest.json'))) rmSync(final, { recursive: true, force: true }); // a damaged entry
    try {
      renameSync(temp, final);
    } catch (error) {
      // Another process renamed its (identical) entry into place first.
      if (!existsSync(join(final, 'manifest.json'))) throw error;
    }
    return final;
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
}
