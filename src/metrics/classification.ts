/**
 * Classification metrics over model outputs held in TypedArrays: scores
 * (logits or probabilities) as a Float32Array [N·C] row-major, one row per
 * sample, and labels as an Int32Array [N] of class indices in 0..C-1.
 *
 * The predicted class is the argmax of a row (the first one on ties), which
 * is the same for logits and their softmax, so `accuracy`, `perClassAccuracy`,
 * `worstClassAccuracy` and `confusionMatrix` take either. Only the loss must
 * be told which it gets. Sums run in float64.
 *
 * Shapes are validated at the boundary: a TensorError says which array and
 * what length was expected; non-finite scores and out-of-range labels are
 * refused the same way rather than giving a silently wrong number.
 *
 * @example
 * const logits = await predictLogits(model, data.test);
 * const probs = softmax(logits, 10);
 * accuracy(probs, data.test.labels, 10);                        // in [0, 1]
 * meanCrossEntropy(logits, data.test.labels, 10);               // from logits (default)
 * meanCrossEntropy(probs, data.test.labels, 10, { inputs: 'probabilities' });
 * ensembleProbabilities([probsA, probsB, probsC]);              // the prediction ensemble
 */
import { TensorError } from '../util/errors.js';

/** Tolerance above 1 (and below 0) for float32 probabilities and their round-off. */
const PROBABILITY_TOLERANCE = 1e-5;

/** Smallest normal float32: −log of it (≈ 87.3) caps the loss of a probability that underflowed to 0. */
const FLOAT32_MIN_NORMAL = 2 ** -126;

/**
 * Checks that `scores` is [N·C] for N = labels.length, that every score is
 * finite and every label in 0..C-1; returns N. `what` names the array in errors.
 */
export function validateScores(scores: Float32Array, labels: Int32Array, numClasses: number, what = 'scores'): number {
  if (!Number.isInteger(numClasses) || numClasses < 1) throw new TensorError(`numClasses must be a positive integer, got ${numClasses}`);
  const n = labels.length;
  if (n === 0) throw new TensorError(`${what}: no samples (labels is empty)`);
  if (scores.length !== n * numClasses) {
    throw new TensorError(
      `${what} has ${scores.length} values, expected N·C = ${n}·${numClasses} = ${n * numClasses} (row-major [N, C] for ${n} labels and ${numClasses} classes)`,
    );
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new TensorError(
        `${what}[${i}] (sample ${Math.floor(i / numClasses)}, class ${i % numClasses}) is ${scores[i]}: outputs must be finite`,
      );
    }
  }
  for (let i = 0; i < n; i++) {
    const label = labels[i];
    if (label < 0 || label >= numClasses)
      throw new TensorError(`labels[${i}] = ${label} is outside 0..${numClasses - 1} (numClasses ${numClasses})`);
  }
  return n;
}

/** Throws unless every value is a probability (within float32 round-off); `what` names the array. */
export function validateProbabilities(probs: Float32Array, what = 'probabilities'): void {
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i];
    if (!(p >= -PROBABILITY_TOLERANCE && p <= 1 + PROBABILITY_TOLERANCE)) {
      throw new TensorError(`${what}[${i}] = ${p} is not a probability in [0, 1]; for logits, apply softmax first`);
    }
  }
}

/** Index of the largest score in row i (the first one on ties). */
function rowArgmax(scores: Float32Array, row: number, numClasses: number): number {
  const base = row * numClasses;
  let best = 0;
  let bestScore = scores[base];
  for (let c = 1; c < numClasses; c++) {
    if (scores[base + c] > bestScore) {
      bestScore = scores[base + c];
      best = c;
    }
  }
  return best;
}

/** The predicted class of every row: argmax, the first one on ties. */
export function predictedClasses(scores: Float32Array, numClasses: number): Int32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || scores.length % numClasses !== 0) {
    throw new TensorError(`scores has ${scores.length} values, not a whole number of rows of ${numClasses} classes`);
  }
  const n = scores.length / numClasses;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = rowArgmax(scores, i, numClasses);
  return out;
}

/**
 * Row-wise softmax of logits [N·C], stable (the row maximum is subtracted
 * before exp), computed in float64 and stored as float32.
 *
 * @example
 * softmax(new Float32Array([0, Math.log(3)]), 2); // [0.25, 0.75]
 */
export function softmax(logits: Float32Array, numClasses: number): Float32Array {
  if (!Number.isInteger(numClasses) || numClasses < 1 || logits.length % numClasses !== 0) {
    throw new TensorError(`logits has ${logits.length} values, not a whole number of rows of ${numClasses} classes`);
  }
  const out = new Float32Array(logits.length);
  const exps = new Float64Array(numClasses);
  for (let base = 0; base < logits.length; base += numClasses) {
    let max = -Infinity;
    for (let c = 0; c < numClasses; c++) max = Math.max(max, logits[base + c]);
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      exps[c] = Math.exp(logits[base + c] - max);
      sum += exps[c];
    }
    for (let c = 0; c < numClasses; c++) out[base + c] = exps[c] / sum;
  }
  return out;
}

/** Top-1 accuracy: the fraction of rows whose argmax is the label. Takes logits or probabilities. */
export function accuracy(scores: Float32Array, labels: Int32Array, numClasses: number): number {
  const n = validateScores(scores, labels, numClasses);
  let correct = 0;
  for (let i = 0; i < n; i++) if (rowArgmax(scores, i, numClasses) === labels[i]) correct++;
  return correct / n;
}

export interface CrossEntropyOptions {
  /** What `scores` holds (default 'logits'). */
  inputs?: 'logits' | 'probabilities';
}

/**
 * Mean cross-entropy −log p(label) over the rows.
 *
 * - logits: log p = x_label − LSE(x), LSE(x) = m + log Σ_c exp(x_c − m), m = max_c x_c
 *   (stable for any logit size).
 * - probabilities (e.g. an ensemble's averaged softmax): −log max(p_label, 2^-126),
 *   so a probability that underflowed to 0 in float32 costs ≈ 87.3, not Infinity.
 */
export function meanCrossEntropy(scores: Float32Array, labels: Int32Array, numClasses: number, opts: CrossEntropyOptions = {}): number {
  const inputs = opts.inputs ?? 'logits';
  const n = validateScores(scores, labels, numClasses, inputs);
  let total = 0;
  if (inputs === 'probabilities') {
    validateProbabilities(scores);
    for (let i = 0; i < n; i++) total -= Math.log(Math.max(scores[i * numClasses + labels[i]], FLOAT32_MIN_NORMAL));
  } else {
    for (let i = 0; i < n; i++) {
      const base = i * numClasses;
      let max = -Infinity;
      for (let c = 0; c < numClasses; c++) max = Math.max(max, scores[base + c]);
      let sum = 0;
      for (let c = 0; c < numClasses; c++) sum += Math.exp(scores[base + c] - max);
      total += max + Math.log(sum) - scores[base + labels[i]];
    }
  }
  return total / n;
}

export interface PerClassAccuracy {
  /** Accuracy per class; NaN for a class with no sample among the labels. */
  accuracy: Float64Array;
  /** Samples per class (the labels' histogram). */
  counts: Int32Array;
  /** Correctly predicted samples per class. */
  correct: Int32Array;
}

/** Accuracy of each class over the samples labelled with it (NaN where a class has none). */
export function perClassAccuracy(scores: Float32Array, labels: Int32Array, numClasses: number): PerClassAccuracy {
  const n = validateScores(scores, labels, numClasses);
  const counts = new Int32Array(numClasses);
  const correct = new Int32Array(numClasses);
  for (let i = 0; i < n; i++) {
    counts[labels[i]]++;
    if (rowArgmax(scores, i, numClasses) === labels[i]) correct[labels[i]]++;
  }
  const acc = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) acc[c] = counts[c] > 0 ? correct[c] / counts[c] : NaN;
  return { accuracy: acc, counts, correct };
}

/**
 * The class with the lowest accuracy and that accuracy. Classes absent from
 * the labels are skipped (they have no accuracy); on ties, the lowest index.
 */
export function worstClass(scores: Float32Array, labels: Int32Array, numClasses: number): { classIndex: number; accuracy: number } {
  const { accuracy: acc, counts } = perClassAccuracy(scores, labels, numClasses);
  let classIndex = -1;
  for (let c = 0; c < numClasses; c++) {
    if (counts[c] > 0 && (classIndex < 0 || acc[c] < acc[classIndex])) classIndex = c;
  }
  return { classIndex, accuracy: acc[classIndex] };
}

/** The lowest per-class accuracy, over the classes present in the labels. */
export function worstClassAccuracy(scores: Float32Array, labels: Int32Array, numClasses: number): number {
  return worstClass(scores, labels, numClasses).accuracy;
}

/**
 * Confusion matrix as an Int32Array [C·C] row-major: entry [true·C + predicted]
 * counts the samples of class `true` predicted as `predicted`. Rows sum to the
 * class counts; the diagonal holds the correct predictions.
 */
export function confusionMatrix(scores: Float32Array, labels: Int32Array, numClasses: number): Int32Array {
  const n = validateScores(scores, labels, numClasses);
  const matrix = new Int32Array(numClasses * numClasses);
  for (let i = 0; i < n; i++) matrix[labels[i] * numClasses + rowArgmax(scores, i, numClasses)]++;
  return matrix;
}

/**
 * The prediction ensemble: the element-wise mean of the members' softmax
 * outputs (each [N·C], same shape), accumulated in float64. Not sparse;
 * DESIGN.md's upper reference beside the soup.
 *
 * @example
 * ensembleProbabilities([new Float32Array([1, 0]), new Float32Array([0.5, 0.5])]); // [0.75, 0.25]
 */
export function ensembleProbabilities(probsList: readonly Float32Array[]): Float32Array {
  if (probsList.length === 0) throw new TensorError('ensembleProbabilities: no members to average');
  const length = probsList[0].length;
  probsList.forEach((probs, k) => {
    if (probs.length !== length)
      throw new TensorError(`ensembleProbabilities: member ${k} has ${probs.length} values, member 0 has ${length}`);
    validateProbabilities(probs, `ensemble member ${k}`);
  });
  const sum = new Float64Array(length);
  for (const probs of probsList) for (let i = 0; i < length; i++) sum[i] += probs[i];
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = sum[i] / probsList.length;
  return out;
}
