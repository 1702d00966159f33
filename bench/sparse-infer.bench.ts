/**
 * Inference speed of the sparse engine against dense libtorch and
 * onnxruntime-node (src/run/infer-benchmark.ts, as `sparse-soups
 * bench-infer` measures a checkpoint), on the zoo's ConvNet (1×28×28) and
 * ResNet-20 (3×32×32) pruned to 90% and 98% with the global magnitude
 * criterion:
 *
 *   node --import tsx bench/sparse-infer.bench.ts [--models convnet,resnet20] [--sparsities 0.9,0.98] [--threads 1] [--latency-runs 200] [--throughput-runs 20]
 *     [--kernel-choice measure|density|sparse|dense] [--max-density 0.6]
 *
 * The weights are not trained: each model is PyTorch's default random
 * initialization (seed 1), pruned by global magnitude. Global magnitude on
 * such weights prunes wide layers (small init bound 1/√fan_in) far more than
 * narrow ones, so the per-layer densities printed above each table matter
 * as much as the overall sparsity.
 *
 * Prints a table per model and, last, one JSON line
 *   {"rows":[{"model","sparsity","threads","latencyMs":{dense,onnx,sparse},"imagesPerSecond":{..},"sparseVsDense":{latency,throughput},"sparseVsOnnx":{..},
 *     "engine","denseLayers","nativeMicros"}],"loadAverage":[..]}
 * where a ratio > 1 means the sparse engine is that many times faster and
 * nativeMicros is the plan's own time at batch 1 (without the JavaScript
 * around the call: making the input tensor, wrapping the output). The
 * targets of issue #14: at batch 1, ≥ 2× dense libtorch at 90%, ≥ 4× at 98%.
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { Generator, setNumThreads, tidy } from '../src/tensor/index.js';
import { createModel } from '../src/models/registry.js';
import { getCriterion } from '../src/prune/criteria.js';
import { prunableParameters } from '../src/prune/prunable.js';
import { benchmarkInference, formatInferBenchmark } from '../src/run/infer-benchmark.js';
import type { ZooModelDescription } from '../src/models/load.js';

const { values } = parseArgs({
  options: {
    models: { type: 'string', default: 'convnet,resnet20' },
    sparsities: { type: 'string', default: '0.9,0.98' },
    threads: { type: 'string', default: '1' },
    'latency-runs': { type: 'string', default: '200' },
    'throughput-runs': { type: 'string', default: '20' },
    'max-density': { type: 'string' },
    'kernel-choice': { type: 'string' },
  },
});

const DESCRIPTIONS: Record<string, ZooModelDescription> = {
  convnet: { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 },
  resnet20: { name: 'resnet20', options: {}, inChannels: 3, numClasses: 10, imageSize: 32 },
};

function kernelChoice(v: string | undefined): 'measure' | 'density' | 'sparse' | 'dense' | undefined {
  if (v === undefined || v === 'measure' || v === 'density' || v === 'sparse' || v === 'dense') return v;
  throw new Error(`--kernel-choice: one of measure, density, sparse, dense; got '${v}'`);
}

setNumThreads(Number(values.threads));
const rows: unknown[] = [];
for (const name of values.models.split(',')) {
  const d = DESCRIPTIONS[name];
  if (!d) throw new Error(`unknown model '${name}': one of ${Object.keys(DESCRIPTIONS).join(', ')}`);
  for (const sparsity of values.sparsities.split(',').map(Number)) {
    const model = createModel(d.name, {
      inChannels: d.inChannels,
      numClasses: d.numClasses,
      imageSize: d.imageSize,
      generator: new Generator(1),
    });
    const mask = getCriterion('global')(prunableParameters(model), null, sparsity, {});
    mask.apply(model);
    mask.dispose();
    model.eval();
    const layers = prunableParameters(model)
      .map(([p, tensor]) => `${p.replace(/\.weight$/, '')} ${tidy(() => tensor.ne(0).sum().item() / tensor.numel).toFixed(3)}`)
      .join(', ');
    const r = await benchmarkInference(model, d, {
      latencyRuns: Number(values['latency-runs']),
      throughputRuns: Number(values['throughput-runs']),
      maxDensity: values['max-density'] === undefined ? undefined : Number(values['max-density']),
      kernelChoice: kernelChoice(values['kernel-choice']),
    });
    console.log(`\n${formatInferBenchmark(r)}`);
    console.log(`  layer densities: ${layers}`);
    if (r.sparseStats.denseLayers.length > 0) console.log(`  on dense kernels: ${r.sparseStats.denseLayers.join('; ')}`);
    const [dense, onnx, sparse] = r.engines;
    rows.push({
      model: name,
      sparsity,
      threads: r.threads,
      latencyMs: { dense: dense.latencyMs, onnx: onnx.latencyMs, sparse: sparse.latencyMs },
      imagesPerSecond: { dense: dense.imagesPerSecond, onnx: onnx.imagesPerSecond, sparse: sparse.imagesPerSecond },
      ...r.ratios,
      engine: r.sparseStats.engine,
      denseLayers: r.sparseStats.denseLayers,
      nativeMicros: r.sparseProfile?.totalMicros ?? null,
      loadAverage: r.loadAverage,
    });
    model.dispose();
  }
}
console.log(JSON.stringify({ rows, loadAverage: loadavg().map((l) => Math.round(l * 100) / 100) }));
