// The sparse kernels against libtorch's dense linear and conv2d.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CsrMatrix, Generator, randn, rand, sparseConv2d, sparseLinear, tensor, tidy } from '../../src/tensor/index.js';
import { conv2d, linear } from '../../src/tensor/nn-ops.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const gen = (seed: number): Generator => new Generator(seed);

/** A random float32 tensor with about `sparsity` of its entries exactly zero. */
function sparseRandom(shape: number[], sparsity: number, seed: number): Tensor {
  return tidy(() => randn(shape, { generator: gen(seed) }).mul(rand(shape, { generator: gen(seed + 1) }).ge(sparsity)));
}

const maxAbsDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

test('CsrMatrix.fromDense keeps exactly the non-zeros, row by row', () => {
  const w = tensor(new Float32Array([0, 2, 0, 3, 0, 0, 0, 0, 5]), [3, 3]);
  const csr = CsrMatrix.fromDense(w);
  assert.deepEqual([...csr.rowPtr.toArray()].map(Number), [0, 1, 2, 3]);
  assert.deepEqual([...csr.colIdx.toArray()], [1, 0, 2]);
  assert.deepEqual([...csr.values.toArray()], [2, 3, 5]);
  assert.equal(csr.nnz, 3);
  csr.dispose();
  w.dispose();
});

for (const sparsity of [0, 0.9, 0.98, 1]) {
  for (const batch of [1, 3, 64]) {
    test(`sparseLinear equals linear (sparsity ${sparsity}, batch ${batch})`, () => {
      const w = sparseRandom([37, 300], sparsity, 1);
      const b = randn([37], { generator: gen(3) });
      const x = randn([batch, 300], { generator: gen(4) });
      const csr = CsrMatrix.fromDense(w);
      const want = linear(x, w, b);
      const got = sparseLinear(csr, x, b);
      assert.deepEqual(got.shape, [batch, 37]);
      assert.ok(maxAbsDiff(got, want) < 1e-4, `max |Δ| ${maxAbsDiff(got, want)}`);
      for (const t of [w, b, x, want, got, csr]) t.dispose();
    });
  }
}

const geometries = [
  { name: '3×3 stride 1 pad 1', kernel: 3, stride: 1, padding: 1, dilation: 1, size: 9 },
  { name: '3×3 stride 2 pad 1', kernel: 3, stride: 2, padding: 1, dilation: 1, size: 8 },
  { name: '1×1 stride 2', kernel: 1, stride: 2, padding: 0, dilation: 1, size: 8 },
  { name: '3×3 dilation 2, no pad', kernel: 3, stride: 1, padding: 0, dilation: 2, size: 10 },
  { name: '3×3 stride 3 dilation 2 pad 2', kernel: 3, stride: 3, padding: 2, dilation: 2, size: 11 },
  { name: '5×5 stride 2 pad 2', kernel: 5, stride: 2, padding: 2, dilation: 1, size: 7 },
];
for (const g of geometries) {
  for (const sparsity of [0, 0.9]) {
    test(`sparseConv2d equals conv2d (${g.name}, sparsity ${sparsity})`, () => {
      const w = sparseRandom([6, 5, g.kernel, g.kernel], sparsity, 7);
      const b = randn([6], { generator: gen(8) });
      const x = randn([2, 5, g.size, g.size + 1], { generator: gen(9) });
      const pair = (v: number): number[] => [v, v];
      const want = conv2d(x, w, b, pair(g.stride), pair(g.padding), pair(g.dilation), 1);
      const flat = w.flatten(1);
      const csr = CsrMatrix.fromDense(flat);
      const got = sparseConv2d(csr, x, b, { kernel: pair(g.kernel), stride: pair(g.stride), padding: pair(g.padding), dilation: pair(g.dilation) });
      assert.deepEqual(got.shape, want.shape);
      assert.ok(maxAbsDiff(got, want) < 1e-4, `max |Δ| ${maxAbsDiff(got, want)}`);
      for (const t of [w, b, x, want, flat, got, csr]) t.dispose();
    });
  }
}

test('the sparse kernels refuse inputs that do not fit, with a message', () => {
  const csr = CsrMatrix.fromDense(tensor(new Float32Array([1, 0, 0, 1]), [2, 2]));
  const x = randn([4, 3]);
  assert.throws(() => sparseLinear(csr, x, null), /input must be \[N, 2\]/);
  const img = randn([1, 1, 4, 4]);
  // 1 channel × a 1×1 kernel is 1 column: the CSR names column 1, which must be refused, not read
  assert.throws(() => sparseConv2d(csr, img, null, { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] }), /column index 1 is outside/);
  for (const t of [x, img, csr]) t.dispose();
});
