/**
 * Loading an image folder synchronously, as every dataset loads: from the
 * decoded-image cache (imagefolder-cache.ts), which `prepareDataset` (async)
 * builds where a run starts. When the cache is missing (a library caller that
 * did not prepare, a worker on a machine with its own copy of the images),
 * the load decodes in a child process it waits for, since sharp decodes only
 * asynchronously; that child's progress lines go to this process's stderr.
 *
 * @example
 * await prepareImageFolder(dir, resolveImageFolderOptions({ imageSize: 64 }));
 * const train = loadImageFolderSplit(dir, 'train', { imageSize: 64 }); // reads the cache: no decoding
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError, DataFormatError, SparseSoupsError } from '../util/errors.js';
import type { DatasetLoadOptions, DatasetSplitName, ImageDataset } from './dataset.js';
import { listImageFolder, resolveImageFolderOptions, type ImageFolderOptions } from './imagefolder.js';
import { findImageFolderCache, imageFolderCacheKey, readImageFolderCacheSplit } from './imagefolder-cache.js';

/** One split of the image folder `dir`, from its cache (decoded first, in a child process, when missing). */
export function loadImageFolderSplit(dir: string, split: DatasetSplitName, options: DatasetLoadOptions): ImageDataset {
  const resolved = resolveImageFolderOptions(options);
  const key = imageFolderCacheKey(listImageFolder(dir), resolved);
  let entry = findImageFolderCache(dir, key);
  if (entry === null) {
    prepareInChildProcess(dir, resolved);
    entry = findImageFolderCache(dir, key);
    if (entry === null) throw new DataFormatError(dir, 'the image files changed while they were decoded; load again');
  }
  return readImageFolderCacheSplit(entry, key, split);
}

/** What the child (imagefolder-prepare-main.ts) reads from argv[2] and writes to stdout. */
export interface PrepareRequest {
  dir: string;
  options: ImageFolderOptions;
}
export type PrepareReply =
  { ok: true } | { ok: false; error: { name: string; message: string; file?: string; path?: string; problem?: string } };

/** The child entry beside this module: `.ts` from sources (tsx), `.js` from dist/. */
export function prepareMainPath(moduleUrl: string = import.meta.url): string {
  const ext = /\.[cm]?ts$/.test(new URL(moduleUrl).pathname) ? '.ts' : '.js';
  return fileURLToPath(new URL(`./imagefolder-prepare-main${ext}`, moduleUrl));
}

/** The parent's module loader flags (`--import tsx` when running from sources), which the child needs to load its entry. */
export function loaderFlags(execArgv: readonly string[] = process.execArgv): string[] {
  const withValue = /^(--import|--require|-r|--loader|--experimental-loader)$/;
  const inline = /^(--import|--require|--loader|--experimental-loader)=/;
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    if (withValue.test(execArgv[i]) && i + 1 < execArgv.length) out.push(execArgv[i], execArgv[++i]);
    else if (inline.test(execArgv[i])) out.push(execArgv[i]);
  }
  return out;
}

function prepareInChildProcess(dir: string, options: ImageFolderOptions): void {
  const request: PrepareRequest = { dir, options };
  const child = spawnSync(process.execPath, [...loaderFlags(), prepareMainPath(), JSON.stringify(request)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  let reply: PrepareReply | null = null;
  try {
    reply = JSON.parse(child.stdout.trim().split('\n').at(-1) ?? '') as PrepareReply;
  } catch {
    reply = null;
  }
  if (reply?.ok === true) return;
  if (reply?.ok === false) {
    const e = reply.error;
    if (e.name === 'DataFormatError' && e.file !== undefined && e.problem !== undefined) throw new DataFormatError(e.file, e.problem);
    if (e.name === 'ConfigError' && e.path !== undefined && e.problem !== undefined) throw new ConfigError(e.path, e.problem);
    throw new SparseSoupsError(`${e.name}: ${e.message}`);
  }
  const how =
    child.error !== undefined ? child.error.message : child.signal !== null ? `killed by ${child.signal}` : `exit code ${child.status}`;
  throw new SparseSoupsError(
    `${dir}: decoding the images in a child process failed (${how}); decode them first with ` +
      `\`await prepareDataset('imagefolder', options)\` in this process`,
  );
}
