/**
 * Running an exported ONNX model in onnxruntime-node (a devDependency, CPU
 * binaries from its npm package) and comparing it with the libtorch
 * forward() of the model it came from.
 */
import ort from 'onnxruntime-node';
import type { Module } from '../../src/nn/module.js';
import { noGrad, tensor, tidy } from '../../src/tensor/index.js';

/** One thread: the test machine's cores are shared. */
export async function onnxSession(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
}

/** The `logits` of the ONNX model for `x` [n, ...dims] (row-major). */
export async function onnxLogits(
  session: ort.InferenceSession,
  x: Float32Array,
  dims: number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const out = await session.run({ input: new ort.Tensor('float32', x, dims) });
  const logits = out.logits;
  return { data: logits.data as Float32Array, dims: logits.dims };
}

/** The model's eval-mode logits for `x` [n, ...dims], computed `batch` images at a time. */
export function torchLogits(model: Module, x: Float32Array, dims: number[], batch = 250): Float32Array {
  model.eval();
  const per = dims.slice(1).reduce((a, b) => a * b, 1);
  const parts: Float32Array[] = [];
  for (let start = 0; start < dims[0]; start += batch) {
    const n = Math.min(batch, dims[0] - start);
    const chunk = x.subarray(start * per, (start + n) * per);
    parts.push(noGrad(() => tidy(() => model.forward(tensor(chunk, [n, ...dims.slice(1)])).toArray<'float32'>())));
  }
  const out = new Float32Array(parts.reduce((k, p) => k + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

/** Seeded standard-normal-ish floats (sum of uniforms), independent of libtorch's RNG. */
export function randomImages(count: number, shape: number[], seed: number): Float32Array {
  let a = seed >>> 0;
  const uniform = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(count * shape.reduce((x, y) => x * y, 1));
  for (let i = 0; i < out.length; i++) out[i] = uniform() + uniform() + uniform() - 1.5;
  return out;
}
