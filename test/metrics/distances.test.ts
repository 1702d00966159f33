import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, randn, Generator, type Tensor } from '../../src/tensor/index.js';
import { Sequential, Linear, BatchNorm1d } from '../../src/nn/index.js';
import { pairwiseDistances } from '../../src/metrics/distances.js';
import { MergeError } from '../../src/util/errors.js';

const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Vectors (w | b): a = (1, 0 | 0), b = (0, 1 | 0), c = (1, 1 | 0); BN running mean differs. */
function states(): Map<string, Tensor>[] {
  const make = (w: number[], rm: number): Map<string, Tensor> =>
    new Map([
      ['fc.weight', tensor(w, [1, 2])],
      ['fc.bias', tensor([0])],
      ['bn.running_mean', tensor([rm])],
      ['bn.num_batches_tracked', tensor([5], [1], { dtype: 'int64' })],
    ]);
  return [make([1, 0], 0), make([0, 1], 0), make([1, 1], 3)];
}

const disposeAll = (ss: Map<string, Tensor>[]): void => ss.forEach((s) => s.forEach((t) => t.dispose()));

test('L2, angle and distance to the mean match hand computation (parameters only by default)', () => {
  const ss = states();
  const d = pairwiseDistances(ss);
  assert.deepEqual(d.names, ['fc.weight', 'fc.bias']);
  assert.equal(d.elements, 3);
  const s2 = Math.SQRT2;
  const expectL2 = [
    [0, s2, 1],
    [s2, 0, 1],
    [1, 1, 0],
  ];
  const expectAngle = [
    [0, 90, 45],
    [90, 0, 45],
    [45, 45, 0],
  ];
  // mean = (2/3, 2/3, 0): a - mean = (1/3, -2/3), c - mean = (1/3, 1/3)
  const expectMean = [Math.sqrt(5 / 9), Math.sqrt(5 / 9), Math.sqrt(2 / 9)];
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) {
      close(d.pairwiseL2[i][j], expectL2[i][j]);
      close(d.pairwiseAngleDegrees[i][j], expectAngle[i][j]);
    }
    close(d.toMean[i], expectMean[i]);
  }
  disposeAll(ss);
});

test("include: 'all' adds float buffers (running stats), never integer ones", () => {
  const ss = states();
  const d = pairwiseDistances(ss, { include: 'all' });
  assert.deepEqual(d.names, ['fc.weight', 'fc.bias', 'bn.running_mean']);
  close(d.pairwiseL2[0][2], Math.sqrt(1 + 9)); // a - c = (0, -1, 0 | -3)
  close(d.pairwiseL2[0][1], Math.SQRT2);
  const named = pairwiseDistances(ss, { names: ['fc.bias'] });
  assert.ok(Number.isNaN(named.pairwiseAngleDegrees[0][1]), 'all-zero vectors have no angle');
  assert.equal(named.pairwiseL2[0][1], 0);
  disposeAll(ss);
});

test('with a model, parameters are told from buffers by the model', () => {
  const g = new Generator(1);
  const model = new Sequential(new Linear(3, 2, { generator: g }), new BatchNorm1d(2));
  const a = model.cloneStateDict();
  const b = model.cloneStateDict();
  b.get('0.weight')!.add_(1);
  b.get('1.running_mean')!.add_(100);
  const d = pairwiseDistances([a, b], { model });
  assert.deepEqual(d.names, ['0.weight', '0.bias', '1.weight', '1.bias']);
  close(d.pairwiseL2[0][1], Math.sqrt(6), 1e-6);
  disposeAll([a, b]);
  model.dispose();
});

test('agrees with a direct computation on random vectors', () => {
  const g = new Generator(9);
  const ss = [0, 1, 2, 3].map(
    () =>
      new Map([
        ['w', randn([50, 40], { generator: g })],
        ['v', randn([7], { generator: g })],
      ]),
  );
  const d = pairwiseDistances(ss);
  const vec = ss.map((s) => [...(s.get('w')!.toArray() as Float32Array), ...(s.get('v')!.toArray() as Float32Array)]);
  const mean = vec[0].map((_, k) => vec.reduce((acc, v) => acc + v[k], 0) / vec.length);
  const norm = (x: number[]): number => Math.sqrt(x.reduce((acc, v) => acc + v * v, 0));
  for (let i = 0; i < 4; i++) {
    for (let j = 0; j < 4; j++) {
      close(d.pairwiseL2[i][j], norm(vec[i].map((x, k) => x - vec[j][k])), 1e-9);
      const cos = vec[i].reduce((acc, x, k) => acc + x * vec[j][k], 0) / (norm(vec[i]) * norm(vec[j]));
      if (i !== j) close(d.pairwiseAngleDegrees[i][j], (Math.acos(cos) * 180) / Math.PI, 1e-6);
    }
    close(d.toMean[i], norm(vec[i].map((x, k) => x - mean[k])), 1e-9);
  }
  disposeAll(ss);
});

test('candidates with different tensors or shapes are refused', () => {
  const a = new Map([['w', tensor([1, 2])]]);
  const b = new Map([['w', tensor([1, 2, 3])]]);
  const c = new Map([['u', tensor([1, 2])]]);
  assert.throws(
    () => pairwiseDistances([a, b]),
    (e: unknown) => e instanceof MergeError && e.message.includes("'w' of candidate 1"),
  );
  assert.throws(
    () => pairwiseDistances([a, c]),
    (e: unknown) => e instanceof MergeError && e.message.includes("candidate 1 has no 'w'"),
  );
  assert.throws(() => pairwiseDistances([]), MergeError);
  disposeAll([a, b, c]);
});
