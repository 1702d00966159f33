/**
 * The boundary between the data layer (TypedArrays) and tensors: a loader
 * batch becomes an input tensor [N, C, H, W] (float32) and a target tensor
 * [N] (int64), on the requested device.
 */
import { tensor } from '../tensor/create.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Batch } from './loader.js';

export interface TensorBatch {
  images: Tensor;
  labels: Tensor;
}

export function batchToTensors(batch: Batch, device?: string): TensorBatch {
  const images = tensor(batch.images, batch.shape, { device });
  const labels32 = tensor(batch.labels, [batch.labels.length], { device });
  const labels = labels32.to('int64');
  labels32.dispose();
  return { images, labels };
}
