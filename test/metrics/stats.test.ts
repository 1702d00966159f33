// Replicate statistics against values computed by hand (and, for the t
// quantiles, against scipy.stats.t.ppf(0.975, df)).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mean, meanConfidenceInterval, pairedComparison, sampleStd, tCritical975, T_975 } from '../../src/metrics/stats.js';
import { SparseSoupsError } from '../../src/util/errors.js';

const close = (actual: number, expected: number, tol: number, what: string): void =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} is not within ${tol} of ${expected}`);

test('t quantiles: the table for df 1..30, the A&S expansion beyond, tending to 1.96', () => {
  assert.equal(T_975.length, 30);
  assert.equal(tCritical975(1), 12.706);
  assert.equal(tCritical975(2), 4.303);
  assert.equal(tCritical975(4), 2.776);
  assert.equal(tCritical975(9), 2.262);
  assert.equal(tCritical975(30), 2.042);
  // scipy.stats.t.ppf(0.975, df)
  for (const [df, exact] of [
    [31, 2.0395134464],
    [40, 2.0210753903],
    [60, 2.0002978220],
    [100, 1.9839715185],
  ] as const) {
    close(tCritical975(df), exact, 1e-6, `t(${df})`);
  }
  close(tCritical975(1e6), 1.959966, 1e-5, 't(1e6)');
  // Monotone decreasing, continuous at the switch from table to expansion.
  for (let df = 1; df < 200; df++) assert.ok(tCritical975(df + 1) < tCritical975(df), `t(${df + 1}) < t(${df})`);
  for (const bad of [0, -1, 2.5, NaN]) assert.throws(() => tCritical975(bad), SparseSoupsError);
});

test('mean, sample std (n - 1) and the 95% CI of a known sample', () => {
  assert.equal(mean([1, 2, 3, 4]), 2.5);
  // Σ(x - 2.5)² = 5, / 3 → std √(5/3)
  close(sampleStd([1, 2, 3, 4]), Math.sqrt(5 / 3), 1e-12, 'std');
  // [1, 2, 3]: mean 2, std 1, half width 4.303 / √3 = 2.48434
  const ci = meanConfidenceInterval([1, 2, 3]);
  assert.equal(ci.n, 3);
  assert.equal(ci.mean, 2);
  assert.equal(ci.std, 1);
  close(ci.halfWidth, 2.484338, 1e-6, 'half width');
  close(ci.low, -0.484338, 1e-6, 'low');
  close(ci.high, 4.484338, 1e-6, 'high');
  // Accuracies 90%, 92%, 91%: 0.91 ± 4.303 · 0.01 / √3 = 0.91 ± 0.024843
  const acc = meanConfidenceInterval([0.9, 0.92, 0.91]);
  close(acc.low, 0.885157, 1e-6, 'low');
  close(acc.high, 0.934843, 1e-6, 'high');
  // Five values: t(4) = 2.776; [10, 12, 9, 11, 13] mean 11, std √2.5
  const five = meanConfidenceInterval([10, 12, 9, 11, 13]);
  close(five.halfWidth, (2.776 * Math.sqrt(2.5)) / Math.sqrt(5), 1e-12, 'half width n=5');
});

test('NaN values are left out; fewer than 2 values give no interval', () => {
  const ci = meanConfidenceInterval([1, NaN, 3]);
  assert.equal(ci.n, 2);
  assert.equal(ci.mean, 2);
  close(ci.halfWidth, (12.706 * Math.SQRT2) / Math.SQRT2, 1e-12, 'half width n=2');
  const one = meanConfidenceInterval([0.5]);
  assert.deepEqual([one.n, one.mean], [1, 0.5]);
  assert.ok(Number.isNaN(one.std) && Number.isNaN(one.low) && Number.isNaN(one.high));
  const none = meanConfidenceInterval([NaN]);
  assert.equal(none.n, 0);
  assert.ok(Number.isNaN(none.mean));
});

test('paired verdicts: holds, does not hold, inconclusive (interval contains 0, or n < 2)', () => {
  // Differences 0.02, 0.025, 0.02: mean 0.021667, std 0.0028868, half width 4.303 · 0.0028868 / √3 = 0.0071717
  const holds = pairedComparison([0.92, 0.93, 0.94], [0.9, 0.905, 0.92]);
  assert.equal(holds.verdict, 'holds');
  assert.match(holds.reason, /above 0/);
  close(holds.mean, 0.0216667, 1e-6, 'mean difference');
  close(holds.low, 0.0144950, 1e-6, 'low');
  close(holds.high, 0.0288383, 1e-6, 'high');
  assert.equal(holds.differences.length, 3);

  const worse = pairedComparison([0.9, 0.905, 0.92], [0.92, 0.93, 0.94]);
  assert.equal(worse.verdict, 'does not hold');
  assert.match(worse.reason, /below 0/);
  close(worse.high, -0.0144950, 1e-6, 'high');

  // One seed's 0.3 points prove nothing: differences +0.003, -0.001, +0.002 → mean 0.00133, interval contains 0.
  const noisy = pairedComparison([0.913, 0.909, 0.912], [0.91, 0.91, 0.91]);
  assert.equal(noisy.verdict, 'inconclusive');
  assert.match(noisy.reason, /contains 0 \(3 replicates\)/);
  assert.ok(noisy.low < 0 && noisy.high > 0);

  const single = pairedComparison([0.95], [0.9]);
  assert.equal(single.verdict, 'inconclusive');
  assert.match(single.reason, /only 1 replicate has both values: no interval without at least 2 seeds/);
  close(single.mean, 0.05, 1e-12, 'single difference');

  // A missing baseline value drops that pair.
  const missing = pairedComparison([0.92, 0.93, 0.94], [0.9, NaN, 0.92]);
  assert.equal(missing.n, 2);
  assert.ok(Number.isNaN(missing.differences[1]));
  assert.equal(pairedComparison([NaN], [NaN]).reason.startsWith('no replicate has both values'), true);

  // Equal models: zero-width interval at 0 → inconclusive, not 'holds'.
  assert.equal(pairedComparison([0.9, 0.9], [0.9, 0.9]).verdict, 'inconclusive');
  assert.throws(() => pairedComparison([1, 2], [1]), /2 values of A against 1 of B/);
});
