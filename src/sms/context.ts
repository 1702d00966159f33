/**
 * Everything an SMS job needs besides its own inputs: the data splits, the
 * corrupted (OOD) test sets and a model factory, built once per process from
 * the config's data, model and evaluation sections and cached.
 *
 * A config whose model is the user's own module (`model.module`) needs
 * `await prepareModel(config)` once per process before `buildModel`: the
 * import is asynchronous, building is not. runSms, mergePhase and every job
 * that loads a checkpoint (retrainCandidate, pruneCheckpoint, evaluation)
 * prepare it themselves, in whichever process they run.
 */
import { loadDataset, prepareDataset } from '../data/index.js';
import type { DatasetLoadOptions, DatasetPrepareHooks, ImageDataset } from '../data/dataset.js';
import { splitTrainValidation, subsetDataset } from '../data/split.js';
import { corruptDataset } from '../data/corruptions/dataset.js';
import { validateOodSet } from '../data/corruptions/ood-set.js';
import { checkStackedCorruption, loadStackedCorruption } from '../data/cifar.js';

const OOD_DIR_SOURCE =
  'evaluation.oodDir holds <corruption>.npy (uint8 (5·N, H, W, C), severities 1..5 stacked) and labels.npy, as CIFAR-10-C and CIFAR-100-C ship them (Hendrycks & Dietterich, ICLR 2019; Zenodo records 2535967 and 3555552).';
import { createModel } from '../models/registry.js';
import { loadUserModel, userModelName, type UserModelFactory } from '../models/user-module.js';
import type { Module } from '../nn/module.js';
import { Generator } from '../tensor/tensor.js';
import { onHost } from '../tensor/device-trace.js';
import { loadCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { UserModelError } from '../util/errors.js';
import type { SmsConfig } from './config.js';
import { computeDevice } from './device.js';

export interface OodDataset {
  corruption: string;
  severity: number;
  dataset: ImageDataset;
}

export interface ExperimentData {
  train: ImageDataset;
  validation: ImageDataset;
  test: ImageDataset;
  /** Lazily corrupted test sets, one per (corruption, severity). */
  ood(): OodDataset[];
  /** What loading the data warned about (classes without a training image); validateExperiment reports them. */
  warnings?: readonly string[];
}

const cache = new Map<string, ExperimentData>();

/** The evaluation settings the OOD sets are built from. */
export type OodSettings = Pick<SmsConfig['evaluation'], 'oodCorruptions' | 'oodSeverities' | 'oodSubset' | 'oodSeed'> & {
  oodDir?: string | null;
};

/** The first `n` images of `dataset` as a subset named `name` (the dataset itself when n is null or not smaller). */
export function firstN(dataset: ImageDataset, n: number | null, name = dataset.name): ImageDataset {
  if (n === null || n >= dataset.labels.length) return dataset;
  return subsetDataset(
    dataset,
    Int32Array.from({ length: n }, (_, i) => i),
    name,
  );
}

/**
 * The OOD sets of `test`, built on the first call and reused after: the first
 * `ev.oodSubset` test images (a subset named `name`) corrupted with each of
 * `ev.oodCorruptions` at each of `ev.oodSeverities`, seeded by `ev.oodSeed`.
 */
export function lazyOodSets(test: ImageDataset, name: string, ev: OodSettings): () => OodDataset[] {
  let oodSets: OodDataset[] | null = null;
  return () => {
    if (oodSets === null) {
      const base = firstN(test, ev.oodSubset, name);
      const [channels, height, width] = base.imageShape;
      const sets: OodDataset[] = [];
      for (const corruption of ev.oodCorruptions) {
        for (const severity of ev.oodSeverities) {
          if (ev.oodDir) {
            // Published corruption files (CIFAR-10-C layout) instead of generated ones.
            const info = { ...base, name: `${name}-c` };
            const file = loadStackedCorruption(ev.oodDir, corruption, severity, info, OOD_DIR_SOURCE);
            sets.push({ corruption, severity, dataset: firstN(file, ev.oodSubset, `${name}-c/${corruption}-${severity}`) });
            continue;
          }
          const images = corruptDataset(base.images, { channels, height, width }, corruption, severity, ev.oodSeed);
          sets.push({ corruption, severity, dataset: { ...base, name: `${base.name}/${corruption}-${severity}`, images } });
        }
      }
      oodSets = sets; // cached only once complete: a corruption that throws leaves nothing half-built behind
    }
    return oodSets;
  };
}

/** The loader options of the config's data section: the directory and imagefolder's decoding options. */
export function datasetLoadOptions(d: SmsConfig['data']): DatasetLoadOptions {
  return { dir: d.dir ?? undefined, imageSize: d.imageSize, resize: d.resize, channels: d.channels, skipUnreadable: d.skipUnreadable };
}

const dataKey = (config: SmsConfig): string => JSON.stringify([config.data, config.evaluation]);

/**
 * Does the dataset's slow one-time work (imagefolder: decoding the images into
 * their cache) asynchronously, so that {@link experimentData} only reads. Call it
 * before experimentData where a process starts work (runSms, a retrain or merge
 * job): without it the synchronous load still works, but decodes in a child
 * process while this one's event loop waits. Returns at once when this
 * process has the data already.
 */
export async function prepareExperimentData(config: SmsConfig, hooks: DatasetPrepareHooks = {}): Promise<void> {
  if (cache.has(dataKey(config))) return;
  await prepareDataset(config.data.dataset, datasetLoadOptions(config.data), hooks);
}

/** The data of an experiment (cached by the config's data and evaluation sections). */
export function experimentData(config: SmsConfig): ExperimentData {
  const key = dataKey(config);
  const hit = cache.get(key);
  if (hit) return hit;
  const d = config.data;
  const warnings: string[] = [];
  const onWarning = (message: string): void => void warnings.push(message);
  const { train: fullTrain, test: fullTest } = loadDataset(d.dataset, {
    ...datasetLoadOptions(d),
    numClasses: d.numClasses,
    classNames: d.classNames,
    onWarning,
  });
  const split = splitTrainValidation(fullTrain, { fraction: d.validationFraction, seed: d.splitSeed });
  const train = firstN(split.train, d.trainSubset, `${d.dataset}/train`);
  const test = firstN(fullTest, d.testSubset, `${d.dataset}/test`);
  const ev = config.evaluation;
  if (ev.oodDir) {
    // Named now, before any training: a missing or mis-shaped corruption file.
    for (const corruption of ev.oodCorruptions)
      checkStackedCorruption(ev.oodDir, corruption, { ...test, name: `${d.dataset}/test` }, OOD_DIR_SOURCE);
  } else validateOodSet({ corruptions: ev.oodCorruptions, severities: ev.oodSeverities }, 'evaluation');
  const data: ExperimentData = {
    train,
    validation: split.validation,
    test,
    ood: lazyOodSets(test, `${d.dataset}/test`, ev),
    warnings,
  };
  cache.set(key, data);
  return data;
}

/** The model's name in checkpoints and reports: the registry name, or `module:<file>#<export>`. */
export function modelName(config: SmsConfig): string {
  const { name, module, export: exportName } = config.model;
  return module !== undefined ? userModelName(module, exportName) : (name ?? '');
}

const userModels = new Map<string, UserModelFactory>();
const preparedModels = new Set<string>();

const userModelKey = (module: string, exportName = 'default'): string => `${module}#${exportName}`;

/**
 * Makes `buildModel` ready for the config's model: for a user module, imports
 * it and builds one model for the experiment's data (then frees it), so a
 * missing file or export, a wrong export or a throwing constructor is a
 * UserModelError before any training. Once per process and model section;
 * nothing to do for a registry model.
 */
export async function prepareModel(config: SmsConfig): Promise<void> {
  const { module, export: exportName } = config.model;
  if (module === undefined) return;
  const prepared = JSON.stringify([config.model, config.data]);
  if (preparedModels.has(prepared)) return;
  userModels.set(userModelKey(module, exportName), await loadUserModel(module, exportName));
  onHost(() => constructModel(config, config.seed)).dispose(); // builds (and checks) it; no need to move it
  preparedModels.add(prepared);
}

/**
 * A freshly initialized model for the experiment's data, weights drawn from
 * `seed`, on the config's device. The weights are drawn on the CPU (seeded
 * CPU generators give the same model on every device) and then moved.
 */
export function buildModel(config: SmsConfig, seed: number): Module {
  const model = onHost(() => constructModel(config, seed));
  const device = computeDevice(config);
  if (device !== undefined) {
    try {
      model.to({ device });
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  return model;
}

function constructModel(config: SmsConfig, seed: number): Module {
  const data = experimentData(config);
  const [inChannels, height] = data.train.imageShape;
  const modelConfig = {
    inChannels,
    numClasses: data.train.numClasses,
    imageSize: height,
    generator: new Generator(seed),
    ...(config.model.options as object),
  };
  const { name, module, export: exportName } = config.model;
  if (module === undefined) return createModel(name ?? '', modelConfig);
  const factory = userModels.get(userModelKey(module, exportName));
  if (factory === undefined) {
    throw new UserModelError(
      module,
      exportName ?? 'default',
      'not loaded in this process yet: await prepareModel(config) before buildModel',
    );
  }
  return factory(modelConfig);
}

/**
 * The experiment's model holding the weights of a checkpoint, on the
 * config's device: built from `seed` (the initialization is overwritten
 * entirely: loading is strict), then loaded. A CheckpointRef's checksum is
 * verified first. Errors name the file (CheckpointError for a checksum or
 * key/shape mismatch).
 */
export async function loadModel(config: SmsConfig, ref: CheckpointRef | string, seed = config.seed): Promise<Module> {
  await prepareModel(config);
  const model = buildModel(config, seed);
  try {
    const state = await loadCheckpoint(ref, { device: computeDevice(config) });
    try {
      model.loadStateDict(state, { origin: typeof ref === 'string' ? ref : ref.path });
    } finally {
      for (const t of state.values()) t.dispose();
    }
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}
