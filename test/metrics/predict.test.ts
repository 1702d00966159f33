// predictLogits: logits in dataset order; a model whose class count does not
// match the dataset's is a TensorError naming both counts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator } from '../../src/tensor/index.js';
import { Linear, Sequential, Flatten } from '../../src/nn/index.js';
import type { ImageDataset } from '../../src/data/index.js';
import { predictLogits } from '../../src/metrics/predict.js';
import { TensorError } from '../../src/util/errors.js';

const tiny: ImageDataset = {
  name: 'tiny',
  imageShape: [1, 2, 2],
  numClasses: 3,
  classNames: ['a', 'b', 'c'],
  mean: [0.5],
  std: [0.25],
  images: Uint8Array.from({ length: 5 * 4 }, (_, i) => (i * 37) % 256),
  labels: Int32Array.from({ length: 5 }, (_, i) => i % 3),
};

test('predictLogits gives N x C logits for a model that fits the dataset', async () => {
  const model = new Sequential(new Flatten(), new Linear(4, 3, { generator: new Generator(0) }));
  const logits = await predictLogits(model, tiny, { batchSize: 2 });
  assert.equal(logits.length, 5 * 3);
  assert.ok(logits.every(Number.isFinite));
  model.dispose();
});

test('predictLogits refuses a model with another number of classes than the dataset', async () => {
  const model = new Sequential(new Flatten(), new Linear(4, 10, { generator: new Generator(0) }));
  await assert.rejects(
    predictLogits(model, tiny, { batchSize: 2 }),
    (e: Error) =>
      e instanceof TensorError &&
      /model output has 10 classes per image, dataset tiny has 3; build the model with numClasses 3/.test(e.message),
  );
  assert.equal(model.training, true, 'train mode restored');
  model.dispose();
});
