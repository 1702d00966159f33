import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, noGrad, type Tensor } from '../../src/tensor/index.js';
import { Module, Sequential, Conv2d, Linear, ReLU, Flatten, BatchNorm2d } from '../../src/nn/index.js';
import { countFlops } from '../../src/metrics/flops.js';
import { ConfigError } from '../../src/util/errors.js';

/** conv 1→2 k3 on 5×5 (→ 2×3×3), then linear 18→3. */
function handNet(): Sequential {
  return new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new ReLU(), new Flatten(), new Linear(18, 3));
}

test('dense FLOPs of a hand-computable model: 2 · (conv 3·3·1·9·2 + linear 18·3)', () => {
  const net = handNet();
  const f = countFlops(net, [1, 1, 5, 5]);
  // conv: out 3×3, c_in/groups = 1, k² = 9, c_out = 2 → 162 MACs; linear: 18·3 = 54 MACs.
  assert.deepEqual(
    f.perLayer.map((l) => [l.name, l.kind, l.denseMacs, l.calls, l.outputShape]),
    [
      ['0', 'conv2d', 162, 1, [1, 2, 3, 3]],
      ['4', 'linear', 54, 1, [1, 3]],
    ],
  );
  assert.equal(f.denseMacs, 216);
  assert.equal(f.dense, 432);
  assert.equal(f.nonzero, 432, 'dense weights: non-zero FLOPs = dense FLOPs');
  net.dispose();
});

test('non-zero FLOPs scale each layer by its weight density', () => {
  const net = handNet();
  const conv = net.at(0) as Conv2d;
  const fc = net.at(4) as Linear;
  noGrad(() =>
    tidy(() => {
      conv.weight.copy_(
        tensor(
          Array.from({ length: 18 }, (_, i) => (i % 2 === 0 ? 0 : 1)),
          [2, 1, 3, 3],
        ),
      ); // density 1/2
      fc.weight.copy_(
        tensor(
          Array.from({ length: 54 }, (_, i) => (i < 36 ? 0 : 1)),
          [3, 18],
        ),
      ); // density 1/3
    }),
  );
  const f = countFlops(net, [1, 1, 5, 5]);
  assert.deepEqual(
    f.perLayer.map((l) => [l.density, l.nonzeroMacs, l.nonzeroFlops]),
    [
      [0.5, 81, 162],
      [1 / 3, 18, 36],
    ],
  );
  assert.equal(f.nonzeroMacs, 99);
  assert.equal(f.nonzero, 198);
  net.dispose();
});

test('stride, padding and groups; counts are per image whatever the batch', () => {
  const net = new Sequential(new Conv2d(4, 4, 3, { groups: 2, padding: 1, stride: 2 }));
  // out 3×3 (6×6, pad 1, stride 2), c_in/groups = 2, k² = 9, c_out = 4 → 9·2·9·4 = 648.
  assert.equal(countFlops(net, [1, 4, 6, 6]).denseMacs, 648);
  assert.equal(countFlops(net, [3, 4, 6, 6]).denseMacs, 648);
  net.dispose();
});

/** Uses one Linear twice and leaves another unused. */
class Twice extends Module {
  fc = this.registerModule('fc', new Linear(4, 4));
  unused = this.registerModule('unused', new Linear(4, 100));
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.fc.forward(x));
  }
}

test('a layer called twice counts twice, an unused one not at all', () => {
  const net = new Twice();
  const f = countFlops(net, [1, 4]);
  assert.deepEqual(
    f.perLayer.map((l) => [l.name, l.calls, l.denseMacs]),
    [
      ['fc', 2, 32],
      ['unused', 0, 0],
    ],
  );
  net.dispose();
});

test('forward methods and train/eval modes are restored, also when the forward throws', () => {
  const net = handNet();
  net.train();
  (net.at(1) as Module).training = false; // a mixed state must come back as it was
  countFlops(net, [1, 1, 5, 5]);
  const check = (): void => {
    assert.ok(!Object.prototype.hasOwnProperty.call(net.at(0), 'forward'));
    assert.ok(!Object.prototype.hasOwnProperty.call(net.at(4), 'forward'));
    assert.equal(net.training, true);
    assert.equal(net.at(1).training, false);
    assert.equal(net.at(4).training, true);
  };
  check();
  assert.throws(() => countFlops(net, [1, 1, 6, 6])); // linear gets 32 features, not 18
  check();
  assert.throws(() => countFlops(net, [25]), ConfigError);
  assert.throws(() => countFlops(net, [1, 1, 0, 5]), ConfigError);
  net.dispose();
});
