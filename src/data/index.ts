/**
 * The data layer's public surface: datasets and their registry, file formats,
 * splits, the batch loader and its batches as tensors, augmentation, PNG previews.
 *
 * Importing this module registers the built-in datasets (fashion-mnist, mnist,
 * cifar10, cifar100, npy, imagefolder).
 *
 * @example
 * import { loadDataset, splitTrainValidation, DataLoader } from './data/index.js';
 * const { train } = loadDataset('fashion-mnist');
 * const split = splitTrainValidation(train);
 * const loader = new DataLoader(split.train, { batchSize: 128, seed: 0 });
 */
export * from './dataset.js';
export * from './datasets.js';
export * from './idx.js';
export * from './npy.js';
export * from './cifar.js';
export * from './imagefolder.js';
export {
  findImageFolderCache,
  IMAGE_FOLDER_CACHE_FOLDER,
  imageFolderCacheKey,
  imageFolderCacheRoots,
  readImageFolderCacheSplit,
  type ImageFolderManifest,
} from './imagefolder-cache.js';
export * from './imagefolder-decode.js';
export { loadImageFolderSplit } from './imagefolder-load.js';
export * from './split.js';
export * from './augment.js';
export * from './loader.js';
export * from './batches.js';
export * from './png.js';
export * from './preview.js';
// Corruptions (written separately) are exported from ./corruptions/index.js.
