// The model zoo: output shapes, published parameter counts, PyTorch-style
// state-dict names, the option-A shortcut, a ConvNet that learns, and the
// registry's errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, arange, dispose, noGrad, randint, randn, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { Conv2d, F, type Module } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { BasicBlock, ConvNet, createModel, findModel, listModels, registerModel, type CreateModelOptions } from '../../src/models/index.js';
import { ConfigError, TensorError } from '../../src/util/errors.js';

const CIFAR = { inChannels: 3, numClasses: 10, imageSize: 32 };
const MNIST = { inChannels: 1, numClasses: 10, imageSize: 28 };

const build = (name: string, config: CreateModelOptions): Module => createModel(name, { generator: new Generator(0), ...config });
const outputShape = (model: Module, input: number[]): number[] =>
  tidy(() => model.forward(randn(input, { generator: new Generator(1) })).shape);
const keysOf = (model: Module): string[] => [...model.stateDict().keys()];

test('forward output shapes for typical inputs, in train and eval mode', () => {
  const cases: [string, CreateModelOptions, number[], number[]][] = [
    ['mlp', MNIST, [4, 1, 28, 28], [4, 10]],
    ['mlp', { ...MNIST, hiddenSizes: [32, 16] }, [4, 784], [4, 10]],
    ['mlp', { ...CIFAR, hiddenSizes: [] }, [2, 3, 32, 32], [2, 10]],
    ['convnet', MNIST, [4, 1, 28, 28], [4, 10]],
    ['convnet', { ...CIFAR, numClasses: 100 }, [2, 3, 32, 32], [2, 100]],
    ['resnet20', CIFAR, [2, 3, 32, 32], [2, 10]],
    ['resnet20', { ...CIFAR, shortcut: 'B' }, [2, 3, 32, 32], [2, 10]],
    ['resnet56', { ...CIFAR, numClasses: 100 }, [2, 3, 32, 32], [2, 100]],
    ['resnet-32', MNIST, [2, 1, 28, 28], [2, 10]],
    ['wrn-16-4', CIFAR, [2, 3, 32, 32], [2, 10]],
    ['wrn-10-1', { ...CIFAR, dropout: 0.3 }, [2, 3, 32, 32], [2, 10]],
    ['vgg16', CIFAR, [2, 3, 32, 32], [2, 10]],
    ['vgg16', { ...CIFAR, imageSize: 64, classifier: 'mlp' }, [2, 3, 64, 64], [2, 10]],
  ];
  for (const [name, config, input, expected] of cases) {
    const model = build(name, config);
    assert.deepEqual(outputShape(model, input), expected, `${name} in training`);
    model.eval();
    assert.deepEqual(outputShape(model, input), expected, `${name} in evaluation`);
    model.dispose();
  }
});

test('parameter counts: ResNet-20 269,722 and ResNet-56 853,018 (option A, 10 classes), and the others', () => {
  const counts: [string, CreateModelOptions, number][] = [
    ['resnet20', CIFAR, 269_722],
    ['resnet56', CIFAR, 853_018],
    ['resnet-20', { ...CIFAR, shortcut: 'B' }, 272_474], // + 1×1 conv and BN in layer2.0 and layer3.0
    ['wrn-16-4', CIFAR, 2_748_890],
    ['wrn-28-10', CIFAR, 36_479_194],
    ['vgg16', CIFAR, 14_724_042],
    ['convnet', MNIST, 421_738],
    ['mlp', MNIST, 784 * 512 + 512 + 512 * 10 + 10],
  ];
  for (const [name, config, expected] of counts) {
    const model = build(name, config);
    assert.equal(model.parameterCount(), expected, name);
    model.dispose();
  }
});

test('state dict names look like PyTorch; convs before BN have no bias', () => {
  const resnet = build('resnet20', CIFAR);
  const keys = keysOf(resnet);
  assert.deepEqual(keys.slice(0, 12), [
    'conv1.weight',
    'bn1.weight',
    'bn1.bias',
    'bn1.running_mean',
    'bn1.running_var',
    'bn1.num_batches_tracked',
    'layer1.0.conv1.weight',
    'layer1.0.bn1.weight',
    'layer1.0.bn1.bias',
    'layer1.0.bn1.running_mean',
    'layer1.0.bn1.running_var',
    'layer1.0.bn1.num_batches_tracked',
  ]);
  assert.deepEqual(keys.slice(-2), ['fc.weight', 'fc.bias']);
  assert.ok(keys.includes('layer3.2.bn2.running_var'));
  assert.equal(keys.filter((k) => /^layer\d\.\d\.conv\d\.weight$/.test(k)).length, 18);
  assert.ok(!keys.some((k) => k.includes('shortcut')), 'option A has no shortcut parameters');
  assert.equal(keys.length, 19 + 19 * 5 + 2); // 19 conv weights, 19 BNs of 5 entries, fc

  const optionB = keysOf(build('resnet20', { ...CIFAR, shortcut: 'B' }));
  assert.deepEqual(
    optionB.filter((k) => k.includes('shortcut')),
    [
      'layer2.0.shortcut.0.weight',
      ...['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((s) => `layer2.0.shortcut.1.${s}`),
      'layer3.0.shortcut.0.weight',
      ...['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked'].map((s) => `layer3.0.shortcut.1.${s}`),
    ],
  );

  const wrn = keysOf(build('wrn-16-2', CIFAR));
  assert.deepEqual(wrn.slice(0, 3), ['conv1.weight', 'layer1.0.bn1.weight', 'layer1.0.bn1.bias']);
  assert.ok(
    wrn.includes('layer1.0.shortcut.weight') && wrn.includes('layer2.0.shortcut.weight') && !wrn.includes('layer1.1.shortcut.weight'),
  );
  assert.deepEqual(wrn.slice(-7), [
    'bn.weight',
    'bn.bias',
    'bn.running_mean',
    'bn.running_var',
    'bn.num_batches_tracked',
    'fc.weight',
    'fc.bias',
  ]);

  const vgg = keysOf(build('vgg16', CIFAR));
  assert.deepEqual(vgg.slice(0, 7), [
    'features.0.weight',
    'features.1.weight',
    'features.1.bias',
    'features.1.running_mean',
    'features.1.running_var',
    'features.1.num_batches_tracked',
    'features.3.weight',
  ]);
  assert.equal(vgg.filter((k) => /^features\.\d+\.weight$/.test(k)).length, 26); // 13 convs + 13 BNs
  assert.deepEqual(vgg.slice(-2), ['classifier.weight', 'classifier.bias']);
  assert.ok(vgg.includes('features.41.weight'), 'torchvision vgg16_bn indices (last conv at 40, its BN at 41)');
  assert.deepEqual(keysOf(build('vgg16', { ...CIFAR, classifier: 'mlp' })).slice(-6), [
    'classifier.0.weight',
    'classifier.0.bias',
    'classifier.2.weight',
    'classifier.2.bias',
    'classifier.4.weight',
    'classifier.4.bias',
  ]);

  assert.deepEqual(
    keysOf(build('convnet', MNIST)).filter((k) => k.endsWith('weight')),
    ['conv1.weight', 'bn1.weight', 'conv2.weight', 'bn2.weight', 'fc1.weight', 'fc2.weight'],
  );
  assert.deepEqual(keysOf(build('mlp', { ...MNIST, hiddenSizes: [8, 8] })), [
    'fc1.weight',
    'fc1.bias',
    'fc2.weight',
    'fc2.bias',
    'fc3.weight',
    'fc3.bias',
  ]);

  for (const name of ['convnet', 'resnet20', 'wrn-16-2', 'vgg16']) {
    const model = build(name, name === 'convnet' ? MNIST : CIFAR);
    for (const [path, m] of model.namedModules()) if (m instanceof Conv2d) assert.equal(m.bias, null, `${name}: ${path} has a bias`);
  }
});

test('the same generator seed builds the same model; another seed another one', () => {
  const a = build('resnet20', CIFAR);
  const b = createModel('resnet20', { ...CIFAR, generator: new Generator(0) });
  const c = createModel('resnet20', { ...CIFAR, generator: new Generator(1) });
  for (const [name, t] of a.stateDict()) assert.ok(t.equal(b.stateDict().get(name)!), name);
  assert.ok(!a.stateDict().get('layer2.1.conv2.weight')!.equal(c.stateDict().get('layer2.1.conv2.weight')!));
});

test('option-A shortcut: stride-2 subsampling with zero channels padded on both sides', () => {
  const block = new BasicBlock(2, 4, 2, 'A');
  block.conv1.weight.zero_();
  block.conv2.weight.zero_(); // the residual branch is now 0, the block output relu(shortcut(x))
  // positive input so that the final ReLU changes nothing
  const x = tensor(
    Float32Array.from({ length: 2 * 16 }, (_, i) => i + 1),
    [1, 2, 4, 4],
  );
  const y = block.eval().forward(x);
  assert.deepEqual(y.shape, [1, 4, 2, 2]);
  // channel 0: rows/cols 0 and 2 of 1..16; channel 1: the same of 17..32
  assert.deepEqual(y.toNumbers(), [0, 0, 0, 0, 1, 3, 9, 11, 17, 19, 25, 27, 0, 0, 0, 0]);
});

test('gradients reach every parameter of a ResNet (through the zero-padding shortcut) and a WRN', () => {
  for (const name of ['resnet20', 'wrn-10-2']) {
    const model = build(name, CIFAR);
    tidy(() =>
      F.crossEntropy(
        model.forward(randn([2, 3, 8, 8], { generator: new Generator(2) })),
        tensor([1, 7], [2], { dtype: 'int64' }),
      ).backward(),
    );
    for (const [path, p] of model.namedParameters()) {
      const g = p.grad;
      assert.ok(g !== null && g.abs().sum().item() > 0, `${name}: no gradient for ${path}`);
    }
  }
});

/**
 * A 10-class task of 28×28 images: each class is a fixed random pattern of
 * 4×4-pixel blocks (a 7×7 grid), each sample its class pattern plus
 * Gaussian noise twice as strong as the pattern.
 */
function syntheticPatterns(count: number, seed: number): { images: Tensor; labels: Tensor } {
  return tidy(() => {
    const block = arange(0, 28).div(4).floor().to('int64'); // pixel → grid cell
    const patterns = randn([10, 1, 7, 7], { generator: new Generator(2024) })
      .indexSelect(2, block)
      .indexSelect(3, block);
    const g = new Generator(seed);
    const labels = randint(0, 10, [count], g);
    const images = patterns.indexSelect(0, labels).add(randn([count, 1, 28, 28], { generator: g }).mul(2));
    return { images, labels };
  });
}

test('the ConvNet learns a synthetic 10-class pattern task to > 95% held-out accuracy in seconds', () => {
  const started = Date.now();
  const samples = 400;
  const batch = 50;
  const train = syntheticPatterns(samples, 1);
  const heldOut = syntheticPatterns(samples, 2);
  const model = new ConvNet({ ...MNIST, generator: new Generator(3) });
  const opt = new SGD(model.parameters(), { lr: 0.02, momentum: 0.9 });
  const shuffle = new Generator(4);
  for (let epoch = 0; epoch < 3; epoch++) {
    const order = tidy(() => randn([samples], { generator: shuffle }).sort().indices); // a random permutation
    for (let i = 0; i < samples; i += batch) {
      tidy(() => {
        const idx = order.slice(0, i, i + batch);
        F.crossEntropy(model.forward(train.images.indexSelect(0, idx)), train.labels.indexSelect(0, idx)).backward();
      });
      opt.step();
      opt.zeroGrad();
    }
    order.dispose();
  }
  model.eval();
  const accuracy = noGrad(() => tidy(() => model.forward(heldOut.images).argmax(1).eq(heldOut.labels).sum().item() / samples));
  const seconds = (Date.now() - started) / 1000;
  assert.ok(accuracy > 0.95, `held-out accuracy ${accuracy}`);
  assert.ok(seconds < 20, `took ${seconds} s`);
  opt.dispose();
  model.dispose();
  dispose([train, heldOut]);
});

test('registry: listing, unknown names, unknown options, invalid sizes', () => {
  const listed = listModels();
  assert.deepEqual(
    listed.map((m) => m.name),
    ['mlp', 'convnet', 'resnet20', 'resnet56', 'resnet-<depth>', 'wrn-<depth>-<width>', 'vgg16'],
  );
  for (const m of listed) assert.ok(m.description.length > 20 && !m.description.includes('\n'), `${m.name} has a one-line description`);
  assert.match(listed.find((m) => m.name === 'resnet20')!.description, /option A/);
  assert.match(listed.find((m) => m.name === 'vgg16')!.description, /linear 512→classes/);

  const refuses = (fn: () => unknown, path: string, pattern: RegExp): void => {
    assert.throws(fn, (e: unknown) => {
      assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
      assert.equal(e.path, path);
      assert.match(e.message, pattern);
      return true;
    });
  };
  refuses(() => createModel('resnet18', CIFAR), 'model.depth', /6n\+2.*got 18/);
  refuses(
    () => createModel('alexnet', CIFAR),
    'model.name',
    /unknown model 'alexnet'; valid names: mlp, convnet, resnet20, resnet56, resnet-<depth>, wrn-<depth>-<width>, vgg16/,
  );
  refuses(() => createModel('wrn-15-4', CIFAR), 'model.depth', /6n\+4/);
  refuses(() => createModel('wrn-16-0', CIFAR), 'model.widthFactor', /positive integer/);
  refuses(
    () => createModel('convnet', { ...MNIST, shortcut: 'B' }),
    'model.shortcut',
    /model 'convnet' has no option 'shortcut'; it takes no model-specific options/,
  );
  refuses(() => createModel('resnet20', { ...CIFAR, dropout: 0.1 }), 'model.dropout', /it takes shortcut/);
  refuses(() => createModel('resnet20', { ...CIFAR, shortcut: 'C' as 'A' }), 'model.shortcut', /'A' or 'B'/);
  refuses(() => createModel('wrn-16-4', { ...CIFAR, dropout: 1.5 }), 'model.dropout', /\[0, 1\)/);
  refuses(
    () => createModel('vgg16', { ...CIFAR, imageSize: 28 }),
    'model.imageSize',
    /vgg16 pools 5 times by 2 and needs imageSize >= 32, got 28/,
  );
  refuses(() => createModel('vgg16', { ...CIFAR, classifier: 'deep' as 'mlp' }), 'model.classifier', /'linear' or 'mlp'/);
  refuses(() => createModel('convnet', { ...MNIST, imageSize: 3 }), 'model.imageSize', /needs imageSize >= 4/);
  refuses(() => createModel('resnet20', { ...CIFAR, imageSize: 2 }), 'model.imageSize', />= 4/);
  refuses(() => createModel('mlp', { ...MNIST, inChannels: 0 }), 'model.inChannels', /positive integer, got 0/);
  refuses(() => createModel('mlp', { ...MNIST, numClasses: 2.5 }), 'model.numClasses', /positive integer/);
  refuses(() => createModel('mlp', { ...MNIST, hiddenSizes: [16, -1] }), 'model.hiddenSizes[1]', /positive integer/);
  refuses(() => createModel('mlp', { ...MNIST, generator: 7 as unknown as Generator }), 'model.generator', /Generator/);
  // names are case-insensitive and accept the common spellings
  assert.equal(createModel('ResNet-20', CIFAR).parameterCount(), 269_722);
  assert.equal(createModel('resnet44', CIFAR).parameterCount() > 269_722, true);
  assert.equal(createModel('vgg16_bn', CIFAR).parameterCount(), 14_724_042);
  const convnet = findModel('convnet')!.entry;
  refuses(() => registerModel({ ...convnet }), 'model.name', /a model named 'convnet' is already registered/);
});

test('models refuse inputs of the wrong shape with a message naming the expected one', () => {
  const refused = (pattern: RegExp) => (e: Error) => e instanceof TensorError && pattern.test(e.message);
  assert.throws(
    () => build('resnet20', CIFAR).forward(zeros([2, 1, 32, 32])),
    refused(/CifarResNet: expected images \[N, 3, H, W\], got \[2, 1, 32, 32\]; .*model\.inChannels/),
  );
  assert.throws(() => build('convnet', MNIST).forward(zeros([2, 1, 32, 32])), refused(/ConvNet: expected images \[N, 1, 28, 28\]/));
  assert.throws(() => build('vgg16', CIFAR).forward(zeros([2, 3, 64, 64])), refused(/Vgg16: expected images \[N, 3, 32, 32\]/));
  assert.throws(() => build('mlp', MNIST).forward(zeros([2, 3, 28, 28])), refused(/Mlp: expected \[N, 1, 28, 28\] or \[N, 784\]/));
  assert.throws(() => build('wrn-10-1', CIFAR).forward(zeros([3, 32, 32])), refused(/WideResNet: expected images/));
});

test('ConvNet pools before its ReLU: the logits and every gradient equal the textbook ReLU-then-pool order bit for bit', () => {
  const net = new ConvNet({ ...MNIST, generator: new Generator(3) });
  // The same network written conv, BN, ReLU, pool.
  const textbook = (x: Tensor): Tensor => {
    let y = F.maxPool2d(net.bn1.forward(net.conv1.forward(x)).relu(), 2);
    y = F.maxPool2d(net.bn2.forward(net.conv2.forward(y)).relu(), 2);
    return net.fc2.forward(net.fc1.forward(y.flatten(1)).relu());
  };
  const x = randn([16, 1, 28, 28], { generator: new Generator(4) });
  const g = randn([16, 10], { generator: new Generator(5) });
  const run = (forward: (x: Tensor) => Tensor): { out: Float32Array; grads: Float32Array[] } =>
    tidy(() => {
      for (const p of net.parameters()) p.grad?.zero_();
      const out = forward(x);
      out.backward(g);
      return { out: out.toArray() as Float32Array, grads: net.parameters().map((p) => p.grad!.toArray() as Float32Array) };
    });
  // Train mode (batch statistics) and eval mode (running statistics; updated by the train-mode passes).
  for (const mode of ['train', 'eval'] as const) {
    net.train(mode === 'train');
    const ours = run((t) => net.forward(t));
    const ref = run(textbook);
    assert.deepEqual(ours.out, ref.out, `${mode}: logits`);
    ours.grads.forEach((grad, i) => assert.deepEqual(grad, ref.grads[i], `${mode}: gradient of parameter ${i}`));
  }
  x.dispose();
  g.dispose();
  net.dispose();
});
