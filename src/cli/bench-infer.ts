/**
 * `sparse-soups bench-infer <checkpoint>`: inference latency (batch 1) and
 * throughput (batch 64) of a checkpoint on dense libtorch, onnxruntime-node
 * and the sparse engine, then one JSON line with the sparse engine's speed
 * ratios. The heavy modules load inside the action, so other commands start fast.
 */
import type { Command } from 'commander';
import type { ModelOptions } from '../models/registry.js';
import { parseJsonOption } from './options.js';

interface BenchInferFlags {
  model?: string;
  modelOptions?: ModelOptions;
  dataset?: string;
  dir?: string;
  threads?: number;
  latencyRuns: number;
  throughputRuns: number;
  maxDensity?: number;
  kernelChoice?: 'measure' | 'density' | 'sparse' | 'dense';
}

const positiveInt = (v: string): number => {
  const n = Number.parseInt(v, 10);
  if (!Number.isInteger(n) || n < 1) throw new Error(`expected a positive integer, got '${v}'`);
  return n;
};

const KERNEL_CHOICES = ['measure', 'density', 'sparse', 'dense'] as const;
const kernelChoiceOption = (v: string): BenchInferFlags['kernelChoice'] => {
  const choice = KERNEL_CHOICES.find((c) => c === v);
  if (choice === undefined) throw new Error(`expected one of ${KERNEL_CHOICES.join(', ')}, got '${v}'`);
  return choice;
};

export function registerBenchInferCommand(program: Command): void {
  program
    .command('bench-infer')
    .description(
      'inference speed of a checkpoint: dense libtorch, onnxruntime-node and the sparse engine (latency at batch 1, throughput at batch 64)',
    )
    .argument('<checkpoint>', 'a .safetensors checkpoint or export (dense or sparse)')
    .option('--model <name>', 'model name when neither the file nor its run says')
    .option('--model-options <json>', 'model options as JSON', parseJsonOption)
    .option('--dataset <name>', 'dataset the model was trained on (for its input shape and classes)')
    .option('--dir <dir>', "directory of the dataset's files")
    .option('--threads <n>', 'intra-op threads for every engine (default: libtorch default)', positiveInt)
    .option('--latency-runs <n>', 'single-image forwards timed per engine', positiveInt, 200)
    .option('--throughput-runs <n>', 'batches of 64 timed per engine', positiveInt, 20)
    .option(
      '--max-density <d>',
      'layers denser than this run on a dense kernel in the sparse engine (1: all sparse; implies --kernel-choice density)',
      Number,
    )
    .option(
      '--kernel-choice <how>',
      "the sparse engine's kernel per layer: measure (time both at load; default), density, sparse or dense",
      kernelChoiceOption,
    )
    .action(async (checkpoint: string, o: BenchInferFlags) => {
      const { setNumThreads } = await import('../tensor/create.js');
      const { loadModel } = await import('../models/load.js');
      const { checkpointLoadHints } = await import('../run/checkpoint-origin.js');
      const { benchmarkInference, formatInferBenchmark } = await import('../run/infer-benchmark.js');
      if (o.threads !== undefined) setNumThreads(o.threads);
      const { model, description } = await loadModel(checkpoint, checkpointLoadHints(o));
      try {
        const r = await benchmarkInference(model, description, {
          latencyRuns: o.latencyRuns,
          throughputRuns: o.throughputRuns,
          maxDensity: o.maxDensity,
          kernelChoice: o.kernelChoice,
        });
        process.stdout.write(`${checkpoint}\n${formatInferBenchmark(r)}\n`);
        process.stdout.write(
          `${JSON.stringify({ checkpoint, model: r.model, sparsity: Math.round((1 - r.density) * 1e4) / 1e4, threads: r.threads, ...r.ratios, loadAverage: r.loadAverage })}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}
