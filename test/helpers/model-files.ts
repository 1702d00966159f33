/**
 * Fixtures of the model-file tests (export, load, sparse format): a temp
 * directory per test, a 90%-pruned zoo model with non-trivial BN statistics,
 * the bits of its logits, and the bytes of a safetensors entry.
 *
 * @example
 * test('...', withTempDir(async (dir) => {
 *   const model = prunedModel(CONVNET);
 *   const bits = logitBits(model, CONVNET);
 * }));
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, noGrad, randn, tidy } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import { getCriterion } from '../../src/prune/criteria.js';
import type { SafeTensor } from '../../src/io/safetensors.js';
import type { ModelDescription } from '../../src/checkpoints/model-description.js';

export const CONVNET: ModelDescription = { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 };
export const RESNET20: ModelDescription = { name: 'resnet20', options: {}, inChannels: 3, numClasses: 10, imageSize: 32 };

/** Runs `fn` with a fresh temp directory, removed afterwards. */
export function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-export-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** A model with non-trivial BN statistics, pruned to 90% with the global criterion (pruned negatives become -0.0). */
export function prunedModel(d: ModelDescription, seed = 1): Module {
  const model = createModel(d.name, {
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: new Generator(seed),
  });
  noGrad(() =>
    tidy(() => model.train().forward(randn([8, d.inChannels, d.imageSize, d.imageSize], { generator: new Generator(seed + 1) }))),
  );
  const mask = getCriterion('global')(prunableParameters(model), null, 0.9, {});
  mask.apply(model);
  mask.dispose();
  return model.eval();
}

/** The raw bits of the model's logits on six seeded random images. */
export function logitBits(model: Module, d: ModelDescription): Uint32Array {
  const x = randn([6, d.inChannels, d.imageSize, d.imageSize], { generator: new Generator(99) });
  const logits = noGrad(() => tidy(() => model.eval().forward(x).toArray<'float32'>()));
  x.dispose();
  return new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
}

/** The bytes of a safetensors entry's data. */
export const bytesOf = (t: SafeTensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
