import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  impPruneRate,
  impPhaseSparsities,
  gmpSparsity,
  gmpPhaseSparsities,
  getPhaseSchedule,
  listPhaseSchedules,
  type GmpSchedule,
} from '../../src/prune/index.js';
import { ConfigError } from '../../src/util/errors.js';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

test('IMP: 90% in 3 phases is 53.6%, 78.5%, 90%', () => {
  const s = impPhaseSparsities(0.9, 3);
  assert.deepEqual(
    s.map((x) => x.toFixed(4)),
    ['0.5358', '0.7846', '0.9000'],
  );
  assert.equal(s[2], 0.9, 'the last phase reaches the goal exactly');
  close(impPruneRate(0.9, 3), 1 - Math.cbrt(0.1));
  // Each phase removes the same fraction q of the weights still alive.
  const q = impPruneRate(0.9, 3);
  close((s[1] - s[0]) / (1 - s[0]), q);
  close((0.9 - s[1]) / (1 - s[1]), q);
});

test('IMP: one phase is one-shot; 0 stays 0; 1 prunes all', () => {
  assert.deepEqual(impPhaseSparsities(0.8, 1), [0.8]);
  assert.deepEqual(impPhaseSparsities(0, 4), [0, 0, 0, 0]);
  assert.deepEqual(impPhaseSparsities(1, 2), [1, 1]);
  const five = impPhaseSparsities(0.98, 5);
  assert.ok(five.every((x, i) => i === 0 || x > five[i - 1]));
});

test('IMP: invalid inputs are ConfigErrors', () => {
  for (const [s, p] of [
    [1.2, 3],
    [-0.1, 3],
    [NaN, 3],
    [0.9, 0],
    [0.9, 1.5],
    [0.9, -2],
  ]) {
    assert.throws(() => impPhaseSparsities(s, p), ConfigError, `${s}, ${p}`);
  }
});

test('GMP: endpoints, the cubic in between, clipping and the pruning frequency', () => {
  const sched: GmpSchedule = { initialSparsity: 0, finalSparsity: 0.9, startStep: 100, endStep: 1100 };
  assert.equal(gmpSparsity(0, sched), 0);
  assert.equal(gmpSparsity(100, sched), 0);
  assert.equal(gmpSparsity(1100, sched), 0.9);
  assert.equal(gmpSparsity(5000, sched), 0.9);
  close(gmpSparsity(600, sched), 0.9 - 0.9 * 0.5 ** 3); // 0.7875
  close(gmpSparsity(350, sched), 0.9 - 0.9 * 0.75 ** 3);
  const steps = Array.from({ length: 120 }, (_, i) => gmpSparsity(i * 10, sched));
  assert.ok(
    steps.every((x, i) => i === 0 || x >= steps[i - 1]),
    'monotone',
  );
  const every100 = { ...sched, frequency: 100 };
  assert.equal(gmpSparsity(650, every100), gmpSparsity(600, sched), 'held between prunings');
  close(gmpSparsity(350, { ...sched, initialSparsity: 0.5 }), 0.9 - 0.4 * 0.75 ** 3);
});

test('GMP: invalid schedules are ConfigErrors', () => {
  const ok: GmpSchedule = { initialSparsity: 0, finalSparsity: 0.9, startStep: 0, endStep: 10 };
  for (const bad of [
    { ...ok, finalSparsity: 1.5 },
    { ...ok, initialSparsity: 0.95 },
    { ...ok, endStep: 0 },
    { ...ok, startStep: NaN },
    { ...ok, frequency: 0 },
  ]) {
    assert.throws(() => gmpSparsity(5, bad), ConfigError, JSON.stringify(bad));
  }
  assert.throws(() => gmpSparsity(NaN, ok), ConfigError);
});

test('GMP in phases: the cubic at p/P, the last phase exactly the goal', () => {
  const s = gmpPhaseSparsities(0.9, 3);
  close(s[0], 0.9 * (1 - (2 / 3) ** 3));
  close(s[1], 0.9 * (1 - (1 / 3) ** 3));
  assert.equal(s[2], 0.9);
  assert.deepEqual(
    s.map((x) => x.toFixed(4)),
    ['0.6333', '0.8667', '0.9000'],
  );
  assert.ok(s[0] > impPhaseSparsities(0.9, 3)[0], 'cubic prunes more early than IMP');
  assert.throws(() => gmpPhaseSparsities(0.9, 0), ConfigError);
});

test('phase schedules by name', () => {
  assert.deepEqual(listPhaseSchedules(), ['imp', 'gmp']);
  assert.deepEqual(getPhaseSchedule('imp')(0.9, 3), impPhaseSparsities(0.9, 3));
  assert.deepEqual(getPhaseSchedule('gmp')(0.9, 3), gmpPhaseSparsities(0.9, 3));
  assert.throws(
    () => getPhaseSchedule('linear'),
    (e: unknown) => e instanceof ConfigError && /imp, gmp/.test(e.message),
  );
});
