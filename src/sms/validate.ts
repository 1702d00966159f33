/**
 * validateExperiment: every check of a config that needs no training, run
 * (after `await prepareModel(config)` when the model is a user's module),
 * when an experiment starts, so that a typo costs seconds instead of the
 * dense training that would run before the step that trips on it.
 *
 *   device    a CUDA device exists here (a CUDA libtorch, a GPU, the index)
 *   names     the dataset, model, pruning criterion, dense and retraining
 *             schedules and OOD corruptions exist in their registries (as
 *             they are now: users may register their own), with a "did you
 *             mean" for typos
 *   data      the dataset loads (files, shapes, labels within the classes);
 *             the training set fills at least one batch (training drops the
 *             last incomplete one); validation and test sets are not empty
 *   model     it builds with its options on the dataset's image shape,
 *             forwards a batch to one logit per class, and has the layers
 *             `pruning.exclude` names
 *   schedules the dense and every candidate's retraining LR schedule build
 *             for the real step counts
 *
 * Errors are ConfigErrors at the key as the config file spells it
 * (`pruning.criterion`), ending with `(in <source>)`; a malformed data file
 * is a DataFormatError naming the file. What deserves a look without being
 * wrong (a class with no training image, a subset larger than the set) comes
 * back as warnings.
 *
 * @example
 * const config = parseSmsConfig(yaml, 'my.yaml');
 * const { warnings } = validateExperiment(config, 'my.yaml'); // throws: "pruning.criterion: unknown criterion 'globl'; did you mean 'global'? ..."
 */
import { existsSync } from 'node:fs';
import { CORRUPTION_NAMES } from '../data/corruptions/index.js';
import { DataLoader, getDatasetDefinition, listDatasets, type ImageDataset } from '../data/index.js';
import { findModel, listModels } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { BatchNorm } from '../nn/layers.js';
import { listCriteria } from '../prune/criteria.js';
import { prunableParameters } from '../prune/prunable.js';
import { noGrad, zeros } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import {
  listDenseSchedules,
  listRetrainSchedules,
  makeDenseSchedule,
  makeRetrainSchedule,
  type DenseSchedule,
} from '../train/schedules.js';
import { stepsFor } from '../train/trainer.js';
import { ConfigError } from '../util/errors.js';
import { didYouMean } from '../util/suggest.js';
import { candidateSpecs } from './candidates.js';
import type { SmsConfig } from './config.js';
import { buildModel, experimentData, modelName, prepareExperimentData, prepareModel, type ExperimentData } from './context.js';
import { checkDevice, computeDevice } from './device.js';

export interface ValidationReport {
  /** Things worth a look that do not stop the run (printed by the CLI, recorded as events). */
  warnings: string[];
}

/** Throws a ConfigError at `path`, the problem followed by where the config came from. */
type Fail = (path: string, problem: string) => never;

/**
 * Checks `config` against the registries, its data and its model, without
 * training anything (seconds: the data is loaded, and cached for the run;
 * the model is built once). `source` (the config file) ends every message.
 */
export function validateExperiment(config: SmsConfig, source?: string): ValidationReport {
  const where = source === undefined ? '' : ` (in ${source})`;
  const fail: Fail = (path, problem) => {
    throw new ConfigError(path, `${problem}${where}`);
  };
  checkDevice(config.device, 'device', where);
  checkNames(config, fail);
  checkDataOptions(config, fail);
  const data = withConfigSource(() => experimentData(config), where);
  const warnings = [...(data.warnings ?? []), ...checkDataSizes(config, data, fail)];
  checkModel(config, data, fail);
  withConfigSource(() => checkSchedules(config, data), where);
  if (config.dense.checkpoint !== null && config.pruning.variant === 'imp' && !existsSync(config.dense.checkpoint)) {
    fail('dense.checkpoint', `${config.dense.checkpoint}: file not found`);
  }
  return { warnings };
}

/**
 * Everything a run needs before its first step, checked and prepared in the
 * order that names a mistake best: registry names (with suggestions), then
 * the dataset's one-time preparation (imagefolder decodes into its cache),
 * then a user's model module (model.module), then validateExperiment.
 */
export async function prepareAndValidate(config: SmsConfig, source?: string): Promise<ValidationReport> {
  const where = source === undefined ? '' : ` (in ${source})`;
  checkDevice(config.device, 'device', where); // before the data: a run that cannot compute here fails in a blink
  checkNames(config, (path, problem) => {
    throw new ConfigError(path, `${problem}${where}`);
  });
  await prepareExperimentData(config);
  await prepareModel(config);
  return validateExperiment(config, source);
}

/** Runs `fn`, adding `where` to the message of a ConfigError it throws (lower layers name the key but not the file). */
function withConfigSource<T>(fn: () => T, where: string): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ConfigError && where !== '' && !e.problem.endsWith(where)) throw new ConfigError(e.path, `${e.problem}${where}`);
    throw e;
  }
}

function unknownName(fail: Fail, path: string, what: string, name: string, valid: string[]): never {
  return fail(path, `unknown ${what} '${name}'${didYouMean(name, valid)}; valid: ${valid.join(', ')}`);
}

/** Registry names, as the registries stand now (a user may have registered more). */
function checkNames(config: SmsConfig, fail: Fail): void {
  const datasets = listDatasets().map((d) => d.name);
  if (!datasets.includes(config.data.dataset)) unknownName(fail, 'data.dataset', 'dataset', config.data.dataset, datasets);

  if (config.model.name !== undefined && findModel(config.model.name) === null) {
    const models = listModels().map((m) => m.name);
    // Patterns ('wrn-<depth>-<width>') are listed, but only plain names are suggested.
    const m = config.model.name;
    fail(
      'model.name',
      `unknown model '${m}'${didYouMean(
        m,
        models.filter((n) => !n.includes('<')),
      )}; valid: ${models.join(', ')}`,
    );
  }

  const criteria = listCriteria();
  if (!criteria.includes(config.pruning.criterion))
    unknownName(fail, 'pruning.criterion', 'pruning criterion', config.pruning.criterion, criteria);

  // The schedule registries match case-insensitively (retraining names upper case, dense lower case).
  const retrain = listRetrainSchedules().map((s) => s.name);
  if (!(retrain as string[]).includes(config.retrain.schedule.toUpperCase())) {
    unknownName(fail, 'retrain.schedule', 'retraining schedule', config.retrain.schedule, retrain);
  }
  const dense = listDenseSchedules().map((s) => s.name);
  if (!(dense as string[]).includes(config.dense.schedule.toLowerCase()))
    unknownName(fail, 'dense.schedule', 'dense schedule', config.dense.schedule, dense);

  const { oodCorruptions, oodSeverities } = config.evaluation;
  if (oodCorruptions.length === 0) fail('evaluation.oodCorruptions', `must name at least one corruption: ${CORRUPTION_NAMES.join(', ')}`);
  if (oodSeverities.length === 0) fail('evaluation.oodSeverities', 'must list at least one severity in 1..5');
  const corruptions: string[] = [...CORRUPTION_NAMES];
  oodCorruptions.forEach((name, i) => {
    if (!corruptions.includes(name)) unknownName(fail, 'evaluation.oodCorruptions', 'corruption', name, corruptions);
    if (oodCorruptions.indexOf(name) !== i) fail('evaluation.oodCorruptions', `'${name}' is listed twice`);
  });
  oodSeverities.forEach((severity, i) => {
    if (oodSeverities.indexOf(severity) !== i) fail('evaluation.oodSeverities', `${severity} is listed twice`);
  });
}

/** `data.numClasses` / `data.classNames`: only for datasets whose classes come from the data, and consistent. */
function checkDataOptions(config: SmsConfig, fail: Fail): void {
  const d = config.data;
  const info = getDatasetDefinition(d.dataset).info;
  for (const key of ['numClasses', 'classNames'] as const) {
    if (d[key] !== undefined && info !== null) {
      fail(
        `data.${key}`,
        `dataset '${d.dataset}' has its own ${info.numClasses} classes; data.${key} is for datasets that take their classes from the data (npy)`,
      );
    }
  }
  if (d.classNames !== undefined && d.numClasses !== undefined && d.classNames.length !== d.numClasses) {
    fail('data.classNames', `lists ${d.classNames.length} names, data.numClasses is ${d.numClasses}: give one name per class`);
  }
}

const shapeText = (s: ImageDataset['imageShape']): string => s.join('×');

/** The sets are non-empty and the training set fills a batch; returns warnings about subsets larger than their set. */
function checkDataSizes(config: SmsConfig, data: ExperimentData, fail: Fail): string[] {
  const d = config.data;
  const warnings: string[] = [];
  const train = data.train.labels.length;
  if (data.validation.labels.length === 0)
    fail('data.validationFraction', `${d.validationFraction} of the training set leaves no validation image`);
  if (data.test.labels.length === 0) fail('data.dataset', `the test split of '${d.dataset}' has no image`);
  if (shapeText(data.test.imageShape) !== shapeText(data.train.imageShape)) {
    fail(
      'data.dir',
      `the test images are ${shapeText(data.test.imageShape)}, the training images ${shapeText(data.train.imageShape)}: both splits need the same image shape`,
    );
  }
  if (d.trainSubset !== null && d.trainSubset > train) {
    warnings.push(
      `data.trainSubset: ${d.trainSubset} is more than the ${train} training images left after the validation split; all of them are used`,
    );
  }
  if (d.testSubset !== null && d.testSubset > data.test.labels.length) {
    warnings.push(`data.testSubset: ${d.testSubset} is more than the ${data.test.labels.length} test images; all of them are used`);
  }
  // Dense training and every retrain drop the last incomplete batch (trainer: DataLoader dropLast).
  if (train < d.batchSize) {
    const set =
      d.trainSubset !== null && d.trainSubset <= train
        ? `data.trainSubset: ${d.trainSubset} training images`
        : `${train} training images (after the validation split)`;
    const fix =
      d.trainSubset !== null
        ? `lower data.batchSize to at most ${train} or raise data.trainSubset`
        : `lower data.batchSize to at most ${train}`;
    fail(
      'data.batchSize',
      `${d.batchSize} is more than the ${set}: training drops the last incomplete batch, so not one step would run; ${fix}`,
    );
  }
  return warnings;
}

/** Data-derived settings a model may refuse (the fix is another model, or other data). */
const DATA_KEYS = new Set(['model.imageSize', 'model.inChannels', 'model.numClasses']);

/** The model builds with its options, forwards the dataset's images, and has what `pruning.exclude` names. */
function checkModel(config: SmsConfig, data: ExperimentData, fail: Fail): void {
  const { options } = config.model;
  const name = modelName(config);
  // A user's module takes whatever options it defines; a zoo model lists its own.
  const entry = config.model.name !== undefined ? findModel(config.model.name)?.entry : undefined;
  const accepted: string[] = [...(entry?.options ?? []), 'inChannels', 'numClasses', 'imageSize'];
  for (const key of Object.keys(options)) {
    if (entry !== undefined && !accepted.includes(key)) {
      const takes = entry?.options.length ? `it takes ${entry.options.join(', ')}` : 'it takes no model-specific options';
      fail(`model.options.${key}`, `model '${name}' has no option '${key}'${didYouMean(key, entry?.options ?? [])}; ${takes}`);
    }
  }
  const [channels, height, width] = data.train.imageShape;
  const dataNote = `'${config.data.dataset}' has ${channels}×${height}×${width} images and ${data.train.numClasses} classes`;
  let model: Module;
  try {
    model = buildModel(config, config.seed);
  } catch (e) {
    if (e instanceof ConfigError && (e.path === 'model.name' || e.path === 'model.depth' || e.path === 'model.widthFactor'))
      fail('model.name', e.problem);
    if (e instanceof ConfigError && DATA_KEYS.has(e.path)) fail('model.name', `${e.problem} (${dataNote})`);
    const option = e instanceof ConfigError ? /^model\.(\w+)(.*)$/.exec(e.path) : null;
    if (e instanceof ConfigError && option !== null && option[1] in options) fail(`model.options.${option[1]}${option[2]}`, e.problem);
    return fail('model.options', `model '${name}' cannot be built with options ${JSON.stringify(options)}: ${(e as Error).message}`);
  }
  try {
    checkForward(model, name, dataNote, [channels, height, width], data.train.numClasses, fail, computeDevice(config));
    if (config.data.batchSize < 2 && model.namedModules().some(([, m]) => m instanceof BatchNorm)) {
      fail('data.batchSize', `must be at least 2 for '${name}': batch norm cannot normalize a batch of one image in training`);
    }
    checkPrunable(config, model, fail);
  } finally {
    model.dispose();
  }
}

function checkForward(
  model: Module,
  name: string,
  dataNote: string,
  shape: number[],
  numClasses: number,
  fail: Fail,
  device?: string,
): void {
  let out: number[];
  try {
    model.eval();
    out = noGrad(() => tidy(() => model.forward(zeros([2, ...shape], { device })).shape));
  } catch (e) {
    return fail('model.name', `model '${name}' cannot take the dataset's images (${dataNote}): ${(e as Error).message}`);
  } finally {
    model.train();
  }
  if (out.length !== 2 || out[0] !== 2 || out[1] !== numClasses) {
    fail(
      'model.name',
      `model '${name}' gives outputs of shape [${out.join(', ')}] for 2 images, expected [2, ${numClasses}] (${dataNote})`,
    );
  }
}

/** Each `pruning.exclude` entry names a prunable weight or a module prefix, and something is left to prune. */
function checkPrunable(config: SmsConfig, model: Module, fail: Fail): void {
  const { exclude, includeFirst, includeLast } = config.pruning;
  const weights = prunableParameters(model).map(([n]) => n);
  if (weights.length === 0) fail('model.name', `model '${config.model.name}' has no Conv2d or Linear weight: there is nothing to prune`);
  const moduleOf = (weight: string): string => (weight === 'weight' ? '' : weight.slice(0, -'.weight'.length));
  const prefixes = new Set<string>();
  for (const w of weights) {
    const parts = moduleOf(w).split('.');
    for (let k = 1; k <= parts.length; k++) prefixes.add(parts.slice(0, k).join('.'));
  }
  for (const entry of exclude) {
    const matches = weights.some((w) => w === entry || moduleOf(w) === entry || moduleOf(w).startsWith(`${entry}.`));
    if (!matches) {
      const shown = weights.slice(0, 12).join(', ') + (weights.length > 12 ? `, ... (${weights.length} in all)` : '');
      fail(
        'pruning.exclude',
        `'${entry}' matches no Conv2d/Linear weight of ${model.constructor.name}${didYouMean(entry, [...weights, ...prefixes])}; ` +
          `give a parameter name or a module-name prefix, one of: ${shown}`,
      );
    }
  }
  let left: number;
  try {
    left = prunableParameters(model, { exclude, includeFirst, includeLast }).length;
  } catch (e) {
    return fail('pruning.exclude', e instanceof ConfigError ? e.problem : (e as Error).message);
  }
  if (left === 0) {
    const key = exclude.length > 0 ? 'pruning.exclude' : includeLast ? 'pruning.includeFirst' : 'pruning.includeLast';
    fail(
      key,
      `leaves no weight of '${config.model.name}' to prune (pruning.exclude, includeFirst and includeLast together keep all ${weights.length} dense)`,
    );
  }
}

/** The LR schedules the run will build, built now with its step counts (their own checks name `dense.*` / `retrain.*`). */
function checkSchedules(config: SmsConfig, data: ExperimentData): void {
  const batches = new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true });
  const dense: DenseSchedule = makeDenseSchedule(config.dense.schedule, {
    maxLr: config.dense.maxLr,
    totalSteps: stepsFor(batches, config.dense.epochs),
    warmupFraction: config.dense.warmupFraction,
  });
  for (const spec of candidateSpecs(config)) {
    if (config.pruning.variant === 'gmp') {
      // One global schedule over all phases, each lasting retrain.epochs (phase-steps.ts).
      const totalSteps = stepsFor(batches, config.retrain.epochs) * config.pruning.phases;
      makeDenseSchedule(config.dense.schedule, { maxLr: spec.maxLr, totalSteps, warmupFraction: config.dense.warmupFraction });
    } else {
      // ALLR's inputs are measured when pruning; any valid pair checks the rest.
      const allr = { normDrop: 0.5, prunedFraction: 0.5 };
      makeRetrainSchedule(config.retrain.schedule, {
        totalSteps: stepsFor(batches, spec.epochs),
        dense,
        maxLr: spec.maxLr,
        minLr: config.retrain.minLr,
        allr,
      });
    }
  }
}
