// exportOnnx: every zoo model and a model of the standard layers, run in
// onnxruntime-node against libtorch's eval-mode forward() (max |Δlogit| <
// 1e-4), the dynamic batch, normalization in the graph, user converters, and
// the error that names an unsupported module.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, type CreateModelOptions } from '../../../src/models/registry.js';
import { exportOnnx, registerOnnxConverter, onnxOps, decodeModelProto } from '../../../src/models/index.js';
import { Module } from '../../../src/nn/module.js';
import { BatchNorm1d, BatchNorm2d, Conv2d, Linear } from '../../../src/nn/layers.js';
import { AdaptiveAvgPool2d, AvgPool2d, Dropout, Flatten, Identity, MaxPool2d, ReLU, Sequential } from '../../../src/nn/containers.js';
import { Generator, noGrad, randn, setNumThreads, tidy, type Tensor } from '../../../src/tensor/index.js';
import { OnnxExportError } from '../../../src/util/errors.js';
import { tinyImages } from '../../helpers/tiny-run.js';
import { maxAbsDiff, onnxLogits, onnxSession, randomImages, torchLogits } from '../../helpers/onnx.js';

setNumThreads(2);

const TOLERANCE = 1e-4;

/** A zoo model with BN running statistics from one training-mode batch (not the initial 0s and 1s). */
function zooModel(name: string, config: CreateModelOptions, seed = 0): Module {
  const model = createModel(name, { ...config, generator: new Generator(seed) });
  const { inChannels: c, imageSize: s } = config;
  noGrad(() => tidy(() => model.train().forward(randn([16, c, s, s], { generator: new Generator(seed + 1) }))));
  return model.eval();
}

/** Max |Δlogit| between onnxruntime and forward() on `x` [n, ...shape]. */
async function compare(model: Module, shape: number[], x: Float32Array): Promise<number> {
  const n = x.length / shape.reduce((a, b) => a * b, 1);
  const r = exportOnnx(model, { inputShape: shape });
  const session = await onnxSession(r.bytes);
  const onnx = await onnxLogits(session, x, [n, ...shape]);
  const torch = torchLogits(model, x, [n, ...shape]);
  assert.deepEqual(onnx.dims, [n, torch.length / n]);
  await session.release();
  return maxAbsDiff(onnx.data, torch);
}

/** The tiny fixture's images as (pixel/255 - 0.286) / 0.353, [n, 1, 28, 28]. */
function tinyInputs(count: number): Float32Array {
  const { images } = tinyImages(count, 7);
  return Float32Array.from(images, (p) => (p / 255 - 0.286) / 0.353);
}

test('mlp, convnet and resnet20 on 1,000 images: onnxruntime within 1e-4 of forward()', async (t) => {
  const cases: [string, CreateModelOptions, number[], Float32Array][] = [
    ['mlp', { inChannels: 1, numClasses: 10, imageSize: 28 }, [1, 28, 28], tinyInputs(1000)],
    ['convnet', { inChannels: 1, numClasses: 10, imageSize: 28 }, [1, 28, 28], tinyInputs(1000)],
    ['resnet20', { inChannels: 3, numClasses: 10, imageSize: 32 }, [3, 32, 32], randomImages(1000, [3, 32, 32], 3)],
  ];
  for (const [name, config, shape, x] of cases) {
    const model = zooModel(name, config);
    const diff = await compare(model, shape, x);
    t.diagnostic(`${name}: max |Δlogit| ${diff.toExponential(2)} over 1,000 images`);
    assert.ok(diff < TOLERANCE, `${name}: max |Δlogit| ${diff}`);
    model.dispose();
  }
});

test('resnet56, resnet20 with shortcut B, wrn-16-4 with dropout, vgg16 (both heads) on one batch: within 1e-4', async (t) => {
  const cifar = { inChannels: 3, numClasses: 10, imageSize: 32 };
  const cases: [string, CreateModelOptions][] = [
    ['resnet56', cifar],
    ['resnet20', { ...cifar, shortcut: 'B' }],
    ['wrn-16-4', { ...cifar, dropout: 0.3 }],
    ['vgg16', cifar],
    ['vgg16', { ...cifar, classifier: 'mlp', numClasses: 100 }],
  ];
  for (const [name, config] of cases) {
    const model = zooModel(name, config);
    const diff = await compare(model, [3, 32, 32], randomImages(16, [3, 32, 32], 4));
    t.diagnostic(`${name} ${JSON.stringify(config)}: max |Δlogit| ${diff.toExponential(2)} over 16 images`);
    assert.ok(diff < TOLERANCE, `${name}: max |Δlogit| ${diff}`);
    model.dispose();
  }
});

test('the batch is dynamic: one file runs batches of 1 and 64; input and output declare a symbolic batch', async () => {
  const model = zooModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 28 });
  const r = exportOnnx(model, { inputShape: [1, 28, 28] });
  assert.deepEqual(r.inputShape, ['batch', 1, 28, 28]);
  assert.deepEqual(r.outputShape, ['batch', 10]);
  const graph = decodeModelProto(r.bytes).graph;
  const dims = (v: (typeof graph.input)[number]) => v.type.tensor_type.shape.dim.map((d) => ('dim_param' in d ? d.dim_param : d.dim_value));
  assert.deepEqual(dims(graph.input[0]), ['batch', 1, 28, 28]);
  assert.deepEqual(dims(graph.output[0]), ['batch', 10]);
  const session = await onnxSession(r.bytes);
  for (const n of [1, 64]) {
    const x = tinyInputs(n);
    const onnx = await onnxLogits(session, x, [n, 1, 28, 28]);
    assert.deepEqual(onnx.dims, [n, 10]);
    assert.ok(maxAbsDiff(onnx.data, torchLogits(model, x, [n, 1, 28, 28])) < TOLERANCE, `batch ${n}`);
  }
  await session.release();
  model.dispose();
});

test('a model in training mode exports its eval-mode computation and keeps its training flags', async () => {
  const model = zooModel('wrn-16-1', { inChannels: 3, numClasses: 10, imageSize: 32, dropout: 0.5 }).train();
  const r = exportOnnx(model, { inputShape: [3, 32, 32] });
  assert.ok(
    model.namedModules().every(([, m]) => m.training),
    'training flags restored',
  );
  const x = randomImages(4, [3, 32, 32], 5);
  const session = await onnxSession(r.bytes);
  const onnx = await onnxLogits(session, x, [4, 3, 32, 32]);
  assert.ok(maxAbsDiff(onnx.data, torchLogits(model, x, [4, 3, 32, 32])) < TOLERANCE);
  await session.release();
  model.dispose();
});

test('a custom model of the standard layers (every one of them, non-default options) exports', async (t) => {
  const generator = new Generator(3);
  const model = new Sequential(
    new Conv2d(3, 8, 3, { stride: 2, padding: 2, dilation: 2, generator }),
    new BatchNorm2d(8, { affine: false }),
    new ReLU(),
    new Conv2d(8, 8, 3, { padding: 1, groups: 4, bias: false, generator }),
    new BatchNorm2d(8),
    new MaxPool2d(3, 2, 1),
    new AvgPool2d(2, 1, 1),
    new AdaptiveAvgPool2d(3),
    new Dropout(0.2),
    new Identity(),
    new Sequential(new Flatten(), new Linear(72, 32, { generator }), new BatchNorm1d(32), new ReLU()),
    new Linear(32, 5, { bias: false, generator }),
  );
  noGrad(() => tidy(() => model.train().forward(randn([16, 3, 19, 19], { generator: new Generator(4) }))));
  model.eval();
  const diff = await compare(model, [3, 19, 19], randomImages(32, [3, 19, 19], 6));
  t.diagnostic(`custom Sequential: max |Δlogit| ${diff.toExponential(2)}`);
  assert.ok(diff < TOLERANCE, `max |Δlogit| ${diff}`);
  // A global pool, a flatten of only some dimensions and a Linear on 3-D input.
  const other = new Sequential(new AdaptiveAvgPool2d(1), new Flatten(2), new Linear(1, 4, { generator }), new Flatten());
  assert.ok((await compare(other, [6, 5, 5], randomImages(3, [6, 5, 5], 7))) < TOLERANCE);
  // Nothing but identities: the output is the input, through an Identity node.
  const passThrough = exportOnnx(new Sequential(new Dropout(0.5), new Identity()), { inputShape: [7] });
  assert.deepEqual(passThrough.operators, { Identity: 1 });
  assert.equal(passThrough.metadata.input_layout, '[batch, 7]');
  const session = await onnxSession(passThrough.bytes);
  const x = randomImages(2, [7], 8);
  assert.deepEqual((await onnxLogits(session, x, [2, 7])).data, x);
  await session.release();
  model.dispose();
  other.dispose();
});

test('the normalization in the graph: the file takes pixel/255 and gives the logits of the normalized images', async () => {
  const model = zooModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32 });
  const mean = [0.49, 0.48, 0.45];
  const std = [0.25, 0.24, 0.26];
  const r = exportOnnx(model, { inputShape: [3, 32, 32], normalization: { mean, std }, normalizeInGraph: true });
  assert.equal(r.metadata.normalization.split(':')[0], 'in_graph');
  assert.equal(r.metadata.mean, '[0.49,0.48,0.45]');
  const n = 8;
  const pixels = randomImages(n, [3, 32, 32], 8).map((v) => Math.min(1, Math.max(0, v / 3 + 0.5)));
  const normalized = pixels.map((v, i) => {
    const c = Math.floor(i / 1024) % 3;
    return (v - mean[c]) / std[c];
  });
  const session = await onnxSession(r.bytes);
  const onnx = await onnxLogits(session, pixels, [n, 3, 32, 32]);
  assert.ok(maxAbsDiff(onnx.data, torchLogits(model, normalized, [n, 3, 32, 32])) < TOLERANCE);
  await session.release();
  // Stated, not applied: the metadata says what to feed.
  const stated = exportOnnx(model, { inputShape: [3, 32, 32], normalization: { mean, std } });
  assert.deepEqual(
    [stated.metadata.input_layout, stated.metadata.normalization.split(':')[0], stated.metadata.std],
    ['NCHW', 'by_caller', '[0.25,0.24,0.26]'],
  );
  model.dispose();
});

// ---------------------------------------------------------------- user modules

class Gelu extends Module {
  forward(x: Tensor): Tensor {
    return x.mul(x.sigmoid().mul(1.702));
  }
}

class Residual extends Module {
  readonly body: Module;
  constructor(body: Module) {
    super();
    this.body = this.registerModule('body', body);
  }
  forward(x: Tensor): Tensor {
    return this.body.forward(x).add(x);
  }
}

class DoubledLinear extends Linear {
  override forward(x: Tensor): Tensor {
    return super.forward(x).mul(2);
  }
}

class KeepsForward extends Linear {}

test('an unsupported module is an OnnxExportError naming its path and class', () => {
  const generator = new Generator(0);
  const withGelu = new Sequential(
    new Flatten(),
    new Sequential(new Linear(12, 6, { generator }), new Gelu()),
    new Linear(6, 2, { generator }),
  );
  assert.throws(
    () => exportOnnx(withGelu, { inputShape: [3, 2, 2] }),
    (e: unknown) => {
      assert.ok(e instanceof OnnxExportError, String(e));
      assert.equal(e.modulePath, '1.1');
      assert.equal(e.moduleClass, 'Gelu');
      assert.match(e.message, /^cannot export '1\.1' \(Gelu\) to ONNX: no ONNX converter for Gelu/);
      assert.match(e.message, /registerOnnxConverter/);
      assert.match(e.message, /Linear, Conv2d, BatchNorm/);
      return true;
    },
  );
  // A subclass that overrides forward() is not exported as its base class.
  const doubled = new Sequential(new Flatten(), new DoubledLinear(12, 2, { generator }));
  assert.throws(
    () => exportOnnx(doubled, { inputShape: [3, 2, 2] }),
    (e: unknown) =>
      e instanceof OnnxExportError && e.modulePath === '1' && /DoubledLinear overrides the forward\(\) of Linear/.test(e.message),
  );
  // The model itself (path '').
  assert.throws(
    () => exportOnnx(new Gelu(), { inputShape: [4] }),
    (e: unknown) => e instanceof OnnxExportError && e.modulePath === '' && /^cannot export the model \(Gelu\)/.test(e.message),
  );
  // A layer fed the wrong shape is named too.
  assert.throws(
    () => exportOnnx(new Sequential(new Flatten(), new Linear(10, 2, { generator })), { inputShape: [3, 2, 2], checkForward: false }),
    (e: unknown) => e instanceof OnnxExportError && e.modulePath === '1' && /Linear takes 10 features/.test(e.message),
  );
  withGelu.dispose();
  doubled.dispose();
});

test('a user module exports once it has a converter; a subclass keeping its forward() uses its base class converter', async () => {
  registerOnnxConverter(Residual, (m, x, ctx) => onnxOps.add(ctx.graph, ctx.module(m.body, x), x, ctx.name('add')));
  const generator = new Generator(1);
  const model = new Sequential(
    new Flatten(),
    new Residual(new Sequential(new KeepsForward(12, 12, { generator }), new ReLU())),
    new Linear(12, 3, { generator }),
  );
  const r = exportOnnx(model, { inputShape: [3, 2, 2] });
  assert.equal(r.operators.Add, 1);
  // Initializers carry the state-dict names.
  const names = decodeModelProto(r.bytes).graph.initializer.map((i) => i.name);
  assert.deepEqual(names.sort(), ['1.body.0.bias', '1.body.0.weight', '2.bias', '2.weight']);
  assert.ok((await compare(model, [3, 2, 2], randomImages(10, [3, 2, 2], 9))) < TOLERANCE);
  model.dispose();
});
