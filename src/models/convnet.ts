/**
 * A small batch-normalized ConvNet for 28×28 images (MNIST, Fashion-MNIST):
 *
 *   conv1 3×3→32, bn1, ReLU, maxpool 2 → conv2 3×3→64, bn2, ReLU, maxpool 2
 *   → flatten → fc1 →128, ReLU → fc2 → classes
 *
 * Other image sizes work: fc1's input is 64·⌊⌊s/2⌋/2⌋² (3136 for s = 28).
 *
 * @example
 * const net = new ConvNet({ inChannels: 1, numClasses: 10, imageSize: 28 });
 * net.parameterCount(); // 421,738
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import * as F from '../nn/functional.js';
import { ConfigError, TensorError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

/** The small BN ConvNet described above: images [N, C, s, s] → logits [N, classes]; TensorError for inputs of another shape. */
export class ConvNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly config: ModelConfig) {
    super();
    const { inChannels, numClasses, imageSize, generator } = config;
    const pooled = Math.floor(Math.floor(imageSize / 2) / 2);
    if (pooled < 1) throw new ConfigError('model.imageSize', `convnet pools twice by 2 and needs imageSize >= 4, got ${imageSize}`);
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, 32, 3, { padding: 1, bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(32));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 3, { padding: 1, bias: false, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(64));
    this.fc1 = this.registerModule('fc1', new Linear(64 * pooled * pooled, 128, { generator }));
    this.fc2 = this.registerModule('fc2', new Linear(128, numClasses, { generator }));
  }

  /** Images [N, C, H, W] → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    const { inChannels, imageSize } = this.config;
    if (x.rank !== 4 || x.size(1) !== inChannels || x.size(2) !== imageSize || x.size(3) !== imageSize) {
      throw new TensorError(
        `ConvNet: expected images [N, ${inChannels}, ${imageSize}, ${imageSize}], got [${x.shape.join(', ')}]; build the model for the dataset's image shape (model.inChannels, model.imageSize)`,
      );
    }
    // ReLU after the pooling, not before: ReLU is monotone, so max pooling and
    // ReLU commute, values and gradients alike (the gradient reaches the
    // window's first maximal element, and only when it is > 0, either way);
    // this order applies the ReLU and its backward to a quarter of the values.
    let y = F.maxPool2d(this.bn1.forward(this.conv1.forward(x)), 2).relu();
    y = F.maxPool2d(this.bn2.forward(this.conv2.forward(y)), 2).relu();
    y = this.fc1.forward(y.flatten(1)).relu();
    return this.fc2.forward(y);
  }
}
