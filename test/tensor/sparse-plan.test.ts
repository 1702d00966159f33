// SparsePlan step by step against libtorch's ops: conv (stride, dilation,
// padding, residual with channel offset and stride, ReLU) on both kernels,
// linear, pooling, affine; spec validation; calibration; memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  SparsePlan,
  full,
  getNumThreads,
  setNumThreads,
  rand,
  randn,
  tidy,
  zeros,
  cat,
  type PlanConvStep,
  type PlanKernel,
  type SparsePlanStep,
} from '../../src/tensor/index.js';
import { conv2d, linear, maxPool2d } from '../../src/tensor/nn-ops.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { TensorError } from '../../src/util/errors.js';

const gen = (seed: number): Generator => new Generator(seed);

/** A random float32 tensor with about `sparsity` of its entries exactly zero. */
function sparseRandom(shape: number[], sparsity: number, seed: number): Tensor {
  return tidy(() => randn(shape, { generator: gen(seed) }).mul(rand(shape, { generator: gen(seed + 1) }).ge(sparsity)));
}

const maxAbsDiff = (a: Tensor, b: Tensor): number => tidy(() => a.sub(b).abs().max().item());

/** x[:, :, ::s, ::s] with `before` zero channels in front and zeros after, up to `channels`. */
function shortcutA(x: Tensor, stride: number, before: number, channels: number): Tensor {
  return tidy(() => {
    const [n, c, h, w] = x.shape;
    const sub = x.slice(2, 0, h, stride).slice(3, 0, w, stride);
    const [, , hs, ws] = sub.shape;
    return cat([zeros([n, before, hs, ws]), sub, zeros([n, channels - before - c, hs, ws])], 1);
  });
}

for (const kernel of ['sparse', 'dense'] as PlanKernel[]) {
  for (const [stride, dilation, padding] of [
    [1, 1, 1],
    [2, 1, 1],
    [2, 2, 2],
    [3, 1, 0],
  ]) {
    test(`conv2d step (${kernel}, stride ${stride}, dilation ${dilation}, padding ${padding}) with bias, residual and ReLU equals libtorch`, () => {
      tidy(() => {
        const w = sparseRandom([12, 5, 3, 3], 0.7, 1);
        const b = randn([12], { generator: gen(3) });
        for (const batch of [1, 5]) {
          const x = randn([batch, 5, 13, 11], { generator: gen(4 + batch) });
          const plain = conv2d(x, w, b, [stride, stride], [padding, padding], [dilation, dilation], 1);
          const [, , ho, wo] = plain.shape;
          // The input subsampled by the stride as a residual, its 5 channels at offset 4 of 12 (when that is the output's size).
          const fits = Math.ceil(13 / stride) === ho && Math.ceil(11 / stride) === wo;
          const residual = fits ? { value: 0, channelOffset: 4, stride } : null;
          const want = (residual ? plain.add(shortcutA(x, stride, 4, 12)) : plain).relu();
          const plan = SparsePlan.compile({
            inputShapes: [[5, 13, 11]],
            steps: [
              {
                op: 'conv2d',
                name: 'c',
                input: 0,
                weight: w,
                bias: b,
                stride: [stride, stride],
                padding: [padding, padding],
                dilation: [dilation, dilation],
                relu: true,
                residual,
                kernel,
              },
            ],
          });
          const got = plan.run(x);
          assert.deepEqual(got.shape, want.shape);
          assert.ok(maxAbsDiff(got, want) < 1e-4, `batch ${batch}: max |Δ| ${maxAbsDiff(got, want)}`);
          plan.dispose();
        }
      });
    });
  }
}

test('linear steps (sparse and dense, ReLU) after a flatten equal libtorch at batch 1, 3, 6 and 70 (two chunks)', () => {
  tidy(() => {
    const w1 = sparseRandom([40, 2 * 5 * 5], 0.9, 7);
    const b1 = randn([40], { generator: gen(8) });
    const w2 = sparseRandom([9, 40], 0.5, 9);
    for (const [k1, k2] of [
      ['sparse', 'dense'],
      ['dense', 'sparse'],
    ] as PlanKernel[][]) {
      const plan = SparsePlan.compile({
        inputShapes: [[2, 5, 5], [50]],
        steps: [
          { op: 'flatten', input: 0 },
          { op: 'linear', name: 'fc1', input: 1, weight: w1, bias: b1, relu: true, kernel: k1 },
          { op: 'linear', name: 'fc2', input: 2, weight: w2, kernel: k2 },
        ],
      });
      for (const batch of [1, 3, 6, 70]) {
        const x = randn([batch, 2, 5, 5], { generator: gen(batch) });
        const want = linear(linear(x.flatten(1), w1, b1).relu(), w2, null);
        assert.ok(maxAbsDiff(plan.run(x), want) < 1e-4, `${k1}/${k2} batch ${batch}`);
        assert.ok(maxAbsDiff(plan.run(x.flatten(1)), want) < 1e-4, `${k1}/${k2} flat batch ${batch}`);
      }
      plan.dispose();
    }
  });
});

test('maxPool2d, globalAvgPool and affine steps equal libtorch; max pooling propagates NaN', () => {
  tidy(() => {
    const x = randn([3, 4, 9, 8], { generator: gen(11) });
    const scale = randn([4], { generator: gen(12) });
    const shift = randn([4], { generator: gen(13) });
    const steps: SparsePlanStep[] = [
      { op: 'maxPool2d', input: 0, kernel: [3, 3], stride: [2, 2], padding: [1, 1] },
      { op: 'maxPool2d', input: 0, kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
      { op: 'affine', input: 0, scale, shift, relu: true, residual: { value: 0 } },
      { op: 'globalAvgPool', input: 3 },
    ];
    const pool3 = maxPool2d(x, [3, 3], [2, 2], [1, 1], [1, 1], false);
    const pool2 = maxPool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
    const affine = x
      .mul(scale.reshape([1, 4, 1, 1]))
      .add(shift.reshape([1, 4, 1, 1]))
      .add(x)
      .relu();
    const wants = [pool3, pool2, affine, affine.mean([2, 3])];
    steps.forEach((step, i) => {
      // One plan per step output, each ending at the step checked.
      const plan = SparsePlan.compile({ inputShapes: [[4, 9, 8]], steps: steps.slice(0, i + 1) });
      assert.ok(maxAbsDiff(plan.run(x), wants[i]) < 1e-5, `step ${i} (${step.op})`);
      plan.dispose();
    });
    const withNan = x.clone();
    withNan.select(0, 1).select(0, 2).select(0, 3).fill_(NaN);
    const plan = SparsePlan.compile({ inputShapes: [[4, 9, 8]], steps: steps.slice(0, 2) });
    const got = plan.run(withNan).toArray<'float32'>();
    const want = maxPool2d(withNan, [2, 2], [2, 2], [0, 0], [1, 1], false).toArray<'float32'>();
    assert.deepEqual(
      [...got].map((v) => Number.isNaN(v)),
      [...want].map((v) => Number.isNaN(v)),
    );
    assert.ok([...got].some((v) => Number.isNaN(v)));
    plan.dispose();
  });
});

test('a layer and a channel pruned away give bias (+ residual) only', () => {
  tidy(() => {
    const w = sparseRandom([6, 6, 3, 3], 0.5, 21);
    w.select(0, 2).zero_();
    const empty = zeros([6, 6, 3, 3]);
    const b = randn([6], { generator: gen(22) });
    const x = randn([2, 6, 7, 7], { generator: gen(23) });
    for (const kernel of ['sparse', 'dense'] as PlanKernel[]) {
      for (const weight of [w, empty]) {
        const plan = SparsePlan.compile({
          inputShapes: [[6, 7, 7]],
          steps: [
            {
              op: 'conv2d',
              input: 0,
              weight,
              bias: b,
              stride: [1, 1],
              padding: [1, 1],
              dilation: [1, 1],
              relu: true,
              residual: { value: 0 },
              kernel,
            },
          ],
        });
        const want = conv2d(x, weight, b, [1, 1], [1, 1], [1, 1], 1).add(x).relu();
        assert.ok(maxAbsDiff(plan.run(x), want) < 1e-4, kernel);
        plan.dispose();
      }
    }
  });
});

test('a spec that does not fit is refused, naming the step', () => {
  tidy(() => {
    const w = randn([4, 3, 3, 3]);
    const conv: PlanConvStep = {
      op: 'conv2d',
      name: 'conv1',
      input: 0,
      weight: w,
      stride: [1, 1],
      padding: [1, 1],
      dilation: [1, 1],
      kernel: 'sparse',
    };
    const compile = (steps: unknown[]): SparsePlan => SparsePlan.compile({ inputShapes: [[3, 8, 8]], steps: steps as SparsePlanStep[] });
    assert.throws(
      () => compile([{ ...conv, weight: randn([4, 2, 3, 3]) }]),
      /steps\[0\] \(conv1\): weight \[4, 2, 3, 3\] expects 2 input channels, the input has 3/,
    );
    assert.throws(() => compile([conv, { ...conv, name: 'conv2', input: 5 }]), /steps\[1\] \(conv2\): input 5 is not an earlier value/);
    assert.throws(
      () => compile([{ ...conv, residual: { value: 0, stride: 2 } }]),
      /steps\[0\] \(conv1\): residual value 0 \[3, 8, 8\] at stride 2, channel offset 0 does not fit the output \[4, 8, 8\]/,
    );
    assert.throws(() => compile([{ ...conv, op: 'conv3d' }]), /unknown op 'conv3d'/);
    assert.throws(() => compile([{ ...conv, kernel: 'fast' }]), /kernel must be 'sparse' or 'dense'/);
    assert.throws(() => compile([{ ...conv, weight: w.to('float64') }]), /weight must be a 4-D float32 CPU tensor, got float64/);
    assert.throws(() => compile([{ ...conv, bias: randn([5]) }]), /bias must have 4 entries, got 5/);
    assert.throws(
      () => compile([{ op: 'linear', name: 'fc', input: 0, weight: randn([2, 192]), kernel: 'dense' }]),
      /steps\[0\] \(fc\): .* expects a flat input of 192 features, got \[3, 8, 8\] \(flatten it first\)/,
    );
    assert.throws(
      () => compile([{ ...conv, padding: [0, 0], stride: [1, 1], weight: randn([4, 3, 9, 9]) }]),
      /with padding is smaller than the kernel/,
    );
    assert.throws(
      () => SparsePlan.compile({ inputShapes: [[3, 8, 8], [100]], steps: [conv] }),
      /inputShapes must all hold 192 values per image/,
    );
    assert.throws(() => compile([]), /steps must be a non-empty array/);
    assert.throws(() => compile([{ ...conv, stride: [Infinity, 1] }]), /stride must hold integers >= 1/);
    assert.throws(() => compile([{ ...conv, input: NaN }]), /input must be an integer >= 0/);
    assert.throws(() => compile([{ ...conv, padding: [1.5, 1] }]), /padding must hold integers >= 0/);
  });
});

test('run refuses inputs of another shape or dtype with a TensorError naming expected and got; a disposed plan refuses to run', () => {
  tidy(() => {
    const plan = SparsePlan.compile({
      inputShapes: [[3, 8, 8], [192]],
      steps: [{ op: 'conv2d', input: 0, weight: randn([4, 3, 3, 3]), stride: [1, 1], padding: [1, 1], dilation: [1, 1], kernel: 'sparse' }],
    });
    assert.throws(
      () => plan.run(randn([2, 3, 8, 9])),
      (e: Error) => e instanceof TensorError && /expected an input \[N, 3, 8, 8\] or \[N, 192\], got \[2, 3, 8, 9\]/.test(e.message),
    );
    assert.throws(() => plan.run(randn([3, 8, 8])), /got \[3, 8, 8\]/);
    assert.throws(
      () => plan.run(full([1, 3, 8, 8], 1, { dtype: 'float64' })),
      (e: Error) => e instanceof TensorError && /expected a float32 CPU input, got float64/.test(e.message),
    );
    assert.deepEqual(plan.run(randn([0, 3, 8, 8])).shape, [0, 4, 8, 8]);
    assert.equal(plan.isDisposed, false);
    plan.dispose();
    plan.dispose();
    assert.equal(plan.isDisposed, true);
    assert.equal(plan.bytes, 0);
    assert.throws(
      () => plan.run(randn([1, 3, 8, 8])),
      (e: Error) => e instanceof TensorError && /SparsePlan.run: the plan was disposed/.test(e.message),
    );
  });
});

test('calibrate times both kernels of tunable steps, keeps one per batch regime and frees the other weights; describe and profile report the steps', () => {
  tidy(() => {
    const w = sparseRandom([16, 8, 3, 3], 0.9, 31);
    const plan = SparsePlan.compile({
      inputShapes: [[8, 12, 12]],
      steps: [
        {
          op: 'conv2d',
          name: 'conv',
          input: 0,
          weight: w,
          stride: [1, 1],
          padding: [1, 1],
          dilation: [1, 1],
          relu: true,
          kernel: 'sparse',
          tunable: true,
        },
        { op: 'globalAvgPool', name: 'pool', input: 1 },
        { op: 'linear', name: 'fc', input: 2, weight: randn([3, 16]), kernel: 'dense' },
      ],
    });
    const x = randn([2, 8, 12, 12], { generator: gen(32) });
    const before = plan.run(x);
    plan.run(randn([8, 8, 12, 12])); // buffers for the calibration's batch, so that bytes compares weights
    const bytesBefore = plan.bytes;
    const timings = plan.calibrate({ largeBatch: 8, reps: 3 });
    assert.deepEqual(
      timings.map((t) => [t.name, t.batch]),
      [
        ['conv', 1],
        ['conv', 8],
      ],
    );
    for (const t of timings) assert.ok(t.sparseMs > 0 && t.denseMs > 0 && t.kernel === (t.sparseMs <= t.denseMs ? 'sparse' : 'dense'));
    const info = plan.describe();
    assert.deepEqual(
      info.map((s) => [s.name, s.op, s.kernels, s.tunable]),
      [
        ['conv', 'conv2d', timings.map((t) => t.kernel), false],
        ['pool', 'globalAvgPool', null, false],
        ['fc', 'linear', ['dense', 'dense'], false],
      ],
    );
    assert.deepEqual(
      info.map((s) => s.outputShape),
      [[16, 12, 12], [16], [3]],
    );
    // An arena of 2,320 floats per image (the conv's 2,304, then the pool's 16 beside it; the logits reuse the conv's place)
    // and 1,568 of padded input: 15.2 KiB per image, 33 images in 512 KiB.
    assert.equal(plan.chunkImages, 33);
    assert.equal(info[0].weights, 16 * 8 * 9);
    assert.equal(info[0].nonZeros, w.countNonzero());
    if (timings[0].kernel === timings[1].kernel) assert.ok(plan.bytes < bytesBefore, `${plan.bytes} < ${bytesBefore}`);
    assert.ok(maxAbsDiff(plan.run(x), before) < 1e-4);
    const profile = plan.profile(x, 5);
    assert.deepEqual(
      profile.steps.map((s) => s.name),
      ['conv', 'pool', 'fc'],
    );
    assert.ok(profile.totalMicros > 0 && profile.steps.every((s) => s.micros >= 0));
    plan.dispose();
  });
});

test('the sparse kernels give the same bits at 1 and 2 threads (each output plane is one task)', () => {
  const before = getNumThreads();
  try {
    tidy(() => {
      const w = sparseRandom([32, 16, 3, 3], 0.8, 41);
      const plan = SparsePlan.compile({
        inputShapes: [[16, 20, 20]],
        steps: [
          { op: 'conv2d', input: 0, weight: w, stride: [1, 1], padding: [1, 1], dilation: [1, 1], relu: true, kernel: 'sparse' },
          { op: 'maxPool2d', input: 1, kernel: [2, 2], stride: [2, 2], padding: [0, 0] },
          { op: 'flatten', input: 2 },
          { op: 'linear', input: 3, weight: sparseRandom([10, 32 * 10 * 10], 0.9, 42), kernel: 'sparse' },
        ],
      });
      const x = randn([9, 16, 20, 20], { generator: gen(43) });
      setNumThreads(1);
      const one = [plan.run(x.slice(0, 0, 1)).toArray<'float32'>(), plan.run(x).toArray<'float32'>()];
      setNumThreads(2);
      const two = [plan.run(x.slice(0, 0, 1)).toArray<'float32'>(), plan.run(x).toArray<'float32'>()];
      assert.deepEqual(two, one);
      plan.dispose();
    });
  } finally {
    setNumThreads(before);
  }
});
