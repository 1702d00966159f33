/**
 * The boundary between the data layer (TypedArrays) and tensors: a loader
 * batch becomes an input tensor [N, C, H, W] (float32) and a target tensor
 * [N] (int64), on the requested device.
 */
import { tensor } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Batch } from './loader.js';

/** A batch as tensors. */
export interface TensorBatch {
  /** [N, C, H, W] float32, normalized. */
  images: Tensor;
  /** [N] int64 class indices. */
  labels: Tensor;
}

/**
 * A loader batch as tensors on `device` (default cpu): images [N, C, H, W]
 * float32 and labels [N] int64, ready for a model and `F.crossEntropy`.
 * Copies the batch's arrays (safe with `reuseBuffers`); free the tensors
 * (create them inside `tidy`).
 *
 * @example
 * for (const batch of loader.epoch(0)) tidy(() => {
 *   const { images, labels } = batchToTensors(batch);
 *   F.crossEntropy(model.forward(images), labels).backward();
 * });
 */
export function batchToTensors(batch: Batch, device?: string): TensorBatch {
  const images = tensor(batch.images, batch.shape, { device });
  const labels32 = tensor(batch.labels, [batch.labels.length], { device });
  const labels = labels32.to('int64');
  labels32.dispose();
  return { images, labels };
}
