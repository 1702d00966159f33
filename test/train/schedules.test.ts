import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/util/errors.js';
import {
  allrPeakLr,
  describeSchedule,
  listDenseSchedules,
  listRetrainSchedules,
  makeDenseSchedule,
  makeRetrainSchedule,
  sampleSchedule,
  warmupStepsFor,
  type LrSchedule,
} from '../../src/train/schedules.js';

function near(actual: number, expected: number, what = ''): void {
  assert.ok(Math.abs(actual - expected) <= 1e-12 + 1e-9 * Math.abs(expected), `${what} expected ${expected}, got ${actual}`);
}

function expectConfigError(fn: () => unknown, path: string, problem: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.path, path);
    assert.match(error.problem, problem);
    return true;
  });
}

// lr_dense(t) = 0.1·(1000 - t)/1000: easy to replay and compress by hand.
const linearDense = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 1000 });
// 0.1 until step 500, 0.01 until 750, then 0.001.
const stepDense = makeDenseSchedule('step', { maxLr: 0.1, totalSteps: 1000 });

test('warm-up steps are ceil(fraction·T) without round-off surprises', () => {
  assert.equal(warmupStepsFor(0.1, 100), 10);
  assert.equal(warmupStepsFor(0.1, 30), 3); // 0.1·30 = 3.0000000000000004 in floating point
  assert.equal(warmupStepsFor(0.1, 10), 1);
  assert.equal(warmupStepsFor(0.1, 5), 1);
  assert.equal(warmupStepsFor(0.1, 101), 11);
  assert.equal(warmupStepsFor(0, 100), 0);
});

test('dense linear: decay to 0 one step past the end, optional warm-up', () => {
  const s = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 100 });
  assert.equal(s.warmupSteps, 0);
  near(s.lr(0), 0.1);
  near(s.lr(50), 0.05);
  near(s.lr(99), 0.001);

  const w = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 100, warmupFraction: 0.1 });
  assert.equal(w.warmupSteps, 10);
  near(w.lr(0), 0.01); // 0.1·1/10
  near(w.lr(4), 0.05); // 0.1·5/10
  near(w.lr(9), 0.1); // peak at t = W-1
  near(w.lr(10), (0.1 * 90) / 91); // decay over T-W+1 = 91 steps
  near(w.lr(99), 0.1 / 91);
});

test('dense cosine: max to min, PyTorch CosineAnnealingLR with T_max = T', () => {
  const s = makeDenseSchedule('cosine', { maxLr: 0.1, totalSteps: 100 });
  near(s.lr(0), 0.1);
  near(s.lr(25), 0.05 * (1 + Math.SQRT1_2)); // 0.0853553...
  near(s.lr(50), 0.05);
  near(s.lr(99), 0.05 * (1 + Math.cos(0.99 * Math.PI)));
  const floor = makeDenseSchedule('cosine', { maxLr: 0.1, totalSteps: 100, minLr: 0.01 });
  near(floor.lr(50), 0.055); // 0.01 + 0.09/2
  assert.ok(floor.lr(99) > 0.01);
  assert.deepEqual(floor.params, { minLr: 0.01 });
});

test('dense step: gamma at 0.5·T and 0.75·T by default, or at given milestones', () => {
  near(stepDense.lr(0), 0.1);
  near(stepDense.lr(499), 0.1);
  near(stepDense.lr(500), 0.01);
  near(stepDense.lr(749), 0.01);
  near(stepDense.lr(750), 0.001);
  near(stepDense.lr(999), 0.001);
  const custom = makeDenseSchedule('step', { maxLr: 1, totalSteps: 10, gamma: 0.5, milestoneSteps: [3, 6] });
  assert.deepEqual(
    Array.from({ length: 10 }, (_, t) => custom.lr(t)),
    [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25],
  );
  const fractions = makeDenseSchedule('step', { maxLr: 1, totalSteps: 100, milestones: [0.29] });
  near(fractions.lr(28), 1); // round(0.29·100) = 29, although 0.29·100 = 28.999999999999996
  near(fractions.lr(29), 0.1);
});

test('dense constant, with and without warm-up', () => {
  const s = makeDenseSchedule('constant', { maxLr: 0.05, totalSteps: 20 });
  near(s.lr(0), 0.05);
  near(s.lr(19), 0.05);
  const w = makeDenseSchedule('constant', { maxLr: 0.05, totalSteps: 20, warmupFraction: 0.2 });
  near(w.lr(0), 0.0125); // 0.05·1/4
  near(w.lr(3), 0.05);
  near(w.lr(19), 0.05);
});

test('dense schedules: names and validation', () => {
  assert.deepEqual(
    listDenseSchedules().map((e) => e.name),
    ['linear', 'cosine', 'step', 'constant'],
  );
  expectConfigError(() => makeDenseSchedule('exponential', { maxLr: 0.1, totalSteps: 10 }), 'dense.schedule', /linear, cosine, step, constant/);
  expectConfigError(() => makeDenseSchedule('linear', { maxLr: 0, totalSteps: 10 }), 'dense.maxLr', /> 0/);
  expectConfigError(() => makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 0 }), 'dense.totalSteps', /positive integer/);
  expectConfigError(() => makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 10, warmupFraction: 1 }), 'dense.warmupFraction', /\[0, 1\)/);
  expectConfigError(() => makeDenseSchedule('cosine', { maxLr: 0.1, totalSteps: 10, minLr: 0.2 }), 'dense.minLr', /\[0, 0.1\)/);
  expectConfigError(() => makeDenseSchedule('step', { maxLr: 0.1, totalSteps: 10, milestones: [0.5, 1.5] }), 'dense.milestones[1]', /\(0, 1\)/);
  expectConfigError(
    () => makeDenseSchedule('step', { maxLr: 0.1, totalSteps: 10, milestones: [0.5], milestoneSteps: [5] }),
    'dense.milestones',
    /not both/,
  );
  expectConfigError(() => makeDenseSchedule('step', { maxLr: 0.1, totalSteps: 10, gamma: 0 }), 'dense.gamma', /> 0/);
  expectConfigError(() => makeDenseSchedule('nope', { maxLr: 0.1, totalSteps: 10, configPath: 'train' }), 'train.schedule', /unknown/);
});

test('lr(t) outside 0..T-1 or not an integer is a ConfigError at <configPath>.totalSteps', () => {
  const s = makeRetrainSchedule('LLR', { totalSteps: 100, dense: linearDense });
  expectConfigError(
    () => s.lr(100),
    'retrain.totalSteps',
    /LLR schedule: step must be an integer in 0\.\.99, got 100; totalSteps \(100\) must count/,
  );
  expectConfigError(() => s.lr(-1), 'retrain.totalSteps', /got -1/);
  assert.throws(() => s.lr(1.5), /integer in 0\.\.99/);
  expectConfigError(() => linearDense.lr(1000), 'dense.totalSteps', /linear schedule: step must be an integer in 0\.\.999, got 1000/);
  const phase = makeRetrainSchedule('CLR', { totalSteps: 10, dense: linearDense, configPath: 'phases[1].retrain' });
  expectConfigError(() => phase.lr(10), 'phases[1].retrain.totalSteps', /CLR schedule/);
});

test('LLR: 10% warm-up to max LR, then linear to 0 one step past the end', () => {
  const s = makeRetrainSchedule('LLR', { totalSteps: 100, dense: linearDense });
  assert.equal(s.warmupSteps, 10);
  assert.equal(s.peakLr, 0.1);
  near(s.lr(0), 0.01); // 0.1·(0+1)/10
  near(s.lr(4), 0.05); // 0.1·5/10
  near(s.lr(9), 0.1); // end of warm-up: the peak
  near(s.lr(54), (0.1 * 46) / 91); // 0.1·(1 - 45/91) = 0.0505495
  near(s.lr(99), 0.1 / 91); // last step: 0.0010989
  // T ≤ 10: ceil(0.1·T) = 1 warm-up step, which is no warm-up at all.
  const short = makeRetrainSchedule('LLR', { totalSteps: 10, dense: linearDense });
  assert.equal(short.warmupSteps, 1);
  near(short.lr(0), 0.1);
  near(short.lr(5), 0.05);
  near(short.lr(9), 0.01);
});

test('LLR is the default and case-insensitive; maxLr overrides the peak', () => {
  assert.equal(listRetrainSchedules()[0].name, 'LLR');
  const s = makeRetrainSchedule('llr', { totalSteps: 100, dense: linearDense, maxLr: 0.2 });
  assert.equal(s.name, 'LLR');
  near(s.lr(9), 0.2);
  near(s.lr(0), 0.02);
});

test('CLR: cosine from max LR to minLr after the warm-up', () => {
  const s = makeRetrainSchedule('CLR', { totalSteps: 100, dense: linearDense });
  near(s.lr(0), 0.01);
  near(s.lr(9), 0.1);
  near(s.lr(54), 0.05 * (1 + Math.cos((45 / 91) * Math.PI)));
  near(s.lr(99), 0.05 * (1 + Math.cos((90 / 91) * Math.PI)));
  const ten = makeRetrainSchedule('CLR', { totalSteps: 10, dense: linearDense, minLr: 0.01 });
  near(ten.lr(0), 0.1);
  near(ten.lr(5), 0.055); // 0.01 + 0.09·(1 + cos(π/2))/2
  near(ten.lr(9), 0.01 + 0.045 * (1 + Math.cos(0.9 * Math.PI))); // 0.0122372
  expectConfigError(() => makeRetrainSchedule('CLR', { totalSteps: 10, dense: linearDense, minLr: 0.1 }), 'retrain.minLr', /\[0, 0.1\)/);
});

test('SLR: the dense schedule compressed into T, times the warm-up ramp', () => {
  const s = makeRetrainSchedule('SLR', { totalSteps: 100, dense: stepDense });
  near(s.lr(0), 0.01); // ramp 1/10 · lr_dense(0) = 0.1/10
  near(s.lr(9), 0.1); // ramp 1 · lr_dense(90)
  near(s.lr(49), 0.1); // lr_dense(490)
  near(s.lr(50), 0.01); // lr_dense(500): the first milestone, at the same fraction of T
  near(s.lr(75), 0.001); // lr_dense(750)
  near(s.lr(99), 0.001);
  // floor(t·T_dense/T) with T = 300: t = 149 → 496, t = 150 → 500.
  const uneven = makeRetrainSchedule('SLR', { totalSteps: 300, dense: stepDense });
  near(uneven.lr(149), 0.1);
  near(uneven.lr(150), 0.01);
  // Over a linear dense schedule the warm-up ends below max LR: lr_dense(90) = 0.091.
  const overLinear = makeRetrainSchedule('SLR', { totalSteps: 100, dense: linearDense });
  near(overLinear.lr(9), 0.091);
  near(overLinear.lr(50), 0.05); // lr_dense(500)
  near(overLinear.peakLr, 0.091);
});

test('LRW: replays the last T dense steps without warm-up; clamps at the start when T > T_dense', () => {
  const s = makeRetrainSchedule('LRW', { totalSteps: 100, dense: linearDense });
  assert.equal(s.warmupSteps, 0);
  near(s.lr(0), 0.01); // lr_dense(900)
  near(s.lr(50), 0.005); // lr_dense(950)
  near(s.lr(99), 0.0001); // lr_dense(999)
  near(s.peakLr, 0.01);
  const short = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 100 });
  const long = makeRetrainSchedule('LRW', { totalSteps: 150, dense: short });
  near(long.lr(0), 0.1); // lr_dense(max(-50, 0))
  near(long.lr(50), 0.1); // lr_dense(0)
  near(long.lr(51), 0.099); // lr_dense(1)
  near(long.lr(149), 0.001); // lr_dense(99)
});

test("FT: constant at the dense schedule's last LR", () => {
  const s = makeRetrainSchedule('FT', { totalSteps: 100, dense: linearDense });
  near(s.lr(0), 0.0001);
  near(s.lr(99), 0.0001);
  assert.equal(s.warmupSteps, 0);
  const fromStep = makeRetrainSchedule('FT', { totalSteps: 100, dense: stepDense });
  near(fromStep.lr(50), 0.001);
  // A peak-LR override scales the dense shape.
  near(makeRetrainSchedule('FT', { totalSteps: 100, dense: stepDense, maxLr: 0.2 }).lr(0), 0.002);
});

test('ALLR: LLR with peak maxLr·d/√s, clipped to [min(T/T_dense,1)·maxLr, maxLr]', () => {
  // Inside the bounds [0.01, 0.1]: 0.1·0.2/√0.4 = 0.0316228.
  const inside = makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 0.2, prunedFraction: 0.4 } });
  const peak = (0.1 * 0.2) / Math.sqrt(0.4);
  near(inside.peakLr, peak);
  near(inside.lr(0), peak / 10);
  near(inside.lr(9), peak);
  near(inside.lr(54), (peak * 46) / 91);
  near(inside.lr(99), peak / 91);
  // Below: 0.1·0.02/√0.64 = 0.0025 → the floor min(100/1000, 1)·0.1 = 0.01.
  const below = makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 0.02, prunedFraction: 0.64 } });
  near(below.peakLr, 0.01);
  near(below.lr(9), 0.01);
  near(below.lr(0), 0.001);
  // Above: 0.1·0.5/√0.16 = 0.125 → the ceiling 0.1.
  const above = makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 0.5, prunedFraction: 0.16 } });
  near(above.peakLr, 0.1);
  near(above.lr(9), 0.1);
  // Retraining at least as long as dense training: the floor is maxLr itself.
  near(allrPeakLr(0.1, { normDrop: 0.02, prunedFraction: 0.64 }, 2000, 1000), 0.1);
  // The floor scales with T: T = 500 of 1000 → 0.05.
  near(allrPeakLr(0.1, { normDrop: 0.02, prunedFraction: 0.64 }, 500, 1000), 0.05);
});

test('ALLR validation: allr required, d in [0, 1], s in (0, 1]', () => {
  expectConfigError(() => makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense }), 'retrain.schedule', /allr: \{ normDrop, prunedFraction \}/);
  expectConfigError(
    () => makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 1.2, prunedFraction: 0.5 } }),
    'retrain.allr.normDrop',
    /\[0, 1\]/,
  );
  expectConfigError(
    () => makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 0.1, prunedFraction: 0 } }),
    'retrain.allr.prunedFraction',
    /> 0/,
  );
});

test('unknown retraining schedule: ConfigError at retrain.schedule listing the valid names', () => {
  expectConfigError(() => makeRetrainSchedule('OneCycle', { totalSteps: 100, dense: linearDense }), 'retrain.schedule', /'OneCycle'.*LLR, CLR, SLR, LRW, FT, ALLR/);
  expectConfigError(() => makeRetrainSchedule('LLR', { totalSteps: 0, dense: linearDense }), 'retrain.totalSteps', /positive integer/);
  expectConfigError(() => makeRetrainSchedule('LLR', { totalSteps: 10, dense: linearDense, maxLr: -1 }), 'retrain.maxLr', /> 0/);
  expectConfigError(() => makeRetrainSchedule('nope', { totalSteps: 10, dense: linearDense, configPath: 'phases[1].retrain' }), 'phases[1].retrain.schedule', /unknown/);
});

test('every retraining schedule stays within [0, peakLr] and reaches its peak', () => {
  const ctx = { dense: makeDenseSchedule('cosine', { maxLr: 0.1, totalSteps: 500, warmupFraction: 0.05 }), allr: { normDrop: 0.3, prunedFraction: 0.5 } };
  for (const T of [1, 7, 10, 37, 100, 750]) {
    for (const { name } of listRetrainSchedules()) {
      const s: LrSchedule = makeRetrainSchedule(name, { ...ctx, totalSteps: T });
      let max = 0;
      for (let t = 0; t < T; t++) {
        const lr = s.lr(t);
        assert.ok(lr >= 0 && lr <= s.peakLr * (1 + 1e-12), `${name} T=${T} t=${t}: ${lr} outside [0, ${s.peakLr}]`);
        max = Math.max(max, lr);
      }
      near(max, s.peakLr, `${name} T=${T} peak`);
    }
  }
});

test('describeSchedule: a short label with the parameters', () => {
  assert.equal(describeSchedule(makeRetrainSchedule('LLR', { totalSteps: 1000, dense: linearDense })), 'LLR(peak=0.1, T=1000, warmup=100)');
  assert.equal(
    describeSchedule(makeRetrainSchedule('ALLR', { totalSteps: 100, dense: linearDense, allr: { normDrop: 0.2, prunedFraction: 0.4 } })),
    'ALLR(peak=0.0316, T=100, warmup=10, d=0.2, s=0.4)',
  );
  assert.equal(describeSchedule(makeRetrainSchedule('FT', { totalSteps: 50, dense: stepDense })), 'FT(peak=0.001, T=50, dense=step/1000)');
  assert.equal(describeSchedule(stepDense), 'step(peak=0.1, T=1000, gamma=0.1, milestones=500/750)');
  assert.equal(describeSchedule(makeRetrainSchedule('CLR', { totalSteps: 10, dense: linearDense, minLr: 0.001 })), 'CLR(peak=0.1, T=10, warmup=1, minLr=0.001)');
});

test('sampleSchedule: evenly spaced steps including both ends, duplicates dropped', () => {
  const s = makeRetrainSchedule('LLR', { totalSteps: 100, dense: linearDense });
  const samples = sampleSchedule(s, 100, 5);
  assert.deepEqual(
    samples.map((p) => p.t),
    [0, 25, 50, 74, 99],
  );
  near(samples[0].lr, 0.01);
  near(samples[4].lr, 0.1 / 91);
  assert.deepEqual(
    sampleSchedule((t) => t * 2, 3, 10),
    [
      { t: 0, lr: 0 },
      { t: 1, lr: 2 },
      { t: 2, lr: 4 },
    ],
  );
  assert.deepEqual(sampleSchedule(s.lr, 100, 1), [{ t: 0, lr: s.lr(0) }]);
  expectConfigError(() => sampleSchedule(s, 100, 0), 'sampleSchedule(points)', /positive integer number of samples, got 0/);
  expectConfigError(() => sampleSchedule(s, 0, 5), 'sampleSchedule(totalSteps)', /positive integer, got 0/);
});
