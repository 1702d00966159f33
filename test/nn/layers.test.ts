// Layers: PyTorch's default initialization, shapes, and seeded init.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, manualSeed, randn, tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import {
  AdaptiveAvgPool2d,
  AvgPool2d,
  BatchNorm1d,
  BatchNorm2d,
  Conv2d,
  Dropout,
  F,
  Flatten,
  Identity,
  Linear,
  MaxPool2d,
  ReLU,
  Sequential,
} from '../../src/nn/index.js';
import { ModelDefinitionError, TensorError } from '../../src/util/errors.js';

/** Samples lie in [-bound, bound], reach close to both ends, and fill 10 equal bins about evenly. */
function assertUniform(t: Tensor, bound: number, name: string): void {
  const v = t.toNumbers();
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  assert.ok(lo >= -bound && hi <= bound, `${name}: range [${lo}, ${hi}] exceeds ±${bound}`);
  assert.ok(lo < -0.95 * bound && hi > 0.95 * bound, `${name}: range [${lo}, ${hi}] does not reach ±${bound}`);
  const bins = new Array<number>(10).fill(0);
  for (const x of v) bins[Math.min(9, Math.floor(((x + bound) / (2 * bound)) * 10))]++;
  for (const [i, count] of bins.entries()) {
    const share = count / v.length;
    assert.ok(Math.abs(share - 0.1) < 0.03, `${name}: bin ${i} holds ${(share * 100).toFixed(1)}% of the samples`);
  }
  const mean = v.reduce((s, x) => s + x, 0) / v.length;
  const variance = v.reduce((s, x) => s + (x - mean) ** 2, 0) / v.length;
  assert.ok(Math.abs(mean) < 0.05 * bound, `${name}: mean ${mean}`);
  assert.ok(Math.abs(variance / ((bound * bound) / 3) - 1) < 0.1, `${name}: variance ${variance}, uniform has ${(bound * bound) / 3}`);
}

test('Linear: W and b ~ U(±1/√in_features)', () => {
  const layer = new Linear(50, 100, { generator: new Generator(0) });
  assert.deepEqual(layer.weight.shape, [100, 50]);
  assert.deepEqual(layer.bias?.shape, [100]);
  assertUniform(layer.weight, 1 / Math.sqrt(50), 'Linear weight');
  const wide = new Linear(16, 4000, { generator: new Generator(1) });
  assertUniform(wide.bias!, 1 / 4, 'Linear bias');
});

test('Conv2d: W and b ~ U(±1/√(in/groups·k²))', () => {
  const conv = new Conv2d(3, 64, 5, { generator: new Generator(2) });
  assert.deepEqual(conv.weight.shape, [64, 3, 5, 5]);
  assertUniform(conv.weight, 1 / Math.sqrt(75), 'Conv2d weight');
  assert.ok(conv.bias!.abs().max().item() <= 1 / Math.sqrt(75));
  const grouped = new Conv2d(8, 64, 3, { groups: 4, generator: new Generator(3) });
  assert.deepEqual(grouped.weight.shape, [64, 2, 3, 3]);
  assertUniform(grouped.weight, 1 / Math.sqrt(18), 'grouped Conv2d weight');
  const noBias = new Conv2d(3, 4, 3, { bias: false });
  assert.equal(noBias.bias, null);
  assert.deepEqual([...noBias.stateDict().keys()], ['weight']);
});

test('BatchNorm init: weight 1, bias 0, running mean 0, running variance 1, no batches', () => {
  const bn = new BatchNorm2d(3);
  assert.deepEqual(bn.weight?.toNumbers(), [1, 1, 1]);
  assert.deepEqual(bn.bias?.toNumbers(), [0, 0, 0]);
  assert.deepEqual(bn.runningMean.toNumbers(), [0, 0, 0]);
  assert.deepEqual(bn.runningVar.toNumbers(), [1, 1, 1]);
  assert.equal(bn.numBatchesTracked.dtype, 'int64');
  assert.deepEqual(bn.numBatchesTracked.shape, []);
  assert.deepEqual([...bn.stateDict().keys()], ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']);
  assert.equal(bn.eps, 1e-5);
  assert.equal(bn.momentum, 0.1);
  const plain = new BatchNorm1d(2, { affine: false });
  assert.equal(plain.weight, null);
  assert.deepEqual([...plain.stateDict().keys()], ['running_mean', 'running_var', 'num_batches_tracked']);
});

test('a seeded Generator makes init reproducible and independent of the global seed', () => {
  const build = (seed: number): Sequential =>
    new Sequential(new Conv2d(2, 3, 3, { generator: new Generator(seed) }), new Linear(4, 5, { generator: new Generator(seed) }));
  manualSeed(1);
  const a = build(7);
  manualSeed(2);
  const b = build(7);
  for (const [name, t] of a.stateDict()) assert.ok(t.equal(b.stateDict().get(name)!), `${name} differs for the same seed`);
  const c = build(8);
  assert.ok(!a.stateDict().get('0.weight')!.equal(c.stateDict().get('0.weight')!));
  // one generator shared by several layers draws in construction order
  const g1 = new Generator(9);
  const g2 = new Generator(9);
  const first = [new Linear(3, 3, { generator: g1 }), new Linear(3, 3, { generator: g1 })];
  const second = [new Linear(3, 3, { generator: g2 }), new Linear(3, 3, { generator: g2 })];
  assert.ok(first[1].weight.equal(second[1].weight));
  assert.ok(!first[0].weight.equal(first[1].weight));
  // without a generator, init follows manualSeed
  manualSeed(3);
  const d = new Linear(4, 4);
  manualSeed(3);
  assert.ok(d.weight.equal(new Linear(4, 4).weight));
});

test('Linear and Conv2d forward: shapes and values equal to the functional form', () => {
  const linear = new Linear(3, 2, { generator: new Generator(4) });
  const x = randn([5, 3], { generator: new Generator(5) });
  const y = linear.forward(x);
  assert.deepEqual(y.shape, [5, 2]);
  assert.ok(y.allclose(x.matmul(linear.weight.transpose(0, 1)).add(linear.bias!), 1e-6, 1e-6));
  assert.deepEqual(linear.forward(zeros([2, 7, 3])).shape, [2, 7, 2], 'leading dims pass through');
  assert.deepEqual(new Linear(3, 2, { bias: false }).forward(x).shape, [5, 2]);

  const images = zeros([2, 3, 9, 9]);
  const shape = (c: Conv2d): number[] => c.forward(images).shape;
  assert.deepEqual(shape(new Conv2d(3, 4, 3)), [2, 4, 7, 7]);
  assert.deepEqual(shape(new Conv2d(3, 4, 3, { padding: 1 })), [2, 4, 9, 9]);
  assert.deepEqual(shape(new Conv2d(3, 4, 3, { stride: 2, padding: 1 })), [2, 4, 5, 5]);
  assert.deepEqual(shape(new Conv2d(3, 4, 3, { dilation: 2 })), [2, 4, 5, 5]);
  assert.deepEqual(shape(new Conv2d(3, 6, 1, { groups: 3 })), [2, 6, 9, 9]);
  const conv = new Conv2d(3, 4, 3, { stride: 2, padding: 1, generator: new Generator(6) });
  const r = randn([1, 3, 6, 6], { generator: new Generator(7) });
  assert.ok(conv.forward(r).equal(F.conv2d(r, conv.weight, conv.bias, { stride: 2, padding: 1 })));
  assert.throws(
    () => new Conv2d(3, 4, 3, { groups: 2 }),
    (e: Error) => e instanceof ModelDefinitionError && /divisible by groups=2/.test(e.message),
  );
});

test('BatchNorm1d accepts [N, C] and [N, C, L]; BatchNorm2d [N, C, H, W]', () => {
  assert.deepEqual(new BatchNorm1d(3).forward(randn([4, 3])).shape, [4, 3]);
  assert.deepEqual(new BatchNorm1d(3).forward(randn([4, 3, 5])).shape, [4, 3, 5]);
  assert.deepEqual(new BatchNorm2d(3).forward(randn([2, 3, 4, 4])).shape, [2, 3, 4, 4]);
  assert.throws(
    () => new BatchNorm1d(3).forward(randn([2, 3, 4, 4])),
    (e: Error) => e instanceof TensorError && /expected a 2-D input/.test(e.message),
  );
  // training output is standardized per channel
  const y = new BatchNorm2d(2).forward(randn([8, 2, 3, 3], { generator: new Generator(8) }));
  const perChannelMean = y.mean([0, 2, 3]).toNumbers();
  perChannelMean.forEach((m) => assert.ok(Math.abs(m) < 1e-5));
});

test('parameter-free layers and containers: shapes and behaviour', () => {
  const x = randn([2, 3, 8, 8], { generator: new Generator(9) });
  assert.deepEqual(new MaxPool2d(2).forward(x).shape, [2, 3, 4, 4]);
  assert.deepEqual(new MaxPool2d(3, 2, 1).forward(x).shape, [2, 3, 4, 4]);
  assert.deepEqual(new AvgPool2d(2).forward(x).shape, [2, 3, 4, 4]);
  assert.deepEqual(new AvgPool2d(4, 2).forward(x).shape, [2, 3, 3, 3]);
  assert.deepEqual(new AdaptiveAvgPool2d(1).forward(x).shape, [2, 3, 1, 1]);
  assert.deepEqual(new AdaptiveAvgPool2d([2, 3]).forward(x).shape, [2, 3, 2, 3]);
  assert.deepEqual(new Flatten().forward(x).shape, [2, 192]);
  assert.deepEqual(new Flatten(2).forward(x).shape, [2, 3, 64]);
  assert.equal(new Identity().forward(x), x);
  assert.deepEqual(new ReLU().forward(tensor([-1, 2])).toNumbers(), [0, 2]);
  assert.deepEqual(new Dropout(0.3).forward(x).shape, [2, 3, 8, 8]);
  assert.throws(
    () => new Dropout(1.5),
    (e: Error) => e instanceof ModelDefinitionError && /p must be in \[0, 1\], got 1\.5/.test(e.message),
  );
  assert.throws(() => new Dropout(NaN), ModelDefinitionError);
  const seq = new Sequential(new Conv2d(3, 4, 3, { padding: 1 }), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(64, 10));
  assert.equal(seq.length, 5);
  assert.ok(seq.at(4) instanceof Linear);
  assert.throws(
    () => seq.at(5),
    (e: Error) => e instanceof ModelDefinitionError && /has 5 layers, no index 5/.test(e.message),
  );
  assert.deepEqual(seq.forward(x).shape, [2, 10]);
  assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias', '4.weight', '4.bias']);
  assert.ok(new Sequential().forward(x) === x);
});
