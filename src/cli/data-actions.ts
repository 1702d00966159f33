/**
 * What `sparse-soups data list` and `data preview` do: the listing of the
 * datasets and corruptions, and a preview grid of a dataset with one row per
 * corruption. Loaded by cli/data.ts when one of them runs.
 */
import { listDatasets, prepareDataset, type DatasetLoadOptions } from '../data/dataset.js';
import '../data/datasets.js'; // registers the built-in datasets (not data/index.js: it loads libtorch for batchToTensors)
import { previewDataset, type PreviewResult } from '../data/preview.js';
import { CORRUPTIONS, CORRUPTION_NAMES, validateOodSet, imageRng } from '../data/corruptions/index.js';

export { prepareDataset };

export function datasetListing(): string {
  const lines = ['datasets:'];
  for (const d of listDatasets())
    lines.push(`  ${d.name.padEnd(14)} ${d.description}${d.defaultDir ? ` (default dir ${d.defaultDir})` : ''}`);
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
        apply: (image, channels, height, width) =>
          CORRUPTIONS[name as keyof typeof CORRUPTIONS].apply(
            image,
            { channels, height, width },
            severity,
            imageRng(seed, name, severity, k++),
          ),
      };
    }),
  );
}
