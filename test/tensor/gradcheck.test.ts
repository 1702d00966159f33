// Autograd gradients of every differentiable op and layer functional against
// central finite differences in float64 (see test/helpers/gradcheck.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Generator, cat, randn, stack, tensor, tidy, zeros, type Tensor } from '../../src/tensor/index.js';
import { BatchNorm2d, Conv2d, F, Linear, type Module } from '../../src/nn/index.js';
import { checkGradients } from '../helpers/gradcheck.js';

/** Standard normal float64 samples from a fixed seed. */
const normal = (shape: number[], seed: number): Tensor => randn(shape, { dtype: 'float64', generator: new Generator(seed) });
/** Values in [0.5, 1.5+): safe for log, sqrt, division and fractional powers. */
const positive = (shape: number[], seed: number): Tensor => normal(shape, seed).abs().add(0.5);
const int64 = (values: number[]): Tensor => tensor(values, [values.length], { dtype: 'int64' });

test('the checker itself catches a wrong gradient and refuses a vacuous check', () => {
  // x·detach(x): autograd sees d/dx = x, the true derivative of x² is 2x.
  assert.throws(() => checkGradients((x) => x.mul(x.detach()), [normal([3], 0)], { name: 'wrong' }), /wrong: input 0 element 0/);
  assert.throws(() => checkGradients((x) => x.relu(), [tensor([-1, -2], [2], { dtype: 'float64' })]), /zero everywhere/);
  assert.throws(() => checkGradients((x) => x.exp(), [tensor([1, 2], [2])]), /need float64 inputs/);
});

test('elementwise binary ops: add, sub, mul, div, pow', () => {
  const a = normal([2, 3], 1);
  const b = normal([2, 3], 2);
  const p = positive([2, 3], 3);
  checkGradients((x, y) => x.add(y, 0.5), [a, b], { name: 'add with alpha' });
  checkGradients((x, y) => x.add(y), [a, normal([3], 4)], { name: 'add broadcast' });
  checkGradients((x, y) => x.sub(y, 2), [a, b], { name: 'sub' });
  checkGradients((x, y) => x.mul(y), [a, b], { name: 'mul' });
  checkGradients((x) => x.mul(3), [a], { name: 'mul scalar' });
  checkGradients((x, y) => x.div(y), [a, p], { name: 'div' });
  checkGradients((x) => x.pow(3), [a], { name: 'pow scalar' });
  checkGradients((x, y) => x.pow(y), [p, b], { name: 'pow tensor' });
});

test('elementwise unary ops: exp, log, sqrt, abs, relu, sigmoid, tanh', () => {
  const a = normal([2, 4], 5);
  const p = positive([2, 4], 6);
  checkGradients((x) => x.exp(), [a], { name: 'exp' });
  checkGradients((x) => x.log(), [p], { name: 'log' });
  checkGradients((x) => x.sqrt(), [p], { name: 'sqrt' });
  checkGradients((x) => x.abs(), [tensor([-1.5, -0.3, 0.2, 2.0, -0.7, 0.9], [2, 3], { dtype: 'float64' })], { name: 'abs' });
  checkGradients((x) => x.relu(), [tensor([-1.5, -0.3, 0.2, 2.0, -0.7, 0.9], [2, 3], { dtype: 'float64' })], { name: 'relu' });
  checkGradients((x) => x.sigmoid(), [a], { name: 'sigmoid' });
  checkGradients((x) => x.tanh(), [a], { name: 'tanh' });
});

test('reductions: sum, mean, norm, max', () => {
  const a = normal([3, 4], 7);
  checkGradients((x) => x.sum(), [a], { name: 'sum all' });
  checkGradients((x) => x.sum([1], true), [a], { name: 'sum dim keepDim' });
  checkGradients((x) => x.mean(), [a], { name: 'mean all' });
  checkGradients((x) => x.mean([0]), [a], { name: 'mean dim' });
  checkGradients((x) => x.norm(), [a], { name: 'norm 2' });
  checkGradients((x) => x.norm(2, [1]), [a], { name: 'norm 2 over dim' });
  checkGradients((x) => x.norm(1), [a], { name: 'norm 1' });
  checkGradients((x) => x.max(), [a], { name: 'max' });
  checkGradients((x) => x.maxDim(1).values, [a], { name: 'max over dim' });
});

test('matmul and linear', () => {
  checkGradients((x, y) => x.matmul(y), [normal([2, 3], 8), normal([3, 4], 9)], { name: 'matmul 2-D' });
  checkGradients((x, y) => x.matmul(y), [normal([2, 2, 3], 10), normal([3, 2], 11)], { name: 'matmul batched' });
  checkGradients((x, w, b) => F.linear(x, w, b), [normal([2, 3], 12), normal([4, 3], 13), normal([4], 14)], { name: 'linear' });
  checkGradients((x, w) => F.linear(x, w), [normal([2, 3], 15), normal([4, 3], 16)], { name: 'linear without bias' });
});

test('conv2d with stride and padding', () => {
  const x = normal([2, 2, 5, 5], 17);
  const w = normal([3, 2, 3, 3], 18);
  const b = normal([3], 19);
  checkGradients((xi, wi, bi) => F.conv2d(xi, wi, bi, { stride: 2, padding: 1 }), [x, w, b], { name: 'conv2d stride 2 padding 1' });
  checkGradients((xi, wi) => F.conv2d(xi, wi, null, { stride: 1, padding: 0 }), [normal([1, 2, 4, 4], 20), w], { name: 'conv2d plain' });
  checkGradients(
    (xi, wi) => F.conv2d(xi, wi, null, { stride: [1, 2], padding: [2, 0] }),
    [normal([1, 2, 4, 5], 21), normal([2, 2, 2, 3], 22)],
    {
      name: 'conv2d asymmetric stride/padding',
    },
  );
});

test('batchNorm in training mode (batch statistics), 2-D and 4-D', () => {
  const bn = (x: Tensor, w: Tensor, b: Tensor): Tensor => F.batchNorm(x, { weight: w, bias: b, training: true, momentum: 0.1, eps: 1e-5 });
  checkGradients(bn, [normal([4, 3], 23), positive([3], 24), normal([3], 25)], { name: 'batchNorm1d' });
  checkGradients(bn, [normal([2, 2, 2, 3], 26), positive([2], 27), normal([2], 28)], { name: 'batchNorm2d' });
});

test('pooling: max, average, adaptive average', () => {
  const x = normal([1, 2, 4, 4], 29);
  checkGradients((xi) => F.maxPool2d(xi, 2), [x], { name: 'maxPool2d 2x2' });
  checkGradients((xi) => F.maxPool2d(xi, 3, 1, 1), [x], { name: 'maxPool2d 3x3 stride 1 padding 1' });
  checkGradients((xi) => F.avgPool2d(xi, 2), [x], { name: 'avgPool2d' });
  checkGradients((xi) => F.avgPool2d(xi, 3, 2, 1), [normal([1, 1, 5, 5], 30)], { name: 'avgPool2d padded' });
  checkGradients((xi) => F.adaptiveAvgPool2d(xi, 1), [x], { name: 'adaptiveAvgPool2d 1' });
  checkGradients((xi) => F.adaptiveAvgPool2d(xi, [2, 3]), [normal([1, 1, 5, 5], 31)], { name: 'adaptiveAvgPool2d 2x3 (overlapping)' });
});

test('softmax, logSoftmax, crossEntropy (with and without smoothing), mseLoss', () => {
  const logits = normal([3, 4], 32);
  const target = int64([2, 0, 3]);
  checkGradients((x) => F.logSoftmax(x, 1), [logits], { name: 'logSoftmax' });
  checkGradients((x) => F.softmax(x, 1), [logits], { name: 'softmax' });
  checkGradients((x) => F.softmax(x, 0), [logits], { name: 'softmax dim 0' });
  checkGradients((x) => F.crossEntropy(x, target), [logits], { name: 'crossEntropy' });
  checkGradients((x) => F.crossEntropy(x, target, { labelSmoothing: 0.1 }), [logits], { name: 'crossEntropy smoothing' });
  checkGradients((x) => F.crossEntropy(x, target, { labelSmoothing: 0.3, reduction: 'sum' }), [logits], { name: 'crossEntropy sum' });
  checkGradients((x) => F.crossEntropy(x, target, { reduction: 'none' }), [logits], { name: 'crossEntropy none' });
  checkGradients((a, b) => F.mseLoss(a, b), [normal([2, 3], 33), normal([2, 3], 34)], { name: 'mseLoss' });
  checkGradients((a, b) => F.mseLoss(a, b, 'sum'), [normal([2, 3], 35), normal([2, 3], 36)], { name: 'mseLoss sum' });
});

test('shape ops: reshape, view, permute, transpose, flatten, slice, cat, stack, indexSelect', () => {
  const a = normal([2, 3, 2], 37);
  const weights = normal([3, 4], 38);
  // Each shape op is followed by a product with fixed weights so that where
  // an element goes matters.
  checkGradients((x) => x.reshape([3, 4]).mul(weights), [a], { name: 'reshape' });
  checkGradients((x) => x.view([3, 4]).mul(weights), [a], { name: 'view' });
  checkGradients((x) => x.permute([2, 0, 1]).exp(), [a], { name: 'permute' });
  checkGradients((x) => x.transpose(0, 2).exp(), [a], { name: 'transpose' });
  checkGradients((x) => x.flatten(1).exp(), [a], { name: 'flatten' });
  checkGradients((x) => x.slice(1, 0, 3, 2).exp(), [a], { name: 'slice with step' });
  checkGradients((x, y) => cat([x, y], 1).exp(), [a, normal([2, 1, 2], 39)], { name: 'cat' });
  checkGradients((x, y) => stack([x, y], 1).exp(), [a, normal([2, 3, 2], 40)], { name: 'stack' });
  checkGradients((x) => x.indexSelect(1, int64([2, 0, 2])).exp(), [a], { name: 'indexSelect with repeats' });
  checkGradients((x) => x.select(0, 1).exp(), [a], { name: 'select' });
  checkGradients((x) => x.unsqueeze(0).squeeze(0).expand([2, 2, 3, 2]).exp(), [a], { name: 'expand' });
});

test('layers: Linear, Conv2d and BatchNorm2d modules backpropagate exactly what their checked functionals do', () => {
  // The modules hold float32 parameters, too coarse for finite differences;
  // their gradients must equal those of the float64 functional above.
  const cases: [Module, number[], (x: Tensor, params: Tensor[]) => Tensor][] = [
    [new Linear(3, 4, { generator: new Generator(41) }), [2, 3], (x, [w, b]) => F.linear(x, w, b)],
    [
      new Conv2d(2, 3, 3, { stride: 2, padding: 1, generator: new Generator(42) }),
      [2, 2, 5, 5],
      (x, [w, b]) => F.conv2d(x, w, b, { stride: 2, padding: 1 }),
    ],
    [new BatchNorm2d(2), [3, 2, 2, 2], (x, [w, b]) => F.batchNorm(x, { weight: w, bias: b, training: true, momentum: 0.1, eps: 1e-5 })],
  ];
  for (const [layer, shape, functional] of cases) {
    const x = normal(shape, 43);
    const projection = normal(layerOutputShape(layer, shape), 44);
    layer.forward(x.to('float32').requireGrad()).mul(projection.to('float32')).sum().backward();
    const params64 = layer.parameters().map((p) => p.detach().to('float64').requireGrad());
    functional(x, params64).mul(projection).sum().backward();
    layer.parameters().forEach((p, i) => {
      const expected = params64[i].grad!;
      assert.ok(p.grad!.to('float64').allclose(expected, 1e-4, 1e-5), `${layer.constructor.name} parameter ${i}`);
    });
  }
});
const layerOutputShape = (layer: Module, shape: number[]): number[] => tidy(() => layer.forward(zeros(shape)).shape);
