/**
 * FLOPs per image, dense and non-zero.
 *
 * Unit: **FLOPs = 2 · MACs** (one multiply-accumulate counts as a multiply
 * and an add). The MAC counts are reported beside them (`denseMacs`,
 * `nonzeroMacs`), since much of the pruning literature quotes MACs under
 * the name FLOPs: compare like with like.
 *
 * Per call of a layer, on one image:
 *
 *   Conv2d:  MACs = out_h · out_w · c_out · (c_in / groups) · k²
 *   Linear:  MACs = out_features · in_features (times the positions of a 3-D input)
 *
 * both equal to (output elements) × (weight elements per output channel).
 * Non-zero MACs scale each layer by its weight density (non-zeros / total):
 * the work a sparse kernel would do. Only Conv2d and Linear are counted
 * (biases, batch norm, activations, pooling and additions are left out, as
 * is usual; they are a small fraction for conv nets).
 *
 * Output sizes come from one forward pass on zeros (eval mode, no autograd),
 * with the forward of each Conv2d/Linear instance wrapped to record its
 * output shape; the wrappers and each module's train/eval mode are restored
 * afterwards, also when the forward throws.
 *
 * @example
 * const f = countFlops(model, [1, 3, 32, 32]);
 * f.dense;    // 8.2e7 FLOPs per image for ResNet-20
 * f.nonzero;  // after 90% global pruning, about a tenth
 */
import type { Module } from '../nn/module.js';
import { Conv2d, Linear } from '../nn/layers.js';
import type { Tensor } from '../tensor/tensor.js';
import { zeros, noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { ConfigError } from '../util/errors.js';

export interface LayerFlops {
  /** Module name (`layer1.0.conv1`). */
  name: string;
  kind: 'conv2d' | 'linear';
  /** Output shape of the last call, batch dimension included. */
  outputShape: number[];
  /** Times the layer ran in one forward (0 for an unused layer). */
  calls: number;
  /** Weight non-zeros / total. */
  density: number;
  denseMacs: number;
  nonzeroMacs: number;
  /** 2 · denseMacs. */
  denseFlops: number;
  /** 2 · nonzeroMacs. */
  nonzeroFlops: number;
}

/** What `countFlops` counts: FLOPs per image, dense and counting only non-zero weights, per layer. */
export interface ModelFlops {
  /** The input shape that was run, batch first. */
  inputShape: number[];
  /** Dense FLOPs (2 · MACs) per image. */
  dense: number;
  /** FLOPs per image counting only non-zero weights. */
  nonzero: number;
  denseMacs: number;
  nonzeroMacs: number;
  perLayer: LayerFlops[];
}

interface Recorder {
  name: string;
  layer: Conv2d | Linear;
  outputs: number[][];
}

/**
 * FLOPs (2 · MACs) per image of every Conv2d and Linear in `model` for
 * inputs of `inputShape` (batch first, e.g. [1, 3, 32, 32]; counts are
 * divided by the batch), dense and scaled by each layer's weight density.
 */
export function countFlops(model: Module, inputShape: number[]): ModelFlops {
  if (inputShape.length < 2 || !inputShape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new ConfigError(
      'flops.inputShape',
      `input shape must be batch first with positive integer sizes, e.g. [1, 3, 32, 32]; got [${inputShape.join(', ')}]`,
    );
  }
  const batch = inputShape[0];
  const recorders: Recorder[] = [];
  const seen = new Set<Module>();
  for (const [name, m] of model.namedModules()) {
    if ((m instanceof Conv2d || m instanceof Linear) && !seen.has(m)) {
      seen.add(m);
      recorders.push({ name, layer: m, outputs: [] });
    }
  }
  const modes = model.namedModules().map(([, m]): [Module, boolean] => [m, m.training]);
  const restores: (() => void)[] = [];
  try {
    for (const r of recorders) restores.push(wrapForward(r));
    model.eval();
    const device = model.parameters()[0]?.device;
    noGrad(() => tidy(() => void model.forward(zeros(inputShape, { device }))));
  } finally {
    for (const restore of restores) restore();
    for (const [m, training] of modes) m.training = training;
  }

  const perLayer = recorders.map((r): LayerFlops => {
    const w = r.layer.weight;
    const outChannels = w.shape[0];
    const perOutput = outChannels === 0 ? 0 : w.numel / outChannels;
    const outputElements = r.outputs.reduce((n, s) => n + s.reduce((a, d) => a * d, 1), 0);
    const denseMacs = (outputElements / batch) * perOutput;
    const density = w.numel === 0 ? 0 : w.countNonzero() / w.numel;
    const nonzeroMacs = denseMacs * density;
    return {
      name: r.name,
      kind: r.layer instanceof Conv2d ? 'conv2d' : 'linear',
      outputShape: r.outputs[r.outputs.length - 1] ?? [],
      calls: r.outputs.length,
      density,
      denseMacs,
      nonzeroMacs,
      denseFlops: 2 * denseMacs,
      nonzeroFlops: 2 * nonzeroMacs,
    };
  });
  const denseMacs = perLayer.reduce((n, l) => n + l.denseMacs, 0);
  const nonzeroMacs = perLayer.reduce((n, l) => n + l.nonzeroMacs, 0);
  return { inputShape: inputShape.slice(), dense: 2 * denseMacs, nonzero: 2 * nonzeroMacs, denseMacs, nonzeroMacs, perLayer };
}

/** Replaces the instance's forward with one that records output shapes; returns the undo. */
function wrapForward(r: Recorder): () => void {
  const layer = r.layer;
  const hadOwn = Object.prototype.hasOwnProperty.call(layer, 'forward');
  const original = layer.forward;
  layer.forward = (x: Tensor): Tensor => {
    const y = original.call(layer, x);
    r.outputs.push(y.shape);
    return y;
  };
  return () => {
    if (hadOwn) layer.forward = original;
    else delete (layer as { forward?: unknown }).forward;
  };
}
