/**
 * Everything an SMS job needs besides its own inputs: the data splits, the
 * corrupted (OOD) test sets and a model factory, built once per process from
 * the config's data, model and evaluation sections and cached.
 */
import { loadDataset, prepareDataset } from '../data/index.js';
import type { DatasetLoadOptions, DatasetPrepareHooks, ImageDataset } from '../data/dataset.js';
import { splitTrainValidation, subsetDataset } from '../data/split.js';
import { corruptDataset } from '../data/corruptions/dataset.js';
import { validateOodSet } from '../data/corruptions/ood-set.js';
import { createModel } from '../models/registry.js';
import type { Module } from '../nn/module.js';
import { Generator } from '../tensor/tensor.js';
import { loadCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import type { SmsConfig } from './config.js';

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
}

const cache = new Map<string, ExperimentData>();

/** The evaluation settings the OOD sets are built from. */
export type OodSettings = Pick<SmsConfig['evaluation'], 'oodCorruptions' | 'oodSeverities' | 'oodSubset' | 'oodSeed'>;

/** The first `n` images of `dataset` as a subset named `name` (the dataset itself when n is null or not smaller). */
export function firstN(dataset: ImageDataset, n: number | null, name = dataset.name): ImageDataset {
  if (n === null || n >= dataset.labels.length) return dataset;
  return subsetDataset(dataset, Int32Array.from({ length: n }, (_, i) => i), name);
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
  const { train: fullTrain, test: fullTest } = loadDataset(d.dataset, datasetLoadOptions(d));
  const split = splitTrainValidation(fullTrain, { fraction: d.validationFraction, seed: d.splitSeed });
  const train = firstN(split.train, d.trainSubset, `${d.dataset}/train`);
  const test = firstN(fullTest, d.testSubset, `${d.dataset}/test`);
  const ev = config.evaluation;
  validateOodSet({ corruptions: ev.oodCorruptions, severities: ev.oodSeverities }, 'evaluation');
  const data: ExperimentData = {
    train,
    validation: split.validation,
    test,
    ood: lazyOodSets(test, `${d.dataset}/test`, ev),
  };
  cache.set(key, data);
  return data;
}

/** A freshly initialized model for the experiment's data, weights drawn from `seed`. */
export function buildModel(config: SmsConfig, seed: number): Module {
  const data = experimentData(config);
  const [inChannels, height] = data.train.imageShape;
  return createModel(config.model.name, {
    inChannels,
    numClasses: data.train.numClasses,
    imageSize: height,
    generator: new Generator(seed),
    ...(config.model.options as object),
  });
}

/**
 * The experiment's model holding the weights of a checkpoint: built from
 * `seed` (the initialization is overwritten entirely: loading is strict),
 * then loaded. A CheckpointRef's checksum is verified first. Errors name the
 * file (CheckpointError for a checksum or key/shape mismatch).
 */
export async function loadModel(config: SmsConfig, ref: CheckpointRef | string, seed = config.seed): Promise<Module> {
  const model = buildModel(config, seed);
  try {
    const state = await loadCheckpoint(ref);
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
