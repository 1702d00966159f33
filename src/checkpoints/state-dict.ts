/**
 * State dicts to and from safetensors files, so a PyTorch user can open a
 * sparse-soups checkpoint with `safetensors.torch.load_file(path)` and load
 * it into the equivalent torch.nn model by name.
 *
 * @example
 * await saveStateDict('model.safetensors', model.stateDict(), { model: 'resnet20' });
 * model.loadStateDict(await loadStateDictFile('model.safetensors'), { origin: 'model.safetensors' });
 */
import { tensor } from '../tensor/create.js';
import { onHost } from '../tensor/device-trace.js';
import { keep } from '../tensor/scope.js';
import type { DType, Tensor, AnyTypedArray } from '../tensor/tensor.js';
import {
  saveSafetensors,
  loadSafetensors,
  halfBitsToFloat32,
  type SafeDType,
  type SafeTensor,
  type SafeMetadata,
} from '../io/safetensors.js';
import { CheckpointError } from '../util/errors.js';

/** Tensors by PyTorch state-dict name ('features.0.weight', 'bn1.running_mean'). */
export type StateDict = Map<string, Tensor>;

const TO_SAFE: Partial<Record<DType, SafeDType>> = {
  float32: 'F32',
  float64: 'F64',
  float16: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  int32: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};
const FROM_SAFE: Partial<Record<SafeDType, DType>> = Object.fromEntries(Object.entries(TO_SAFE).map(([k, v]) => [v, k]));

/**
 * A tensor's contents in safetensors form (a CPU copy). A tensor on a GPU is
 * copied to the host first, explicitly (the checkpoint is written from that
 * copy, which is freed right away).
 */
export function toSafeTensor(name: string, t: Tensor): SafeTensor {
  const dtype = TO_SAFE[t.dtype];
  if (dtype === undefined) throw new CheckpointError(`tensor '${name}' has dtype ${t.dtype}, which safetensors export does not support`);
  const data = t.device === 'cpu' ? t.toArray() : onHost(() => hostArray(t));
  return { dtype, shape: t.shape, data } as SafeTensor;
}

function hostArray(t: Tensor): ReturnType<Tensor['toArray']> {
  const host = t.to(null, 'cpu');
  try {
    return host.toArray();
  } finally {
    host.dispose();
  }
}

/** The dtype `fromSafeTensor` gives an entry of `dtype` (BF16 becomes float32), or undefined when it cannot load one. */
export function loadedDType(dtype: SafeDType): DType | undefined {
  return dtype === 'BF16' ? 'float32' : FROM_SAFE[dtype];
}

/**
 * A safetensors entry as a new (kept) CPU tensor. BF16 (PyTorch's bfloat16)
 * becomes float32, exactly (every bfloat16 value is a float32: its upper 16
 * bits): models hold float32 weights, and mixed precision casts per op
 * (tensor/amp.ts). F16 stays float16.
 */
export function fromSafeTensor(name: string, s: SafeTensor, file: string, device?: string): Tensor {
  if (s.dtype === 'BF16') return keep(tensor(halfBitsToFloat32(s.data, 'BF16'), s.shape, { dtype: 'float32', device }));
  const dtype = FROM_SAFE[s.dtype];
  if (dtype === undefined) throw new CheckpointError(`${file}: tensor '${name}' has dtype ${s.dtype}, which sparse-soups cannot load`);
  return keep(tensor(s.data as AnyTypedArray, s.shape, { dtype, device }));
}

/** Writes tensors by name to a safetensors file, atomically. */
export async function saveStateDict(path: string, state: Map<string, Tensor>, metadata: SafeMetadata = {}): Promise<void> {
  const out = new Map<string, SafeTensor>();
  for (const [name, t] of state) out.set(name, toSafeTensor(name, t));
  await saveSafetensors(path, out, { format: 'pt', ...metadata });
}

/**
 * Reads a safetensors file into new tensors on `device` (default cpu; the
 * caller disposes them). Each tensor goes from the file's bytes to the
 * device directly (to a GPU through pinned memory, without blocking).
 */
export async function loadStateDictFile(
  path: string,
  opts: { device?: string } = {},
): Promise<{ state: Map<string, Tensor>; metadata: SafeMetadata }> {
  const { tensors, metadata } = await loadSafetensors(path);
  const state = new Map<string, Tensor>();
  try {
    for (const [name, s] of tensors) state.set(name, fromSafeTensor(name, s, path, opts.device));
  } catch (e) {
    for (const t of state.values()) t.dispose();
    throw e;
  }
  return { state, metadata };
}
