/**
 * Inference speed of one model three ways, in one process and with the same
 * thread count: dense libtorch (the model's own forward), onnxruntime-node
 * on its ONNX export (a devDependency; when it cannot be loaded its row says
 * why), and the sparse engine (models/sparse-infer.ts). Latency is the median
 * of single-image forwards; throughput is images/s over batches of 64.
 * Behind `sparse-soups bench-infer` and bench/sparse-infer.bench.ts.
 *
 * @example
 * const r = await benchmarkInference(model, description);
 * console.log(formatInferBenchmark(r)); // the table
 * console.log(JSON.stringify(r.ratios)); // { sparseVsDense: { latency: 2.4, throughput: 1.8 }, sparseVsOnnx: ... }
 */
import { loadavg } from 'node:os';
import type { Module } from '../nn/module.js';
import { getNumThreads, noGrad, randn, tensor } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { Tensor } from '../tensor/tensor.js';
import { buildDescribedModel, type ZooModelDescription } from '../models/load.js';
import { toSparseInference, type SparseInferenceOptions, type SparseInferenceStats } from '../models/sparse-infer.js';
import type { PlanProfile } from '../tensor/sparse-plan.js';
import { exportOnnx } from '../models/onnx/index.js';

export type InferEngine = 'dense libtorch' | 'onnxruntime' | 'sparse engine';

export interface InferEngineResult {
  engine: InferEngine;
  /** Median ms of one forward of a single image; null when the engine did not run. */
  latencyMs: number | null;
  /** Images per second at batch `throughputBatch`; null when the engine did not run. */
  imagesPerSecond: number | null;
  /** Why the engine did not run, or what it ran with. */
  note?: string;
}

/** Speed of the sparse engine over another engine: > 1 means the sparse engine is faster. */
export interface SpeedRatio {
  latency: number | null;
  throughput: number | null;
}

export interface InferBenchmarkResult {
  model: string;
  threads: number;
  /** Non-zeros / weights of the layers on the sparse kernels. */
  density: number;
  sparseStats: SparseInferenceStats;
  /** Where the sparse engine's time goes at batch 1 (medians over latencyRuns runs of the plan, µs); null without a plan. */
  sparseProfile: PlanProfile | null;
  engines: InferEngineResult[];
  ratios: { sparseVsDense: SpeedRatio; sparseVsOnnx: SpeedRatio };
  /** 1-, 5- and 15-minute load averages when the measurement ended. */
  loadAverage: number[];
}

export interface InferBenchmarkOptions {
  /** Single-image forwards timed for the latency (default 200). */
  latencyRuns?: number;
  /** Batches timed for the throughput (default 20). */
  throughputRuns?: number;
  /** Batch size of the throughput (default 64). */
  throughputBatch?: number;
  /** Untimed forwards before each measurement (default 10). */
  warmup?: number;
  /** The sparse engine's maxDensity (models/sparse-infer.ts; default there). */
  maxDensity?: number;
  /** The sparse engine's kernelChoice (default there: measured, or by density when maxDensity is given). */
  kernelChoice?: SparseInferenceOptions['kernelChoice'];
}

type Forward = (x: Float32Array, dims: number[]) => Promise<void>;

/**
 * Measures `model` (dense, or with zeros from pruning) as described: libtorch
 * forward, onnxruntime, and a sparse copy of it. `model` is left as it was.
 */
export async function benchmarkInference(
  model: Module,
  description: ZooModelDescription,
  opts: InferBenchmarkOptions = {},
): Promise<InferBenchmarkResult> {
  const threads = getNumThreads();
  const copy = await buildDescribedModel(description);
  copy.loadStateDict(model.stateDict());
  const sparse = toSparseInference(copy, { maxDensity: opts.maxDensity, kernelChoice: opts.kernelChoice });
  model.eval();
  const withTensor =
    (f: (x: Tensor) => Tensor): Forward =>
    async (x, dims) => {
      noGrad(() => tidy(() => void f(tensorOf(x, dims))));
    };
  const engines: InferEngineResult[] = [];
  let sparseProfile: PlanProfile | null = null;
  try {
    engines.push(
      await measure(
        'dense libtorch',
        description,
        withTensor((x) => model.forward(x)),
        opts,
      ),
    );
    engines.push(await measureOnnx(model, description, threads, opts));
    engines.push(
      await measure(
        'sparse engine',
        description,
        withTensor((x) => sparse.forward(x)),
        opts,
      ),
    );
    const plan = sparse.plan;
    if (plan !== null) {
      const one = inputs(description, 1);
      sparseProfile = tidy(() => plan.profile(tensorOf(one.x, one.dims), opts.latencyRuns ?? 200));
    }
  } finally {
    sparse.dispose();
  }
  const [dense, onnx, sp] = engines;
  return {
    model: description.name,
    threads,
    density: sparse.stats.weights > 0 ? sparse.stats.nonZeros / sparse.stats.weights : 1,
    sparseStats: sparse.stats,
    sparseProfile,
    engines,
    ratios: { sparseVsDense: ratio(sp, dense), sparseVsOnnx: ratio(sp, onnx) },
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
  };
}

const tensorOf = (x: Float32Array, dims: number[]): Tensor => tensor(x, dims);

function ratio(sparse: InferEngineResult, other: InferEngineResult): SpeedRatio {
  const round = (v: number): number => Math.round(v * 100) / 100;
  return {
    latency: sparse.latencyMs && other.latencyMs ? round(other.latencyMs / sparse.latencyMs) : null,
    throughput: sparse.imagesPerSecond && other.imagesPerSecond ? round(sparse.imagesPerSecond / other.imagesPerSecond) : null,
  };
}

function inputs(d: ZooModelDescription, n: number): { x: Float32Array; dims: number[] } {
  const dims = [n, d.inChannels, d.imageSize, d.imageSize];
  const t = randn(dims);
  const x = t.toArray<'float32'>();
  t.dispose();
  return { x, dims };
}

async function measure(
  engine: InferEngine,
  d: ZooModelDescription,
  forward: Forward,
  opts: InferBenchmarkOptions,
): Promise<InferEngineResult> {
  const warmup = opts.warmup ?? 10;
  const batch = opts.throughputBatch ?? 64;
  const one = inputs(d, 1);
  for (let i = 0; i < warmup; i++) await forward(one.x, one.dims);
  const times: number[] = [];
  for (let i = 0; i < (opts.latencyRuns ?? 200); i++) {
    const t0 = performance.now();
    await forward(one.x, one.dims);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const many = inputs(d, batch);
  for (let i = 0; i < Math.max(1, Math.ceil(warmup / 4)); i++) await forward(many.x, many.dims);
  const runs = opts.throughputRuns ?? 20;
  const t0 = performance.now();
  for (let i = 0; i < runs; i++) await forward(many.x, many.dims);
  const seconds = (performance.now() - t0) / 1000;
  return {
    engine,
    latencyMs: Math.round(times[Math.floor(times.length / 2)] * 1000) / 1000,
    imagesPerSecond: Math.round((runs * batch) / seconds),
  };
}

async function measureOnnx(
  model: Module,
  d: ZooModelDescription,
  threads: number,
  opts: InferBenchmarkOptions,
): Promise<InferEngineResult> {
  let ort: typeof import('onnxruntime-node');
  try {
    const mod = await import('onnxruntime-node');
    // CommonJS through ESM: the API is the namespace or its default export, depending on the loader.
    ort = (mod as unknown as { default?: typeof mod }).default ?? mod;
  } catch (e) {
    return {
      engine: 'onnxruntime',
      latencyMs: null,
      imagesPerSecond: null,
      note: `onnxruntime-node could not be loaded: ${(e as Error).message.split('\n')[0]}`,
    };
  }
  const { bytes } = exportOnnx(model, { inputShape: [d.inChannels, d.imageSize, d.imageSize] });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1 });
  try {
    const r = await measure(
      'onnxruntime',
      d,
      async (x, dims) => void (await session.run({ input: new ort.Tensor('float32', x, dims) })),
      opts,
    );
    return { ...r, note: `onnxruntime-node, ${threads} intra-op thread(s)` };
  } finally {
    await session.release();
  }
}

/** The result as a text table (engine, latency, throughput) with the density and thread count above it and the sparse engine's slowest steps below. */
export function formatInferBenchmark(r: InferBenchmarkResult): string {
  const lines = [
    `${r.model}: ${(100 * (1 - r.density)).toFixed(1)}% sparse (${r.sparseStats.nonZeros} of ${r.sparseStats.weights} conv/linear weights), ` +
      `${r.threads} thread(s), BN folded: ${r.sparseStats.foldedBatchNorms}, load average ${r.loadAverage.join(' ')}`,
    `${'engine'.padEnd(16)}${'latency ms (b=1)'.padStart(18)}${'images/s (b=64)'.padStart(18)}  note`,
  ];
  for (const e of r.engines) {
    const lat = e.latencyMs === null ? '-' : e.latencyMs.toFixed(3);
    const thr = e.imagesPerSecond === null ? '-' : String(e.imagesPerSecond);
    lines.push(`${e.engine.padEnd(16)}${lat.padStart(18)}${thr.padStart(18)}  ${e.note ?? ''}`);
  }
  const p = r.sparseProfile;
  if (p !== null) {
    const top = [...p.steps].sort((a, b) => b.micros - a.micros).slice(0, 8);
    lines.push(
      `sparse engine at batch 1, native: ${p.totalMicros.toFixed(1)} µs; slowest steps: ${top.map((s) => `${s.name} ${s.micros.toFixed(1)}`).join(', ')}`,
    );
  }
  return lines.join('\n');
}
