/**
 * The metrics DESIGN.md asks for, for one model: test accuracy, loss, ECE
 * (15 bins), worst-class accuracy, OOD accuracy per corruption and severity
 * and their mean, sparsity, non-zero parameters and FLOPs. The class
 * probabilities are returned too, so the prediction ensemble of the
 * candidates can be scored without running them again.
 */
import type { Module } from '../nn/module.js';
import { predictLogits } from '../metrics/predict.js';
import { accuracy, meanCrossEntropy, worstClassAccuracy, softmax } from '../metrics/classification.js';
import { expectedCalibrationError } from '../metrics/calibration.js';
import { modelSparsity } from '../metrics/sparsity.js';
import { countFlops } from '../metrics/flops.js';
import { prunableParameters } from '../prune/prunable.js';
import type { SmsConfig } from './config.js';
import { autocastDType, computeDevice } from './device.js';
import type { ExperimentData } from './context.js';

/** Top-1 accuracy (fraction in [0, 1]) on the test set corrupted by `corruption` at `severity` 1-5 (docs/corruptions.md). */
export interface OodScore {
  corruption: string;
  severity: number;
  accuracy: number;
}

/** Scores of one set of predictions (a model or an ensemble). */
export interface PredictionMetrics {
  /** Top-1 accuracy on the test set, fraction in [0, 1]. */
  testAccuracy: number;
  /** Mean cross-entropy on the test set, nats. */
  testLoss: number;
  /** Expected calibration error over 15 equal-width confidence bins (Guo et al. 2017), fraction in [0, 1]. */
  ece: number;
  /** Maximum calibration error: the largest |accuracy − confidence| of a non-empty bin (Naeini et al. 2015), fraction in [0, 1]. */
  mce: number;
  /** Accuracy of the class the model gets most wrong, fraction in [0, 1]. */
  worstClassAccuracy: number;
  ood: OodScore[];
  /** Mean of `ood`'s accuracies (NaN when there are no OOD sets). */
  oodMeanAccuracy: number;
}

/** The scores of one model (dense, candidate, soup, baseline): its predictions' metrics plus its sparsity and cost. */
export interface ModelMetrics extends PredictionMetrics {
  /** Zeros / total over the prunable weights, in [0, 1]. */
  sparsity: number;
  perLayerSparsity: { name: string; sparsity: number; total: number }[];
  /** Non-zero parameters (biases and BN included, buffers not). */
  nonzeroParameters: number;
  totalParameters: number;
  /** FLOPs (2 · multiply-accumulates) of one forward pass of one image, dense and counting only non-zero weights (metrics/flops.ts). */
  denseFlops: number;
  nonzeroFlops: number;
}

/** Class probabilities on the test set and on each OOD set (same order as data.ood()). */
export interface Predictions {
  test: Float32Array;
  ood: Float32Array[];
}

export function scorePredictions(data: ExperimentData, probs: Predictions): PredictionMetrics {
  const ood = data.ood().map((_, i) => oodScore(data, i, probs.ood[i]));
  return { ...testMetrics(data, probs.test), ood, oodMeanAccuracy: oodMean(ood) };
}

/** The test-set part of PredictionMetrics. */
export type TestMetrics = Omit<PredictionMetrics, 'ood' | 'oodMeanAccuracy'>;

/** Test-set metrics of class probabilities `probs` [N_test, C] (flat). */
export function testMetrics(data: ExperimentData, probs: Float32Array): TestMetrics {
  const c = data.test.numClasses;
  // 15 equal-width confidence bins (Guo et al. 2017; Naeini et al. 2015 for MCE).
  const calibration = expectedCalibrationError(probs, data.test.labels, c);
  return {
    testAccuracy: accuracy(probs, data.test.labels, c),
    testLoss: meanCrossEntropy(probs, data.test.labels, c, { inputs: 'probabilities' }),
    ece: calibration.ece,
    mce: calibration.mce,
    worstClassAccuracy: worstClassAccuracy(probs, data.test.labels, c),
  };
}

/** Accuracy on OOD set `index` (data.ood() order) of its class probabilities `probs` [N, C] (flat). */
export function oodScore(data: ExperimentData, index: number, probs: Float32Array): OodScore {
  const o = data.ood()[index];
  return { corruption: o.corruption, severity: o.severity, accuracy: accuracy(probs, o.dataset.labels, data.test.numClasses) };
}

/** Mean of the OOD accuracies, NaN when there are none. */
export function oodMean(ood: OodScore[]): number {
  return ood.length ? ood.reduce((s, o) => s + o.accuracy, 0) / ood.length : NaN;
}

/** Which evaluation sets one part of a split scoring forwards: the test set or not, and OOD sets by index (data.ood() order). */
export interface EvaluationSets {
  test: boolean;
  ood: number[];
}

/**
 * The evaluation sets (the test set, then data.ood() in order) cut into at
 * most `parts` contiguous runs of about equal image counts, none empty: part
 * k covers the sets whose first image falls in [k, k+1) · total / parts. A
 * model scored in parts gets the same metrics as scored whole (each set's
 * predictions do not depend on the others).
 */
export function evaluationParts(data: ExperimentData, parts: number): EvaluationSets[] {
  const sizes = [data.test.labels.length, ...data.ood().map((o) => o.dataset.labels.length)];
  const total = sizes.reduce((a, b) => a + b, 0);
  const out: EvaluationSets[] = [];
  let start = 0;
  sizes.forEach((n, i) => {
    const k = Math.min(parts - 1, Math.floor((start * parts) / total));
    while (out.length <= k) out.push({ test: false, ood: [] });
    if (i === 0) out[k].test = true;
    else out[k].ood.push(i - 1);
    start += n;
  });
  return out.filter((p) => p.test || p.ood.length > 0);
}

/** Class probabilities of the sets in `sets` only (predictAll for a part of a split scoring). */
export async function predictSets(
  model: Module,
  config: SmsConfig,
  data: ExperimentData,
  sets: EvaluationSets,
): Promise<{ test: Float32Array | null; ood: Float32Array[] }> {
  const c = data.test.numClasses;
  const opts = { batchSize: config.evaluation.batchSize, device: computeDevice(config), autocast: autocastDType(config) };
  const test = sets.test ? softmax(await predictLogits(model, data.test, opts), c) : null;
  const ood: Float32Array[] = [];
  const all = data.ood();
  for (const i of sets.ood) ood.push(softmax(await predictLogits(model, all[i].dataset, opts), c));
  return { test, ood };
}

export async function predictAll(model: Module, config: SmsConfig, data: ExperimentData): Promise<Predictions> {
  const c = data.test.numClasses;
  const opts = { batchSize: config.evaluation.batchSize, device: computeDevice(config), autocast: autocastDType(config) };
  const test = softmax(await predictLogits(model, data.test, opts), c);
  const ood: Float32Array[] = [];
  for (const o of data.ood()) ood.push(softmax(await predictLogits(model, o.dataset, opts), c));
  return { test, ood };
}

/** All metrics of a model (in eval mode, with its current BN statistics). */
export async function evaluateModel(
  model: Module,
  config: SmsConfig,
  data: ExperimentData,
): Promise<{ metrics: ModelMetrics; predictions: Predictions }> {
  const predictions = await predictAll(model, config, data);
  const scored = scorePredictions(data, predictions);
  return { metrics: { ...scored, ...modelStats(model, config, data) }, predictions };
}

/** The ModelMetrics fields that come from the weights, not from predictions. */
export type ModelStats = Omit<ModelMetrics, keyof PredictionMetrics>;

/** Sparsity of the prunable weights, parameter counts and FLOPs of one image's forward. */
export function modelStats(model: Module, config: SmsConfig, data: ExperimentData): ModelStats {
  const prunable = prunableParameters(model, {
    exclude: config.pruning.exclude,
    includeFirst: config.pruning.includeFirst,
    includeLast: config.pruning.includeLast,
  });
  const sparsity = modelSparsity(model, prunable);
  const [channels, height, width] = data.test.imageShape;
  const flops = countFlops(model, [1, channels, height, width]);
  return {
    sparsity: sparsity.global,
    perLayerSparsity: sparsity.perLayer,
    nonzeroParameters: sparsity.nonzeroParameters,
    totalParameters: sparsity.totalParameters,
    denseFlops: flops.dense,
    nonzeroFlops: flops.nonzero,
  };
}
