// The sparse inference engine predicts what the dense model predicts: same
// argmax, logits equal up to float summation order (the sparse kernels add
// in another order than libtorch's GEMM/conv, and folding BN into the conv
// rounds differently from applying it after).
//
// Tolerance: max |Δlogit| ≤ 1e-4 · max(1, max |logit|). The argmax must be
// equal wherever the dense model's top two logits are further apart than
// that tolerance (closer than that, either class is a correct answer).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Generator, noGrad, randn, rand, tidy, type Tensor } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import { loadSparseModel, toSparseInference } from '../../src/models/sparse-infer.js';
import { getCriterion } from '../../src/prune/criteria.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import { exportStateDict, type ModelDescription } from '../../src/checkpoints/model-description.js';
import { CONVNET, RESNET20, withTempDir } from '../helpers/model-files.js';

const MLP: ModelDescription = { name: 'mlp', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 };
const INPUTS = 256;
const REL_TOL = 1e-4;

/** A zoo model with random BN statistics and affine parameters, pruned by global magnitude to `sparsity`. */
function prunedModel(d: ModelDescription, sparsity: number, seed = 1): Module {
  const g = new Generator(seed);
  const model = createModel(d.name, { ...d.options, inChannels: d.inChannels, numClasses: d.numClasses, imageSize: d.imageSize, generator: g });
  noGrad(() => {
    for (const [name, t] of model.stateDict()) {
      if (name.endsWith('running_mean')) t.copy_(tidy(() => randn(t.shape, { generator: g }).mul(0.2)));
      if (name.endsWith('running_var')) t.copy_(tidy(() => rand(t.shape, { generator: g }).add(0.5)));
      if (/bn\d*\.weight$|shortcut\.1\.weight$/.test(name)) t.copy_(tidy(() => rand(t.shape, { generator: g }).add(0.5)));
      if (/bn\d*\.bias$/.test(name)) t.copy_(tidy(() => randn(t.shape, { generator: g }).mul(0.1)));
    }
  });
  if (sparsity > 0) {
    const mask = getCriterion('global')(prunableParameters(model), null, sparsity, {});
    mask.apply(model);
    mask.dispose();
  }
  return model.eval();
}

interface Comparison {
  maxDiff: number;
  scale: number;
  argmaxMismatches: number;
}

function compare(dense: Module, sparse: (x: Tensor) => Tensor, d: ModelDescription, batch: number, count: number): Comparison {
  const out: Comparison = { maxDiff: 0, scale: 1, argmaxMismatches: 0 };
  const g = new Generator(1234);
  for (let done = 0; done < count; done += batch) {
    tidy(() => {
      const x = randn([batch, d.inChannels, d.imageSize, d.imageSize], { generator: g });
      const want = noGrad(() => dense.forward(x));
      const got = sparse(x);
      out.maxDiff = Math.max(out.maxDiff, got.sub(want).abs().max().item());
      out.scale = Math.max(out.scale, want.abs().max().item());
      const top2 = want.topk(2, 1).values;
      const gap = top2.select(1, 0).sub(top2.select(1, 1));
      const differs = got.argmax(1).ne(want.argmax(1)).logicalAnd(gap.gt(REL_TOL * out.scale));
      out.argmaxMismatches += differs.sum().item();
    });
  }
  return out;
}

for (const d of [CONVNET, RESNET20, MLP]) {
  for (const sparsity of [0, 0.9, 0.98]) {
    test(`${d.name} at ${sparsity * 100}% sparsity: the sparse engine predicts as the dense model (batch 1 and 64)`, withTempDir(async (dir) => {
      const dense = prunedModel(d, sparsity);
      const file = join(dir, 'model.safetensors');
      await exportStateDict(dense.stateDict(), d, file, { format: sparsity > 0 ? 'sparse' : 'dense' });
      // Every layer on the sparse kernels (maxDensity 1), then the default mix of sparse and dense kernels.
      for (const maxDensity of [1, undefined]) {
        const sparse = await loadSparseModel(file, {}, { maxDensity });
        try {
          if (maxDensity === 1) assert.deepEqual(sparse.stats.denseLayers, []);
          else assert.ok(sparse.stats.denseLayers.every((l) => /density .* > maxDensity 0.6/.test(l)), sparse.stats.denseLayers.join('; '));
          if (d.name !== 'mlp') assert.ok(sparse.stats.foldedBatchNorms > 0);
          const density = sparse.stats.nonZeros / sparse.stats.weights;
          assert.ok(Math.abs(1 - sparsity - density) < 0.01, `density ${density}`);
          const runs = maxDensity === 1 ? [[64, INPUTS], [1, sparsity === 0.9 ? INPUTS : 64]] : [[64, INPUTS]];
          for (const [batch, count] of runs) {
            const c = compare(dense, (x) => sparse.forward(x), d, batch, count);
            assert.equal(c.argmaxMismatches, 0, `batch ${batch}: argmax differs on ${c.argmaxMismatches} inputs`);
            assert.ok(c.maxDiff <= REL_TOL * c.scale, `batch ${batch}: max |Δlogit| ${c.maxDiff} > ${REL_TOL} · ${c.scale}`);
          }
        } finally {
          sparse.dispose();
        }
      }
      dense.dispose();
    }));
  }
}

test('toSparseInference keeps BN unfolded when asked, with the same predictions', () => {
  const dense = prunedModel(RESNET20, 0.9, 5);
  const copy = prunedModel(RESNET20, 0.9, 5);
  const sparse = toSparseInference(copy, { foldBatchNorm: false, maxDensity: 1 });
  try {
    assert.equal(sparse.stats.foldedBatchNorms, 0);
    const c = compare(dense, (x) => sparse.forward(x), RESNET20, 16, 32);
    assert.equal(c.argmaxMismatches, 0);
    assert.ok(c.maxDiff <= REL_TOL * c.scale, `max |Δlogit| ${c.maxDiff}`);
  } finally {
    sparse.dispose();
    dense.dispose();
  }
});

test('a float64 model stays dense, and says why', () => {
  const model = prunedModel(MLP, 0.9).to({ dtype: 'float64' });
  const sparse = toSparseInference(model);
  assert.equal(sparse.stats.layers, 0);
  assert.match(sparse.stats.denseLayers[0], /fc1: weight is float64/);
  sparse.dispose();
});
