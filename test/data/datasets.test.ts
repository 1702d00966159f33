import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../../src/util/errors.js';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import {
  computeChannelStats,
  createImageDataset,
  FASHION_MNIST_DEFAULT_DIR,
  getDatasetDefinition,
  hwcToChw,
  listDatasets,
  loadDataset,
  loadDatasetSplit,
  loadNpyImageDataset,
  registerDataset,
  writeNpyFile,
  type ImageDataset,
} from '../../src/data/index.js';

const dir = scratchDir('datasets');

test('the registry lists the built-in datasets with their metadata', () => {
  const names = listDatasets().map((d) => d.name);
  for (const name of ['fashion-mnist', 'mnist', 'cifar10', 'cifar100', 'npy']) assert.ok(names.includes(name), name);
  const fashion = getDatasetDefinition('fashion-mnist');
  assert.equal(fashion.defaultDir, '/usr/share/datasets/fashion-mnist');
  assert.deepEqual(fashion.info?.imageShape, [1, 28, 28]);
  assert.equal(fashion.info?.classNames.length, 10);
  const cifar = getDatasetDefinition('cifar10');
  assert.deepEqual(cifar.info?.imageShape, [3, 32, 32]);
  assert.equal(cifar.info?.mean.length, 3);
  assert.equal(getDatasetDefinition('npy').info, null);
  assert.throws(() => getDatasetDefinition('imagenet'), (e: unknown) => e instanceof ConfigError && /unknown dataset 'imagenet'.*cifar10/.test(e.message));
  assert.throws(() => registerDataset(fashion), /already registered/);
});

test('hwcToChw moves channels to planes', () => {
  // 2 images of 1x2 pixels, 3 channels: value = image*100 + pixel*10 + channel.
  const hwc = Uint8Array.from([0, 1, 2, 10, 11, 12, 100, 101, 102, 110, 111, 112]);
  assert.deepEqual([...hwcToChw(hwc, 2, 1, 2, 3)], [0, 10, 1, 11, 2, 12, 100, 110, 101, 111, 102, 112]);
});

test('computeChannelStats gives the per-channel mean and std of pixel/255', () => {
  const images = Uint8Array.from([0, 255, 0, 255, 51, 51, 51, 51]); // 1 image, 2 channels of 2x2
  const { mean, std } = computeChannelStats(images, [2, 2, 2]);
  assert.deepEqual(mean, [0.5, 0.2]);
  assert.ok(Math.abs(std[0] - 0.5) < 1e-12);
  assert.equal(std[1], 1); // constant channel: std 0 replaced by 1 so normalization stays finite
});

test('createImageDataset checks image bytes against labels and label range', () => {
  const info = { name: 't', imageShape: [1, 2, 2] as const, numClasses: 3, classNames: ['a', 'b', 'c'], mean: [0.5], std: [0.5] };
  expectFormatError(() => createImageDataset(info, new Uint8Array(12), new Int32Array(2), 'x'), 'x', /label count \(2\) does not match image count \(3\)/);
  expectFormatError(() => createImageDataset(info, new Uint8Array(8), Int32Array.from([0, 3]), 'x'), 'x', /label 3 at index 1 is out of range 0\.\.2/);
});

test('npy datasets: (N,H,W,C) images become CHW, stats from train, classes.txt names classes', () => {
  const root = mkdtempSync(join(dir, 'npy-'));
  // 3 RGB images of 2x2; pixel (y, x, c) of image n = n*40 + (y*2+x)*4 + c.
  const hwc = Uint8Array.from({ length: 3 * 12 }, (_, i) => Math.floor(i / 12) * 40 + (Math.floor((i % 12) / 3) * 4 + (i % 3)));
  writeNpyFile(join(root, 'train_images.npy'), { dtype: '|u1', shape: [3, 2, 2, 3], data: hwc });
  writeNpyFile(join(root, 'train_labels.npy'), { dtype: '<i8', shape: [3], data: BigInt64Array.from([0n, 2n, 1n]) });
  writeNpyFile(join(root, 'test_images.npy'), { dtype: '|u1', shape: [1, 2, 2, 3], data: hwc.subarray(0, 12) });
  writeNpyFile(join(root, 'test_labels.npy'), { dtype: '<i4', shape: [1], data: Int32Array.from([2]) });
  writeFileSync(join(root, 'classes.txt'), 'cat\ndog\nbird\n');
  const { train, test: testSet } = loadDataset('npy', { dir: root });
  assert.deepEqual(train.imageShape, [3, 2, 2]);
  assert.deepEqual(train.classNames, ['cat', 'dog', 'bird']);
  assert.equal(train.numClasses, 3);
  assert.deepEqual([...train.images.subarray(12, 24)], [40, 44, 48, 52, 41, 45, 49, 53, 42, 46, 50, 54]);
  assert.deepEqual([...train.labels], [0, 2, 1]);
  assert.deepEqual(testSet.mean, train.mean);
  assert.deepEqual(train.mean, computeChannelStats(train.images, train.imageShape).mean);
  assert.equal(testSet.labels[0], 2);
});

test('npy datasets: grayscale (N,H,W), inferred classes, and errors', () => {
  const root = mkdtempSync(join(dir, 'npy-gray-'));
  const images = join(root, 'images.npy');
  const labels = join(root, 'labels.npy');
  writeNpyFile(images, { dtype: '|u1', shape: [4, 3, 3], data: Uint8Array.from({ length: 36 }, (_, i) => i) });
  writeNpyFile(labels, { dtype: '<i8', shape: [4], data: BigInt64Array.from([0n, 4n, 1n, 1n]) });
  const gray: ImageDataset = loadNpyImageDataset(images, labels, { name: 'mine' });
  assert.deepEqual(gray.imageShape, [1, 3, 3]);
  assert.equal(gray.numClasses, 5);
  assert.equal(gray.name, 'mine');
  assert.deepEqual(gray.classNames, ['0', '1', '2', '3', '4']);
  const fewer = join(root, 'fewer.npy');
  writeNpyFile(fewer, { dtype: '<i8', shape: [3], data: BigInt64Array.from([0n, 1n, 1n]) });
  expectFormatError(() => loadNpyImageDataset(images, fewer), fewer, /label count \(3\) does not match image count \(4\)/);
  expectFormatError(() => loadNpyImageDataset(images, labels, { numClasses: 4 }), labels, /label 4 at index 1 is out of range 0\.\.3/);
  const floats = join(root, 'floats.npy');
  writeNpyFile(floats, { dtype: '<f4', shape: [4, 3, 3], data: new Float32Array(36) });
  expectFormatError(() => loadNpyImageDataset(floats, labels), floats, /expected uint8 images \(dtype \|u1\), found <f4/);
  const flat = join(root, 'flat.npy');
  writeNpyFile(flat, { dtype: '|u1', shape: [4, 9], data: new Uint8Array(36) });
  expectFormatError(() => loadNpyImageDataset(flat, labels), flat, /expected images of shape \(N, H, W\) or \(N, H, W, C\)/);
  expectFormatError(() => loadDatasetSplit('npy', 'train', { dir: root }), join(root, 'train_images.npy'), /file not found.*train_images\.npy/);
  expectFormatError(() => loadDatasetSplit('npy', 'train', { dir: join(root, 'absent') }), join(root, 'absent'), /directory not found/);
});

const fashionMissing = existsSync(FASHION_MNIST_DEFAULT_DIR) ? undefined : `${FASHION_MNIST_DEFAULT_DIR} not present (apt-get install dataset-fashion-mnist)`;

test('real Fashion-MNIST from Debian loads fast: 60000 train, 10000 test, 28x28, 10 classes', { skip: fashionMissing }, () => {
  const start = performance.now();
  const { train, test: testSet } = loadDataset('fashion-mnist');
  const elapsedMs = performance.now() - start;
  assert.ok(elapsedMs < 2000, `loading took ${elapsedMs.toFixed(0)} ms`);
  assert.equal(train.labels.length, 60000);
  assert.equal(testSet.labels.length, 10000);
  assert.deepEqual(train.imageShape, [1, 28, 28]);
  assert.equal(train.images.length, 60000 * 784);
  assert.equal(train.numClasses, 10);
  const counts = new Array<number>(10).fill(0);
  for (const label of train.labels) counts[label]++;
  assert.deepEqual(counts, new Array<number>(10).fill(6000));
  // The registered normalization constants are the training set's statistics.
  const stats = computeChannelStats(train.images, train.imageShape);
  assert.ok(Math.abs(stats.mean[0] - train.mean[0]) < 5e-4, `mean ${stats.mean[0]}`);
  assert.ok(Math.abs(stats.std[0] - train.std[0]) < 5e-4, `std ${stats.std[0]}`);
});
