import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import {
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  CIFAR10_CLASSES,
  cifarRecordBytes,
  listCorruptionFiles,
  loadCifarSplit,
  loadCorruptedCifar,
  parseCifarBinary,
} from '../../src/data/cifar.js';
import { writeNpyFile } from '../../src/data/npy.js';
import { loadDatasetSplit } from '../../src/data/index.js';

const dir = scratchDir('cifar');

/** Pixel c, y, x of image `id`: a value that identifies all four. */
const pixel = (id: number, c: number, y: number, x: number): number => (id * 13 + c * 71 + y * 5 + x) % 256;

/** CIFAR binary records for images with the given ids and labels. */
function cifarRecords(ids: number[], labels: number[][]): Uint8Array {
  const labelBytes = labels[0].length;
  const record = labelBytes + 3072;
  const out = new Uint8Array(ids.length * record);
  ids.forEach((id, i) => {
    out.set(labels[i], i * record);
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) out[i * record + labelBytes + c * 1024 + y * 32 + x] = pixel(id, c, y, x);
  });
  return out;
}

function expectImage(images: Uint8Array, k: number, id: number): void {
  for (const [c, y, x] of [
    [0, 0, 0],
    [1, 5, 7],
    [2, 31, 31],
  ]) {
    assert.equal(images[k * 3072 + c * 1024 + y * 32 + x], pixel(id, c, y, x), `image ${k} (id ${id}) at ${c},${y},${x}`);
  }
}

test('parseCifarBinary reads CIFAR-10 records (label byte + CHW pixels)', () => {
  const bytes = cifarRecords([0, 1, 2], [[3], [9], [0]]);
  const { images, labels } = parseCifarBinary(bytes, 'b.bin', 'cifar10');
  assert.deepEqual([...labels], [3, 9, 0]);
  assert.equal(images.length, 3 * 3072);
  for (let k = 0; k < 3; k++) expectImage(images, k, k);
});

test('parseCifarBinary reads CIFAR-100 fine labels by default, coarse on request', () => {
  const bytes = cifarRecords([4, 5], [[19, 99], [0, 42]]);
  assert.deepEqual([...parseCifarBinary(bytes, 'c.bin', 'cifar100').labels], [99, 42]);
  assert.deepEqual([...parseCifarBinary(bytes, 'c.bin', 'cifar100', 'coarse').labels], [19, 0]);
  expectImage(parseCifarBinary(bytes, 'c.bin', 'cifar100').images, 1, 5);
  assert.equal(CIFAR100_FINE_CLASSES.length, 100);
  assert.equal(new Set(CIFAR100_FINE_CLASSES).size, 100);
  assert.equal(CIFAR100_COARSE_CLASSES.length, 20);
  assert.equal(CIFAR10_CLASSES.length, 10);
});

test('CIFAR errors: size not a multiple of the record, labels out of range', () => {
  const bytes = cifarRecords([0, 1], [[1], [2]]);
  expectFormatError(
    () => parseCifarBinary(bytes.subarray(0, bytes.length - 1), 'short.bin', 'cifar10'),
    'short.bin',
    /file size 6145 is not a multiple of the cifar10 record size 3073/,
  );
  expectFormatError(() => parseCifarBinary(bytes, 'wrong.bin', 'cifar100'), 'wrong.bin', /not a multiple of the cifar100 record size 3074/);
  expectFormatError(() => parseCifarBinary(new Uint8Array(0), 'empty.bin', 'cifar10'), 'empty.bin', /file size 0/);
  const badLabel = cifarRecords([0, 1], [[1], [10]]);
  expectFormatError(() => parseCifarBinary(badLabel, 'l.bin', 'cifar10'), 'l.bin', /record 1: label 10 is out of range 0\.\.9/);
  const badFine = cifarRecords([0], [[3, 100]]);
  expectFormatError(() => parseCifarBinary(badFine, 'f.bin', 'cifar100'), 'f.bin', /fine label 100 is out of range 0\.\.99/);
  const badCoarse = cifarRecords([0], [[20, 5]]);
  expectFormatError(() => parseCifarBinary(badCoarse, 'k.bin', 'cifar100', 'coarse'), 'k.bin', /coarse label 20 is out of range 0\.\.19/);
  assert.equal(cifarRecordBytes('cifar10'), 3073);
});

test('loadCifarSplit concatenates data_batch_1..5 in order, finds the archive subdirectory', () => {
  const root = mkdtempSync(join(dir, 'c10-'));
  const nested = join(root, 'cifar-10-batches-bin');
  mkdirSync(nested);
  for (let b = 1; b <= 5; b++) writeFileSync(join(nested, `data_batch_${b}.bin`), cifarRecords([b * 10, b * 10 + 1], [[b], [b + 1]]));
  writeFileSync(join(nested, 'test_batch.bin'), cifarRecords([7], [[7]]));
  const train = loadCifarSplit(root, 'cifar10', 'train');
  assert.equal(train.labels.length, 10);
  assert.deepEqual([...train.labels], [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
  expectImage(train.images, 0, 10);
  expectImage(train.images, 9, 51);
  assert.deepEqual(train.imageShape, [3, 32, 32]);
  assert.deepEqual(train.classNames, CIFAR10_CLASSES);
  const viaRegistry = loadDatasetSplit('cifar10', 'test', { dir: nested });
  assert.equal(viaRegistry.labels[0], 7);
  expectImage(viaRegistry.images, 0, 7);
});

test('cifar100 via the registry: train.bin/test.bin, fine by default, coarse with labelMode', () => {
  const root = mkdtempSync(join(dir, 'c100-'));
  writeFileSync(join(root, 'train.bin'), cifarRecords([1, 2, 3], [[0, 10], [1, 20], [2, 30]]));
  writeFileSync(join(root, 'test.bin'), cifarRecords([4], [[19, 99]]));
  const fine = loadDatasetSplit('cifar100', 'train', { dir: root });
  assert.deepEqual([...fine.labels], [10, 20, 30]);
  assert.equal(fine.numClasses, 100);
  const coarse = loadDatasetSplit('cifar100', 'test', { dir: root, labelMode: 'coarse' });
  assert.deepEqual([...coarse.labels], [19]);
  assert.equal(coarse.numClasses, 20);
  assert.equal(coarse.classNames[19], 'vehicles_2');
});

test('a missing CIFAR file names the expected path and the official binary version', () => {
  const root = mkdtempSync(join(dir, 'c10-missing-'));
  writeFileSync(join(root, 'data_batch_1.bin'), cifarRecords([0], [[0]]));
  expectFormatError(() => loadCifarSplit(root, 'cifar10', 'train'), join(root, 'data_batch_2.bin'), /file not found.*CIFAR-10 binary version/);
  assert.throws(() => loadDatasetSplit('cifar10', 'train'), /needs a directory/);
});

/** A CIFAR-10-C style directory: `count` images per severity, pixel = id-coded, HWC. */
function writeCorruptedDir(count: number, labelsPerFile: 'stacked' | 'single'): string {
  const root = mkdtempSync(join(dir, 'c10c-'));
  for (const corruption of ['fog', 'gaussian_noise']) {
    const total = 5 * count;
    const data = new Uint8Array(total * 3072);
    for (let n = 0; n < total; n++) {
      const id = corruption === 'fog' ? n : n + 100;
      for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) for (let c = 0; c < 3; c++) data[n * 3072 + (y * 32 + x) * 3 + c] = pixel(id, c, y, x);
    }
    writeNpyFile(join(root, `${corruption}.npy`), { dtype: '|u1', shape: [total, 32, 32, 3], data });
  }
  const single = Array.from({ length: count }, (_, i) => i % 10);
  const labels = labelsPerFile === 'stacked' ? [1, 2, 3, 4, 5].flatMap(() => single) : single;
  writeNpyFile(join(root, 'labels.npy'), { dtype: '<i8', shape: [labels.length], data: BigInt64Array.from(labels.map(BigInt)) });
  return root;
}

test('loadCorruptedCifar reads one severity, converts HWC to CHW, slices stacked labels', () => {
  const root = writeCorruptedDir(4, 'stacked');
  assert.deepEqual(listCorruptionFiles(root), ['fog', 'gaussian_noise']);
  const fog3 = loadCorruptedCifar(root, 'fog', 3);
  assert.equal(fog3.name, 'cifar10-c/fog/3');
  assert.equal(fog3.labels.length, 4);
  assert.deepEqual([...fog3.labels], [0, 1, 2, 3]);
  for (let k = 0; k < 4; k++) expectImage(fog3.images, k, 8 + k); // rows 8..11
  const noise5 = loadCorruptedCifar(root, 'gaussian_noise', 5);
  expectImage(noise5.images, 0, 100 + 16);
  const perSeverityLabels = writeCorruptedDir(3, 'single');
  assert.deepEqual([...loadCorruptedCifar(perSeverityLabels, 'fog', 1).labels], [0, 1, 2]);
});

test('loadCorruptedCifar errors: bad severity, missing file, wrong shape, label mismatch', () => {
  const root = writeCorruptedDir(2, 'stacked');
  assert.throws(() => loadCorruptedCifar(root, 'fog', 6), /severity must be an integer 1\.\.5/);
  expectFormatError(() => loadCorruptedCifar(root, 'snow', 1), join(root, 'snow.npy'), /file not found.*CIFAR-10-C.*Zenodo/);
  writeNpyFile(join(root, 'tiny.npy'), { dtype: '|u1', shape: [5, 28, 28], data: new Uint8Array(5 * 784) });
  expectFormatError(() => loadCorruptedCifar(root, 'tiny', 1), join(root, 'tiny.npy'), /expected shape \(N, 32, 32, 3\) to match cifar10-c's images, found \(5, 28, 28\)/);
  writeNpyFile(join(root, 'odd.npy'), { dtype: '|u1', shape: [7, 32, 32, 3], data: new Uint8Array(7 * 3072) });
  expectFormatError(() => loadCorruptedCifar(root, 'odd', 1), join(root, 'odd.npy'), /7 images is not 5 severities/);
  writeNpyFile(join(root, 'labels.npy'), { dtype: '<i8', shape: [3], data: BigInt64Array.from([0n, 1n, 2n]) });
  expectFormatError(() => loadCorruptedCifar(root, 'fog', 1), join(root, 'labels.npy'), /label count \(3\) does not match image count \(2 per severity/);
  writeNpyFile(join(root, 'labels.npy'), { dtype: '<i8', shape: [2], data: BigInt64Array.from([0n, 10n]) });
  expectFormatError(() => loadCorruptedCifar(root, 'fog', 1), join(root, 'labels.npy'), /label 10 at index 1 is out of range/);
  expectFormatError(() => listCorruptionFiles(join(root, 'nope')), join(root, 'nope'), /directory not found/);
});
