// exportModel --format onnx and `sparse-soups export --format onnx`: a 90%
// sparse soup of two ResNet-20 candidates (one mask) keeps every zero in the
// file and predicts as the checkpoint does in onnxruntime; the metadata
// describes the model and its input; the CLI writes <checkpoint>.onnx.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createModel } from '../../src/models/registry.js';
import { loadModel } from '../../src/models/load.js';
import { decodeModelProto } from '../../src/models/index.js';
import { Generator, noGrad, randn, setNumThreads, tidy } from '../../src/tensor/index.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import { getCriterion } from '../../src/prune/criteria.js';
import { averageStates, disposeState } from '../../src/soup/average.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { exportStateDict } from '../../src/checkpoints/model-description.js';
import { ConfigError } from '../../src/util/errors.js';
import { exportModel } from '../../src/run/export.js';
import { CONVNET, prunedModel, withTempDir } from '../helpers/model-files.js';
import { maxAbsDiff, onnxLogits, onnxSession, randomImages, torchLogits } from '../helpers/onnx.js';

setNumThreads(2);

const resnet20 = (seed: number) =>
  createModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32, generator: new Generator(seed) });

test('a 90%-sparse soup of two candidates: the ONNX file keeps its zeros, and onnxruntime matches forward() within 1e-4', (t) =>
  withTempDir(async (dir) => {
    // Two candidates retrained (here: drawn) under one mask, then averaged: the soup keeps the mask's zeros.
    const [a, b] = [resnet20(1), resnet20(2)];
    for (const [i, m] of [a, b].entries())
      noGrad(() => tidy(() => m.train().forward(randn([16, 3, 32, 32], { generator: new Generator(10 + i) }))));
    const mask = getCriterion('global')(prunableParameters(a), null, 0.9, {});
    mask.apply(a);
    mask.apply(b);
    const soupState = averageStates([a.stateDict(), b.stateDict()]);
    const checkpoint = join(dir, 'soup-uniform.safetensors');
    await saveCheckpoint(checkpoint, soupState, { model: 'resnet20', kind: 'soup', phase: '3' });

    const r = await exportModel({ checkpoint, output: join(dir, 'soup.onnx'), format: 'onnx', dataset: 'cifar10' });
    assert.equal(r.format, 'onnx');
    assert.equal(r.opset, 17);
    const bytes = readFileSync(r.path);
    assert.equal(r.bytes, bytes.byteLength);
    assert.deepEqual(r.operators.Add, 9);
    assert.equal(r.normalizeInGraph, false);
    assert.equal(r.normalization?.mean.length, 3);

    // Every pruned weight is a +0.0 in the file, every kept one the soup's value.
    const model = decodeModelProto(bytes);
    const initializers = new Map(model.graph.initializer.map((t) => [t.name, t]));
    let zeros = 0;
    for (const [name, m] of mask.entries()) {
      const init = initializers.get(name);
      assert.ok(init !== undefined, `${name} is an initializer`);
      const raw = init.raw_data;
      const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const bits = new Uint32Array(values.buffer);
      const kept = m.toArray<'bool'>();
      const soup = soupState.get(name)!.toArray<'float32'>();
      for (let i = 0; i < values.length; i++) {
        if (kept[i]) assert.equal(values[i], soup[i], `${name}[${i}]`);
        else assert.equal(bits[i], 0, `${name}[${i}] is +0.0`);
      }
      zeros += values.length - kept.filter(Boolean).length;
    }
    assert.equal(zeros, mask.prunedCount());
    assert.ok(Math.abs(mask.sparsity() - 0.9) < 1e-3);
    assert.ok(r.nonzero < 0.12 * r.total, `${r.nonzero} of ${r.total} non-zero`);

    // The model's description, the input and the source's metadata are in metadata_props.
    const meta = Object.fromEntries((model.metadata_props ?? []).map((p) => [p.key, p.value]));
    assert.deepEqual(
      [meta.model, meta.model_options, meta.in_channels, meta.num_classes, meta.image_size, meta.dataset, meta.kind, meta.phase],
      ['resnet20', '{}', '3', '10', '32', 'cifar10', 'soup', '3'],
    );
    assert.equal(meta.input_layout, 'NCHW');
    assert.match(meta.normalization, /^by_caller/);
    assert.deepEqual(JSON.parse(meta.mean), r.normalization!.mean);
    assert.equal(meta.format, undefined, "the safetensors 'format' key is not carried over");
    assert.equal(model.producer_name, 'sparse-soups');

    // onnxruntime on 1,000 images vs the checkpoint loaded back.
    const { model: loaded } = await loadModel(checkpoint, {
      describe: () => ({ name: 'resnet20', options: {}, inChannels: 3, numClasses: 10, imageSize: 32 }),
    });
    const x = randomImages(1000, [3, 32, 32], 21);
    const session = await onnxSession(bytes);
    const onnx = await onnxLogits(session, x, [1000, 3, 32, 32]);
    const diff = maxAbsDiff(onnx.data, torchLogits(loaded, x, [1000, 3, 32, 32]));
    t.diagnostic(`90%-sparse resnet20 soup: max |Δlogit| ${diff.toExponential(2)} over 1,000 images`);
    assert.ok(diff < 1e-4, `max |Δlogit| ${diff}`);
    await session.release();
    for (const m of [a, b, loaded]) m.dispose();
    disposeState(soupState);
    mask.dispose();
  })());

test(
  "normalizing in the graph takes the file's dataset; without one it is a ConfigError (--dataset), as is an unknown dataset",
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET);
    const withDataset = join(dir, 'fm.safetensors');
    await exportStateDict(model.stateDict(), { ...CONVNET, dataset: 'fashion-mnist' }, withDataset, { format: 'dense' });
    const r = await exportModel({ checkpoint: withDataset, output: join(dir, 'in-graph.onnx'), format: 'onnx', normalizeInGraph: true });
    assert.deepEqual(r.normalization, { mean: [0.286], std: [0.353] });
    assert.match(r.metadata.normalization, /^in_graph/);
    assert.equal(r.metadata.input_value_range, 'pixel / 255, in [0, 1]');

    const noDataset = join(dir, 'plain.safetensors');
    await exportStateDict(model.stateDict(), CONVNET, noDataset, { format: 'dense' });
    const output = join(dir, 'x.onnx');
    await assert.rejects(
      exportModel({ checkpoint: noDataset, output, format: 'onnx', normalizeInGraph: true }),
      (e: unknown) => e instanceof ConfigError && e.path === '--dataset' && /mean and std/.test(e.message),
    );
    await assert.rejects(
      exportModel({ checkpoint: noDataset, output, format: 'onnx', dataset: 'no-such-set', normalizeInGraph: true }),
      (e: unknown) => e instanceof ConfigError && /no-such-set/.test(e.message),
    );
    assert.ok(!existsSync(output));
    // Stated in the metadata instead, an unknown normalization is said so.
    const plain = await exportModel({ checkpoint: noDataset, output, format: 'onnx' });
    assert.equal(plain.normalization, null);
    assert.equal(plain.metadata.normalization, 'unknown');
    model.dispose();
  }),
);

test(
  'sparse-soups export --format onnx writes <checkpoint>.onnx',
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET);
    const checkpoint = join(dir, 'soup.safetensors');
    await saveCheckpoint(checkpoint, model.stateDict(), { model: 'convnet', kind: 'soup' });
    const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
    const r = cli('export', checkpoint, '--format', 'onnx', '--dataset', 'fashion-mnist');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /wrote .*soup\.onnx: .* \(onnx, opset 17, 1×28×28 images, dynamic batch\)/);
    assert.match(r.stdout, /mean \[0\.286\], std \[0\.353\] \(in the metadata\)/);
    const session = await onnxSession(readFileSync(join(dir, 'soup.onnx')));
    const x = randomImages(5, [1, 28, 28], 1);
    assert.ok(maxAbsDiff((await onnxLogits(session, x, [5, 1, 28, 28])).data, torchLogits(model, x, [5, 1, 28, 28])) < 1e-4);
    await session.release();
    const bad = cli('export', checkpoint, '--format', 'tflite', '--dataset', 'fashion-mnist');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /--format: expected 'dense', 'sparse' or 'onnx', got 'tflite'/);
    model.dispose();
  }),
);
