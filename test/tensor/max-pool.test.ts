// maxPool2d computes non-overlapping windows of float32 NCHW CPU input with
// its own kernel and autograd node (native/src/max_pool.cc): its values and
// its input gradients must equal libtorch's max_pool2d bit for bit, ties,
// NaN, -inf, leftover rows and columns, and the shapes that use the AVX2
// path, its scalar tail, or the general kernel included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, noGrad, randn, tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { native } from '../../src/tensor/native.js';
import { Tensor as TensorClass } from '../../src/tensor/tensor.js';

type PoolFn = typeof native.maxPool2d;

function pool(f: PoolFn, x: Tensor, k: number[], s: number[], p = [0, 0], ceil = false): Tensor {
  return new TensorClass(f(x.handle, k, s, p, [1, 1], ceil));
}

/** Exact equality of two float arrays, NaN equal to NaN (Object.is, but +0 and -0 equal). */
function sameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) assert.fail(`${what}: element ${i} is ${a[i]}, libtorch ${b[i]}`);
  }
}

/** Values and, through backward with a random output gradient, input gradients of ours and libtorch's. */
function compare(values: Float32Array, shape: number[], k: number[], s: number[], what: string, p = [0, 0], ceil = false): void {
  tidy(() => {
    const results = [native.maxPool2d, native.maxPool2dLibtorch].map((f) => {
      const x = tensor(values, shape).requireGrad();
      const y = pool(f, x, k, s, p, ceil);
      y.backward(randn(y.shape, { generator: new Generator(11) }));
      return { y: y.toArray() as Float32Array, grad: x.grad!.toArray() as Float32Array, shape: y.shape };
    });
    assert.deepEqual(results[0].shape, results[1].shape, `${what}: output shape`);
    sameBits(results[0].y, results[1].y, `${what}: values`);
    sameBits(results[0].grad, results[1].grad, `${what}: input gradient`);
    // Without autograd (evaluation) too.
    noGrad(() =>
      sameBits(
        pool(native.maxPool2d, tensor(values, shape), k, s, p, ceil).toArray() as Float32Array,
        results[1].y,
        `${what}: values without grad`,
      ),
    );
  });
}

function randomValues(n: number, seed: number): Float32Array {
  return tidy(() => randn([n], { generator: new Generator(seed) }).toArray() as Float32Array);
}

test('2x2 windows: values and input gradients equal libtorch bit for bit (AVX2 rows, scalar tails, leftover rows and columns)', () => {
  for (const [n, c, h, w] of [
    [4, 3, 28, 28], // 14 outputs a row: 8 by AVX2, 6 by the scalar tail
    [2, 5, 14, 14], // 7 a row: scalar only
    [3, 2, 32, 34], // 17 a row
    [2, 3, 9, 11], // floor mode drops the last row and column
    [1, 1, 2, 2],
  ]) {
    compare(randomValues(n * c * h * w, h * 100 + w), [n, c, h, w], [2, 2], [2, 2], `[${n}, ${c}, ${h}, ${w}]`);
  }
});

test('ties keep the first maximum, NaN wins (the last NaN of a window), -inf windows keep their first element', () => {
  const n = 2 * 3 * 20 * 36;
  const values = new Float32Array(n);
  // Small integers: windows full of equal maxima.
  for (let i = 0; i < n; i++) values[i] = ((i * 7919) % 5) - 2;
  for (let i = 0; i < n; i += 37) values[i] = NaN;
  for (let i = 5; i < n; i += 53) values[i] = -Infinity;
  for (let i = 0; i < 8; i++) values[i] = -Infinity; // a window of -inf only
  compare(values, [2, 3, 20, 36], [2, 2], [2, 2], 'ties, NaN, -inf');
  const negZero = new Float32Array(16).map((_, i) => (i % 2 === 0 ? -0 : 0));
  tidy(() => {
    const ours = pool(native.maxPool2d, tensor(negZero, [1, 1, 4, 4]), [2, 2], [2, 2]).toArray() as Float32Array;
    const ref = pool(native.maxPool2dLibtorch, tensor(negZero, [1, 1, 4, 4]), [2, 2], [2, 2]).toArray() as Float32Array;
    assert.deepEqual(
      Array.from(ours).map((v) => Object.is(v, -0)),
      Array.from(ref).map((v) => Object.is(v, -0)),
      '-0 and +0 tie: the first one stays, as libtorch',
    );
  });
});

test('other non-overlapping windows (3x3, 2x3, 1x2) and ceil mode with whole windows use the general kernel, equal to libtorch', () => {
  compare(randomValues(2 * 3 * 12 * 12, 1), [2, 3, 12, 12], [3, 3], [3, 3], '3x3');
  compare(randomValues(2 * 3 * 10 * 13, 2), [2, 3, 10, 13], [2, 3], [2, 3], '2x3, leftover column');
  compare(randomValues(1 * 2 * 6 * 8, 3), [1, 2, 6, 8], [1, 2], [1, 2], '1x2');
  compare(randomValues(2 * 2 * 8 * 8, 4), [2, 2, 8, 8], [2, 2], [2, 2], 'ceil mode, whole windows', [0, 0], true);
});

test('what the kernel does not take goes to libtorch unchanged: overlapping windows, padding, partial ceil windows, 3-D input, float64', () => {
  compare(randomValues(2 * 2 * 9 * 9, 5), [2, 2, 9, 9], [3, 3], [2, 2], 'overlapping 3x3 stride 2');
  compare(randomValues(2 * 2 * 8 * 8, 6), [2, 2, 8, 8], [2, 2], [2, 2], 'padding 1', [1, 1]);
  compare(randomValues(2 * 2 * 9 * 9, 7), [2, 2, 9, 9], [2, 2], [2, 2], 'ceil mode with a partial window', [0, 0], true);
  tidy(() => {
    const x3 = tensor(randomValues(3 * 8 * 8, 8), [3, 8, 8]);
    sameBits(
      pool(native.maxPool2d, x3, [2, 2], [2, 2]).toArray() as Float32Array,
      pool(native.maxPool2dLibtorch, x3, [2, 2], [2, 2]).toArray() as Float32Array,
      '3-D',
    );
    const x64 = tensor(randomValues(2 * 8 * 8, 9), [1, 2, 8, 8]).to('float64');
    const a = pool(native.maxPool2d, x64, [2, 2], [2, 2]);
    assert.equal(a.dtype, 'float64');
    assert.deepEqual(a.toArray(), pool(native.maxPool2dLibtorch, x64, [2, 2], [2, 2]).toArray());
  });
});
