/**
 * `sparse-soups data list` and `sparse-soups data preview <dataset>`: list the
 * datasets and corruptions, and write a preview grid of a dataset with one
 * row per corruption (cli/data-actions.ts, loaded when the command runs).
 */
import type { Command } from 'commander';
import { imageDecodingLoadOptions, imageDecodingOptions, type ImageDecodingFlags } from './options.js';

export function registerDataCommand(program: Command): void {
  const data = program.command('data').description('datasets and corruptions');
  data
    .command('list')
    .description('list the datasets and corruption types')
    .action(async () => {
      const { datasetListing } = await import('./data-actions.js');
      process.stdout.write(`${datasetListing()}\n`);
    });
  const preview = data
    .command('preview')
    .description('write a PNG grid of sample images, one row per corruption')
    .argument('<dataset>', 'dataset name (see `data list`)')
    .requiredOption('--out <png>', 'output PNG file')
    .option('--dir <dir>', "directory of the dataset's files")
    .option('--corruptions <list>', 'comma-separated corruption names (default: all)', (v: string) => v.split(',').map((s) => s.trim()))
    .option('--severity <n>', 'severity 1-5', (v) => Number.parseInt(v, 10), 3)
    .option('--count <n>', 'images per row', (v) => Number.parseInt(v, 10), 8)
    .option('--seed <n>', 'sample and corruption seed', (v) => Number.parseInt(v, 10), 0);
  imageDecodingOptions(preview).action(
    async (
      dataset: string,
      o: { out: string; dir?: string; corruptions?: string[]; severity: number; count: number; seed: number } & ImageDecodingFlags,
    ) => {
      const { prepareDataset, previewCommand } = await import('./data-actions.js');
      const load = { dir: o.dir, ...imageDecodingLoadOptions(o) };
      await prepareDataset(dataset, load); // imagefolder: decode into the cache (with progress) before the synchronous load
      const r = previewCommand(dataset, {
        out: o.out,
        corruptions: o.corruptions,
        severity: o.severity,
        count: o.count,
        seed: o.seed,
        ...load,
      });
      process.stdout.write(`wrote ${r.path} (${r.width}x${r.height}, rows: ${r.rowLabels.join(', ')})\n`);
    },
  );
}
