// The tiny-run fixture: its npy dataset loads as `dataset: npy` with balanced
// classes, the same bytes every time, and its config merges overrides deeply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadDataset } from '../../src/data/index.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { TINY_CLASSES, TINY_TEST_IMAGES, TINY_TRAIN_IMAGES, deepMerge, tinyDatasetDir, tinyImages, tinyRunConfig } from './tiny-run.js';

test('the tiny dataset loads as npy: 1x28x28, 10 balanced classes, named, reproducible', () => {
  const dir = tinyDatasetDir();
  assert.equal(tinyDatasetDir(), dir, 'written once per process');
  const { train, test: testSet } = loadDataset('npy', { dir });
  assert.deepEqual([train.labels.length, testSet.labels.length], [TINY_TRAIN_IMAGES, TINY_TEST_IMAGES]);
  assert.deepEqual(train.imageShape, [1, 28, 28]);
  assert.equal(train.numClasses, TINY_CLASSES);
  assert.deepEqual([train.classNames[0], train.classNames[9]], ['row 0', 'column 4']);
  for (let k = 0; k < TINY_CLASSES; k++) assert.equal(train.labels.filter((l) => l === k).length, TINY_TRAIN_IMAGES / TINY_CLASSES);
  assert.deepEqual(tinyImages(20, 1).images, train.images.subarray(0, 20 * 28 * 28), 'a pure function of count and seed');
  assert.notDeepEqual(tinyImages(20, 2).images, tinyImages(20, 1).images);
});

test('tinyRunConfig: a valid config on the tiny dataset; overrides merge into nested sections, arrays replace', () => {
  const config = parseSmsConfig(tinyRunConfig());
  assert.deepEqual([config.data.dataset, config.data.dir], ['npy', tinyDatasetDir()]);
  const changed = parseSmsConfig(tinyRunConfig({ data: { batchSize: 16 }, evaluation: { oodCorruptions: ['contrast'] } }));
  assert.equal(changed.data.batchSize, 16);
  assert.equal(changed.data.dir, tinyDatasetDir(), 'siblings of an override stay');
  assert.deepEqual(changed.evaluation.oodCorruptions, ['contrast']);
  assert.deepEqual(changed.evaluation.oodSeverities, config.evaluation.oodSeverities);
  assert.deepEqual(deepMerge({ a: { b: [1, 2], c: 1 } }, { a: { b: [3], c: undefined } }), { a: { b: [3], c: 1 } });
});
