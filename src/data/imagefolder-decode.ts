/**
 * Decoding an image folder with sharp (libvips) into the cache, asynchronously
 * and a bounded number of files at a time.
 *
 * Each file becomes a imageSize × imageSize image:
 *
 * ```
 * bytes  → decode (PNG, JPEG; 8 or 16 bit; gray, RGB, CMYK, palette; alpha dropped first, as PIL's convert('RGB'))
 *        → sRGB, 8 bit
 *        → 'center-crop': scale the shorter side to imageSize (aspect kept), crop the centre square
 *          'resize':      scale to imageSize × imageSize (aspect changed)
 *          (bilinear, antialiased when shrinking: torchvision's Resize default)
 *        → channels 1: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16  (PIL's convert('L'), 0.299/0.587/0.114)
 *        → CHW bytes
 * ```
 *
 * EXIF orientation is not applied (PIL, hence torchvision's ImageFolder, does
 * not either). A file that cannot be read or decoded is a DataFormatError
 * naming it and its class, or, with `skipUnreadable`, left out and counted.
 *
 * @example
 * const r = await prepareImageFolder('/data/flowers', resolveImageFolderOptions({ imageSize: 64 }));
 * r.decoded; // 0 when the cache already held these files with these options
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Sharp, SharpOptions } from 'sharp';
import { DataFormatError } from '../util/errors.js';
import { computeChannelStats, type DatasetPrepareHooks, type DatasetSplitName } from './dataset.js';
import {
  describeImageFolderOptions,
  listImageFolder,
  type ImageFolderFile,
  type ImageFolderListing,
  type ImageFolderOptions,
} from './imagefolder.js';
import {
  findImageFolderCache,
  IMAGE_FOLDER_CACHE_FORMAT,
  imageFolderCacheKey,
  writeImageFolderCache,
  type DecodedSplit,
  type ImageFolderManifest,
} from './imagefolder-cache.js';

/** Tuning of {@link prepareImageFolder}, beside the dataset's hooks. */
export interface PrepareImageFolderOptions extends DatasetPrepareHooks {
  /** Files decoded at once (default: max(4, cores)); libvips adds its own threads per file. */
  concurrency?: number;
  /** Milliseconds between progress lines while decoding (default 5000). */
  progressIntervalMs?: number;
}

/** What {@link prepareImageFolder} did. */
export interface PreparedImageFolder {
  /** The cache entry's folder. */
  entry: string;
  key: string;
  /** Files decoded by this call (0: the cache was there). */
  decoded: number;
  /** Files skipped as unreadable by this call. */
  skipped: number;
}

let decodedFiles = 0;

/** Image files this process has decoded so far (a test's proof that a load came from the cache). */
export function imageFolderDecodeCount(): number {
  return decodedFiles;
}

type SharpFactory = (input: Buffer, options?: SharpOptions) => Sharp;
let sharpFactory: Promise<SharpFactory> | null = null;

/** sharp, loaded on first use: libvips is not loaded by processes that never decode. */
function loadSharp(): Promise<SharpFactory> {
  sharpFactory ??= import('sharp').then((m) => m.default as SharpFactory);
  return sharpFactory;
}

/** Lines go to stderr unless the caller takes them. */
const stderrLine = (line: string): void => void process.stderr.write(`${line}\n`);

/**
 * Makes sure the cache of `dir` with `options` exists, decoding every image when it does not.
 * Throws DataFormatError for the folder problems listImageFolder reports, for an unreadable
 * image (unless `options.skipUnreadable`) and when a split has no readable image.
 */
export async function prepareImageFolder(
  dir: string,
  options: ImageFolderOptions,
  hooks: PrepareImageFolderOptions = {},
): Promise<PreparedImageFolder> {
  const listing = listImageFolder(dir);
  const key = imageFolderCacheKey(listing, options);
  const found = findImageFolderCache(dir, key);
  if (found !== null) return { entry: found, key, decoded: 0, skipped: 0 };

  const log = hooks.log ?? stderrLine;
  const total = listing.splits.train.files.length + listing.splits.test.files.length;
  log(`imagefolder: decoding ${total.toLocaleString('en-US')} images of ${dir} (${describeImageFolderOptions(options)}) into a cache`);
  const started = performance.now();
  const decoded = await decodeListing(listing, options, hooks, log);
  const seconds = (performance.now() - started) / 1000;

  const skipped = { train: decoded.train.skipped, test: decoded.test.skipped };
  const skippedCount = skipped.train.length + skipped.test.length;
  if (skippedCount > 0) {
    const first = [...skipped.train.map((f) => `train/${f}`), ...skipped.test.map((f) => `test/${f}`)].slice(0, 5);
    log(
      `imagefolder: warning: skipped ${skippedCount} unreadable image${skippedCount === 1 ? '' : 's'} of ${dir}: ${first.join(', ')}${skippedCount > first.length ? ', ...' : ''}`,
    );
  }
  for (const split of ['train', 'test'] as const) {
    const { labels } = decoded[split];
    if (labels.length === 0)
      throw new DataFormatError(listing.splits[split].root, 'no readable image: every image file was skipped as unreadable');
    const empty = listing.classNames.filter((_, k) => !labels.includes(k));
    if (empty.length > 0) {
      log(
        `imagefolder: warning: ${listing.splits[split].root}: no images in class folder${empty.length === 1 ? '' : 's'} ${empty.join(', ')}`,
      );
    }
  }
  const stats = computeChannelStats(decoded.train.images, [options.channels, options.imageSize, options.imageSize]);
  const manifest: ImageFolderManifest = {
    format: IMAGE_FOLDER_CACHE_FORMAT,
    key,
    dir: listing.dir,
    options,
    classNames: listing.classNames,
    counts: { train: decoded.train.labels.length, test: decoded.test.labels.length },
    mean: stats.mean,
    std: stats.std,
    skipped,
    decodeSeconds: Math.round(seconds * 1000) / 1000,
  };
  const written = writeImageFolderCache(dir, manifest, decoded);
  const where = written.inTempDir
    ? `; the cache cannot be written beside the images (${written.notBeside}), so it is under the temp dir: ${written.entry}`
    : `; cache ${written.entry}`;
  log(`imagefolder: decoded ${(total - skippedCount).toLocaleString('en-US')} images in ${seconds.toFixed(1)} s${where}`);
  return { entry: written.entry, key, decoded: total, skipped: skippedCount };
}

interface DecodedSplitWithSkips extends DecodedSplit {
  skipped: string[];
}

/** Decodes both splits' files, `concurrency` at a time, logging progress every few seconds. */
async function decodeListing(
  listing: ImageFolderListing,
  options: ImageFolderOptions,
  hooks: PrepareImageFolderOptions,
  log: (line: string) => void,
): Promise<Record<DatasetSplitName, DecodedSplitWithSkips>> {
  const sharp = await loadSharp();
  const perImage = options.channels * options.imageSize * options.imageSize;
  const tasks: { split: DatasetSplitName; index: number; file: ImageFolderFile }[] = [];
  const out = {} as Record<DatasetSplitName, { images: Uint8Array; labels: Int32Array; ok: Uint8Array; errors: string[] }>;
  for (const split of ['train', 'test'] as const) {
    const files = listing.splits[split].files;
    out[split] = {
      images: new Uint8Array(files.length * perImage),
      labels: new Int32Array(files.length),
      ok: new Uint8Array(files.length),
      errors: [],
    };
    files.forEach((file, index) => tasks.push({ split, index, file }));
  }
  const interval = hooks.progressIntervalMs ?? 5000;
  const started = performance.now();
  let lastLine = started;
  let next = 0;
  let done = 0;
  let failure: unknown = null;

  const worker = async (): Promise<void> => {
    while (failure === null && next < tasks.length) {
      const { split, index, file } = tasks[next++];
      const path = join(listing.splits[split].root, file.path);
      const target = out[split];
      try {
        target.images.set(await decodeImageFile(sharp, path, options), index * perImage);
        target.labels[index] = file.label;
        target.ok[index] = 1;
      } catch (error) {
        const reason = (error as Error).message;
        if (!options.skipUnreadable) {
          const className = listing.classNames[file.label];
          failure ??= new DataFormatError(
            path,
            `${reason}; an image of class '${className}' (folder ${split}/${className}/): replace or remove it, or set data.skipUnreadable: true to skip unreadable images`,
          );
        } else target.errors[index] = file.path;
      }
      decodedFiles++;
      done++;
      hooks.onProgress?.({ done, total: tasks.length });
      const now = performance.now();
      if (now - lastLine >= interval && done < tasks.length) {
        lastLine = now;
        const elapsed = (now - started) / 1000;
        const rate = done / elapsed;
        log(
          `imagefolder: ${done.toLocaleString('en-US')} / ${tasks.length.toLocaleString('en-US')} images (${Math.floor((100 * done) / tasks.length)}%), ${elapsed.toFixed(0)} s, about ${Math.ceil((tasks.length - done) / rate)} s left`,
        );
      }
    }
  };
  const concurrency = Math.max(1, hooks.concurrency ?? Math.max(4, availableParallelism()));
  await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
  if (failure !== null) throw failure;

  const result = {} as Record<DatasetSplitName, DecodedSplitWithSkips>;
  for (const split of ['train', 'test'] as const) {
    const { images, labels, ok, errors } = out[split];
    result[split] = { ...compact(images, labels, ok, perImage), skipped: errors.filter((e) => e !== undefined) };
  }
  return result;
}

/** The images and labels whose `ok` flag is set, in order (the arrays themselves when all are). */
function compact(images: Uint8Array, labels: Int32Array, ok: Uint8Array, perImage: number): DecodedSplit {
  const kept = ok.reduce((n, v) => n + v, 0);
  if (kept === ok.length) return { images, labels };
  const keptImages = new Uint8Array(kept * perImage);
  const keptLabels = new Int32Array(kept);
  let at = 0;
  for (let i = 0; i < ok.length; i++) {
    if (!ok[i]) continue;
    keptImages.set(images.subarray(i * perImage, (i + 1) * perImage), at * perImage);
    keptLabels[at++] = labels[i];
  }
  return { images: keptImages, labels: keptLabels };
}

/** One file as CHW bytes of `options.channels` × imageSize × imageSize; throws an Error saying why it cannot be. */
async function decodeImageFile(sharp: SharpFactory, path: string, options: ImageFolderOptions): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new Error(`cannot read file (${(error as Error).message})`);
  }
  const size = options.imageSize;
  let rgb: { data: Buffer; info: { width: number; height: number; channels: number } };
  try {
    let image = sharp(bytes);
    if ((await image.metadata()).hasAlpha) {
      // sharp resizes images with alpha premultiplied, and drops alpha only after: drop it first, as PIL's convert('RGB') does.
      const full = await image.removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      image = sharp(full.data, { raw: { width: full.info.width, height: full.info.height, channels: full.info.channels as 3 } });
    }
    rgb = await image
      .removeAlpha()
      .toColourspace('srgb')
      .resize(size, size, { fit: options.resize === 'resize' ? 'fill' : 'cover', position: 'centre', kernel: 'linear' })
      .raw()
      .toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new Error(`cannot decode image (${(error as Error).message})`);
  }
  const { width, height, channels } = rgb.info;
  if (width !== size || height !== size || channels !== 3) {
    throw new Error(`decoded to ${width}x${height}x${channels}, expected ${size}x${size}x3`);
  }
  return rgbToChw(rgb.data, size * size, options.channels);
}

/** HWC RGB bytes to CHW, or to one plane of PIL's luma L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
export function rgbToChw(rgb: Uint8Array, pixels: number, channels: 1 | 3): Uint8Array {
  const out = new Uint8Array(pixels * channels);
  if (channels === 1) {
    for (let p = 0, s = 0; p < pixels; p++, s += 3) out[p] = (rgb[s] * 19595 + rgb[s + 1] * 38470 + rgb[s + 2] * 7471 + 0x8000) >>> 16;
    return out;
  }
  for (let p = 0, s = 0; p < pixels; p++, s += 3) {
    out[p] = rgb[s];
    out[pixels + p] = rgb[s + 1];
    out[2 * pixels + p] = rgb[s + 2];
  }
  return out;
}
