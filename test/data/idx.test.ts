import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import { encodeIdx, findIdxFile, parseIdx, readIdxFile, type IdxArray } from '../../src/data/idx.js';
import { FASHION_MNIST_INFO, loadIdxSplit, MNIST_INFO } from '../../src/data/datasets.js';
import { loadDatasetSplit } from '../../src/data/index.js';

const dir = scratchDir('idx');

/** N 28x28 images whose pixel (y, x) of image i is (i * 7 + y * 28 + x) mod 256, labels i mod 10. */
function mnistLike(count: number): { images: IdxArray; labels: IdxArray } {
  const pixels = new Uint8Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (Math.floor(i / 784) * 7 + (i % 784)) % 256;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return {
    images: { type: 'uint8', shape: [count, 28, 28], data: pixels },
    labels: { type: 'uint8', shape: [count], data: labels },
  };
}

function writeMnistDir(name: string, files: Record<string, Uint8Array>): string {
  const root = mkdtempSync(join(dir, `${name}-`));
  for (const [file, bytes] of Object.entries(files)) writeFileSync(join(root, file), bytes);
  return root;
}

test('encodeIdx / parseIdx round-trip MNIST-shaped uint8 images and labels', () => {
  const { images, labels } = mnistLike(5);
  const back = parseIdx(encodeIdx(images), 'images');
  assert.equal(back.type, 'uint8');
  assert.deepEqual(back.shape, [5, 28, 28]);
  assert.deepEqual(back.data, images.data);
  assert.deepEqual(parseIdx(encodeIdx(labels), 'labels').data, labels.data);
});

test('IDX multi-byte types are big-endian and round-trip', () => {
  const ints: IdxArray = { type: 'int32', shape: [2, 2], data: Int32Array.from([1, -2, 70000, -2147483648]) };
  const bytes = encodeIdx(ints);
  assert.deepEqual([...bytes.subarray(0, 4)], [0, 0, 0x0c, 2]);
  assert.deepEqual([...bytes.subarray(12, 16)], [0, 0, 0, 1]); // first element, big-endian
  assert.deepEqual(parseIdx(bytes, 'f').data, ints.data);
  const floats: IdxArray = { type: 'float32', shape: [3], data: Float32Array.from([0.5, -1.25, 3]) };
  assert.deepEqual(parseIdx(encodeIdx(floats), 'f').data, floats.data);
  const doubles: IdxArray = { type: 'float64', shape: [2], data: Float64Array.from([Math.PI, -0.1]) };
  assert.deepEqual(parseIdx(encodeIdx(doubles), 'f').data, doubles.data);
  const shorts: IdxArray = { type: 'int16', shape: [2], data: Int16Array.from([-300, 300]) };
  assert.deepEqual(parseIdx(encodeIdx(shorts), 'f').data, shorts.data);
});

test('readIdxFile reads gzip-compressed and plain files alike', () => {
  const { images } = mnistLike(3);
  const plain = join(dir, 'plain-idx3-ubyte');
  const gz = join(dir, 'gz-idx3-ubyte.gz');
  writeFileSync(plain, encodeIdx(images));
  writeFileSync(gz, gzipSync(encodeIdx(images)));
  assert.deepEqual(readIdxFile(plain).data, images.data);
  assert.deepEqual(readIdxFile(gz).data, images.data);
});

test('IDX errors: wrong magic, unknown type, truncated header and data, trailing bytes, bad gzip, missing', () => {
  const good = encodeIdx(mnistLike(2).images);
  const wrongMagic = good.slice();
  wrongMagic[0] = 0x12;
  expectFormatError(() => parseIdx(wrongMagic, 'a.idx'), 'a.idx', /wrong magic number.*0x12/);
  const wrongType = good.slice();
  wrongType[2] = 0x07;
  expectFormatError(() => parseIdx(wrongType, 'b.idx'), 'b.idx', /unknown IDX element type 0x07/);
  expectFormatError(() => parseIdx(good.subarray(0, 3), 'c.idx'), 'c.idx', /truncated/);
  expectFormatError(() => parseIdx(good.subarray(0, 10), 'd.idx'), 'd.idx', /truncated IDX header/);
  expectFormatError(() => parseIdx(good.subarray(0, good.length - 1), 'e.idx'), 'e.idx', /truncated IDX data: shape \[2, 28, 28\]/);
  const longer = new Uint8Array(good.length + 3);
  longer.set(good);
  expectFormatError(() => parseIdx(longer, 'f.idx'), 'f.idx', /3 bytes after the data/);
  const badGzip = join(dir, 'bad.gz');
  const gz = gzipSync(good);
  writeFileSync(badGzip, gz.subarray(0, gz.length - 20));
  expectFormatError(() => readIdxFile(badGzip), badGzip, /corrupt or truncated gzip/);
  const missing = join(dir, 'nothing-here');
  expectFormatError(() => readIdxFile(missing), missing, /file not found/);
});

test('findIdxFile accepts .gz, plain, and the dotted spelling', () => {
  const root = mkdtempSync(join(dir, 'find-'));
  assert.equal(findIdxFile(root, 'train-images-idx3-ubyte'), null);
  writeFileSync(join(root, 'train-images.idx3-ubyte'), '');
  assert.equal(findIdxFile(root, 'train-images-idx3-ubyte'), join(root, 'train-images.idx3-ubyte'));
  writeFileSync(join(root, 'train-images-idx3-ubyte'), '');
  assert.equal(findIdxFile(root, 'train-images-idx3-ubyte'), join(root, 'train-images-idx3-ubyte'));
  writeFileSync(join(root, 'train-images-idx3-ubyte.gz'), '');
  assert.equal(findIdxFile(root, 'train-images-idx3-ubyte'), join(root, 'train-images-idx3-ubyte.gz'));
});

test('loadIdxSplit reads an MNIST-format directory (train gz, test plain) into CHW images', () => {
  const train = mnistLike(12);
  const testSet = mnistLike(4);
  const root = writeMnistDir('mnist-ok', {
    'train-images-idx3-ubyte.gz': gzipSync(encodeIdx(train.images)),
    'train-labels-idx1-ubyte.gz': gzipSync(encodeIdx(train.labels)),
    't10k-images-idx3-ubyte': encodeIdx(testSet.images),
    't10k-labels-idx1-ubyte': encodeIdx(testSet.labels),
  });
  const loaded = loadIdxSplit(root, 'train', MNIST_INFO, 'source');
  assert.deepEqual(loaded.imageShape, [1, 28, 28]);
  assert.equal(loaded.labels.length, 12);
  assert.deepEqual(loaded.images, train.images.data);
  assert.deepEqual([...loaded.labels], [...train.labels.data]);
  const viaRegistry = loadDatasetSplit('mnist', 'test', { dir: root });
  assert.equal(viaRegistry.name, 'mnist');
  assert.deepEqual(viaRegistry.images, testSet.images.data);
});

test('loadIdxSplit errors: label count mismatch, labels out of range, wrong image size, missing files', () => {
  const train = mnistLike(6);
  const fewerLabels = mnistLike(5).labels;
  const mismatch = writeMnistDir('mnist-mismatch', {
    'train-images-idx3-ubyte': encodeIdx(train.images),
    'train-labels-idx1-ubyte': encodeIdx(fewerLabels),
  });
  expectFormatError(
    () => loadIdxSplit(mismatch, 'train', MNIST_INFO, 's'),
    join(mismatch, 'train-labels-idx1-ubyte'),
    /label count \(5\) does not match image count \(6\)/,
  );
  const badLabels: IdxArray = { type: 'uint8', shape: [6], data: Uint8Array.from([0, 1, 2, 10, 4, 5]) };
  const outOfRange = writeMnistDir('mnist-range', {
    'train-images-idx3-ubyte': encodeIdx(train.images),
    'train-labels-idx1-ubyte': encodeIdx(badLabels),
  });
  expectFormatError(
    () => loadIdxSplit(outOfRange, 'train', MNIST_INFO, 's'),
    join(outOfRange, 'train-labels-idx1-ubyte'),
    /label 10 at index 3 is out of range 0\.\.9/,
  );
  const small: IdxArray = { type: 'uint8', shape: [1, 27, 28], data: new Uint8Array(27 * 28) };
  const wrongSize = writeMnistDir('mnist-size', {
    'train-images-idx3-ubyte': encodeIdx(small),
    'train-labels-idx1-ubyte': encodeIdx({ type: 'uint8', shape: [1], data: new Uint8Array(1) }),
  });
  expectFormatError(
    () => loadIdxSplit(wrongSize, 'train', MNIST_INFO, 's'),
    join(wrongSize, 'train-images-idx3-ubyte'),
    /expected uint8 images of shape \(N, 28, 28\), found uint8 \(1, 27, 28\)/,
  );
  const empty = mkdtempSync(join(dir, 'fmnist-empty-'));
  expectFormatError(
    () => loadDatasetSplit('fashion-mnist', 'train', { dir: empty }),
    join(empty, 'train-images-idx3-ubyte.gz'),
    /file not found.*apt-get install dataset-fashion-mnist/,
  );
  assert.equal(FASHION_MNIST_INFO.classNames.length, 10);
});
