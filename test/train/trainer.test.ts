// trainModel: a non-finite loss stops training with a TrainingDivergedError
// that says where (epoch, step) and at which learning rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, type Tensor } from '../../src/tensor/index.js';
import { Linear, Module } from '../../src/nn/index.js';
import { DataLoader, type ImageDataset } from '../../src/data/index.js';
import { trainModel } from '../../src/train/trainer.js';
import { TrainingDivergedError } from '../../src/util/errors.js';

const tiny: ImageDataset = {
  name: 'tiny',
  imageShape: [1, 2, 2],
  numClasses: 2,
  classNames: ['a', 'b'],
  mean: [0.5],
  std: [0.25],
  images: Uint8Array.from({ length: 8 * 4 }, (_, i) => (i * 37) % 256),
  labels: Int32Array.from({ length: 8 }, (_, i) => i % 2),
};

/** A linear classifier whose logits turn to NaN from the forward pass number `from` on. */
class GoesNaN extends Module {
  readonly fc = this.registerModule('fc', new Linear(4, 2, { generator: new Generator(0) }));
  private calls = 0;
  constructor(private readonly from: number) {
    super();
  }
  forward(x: Tensor): Tensor {
    const logits = this.fc.forward(x.flatten(1));
    return this.calls++ >= this.from ? logits.mul(NaN) : logits;
  }
}

test('a NaN loss is a TrainingDivergedError naming the epoch, step and learning rate', async () => {
  const loader = new DataLoader(tiny, { batchSize: 4, seed: 0 });
  await assert.rejects(trainModel(new GoesNaN(3), loader, { epochs: 3, lr: (t) => 0.01 * (t + 1), yieldEvery: 1 }), (e: unknown) => {
    assert.ok(e instanceof TrainingDivergedError, String(e));
    assert.deepEqual([e.epoch, e.step, e.lr], [1, 3, 0.04]);
    assert.ok(Number.isNaN(e.loss));
    assert.match(e.message, /training diverged: loss is NaN at epoch 1, step 3 \(lr 0\.04\); lower the learning rate/);
    return true;
  });
});
