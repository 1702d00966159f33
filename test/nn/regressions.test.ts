// Tests for bugs found and fixed (each would have caught its bug).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, ones, randn, zeros } from '../../src/tensor/index.js';
import { BatchNorm1d } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { TensorError } from '../../src/util/errors.js';

test('bool tensors store 0/1 whatever bytes they were built from', () => {
  assert.deepEqual(tensor([2, 0, 255], [3], { dtype: 'bool' }).toNumbers(), [1, 0, 1]);
  assert.deepEqual(tensor(new Uint8Array([7, 0]), [2], { dtype: 'bool' }).toNumbers(), [1, 0]);
});

test('failures inside libtorch are TensorErrors with its message', () => {
  assert.throws(() => tensor([1, 2], [2]).add(ones([3])), (e: Error) => e instanceof TensorError && /size of tensor a \(2\)/.test(e.message));
});

test('a failed BatchNorm forward does not count as a batch (cumulative average stays exact)', () => {
  const bn = new BatchNorm1d(1, { momentum: null });
  assert.throws(() => bn.forward(tensor([5], [1, 1]))); // one value per channel: refused
  assert.equal(bn.numBatchesTracked.item(), 0);
  bn.forward(tensor([1, 3], [2, 1]));
  assert.equal(bn.runningMean.item(), 2);
  bn.dispose();
});

test('SGD.setMasks refuses a mask of the wrong shape, naming it', () => {
  const p = randn([2, 3]).requireGrad();
  const opt = new SGD([p], { lr: 0.1 });
  assert.throws(() => opt.setMasks([zeros([3, 2])]), /mask 0 has shape \[3, 2\], parameter 0 has \[2, 3\]/);
});
