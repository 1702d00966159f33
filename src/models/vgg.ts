/**
 * VGG-16 with batch norm, CIFAR style (Simonyan & Zisserman 2015 config D):
 *
 *   64, 64, M, 128, 128, M, 256×3, M, 512×3, M, 512×3, M
 *
 * each number a 3×3 conv (padding 1, no bias) + BN + ReLU, M a 2×2 max
 * pool. Five pools need imageSize >= 32 (32 → 1×1×512 features). The
 * classifier is, by `classifier`:
 * - 'linear' (default, the common CIFAR VGG): one linear layer
 *   512·s² → classes (s = the feature map side, 1 for 32×32 inputs);
 * - 'mlp': 512·s² → 512 → 512 → classes with ReLU (torchvision-like head,
 *   without dropout).
 *
 * State-dict names follow torchvision's vgg16_bn: features.{0,1,3,4,7,...}
 * for conv/BN layers (ReLU and pool slots keep their indices), then
 * classifier.weight ('linear') or classifier.{0,2,4} ('mlp').
 *
 * @example
 * const net = new Vgg16({ inChannels: 3, numClasses: 10, imageSize: 32 });
 * net.parameterCount(); // 14,724,042
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear } from '../nn/layers.js';
import { MaxPool2d, ReLU, Sequential } from '../nn/containers.js';
import { ConfigError, TensorError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

/** Conv widths, 'M' for a 2×2 max pool. */
export const VGG16_CONFIG: readonly (number | 'M')[] = [
  64,
  64,
  'M',
  128,
  128,
  'M',
  256,
  256,
  256,
  'M',
  512,
  512,
  512,
  'M',
  512,
  512,
  512,
  'M',
];

export type VggClassifier = 'linear' | 'mlp';

export interface VggOptions extends ModelConfig {
  /** 'linear' (default): one layer to the classes; 'mlp': 512-512-classes. */
  classifier?: VggClassifier;
}

/** VGG-16-BN as described above: images [N, C, s, s] (s >= 32) → logits [N, classes]; ConfigError for smaller images. */
export class Vgg16 extends Module {
  readonly features: Sequential;
  readonly classifier: Module;
  /** Side of the last feature map (1 for 32×32 inputs). */
  readonly featureSize: number;

  constructor(readonly config: VggOptions) {
    super();
    const { inChannels, numClasses, imageSize, generator } = config;
    const head = config.classifier ?? 'linear';
    if (head !== 'linear' && head !== 'mlp') throw new ConfigError('model.classifier', `must be 'linear' or 'mlp', got '${String(head)}'`);
    if (imageSize < 32) throw new ConfigError('model.imageSize', `vgg16 pools 5 times by 2 and needs imageSize >= 32, got ${imageSize}`);
    const layers: Module[] = [];
    let channels = inChannels;
    let side = imageSize;
    for (const v of VGG16_CONFIG) {
      if (v === 'M') {
        layers.push(new MaxPool2d(2));
        side = Math.floor(side / 2);
      } else {
        layers.push(new Conv2d(channels, v, 3, { padding: 1, bias: false, generator }), new BatchNorm2d(v), new ReLU());
        channels = v;
      }
    }
    this.featureSize = side;
    this.features = this.registerModule('features', new Sequential(...layers));
    const flat = channels * side * side;
    this.classifier = this.registerModule(
      'classifier',
      head === 'linear'
        ? new Linear(flat, numClasses, { generator })
        : new Sequential(
            new Linear(flat, 512, { generator }),
            new ReLU(),
            new Linear(512, 512, { generator }),
            new ReLU(),
            new Linear(512, numClasses, { generator }),
          ),
    );
  }

  /** Images [N, C, H, W] → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    const { inChannels: c, imageSize: s } = this.config;
    if (x.rank !== 4 || x.size(1) !== c || x.size(2) !== s || x.size(3) !== s) {
      throw new TensorError(
        `Vgg16: expected images [N, ${c}, ${s}, ${s}], got [${x.shape.join(', ')}]; build the model for the dataset's image shape (model.inChannels, model.imageSize)`,
      );
    }
    return this.classifier.forward(this.features.forward(x).flatten(1));
  }
}
