import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, noGrad, randn, Generator, liveTensorCount, type Tensor } from '../../src/tensor/index.js';
import { Sequential, Conv2d, Linear, ReLU, Flatten } from '../../src/nn/index.js';
import {
  prunableParameters,
  getCriterion,
  listCriteria,
  computeMask,
  globalMagnitudeMask,
  uniformMagnitudeMask,
  randomMask,
  PruningMask,
  type NamedTensor,
} from '../../src/prune/index.js';
import { ConfigError, CheckpointError } from '../../src/util/errors.js';

/** conv 1→2 k3 (18 weights), linear 18→4 (72), linear 4→3 (12): 102 prunable weights. */
function smallNet(seed = 1): Sequential {
  const g = new Generator(seed);
  return new Sequential(
    new Conv2d(1, 2, 3, { generator: g }),
    new ReLU(),
    new Flatten(),
    new Linear(18, 4, { generator: g }),
    new Linear(4, 3, { generator: g }),
  );
}

const flatValues = (t: Tensor): number[] => Array.from(t.toArray() as Float32Array);

/** All mask values and |w| values, flattened in parameter order. */
function flatten(params: NamedTensor[], mask: PruningMask): { keep: number[]; mag: number[] } {
  const keep: number[] = [];
  const mag: number[] = [];
  for (const [name, p] of params) {
    keep.push(...flatValues(mask.get(name)!));
    mag.push(...flatValues(tidy(() => p.abs().detach())));
  }
  return { keep, mag };
}

const pruned = (keep: number[]): number => keep.filter((k) => k === 0).length;

test('registry: global (default), uniform, random; unknown names list the valid ones', () => {
  assert.deepEqual(listCriteria(), ['global', 'uniform', 'random']);
  assert.equal(getCriterion('global'), globalMagnitudeMask);
  assert.throws(
    () => getCriterion('magnitude'),
    (e: unknown) => e instanceof ConfigError && e.path === 'pruning.criterion' && /'magnitude'.*global, uniform, random/.test(e.message),
  );
});

test('global: pruned count is round(s·N) exactly and the smallest magnitudes go', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  for (const s of [0, 0.1, 0.33, 0.5, 0.5358, 0.9, 0.99, 1]) {
    const mask = globalMagnitudeMask(params, null, s);
    const { keep, mag } = flatten(params, mask);
    assert.equal(pruned(keep), Math.round(s * 102), `target ${s}`);
    assert.equal(mask.prunedCount(), Math.round(s * 102));
    const maxPruned = Math.max(...mag.filter((_, i) => keep[i] === 0));
    const minKept = Math.min(...mag.filter((_, i) => keep[i] === 1));
    if (s > 0 && s < 1) assert.ok(maxPruned <= minKept, `target ${s}: pruned |w| ${maxPruned} > kept |w| ${minKept}`);
    mask.dispose();
  }
  net.dispose();
});

test('global: a hand example across two tensors', () => {
  const a = tensor([0.1, -0.5, 0.3, 0.2, 0, 0.9], [2, 3]);
  const b = tensor([-0.25, 1, 0.05, 2], [4]);
  const mask = globalMagnitudeMask(
    [
      ['a', a],
      ['b', b],
    ],
    null,
    0.5,
  );
  // the 5 smallest of |w| = 0.1 .5 .3 .2 0 .9 | .25 1 .05 2  →  0, .05, .1, .2, .25
  assert.deepEqual(flatValues(mask.get('a')!), [0, 1, 1, 0, 0, 1]);
  assert.deepEqual(flatValues(mask.get('b')!), [0, 1, 0, 1]);
  assert.deepEqual(mask.get('a')!.shape, [2, 3]);
  mask.dispose();
  a.dispose();
  b.dispose();
});

test('ties (all weights equal) are broken by position: exact count, earliest pruned first', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  noGrad(() => params.forEach(([, p]) => p.fill_(0.5)));
  for (const name of listCriteria().filter((c) => c !== 'random')) {
    for (const s of [0.1, 0.5, 0.9]) {
      const mask = getCriterion(name)(params, null, s, {});
      const { keep } = flatten(params, mask);
      if (name === 'global') {
        const k = Math.round(s * 102);
        assert.deepEqual(
          keep,
          [...Array(102)].map((_, i) => (i < k ? 0 : 1)),
          `global ${s}`,
        );
      } else {
        for (const l of mask.perLayer()) assert.equal(l.pruned, Math.round(s * l.total), `uniform ${s} ${l.name}`);
        assert.deepEqual(
          flatValues(mask.get('0.weight')!),
          [...Array(18)].map((_, i) => (i < Math.round(s * 18) ? 0 : 1)),
        );
      }
      const again = getCriterion(name)(params, null, s, {});
      assert.equal(again.hash(), mask.hash(), 'deterministic');
      mask.dispose();
      again.dispose();
    }
  }
  net.dispose();
});

test('exact zeros tie with each other and are pruned first', () => {
  const w = tensor([0, 0.3, 0, 0, 0.1, 0]);
  const mask = globalMagnitudeMask([['w', w]], null, 0.5);
  assert.deepEqual(flatValues(mask.get('w')!), [0, 1, 0, 0, 1, 1]);
  mask.dispose();
  w.dispose();
});

test('uniform: round(s·n) per layer, smallest magnitudes of each layer', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  for (const s of [0.25, 0.5, 0.9]) {
    const mask = uniformMagnitudeMask(params, null, s);
    assert.deepEqual(
      mask.perLayer().map((l) => l.pruned),
      [18, 72, 12].map((n) => Math.round(s * n)),
    );
    for (const [name, p] of params) {
      const keep = flatValues(mask.get(name)!);
      const mag = flatValues(tidy(() => p.abs().detach()));
      assert.ok(Math.max(...mag.filter((_, i) => keep[i] === 0)) <= Math.min(...mag.filter((_, i) => keep[i] === 1)), `${name} at ${s}`);
    }
    mask.dispose();
  }
  net.dispose();
});

test('an existing mask: its zeros stay pruned, count toward the target, and go first', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  for (const name of listCriteria()) {
    const first = getCriterion(name)(params, null, 0.5358, { seed: 7 });
    // The weights are not masked: previously pruned weights may be large, they still stay pruned.
    const second = getCriterion(name)(params, first, 0.7846, { seed: 7 });
    const third = getCriterion(name)(params, second, 0.9, { seed: 7 });
    const k1 = flatten(params, first).keep;
    const k2 = flatten(params, second).keep;
    const k3 = flatten(params, third).keep;
    assert.ok(k2.every((v, i) => v <= k1[i]) && k3.every((v, i) => v <= k2[i]), `${name}: masks only shrink`);
    if (name !== 'uniform') {
      assert.deepEqual([pruned(k1), pruned(k2), pruned(k3)], [55, 80, 92], name);
    } else {
      assert.deepEqual(
        third.perLayer().map((l) => l.pruned),
        [18, 72, 12].map((n) => Math.round(0.9 * n)),
      );
    }
    // Same target as the current mask: nothing changes.
    const same = getCriterion(name)(params, third, 0.9, { seed: 7 });
    assert.ok(same.equals(third), `${name}: re-pruning at the same sparsity is a no-op`);
    for (const m of [first, second, third, same]) m.dispose();
  }
  net.dispose();
});

test('global with a mask: the new weights pruned are the smallest of the remaining ones', () => {
  const w = tensor([5, 0.1, 4, 0.2, 3, 0.3]);
  const current = new PruningMask(new Map([['w', tensor([1, 0, 1, 1, 1, 1])]]));
  // 0.1 is already pruned; two more: the smallest remaining are 0.2 and 0.3.
  const mask = globalMagnitudeMask([['w', w]], current, 0.5);
  assert.deepEqual(flatValues(mask.get('w')!), [1, 0, 1, 0, 1, 0]);
  // Already pruned large weights stay pruned even though they are big.
  const big = new PruningMask(new Map([['w', tensor([0, 1, 1, 1, 1, 1])]]));
  const mask2 = globalMagnitudeMask([['w', w]], big, 2 / 6);
  assert.deepEqual(flatValues(mask2.get('w')!), [0, 0, 1, 1, 1, 1]);
  for (const t of [w, current, mask, big, mask2]) t.dispose();
});

test('random: exact count, reproducible from the seed, independent of the global torch seed', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  const a = randomMask(params, null, 0.6, { seed: 3 });
  randn([10]).dispose(); // advances libtorch's global generator; must not matter
  const b = randomMask(params, null, 0.6, { seed: 3 });
  const c = randomMask(params, null, 0.6, { seed: 4 });
  assert.equal(a.prunedCount(), Math.round(0.6 * 102));
  assert.equal(a.hash(), b.hash());
  assert.notEqual(a.hash(), c.hash());
  // Not magnitude: the pruned set differs from global's.
  const g = globalMagnitudeMask(params, null, 0.6);
  assert.notEqual(a.hash(), g.hash());
  for (const m of [a, b, c, g]) m.dispose();
  net.dispose();
});

test('invalid targets, lowering the sparsity and a mismatched mask are refused', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  for (const s of [-0.1, 1.1, NaN]) {
    assert.throws(
      () => globalMagnitudeMask(params, null, s),
      (e: unknown) => e instanceof ConfigError && e.path === 'prune.sparsity',
    );
  }
  const half = globalMagnitudeMask(params, null, 0.5);
  for (const name of listCriteria()) {
    assert.throws(
      () => getCriterion(name)(params, half, 0.4, {}),
      (e: unknown) => e instanceof ConfigError && /already prunes/.test(e.message),
      name,
    );
  }
  assert.throws(
    () => globalMagnitudeMask(params.slice(1), half, 0.6),
    (e: unknown) => e instanceof CheckpointError && e.message.includes("'0.weight'"),
  );
  assert.throws(() => globalMagnitudeMask([...params, params[0]], null, 0.6), ConfigError);
  const nan = tensor([1, NaN, 2]);
  assert.throws(
    () => globalMagnitudeMask([['x', nan]], null, 0.5),
    (e: unknown) => e instanceof ConfigError && e.message.includes("'x'"),
  );
  nan.dispose();
  half.dispose();
  net.dispose();
});

test('computeMask picks the criterion by name, global by default', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  const a = computeMask(params, 0.7);
  const b = globalMagnitudeMask(params, null, 0.7);
  const c = computeMask(params, 0.7, { criterion: 'uniform' });
  assert.ok(a.equals(b));
  assert.ok(!a.equals(c));
  for (const m of [a, b, c]) m.dispose();
  net.dispose();
});

test('a million weights: exact count, quick, and no native tensors leaked', () => {
  const g = new Generator(5);
  const net = new Sequential(
    new Linear(1000, 1000, { generator: g }),
    new Conv2d(64, 64, 3, { generator: g }),
    new Linear(100, 10, { generator: g }),
  );
  const params = prunableParameters(net);
  const total = params.reduce((n, [, p]) => n + p.numel, 0);
  const live = liveTensorCount();
  for (const name of listCriteria()) {
    const started = performance.now();
    const first = getCriterion(name)(params, null, 0.5358, { seed: 1 });
    const mask = getCriterion(name)(params, first, 0.9, { seed: 1 });
    const ms = performance.now() - started;
    const expected = name === 'uniform' ? params.reduce((n, [, p]) => n + Math.round(0.9 * p.numel), 0) : Math.round(0.9 * total);
    assert.equal(mask.prunedCount(), expected, name);
    assert.ok(ms < 5000, `${name}: two pruning steps over ${total} weights took ${ms.toFixed(0)} ms`);
    first.dispose();
    mask.dispose();
  }
  assert.equal(liveTensorCount(), live, 'criteria free every temporary tensor');
  net.dispose();
});
