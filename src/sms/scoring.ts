/**
 * Like-for-like scoring: every model that is scored or ranked (dense,
 * candidates, soups, IMP chains, IMP m× longer, the pruned parent) gets the
 * same BN recalibration first, as the SMS authors' code does, so a soup of
 * one candidate has exactly that candidate's metrics and greedy ranks
 * candidates by the accuracy they would have as a soup. Recalibration
 * (soup/batchnorm.ts): reset the running statistics and forward
 * `merge.bnRecalibrationFraction` of the training data in train mode with a
 * cumulative average, in a fixed batch order (seed `config.seed`).
 * `evaluation.recalibrateBn: false` scores non-soup models as they are.
 */
import type { Module, StateDict } from '../nn/module.js';
import { recalibrateBatchNorm } from '../soup/batchnorm.js';
import { DataLoader } from '../data/loader.js';
import { accuracy } from '../metrics/classification.js';
import { predictLogits } from '../metrics/predict.js';
import type { PruningMask } from '../prune/mask.js';
import type { CheckpointRef } from '../checkpoints/store.js';
import type { SmsConfig } from './config.js';
import { autocastDType, computeDevice } from './device.js';
import { buildModel, loadModel, type ExperimentData } from './context.js';
import { evaluateModel, type ModelMetrics, type Predictions } from './evaluate.js';

/** Recalibrates the batch norm of `model` in place on the experiment's training data (no-op without BN layers). */
export async function recalibrate(config: SmsConfig, data: ExperimentData, model: Module): Promise<void> {
  const loader = new DataLoader(data.train, { batchSize: config.data.batchSize, seed: config.seed, reuseBuffers: true });
  await recalibrateBatchNorm(model, loader, { fraction: config.merge.bnRecalibrationFraction, device: computeDevice(config), autocast: autocastDType(config) });
}

/** Loads `state` into a fresh model and recalibrates its batch norm on training data. */
export async function recalibratedModel(config: SmsConfig, data: ExperimentData, state: StateDict): Promise<Module> {
  const model = buildModel(config, config.seed);
  try {
    model.loadStateDict(state);
    await recalibrate(config, data, model);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Top-1 accuracy of `model` on the validation split (fraction in [0, 1]). */
export async function validationAccuracyOf(config: SmsConfig, data: ExperimentData, model: Module): Promise<number> {
  const logits = await predictLogits(model, data.validation, { batchSize: config.evaluation.batchSize, device: computeDevice(config), autocast: autocastDType(config) });
  return accuracy(logits, data.validation.labels, data.validation.numClasses);
}

export interface ScoredModel {
  metrics: ModelMetrics;
  predictions: Predictions;
  /** Validation accuracy of the model as scored (recalibrated when enabled), fraction in [0, 1]; null unless asked for. */
  validationAccuracy: number | null;
}

export interface ScoreOptions {
  /** Applied after loading (the pruned parent is scored under its new mask). */
  mask?: PruningMask;
  /** Also measure the validation accuracy (what ranks a candidate); skipped otherwise. */
  validation?: boolean;
}

/**
 * Scores a checkpoint like-for-like: loaded (with `mask` applied, for the
 * pruned parent), recalibrated when `evaluation.recalibrateBn` is on, then
 * every metric, and the validation accuracy when asked for.
 */
export async function scoreCheckpoint(config: SmsConfig, data: ExperimentData, ref: CheckpointRef | string, opts: ScoreOptions = {}): Promise<ScoredModel> {
  const model = await loadModel(config, ref);
  try {
    opts.mask?.apply(model);
    if (config.evaluation.recalibrateBn) await recalibrate(config, data, model);
    const { metrics, predictions } = await evaluateModel(model, config, data);
    const validationAccuracy = opts.validation ? await validationAccuracyOf(config, data, model) : null;
    return { metrics, predictions, validationAccuracy };
  } finally {
    model.dispose();
  }
}
