// evaluateCheckpoint: the same numbers from a pipeline checkpoint, its dense
// export and its sparse export; OOD rows; the printable table; the errors
// for a model that does not fit the data, bad OOD options and a file that
// names no model. Runs on a small synthetic npy dataset (always) and on a
// real Fashion-MNIST subset (when installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, setNumThreads } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import {
  DataLoader,
  FASHION_MNIST_DEFAULT_DIR,
  loadDatasetSplit,
  subsetDataset,
  writeNpyFile,
  type ImageDataset,
} from '../../src/data/index.js';
import { trainModel } from '../../src/train/trainer.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import { getCriterion } from '../../src/prune/criteria.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { toSafeTensor } from '../../src/checkpoints/state-dict.js';
import { ConfigError } from '../../src/util/errors.js';
import { exportStateDict } from '../../src/checkpoints/model-description.js';
import { exportModel } from '../../src/run/export.js';
import { evaluateCheckpoint } from '../../src/run/evaluate-checkpoint.js';

setNumThreads(2);

/** Three classes of 8×8 images: a bright vertical bar at columns 2c..2c+1 over uniform noise. */
function writeBarsDataset(dir: string): void {
  let state = 12345;
  const random = (): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  for (const [split, n] of [
    ['train', 600],
    ['test', 150],
  ] as const) {
    const images = new Uint8Array(n * 64);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const label = i % 3;
      labels[i] = label;
      for (let p = 0; p < 64; p++) {
        const x = p % 8;
        images[i * 64 + p] = Math.floor(random() * 120) + (x === 2 * label + 1 || x === 2 * label + 2 ? 120 : 0);
      }
    }
    writeNpyFile(join(dir, `${split}_images.npy`), { dtype: '|u1', shape: [n, 8, 8], data: images });
    writeNpyFile(join(dir, `${split}_labels.npy`), { dtype: '<i4', shape: [n], data: labels });
  }
}

async function trainPruned(model: Module, train: ImageDataset, epochs: number, sparsity: number, batchSize = 32): Promise<void> {
  await trainModel(model, new DataLoader(train, { batchSize, seed: 1 }), { epochs, lr: () => 0.05, momentum: 0.9 });
  const mask = getCriterion('global')(prunableParameters(model), null, sparsity, {});
  mask.apply(model);
  mask.dispose();
}

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-eval-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

test(
  'a pipeline checkpoint, its dense export and its sparse export evaluate to the same metrics',
  withTempDir(async (dir) => {
    writeBarsDataset(dir);
    const options = { hiddenSizes: [16] };
    const model = createModel('mlp', { inChannels: 1, numClasses: 3, imageSize: 8, generator: new Generator(0), ...options });
    await trainPruned(model, loadDatasetSplit('npy', 'train', { dir }), 3, 0.5);
    const checkpoint = join(dir, 'soup.safetensors');
    await saveCheckpoint(checkpoint, model.stateDict(), { model: 'mlp', kind: 'soup' });
    const hints = { dataset: 'npy', dir, modelOptions: options };
    const dense = await exportModel({ checkpoint, output: join(dir, 'dense.safetensors'), format: 'dense', ...hints });
    const sparse = await exportModel({ checkpoint, output: join(dir, 'sparse.safetensors'), format: 'sparse', ...hints });

    const ood = { corruptions: ['gaussian_noise', 'contrast'], severities: [1, 5], subset: 60 };
    const common = { dataset: 'npy', dir, ood, batchSize: 50 };
    const fromSparse = await evaluateCheckpoint({ checkpoint: sparse.path, ...common }); // self-describing: no model hints
    const fromDense = await evaluateCheckpoint({ checkpoint: dense.path, ...common });
    const fromCheckpoint = await evaluateCheckpoint({ checkpoint, ...common, modelOptions: options });
    assert.equal(fromSparse.format, 'sparse');
    assert.equal(fromDense.format, 'dense');
    assert.deepEqual(fromDense.metrics, fromSparse.metrics);
    assert.deepEqual(fromCheckpoint.metrics, fromSparse.metrics);

    const m = fromSparse.metrics;
    assert.equal(fromSparse.testImages, 150);
    assert.equal(fromSparse.oodImages, 60);
    assert.ok(m.testAccuracy > 0.9, `test accuracy ${m.testAccuracy}`);
    assert.ok(m.worstClassAccuracy <= m.testAccuracy);
    assert.ok(Number.isFinite(m.testLoss) && m.testLoss > 0);
    assert.ok(m.ece >= 0 && m.ece <= 1);
    assert.deepEqual(
      m.ood.map((o) => [o.corruption, o.severity]),
      [
        ['gaussian_noise', 1],
        ['gaussian_noise', 5],
        ['contrast', 1],
        ['contrast', 5],
      ],
    );
    assert.ok(m.ood.every((o) => o.accuracy >= 0 && o.accuracy <= 1));
    assert.ok(Math.abs(m.oodMeanAccuracy - m.ood.reduce((s, o) => s + o.accuracy, 0) / 4) < 1e-12);
    assert.ok(Math.abs(m.sparsity - 0.5) < 0.01, `sparsity ${m.sparsity}`);
    assert.deepEqual(fromSparse.model, { name: 'mlp', options, inChannels: 1, numClasses: 3, imageSize: 8, dataset: 'npy' });

    for (const line of [
      'checkpoint: ',
      '(sparse)',
      'model: mlp {"hiddenSizes":[16]} for 1×8×8 images, 3 classes',
      '| test accuracy |',
      '| OOD contrast, severity 5 |',
      '| OOD mean accuracy |',
    ]) {
      assert.ok(fromSparse.table.includes(line), `table has ${line}:\n${fromSparse.table}`);
    }
    assert.ok(fromSparse.table.includes(`| test accuracy | ${(100 * m.testAccuracy).toFixed(2)}% |`));

    // Without OOD there are no OOD rows; a test subset takes the first images.
    const small = await evaluateCheckpoint({ checkpoint: sparse.path, dataset: 'npy', dir, testSubset: 30 });
    assert.equal(small.testImages, 30);
    assert.equal(small.metrics.ood.length, 0);
    assert.ok(!small.table.includes('OOD'));
    model.dispose();
  }),
);

test(
  'eval errors: a model that does not fit the data, bad OOD options, a file that names no model',
  withTempDir(async (dir) => {
    writeBarsDataset(dir);
    const convnet = createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 28, generator: new Generator(0) });
    const description = { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28, dataset: 'fashion-mnist' };
    const exported = await exportStateDict(convnet.stateDict(), description, join(dir, 'convnet.safetensors'), { format: 'sparse' });
    await assert.rejects(evaluateCheckpoint({ checkpoint: exported.path, dataset: 'npy', dir }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, '--dataset');
      assert.match(e.message, /holds convnet \{\} for 1×28×28 images, 10 classes, but npy has 1×8×8 images and 3 classes/);
      assert.match(e.message, /\(fashion-mnist\)/);
      return true;
    });
    await assert.rejects(
      evaluateCheckpoint({ checkpoint: exported.path, dataset: 'npy', dir, ood: { corruptions: ['rain'], severities: [1] } }),
      (e: unknown) => e instanceof ConfigError && e.path === '--ood.corruptions[0]' && /unknown corruption "rain"/.test(e.message),
    );
    await assert.rejects(
      evaluateCheckpoint({ checkpoint: exported.path, dataset: 'npy', dir, ood: { corruptions: ['fog'], severities: [6] } }),
      (e: unknown) => e instanceof ConfigError && e.path === '--ood.severities[0]',
    );

    const bare = join(dir, 'bare.safetensors');
    await saveSafetensors(bare, new Map([...convnet.stateDict()].map(([n, t]) => [n, toSafeTensor(n, t)])));
    await assert.rejects(evaluateCheckpoint({ checkpoint: bare, dataset: 'npy', dir }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, '--model');
      assert.match(e.message, /bare\.safetensors does not say which model it holds .* pass --model <name>/);
      return true;
    });
    convnet.dispose();
  }),
);

const haveFashionMnist = existsSync(FASHION_MNIST_DEFAULT_DIR);

test(
  'a 90%-sparse MLP exported from Fashion-MNIST training evaluates to sane numbers',
  { skip: !haveFashionMnist && 'dataset-fashion-mnist not installed' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-eval-fm-'));
    try {
      const train = loadDatasetSplit('fashion-mnist', 'train');
      const options = { hiddenSizes: [64] };
      const model = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, generator: new Generator(0), ...options });
      await trainPruned(
        model,
        subsetDataset(
          train,
          Int32Array.from({ length: 4000 }, (_, i) => i),
        ),
        2,
        0.9,
        100,
      );
      const description = { name: 'mlp', options, inChannels: 1, numClasses: 10, imageSize: 28, dataset: 'fashion-mnist' };
      const sparse = await exportStateDict(model.stateDict(), description, join(dir, 'mlp.sparse.safetensors'), { format: 'sparse' });
      assert.ok(sparse.ratio < 0.25, `sparse/dense ${sparse.ratio}`);
      const r = await evaluateCheckpoint({
        checkpoint: sparse.path,
        dataset: 'fashion-mnist',
        testSubset: 1000,
        ood: { corruptions: ['gaussian_noise', 'contrast'], severities: [3], subset: 300 },
      });
      const m = r.metrics;
      assert.equal(r.testImages, 1000);
      assert.ok(m.testAccuracy > 0.6 && m.testAccuracy < 1, `test accuracy ${m.testAccuracy}`);
      assert.ok(m.testLoss > 0 && m.testLoss < 1.5, `loss ${m.testLoss}`);
      assert.ok(m.ece >= 0 && m.ece < 0.3, `ECE ${m.ece}`);
      assert.ok(m.worstClassAccuracy <= m.testAccuracy);
      assert.equal(m.ood.length, 2);
      assert.ok(m.oodMeanAccuracy > 0.1 && m.oodMeanAccuracy <= m.testAccuracy + 0.05, `OOD ${m.oodMeanAccuracy}`);
      assert.ok(Math.abs(m.sparsity - 0.9) < 1e-3, `sparsity ${m.sparsity}`);
      assert.ok(m.nonzeroFlops < m.denseFlops);
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
