/** `sparse-soups eval <checkpoint>`: test and OOD metrics of one checkpoint. */
import type { Command } from 'commander';
import type { ModelOptions } from '../models/registry.js';
import { imageDecodingLoadOptions, imageDecodingOptions, list, parseJsonOption, type ImageDecodingFlags } from './options.js';

interface EvalFlags extends ImageDecodingFlags {
  dataset: string;
  dir?: string;
  ood?: string[];
  severities: number[];
  model?: string;
  modelOptions?: ModelOptions;
  testSubset?: number;
}

export function registerEvalCommand(program: Command): void {
  const command = program
    .command('eval')
    .description('evaluate a checkpoint (dense or sparse) on a test set and corrupted versions of it')
    .argument('<checkpoint>', 'a .safetensors checkpoint or export')
    .requiredOption('--dataset <name>', 'dataset to evaluate on (see `data list`)')
    .option('--dir <dir>', "directory of the dataset's files")
    .option('--ood <corruptions>', 'comma-separated corruptions for OOD accuracy (e.g. gaussian_noise,fog)', list)
    .option('--severities <list>', 'comma-separated severities 1-5', (v: string) => list(v).map(Number), [3])
    .option('--model <name>', 'model name when the file does not say (e.g. convnet)')
    .option('--model-options <json>', 'model options as JSON', parseJsonOption)
    .option('--test-subset <n>', 'evaluate on the first n test images', (v) => Number.parseInt(v, 10));
  imageDecodingOptions(command).action(async (checkpoint: string, o: EvalFlags) => {
    // Loaded here, not at the top: `--help` and the other commands need none of it.
    const { evaluateCheckpoint } = await import('../run/evaluate-checkpoint.js');
    const { prepareDataset } = await import('./data-actions.js');
    const datasetOptions = imageDecodingLoadOptions(o);
    await prepareDataset(o.dataset, { dir: o.dir, ...datasetOptions }); // imagefolder: decode into the cache (with progress) first
    const r = await evaluateCheckpoint({
      checkpoint,
      dataset: o.dataset,
      dir: o.dir,
      datasetOptions,
      model: o.model,
      modelOptions: o.modelOptions,
      testSubset: o.testSubset,
      ood: o.ood ? { corruptions: o.ood, severities: o.severities } : undefined,
    });
    process.stdout.write(`${r.table}\n`);
  });
}
