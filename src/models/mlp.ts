/**
 * A multilayer perceptron on flattened images: C·H·W → hidden… → classes,
 * ReLU between layers (784-512-10 for MNIST-sized inputs by default).
 *
 * @example
 * const mlp = new Mlp({ inChannels: 1, numClasses: 10, imageSize: 28 });
 * const logits = mlp.forward(images); // [N, 1, 28, 28] → [N, 10]
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { Linear } from '../nn/layers.js';
import { ConfigError, TensorError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

export interface MlpOptions extends ModelConfig {
  /** Widths of the hidden layers (default [512]); [] gives a linear classifier. */
  hiddenSizes?: number[];
}

/** Linear layers `fc1 … fcK` (PyTorch names), ReLU after all but the last. */
export class Mlp extends Module {
  readonly inFeatures: number;
  readonly layers: Linear[];

  constructor(readonly config: MlpOptions) {
    super();
    const hidden = config.hiddenSizes ?? [512];
    hidden.forEach((h, i) => {
      if (!Number.isInteger(h) || h < 1) throw new ConfigError(`model.hiddenSizes[${i}]`, `must be a positive integer, got ${h}`);
    });
    this.inFeatures = config.inChannels * config.imageSize * config.imageSize;
    const widths = [this.inFeatures, ...hidden, config.numClasses];
    this.layers = widths
      .slice(1)
      .map((out, i) => this.registerModule(`fc${i + 1}`, new Linear(widths[i], out, { generator: config.generator })));
  }

  /** Images [N, C, H, W] (or already flat [N, C·H·W]) → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    const flat = x.rank === 4 ? x.flatten(1) : x;
    if (flat.rank !== 2 || flat.size(1) !== this.inFeatures) {
      throw new TensorError(
        `Mlp: expected [N, ${this.config.inChannels}, ${this.config.imageSize}, ${this.config.imageSize}] or [N, ${this.inFeatures}], got [${x.shape.join(', ')}]; build the model for the dataset's image shape (model.inChannels, model.imageSize)`,
      );
    }
    let y = flat;
    this.layers.forEach((fc, i) => {
      y = fc.forward(y);
      if (i < this.layers.length - 1) y = y.relu();
    });
    return y;
  }
}
