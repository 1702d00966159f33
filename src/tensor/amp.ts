/**
 * Mixed precision: autocast, as torch.autocast runs it. Inside `autocast`,
 * the ops on autocast's lower-precision list (convolutions, linear layers,
 * matrix products) compute in float16 or bfloat16, the precision-sensitive
 * ones (softmax, losses, reductions) in float32, and parameters stay float32
 * (each op casts its inputs; a weight's cast is cached until the outermost
 * autocast ends). Gradients flow back through the casts to the float32
 * parameters. float16 needs loss scaling against underflowing gradients
 * (optim/GradScaler); bfloat16 has float32's range and does not.
 *
 * libtorch 1.13 runs CPU autocast in bfloat16 only; float16 autocast needs a
 * CUDA device.
 *
 * @example
 * const loss = autocast('cuda:0', 'float16', () => crossEntropy(model.forward(x), y));
 */
import { native } from './native.js';
import { TensorError } from '../util/errors.js';

/** The lower precision of mixed-precision compute. */
export type AutocastDType = 'bfloat16' | 'float16';

/** The autocast device type of a device string: 'cuda' for 'cuda' and 'cuda:N', else 'cpu'. */
export function autocastDeviceType(device: string | null | undefined): 'cpu' | 'cuda' {
  return device !== null && device !== undefined && (device === 'cuda' || device.startsWith('cuda:')) ? 'cuda' : 'cpu';
}

/**
 * Runs `fn` with autocast on for `device`'s type ('cpu' when undefined) in
 * `dtype`, like `with torch.autocast(device_type, dtype):`, and restores the
 * previous state afterwards (autocast nests). `fn` must be synchronous: the
 * state is libtorch's, per thread, and an await inside would leave it on for
 * whatever runs meanwhile. Throws TensorError for a promise-returning `fn`.
 */
export function autocast<R>(device: string | null | undefined, dtype: AutocastDType, fn: () => R): R {
  const type = autocastDeviceType(device);
  const [wasEnabled, previous] = native.autocastEnter(type, dtype);
  let result: R;
  try {
    result = fn();
  } finally {
    native.autocastExit(type, wasEnabled, previous);
  }
  if (result !== null && typeof result === 'object' && typeof (result as { then?: unknown }).then === 'function') {
    throw new TensorError('autocast(fn): fn returned a promise; autocast scopes synchronous work only (await outside it)');
  }
  return result;
}
