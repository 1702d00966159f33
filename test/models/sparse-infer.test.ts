// The sparse inference engine predicts what the dense model predicts: same
// argmax, logits equal up to float summation order (test/helpers/sparse-models.ts).
// The zoo models run on a native plan (sparse-plan.test.ts tests it further);
// the modules engine is tested with plan: false.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { ModelDescription } from '../../src/checkpoints/model-description.js';
import { exportStateDict } from '../../src/checkpoints/model-description.js';
import { loadSparseModel, toSparseInference } from '../../src/models/sparse-infer.js';
import { CONVNET, RESNET20, withTempDir } from '../helpers/model-files.js';
import { compareLogits as compare, prunedModel, REL_TOL } from '../helpers/sparse-models.js';

const MLP: ModelDescription = { name: 'mlp', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 };
const INPUTS = 256;

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
          else assert.ok(sparse.stats.denseLayers.every((l) => /: dense at batch \d+: [\d.]+ ms vs sparse [\d.]+ ms/.test(l)), sparse.stats.denseLayers.join('; '));
          assert.equal(sparse.stats.engine, 'plan');
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

for (const plan of [true, false]) {
  test(`toSparseInference keeps BN unfolded when asked, with the same predictions (${plan ? 'plan' : 'modules'} engine)`, () => {
    const dense = prunedModel(RESNET20, 0.9, 5);
    const copy = prunedModel(RESNET20, 0.9, 5);
    const sparse = toSparseInference(copy, { foldBatchNorm: false, maxDensity: 1, plan });
    try {
      assert.equal(sparse.stats.engine, plan ? 'plan' : 'modules');
      assert.equal(sparse.stats.foldedBatchNorms, 0);
      const c = compare(dense, (x) => sparse.forward(x), RESNET20, 16, 32);
      assert.equal(c.argmaxMismatches, 0);
      assert.ok(c.maxDiff <= REL_TOL * c.scale, `max |Δlogit| ${c.maxDiff}`);
    } finally {
      sparse.dispose();
      dense.dispose();
    }
  });
}

for (const d of [CONVNET, RESNET20, MLP]) {
  test(`${d.name} at 90% sparsity on the modules engine (plan: false) predicts as the dense model (batch 1 and 64)`, () => {
    const dense = prunedModel(d, 0.9);
    for (const maxDensity of [1, undefined]) {
      const sparse = toSparseInference(prunedModel(d, 0.9), { plan: false, maxDensity });
      try {
        assert.equal(sparse.stats.engine, 'modules');
        assert.equal(sparse.plan, null);
        if (maxDensity === 1) assert.deepEqual(sparse.stats.denseLayers, []);
        else assert.ok(sparse.stats.denseLayers.every((l) => /density .* > maxDensity 0.6/.test(l)), sparse.stats.denseLayers.join('; '));
        for (const [batch, count] of [[64, 128], [1, 16]]) {
          const c = compare(dense, (x) => sparse.forward(x), d, batch, count);
          assert.equal(c.argmaxMismatches, 0, `batch ${batch}: argmax differs on ${c.argmaxMismatches} inputs`);
          assert.ok(c.maxDiff <= REL_TOL * c.scale, `batch ${batch}: max |Δlogit| ${c.maxDiff} > ${REL_TOL} · ${c.scale}`);
        }
      } finally {
        sparse.dispose();
      }
    }
    dense.dispose();
  });
}

test('a float64 model stays dense, and says why', () => {
  const model = prunedModel(MLP, 0.9).to({ dtype: 'float64' });
  const sparse = toSparseInference(model);
  assert.equal(sparse.stats.engine, 'modules');
  assert.equal(sparse.stats.layers, 0);
  assert.match(sparse.stats.denseLayers[0], /fc1: weight is float64/);
  sparse.dispose();
});
