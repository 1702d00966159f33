/**
 * Where a checkpoint's model description comes from when the file does not
 * record it (a pipeline checkpoint records only `model`): from, in order, the
 * caller's hints (the CLI's --model, --model-options, --dataset, --dir), the
 * file's `model` key, and the run's `config.json` beside the checkpoint or
 * one folder up, with the data shape of the dataset it names. What is still
 * missing is a ConfigError saying which option to pass.
 *
 * @example
 * const { model, description } = await loadModel('runs/fm-1a2b/phase-3/soup-uniform.safetensors', checkpointLoadHints());
 * await loadModel('bare.safetensors', checkpointLoadHints({ model: 'mlp', dataset: 'fashion-mnist' }));
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DESCRIPTION_KEYS, SHAPE_KEYS, type ModelDescription } from '../checkpoints/model-description.js';
import type { LoadModelHints, ZooModelDescription } from '../models/load.js';
import { listModels, type ModelOptions } from '../models/registry.js';
import { getDatasetDefinition, type DatasetLoadOptions } from '../data/index.js';
import { parseSmsConfig, type SmsConfig } from '../sms/config.js';
import { datasetLoadOptions, modelName } from '../sms/context.js';
import { ConfigError } from '../util/errors.js';

/** Where a description comes from when the file alone does not say (the CLI's --model, --model-options, --dataset, --dir). */
export interface CheckpointHints {
  /** Model registry name; overrides the file's `model`. */
  model?: string;
  /** Model options; override the file's and the run config's. */
  modelOptions?: ModelOptions;
  /** Dataset whose shape and classes the model takes (when the file does not record them). */
  dataset?: string;
  /** Directory of the dataset's files (only needed for datasets without built-in shape info, e.g. npy). */
  dir?: string;
  /** How the dataset loads besides `dir` (imagefolder's imageSize, channels, ...); default: the run config's. */
  datasetOptions?: Omit<DatasetLoadOptions, 'dir'>;
}

/** The hints for `loadModel` that find a checkpoint's missing description as the file comment says. */
export function checkpointLoadHints(hints: CheckpointHints = {}): LoadModelHints {
  return {
    model: hints.model,
    modelOptions: hints.modelOptions,
    describe: (file, name) => describeFromOrigin(file, name, hints),
  };
}

/** Input channels, classes and image size of a registered dataset (loads its test split only when the registry does not know them). */
export function datasetShape(
  dataset: string,
  options: DatasetLoadOptions = {},
): Pick<ModelDescription, 'inChannels' | 'numClasses' | 'imageSize'> {
  const definition = getDatasetDefinition(dataset);
  const info = definition.info ?? definition.loadSplit('test', options);
  const [channels, height, width] = info.imageShape;
  if (height !== width)
    throw new ConfigError('--dataset', `dataset '${dataset}' has ${height}×${width} images; the models take square images`);
  return { inChannels: channels, numClasses: info.numClasses, imageSize: height };
}

/** The SMS config of the run a checkpoint belongs to (`config.json` beside it or one folder up), or null. */
export function findRunConfig(checkpoint: string): SmsConfig | null {
  for (const dir of [dirname(checkpoint), dirname(dirname(checkpoint))]) {
    const file = join(dir, 'config.json');
    if (!existsSync(file)) continue;
    try {
      return parseSmsConfig(JSON.parse(readFileSync(file, 'utf8')), file);
    } catch {
      return null; // not a run config: ignore it rather than fail the export
    }
  }
  return null;
}

/**
 * The description of the model in `file`, which does not record its own,
 * assembled from `name` (the hints' or the file's), the hints and the run's
 * config.json. Throws ConfigError saying which option to pass when neither
 * says the model or the data shape.
 */
function describeFromOrigin(file: string, name: string | undefined, hints: CheckpointHints): ZooModelDescription {
  const run = findRunConfig(file);
  const model = name ?? (run !== null ? modelName(run) : undefined);
  if (model === undefined) {
    throw new ConfigError(
      '--model',
      `${file} does not say which model it holds (no '${DESCRIPTION_KEYS.name}' metadata, no run config.json beside it): pass --model <name> ` +
        `(${listModels()
          .map((m) => m.name)
          .join(', ')}) and --dataset <name>`,
    );
  }
  const dataset = hints.dataset ?? run?.data.dataset;
  if (dataset === undefined) {
    throw new ConfigError(
      '--dataset',
      `${file} holds a '${model}' but does not record its input shape and classes (metadata ${SHAPE_KEYS.join(', ')}): pass --dataset <name> (the dataset it was trained on)`,
    );
  }
  const options = hints.modelOptions ?? (run !== null && modelName(run) === model ? (run.model.options as ModelOptions) : {});
  const runOptions = run !== null && run.data.dataset === dataset ? datasetLoadOptions(run.data) : {};
  const load = { ...runOptions, ...hints.datasetOptions, dir: hints.dir ?? run?.data.dir ?? undefined };
  return { name: model, options, ...datasetShape(dataset, load), dataset };
}
