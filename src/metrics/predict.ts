/**
 * Model outputs over a whole dataset: logits [N, C] as a flat Float32Array,
 * computed in eval mode without gradients, in dataset order.
 */
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { Module } from '../nn/module.js';
import { DataLoader } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { batchToTensors } from '../data/batches.js';
import { TensorError } from '../util/errors.js';

/** Evaluation batch size (default 1000) and device. */
export interface PredictOptions {
  batchSize?: number;
  device?: string;
}

/**
 * The logits of `model` for every image of `dataset`, in dataset order: a
 * flat Float32Array of N × C values (row i is image i's C class scores),
 * computed in eval mode without gradients (the model's train/eval mode is
 * restored afterwards). Pass it to `accuracy`, or to `softmax` for
 * probabilities. Throws TensorError when the model's output does not have
 * `dataset.numClasses` scores per image.
 *
 * @example
 * const logits = await predictLogits(model, test);
 * accuracy(logits, test.labels, test.numClasses); // fraction in [0, 1]
 */
export async function predictLogits(model: Module, dataset: ImageDataset, opts: PredictOptions = {}): Promise<Float32Array> {
  const loader = new DataLoader(dataset, { batchSize: opts.batchSize ?? 1000, shuffle: false, reuseBuffers: true });
  const n = dataset.labels.length;
  const c = dataset.numClasses;
  const out = new Float32Array(n * c);
  const wasTraining = model.training;
  model.eval();
  try {
    let offset = 0;
    for (const batch of loader.epoch(0)) {
      const logits = noGrad(() => tidy(() => model.forward(batchToTensors(batch, opts.device).images).toArray<'float32'>()));
      if (logits.length !== batch.labels.length * c) {
        throw new TensorError(
          `model output has ${logits.length / batch.labels.length} classes per image, dataset ${dataset.name} has ${c}; ` +
            `build the model with numClasses ${c} (model.numClasses)`,
        );
      }
      out.set(logits, offset);
      offset += logits.length;
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}
