/**
 * Statistics over replicates (the same experiment run with different seeds):
 * mean, sample standard deviation, the 95% confidence interval of the mean
 * with Student's t, and the paired comparison of two models measured on the
 * same replicates. Pure functions over plain numbers.
 *
 * With n replicates x_1..x_n:
 *
 *   mean  x̄ = Σ x_i / n
 *   std   s  = sqrt( Σ (x_i − x̄)² / (n − 1) )                (Bessel's correction)
 *   95% CI   x̄ ± t_{0.975, n−1} · s / √n                       (two-sided, Student's t)
 *
 * (NIST/SEMATECH e-Handbook of Statistical Methods, §1.3.5.2 "Confidence
 * Limits for the Mean", https://www.itl.nist.gov/div898/handbook/eda/section3/eda352.htm).
 * The interval assumes the replicates are independent draws of a roughly
 * normal quantity; with 3-5 seeds it is wide, as it should be.
 *
 * A paired comparison of model A against model B takes the per-replicate
 * differences d_i = a_i − b_i (both measured on replicate i, so what the
 * replicates share — the data split, the seed's dense model — cancels) and
 * puts the interval above around their mean: the paired t interval, as in
 * Student (1908), "The probable error of a mean", Biometrika 6(1), 1-25,
 * whose worked example is exactly this (two drugs on the same patients,
 * the t interval of the differences).
 *
 * Values that are not finite (NaN: a metric a run did not compute) are left
 * out; `n` counts the values used.
 *
 * @example
 * const ci = meanConfidenceInterval([0.9, 0.92, 0.91]);
 * ci.mean;                     // 0.91
 * [ci.low, ci.high];           // [0.8852, 0.9348]  (0.91 ± 4.303 · 0.01 / √3)
 * pairedComparison([0.92, 0.93, 0.94], [0.90, 0.905, 0.92]).verdict; // 'holds'
 */
import { SparseSoupsError } from '../util/errors.js';

/**
 * t_{0.975, df} for df = 1..30: the two-sided 95% critical values of
 * Student's t distribution, from NIST/SEMATECH e-Handbook §1.3.6.7.2
 * "Critical Values of the Student's t Distribution"
 * (https://www.itl.nist.gov/div898/handbook/eda/section3/eda3672.htm, column 0.975);
 * they agree to 3 decimals with scipy.stats.t.ppf(0.975, df).
 */
export const T_975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
] as const;

/** z_{0.975}: the standard normal quantile, the limit of t_{0.975, df} as df → ∞. */
export const Z_975 = 1.959963984540054;

/**
 * t_{0.975, df}, the critical value of a two-sided 95% interval with df
 * degrees of freedom: the NIST table (`T_975`) for df ≤ 30; beyond it the
 * asymptotic expansion of Abramowitz & Stegun, Handbook of Mathematical
 * Functions, 26.7.5, in powers of 1/df around z = 1.95996 (within 1e-4 of
 * the exact value for df > 30, and tending to 1.96).
 *
 * @example
 * tCritical975(2);   // 4.303
 * tCritical975(40);  // 2.0211
 */
export function tCritical975(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new SparseSoupsError(`tCritical975: degrees of freedom must be an integer >= 1, got ${df}`);
  if (df <= T_975.length) return T_975[df - 1];
  const x = Z_975;
  const x3 = x ** 3;
  const x5 = x ** 5;
  const x7 = x ** 7;
  const x9 = x ** 9;
  const g1 = (x3 + x) / 4;
  const g2 = (5 * x5 + 16 * x3 + 3 * x) / 96;
  const g3 = (3 * x7 + 19 * x5 + 17 * x3 - 15 * x) / 384;
  const g4 = (79 * x9 + 776 * x7 + 1482 * x5 - 1920 * x3 - 945 * x) / 92160;
  return x + g1 / df + g2 / df ** 2 + g3 / df ** 3 + g4 / df ** 4;
}

const finite = (xs: readonly number[]): number[] => xs.filter((x) => Number.isFinite(x));

/** Arithmetic mean of the finite values; NaN when there are none. */
export function mean(xs: readonly number[]): number {
  const v = finite(xs);
  return v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length;
}

/** Sample standard deviation (divisor n − 1) of the finite values; NaN when fewer than 2. */
export function sampleStd(xs: readonly number[]): number {
  const v = finite(xs);
  if (v.length < 2) return NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((s, x) => s + (x - m) ** 2, 0) / (v.length - 1));
}

export interface MeanInterval {
  /** Finite values used. */
  n: number;
  mean: number;
  /** Sample standard deviation; NaN when n < 2. */
  std: number;
  /** t_{0.975, n−1} · std / √n; NaN when n < 2 (one value gives no interval). */
  halfWidth: number;
  /** mean − halfWidth and mean + halfWidth: the 95% confidence interval of the mean. */
  low: number;
  high: number;
}

/**
 * Mean, standard deviation and the two-sided 95% confidence interval of the
 * mean (Student's t, df = n − 1) of the finite values.
 *
 * @example
 * meanConfidenceInterval([1, 2, 3]); // { n: 3, mean: 2, std: 1, halfWidth: 2.484, low: -0.484, high: 4.484 }
 */
export function meanConfidenceInterval(xs: readonly number[]): MeanInterval {
  const v = finite(xs);
  const n = v.length;
  const m = mean(v);
  const std = sampleStd(v);
  const halfWidth = n < 2 ? NaN : (tCritical975(n - 1) * std) / Math.sqrt(n);
  return { n, mean: m, std, halfWidth, low: m - halfWidth, high: m + halfWidth };
}

/** Whether "A beats B" holds over the replicates. */
export type Verdict = 'holds' | 'does not hold' | 'inconclusive';

export interface PairedComparison extends MeanInterval {
  /** a_i − b_i per replicate, in the order given (NaN where either value is missing). */
  differences: number[];
  /** 'holds': the interval of the mean difference lies above 0; 'does not hold': below 0; 'inconclusive': it contains 0, or n < 2. */
  verdict: Verdict;
  /** Why, in words. */
  reason: string;
}

/**
 * Paired comparison of A against B over the same replicates: the
 * differences a_i − b_i, their mean and its 95% interval (the fields of
 * MeanInterval describe the differences), and whether A beats B: 'holds'
 * when the interval lies entirely above 0, 'does not hold' when entirely
 * below, else 'inconclusive' (also when fewer than 2 replicates have both
 * values). A pair with a non-finite value is left out.
 *
 * @example
 * const c = pairedComparison([0.92, 0.93, 0.94], [0.9, 0.905, 0.92]); // differences 0.02, 0.025, 0.02
 * c.verdict; // 'holds' (mean 0.0217, interval [0.0145, 0.0288])
 */
export function pairedComparison(a: readonly number[], b: readonly number[]): PairedComparison {
  if (a.length !== b.length)
    throw new SparseSoupsError(`pairedComparison: ${a.length} values of A against ${b.length} of B; pairs need one of each per replicate`);
  const differences = a.map((x, i) => x - b[i]);
  const ci = meanConfidenceInterval(differences);
  let verdict: Verdict = 'inconclusive';
  let reason: string;
  if (ci.n < 2) {
    reason = `${ci.n === 0 ? 'no replicate has' : 'only 1 replicate has'} both values: no interval without at least 2 seeds`;
  } else if (ci.low > 0) {
    verdict = 'holds';
    reason = 'the 95% interval of the mean difference lies above 0';
  } else if (ci.high < 0) {
    verdict = 'does not hold';
    reason = 'the 95% interval of the mean difference lies below 0';
  } else {
    reason = `the 95% interval of the mean difference contains 0 (${ci.n} replicates)`;
  }
  return { ...ci, differences, verdict, reason };
}
