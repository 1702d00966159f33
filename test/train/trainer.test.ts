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

test('mixed precision bf16 trains on the CPU: the loss falls on the tiny fixture, like float32, with float32 weights', async () => {
  const { tinyImages, TINY_CLASSES, TINY_IMAGE_SIZE } = await import('../helpers/tiny-run.js');
  const { createModel } = await import('../../src/models/registry.js');
  const { images, labels } = tinyImages(256, 7);
  const data: ImageDataset = {
    name: 'tiny-bars',
    imageShape: [1, TINY_IMAGE_SIZE, TINY_IMAGE_SIZE],
    numClasses: TINY_CLASSES,
    classNames: Array.from({ length: TINY_CLASSES }, (_, k) => String(k)),
    mean: [0.4],
    std: [0.25],
    images,
    labels: Int32Array.from(labels),
  };
  const losses: Record<string, number[]> = {};
  for (const autocast of [undefined, 'bfloat16'] as const) {
    const model = createModel('mlp', {
      inChannels: 1,
      numClasses: TINY_CLASSES,
      imageSize: TINY_IMAGE_SIZE,
      generator: new Generator(3),
      hiddenSizes: [32],
    });
    const loader = new DataLoader(data, { batchSize: 32, seed: 1, dropLast: true });
    const seen: number[] = [];
    const result = await trainModel(model, loader, {
      epochs: 4,
      lr: () => 0.05,
      autocast,
      onProgress: (p) => seen.push(p.loss),
      progressEvery: 8,
    });
    assert.equal(result.skippedSteps, 0);
    assert.ok(model.parameters().every((p) => p.dtype === 'float32'));
    model.dispose();
    losses[autocast ?? 'float32'] = seen;
  }
  const [first, last] = [losses.bfloat16[0], losses.bfloat16.at(-1)!];
  assert.ok(last < 0.6 * first, `bf16 loss ${first} → ${last}: did not fall`);
  // bfloat16 rounds activations to 8 bits of mantissa: the curves differ, but not by much.
  assert.ok(Math.abs(last - losses.float32.at(-1)!) < 0.25, `bf16 ends at ${last}, float32 at ${losses.float32.at(-1)}`);
});
