// Module.to moves or converts parameters and buffers in place: the same
// tensor objects (so optimizers and masks built on them stay valid), values
// kept, integer buffers untouched, gradients dropped. On a machine without
// CUDA, a move to 'cuda' is refused with a clear error and changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, cudaAvailable, randn, randint, reportedExternalBytes, tidy } from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { ConvNet } from '../../src/models/index.js';

const build = (): ConvNet => new ConvNet({ inChannels: 1, numClasses: 10, imageSize: 28, generator: new Generator(5) });

test('to({dtype}) converts floating tensors in place and keeps identities, values and integer buffers', () => {
  const net = build();
  const g = new Generator(11);
  const x = randn([4, 1, 28, 28], { generator: g });
  const y = randint(0, 10, [4], g);
  try {
    tidy(() => F.crossEntropy(net.forward(x), y).backward()); // a gradient, and BN statistics, to carry over
    const before = new Map([...net.stateDict()].map(([k, t]) => [k, { obj: t, values: Array.from(t.toArray() as ArrayLike<number | bigint>, Number) }]));
    assert.ok(net.conv1.weight.grad !== null);
    const reported = reportedExternalBytes();
    net.to({ dtype: 'float64' });
    for (const [name, t] of net.stateDict()) {
      const b = before.get(name)!;
      assert.equal(t, b.obj, `${name}: same object`);
      assert.equal(t.dtype, name.endsWith('num_batches_tracked') ? 'int64' : 'float64', `${name}: dtype`);
      const now = Array.from(t.toArray() as ArrayLike<number | bigint>, Number);
      assert.deepEqual(now.map((v) => Math.fround(v)), b.values, `${name}: values kept`);
    }
    assert.equal(net.conv1.weight.grad, null, 'gradients dropped');
    assert.equal(net.conv1.weight.requiresGrad, true, 'still a trainable leaf');
    const floatBytes = net.parameters().reduce((n, p) => n + p.numel * 4, 0);
    assert.ok(reportedExternalBytes() - reported >= floatBytes, 'doubled bytes reported to V8');

    // Training goes on in float64 through an optimizer built on the same objects.
    const opt = new SGD(net.parameters(), { lr: 0.1, momentum: 0.9 });
    // Compare the whole tensor: a single entry can sit behind a dead ReLU and get no gradient.
    const w0 = Array.from(net.fc2.weight.toArray() as Float64Array);
    const x64 = x.to('float64');
    tidy(() => F.crossEntropy(net.forward(x64), y).backward());
    opt.step();
    assert.equal(net.fc2.weight.dtype, 'float64');
    const w1 = Array.from(net.fc2.weight.toArray() as Float64Array);
    assert.ok(w1.some((v, i) => v !== w0[i]), 'the step changed the parameter');
    opt.dispose();
    x64.dispose();
  } finally {
    net.dispose();
    x.dispose();
    y.dispose();
  }
});

test('to({device}) to where the tensors are is a no-op; cuda without a GPU is refused and changes nothing', () => {
  const net = build();
  try {
    const w = net.conv1.weight;
    const v = Array.from(w.toArray() as Float32Array);
    net.to({ device: 'cpu' });
    assert.equal(net.conv1.weight, w);
    assert.deepEqual(Array.from(w.toArray() as Float32Array), v);
    if (!cudaAvailable()) {
      assert.throws(() => net.to({ device: 'cuda' }), /device 'cuda' requested but/);
      assert.equal(w.device, 'cpu');
      assert.deepEqual(Array.from(w.toArray() as Float32Array), v);
    } else {
      net.to({ device: 'cuda' });
      assert.match(w.device, /^cuda/);
      net.to({ device: 'cpu' });
      assert.deepEqual(Array.from(w.toArray() as Float32Array), v, 'round trip through the GPU keeps the values');
    }
  } finally {
    net.dispose();
  }
});
