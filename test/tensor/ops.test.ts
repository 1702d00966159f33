// Tensor operations against hand-computed values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  Tensor,
  arange,
  bernoulli,
  cat,
  dispose,
  full,
  isGradEnabled,
  keep,
  liveTensorCount,
  manualSeed,
  noGrad,
  ones,
  rand,
  randint,
  randn,
  randperm,
  scalar,
  stack,
  tensor,
  tidy,
  where,
  zeros,
} from '../../src/tensor/index.js';
import { Dropout, F } from '../../src/nn/index.js';

/** Elementwise |actual - expected| <= tol, with the index of the first miss. */
function assertClose(actual: Tensor | ArrayLike<number>, expected: number[], tol = 1e-6): void {
  const values = actual instanceof Tensor ? actual.toNumbers() : Array.from(actual);
  assert.equal(values.length, expected.length, `length ${values.length}, expected ${expected.length}`);
  values.forEach((v, i) => assert.ok(Math.abs(v - expected[i]) <= tol, `element ${i}: ${v}, expected ${expected[i]}`));
}
const f32 = (values: number[], shape?: number[]): Tensor => tensor(values, shape);
const f64 = (values: number[], shape?: number[]): Tensor => tensor(values, shape, { dtype: 'float64' });
const i64 = (values: number[], shape?: number[]): Tensor => tensor(values, shape, { dtype: 'int64' });

// ---- creation and data out ----

test('TypedArrays round-trip for every dtype, with the matching array type', () => {
  const cases: [Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array, string][] = [
    [new Float32Array([1.5, -2, 3.25, 0]), 'float32'],
    [new Float64Array([Math.PI, -1e300, 5e-324, 0]), 'float64'],
    [new BigInt64Array([2n ** 53n + 1n, -(2n ** 62n), 0n, 7n]), 'int64'],
    [new Int32Array([2 ** 31 - 1, -(2 ** 31), 0, 42]), 'int32'],
    [new Uint8Array([0, 255, 1, 128]), 'uint8'],
  ];
  for (const [data, dtype] of cases) {
    const t = tensor(data, [2, 2]);
    assert.equal(t.dtype, dtype);
    assert.deepEqual(t.shape, [2, 2]);
    assert.equal(t.numel, 4);
    const back = t.toArray();
    assert.equal(back.constructor, data.constructor, `${dtype} comes back as ${back.constructor.name}`);
    assert.deepEqual(back, data);
    t.dispose();
  }
  const mask = tensor(new Uint8Array([1, 0, 0, 1]), [4], { dtype: 'bool' });
  assert.equal(mask.dtype, 'bool');
  assert.deepEqual(mask.toArray(), new Uint8Array([1, 0, 0, 1]));
  assert.equal(mask.countNonzero(), 2);
  dispose(mask);
});

test('tensor() from numbers honours dtype; float32 rounds; int64 via toNumbers', () => {
  assert.deepEqual(f32([0.1]).toArray(), new Float32Array([Math.fround(0.1)]));
  assert.deepEqual(f64([0.1]).toArray(), new Float64Array([0.1]));
  assert.deepEqual(i64([3, -4]).toArray(), new BigInt64Array([3n, -4n]));
  assert.deepEqual(i64([3, -4]).toNumbers(), [3, -4]);
  assert.deepEqual(tensor([1, 0, 1], [3], { dtype: 'bool' }).toArray(), new Uint8Array([1, 0, 1]));
  assert.deepEqual(tensor([7, -7], [2], { dtype: 'int32' }).toArray(), new Int32Array([7, -7]));
  assert.equal(scalar(2.5).item(), 2.5);
  assert.deepEqual(scalar(2.5).shape, []);
});

test('a subarray is read from its own offset, not the start of the buffer', () => {
  const all = new Float32Array([10, 11, 12, 13, 14]);
  assert.deepEqual(tensor(all.subarray(2, 4)).toArray(), new Float32Array([12, 13]));
  const bigints = new BigInt64Array([1n, 2n, 3n]);
  assert.deepEqual(tensor(bigints.subarray(1)).toNumbers(), [2, 3]);
});

test('zeros, ones, full, arange, zerosLike', () => {
  assert.deepEqual(zeros([2, 2]).toArray(), new Float32Array(4));
  assert.deepEqual(ones([3], { dtype: 'int32' }).toArray(), new Int32Array([1, 1, 1]));
  assert.deepEqual(full([2], 7, { dtype: 'float64' }).toArray(), new Float64Array([7, 7]));
  const r = arange(0, 5);
  assert.equal(r.dtype, 'int64');
  assert.deepEqual(r.toNumbers(), [0, 1, 2, 3, 4]);
  assertClose(arange(0, 1, 0.25, { dtype: 'float32' }), [0, 0.25, 0.5, 0.75]);
  assert.equal(zeros([0, 3]).numel, 0);
});

// ---- shapes and views ----

test('reshape, view, permute, transpose, flatten, squeeze, unsqueeze', () => {
  const x = f32([0, 1, 2, 3, 4, 5], [2, 3]); // [[0,1,2],[3,4,5]]
  assert.deepEqual(x.reshape([3, 2]).shape, [3, 2]);
  assert.deepEqual(x.reshape([3, -1]).shape, [3, 2]);
  assert.deepEqual(x.view([6]).toNumbers(), [0, 1, 2, 3, 4, 5]);
  const p = x.permute([1, 0]);
  assert.deepEqual(p.shape, [3, 2]);
  assert.equal(p.isContiguous(), false);
  assert.deepEqual(p.toNumbers(), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(x.transpose(0, 1).toNumbers(), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(p.contiguous().view([6]).toNumbers(), [0, 3, 1, 4, 2, 5]);
  assert.deepEqual(f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]).flatten(1).shape, [2, 4]);
  assert.deepEqual(x.unsqueeze(1).shape, [2, 1, 3]);
  assert.deepEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3]);
  assert.deepEqual(zeros([1, 3, 1]).squeeze().shape, [3]);
  assert.deepEqual(f32([1, 2], [2, 1]).expand([2, 3]).toNumbers(), [1, 1, 1, 2, 2, 2]);
});

test('slice (with step) is a view; select, indexSelect, gather, maskedSelect', () => {
  const x = f32([0, 1, 2, 3, 4, 5], [2, 3]);
  assert.deepEqual(x.slice(1, 1, 3).toNumbers(), [1, 2, 4, 5]);
  assert.deepEqual(x.slice(1, 0, 3, 2).toNumbers(), [0, 2, 3, 5]);
  assert.deepEqual(x.slice(0, 1, 2).shape, [1, 3]);
  assert.deepEqual(x.select(0, 1).toNumbers(), [3, 4, 5]);
  assert.deepEqual(x.select(1, -1).toNumbers(), [2, 5]);
  assert.deepEqual(x.indexSelect(1, i64([2, 0])).toNumbers(), [2, 0, 5, 3]);
  assert.deepEqual(x.indexSelect(0, i64([1, 1])).toNumbers(), [3, 4, 5, 3, 4, 5]);
  assert.deepEqual(x.gather(1, i64([2, 0, 1, 1], [2, 2])).toNumbers(), [2, 0, 4, 4]);
  assert.deepEqual(x.maskedSelect(x.gt(2.5)).toNumbers(), [3, 4, 5]);
  // writing into the slice writes into x
  x.slice(1, 0, 1).fill_(9);
  assert.deepEqual(x.toNumbers(), [9, 1, 2, 9, 4, 5]);
});

test('cat and stack', () => {
  const a = f32([0, 1, 2, 3, 4, 5], [2, 3]);
  const b = f32([6, 7, 8], [1, 3]);
  const rows = cat([a, b], 0);
  assert.deepEqual(rows.shape, [3, 3]);
  assert.deepEqual(rows.toNumbers(), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(cat([a, a], 1).toNumbers(), [0, 1, 2, 0, 1, 2, 3, 4, 5, 3, 4, 5]);
  assert.deepEqual(cat([a, a], -1).shape, [2, 6]);
  const s = stack([f32([1, 2]), f32([3, 4])], 0);
  assert.deepEqual(s.shape, [2, 2]);
  assert.deepEqual(s.toNumbers(), [1, 2, 3, 4]);
  assert.deepEqual(stack([f32([1, 2]), f32([3, 4])], 1).toNumbers(), [1, 3, 2, 4]);
});

// ---- elementwise ----

test('arithmetic with tensors, scalars and broadcasting', () => {
  const a = f32([1, 2, 3, 4]);
  const b = f32([2, 2, 2, 2]);
  assert.deepEqual(a.add(b).toNumbers(), [3, 4, 5, 6]);
  assert.deepEqual(a.add(b, 0.5).toNumbers(), [2, 3, 4, 5]);
  assert.deepEqual(a.add(10).toNumbers(), [11, 12, 13, 14]);
  assert.deepEqual(a.sub(b).toNumbers(), [-1, 0, 1, 2]);
  assert.deepEqual(a.sub(b, 2).toNumbers(), [-3, -2, -1, 0]);
  assert.deepEqual(a.mul(b).toNumbers(), [2, 4, 6, 8]);
  assert.deepEqual(a.div(b).toNumbers(), [0.5, 1, 1.5, 2]);
  assert.deepEqual(a.pow(2).toNumbers(), [1, 4, 9, 16]);
  assert.deepEqual(b.pow(a).toNumbers(), [2, 4, 8, 16]);
  assert.deepEqual(a.neg().toNumbers(), [-1, -2, -3, -4]);
  assert.deepEqual(a.maximum(f32([0, 5, 0, 5])).toNumbers(), [1, 5, 3, 5]);
  assert.deepEqual(a.minimum(f32([0, 5, 0, 5])).toNumbers(), [0, 2, 0, 4]);
  assert.deepEqual(i64([5, -5]).remainder(3).toNumbers(), [2, 1]); // sign of the divisor, like Python
  // broadcasting [2,1] with [3]
  assert.deepEqual(
    f32([10, 20], [2, 1])
      .add(f32([1, 2, 3]))
      .toNumbers(),
    [11, 12, 13, 21, 22, 23],
  );
  // integer tensors stay integer with integer scalars; true division gives floats
  assert.equal(i64([1, 2]).add(1).dtype, 'int64');
  const half = i64([1, 2, 3]).div(2);
  assert.equal(half.dtype, 'float32');
  assert.deepEqual(half.toNumbers(), [0.5, 1, 1.5]);
});

test('unary math: exp, log, sqrt, rsqrt, abs, sign, relu, sigmoid, tanh, square, reciprocal, floor, round, clamp', () => {
  assertClose(f64([0, 1, -1]).exp(), [1, Math.E, 1 / Math.E], 1e-15);
  assertClose(f64([1, Math.E, 0.5]).log(), [0, 1, Math.log(0.5)], 1e-15);
  assert.deepEqual(f32([4, 9, 0]).sqrt().toNumbers(), [2, 3, 0]);
  assert.deepEqual(f32([4, 0.25]).rsqrt().toNumbers(), [0.5, 2]);
  assert.deepEqual(f32([-1.5, 2, 0]).abs().toNumbers(), [1.5, 2, 0]);
  assert.deepEqual(f32([-3, 0, 2]).sign().toNumbers(), [-1, 0, 1]);
  assert.deepEqual(f32([-1, 0, 2]).relu().toNumbers(), [0, 0, 2]);
  assertClose(f64([0, Math.log(3)]).sigmoid(), [0.5, 0.75], 1e-15);
  assertClose(f64([0, Math.log(2)]).tanh(), [0, 0.6], 1e-15);
  assert.deepEqual(f32([-3, 2]).square().toNumbers(), [9, 4]);
  assert.deepEqual(f32([4, -0.5]).reciprocal().toNumbers(), [0.25, -2]);
  assert.deepEqual(f32([1.5, -1.5]).floor().toNumbers(), [1, -2]);
  assert.deepEqual(f32([0.5, 1.5, 2.5, 2.6]).round().toNumbers(), [0, 2, 2, 3]); // half to even
  assert.deepEqual(f32([-2, 0.5, 3]).clamp(0, 1).toNumbers(), [0, 0.5, 1]);
  assert.deepEqual(f32([-2, 0.5, 3]).clamp(null, 1).toNumbers(), [-2, 0.5, 1]);
  assert.deepEqual(f32([-2, 0.5, 3]).clamp(0).toNumbers(), [0, 0.5, 3]);
});

test('comparisons and logic give bool tensors; where, isnan, isfinite, equal, allclose', () => {
  const a = f32([1, 2, 3, 4]);
  const b = f32([2, 2, 2, 2]);
  const bools = (t: Tensor): number[] => {
    assert.equal(t.dtype, 'bool');
    return t.toNumbers();
  };
  assert.deepEqual(bools(a.gt(2)), [0, 0, 1, 1]);
  assert.deepEqual(bools(a.ge(2)), [0, 1, 1, 1]);
  assert.deepEqual(bools(a.lt(b)), [1, 0, 0, 0]);
  assert.deepEqual(bools(a.le(b)), [1, 1, 0, 0]);
  assert.deepEqual(bools(a.eq(b)), [0, 1, 0, 0]);
  assert.deepEqual(bools(a.ne(b)), [1, 0, 1, 1]);
  assert.deepEqual(bools(a.gt(1).logicalAnd(a.lt(4))), [0, 1, 1, 0]);
  assert.deepEqual(bools(a.lt(2).logicalOr(a.gt(3))), [1, 0, 0, 1]);
  assert.deepEqual(bools(a.gt(2).logicalNot()), [1, 1, 0, 0]);
  assert.deepEqual(where(a.gt(2), a, b.neg()).toNumbers(), [-2, -2, 3, 4]);
  const odd = f32([NaN, Infinity, -1, -Infinity]);
  assert.deepEqual(bools(odd.isnan()), [1, 0, 0, 0]);
  assert.deepEqual(bools(odd.isfinite()), [0, 0, 1, 0]);
  assert.equal(a.equal(f32([1, 2, 3, 4])), true);
  assert.equal(a.equal(f32([1, 2, 3, 5])), false);
  assert.equal(a.equal(f32([1, 2, 3, 4], [2, 2])), false);
  assert.equal(a.allclose(a.add(1e-7)), true);
  assert.equal(a.allclose(a.add(1e-2)), false);
});

// ---- reductions ----

test('sum, mean, max, min, argmax over all elements and along dims', () => {
  const x = f32([1, -2, 3, -4, 5, -6], [2, 3]);
  assert.equal(x.sum().item(), -3);
  assert.deepEqual(x.sum().shape, []);
  assert.deepEqual(x.sum([0]).toNumbers(), [-3, 3, -3]);
  const kept = x.sum([1], true);
  assert.deepEqual(kept.shape, [2, 1]);
  assert.deepEqual(kept.toNumbers(), [2, -5]);
  assert.equal(x.mean().item(), -0.5);
  assertClose(x.mean([1]), [2 / 3, -5 / 3]);
  assert.equal(x.max().item(), 5);
  assert.equal(x.min().item(), -6);
  const m = x.maxDim(1);
  assert.deepEqual(m.values.toNumbers(), [3, 5]);
  assert.deepEqual(m.indices.toNumbers(), [2, 1]);
  const mn = x.minDim(0, true);
  assert.deepEqual(mn.values.shape, [1, 3]);
  assert.deepEqual(mn.values.toNumbers(), [-4, -2, -6]);
  assert.deepEqual(mn.indices.toNumbers(), [1, 0, 1]);
  assert.equal(x.argmax().item(), 4); // flat index
  assert.deepEqual(x.argmax(1).toNumbers(), [2, 1]);
  assert.deepEqual(x.argmax(0).toNumbers(), [0, 1, 0]);
});

test('abs, norm (1, 2, ∞, along dims), topk, kthvalue, sort, countNonzero', () => {
  const x = f32([1, -2, 3, -4, 5, -6], [2, 3]);
  assert.deepEqual(x.abs().toNumbers(), [1, 2, 3, 4, 5, 6]);
  assertClose([x.norm().item()], [Math.sqrt(91)], 1e-5);
  assert.equal(x.norm(1).item(), 21);
  assert.equal(x.norm(Infinity).item(), 6);
  assertClose(x.norm(2, [1]), [Math.sqrt(14), Math.sqrt(77)], 1e-5);
  const top = x.topk(2);
  assert.deepEqual(top.values.toNumbers(), [3, 1, 5, -4]);
  assert.deepEqual(top.indices.toNumbers(), [2, 0, 1, 0]);
  const bottom = x.topk(1, -1, false);
  assert.deepEqual(bottom.values.toNumbers(), [-2, -6]);
  assert.deepEqual(bottom.indices.toNumbers(), [1, 2]);
  const topCols = x.topk(1, 0);
  assert.deepEqual(topCols.values.toNumbers(), [1, 5, 3]);
  const kth = x.kthvalue(2); // 2nd smallest per row: [-2,1,3] → 1, [-6,-4,5] → -4
  assert.deepEqual(kth.values.toNumbers(), [1, -4]);
  assert.deepEqual(kth.indices.toNumbers(), [0, 0]);
  assert.equal(f32([5, 1, 4, 2, 3]).kthvalue(3).values.item(), 3);
  const sorted = f32([3, 1, 2]).sort();
  assert.deepEqual(sorted.values.toNumbers(), [1, 2, 3]);
  assert.deepEqual(sorted.indices.toNumbers(), [1, 2, 0]);
  assert.deepEqual(f32([3, 1, 2]).sort(-1, true).values.toNumbers(), [3, 2, 1]);
  assert.equal(f32([0, 1, 0, -2]).countNonzero(), 2);
});

// ---- linear algebra and nn functionals ----

test('matmul: matrix-matrix, matrix-vector, batched', () => {
  const a = f32([1, 2, 3, 4], [2, 2]);
  assert.deepEqual(a.matmul(f32([5, 6, 7, 8], [2, 2])).toNumbers(), [19, 22, 43, 50]);
  assert.deepEqual(a.matmul(f32([1, 1])).toNumbers(), [3, 7]);
  const batched = stack([a, a.mul(2)]).matmul(f32([1, 0, 0, 1], [2, 2]));
  assert.deepEqual(batched.shape, [2, 2, 2]);
  assert.deepEqual(batched.toNumbers(), [1, 2, 3, 4, 2, 4, 6, 8]);
  assert.deepEqual(
    f32([1, 2, 3], [1, 3])
      .matmul(f32([1, 1, 1, 0, 0, 1], [3, 2]))
      .toNumbers(),
    [3, 4],
  );
});

test('linear: y = x Wᵀ + b', () => {
  const x = f32([1, 2], [1, 2]);
  const w = f32([1, 0, 2, -1, 0.5, 0.5], [3, 2]);
  assert.deepEqual(F.linear(x, w, f32([0, 1, 2])).toNumbers(), [1, 1, 3.5]);
  assert.deepEqual(F.linear(x, w).toNumbers(), [1, 0, 1.5]);
});

test('conv2d is cross-correlation; bias, stride, padding, channels', () => {
  const x = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 3, 3]);
  const w = f32([1, 2, 3, 4], [1, 1, 2, 2]);
  // out[i][j] = x[i][j] + 2x[i][j+1] + 3x[i+1][j] + 4x[i+1][j+1]
  const y = F.conv2d(x, w, f32([0.5]));
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(y.toNumbers(), [37.5, 47.5, 67.5, 77.5]);
  // zero padding 1, stride 2: windows at padded (0,0), (0,2), (2,0), (2,2)
  assert.deepEqual(F.conv2d(x, w, null, { stride: 2, padding: 1 }).toNumbers(), [4, 18, 36, 77]);
  // two input channels, 1×1 kernel: 3·c0 - c1
  const twoChannels = f32([1, 1, 1, 1, 2, 2, 2, 2], [1, 2, 2, 2]);
  assert.deepEqual(F.conv2d(twoChannels, f32([3, -1], [1, 2, 1, 1])).toNumbers(), [1, 1, 1, 1]);
  // two output channels
  const y2 = F.conv2d(x, f32([1, 0, 0, 0, 0, 0, 0, 1], [2, 1, 2, 2]));
  assert.deepEqual(y2.shape, [1, 2, 2, 2]);
  assert.deepEqual(y2.toNumbers(), [1, 2, 4, 5, 5, 6, 8, 9]);
});

test('batchNorm in training: batch statistics (biased variance), running stats with unbiased variance', () => {
  // column 0: [1,2,3,4] mean 2.5 var 1.25 (unbiased 5/3); column 1: [0,0,4,4] mean 2 var 4 (unbiased 16/3)
  const x = f64([1, 0, 2, 0, 3, 4, 4, 4], [4, 2]);
  const runningMean = zeros([2], { dtype: 'float64' });
  const runningVar = ones([2], { dtype: 'float64' });
  const y = F.batchNorm(x, { weight: f64([2, 1]), bias: f64([0, 1]), runningMean, runningVar, training: true, momentum: 0.1, eps: 0 });
  const s = 2 / Math.sqrt(1.25);
  assertClose(y, [-1.5 * s, 0, -0.5 * s, 0, 0.5 * s, 2, 1.5 * s, 2], 1e-12);
  assertClose(runningMean, [0.25, 0.2], 1e-12);
  assertClose(runningVar, [0.9 + 0.1 * (5 / 3), 0.9 + 0.1 * (16 / 3)], 1e-12);
  // no affine parameters: plain standardization, and eps enters the denominator
  const plain = F.batchNorm(f64([1, 3], [2, 1]), { training: true, momentum: 0.1, eps: 3 });
  assertClose(plain, [-1 / 2, 1 / 2], 1e-12); // var 1, √(1+3) = 2
});

test('batchNorm in evaluation uses the running statistics and leaves them alone', () => {
  const runningMean = f64([1, -1]);
  const runningVar = f64([4, 0.25]);
  const x = f64([3, 1, 5, -1], [2, 2]);
  const y = F.batchNorm(x, { weight: f64([2, 1]), bias: f64([0, 1]), runningMean, runningVar, training: false, momentum: 0.1, eps: 0 });
  // column 0: 2(x-1)/2 = x-1; column 1: (x+1)/0.5 + 1 = 2x+3
  assertClose(y, [2, 5, 4, 1], 1e-12);
  assert.deepEqual(runningMean.toNumbers(), [1, -1]);
  assert.deepEqual(runningVar.toNumbers(), [4, 0.25]);
  // 4-D input normalizes per channel
  const img = f64([1, 2, 3, 4, 10, 20, 30, 40], [1, 2, 2, 2]);
  const z = F.batchNorm(img, { runningMean: f64([0, 10]), runningVar: f64([1, 100]), training: false, momentum: 0.1, eps: 0 });
  assertClose(z, [1, 2, 3, 4, 0, 1, 2, 3], 1e-12);
});

test('max, average and adaptive average pooling', () => {
  const x = arange(1, 17, 1, { dtype: 'float32' }).reshape([1, 1, 4, 4]); // rows 1-4, 5-8, 9-12, 13-16
  assert.deepEqual(F.maxPool2d(x, 2).toNumbers(), [6, 8, 14, 16]);
  assert.deepEqual(F.maxPool2d(x, 2, 1).toNumbers(), [6, 7, 8, 10, 11, 12, 14, 15, 16]);
  assert.deepEqual(F.maxPool2d(f32([-1, -2, -3, -4], [1, 1, 2, 2]), 2, 2, 1).toNumbers(), [-1, -2, -3, -4]); // padding never wins
  assert.deepEqual(F.avgPool2d(x, 2).toNumbers(), [3.5, 5.5, 11.5, 13.5]);
  // 3×3, stride 2, padding 1, padded zeros counted in the divisor 9
  assertClose(F.avgPool2d(x, 3, 2, 1), [14 / 9, 30 / 9, 57 / 9, 99 / 9], 1e-6);
  assert.deepEqual(F.adaptiveAvgPool2d(x, 1).toNumbers(), [8.5]);
  assert.deepEqual(F.adaptiveAvgPool2d(x, 2).toNumbers(), [3.5, 5.5, 11.5, 13.5]);
  // 4 → 3: overlapping windows [0,2), [1,3), [2,4)
  assert.deepEqual(F.adaptiveAvgPool2d(x, 3).toNumbers(), [3.5, 4.5, 5.5, 7.5, 8.5, 9.5, 11.5, 12.5, 13.5]);
  assert.deepEqual(F.maxPool2d(zeros([2, 3, 7, 7]), 2).shape, [2, 3, 3, 3]);
});

test('relu, softmax and logSoftmax', () => {
  assert.deepEqual(F.relu(f32([-1, 0, 3])).toNumbers(), [0, 0, 3]);
  const logits = f64([1, 2, 3, 1, 1, 1], [2, 3]);
  const lse = 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
  assertClose(F.logSoftmax(logits, 1), [1 - lse, 2 - lse, 3 - lse, -Math.log(3), -Math.log(3), -Math.log(3)], 1e-12);
  assertClose(F.softmax(logits, 1), [Math.exp(1 - lse), Math.exp(2 - lse), Math.exp(3 - lse), 1 / 3, 1 / 3, 1 / 3], 1e-12);
  assertClose(
    F.softmax(logits, 0),
    [0.5, 1 / (1 + Math.exp(-1)), 1 / (1 + Math.exp(-2)), 0.5, 1 / (1 + Math.exp(1)), 1 / (1 + Math.exp(2))],
    1e-12,
  );
  // large logits do not overflow
  assertClose(F.logSoftmax(f32([1000, 1000]), 0), [-Math.LN2, -Math.LN2], 1e-6);
});

test('crossEntropy: mean/sum/none, and label smoothing (1-ε)·onehot + ε/C', () => {
  const logits = f64([1, 2, 3, 1, 1, 1], [2, 3]);
  const target = i64([2, 0]);
  const lse = 3 + Math.log(1 + Math.exp(-1) + Math.exp(-2));
  const nll = [lse - 3, Math.log(3)];
  assertClose(F.crossEntropy(logits, target, { reduction: 'none' }), nll, 1e-12);
  assertClose([F.crossEntropy(logits, target).item()], [(nll[0] + nll[1]) / 2], 1e-12);
  assertClose([F.crossEntropy(logits, target, { reduction: 'sum' }).item()], [nll[0] + nll[1]], 1e-12);
  // ε = 0.3, C = 3: loss = 0.7·(-log p_y) + 0.1·Σ_c(-log p_c)
  const row0 = 0.7 * (lse - 3) + 0.1 * (lse - 1 + (lse - 2) + (lse - 3));
  const row1 = Math.log(3); // uniform predictions: every target distribution costs log 3
  assertClose(F.crossEntropy(logits, target, { labelSmoothing: 0.3, reduction: 'none' }), [row0, row1], 1e-12);
  assertClose([F.crossEntropy(logits, target, { labelSmoothing: 0.3 }).item()], [(row0 + row1) / 2], 1e-12);
  // nllLoss on logSoftmax is crossEntropy
  assertClose([F.nllLoss(F.logSoftmax(logits, 1), target).item()], [(nll[0] + nll[1]) / 2], 1e-12);
  assertClose([F.mseLoss(f64([1, 2]), f64([3, 5])).item()], [(4 + 9) / 2], 1e-12);
  assertClose([F.mseLoss(f64([1, 2]), f64([3, 5]), 'sum').item()], [13], 1e-12);
});

test('dropout: identity at p = 0 and in evaluation; in training zeroes ≈ p and scales the rest by 1/(1-p)', () => {
  const x = ones([200, 200]);
  assert.ok(F.dropout(x, 0, true).equal(x));
  assert.ok(F.dropout(x, 0.5, false).equal(x));
  assert.equal(F.dropout(x, 1, true).countNonzero(), 0);
  manualSeed(0);
  const y = F.dropout(x, 0.25, true);
  const zeroFraction = 1 - y.countNonzero() / y.numel;
  assert.ok(Math.abs(zeroFraction - 0.25) < 0.01, `zero fraction ${zeroFraction}`);
  const kept = y.maskedSelect(y.ne(0));
  assert.equal(kept.min().item(), Math.fround(1 / 0.75));
  assert.equal(kept.max().item(), Math.fround(1 / 0.75));
  const layer = new Dropout(0.5);
  layer.eval();
  assert.ok(layer.forward(x).equal(x));
  layer.train();
  assert.ok(!layer.forward(x).equal(x));
});

// ---- in place ----

test('in-place ops modify the tensor, return it, and write through views', () => {
  const t = f32([1, 2, 3, 4]);
  assert.equal(t.add_(1), t);
  assert.deepEqual(t.toNumbers(), [2, 3, 4, 5]);
  t.add_(f32([1, 1, 1, 1]), -2);
  assert.deepEqual(t.toNumbers(), [0, 1, 2, 3]);
  t.mul_(f32([2, 2, 3, 3]));
  assert.deepEqual(t.toNumbers(), [0, 2, 6, 9]);
  t.div_(2);
  assert.deepEqual(t.toNumbers(), [0, 1, 3, 4.5]);
  t.clamp_(0.5, 4);
  assert.deepEqual(t.toNumbers(), [0.5, 1, 3, 4]);
  t.maskedFill_(t.gt(2), -1);
  assert.deepEqual(t.toNumbers(), [0.5, 1, -1, -1]);
  t.copy_(f32([9, 8, 7, 6]));
  assert.deepEqual(t.toNumbers(), [9, 8, 7, 6]);
  t.fill_(3);
  assert.deepEqual(t.toNumbers(), [3, 3, 3, 3]);
  t.zero_();
  assert.deepEqual(t.toNumbers(), [0, 0, 0, 0]);
  const m = zeros([2, 3]);
  m.select(0, 1).fill_(1);
  m.slice(1, 2, 3).add_(5);
  assert.deepEqual(m.toNumbers(), [0, 0, 5, 1, 1, 6]);
  const b = tensor([0, 0, 0], [3], { dtype: 'bool' }).fill_(true);
  assert.deepEqual(b.toNumbers(), [1, 1, 1]);
});

// ---- random ----

test('manualSeed makes global draws repeatable', () => {
  manualSeed(123);
  const a = randn([5]);
  const u = rand([5]);
  manualSeed(123);
  assert.ok(randn([5]).equal(a));
  assert.ok(rand([5]).equal(u));
  assert.ok(!randn([5]).equal(a));
  const uniform = rand([1000]);
  assert.ok(uniform.min().item() >= 0 && uniform.max().item() < 1);
});

test('a Generator is independent of the global seed and does not disturb it', () => {
  manualSeed(1);
  const a = randn([4], { generator: new Generator(7) });
  manualSeed(999);
  const b = randn([4], { generator: new Generator(7) });
  assert.ok(a.equal(b), 'same generator seed, different global seed');
  assert.ok(!randn([4], { generator: new Generator(8) }).equal(a));
  const g = new Generator(7);
  randn([4], { generator: g });
  assert.ok(!randn([4], { generator: g }).equal(a), 'a generator advances');

  manualSeed(5);
  const global1 = randn([3]);
  manualSeed(5);
  randn([100], { generator: new Generator(3) });
  zeros([4]).uniform_(0, 1, new Generator(3));
  assert.ok(randn([3]).equal(global1), 'generator draws leave the global stream alone');
});

test('randint, randperm, bernoulli, uniform_, normal_', () => {
  const g = new Generator(11);
  const r = randint(3, 6, [1000], g);
  assert.equal(r.dtype, 'int64');
  assert.ok(r.min().item() >= 3 && r.max().item() <= 5);
  assert.equal(r.eq(3).countNonzero() > 0 && r.eq(5).countNonzero() > 0, true);
  const perm = randperm(10, g);
  assert.deepEqual(perm.sort().values.toNumbers(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.ok(randperm(10, new Generator(11)).equal(randperm(10, new Generator(11))));
  const coin = bernoulli(full([10000], 0.3), g);
  assert.ok(Math.abs(coin.sum().item() / 10000 - 0.3) < 0.02);
  const u = zeros([10000]).uniform_(-2, 2, g);
  assert.ok(u.min().item() >= -2 && u.max().item() < 2);
  assert.ok(Math.abs(u.mean().item()) < 0.1);
  const n = zeros([10000], { dtype: 'float64' }).normal_(3, 0.5, g);
  assert.ok(Math.abs(n.mean().item() - 3) < 0.03);
  assert.ok(Math.abs(n.sub(3).square().mean().sqrt().item() - 0.5) < 0.03);
});

// ---- memory scopes and autograd mode ----

test('tidy frees intermediates, keeps what it returns, and nests', () => {
  const before = liveTensorCount();
  const result = tidy(() => {
    const a = ones([10]);
    const b = a.add(1);
    const inner = tidy(() => b.mul(b).add(a));
    return { sum: inner.sum(), parts: [inner] };
  });
  assert.equal(liveTensorCount(), before + 2);
  assert.equal(result.sum.item(), 50);
  dispose(result);
  assert.equal(liveTensorCount(), before);
});

test('tidy frees everything when fn throws; keep() exempts a tensor; dispose is idempotent', () => {
  const before = liveTensorCount();
  let saved: Tensor | undefined;
  assert.throws(
    () =>
      tidy(() => {
        ones([3]).add(1);
        saved = keep(zeros([2]));
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(liveTensorCount(), before + 1);
  assert.ok(saved !== undefined && !saved.isDisposed);
  saved.dispose();
  saved.dispose();
  assert.ok(saved.isDisposed);
  assert.equal(liveTensorCount(), before);
  assert.throws(() => tidy(() => Promise.resolve(1) as unknown as number), /synchronous/);
});

test('noGrad stops recording and restores the previous mode, even on throw', () => {
  const x = f32([1, 2, 3]).requireGrad();
  assert.equal(isGradEnabled(), true);
  const y = noGrad(() => {
    assert.equal(isGradEnabled(), false);
    return x.mul(2);
  });
  assert.equal(y.requiresGrad, false);
  assert.equal(isGradEnabled(), true);
  assert.throws(() =>
    noGrad(() => {
      throw new Error('inside');
    }),
  );
  assert.equal(isGradEnabled(), true);
  assert.equal(x.mul(2).requiresGrad, true);
});

test('autograd: backward accumulates into .grad; detach and clearGrad', () => {
  const x = f32([1, 2, 3]).requireGrad();
  const gradOf = (t: Tensor): number[] | undefined => t.grad?.toNumbers();
  x.mul(x).sum().backward();
  assert.deepEqual(gradOf(x), [2, 4, 6]);
  x.sum().backward(); // accumulates
  assert.deepEqual(gradOf(x), [3, 5, 7]);
  x.clearGrad();
  assert.equal(gradOf(x), undefined);
  assert.equal(x.detach().requiresGrad, false);
  x.mul(3).backward(f32([1, 0, 2]));
  assert.deepEqual(gradOf(x), [3, 0, 6]);
});
