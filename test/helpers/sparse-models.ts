/**
 * Fixtures of the sparse inference tests: zoo models with random BN
 * statistics and affine parameters (so folding BN into the conv matters),
 * pruned by global magnitude, and a comparison of an engine's logits with
 * the dense model's.
 *
 * Tolerance: max |Δlogit| ≤ 1e-4 · max(1, max |logit|): the sparse kernels
 * add in another order than libtorch's GEMM/conv, and folding BN rounds
 * differently from applying it after. The argmax must be equal wherever the
 * dense model's top two logits are further apart than that tolerance.
 *
 * @example
 * const dense = prunedModel(CONVNET, 0.9);
 * const c = compareLogits(dense, (x) => sparse.forward(x), CONVNET, 7, 21);
 * assert.ok(c.maxDiff <= REL_TOL * c.scale);
 */
import { Generator, noGrad, randn, rand, tidy, type Tensor } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import { getCriterion } from '../../src/prune/criteria.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import type { ModelDescription } from '../../src/checkpoints/model-description.js';

export const REL_TOL = 1e-4;

/** A zoo model with random BN statistics and affine parameters, pruned by global magnitude to `sparsity`. */
export function prunedModel(d: ModelDescription, sparsity: number, seed = 1): Module {
  const g = new Generator(seed);
  const model = createModel(d.name, {
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: g,
  });
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

export interface Comparison {
  /** max |Δlogit| over all inputs. */
  maxDiff: number;
  /** max(1, max |dense logit|). */
  scale: number;
  argmaxMismatches: number;
}

/** Runs `count` seeded random inputs through both, `batch` at a time. */
export function compareLogits(
  dense: Module,
  sparse: (x: Tensor) => Tensor,
  d: ModelDescription,
  batch: number,
  count: number,
  seed = 1234,
): Comparison {
  const out: Comparison = { maxDiff: 0, scale: 1, argmaxMismatches: 0 };
  const g = new Generator(seed);
  for (let done = 0; done < count; done += batch) {
    tidy(() => {
      const x = randn([batch, d.inChannels, d.imageSize, d.imageSize], { generator: g });
      const want = noGrad(() => dense.forward(x));
      const got = sparse(x);
      if (got.shape.join() !== want.shape.join()) throw new Error(`shape [${got.shape.join(', ')}], want [${want.shape.join(', ')}]`);
      out.maxDiff = Math.max(out.maxDiff, got.sub(want).abs().max().item());
      out.scale = Math.max(out.scale, want.abs().max().item());
      const top2 = want.topk(2, 1).values;
      const gap = top2.select(1, 0).sub(top2.select(1, 1));
      const differs = got
        .argmax(1)
        .ne(want.argmax(1))
        .logicalAnd(gap.gt(REL_TOL * out.scale));
      out.argmaxMismatches += differs.sum().item();
    });
  }
  return out;
}
