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
  const c = data.test.numClasses;
  // 15 equal-width confidence bins (Guo et al. 2017; Naeini et al. 2015 for MCE).
  const calibration = expectedCalibrationError(probs.test, data.test.labels, c);
  const ood = data
    .ood()
    .map((o, i) => ({ corruption: o.corruption, severity: o.severity, accuracy: accuracy(probs.ood[i], o.dataset.labels, c) }));
  return {
    testAccuracy: accuracy(probs.test, data.test.labels, c),
    testLoss: meanCrossEntropy(probs.test, data.test.labels, c, { inputs: 'probabilities' }),
    ece: calibration.ece,
    mce: calibration.mce,
    worstClassAccuracy: worstClassAccuracy(probs.test, data.test.labels, c),
    ood,
    oodMeanAccuracy: ood.length ? ood.reduce((s, o) => s + o.accuracy, 0) / ood.length : NaN,
  };
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
  const prunable = prunableParameters(model, {
    exclude: config.pruning.exclude,
    includeFirst: config.pruning.includeFirst,
    includeLast: config.pruning.includeLast,
  });
  const sparsity = modelSparsity(model, prunable);
  const [channels, height, width] = data.test.imageShape;
  const flops = countFlops(model, [1, channels, height, width]);
  return {
    metrics: {
      ...scored,
      sparsity: sparsity.global,
      perLayerSparsity: sparsity.perLayer,
      nonzeroParameters: sparsity.nonzeroParameters,
      totalParameters: sparsity.totalParameters,
      denseFlops: flops.dense,
      nonzeroFlops: flops.nonzero,
    },
    predictions,
  };
}
