/**
 * Evaluating one checkpoint (dense or sparse, pipeline or exported) on a
 * dataset's test set, and optionally on corrupted (OOD) copies of it: test
 * accuracy, loss, ECE (15 bins), worst-class accuracy, OOD accuracy per
 * corruption and severity and their mean, sparsity, non-zero parameters and
 * FLOPs. The metrics are sms/evaluate.ts's, the very code the pipeline
 * reports with, so the numbers match a run's results for the same subsets.
 *
 * @example
 * const r = await evaluateCheckpoint({
 *   checkpoint: 'soup.sparse.safetensors', dataset: 'fashion-mnist',
 *   ood: { corruptions: ['gaussian_noise', 'fog'], severities: [1, 3, 5] },
 * });
 * console.log(r.table);
 * r.metrics.testAccuracy; // 0.89
 */
import { loadDatasetSplit, type DatasetLoadOptions, type ImageDataset } from '../data/index.js';
import { validateOodSet } from '../data/corruptions/ood-set.js';
import { parseSmsConfig } from '../sms/config.js';
import { firstN, lazyOodSets, type ExperimentData, type OodSettings } from '../sms/context.js';
import { evaluateModel, type ModelMetrics } from '../sms/evaluate.js';
import { describeModel, type ExportFormat, type ModelDescription } from '../checkpoints/model-description.js';
import { loadModel, type ZooModelDescription } from '../models/load.js';
import { ConfigError } from '../util/errors.js';
import { checkpointLoadHints, type CheckpointHints } from './checkpoint-origin.js';

export interface OodOptions {
  /** CIFAR-10-C corruption names, e.g. ['gaussian_noise', 'fog']. */
  corruptions: string[];
  /** Severities 1..5. */
  severities: number[];
  /** Corrupt only the first n test images (default: the pipeline's, 2000; null: all). */
  subset?: number | null;
  /** Seed of the random corruptions (default: the pipeline's, 1234). */
  seed?: number;
}

export interface EvaluateCheckpointOptions {
  /** A dense or sparse file: an export, or a pipeline checkpoint. */
  checkpoint: string;
  /** Registry name of the dataset to test on. */
  dataset: string;
  /** Directory of the dataset's files (default: the dataset's own). */
  dir?: string;
  /** How the dataset loads besides `dir` (imagefolder: imageSize, resize, channels, skipUnreadable). */
  datasetOptions?: Omit<DatasetLoadOptions, 'dir'>;
  /** Model name, for files that do not record it (overrides the file's). */
  model?: string;
  /** Model options, for files that do not record them. */
  modelOptions?: CheckpointHints['modelOptions'];
  /** Corrupted test sets to score (default: none). */
  ood?: OodOptions;
  /** Evaluate on the first n test images only. */
  testSubset?: number;
  batchSize?: number;
}

export interface CheckpointEvaluation {
  checkpoint: string;
  format: ExportFormat;
  model: ZooModelDescription;
  dataset: string;
  testImages: number;
  /** Images per corrupted set (0 without OOD). */
  oodImages: number;
  metrics: ModelMetrics;
  /** The result as a markdown table, ready to print. */
  table: string;
}

/**
 * Loads `checkpoint` into its model (see run/checkpoint-origin.ts for how
 * the model is found) and scores it on `dataset`. Throws ConfigError when the model and
 * the dataset do not fit each other (channels, image size, classes).
 */
export async function evaluateCheckpoint(opts: EvaluateCheckpointOptions): Promise<CheckpointEvaluation> {
  const ood = opts.ood === undefined ? undefined : { ...opts.ood, ...validateOodSet(opts.ood, '--ood') };
  const { model, description, format } = await loadModel(
    opts.checkpoint,
    checkpointLoadHints({
      model: opts.model,
      modelOptions: opts.modelOptions,
      dataset: opts.dataset,
      dir: opts.dir,
      datasetOptions: opts.datasetOptions,
    }),
  );
  try {
    const config = parseSmsConfig(
      {
        data: { dataset: opts.dataset, dir: opts.dir ?? null, testSubset: opts.testSubset ?? null },
        model: { name: description.name, options: description.options },
        evaluation: {
          ...(opts.batchSize !== undefined && { batchSize: opts.batchSize }),
          oodCorruptions: ood?.corruptions ?? [],
          oodSeverities: ood?.severities ?? [],
          ...(ood?.subset !== undefined && { oodSubset: ood.subset }),
          ...(ood?.seed !== undefined && { oodSeed: ood.seed }),
        },
      },
      'eval options',
    );
    const test = firstN(loadDatasetSplit(opts.dataset, 'test', { ...opts.datasetOptions, dir: opts.dir }), config.data.testSubset);
    checkModelFitsData(description, test, opts.checkpoint);
    const data = evaluationData(test, config.evaluation);
    const { metrics } = await evaluateModel(model, config, data);
    const result: Omit<CheckpointEvaluation, 'table'> = {
      checkpoint: opts.checkpoint,
      format,
      model: description,
      dataset: opts.dataset,
      testImages: test.labels.length,
      oodImages: data.ood()[0]?.dataset.labels.length ?? 0,
      metrics,
    };
    return { ...result, table: formatEvaluation(result) };
  } finally {
    model.dispose();
  }
}

function checkModelFitsData(d: ModelDescription, test: ImageDataset, checkpoint: string): void {
  const [channels, height, width] = test.imageShape;
  if (d.inChannels !== channels || d.imageSize !== height || d.imageSize !== width || d.numClasses !== test.numClasses) {
    throw new ConfigError(
      '--dataset',
      `${checkpoint} holds ${describeModel(d)}, but ${test.name} has ${channels}×${height}×${width} images and ${test.numClasses} classes: ` +
        `evaluate it on the dataset it was trained on${d.dataset !== undefined ? ` (${d.dataset})` : ''}`,
    );
  }
}

/**
 * The test set and its corrupted copies in the shape evaluateModel takes.
 * Only `test` and `ood()` are read by it; train and validation are not
 * loaded (the test set stands in for them).
 */
function evaluationData(test: ImageDataset, ev: OodSettings): ExperimentData {
  return { train: test, validation: test, test, ood: lazyOodSets(test, test.name, ev) };
}

const pct = (x: number): string => (Number.isNaN(x) ? '–' : `${(100 * x).toFixed(2)}%`);
const count = (n: number): string => n.toLocaleString('en-US');

/** The evaluation as a markdown table with a three-line heading. */
export function formatEvaluation(r: Omit<CheckpointEvaluation, 'table'>): string {
  const m = r.metrics;
  const rows: [string, string][] = [
    ['test accuracy', pct(m.testAccuracy)],
    ['test loss', m.testLoss.toFixed(4)],
    ['ECE (15 bins)', pct(m.ece)],
    ['worst-class accuracy', pct(m.worstClassAccuracy)],
  ];
  if (m.ood.length > 0) {
    rows.push(['OOD mean accuracy', pct(m.oodMeanAccuracy)]);
    for (const o of m.ood) rows.push([`OOD ${o.corruption}, severity ${o.severity}`, pct(o.accuracy)]);
  }
  rows.push(
    ['sparsity (prunable weights)', pct(m.sparsity)],
    ['non-zero parameters', `${count(m.nonzeroParameters)} of ${count(m.totalParameters)}`],
    ['FLOPs per image (non-zero / dense)', `${count(m.nonzeroFlops)} / ${count(m.denseFlops)}`],
  );
  const oodLine = m.ood.length > 0 ? `; OOD: ${m.ood.length} corrupted sets of ${count(r.oodImages)} images` : '';
  return [
    `checkpoint: ${r.checkpoint} (${r.format})`,
    `model: ${describeModel(r.model)}`,
    `data: ${r.dataset} test set, ${count(r.testImages)} images${oodLine}`,
    '',
    '| metric | value |',
    '| --- | ---: |',
    ...rows.map(([k, v]) => `| ${k} | ${v} |`),
  ].join('\n');
}
