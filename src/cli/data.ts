/**
 * `sparse-soups data list` and `sparse-soups data preview <dataset>`: list the
 * datasets and corruptions, and write a preview grid of a dataset with one
 * row per corruption.
 */
import type { Command } from 'commander';
import { listDatasets, prepareDataset, type DatasetLoadOptions } from '../data/index.js';
import { previewDataset, type PreviewResult } from '../data/preview.js';
import { CORRUPTIONS, CORRUPTION_NAMES, validateOodSet, imageRng } from '../data/corruptions/index.js';
import { imageDecodingLoadOptions, imageDecodingOptions, type ImageDecodingFlags } from './options.js';

export function datasetListing(): string {
  const lines = ['datasets:'];
  for (const d of listDatasets()) lines.push(`  ${d.name.padEnd(14)} ${d.description}${d.defaultDir ? ` (default dir ${d.defaultDir})` : ''}`);
  lines.push('', 'corruptions (severities 1-5):');
  for (const name of CORRUPTION_NAMES) {
    const c = CORRUPTIONS[name];
    lines.push(`  ${name.padEnd(18)} ${c.category.padEnd(8)} ${c.description}${c.matchesPublished ? '' : ' [not the published version]'}`);
  }
  return lines.join('\n');
}

export interface PreviewCommandOptions extends Omit<DatasetLoadOptions, 'dir'> {
  out: string;
  dir?: string;
  corruptions?: string[];
  severity?: number;
  count?: number;
  seed?: number;
  split?: 'train' | 'test';
}

/** One row per corruption at the given severity, the first row clean. */
export function previewCommand(dataset: string, o: PreviewCommandOptions): PreviewResult {
  const severity = o.severity ?? 3;
  const corruptions = o.corruptions ?? [...CORRUPTION_NAMES];
  validateOodSet({ corruptions, severities: [severity] }, 'preview');
  const seed = o.seed ?? 0;
  return previewDataset(
    dataset,
    {
      outPath: o.out,
      dir: o.dir,
      imageSize: o.imageSize,
      resize: o.resize,
      channels: o.channels,
      skipUnreadable: o.skipUnreadable,
      count: o.count ?? 8,
      seed,
      split: o.split ?? 'test',
    },
    corruptions.map((name) => {
      let k = 0;
      return {
        name: `${name} ${severity}`,
        apply: (image, channels, height, width) => CORRUPTIONS[name as keyof typeof CORRUPTIONS].apply(image, { channels, height, width }, severity, imageRng(seed, name, severity, k++)),
      };
    }),
  );
}

export function registerDataCommand(program: Command): void {
  const data = program.command('data').description('datasets and corruptions');
  data
    .command('list')
    .description('list the datasets and corruption types')
    .action(() => {
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
    async (dataset: string, o: { out: string; dir?: string; corruptions?: string[]; severity: number; count: number; seed: number } & ImageDecodingFlags) => {
      const load = { dir: o.dir, ...imageDecodingLoadOptions(o) };
      await prepareDataset(dataset, load); // imagefolder: decode into the cache (with progress) before the synchronous load
      const r = previewCommand(dataset, { out: o.out, corruptions: o.corruptions, severity: o.severity, count: o.count, seed: o.seed, ...load });
      process.stdout.write(`wrote ${r.path} (${r.width}x${r.height}, rows: ${r.rowLabels.join(', ')})\n`);
    },
  );
}
