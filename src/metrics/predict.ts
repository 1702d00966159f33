/**
 * Model outputs over a whole dataset: logits [N, C] as a flat Float32Array,
 * computed in eval mode without gradients, in dataset order.
 */
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { autocast, type AutocastDType } from '../tensor/amp.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { DataLoader } from '../data/loader.js';
import type { ImageDataset } from '../data/dataset.js';
import { batchToTensors } from '../data/batches.js';
import { TensorError } from '../util/errors.js';

/** Evaluation batch size (images read at once, default 1000; forwarded in chunks of at most FORWARD_CHUNK), device, and mixed precision. */
export interface PredictOptions {
  batchSize?: number;
  /** The model's device (default cpu). */
  device?: string;
  /** Forward under autocast in this dtype (tensor/amp.ts); the logits come back as float32. */
  autocast?: AutocastDType;
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
      noGrad(() =>
        tidy(() => {
          const images = batchToTensors(batch, opts.device).images;
          const m = images.size(0);
          // At most FORWARD_CHUNK images at once, each chunk's logits written in place.
          for (let start = 0; start < m; start += FORWARD_CHUNK) {
            const end = Math.min(m, start + FORWARD_CHUNK);
            const logits = tidy(() => forward(model, images.slice(0, start, end), opts).toArray<'float32'>());
            if (logits.length !== (end - start) * c) {
              throw new TensorError(
                `model output has ${logits.length / (end - start)} classes per image, dataset ${dataset.name} has ${c}; ` +
                  `build the model with numClasses ${c} (model.numClasses)`,
              );
            }
            out.set(logits, offset);
            offset += logits.length;
          }
        }),
      );
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    model.train(wasTraining);
  }
  return out;
}

/**
 * Images forwarded at once by predictLogits, at most; a larger batch is
 * split. At 1,000 28×28 images the ConvNet's activations are 100 MB each,
 * above the 32 MiB up to which the addon keeps allocations in the C heap
 * (native/src/addon.cc): alternating those with heap-sized ones fragmented
 * the heap, and a child process that scored a model stayed at 1.6–2.1 GB
 * resident through its next retrain (measured on the quick config; 0.6–0.8 GB
 * in chunks of 256). Logits do not depend on the split beyond float32
 * rounding in the last bits.
 */
export const FORWARD_CHUNK = 256;

/** The model's output for `x`, float32 (under autocast, computed in the lower precision and converted). */
function forward(model: Module, x: Tensor, opts: PredictOptions): Tensor {
  const amp = opts.autocast;
  if (amp === undefined) return model.forward(x);
  const out = autocast(opts.device, amp, () => model.forward(x));
  return out.dtype === 'float32' ? out : out.to('float32');
}
