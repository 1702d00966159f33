import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, manualSeed } from '../../src/tensor/index.js';
import { Sequential, BatchNorm1d } from '../../src/nn/index.js';
import type { StateDict } from '../../src/nn/index.js';
import { averageStates, disposeState, greedySoup, recalibrateBatchNorm } from '../../src/soup/index.js';
import { DataLoader } from '../../src/data/loader.js';
import type { ImageDataset } from '../../src/data/dataset.js';
import { ConfigError, MergeError } from '../../src/util/errors.js';

const state = (w: number[], b: number[]): StateDict =>
  new Map([
    ['w', tensor(w, [w.length])],
    ['b', tensor(b, [b.length])],
    ['n', tensor([3], [], { dtype: 'int64' })],
  ]);

test('uniform and weighted averages of every float tensor; integers from the first', () => {
  const a = state([1, 2, 0], [0]);
  const b = state([3, 4, 0], [1]);
  const u = averageStates([a, b]);
  assert.deepEqual(Array.from(u.get('w')!.toArray() as Float32Array), [2, 3, 0]);
  assert.deepEqual(Array.from(u.get('b')!.toArray() as Float32Array), [0.5]);
  assert.equal(u.get('n')!.item(), 3);
  const w = averageStates([a, b], [3, 1]);
  assert.deepEqual(Array.from(w.get('w')!.toArray() as Float32Array), [1.5, 2.5, 0]);
  for (const s of [a, b, u, w]) disposeState(s);
});

test('merging states of different architectures is refused with the tensor named', () => {
  const a = state([1, 2], [0]);
  const b = new Map([
    ['w', tensor([1, 2, 3], [3])],
    ['b', tensor([0], [1])],
    ['n', tensor([1], [], { dtype: 'int64' })],
  ]);
  assert.throws(
    () => averageStates([a, b], undefined, ['c0', 'c1']),
    (e: Error) => e instanceof MergeError && /'w'/.test(e.message) && /c1/.test(e.message),
  );
  const c = new Map([['w', tensor([1, 2], [2])]]);
  assert.throws(() => averageStates([a, c]), MergeError);
  disposeState(a);
  disposeState(b);
  disposeState(c);
});

test('greedy soup: sorted by validation accuracy, adds only what does not lower the soup accuracy', async () => {
  const states = [state([0], [0]), state([10], [0]), state([1], [0])];
  // A toy "validation accuracy": higher when the soup's w is close to 1.
  const evaluate = async (s: StateDict): Promise<number> => 1 - Math.abs((s.get('w')!.toArray() as Float32Array)[0] - 1) / 10;
  const result = await greedySoup(
    [
      { label: 'a', state: states[0], validationAccuracy: 0.5 },
      { label: 'b', state: states[1], validationAccuracy: 0.2 },
      { label: 'c', state: states[2], validationAccuracy: 0.9 },
    ],
    evaluate,
  );
  assert.deepEqual(
    result.decisions.map((d) => d.label),
    ['c', 'a', 'b'],
  );
  assert.deepEqual(result.ingredients, ['c']); // adding a (w 0.5) or b lowers the accuracy
  assert.ok(result.validationAccuracy >= result.decisions[0].soupAccuracyWith);
  assert.deepEqual(
    result.decisions.map((d) => d.accepted),
    [true, false, false],
  );
  disposeState(result.state);
  for (const s of states) disposeState(s);
});

test('greedy soup with ownAccuracyIsSoupOfOne: the best candidate alone is not evaluated again; the same soup', async () => {
  const states = [state([0], [0]), state([2], [0]), state([1], [0])];
  const seen: number[] = [];
  const evaluate = async (s: StateDict): Promise<number> => {
    const w = (s.get('w')!.toArray() as Float32Array)[0];
    seen.push(w);
    return 1 - Math.abs(w - 1.3) / 10;
  };
  // The candidates' own accuracies are what evaluate gives for each alone.
  const candidates = [0, 2, 1].map((w, i) => ({ label: 'abc'[i], state: states[i], validationAccuracy: 1 - Math.abs(w - 1.3) / 10 }));
  const full = await greedySoup(candidates, evaluate);
  const evaluatedFull = seen.splice(0);
  const reused = await greedySoup(candidates, evaluate, { ownAccuracyIsSoupOfOne: true });
  assert.deepEqual(evaluatedFull, [1, 1.5, 1], 'c alone, c+b, c+a');
  assert.deepEqual(seen, [1.5, 1], 'c alone is its own accuracy: not evaluated');
  assert.deepEqual(reused.decisions, full.decisions);
  assert.deepEqual(reused.ingredients, ['c', 'b']);
  assert.deepEqual(
    Array.from(reused.state.get('w')!.toArray() as Float32Array),
    Array.from(full.state.get('w')!.toArray() as Float32Array),
  );
  disposeState(full.state);
  disposeState(reused.state);
  for (const s of states) disposeState(s);
});

test('BN recalibration sets running stats to the cumulative average over the forwarded batches', async () => {
  manualSeed(3);
  const n = 40;
  const images = new Uint8Array(n * 2);
  for (let i = 0; i < images.length; i++) images[i] = (i * 37) % 256;
  const dataset: ImageDataset = {
    name: 'toy',
    imageShape: [1, 1, 2],
    numClasses: 2,
    classNames: ['a', 'b'],
    mean: [0],
    std: [1],
    images,
    labels: new Int32Array(n),
  };
  // BN1d on [N, 1, 1, 2] would not fit; flatten through a wrapper model.
  const flat = new (class extends Sequential {
    override forward(x: import('../../src/tensor/index.js').Tensor) {
      return super.forward(x.flatten(1));
    }
  })(new BatchNorm1d(2));
  const loader = new DataLoader(dataset, { batchSize: 10, shuffle: false });
  const batches = await recalibrateBatchNorm(flat, loader, { fraction: 0.5 });
  assert.equal(batches, 2);
  // Expected: mean of the two batch means (each batch has 10 images), pixels scaled by 1/255.
  const x = Array.from(images, (v) => v / 255);
  const batchMean = (b: number, f: number): number => {
    let s = 0;
    for (let k = 0; k < 10; k++) s += x[(b * 10 + k) * 2 + f];
    return s / 10;
  };
  const bn = flat.at(0) as BatchNorm1d;
  const rm = bn.runningMean.toArray() as Float32Array;
  for (let f = 0; f < 2; f++) assert.ok(Math.abs(rm[f] - (batchMean(0, f) + batchMean(1, f)) / 2) < 1e-6);
  assert.equal(bn.numBatchesTracked.item(), 2);
  assert.equal(flat.training, false);
  assert.equal(bn.momentum, 0.1, 'momentum restored');
  for (const fraction of [0, 1.5, NaN]) {
    await assert.rejects(
      recalibrateBatchNorm(flat, loader, { fraction }),
      (e: Error) => e instanceof ConfigError && e.path === 'recalibrateBatchNorm(fraction)' && /must be in \(0, 1\]/.test(e.message),
    );
  }
  flat.dispose();
});
