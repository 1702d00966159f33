/** `sparse-soups export <checkpoint>`: a dense or compact sparse safetensors file of a checkpoint. */
import type { Command } from 'commander';
import type { ExportFormat } from '../checkpoints/model-description.js';
import type { ModelOptions } from '../models/registry.js';
import { SparseSoupsError } from '../util/errors.js';
import { parseJsonOption } from './options.js';

interface ExportFlags {
  format: string;
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
    .description('export a checkpoint as a dense state dict or a compact sparse file (both safetensors)')
    .argument('<checkpoint>', 'a .safetensors checkpoint (e.g. runs/<run>/phase-3/soup-uniform.safetensors)')
    .option('--format <format>', 'dense or sparse', 'sparse')
    .option('--out <file>', 'output file (default: <checkpoint>.<format>.safetensors)')
    .option('--model <name>', 'model name when neither the file nor its run says')
    .option('--model-options <json>', 'model options as JSON', parseJsonOption)
    .option('--dataset <name>', 'dataset the model was trained on (for its input shape and classes)')
    .option('--dir <dir>', "directory of the dataset's files")
    .action(async (checkpoint: string, o: ExportFlags) => {
      if (o.format !== 'dense' && o.format !== 'sparse')
        throw new SparseSoupsError(`--format: expected 'dense' or 'sparse', got '${o.format}'`);
      const { exportModel } = await import('../run/export.js');
      const output = o.out ?? checkpoint.replace(/\.safetensors$/, '') + `.${o.format}.safetensors`;
      const r = await exportModel({
        checkpoint,
        output,
        format: o.format as ExportFormat,
        model: o.model,
        modelOptions: o.modelOptions,
        dataset: o.dataset,
        dir: o.dir,
      });
      process.stdout.write(
        `wrote ${r.path}: ${mb(r.bytes)} (${o.format}); dense would be ${mb(r.denseBytes)}, ratio ${(100 * r.ratio).toFixed(1)}%; ` +
          `${r.nonzero.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} values non-zero\n`,
      );
    });
}
