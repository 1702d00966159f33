// conv2d computes float32 CPU convolutions of one input channel with stride
// 1 and no bias on the addon's direct kernel
// (native/src/small_conv.cc). Values and weight gradients must match
// libtorch's at::conv2d up to float32 rounding (the sums run in another
// order), input gradients come from libtorch, the AVX2 and scalar paths give
// the same bits, and so do 1 and 2 threads; anything else goes to libtorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Generator, getNumThreads, noGrad, randn, setNumThreads, tidy, type Tensor } from '../../src/tensor/index.js';
import { conv2d, conv2dLibtorch } from '../../src/tensor/nn-ops.js';

type Conv = typeof conv2d;

interface Case {
  x: number[];
  w: number[];
  padding: number[];
}

// Rows of 28 (3 vectors and a tail of 4), 32 (4 full vectors), 13, 37 and 70
// (more than one chunk of 32 columns), kernels 1x1 to 7x7, with and without padding.
const CASES: Case[] = [
  { x: [6, 1, 28, 28], w: [8, 1, 3, 3], padding: [1, 1] },
  { x: [3, 1, 32, 32], w: [16, 1, 3, 3], padding: [1, 1] },
  { x: [2, 1, 9, 13], w: [4, 1, 5, 3], padding: [2, 0] },
  { x: [2, 1, 40, 37], w: [6, 1, 7, 7], padding: [3, 3] },
  { x: [1, 1, 12, 70], w: [5, 1, 1, 1], padding: [0, 0] },
  { x: [2, 1, 7, 5], w: [3, 1, 3, 3], padding: [0, 0] },
];

/** Output, weight gradient and input gradient of `f` for a case, from seeded inputs and output gradient. */
function run(f: Conv, c: Case): { y: Float32Array; dw: Float32Array; dx: Float32Array } {
  return tidy(() => {
    const x = randn(c.x, { generator: new Generator(1) }).requireGrad();
    const w = randn(c.w, { generator: new Generator(2) }).requireGrad();
    const y = f(x, w, null, [1, 1], c.padding, [1, 1], 1);
    y.backward(randn(y.shape, { generator: new Generator(3) }));
    return { y: y.toArray() as Float32Array, dw: w.grad!.toArray() as Float32Array, dx: x.grad!.toArray() as Float32Array };
  });
}

/** max |a - b| <= tol * max(1, max |b|). */
function close(a: Float32Array, b: Float32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  let scale = 1;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * scale)) assert.fail(`${what}: element ${i} is ${a[i]}, libtorch ${b[i]} (scale ${scale})`);
  }
}

const digest = (arrays: Float32Array[]): string => {
  const h = createHash('sha256');
  for (const a of arrays) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return h.digest('hex');
};

test('values and weight gradients match libtorch up to float32 rounding; input gradients are libtorch', () => {
  for (const c of CASES) {
    const what = `x [${c.x}] w [${c.w}] padding [${c.padding}]`;
    const ours = run(conv2d, c);
    const ref = run(conv2dLibtorch, c);
    close(ours.y, ref.y, 1e-5, `${what}: values`);
    close(ours.dw, ref.dw, 1e-5, `${what}: weight gradient`);
    close(ours.dx, ref.dx, 1e-6, `${what}: input gradient`);
    // Evaluation (no autograd) takes the same kernel.
    const y = noGrad(() =>
      tidy(() =>
        conv2d(
          randn(c.x, { generator: new Generator(1) }),
          randn(c.w, { generator: new Generator(2) }),
          null,
          [1, 1],
          c.padding,
          [1, 1],
          1,
        ).toArray(),
      ),
    ) as Float32Array;
    assert.deepEqual(y, ours.y, `${what}: the same values without grad`);
  }
});

test('the same bits at 1 and 2 threads, and on the scalar path (SPARSE_SOUPS_NO_AVX2=1) as on AVX2', () => {
  const before = getNumThreads();
  try {
    setNumThreads(1);
    const one = digest(CASES.flatMap((c) => Object.values(run(conv2d, c))));
    setNumThreads(2);
    const two = digest(CASES.flatMap((c) => Object.values(run(conv2d, c))));
    assert.equal(two, one);
    // The scalar path in a process of its own (the switch is read once per process).
    const script = `
      import { createHash } from 'node:crypto';
      import { Generator, randn, tidy, setNumThreads } from './src/tensor/index.js';
      import { conv2d } from './src/tensor/nn-ops.js';
      setNumThreads(1);
      const cases = ${JSON.stringify(CASES)};
      const h = createHash('sha256');
      for (const c of cases) tidy(() => {
        const x = randn(c.x, { generator: new Generator(1) }).requireGrad();
        const w = randn(c.w, { generator: new Generator(2) }).requireGrad();
        const y = conv2d(x, w, null, [1, 1], c.padding, [1, 1], 1);
        y.backward(randn(y.shape, { generator: new Generator(3) }));
        for (const a of [y.toArray(), w.grad.toArray(), x.grad.toArray()]) h.update(Buffer.from(a.buffer, a.byteOffset, a.byteLength));
      });
      console.log(h.digest('hex'));`;
    const scalar = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, SPARSE_SOUPS_NO_AVX2: '1' },
      encoding: 'utf8',
    }).trim();
    assert.equal(scalar, one);
  } finally {
    setNumThreads(before);
  }
});

test('bias, stride, dilation, groups, 2+ channels, 8x8 kernels and float64 go to libtorch: the same bits', () => {
  tidy(() => {
    const g = (seed: number) => new Generator(seed);
    const same = (a: Tensor, b: Tensor, what: string) => assert.deepEqual(a.toArray(), b.toArray(), what);
    const x1 = randn([2, 1, 12, 12], { generator: g(9) });
    const w1 = randn([4, 1, 3, 3], { generator: g(10) });
    const b = randn([4], { generator: g(3) });
    same(conv2d(x1, w1, b, [1, 1], [1, 1], [1, 1], 1), conv2dLibtorch(x1, w1, b, [1, 1], [1, 1], [1, 1], 1), 'bias');
    same(conv2d(x1, w1, null, [2, 2], [1, 1], [1, 1], 1), conv2dLibtorch(x1, w1, null, [2, 2], [1, 1], [1, 1], 1), 'stride 2');
    same(conv2d(x1, w1, null, [1, 1], [2, 2], [2, 2], 1), conv2dLibtorch(x1, w1, null, [1, 1], [2, 2], [2, 2], 1), 'dilation 2');
    const w18 = randn([4, 1, 8, 8], { generator: g(11) });
    same(conv2d(x1, w18, null, [1, 1], [0, 0], [1, 1], 1), conv2dLibtorch(x1, w18, null, [1, 1], [0, 0], [1, 1], 1), '8x8 kernel');
    const x1d = x1.to('float64');
    const w1d = w1.to('float64');
    same(conv2d(x1d, w1d, null, [1, 1], [1, 1], [1, 1], 1), conv2dLibtorch(x1d, w1d, null, [1, 1], [1, 1], [1, 1], 1), 'float64');
    const x = randn([2, 3, 12, 12], { generator: g(1) });
    const w = randn([4, 3, 3, 3], { generator: g(2) });
    for (const f of [conv2d, conv2dLibtorch]) assert.equal(f(x, w, null, [1, 1], [1, 1], [1, 1], 1).shape.join(), '2,4,12,12');
    const x6 = randn([2, 6, 10, 10], { generator: g(4) });
    const w6 = randn([4, 3, 3, 3], { generator: g(5) });
    same(conv2d(x6, w6, null, [1, 1], [1, 1], [1, 1], 2), conv2dLibtorch(x6, w6, null, [1, 1], [1, 1], [1, 1], 2), 'groups 2');
    same(conv2d(x, w, null, [1, 1], [1, 1], [1, 1], 1), conv2dLibtorch(x, w, null, [1, 1], [1, 1], [1, 1], 1), '3 channels');
  });
});
