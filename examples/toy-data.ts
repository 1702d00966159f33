/**
 * A stand-in for your own data, shared by the examples: small grayscale
 * images and their labels as in-memory arrays, which is how you hand your own
 * images to sparse-soups (`createImageDataset`). Class k of 4 is a brighter
 * horizontal bar in the k-th quarter of the image, over noise.
 *
 * Images are bytes in CHW order per image (N×1×16×16 here); the loader
 * normalizes them with the training set's per-channel mean and standard
 * deviation (`computeChannelStats`), in units of pixel/255.
 */
import { computeChannelStats, createImageDataset, type ImageDataset, type ImageShape } from 'sparse-soups';

export const TOY_SIZE = 16;
const CLASS_NAMES = ['top', 'upper middle', 'lower middle', 'bottom'];
const SHAPE: ImageShape = [1, TOY_SIZE, TOY_SIZE];

/** `count` images with labels 0..3 in turn, seeded. */
function toyImages(count: number, seed: number): { images: Uint8Array; labels: Int32Array } {
  let state = seed >>> 0;
  const random = (): number => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32; // an LCG: enough for noise
  const images = new Uint8Array(count * TOY_SIZE * TOY_SIZE);
  const labels = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    labels[n] = n % CLASS_NAMES.length;
    const top = labels[n] * 4 + Math.floor(random() * 3); // a 2-row bar inside quarter k, shifted by 0-2 rows
    for (let y = 0; y < TOY_SIZE; y++)
      for (let x = 0; x < TOY_SIZE; x++)
        images[(n * TOY_SIZE + y) * TOY_SIZE + x] = Math.floor(random() * 200) + (y >= top && y < top + 2 ? 45 : 0);
  }
  return { images, labels };
}

/** Train and test splits of the toy data; both are normalized with the training set's statistics. */
export function toyDataset(trainCount = 800, testCount = 200): { train: ImageDataset; test: ImageDataset } {
  const train = toyImages(trainCount, 1);
  const test = toyImages(testCount, 2);
  const info = { imageShape: SHAPE, numClasses: CLASS_NAMES.length, classNames: CLASS_NAMES, ...computeChannelStats(train.images, SHAPE) };
  return {
    train: createImageDataset({ name: 'toy-bars/train', ...info }, train.images, train.labels, 'toy-bars train'),
    test: createImageDataset({ name: 'toy-bars/test', ...info }, test.images, test.labels, 'toy-bars test'),
  };
}
