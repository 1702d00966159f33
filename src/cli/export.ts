/** `sparse-soups export <checkpoint>`: a dense or compact sparse safetensors file of a checkpoint, or an ONNX model. */
import type { Command } from 'commander';
import type { ExportFormat } from '../checkpoints/model-description.js';
import type { ModelOptions } from '../models/registry.js';
import { SparseSoupsError } from '../util/errors.js';
import { parseJsonOption } from './options.js';

interface ExportFlags {
  format: string;
  normalizeInGraph?: boolean;
  out?: string;
  model?: string;
  modelOptions?: ModelOptions;
  dataset?: string;
  dir?: string;
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('export a checkpoint as a dense state dict or a compact sparse file (both safetensors), or as an ONNX model')
    .argument('<checkpoint>', 'a .safetensors checkpoint (e.g. runs/<run>/phase-3/soup-uniform.safetensors)')
    .option('--format <format>', 'dense, sparse or onnx', 'sparse')
    .option('--out <file>', 'output file (default: <checkpoint>.<format>.safetensors, <checkpoint>.onnx)')
    .option(
      '--normalize-in-graph',
      "onnx: apply the dataset's mean/std in the graph (input pixel/255 in [0, 1]) instead of stating them in the metadata",
    )
    .option('--model <name>', 'model name when neither the file nor its run says')
    .option('--model-options <json>', 'model options as JSON', parseJsonOption)
    .option('--dataset <name>', 'dataset the model was trained on (for its input shape and classes)')
    .option('--dir <dir>', "directory of the dataset's files")
    .action(async (checkpoint: string, o: ExportFlags) => {
      if (o.format !== 'dense' && o.format !== 'sparse' && o.format !== 'onnx')
        throw new SparseSoupsError(`--format: expected 'dense', 'sparse' or 'onnx', got '${o.format}'`);
      if (o.normalizeInGraph && o.format !== 'onnx') throw new SparseSoupsError('--normalize-in-graph: only with --format onnx');
      const { exportModel } = await import('../run/export.js');
      const hints = { model: o.model, modelOptions: o.modelOptions, dataset: o.dataset, dir: o.dir };
      const stem = checkpoint.replace(/\.safetensors$/, '');
      if (o.format === 'onnx') {
        const r = await exportModel({
          ...hints,
          checkpoint,
          output: o.out ?? `${stem}.onnx`,
          format: 'onnx',
          normalizeInGraph: o.normalizeInGraph,
        });
        const input = r.normalizeInGraph
          ? 'input: pixel/255 in [0, 1], normalized in the graph'
          : r.normalization
            ? `input: (pixel/255 - mean) / std with mean ${JSON.stringify(r.normalization.mean)}, std ${JSON.stringify(r.normalization.std)} (in the metadata)`
            : 'input: normalized as in training (the dataset is unknown: pass --dataset to record its mean/std)';
        process.stdout.write(
          `wrote ${r.path}: ${mb(r.bytes)} (onnx, opset ${r.opset}, ${r.model.inChannels}×${r.model.imageSize}×${r.model.imageSize} images, dynamic batch); ` +
            `${r.nonzero.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} values non-zero; ${input}\n`,
        );
        return;
      }
      const r = await exportModel({
        ...hints,
        checkpoint,
        output: o.out ?? `${stem}.${o.format}.safetensors`,
        format: o.format as ExportFormat,
      });
      process.stdout.write(
        `wrote ${r.path}: ${mb(r.bytes)} (${o.format}); dense would be ${mb(r.denseBytes)}, ratio ${(100 * r.ratio).toFixed(1)}%; ` +
          `${r.nonzero.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} values non-zero\n`,
      );
    });
}
