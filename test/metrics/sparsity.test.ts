import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, noGrad } from '../../src/tensor/index.js';
import { Sequential, Conv2d, Linear, ReLU, Flatten, BatchNorm2d } from '../../src/nn/index.js';
import { modelSparsity, nonzeroParameterCount } from '../../src/metrics/sparsity.js';
import { prunableParameters } from '../../src/prune/index.js';

/** conv 1→2 k3 (18 weights, 2 biases), BN(2) (2+2), linear 18→3 (54 weights, 3 biases). */
function handNet(): Sequential {
  const net = new Sequential(new Conv2d(1, 2, 3), new BatchNorm2d(2), new ReLU(), new Flatten(), new Linear(18, 3));
  const conv = net.at(0) as Conv2d;
  const fc = net.at(4) as Linear;
  noGrad(() =>
    tidy(() => {
      // conv: 9 of 18 zero; linear: 45 of 54 zero; one bias zero; BN bias is 0 (2 zeros) by init.
      conv.weight.copy_(
        tensor(
          Array.from({ length: 18 }, (_, i) => (i % 2 === 0 ? 0 : i)),
          [2, 1, 3, 3],
        ),
      );
      fc.weight.copy_(
        tensor(
          Array.from({ length: 54 }, (_, i) => (i < 45 ? 0 : -i)),
          [3, 18],
        ),
      );
      conv.bias!.copy_(tensor([0, 1]));
      fc.bias!.copy_(tensor([1, 2, 3]));
    }),
  );
  return net;
}

test('global and per-layer sparsity count exact zeros of the prunable weights', () => {
  const net = handNet();
  const s = modelSparsity(net, prunableParameters(net));
  assert.equal(s.prunableTotal, 72);
  assert.equal(s.prunableZeros, 54);
  assert.equal(s.prunableNonzero, 18);
  assert.equal(s.global, 54 / 72);
  assert.deepEqual(s.perLayer, [
    { name: '0.weight', total: 18, zeros: 9, nonzero: 9, sparsity: 0.5 },
    { name: '4.weight', total: 54, zeros: 45, nonzero: 9, sparsity: 45 / 54 },
  ]);
  // All parameters: 18 + 2 + 2 + 2 + 54 + 3 = 81; zeros: 9 + 1 (conv bias) + 2 (BN bias) + 45 = 57.
  assert.equal(s.totalParameters, 81);
  assert.equal(s.nonzeroParameters, 24);
  assert.equal(nonzeroParameterCount(net), 24);
  net.dispose();
});

test('the prunable set can be given as options or as a list', () => {
  const net = handNet();
  const s = modelSparsity(net, prunableParameters(net, { includeFirst: false }));
  assert.deepEqual(
    s.perLayer.map((l) => l.name),
    ['4.weight'],
  );
  assert.equal(s.global, 45 / 54);
  const t = modelSparsity(net, prunableParameters(net, { includeLast: false }));
  assert.equal(t.global, 0.5);
  assert.equal(t.nonzeroParameters, 24, 'non-zero parameters always over the whole model');
  net.dispose();
});
