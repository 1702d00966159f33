/**
 * ONNX converters of the zoo models (models/*.ts): each states its model's
 * forward() in eval mode, operator for operator. The tests run every zoo
 * model through onnxruntime and compare the logits with forward()'s.
 */
import { Mlp } from '../mlp.js';
import { ConvNet } from '../convnet.js';
import { BasicBlock, CifarResNet, PadShortcut } from '../resnet.js';
import { WideBasicBlock, WideResNet } from '../wide-resnet.js';
import { Vgg16 } from '../vgg.js';
import { registerOnnxConverter } from './converters.js';
import * as ops from './ops.js';

registerOnnxConverter(Mlp, (m, x, ctx) => {
  let y = x.shape.length === 4 ? ops.flatten(ctx.graph, x, 1, -1, ctx.name('flatten')) : x;
  m.layers.forEach((fc, i) => {
    y = ctx.module(fc, y);
    if (i < m.layers.length - 1) y = ops.relu(ctx.graph, y, ctx.name(`relu${i + 1}`));
  });
  return y;
});

registerOnnxConverter(ConvNet, (m, x, ctx) => {
  const g = ctx.graph;
  const pool = { kernel: 2, stride: 2, padding: 0 };
  let y = ops.maxPool(g, ops.relu(g, ctx.module(m.bn1, ctx.module(m.conv1, x)), ctx.name('relu1')), pool, ctx.name('pool1'));
  y = ops.maxPool(g, ops.relu(g, ctx.module(m.bn2, ctx.module(m.conv2, y)), ctx.name('relu2')), pool, ctx.name('pool2'));
  y = ops.relu(g, ctx.module(m.fc1, ops.flatten(g, y, 1, -1, ctx.name('flatten'))), ctx.name('relu3'));
  return ctx.module(m.fc2, y);
});

registerOnnxConverter(PadShortcut, (m, x, ctx) => {
  const sub = ops.strided(ctx.graph, x, [2, 3], m.stride, ctx.name('subsample'));
  return ops.padChannels(ctx.graph, sub, m.padBefore, m.padAfter, ctx.name('pad'));
});

registerOnnxConverter(BasicBlock, (m, x, ctx) => {
  const g = ctx.graph;
  const out = ops.relu(g, ctx.module(m.bn1, ctx.module(m.conv1, x)), ctx.name('relu1'));
  const residual = ctx.module(m.bn2, ctx.module(m.conv2, out));
  return ops.relu(g, ops.add(g, residual, ctx.module(m.shortcut, x, 'shortcut'), ctx.name('add')), ctx.name('relu2'));
});

registerOnnxConverter(CifarResNet, (m, x, ctx) => {
  const g = ctx.graph;
  let y = ops.relu(g, ctx.module(m.bn1, ctx.module(m.conv1, x)), ctx.name('relu'));
  y = ctx.module(m.layer3, ctx.module(m.layer2, ctx.module(m.layer1, y)));
  return ctx.module(m.fc, ops.spatialMean(g, y, ctx.name('mean')));
});

// Dropout between the convs is the identity in eval mode.
registerOnnxConverter(WideBasicBlock, (m, x, ctx) => {
  const g = ctx.graph;
  const pre = ops.relu(g, ctx.module(m.bn1, x), ctx.name('relu1'));
  const out = ops.relu(g, ctx.module(m.bn2, ctx.module(m.conv1, pre)), ctx.name('relu2'));
  const shortcut = m.shortcut === null ? x : ctx.module(m.shortcut, pre);
  return ops.add(g, ctx.module(m.conv2, out), shortcut, ctx.name('add'));
});

registerOnnxConverter(WideResNet, (m, x, ctx) => {
  const g = ctx.graph;
  let y = ctx.module(m.conv1, x);
  y = ctx.module(m.layer3, ctx.module(m.layer2, ctx.module(m.layer1, y)));
  y = ops.relu(g, ctx.module(m.bn, y), ctx.name('relu'));
  return ctx.module(m.fc, ops.spatialMean(g, y, ctx.name('mean')));
});

registerOnnxConverter(Vgg16, (m, x, ctx) =>
  ctx.module(m.classifier, ops.flatten(ctx.graph, ctx.module(m.features, x), 1, -1, ctx.name('flatten'))),
);
