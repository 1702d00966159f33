// The classes of an npy dataset: given (numClasses / classNames) or inferred
// from the training labels, labels outside them a DataFormatError naming the
// file, the value and its first index, and classes without a training image
// a warning (a stray label 77 in a 10-class set would build a 78-class model).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import { classesWithoutImages, formatClassRanges, loadDataset } from '../../src/data/index.js';
import { writeNpyFile } from '../../src/data/npy.js';
import { ConfigError } from '../../src/util/errors.js';

const root = scratchDir('npy-classes');
let made = 0;

/** An npy dataset directory of 4x4 grayscale images with these train and test labels. */
function npyDir(trainLabels: number[], testLabels: number[] = [0, 1], classes?: string[]): string {
  const dir = join(root, `d${made++}`);
  mkdirSync(dir);
  for (const [split, labels] of [
    ['train', trainLabels],
    ['test', testLabels],
  ] as const) {
    const n = labels.length;
    writeNpyFile(join(dir, `${split}_images.npy`), { dtype: '|u1', shape: [n, 4, 4], data: Uint8Array.from({ length: n * 16 }, (_, i) => i % 251) });
    writeNpyFile(join(dir, `${split}_labels.npy`), { dtype: '<i8', shape: [n], data: BigInt64Array.from(labels.map(BigInt)) });
  }
  if (classes) writeFileSync(join(dir, 'classes.txt'), `${classes.join('\n')}\n`);
  return dir;
}

/** Ten classes, three images each, then one stray label 77 at index 30. */
const STRAY = [...Array.from({ length: 30 }, (_, i) => i % 10), 77, 3];

test('a stray label inflates an inferred class count: a warning lists the classes with no training image', () => {
  const dir = npyDir(STRAY);
  const warnings: string[] = [];
  const { train, test: testSet } = loadDataset('npy', { dir, onWarning: (m) => warnings.push(m) });
  assert.equal(train.numClasses, 78);
  assert.equal(testSet.numClasses, 78);
  assert.equal(warnings.length, 1, 'once per load, for the training split only');
  assert.match(warnings[0], /train_labels\.npy: classes with no training image: 10\.\.76; numClasses 78 was inferred as the largest label \+ 1/);
  assert.match(warnings[0], /stray value/);
});

test('with numClasses given, a label outside 0..numClasses-1 is a DataFormatError naming the file, the value and its first index', () => {
  const dir = npyDir(STRAY);
  expectFormatError(() => loadDataset('npy', { dir, numClasses: 10 }), join(dir, 'train_labels.npy'), /^label 77 at index 30 is out of range 0\.\.9$/);
  // Test labels are held to the training set's classes too.
  const testDir = npyDir([0, 1, 2, 1, 0], [0, 5]);
  expectFormatError(() => loadDataset('npy', { dir: testDir, numClasses: 3 }), join(testDir, 'test_labels.npy'), /^label 5 at index 1 is out of range 0\.\.2$/);
});

test('classes with no training image are a warning when numClasses is given too', () => {
  const dir = npyDir([0, 1, 2, 0, 1, 2]);
  const warnings: string[] = [];
  const { train } = loadDataset('npy', { dir, numClasses: 5, onWarning: (m) => warnings.push(m) });
  assert.equal(train.numClasses, 5);
  assert.deepEqual(train.classNames, ['0', '1', '2', '3', '4']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /classes with no training image: 3\.\.4 \(of 5 classes\)$/);
  // Every class present: nothing to say.
  const quiet: string[] = [];
  loadDataset('npy', { dir, onWarning: (m) => quiet.push(m) });
  assert.deepEqual(quiet, []);
});

test('without onWarning the warning goes to process.emitWarning', async () => {
  const dir = npyDir([0, 2, 0, 2]);
  const warned = new Promise<Error>((resolve) => process.once('warning', resolve));
  loadDataset('npy', { dir });
  const warning = await warned;
  assert.equal(warning.name, 'DatasetWarning');
  assert.match(warning.message, /classes with no training image: 1;/);
});

test('classNames given override classes.txt; names and count must agree', () => {
  const dir = npyDir([0, 1, 2, 0], [0], ['a', 'b', 'c']);
  assert.deepEqual(loadDataset('npy', { dir }).train.classNames, ['a', 'b', 'c']);
  assert.deepEqual(loadDataset('npy', { dir, classNames: ['x', 'y', 'z'] }).train.classNames, ['x', 'y', 'z']);
  assert.throws(
    () => loadDataset('npy', { dir, numClasses: 3, classNames: ['x', 'y'] }),
    (e: unknown) => e instanceof ConfigError && e.path === 'data.classNames' && /2 class names for numClasses 3/.test(e.problem),
  );
  expectFormatError(() => loadDataset('npy', { dir, numClasses: 4 }), join(dir, 'classes.txt'), /lists 3 class names for numClasses 4/);
  // Fewer names than labels: the labels are out of range.
  expectFormatError(() => loadDataset('npy', { dir, classNames: ['x', 'y'] }), join(dir, 'train_labels.npy'), /^label 2 at index 2 is out of range 0\.\.1$/);
});

test('classesWithoutImages and formatClassRanges', () => {
  assert.deepEqual(classesWithoutImages(Int32Array.from([0, 3, 3, 5]), 7), [1, 2, 4, 6]);
  assert.equal(formatClassRanges([1, 2, 4, 6]), '1..2, 4, 6');
  assert.equal(formatClassRanges([10, 11, 12, 76]), '10..12, 76');
  assert.equal(formatClassRanges([]), '');
  assert.equal(formatClassRanges([0, 2, 4, 6], 2), '0, 2, ... (4 classes in all)');
});
