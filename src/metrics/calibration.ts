/**
 * Calibration: does a model's confidence match its accuracy? Expected and
 * maximum calibration error over equal-width confidence bins (Guo et al.
 * 2017, "On Calibration of Modern Neural Networks"), 15 bins by default.
 *
 * For sample i: confidence_i = max_c p_ic (the max softmax probability),
 * prediction_i = argmax_c p_ic (the first one on ties). With B bins,
 * bin b (b = 0..B-1) holds the samples with confidence in (b/B, (b+1)/B]:
 * closed on the right, so confidence 1 falls in the last bin; confidence
 * exactly 0 (only possible for a malformed row) goes in the first bin. The
 * confidences are float32, so the edges they are compared with are the
 * float32 numbers nearest b/B (as with PyTorch's float32 linspace edges):
 * a probability written 0.6 lies in (8/15, 9/15], not in the next bin.
 *
 *   acc(B_b)  = mean over B_b of [prediction_i = label_i]
 *   conf(B_b) = mean over B_b of confidence_i
 *   ECE = Σ_b |B_b|/N · |acc(B_b) − conf(B_b)|      MCE = max_{b: |B_b| > 0} |acc(B_b) − conf(B_b)|
 *
 * Inputs are probabilities (softmax outputs, an ensemble's average); for
 * logits, apply `softmax` from ./classification.js first.
 *
 * @example
 * const report = expectedCalibrationError(softmax(logits, 10), labels, 10);
 * report.ece;   // in [0, 1]
 * report.bins;  // 15 rows for a reliability diagram
 */
import { TensorError } from '../util/errors.js';
import { validateProbabilities, validateScores } from './classification.js';

export const DEFAULT_CALIBRATION_BINS = 15;

export interface CalibrationBin {
  /** Exclusive lower edge b/B (the first bin also takes confidence 0); compared in float32. */
  lower: number;
  /** Inclusive upper edge (b+1)/B; compared in float32. */
  upper: number;
  /** Samples whose confidence falls in the bin. */
  count: number;
  /** Fraction of them predicted correctly; NaN for an empty bin. */
  accuracy: number;
  /** Their mean confidence; NaN for an empty bin. */
  confidence: number;
  /** |accuracy − confidence|; NaN for an empty bin. */
  gap: number;
}

/** Calibration of a classifier's confidences (Guo et al. 2017, "On Calibration of Modern Neural Networks"): ECE, MCE and the reliability-diagram bins. */
export interface CalibrationReport {
  /** Expected calibration error: the count-weighted mean gap. */
  ece: number;
  /** Maximum calibration error: the largest gap over non-empty bins. */
  mce: number;
  numBins: number;
  numSamples: number;
  /** Per-bin table, lowest confidence first: the data of a reliability diagram. */
  bins: CalibrationBin[];
}

export interface CalibrationOptions {
  /** Equal-width confidence bins (default 15). */
  numBins?: number;
}

/** The bin of a confidence: b with edge(b) < confidence ≤ edge(b+1), edge(b) = fround(b/B); 0 for confidence 0. */
export function confidenceBin(confidence: number, numBins: number): number {
  const edge = (b: number): number => Math.fround(b / numBins);
  let b = Math.min(Math.max(Math.ceil(confidence * numBins) - 1, 0), numBins - 1);
  // ceil(confidence·B) lands one bin off when the confidence is within round-off of an edge.
  while (b > 0 && confidence <= edge(b)) b--;
  while (b < numBins - 1 && confidence > edge(b + 1)) b++;
  return b;
}

/**
 * ECE and MCE with the per-bin table, from probabilities [N·C] and labels [N].
 * Throws TensorError for shapes that do not fit or values that are not probabilities.
 */
export function expectedCalibrationError(
  probs: Float32Array,
  labels: Int32Array,
  numClasses: number,
  opts: CalibrationOptions = {},
): CalibrationReport {
  const numBins = opts.numBins ?? DEFAULT_CALIBRATION_BINS;
  if (!Number.isInteger(numBins) || numBins < 1) throw new TensorError(`calibration: numBins must be a positive integer, got ${numBins}`);
  const n = validateScores(probs, labels, numClasses, 'probabilities');
  validateProbabilities(probs);

  const counts = new Float64Array(numBins);
  const correct = new Float64Array(numBins);
  const confidenceSum = new Float64Array(numBins);
  for (let i = 0; i < n; i++) {
    const base = i * numClasses;
    let prediction = 0;
    let confidence = probs[base];
    for (let c = 1; c < numClasses; c++) {
      if (probs[base + c] > confidence) {
        confidence = probs[base + c];
        prediction = c;
      }
    }
    const b = confidenceBin(confidence, numBins);
    counts[b]++;
    confidenceSum[b] += confidence;
    if (prediction === labels[i]) correct[b]++;
  }

  let ece = 0;
  let mce = 0;
  const bins: CalibrationBin[] = [];
  for (let b = 0; b < numBins; b++) {
    const count = counts[b];
    const acc = count > 0 ? correct[b] / count : NaN;
    const conf = count > 0 ? confidenceSum[b] / count : NaN;
    const gap = Math.abs(acc - conf);
    if (count > 0) {
      ece += (count / n) * gap;
      mce = Math.max(mce, gap);
    }
    bins.push({ lower: b / numBins, upper: (b + 1) / numBins, count, accuracy: acc, confidence: conf, gap });
  }
  return { ece, mce, numBins, numSamples: n, bins };
}

/** Maximum calibration error alone (see `expectedCalibrationError`). */
export function maximumCalibrationError(
  probs: Float32Array,
  labels: Int32Array,
  numClasses: number,
  opts: CalibrationOptions = {},
): number {
  return expectedCalibrationError(probs, labels, numClasses, opts).mce;
}

/** The per-bin table alone, for reliability diagrams (see `expectedCalibrationError`). */
export function calibrationBins(
  probs: Float32Array,
  labels: Int32Array,
  numClasses: number,
  opts: CalibrationOptions = {},
): CalibrationBin[] {
  return expectedCalibrationError(probs, labels, numClasses, opts).bins;
}
