/**
 * CIFAR ResNets of He et al. 2016 ("Deep Residual Learning", §4.2):
 * depth 6n+2 — a 3×3 conv with 16 channels, three stages of n basic blocks
 * with 16, 32 and 64 channels (stride 2 at the start of stages 2 and 3),
 * global average pooling and a linear classifier. Convs have no bias; each
 * is followed by batch norm.
 *
 * Shortcuts where the shape changes:
 * - option A (default, the paper's CIFAR choice): parameter-free — subsample
 *   by 2 (x[:, :, ::2, ::2]) and zero-pad the new channels, half on each
 *   side. ResNet-20 has 269,722 parameters for 10 classes, ResNet-56 853,018.
 * - option B: a 1×1 conv projection (stride 2) + batch norm.
 *
 * State-dict names: conv1, bn1, layer{1,2,3}.{i}.{conv1,bn1,conv2,bn2},
 * layer{2,3}.0.shortcut.{0,1} (option B only), fc.
 *
 * @example
 * const net = new CifarResNet({ depth: 20, inChannels: 3, numClasses: 10, imageSize: 32 });
 * net.parameterCount(); // 269,722
 */
import type { DType, Tensor } from '../tensor/tensor.js';
import { cat, zeros } from '../tensor/create.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear, type InitOptions } from '../nn/layers.js';
import { Identity, Sequential } from '../nn/containers.js';
import { ConfigError, TensorError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

export type ShortcutOption = 'A' | 'B';

export interface ResNetOptions extends ModelConfig {
  /** 6n+2: 20, 32, 44, 56, 110, ... */
  depth: number;
  /** 'A' (zero-padding, default) or 'B' (1×1 conv projection). */
  shortcut?: ShortcutOption;
}

/** Option A: x[:, :, ::stride, ::stride] with `pad` zero channels before and after. */
export class PadShortcut extends Module {
  constructor(
    readonly stride: number,
    readonly padBefore: number,
    readonly padAfter: number,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    const [n, , h, w] = x.shape;
    const sub = this.stride === 1 ? x : x.slice(2, 0, h, this.stride).slice(3, 0, w, this.stride);
    const [, , hs, ws] = sub.shape;
    const opts = { dtype: x.dtype as DType, device: x.device };
    return cat([zeros([n, this.padBefore, hs, ws], opts), sub, zeros([n, this.padAfter, hs, ws], opts)], 1);
  }
}

/** conv3×3-BN-ReLU-conv3×3-BN, plus the shortcut, then ReLU. */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly shortcut: Module;

  constructor(inPlanes: number, planes: number, stride: number, option: ShortcutOption, init: InitOptions = {}) {
    super();
    const generator = init.generator;
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    if (stride === 1 && inPlanes === planes) {
      this.shortcut = new Identity();
    } else if (option === 'A') {
      const extra = planes - inPlanes;
      this.shortcut = new PadShortcut(stride, Math.floor(extra / 2), extra - Math.floor(extra / 2));
    } else {
      this.shortcut = this.registerModule(
        'shortcut',
        new Sequential(new Conv2d(inPlanes, planes, 1, { stride, bias: false, generator }), new BatchNorm2d(planes)),
      );
    }
  }

  forward(x: Tensor): Tensor {
    const out = this.bn1.forward(this.conv1.forward(x)).relu();
    return this.bn2.forward(this.conv2.forward(out)).add(this.shortcut.forward(x)).relu();
  }
}

/** The CIFAR ResNet of depth 6n+2 described above: images [N, C, s, s] → logits [N, classes]; ConfigError for a depth that is not 6n+2. */
export class CifarResNet extends Module {
  readonly blocksPerStage: number;
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly fc: Linear;

  constructor(readonly config: ResNetOptions) {
    super();
    const { depth, inChannels, numClasses, imageSize, generator } = config;
    const option = config.shortcut ?? 'A';
    if (!Number.isInteger(depth) || depth < 8 || (depth - 2) % 6 !== 0) {
      throw new ConfigError('model.depth', `a CIFAR ResNet has depth 6n+2 (20, 32, 44, 56, 110, ...), got ${depth}`);
    }
    if (option !== 'A' && option !== 'B') throw new ConfigError('model.shortcut', `must be 'A' or 'B', got '${String(option)}'`);
    if (imageSize < 4)
      throw new ConfigError('model.imageSize', `a CIFAR ResNet downsamples by 4 and needs imageSize >= 4, got ${imageSize}`);
    this.blocksPerStage = (depth - 2) / 6;
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, 16, 3, { padding: 1, bias: false, generator }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(16));
    const stage = (inPlanes: number, planes: number, stride: number): Sequential =>
      new Sequential(
        ...Array.from(
          { length: this.blocksPerStage },
          (_, i) => new BasicBlock(i === 0 ? inPlanes : planes, planes, i === 0 ? stride : 1, option, { generator }),
        ),
      );
    this.layer1 = this.registerModule('layer1', stage(16, 16, 1));
    this.layer2 = this.registerModule('layer2', stage(16, 32, 2));
    this.layer3 = this.registerModule('layer3', stage(32, 64, 2));
    this.fc = this.registerModule('fc', new Linear(64, numClasses, { generator }));
  }

  /** Images [N, C, H, W] → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    const c = this.config.inChannels;
    if (x.rank !== 4 || x.size(1) !== c) {
      throw new TensorError(
        `CifarResNet: expected images [N, ${c}, H, W], got [${x.shape.join(', ')}]; build the model for the dataset's channels (model.inChannels)`,
      );
    }
    let y = this.bn1.forward(this.conv1.forward(x)).relu();
    y = this.layer3.forward(this.layer2.forward(this.layer1.forward(y)));
    return this.fc.forward(y.mean([2, 3]));
  }
}
