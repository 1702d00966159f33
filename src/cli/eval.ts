/** `sparse-soups eval <checkpoint>`: test and OOD metrics of one checkpoint. */
import type { Command } from 'commander';
import type { ModelOptions } from '../models/registry.js';
import { list, parseJsonOption } from './options.js';

interface EvalFlags {
  dataset: string;
  dir?: string;
  ood?: string[];
  severities: number[];
  model?: string;
  modelOptions?: ModelOptions;
  testSubset?: number;
}

export function registerEvalCommand(program: Command): void {
  program
    .command('eval')
    .description('evaluate a checkpoint (dense or sparse) on a test set and corrupted versions of it')
    .argument('<checkpoint>', 'a .safetensors checkpoint or export')
    .requiredOption('--dataset <name>', 'dataset to evaluate on (see `data list`)')
    .option('--dir <dir>', "directory of the dataset's files")
    .option('--ood <corruptions>', 'comma-separated corruptions for OOD accuracy (e.g. gaussian_noise,fog)', list)
    .option('--severities <list>', 'comma-separated severities 1-5', (v: string) => list(v).map(Number), [3])
    .option('--model <name>', 'model name when the file does not say (e.g. convnet)')
    .option('--model-options <json>', 'model options as JSON', parseJsonOption)
    .option('--test-subset <n>', 'evaluate on the first n test images', (v) => Number.parseInt(v, 10))
    .action(async (checkpoint: string, o: EvalFlags) => {
      const { evaluateCheckpoint } = await import('../run/evaluate-checkpoint.js');
      const r = await evaluateCheckpoint({
        checkpoint,
        dataset: o.dataset,
        dir: o.dir,
        model: o.model,
        modelOptions: o.modelOptions,
        testSubset: o.testSubset,
        ood: o.ood ? { corruptions: o.ood, severities: o.severities } : undefined,
      });
      process.stdout.write(`${r.table}\n`);
    });
}
