/**
 * Metrics: predictions of a model over a dataset, accuracy, loss, worst-class
 * accuracy, calibration (ECE), ensembles; sparsity, non-zero parameters and
 * FLOPs; distances and angles between candidates.
 *
 * @example
 * import { predictLogits, softmax, accuracy, expectedCalibrationError } from 'sparse-soups/metrics';
 * const logits = await predictLogits(model, test);
 * accuracy(logits, test.labels, test.numClasses);                                       // 0.91
 * expectedCalibrationError(softmax(logits, test.numClasses), test.labels, test.numClasses).ece;
 */
export * from './classification.js';
export * from './calibration.js';
export * from './distances.js';
export * from './flops.js';
export * from './predict.js';
export * from './sparsity.js';
