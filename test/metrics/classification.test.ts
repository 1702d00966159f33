import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TensorError } from '../../src/util/errors.js';
import {
  accuracy,
  confusionMatrix,
  ensembleProbabilities,
  meanCrossEntropy,
  perClassAccuracy,
  predictedClasses,
  softmax,
  worstClass,
  worstClassAccuracy,
} from '../../src/metrics/classification.js';
import { calibrationBins, confidenceBin, expectedCalibrationError, maximumCalibrationError } from '../../src/metrics/calibration.js';

function near(actual: number, expected: number, tolerance = 1e-9, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} expected ${expected}, got ${actual}`);
}

// Five samples, three classes.
//   row  logits      label  argmax
//   0    [2, 1, 0]   0      0  correct
//   1    [0, 3, 0]   1      1  correct
//   2    [1, 1, 5]   0      2  wrong
//   3    [0, 0, 0]   2      0  wrong (ties go to the first class)
//   4    [4, 0, 0]   0      0  correct
const logits = new Float32Array([2, 1, 0, 0, 3, 0, 1, 1, 5, 0, 0, 0, 4, 0, 0]);
const labels = new Int32Array([0, 1, 0, 2, 0]);

test('predicted classes and top-1 accuracy, the same from logits and probabilities', () => {
  assert.deepEqual(predictedClasses(logits, 3), new Int32Array([0, 1, 2, 0, 0]));
  assert.equal(accuracy(logits, labels, 3), 3 / 5);
  assert.equal(accuracy(softmax(logits, 3), labels, 3), 3 / 5);
});

test('softmax: rows sum to 1, stable for large logits', () => {
  const p = softmax(new Float32Array([0, Math.log(3), 0, 0, 0, 0]), 3);
  near(p[0], 1 / 5, 1e-7);
  near(p[1], 3 / 5, 1e-7);
  near(p[3], 1 / 3, 1e-7);
  const big = softmax(new Float32Array([1000, 0, -1000, 1000]), 2);
  assert.deepEqual(Array.from(big), [1, 0, 0, 1]);
  for (let i = 0; i < 5; i++) {
    const row = softmax(logits, 3).subarray(i * 3, i * 3 + 3);
    near(row[0] + row[1] + row[2], 1, 1e-6);
  }
});

test('mean cross-entropy from logits is the mean of LSE(x) − x_label', () => {
  // Per row, log Σ exp(x_c) − x_label written out by hand:
  const perRow = [
    Math.log(1 + Math.exp(-1) + Math.exp(-2)), // log(e² + e¹ + e⁰) − 2           = 0.4076059644
    Math.log(1 + 2 * Math.exp(-3)), //            log(e³ + 2) − 3                  = 0.0949229
    5 + Math.log(1 + 2 * Math.exp(-4)) - 1, //    log(2e + e⁵) − 1                 = 4.0363...
    Math.log(3), //                               log 3 − 0
    Math.log(1 + 2 * Math.exp(-4)), //            log(e⁴ + 2) − 4
  ];
  near(perRow[0], 0.4076059644, 1e-9);
  const expected = perRow.reduce((a, b) => a + b, 0) / 5;
  near(meanCrossEntropy(logits, labels, 3), expected, 1e-12);
  near(meanCrossEntropy(logits, labels, 3, { inputs: 'logits' }), expected, 1e-12);
  // Large logits do not overflow: LSE([1000, 0]) = 1000 + log(1 + e^-1000) = 1000.
  near(meanCrossEntropy(new Float32Array([1000, 0]), new Int32Array([1]), 2), 1000, 1e-9);
  near(meanCrossEntropy(new Float32Array([1000, 0]), new Int32Array([0]), 2), 0, 1e-12);
});

test('mean cross-entropy from probabilities: −log p_label, finite when p underflowed to 0', () => {
  const probs = new Float32Array([0.5, 0.25, 0.25, 0.1, 0.8, 0.1]);
  near(meanCrossEntropy(probs, new Int32Array([0, 1]), 3, { inputs: 'probabilities' }), -(Math.log(0.5) + Math.log(Math.fround(0.8))) / 2, 1e-12);
  // Agrees with the logits path through softmax (float32 round-off aside).
  near(meanCrossEntropy(softmax(logits, 3), labels, 3, { inputs: 'probabilities' }), meanCrossEntropy(logits, labels, 3), 1e-6);
  near(meanCrossEntropy(new Float32Array([1, 0]), new Int32Array([1]), 2, { inputs: 'probabilities' }), 126 * Math.LN2, 1e-9);
  assert.throws(() => meanCrossEntropy(logits, labels, 3, { inputs: 'probabilities' }), /not a probability.*apply softmax/);
});

test('per-class and worst-class accuracy skip classes absent from the labels', () => {
  const perClass = perClassAccuracy(logits, labels, 3);
  assert.deepEqual(Array.from(perClass.counts), [3, 1, 1]);
  assert.deepEqual(Array.from(perClass.correct), [2, 1, 0]);
  assert.deepEqual(Array.from(perClass.accuracy), [2 / 3, 1, 0]);
  assert.deepEqual(worstClass(logits, labels, 3), { classIndex: 2, accuracy: 0 });
  assert.equal(worstClassAccuracy(logits, labels, 3), 0);

  // Four classes, class 3 never appears: NaN there, and it is not the worst.
  const four = new Float32Array([5, 0, 0, 0, 0, 5, 0, 0, 5, 0, 0, 0, 0, 0, 5, 0]);
  const fourLabels = new Int32Array([0, 1, 1, 2]);
  const p = perClassAccuracy(four, fourLabels, 4);
  assert.deepEqual(Array.from(p.accuracy.subarray(0, 3)), [1, 0.5, 1]);
  assert.ok(Number.isNaN(p.accuracy[3]));
  assert.deepEqual(worstClass(four, fourLabels, 4), { classIndex: 1, accuracy: 0.5 });
});

test('confusion matrix: rows are true classes, columns predictions', () => {
  assert.deepEqual(Array.from(confusionMatrix(logits, labels, 3)), [
    2, 0, 1, // class 0: rows 0 and 4 right, row 2 predicted 2
    0, 1, 0, // class 1: row 1 right
    1, 0, 0, // class 2: row 3 predicted 0
  ]);
});

test('ensemble: the element-wise mean of the members’ probabilities', () => {
  assert.deepEqual(Array.from(ensembleProbabilities([new Float32Array([1, 0]), new Float32Array([0.5, 0.5])])), [0.75, 0.25]);
  const members = [new Float32Array([0.7, 0.2, 0.1]), new Float32Array([0.1, 0.6, 0.3]), new Float32Array([0.4, 0.4, 0.2])];
  const mean = ensembleProbabilities(members);
  near(mean[0], 0.4, 1e-7);
  near(mean[1], 0.4, 1e-7);
  near(mean[2], 0.2, 1e-7);
  // A single member is returned as is (a copy).
  const single = ensembleProbabilities([members[0]]);
  assert.deepEqual(single, members[0]);
  assert.notEqual(single, members[0]);
  assert.throws(() => ensembleProbabilities([]), TensorError);
  assert.throws(() => ensembleProbabilities([new Float32Array(3), new Float32Array(6)]), /member 1 has 6 values, member 0 has 3/);
  assert.throws(() => ensembleProbabilities([new Float32Array([2, -1])]), /apply softmax first/);
});

test('shapes, labels and values are validated with clear errors', () => {
  assert.throws(() => accuracy(new Float32Array(5), new Int32Array(2), 3), (e: unknown) => {
    assert.ok(e instanceof TensorError);
    assert.match(e.message, /5 values, expected N·C = 2·3 = 6/);
    return true;
  });
  assert.throws(() => accuracy(logits, new Int32Array([0, 1, 0, 3, 0]), 3), /labels\[3\] = 3 is outside 0\.\.2/);
  assert.throws(() => accuracy(new Float32Array([0, NaN]), new Int32Array([0]), 2), /scores\[1\] \(sample 0, class 1\) is NaN/);
  assert.throws(() => accuracy(new Float32Array(0), new Int32Array(0), 3), /no samples/);
  assert.throws(() => accuracy(logits, labels, 0), /numClasses must be a positive integer/);
  assert.throws(() => softmax(new Float32Array(5), 3), /not a whole number of rows/);
  assert.throws(() => meanCrossEntropy(new Float32Array(4), labels, 3), /logits has 4 values/);
});

// Six samples, two classes, 15 bins of width 1/15:
//   probs        label  prediction  confidence  bin (edges b/15)
//   [0.9, 0.1]   0      0 correct   0.9         13: (13/15, 14/15]
//   [0.95, 0.05] 1      0 wrong     0.95        14: (14/15, 1]
//   [0.6, 0.4]   0      0 correct   0.6         8:  (8/15, 9/15]  (0.6 = 9/15 is an upper edge)
//   [0.5, 0.5]   1      0 wrong     0.5         7:  (7/15, 8/15]
//   [1, 0]       0      0 correct   1           14
//   [0.2, 0.8]   1      1 correct   0.8         11: (11/15, 12/15] (0.8 = 12/15 is an upper edge)
// Bin gaps |acc − conf|: 7: |0 − 0.5| = 0.5; 8: |1 − 0.6| = 0.4; 11: |1 − 0.8| = 0.2;
// 13: |1 − 0.9| = 0.1; 14 (2 samples): |0.5 − 0.975| = 0.475.
// ECE = (0.5 + 0.4 + 0.2 + 0.1 + 2·0.475)/6 = 2.15/6; MCE = 0.5.
const calibrationProbs = new Float32Array([0.9, 0.1, 0.95, 0.05, 0.6, 0.4, 0.5, 0.5, 1, 0, 0.2, 0.8]);
const calibrationLabels = new Int32Array([0, 1, 0, 1, 0, 1]);

test('ECE and MCE with 15 bins on a hand-computed example', () => {
  const report = expectedCalibrationError(calibrationProbs, calibrationLabels, 2);
  assert.equal(report.numBins, 15);
  assert.equal(report.numSamples, 6);
  near(report.ece, 2.15 / 6, 1e-6);
  near(report.mce, 0.5, 1e-6);
  near(maximumCalibrationError(calibrationProbs, calibrationLabels, 2), 0.5, 1e-6);

  const bins = calibrationBins(calibrationProbs, calibrationLabels, 2);
  assert.equal(bins.length, 15);
  assert.deepEqual(
    bins.map((b) => b.count),
    [0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 2],
  );
  near(bins[14].accuracy, 0.5);
  near(bins[14].confidence, 0.975, 1e-7);
  near(bins[14].gap, 0.475, 1e-7);
  near(bins[8].lower, 8 / 15);
  near(bins[8].upper, 9 / 15);
  assert.ok(Number.isNaN(bins[0].accuracy) && Number.isNaN(bins[0].confidence) && Number.isNaN(bins[0].gap));
});

test('ECE with one bin is |accuracy − mean confidence|; perfect confidence gives 0', () => {
  // accuracy 4/6, mean confidence (0.9 + 0.95 + 0.6 + 0.5 + 1 + 0.8)/6 = 4.75/6.
  near(expectedCalibrationError(calibrationProbs, calibrationLabels, 2, { numBins: 1 }).ece, 0.75 / 6, 1e-6);
  const certain = new Float32Array([1, 0, 0, 1]);
  const report = expectedCalibrationError(certain, new Int32Array([0, 1]), 2);
  assert.equal(report.ece, 0);
  assert.equal(report.mce, 0);
  assert.throws(() => expectedCalibrationError(certain, new Int32Array([0, 1]), 2, { numBins: 0 }), /numBins must be a positive integer/);
});

test('bin edges: (b/B, (b+1)/B], float32 edges, confidence 0 in the first bin', () => {
  assert.equal(confidenceBin(0, 15), 0);
  assert.equal(confidenceBin(Math.fround(1 / 15), 15), 0); // an upper edge stays in its bin
  assert.equal(confidenceBin(Math.fround(1 / 15) + 1e-7, 15), 1);
  assert.equal(confidenceBin(Math.fround(0.6), 15), 8); // float32 0.6 is 0.6000000238 > 9/15, yet in bin 8
  assert.equal(confidenceBin(Math.fround(0.6000001), 15), 9);
  assert.equal(confidenceBin(1, 15), 14);
  assert.equal(confidenceBin(0.5, 2), 0);
  for (let b = 1; b <= 15; b++) assert.equal(confidenceBin(Math.fround(b / 15), 15), b - 1, `edge ${b}/15`);
  // An all-zero row (malformed but in range) has confidence 0: first bin.
  const report = expectedCalibrationError(new Float32Array([0, 0]), new Int32Array([0]), 2);
  assert.equal(report.bins[0].count, 1);
});

test('calibration refuses logits and mismatched shapes', () => {
  assert.throws(() => expectedCalibrationError(logits, labels, 3), /apply softmax first/);
  assert.throws(() => expectedCalibrationError(new Float32Array(4), new Int32Array(3), 2), /probabilities has 4 values, expected N·C = 3·2 = 6/);
});
