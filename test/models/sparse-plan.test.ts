// The zoo models compiled into a native SparsePlan (models/sparse-plan-builder.ts)
// compute the dense model's logits: ConvNet and ResNet-20 at 0%, 90% and 98%
// sparsity, batch 1 and 7, with every layer on the sparse kernel, every layer
// on the dense kernel, and the kernels chosen by timing; the other
// architectures with a builder; bad inputs; disposal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, rand, randn, tidy } from '../../src/tensor/index.js';
import type { ModelDescription } from '../../src/checkpoints/model-description.js';
import { toSparseInference, type SparseInferenceOptions } from '../../src/models/sparse-infer.js';
import { ConvNet } from '../../src/models/convnet.js';
import { TensorError } from '../../src/util/errors.js';
import { CONVNET, RESNET20 } from '../helpers/model-files.js';
import { compareLogits, prunedModel, REL_TOL } from '../helpers/sparse-models.js';

const KERNEL_MODES: [string, SparseInferenceOptions][] = [
  ['sparse', { kernelChoice: 'sparse' }],
  ['dense', { kernelChoice: 'dense' }],
  ['measured', { calibration: { largeBatch: 8, reps: 2 } }],
];

for (const d of [CONVNET, RESNET20]) {
  for (const sparsity of [0, 0.9, 0.98]) {
    test(`${d.name} at ${sparsity * 100}% sparsity: the plan's logits equal dense libtorch's within 1e-4 at batch 1 and 7 (sparse, dense and measured kernels)`, () => {
      const dense = prunedModel(d, sparsity);
      for (const [mode, opts] of KERNEL_MODES) {
        const sparse = toSparseInference(prunedModel(d, sparsity), opts);
        try {
          assert.equal(sparse.stats.engine, 'plan');
          assert.ok(sparse.plan !== null && sparse.stats.foldedBatchNorms > 0);
          const kernels = sparse.stats.kernels.flatMap((k) => k.kernels);
          if (mode !== 'measured')
            assert.ok(
              kernels.every((k) => k === mode),
              `${mode}: ${kernels.join(' ')}`,
            );
          else assert.ok(sparse.stats.kernels.every((k) => k.timings.length > 0 && k.timings[0].batch === 1));
          for (const [batch, count] of [
            [1, 8],
            [7, 21],
          ]) {
            const c = compareLogits(dense, (x) => sparse.forward(x), d, batch, count);
            assert.equal(c.argmaxMismatches, 0, `${mode}, batch ${batch}: argmax differs on ${c.argmaxMismatches} inputs`);
            assert.ok(c.maxDiff <= REL_TOL * c.scale, `${mode}, batch ${batch}: max |Δlogit| ${c.maxDiff} > ${REL_TOL} · ${c.scale}`);
          }
        } finally {
          sparse.dispose();
        }
      }
      dense.dispose();
    });
  }
}

const OTHERS: ModelDescription[] = [
  { name: 'resnet20', options: { shortcut: 'B' }, inChannels: 3, numClasses: 10, imageSize: 32 },
  { name: 'wrn-10-2', options: {}, inChannels: 3, numClasses: 10, imageSize: 16 },
  { name: 'vgg16', options: { classifier: 'mlp' }, inChannels: 3, numClasses: 10, imageSize: 32 },
  { name: 'mlp', options: { hiddenSizes: [64, 32] }, inChannels: 1, numClasses: 10, imageSize: 12 },
];

for (const d of OTHERS) {
  test(`${d.name} ${JSON.stringify(d.options)} runs on a plan with the dense model's logits, BN folded or not`, () => {
    const dense = prunedModel(d, 0.9);
    for (const foldBatchNorm of [true, false]) {
      const sparse = toSparseInference(prunedModel(d, 0.9), { maxDensity: 0.5, foldBatchNorm });
      try {
        assert.equal(sparse.stats.engine, 'plan');
        const c = compareLogits(dense, (x) => sparse.forward(x), d, 3, 6);
        assert.equal(c.argmaxMismatches, 0);
        assert.ok(c.maxDiff <= REL_TOL * c.scale, `fold ${foldBatchNorm}: max |Δlogit| ${c.maxDiff} > ${REL_TOL} · ${c.scale}`);
        if (d.name === 'mlp') {
          const x = randn([2, 1, 12, 12]);
          assert.ok(tidy(() => sparse.forward(x.flatten(1)).sub(sparse.forward(x)).abs().max().item()) === 0, 'flat input');
          x.dispose();
        }
      } finally {
        sparse.dispose();
      }
    }
    dense.dispose();
  });
}

test('the plan refuses inputs of another shape with a TensorError naming expected and got', () => {
  const convnet = toSparseInference(prunedModel(CONVNET, 0.9), { maxDensity: 1 });
  const resnet = toSparseInference(prunedModel(RESNET20, 0.9), { maxDensity: 1 });
  tidy(() => {
    const refuses = (f: () => unknown, message: RegExp): void =>
      assert.throws(f, (e: Error) => e instanceof TensorError && message.test(e.message));
    refuses(() => resnet.forward(randn([1, 3, 28, 28])), /SparsePlan.run: expected an input \[N, 3, 32, 32\], got \[1, 3, 28, 28\]/);
    refuses(() => resnet.forward(randn([3, 32, 32])), /expected an input \[N, 3, 32, 32\], got \[3, 32, 32\]/);
    refuses(() => convnet.forward(randn([2, 3, 28, 28])), /expected an input \[N, 1, 28, 28\], got \[2, 3, 28, 28\]/);
    refuses(() => convnet.forward(randn([2, 784])), /got \[2, 784\]/);
  });
  convnet.dispose();
  resnet.dispose();
});

test('dispose frees the plan and the model; a model the builders do not know runs on the modules engine', () => {
  const sparse = toSparseInference(prunedModel(CONVNET, 0.9), { maxDensity: 1 });
  const plan = sparse.plan!;
  assert.ok(plan.bytes > 0);
  sparse.dispose();
  sparse.dispose();
  assert.ok(plan.isDisposed);
  assert.throws(() => tidy(() => sparse.forward(randn([1, 1, 28, 28]))), /disposed/);

  class MyConvNet extends ConvNet {}
  const mine = new MyConvNet({ inChannels: 1, numClasses: 10, imageSize: 28 });
  const dense = prunedModel(CONVNET, 0.9);
  mine.loadStateDict(dense.stateDict());
  const modules = toSparseInference(mine, { maxDensity: 1 });
  assert.equal(modules.stats.engine, 'modules');
  assert.equal(modules.plan, null);
  const c = compareLogits(dense, (x) => modules.forward(x), CONVNET, 4, 8);
  assert.ok(c.maxDiff <= REL_TOL * c.scale);
  modules.dispose();
  dense.dispose();
});

test("measuring the kernels at load leaves the default generator's sequence alone", () => {
  manualSeed(7);
  const want = tidy(() => rand([4]).toArray<'float32'>());
  manualSeed(7);
  const sparse = toSparseInference(prunedModel(CONVNET, 0.9), { calibration: { reps: 1 } });
  const got = tidy(() => rand([4]).toArray<'float32'>());
  sparse.dispose();
  assert.deepEqual(got, want);
});
