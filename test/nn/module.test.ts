// Module: names and order, state dicts, train/eval, gradients, and batch-norm
// running statistics against hand computation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, ones, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, Dropout, F, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { CheckpointError, ModelDefinitionError } from '../../src/util/errors.js';

class Net extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly head: Sequential;
  constructor(seed: number, outFeatures = 2) {
    super();
    const generator = new Generator(seed);
    this.conv1 = this.registerModule('conv1', new Conv2d(1, 2, 3, { bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(2));
    this.head = this.registerModule(
      'head',
      new Sequential(new Linear(8, 4, { generator }), new ReLU(), new Dropout(0.5), new Linear(4, outFeatures, { generator })),
    );
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.bn1.forward(this.conv1.forward(x)).relu().flatten(1));
  }
}

/** A module with its own parameter and buffer before its children, like torch.nn.Module. */
class Scaled extends Module {
  readonly scale: Tensor;
  readonly inner: Linear;
  constructor() {
    super();
    this.inner = this.registerModule('inner', new Linear(2, 2));
    this.scale = this.registerParameter('scale', ones([1]));
    this.registerBuffer('step', tensor([0], [1], { dtype: 'int64' }));
  }
  forward(x: Tensor): Tensor {
    return this.inner.forward(x).mul(this.scale);
  }
}

const NET_STATE_KEYS = [
  'conv1.weight',
  'bn1.weight',
  'bn1.bias',
  'bn1.running_mean',
  'bn1.running_var',
  'bn1.num_batches_tracked',
  'head.0.weight',
  'head.0.bias',
  'head.3.weight',
  'head.3.bias',
];
const input = (seed: number): Tensor =>
  tidy(() =>
    tensor(
      Float32Array.from({ length: 2 * 16 }, (_, i) => Math.sin(seed + i)),
      [2, 1, 4, 4],
    ),
  );

test('names and order are deterministic and follow PyTorch (own params, own buffers, then children)', () => {
  const net = new Net(0);
  assert.deepEqual([...net.stateDict().keys()], NET_STATE_KEYS);
  assert.deepEqual([...new Net(1).stateDict().keys()], NET_STATE_KEYS);
  assert.deepEqual(
    net.namedParameters().map(([n]) => n),
    ['conv1.weight', 'bn1.weight', 'bn1.bias', 'head.0.weight', 'head.0.bias', 'head.3.weight', 'head.3.bias'],
  );
  assert.deepEqual(
    net.namedBuffers().map(([n]) => n),
    ['bn1.running_mean', 'bn1.running_var', 'bn1.num_batches_tracked'],
  );
  assert.deepEqual(
    net.namedModules().map(([n]) => n),
    ['', 'conv1', 'bn1', 'head', 'head.0', 'head.1', 'head.2', 'head.3'],
  );
  assert.deepEqual(
    net.namedChildren().map(([n]) => n),
    ['conv1', 'bn1', 'head'],
  );
  assert.deepEqual([...new Scaled().stateDict().keys()], ['scale', 'step', 'inner.weight', 'inner.bias']);
  assert.equal(net.parameters().length, 7);
  assert.equal(net.parameterCount(), 2 * 9 + 2 + 2 + 8 * 4 + 4 + 4 * 2 + 2);
  assert.ok(net.parameters().every((p) => p.requiresGrad));
  assert.ok(net.namedBuffers().every(([, b]) => !b.requiresGrad));
});

test('member names must be unique and free of dots', () => {
  class Bad extends Module {
    constructor(name: string, twice = false) {
      super();
      this.registerModule(name, new ReLU());
      if (twice) this.registerParameter(name, ones([1]));
    }
    forward(x: Tensor): Tensor {
      return x;
    }
  }
  const refused = (pattern: RegExp) => (e: Error) => e instanceof ModelDefinitionError && pattern.test(e.message);
  assert.throws(() => new Bad('a.b'), refused(/Bad: invalid member name 'a.b'/));
  assert.throws(() => new Bad(''), refused(/invalid member name/));
  assert.throws(() => new Bad('x', true), refused(/Bad already has a member named 'x'/));
});

test('stateDict is live; cloneStateDict copies; loadStateDict round-trips every tensor', () => {
  const a = new Net(1);
  const b = new Net(2);
  a.forward(input(0)); // moves the running statistics away from 0/1
  assert.ok(!a.stateDict().get('head.0.weight')!.equal(b.stateDict().get('head.0.weight')!));
  const snapshot = a.cloneStateDict();
  b.loadStateDict(snapshot);
  for (const [name, t] of a.stateDict()) assert.ok(t.equal(b.stateDict().get(name)!), `${name} differs after loading`);
  assert.equal(b.stateDict().get('bn1.num_batches_tracked')!.item(), 1);
  // b holds copies: changing a afterwards leaves b alone
  a.stateDict().get('conv1.weight')!.fill_(7);
  assert.ok(a.conv1.weight.equal(a.stateDict().get('conv1.weight')!), 'stateDict tensors are the live parameters');
  assert.ok(!b.conv1.weight.equal(a.conv1.weight));
  assert.ok(b.conv1.weight.equal(snapshot.get('conv1.weight')!));
  // plain objects work too, and the result predicts the same as the source
  const c = new Net(3);
  c.loadStateDict(Object.fromEntries(b.stateDict()));
  b.eval();
  c.eval();
  assert.ok(b.forward(input(1)).equal(c.forward(input(1))));
  // loading keeps parameters trainable leaves
  assert.ok(c.parameters().every((p) => p.requiresGrad));
});

test('loading a state dict of another model raises CheckpointError naming the keys, and changes nothing', () => {
  const target = new Net(1);
  const before = target.cloneStateDict();
  const other = new Net(2, 5); // head.3 is 4 → 5
  assert.throws(
    () => target.loadStateDict(other.stateDict(), { origin: 'other.safetensors' }),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /\(from other\.safetensors\)/);
      assert.match(e.message, /does not fit Net\. Keys 2 of another shape: /);
      assert.match(
        e.message,
        /'head\.3\.weight' is \[5, 4\] in the file, \[2, 4\] in the model; 'head\.3\.bias' is \[5\] in the file, \[2\] in the model\.$/,
      );
      return true;
    },
  );
  for (const [name, t] of target.stateDict()) assert.ok(t.equal(before.get(name)!), `${name} changed by a failed load`);

  const renamed = new Map([...new Net(3).stateDict()].map(([k, v]) => [k.replace('head.', 'classifier.'), v]));
  assert.throws(
    () => target.loadStateDict(renamed),
    (e: unknown) => {
      assert.ok(e instanceof CheckpointError);
      assert.match(e.message, /Keys 4 missing: 'head\.0\.weight', 'head\.0\.bias', 'head\.3\.weight', 'head\.3\.bias'\./);
      assert.match(e.message, /Keys 4 unexpected: 'classifier\.0\.weight', /);
      return true;
    },
  );
  // strict: false skips missing and unexpected names but still checks shapes
  const partial = new Map([
    ['conv1.weight', new Net(4).conv1.weight],
    ['extra', ones([1])],
  ]);
  target.loadStateDict(partial, { strict: false });
  assert.ok(target.conv1.weight.equal(partial.get('conv1.weight')!));
  assert.throws(() => target.loadStateDict(new Map([['conv1.weight', ones([3])]]), { strict: false }), CheckpointError);
  const wrongDtype = new Map(target.stateDict());
  wrongDtype.set('bn1.num_batches_tracked', tensor([0], [], { dtype: 'float32' }));
  assert.throws(
    () => target.loadStateDict(wrongDtype),
    /Keys 1 of another dtype: 'bn1\.num_batches_tracked' is float32 in the state dict, int64 in the model\./,
  );
});

test('train() and eval() reach every descendant and change behaviour', () => {
  const net = new Net(5);
  assert.ok(net.namedModules().every(([, m]) => m.training));
  assert.equal(net.eval(), net);
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  const x = input(2);
  const y1 = net.forward(x);
  const y2 = net.forward(x);
  assert.ok(y1.equal(y2), 'evaluation is deterministic (no dropout, running stats)');
  assert.equal(net.bn1.numBatchesTracked.item(), 0, 'evaluation does not update batch-norm statistics');
  net.train();
  assert.ok(net.namedModules().every(([, m]) => m.training));
  net.forward(x);
  assert.equal(net.bn1.numBatchesTracked.item(), 1);
  net.train(false);
  assert.ok(!net.head.training);
});

test('backward fills every parameter gradient; zeroGrad clears them all', () => {
  const net = new Net(6);
  net.head.at(2).eval(); // no dropout: every head unit gets a gradient
  F.crossEntropy(net.forward(input(3)), tensor([0, 1], [2], { dtype: 'int64' })).backward();
  for (const [name, p] of net.namedParameters()) {
    const g = p.grad;
    assert.ok(g !== null, `${name} has a gradient`);
    assert.deepEqual(g.shape, p.shape);
  }
  net.zeroGrad();
  for (const [name, p] of net.namedParameters()) assert.equal(p.grad, null, `${name} cleared`);
});

// ---- batch-norm running statistics ----

// Three batches for BatchNorm1d(2): per feature, batch mean and unbiased variance.
//   batch 1: [[1, 10], [3, 10]]           means (2, 10), variances (2, 0)
//   batch 2: [[0, 4], [4, 8]]             means (2, 6),  variances (8, 8)
//   batch 3: [[5, 0], [7, 0], [9, 3]]     means (7, 1),  variances (4, 3)
const BATCHES: [number[], number[]][] = [
  [
    [1, 10, 3, 10],
    [2, 2],
  ],
  [
    [0, 4, 4, 8],
    [2, 2],
  ],
  [
    [5, 0, 7, 0, 9, 3],
    [3, 2],
  ],
];
const MEANS = [
  [2, 10],
  [2, 6],
  [7, 1],
];
const VARIANCES = [
  [2, 0],
  [8, 8],
  [4, 3],
];
const runBatches = (bn: BatchNorm1d): void => {
  for (const [values, shape] of BATCHES) tidy(() => bn.forward(tensor(values, shape)));
};
const assertClose = (t: Tensor, expected: number[], tol = 1e-5): void =>
  t.toNumbers().forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `element ${i}: ${v}, expected ${expected[i]}`));

test('BatchNorm exponential running statistics: r ← (1-m)·r + m·x̄, variance unbiased', () => {
  const bn = new BatchNorm1d(2, { momentum: 0.1 });
  runBatches(bn);
  const m = 0.1;
  const expected = (init: number, xs: number[][], f: number): number => xs.reduce((r, x) => (1 - m) * r + m * x[f], init);
  assertClose(bn.runningMean, [expected(0, MEANS, 0), expected(0, MEANS, 1)]);
  assertClose(bn.runningVar, [expected(1, VARIANCES, 0), expected(1, VARIANCES, 1)]);
  // spelled out for feature 0: 0.9·(0.9·(0.9·0 + 0.2) + 0.2) + 0.7
  assertClose(bn.runningMean.slice(0, 0, 1), [0.9 * (0.9 * 0.2 + 0.2) + 0.7]);
  assert.equal(bn.numBatchesTracked.item(), 3);
  const momentumHalf = new BatchNorm1d(2, { momentum: 0.5 });
  runBatches(momentumHalf);
  assertClose(momentumHalf.runningMean, [0.25 * 2 + 0.5 * 7 + 0.125 * 2, 0.125 * 10 + 0.25 * 6 + 0.5 * 1]);
});

test('BatchNorm cumulative statistics (momentum null) are the exact mean of batch statistics after resetRunningStats', () => {
  const bn = new BatchNorm1d(2, { momentum: null });
  bn.runningMean.fill_(5);
  bn.runningVar.fill_(9);
  bn.numBatchesTracked.fill_(42);
  bn.resetRunningStats();
  assert.deepEqual(bn.runningMean.toNumbers(), [0, 0]);
  assert.deepEqual(bn.runningVar.toNumbers(), [1, 1]);
  assert.equal(bn.numBatchesTracked.item(), 0);
  runBatches(bn);
  assertClose(bn.runningMean, [(2 + 2 + 7) / 3, (10 + 6 + 1) / 3]);
  assertClose(bn.runningVar, [(2 + 8 + 4) / 3, (0 + 8 + 3) / 3]);
  assert.equal(bn.numBatchesTracked.item(), 3);
  // the first batch alone replaces the initial statistics entirely
  bn.resetRunningStats();
  tidy(() => bn.forward(tensor(BATCHES[1][0], BATCHES[1][1])));
  assertClose(bn.runningMean, MEANS[1], 0);
  assertClose(bn.runningVar, VARIANCES[1], 0);
  // evaluation uses the statistics: (x - mean) / √(var + eps)
  bn.eval();
  assertClose(bn.forward(tensor([2, 6, 4, 10], [2, 2])), [0, 0, 2 / Math.sqrt(8 + 1e-5), 4 / Math.sqrt(8 + 1e-5)]);
  assert.equal(bn.numBatchesTracked.item(), 1);
});

test('BatchNorm2d cumulative statistics pool over batch and space', () => {
  const bn = new BatchNorm2d(1, { momentum: null });
  tidy(() => bn.forward(tensor([1, 2, 3, 4], [1, 1, 2, 2]))); // mean 2.5, unbiased var 5/3
  tidy(() => bn.forward(tensor([0, 0, 0, 0, 10, 10, 10, 10], [2, 1, 2, 2]))); // mean 5, unbiased var 200/7
  assertClose(bn.runningMean, [(2.5 + 5) / 2]);
  assertClose(bn.runningVar, [(5 / 3 + 200 / 7) / 2], 1e-4);
});
