/**
 * Wide residual networks WRN-d-k (Zagoruyko & Komodakis 2016) for CIFAR:
 * a 3×3 conv with 16 channels, three stages of (d-4)/6 pre-activation
 * blocks with 16k, 32k and 64k channels (stride 2 at the start of stages 2
 * and 3), then BN-ReLU, global average pooling and a linear classifier.
 *
 * A block is BN-ReLU-conv3×3-BN-ReLU-(dropout)-conv3×3 plus the shortcut:
 * the identity, or a 1×1 conv (applied to the pre-activated input) where the
 * shape changes. Convs have no bias. WRN-28-10 has 36,479,194 parameters for
 * 10 classes, WRN-16-4 2,748,890.
 *
 * State-dict names: conv1, layer{1,2,3}.{i}.{bn1,conv1,bn2,conv2,shortcut}, bn, fc.
 *
 * @example
 * const net = new WideResNet({ depth: 16, widthFactor: 4, inChannels: 3, numClasses: 10, imageSize: 32 });
 */
import type { Tensor } from '../tensor/tensor.js';
import { Module } from '../nn/module.js';
import { BatchNorm2d, Conv2d, Linear, type InitOptions } from '../nn/layers.js';
import { Sequential } from '../nn/containers.js';
import * as F from '../nn/functional.js';
import { ConfigError, TensorError } from '../util/errors.js';
import type { ModelConfig } from './registry.js';

export interface WideResNetOptions extends ModelConfig {
  /** 6n+4: 16, 22, 28, 40, ... */
  depth: number;
  /** k: stage widths are 16k, 32k, 64k. */
  widthFactor: number;
  /** Dropout probability between the two convs of each block (default 0; the paper uses 0.3). */
  dropout?: number;
}

export class WideBasicBlock extends Module {
  readonly bn1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly shortcut: Conv2d | null;

  constructor(
    inPlanes: number,
    planes: number,
    stride: number,
    readonly dropout: number,
    init: InitOptions = {},
  ) {
    super();
    const generator = init.generator;
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(inPlanes));
    this.conv1 = this.registerModule('conv1', new Conv2d(inPlanes, planes, 3, { stride, padding: 1, bias: false, generator }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(planes));
    this.conv2 = this.registerModule('conv2', new Conv2d(planes, planes, 3, { padding: 1, bias: false, generator }));
    this.shortcut =
      stride === 1 && inPlanes === planes
        ? null
        : this.registerModule('shortcut', new Conv2d(inPlanes, planes, 1, { stride, bias: false, generator }));
  }

  forward(x: Tensor): Tensor {
    const pre = this.bn1.forward(x).relu();
    let out = this.bn2.forward(this.conv1.forward(pre)).relu();
    if (this.dropout > 0) out = F.dropout(out, this.dropout, this.training);
    out = this.conv2.forward(out);
    return out.add(this.shortcut === null ? x : this.shortcut.forward(pre));
  }
}

/** WRN-d-k as described above: images [N, C, s, s] → logits [N, classes]; ConfigError unless (d-4)/6 is a positive integer. */
export class WideResNet extends Module {
  readonly blocksPerStage: number;
  readonly conv1: Conv2d;
  readonly layer1: Sequential;
  readonly layer2: Sequential;
  readonly layer3: Sequential;
  readonly bn: BatchNorm2d;
  readonly fc: Linear;

  constructor(readonly config: WideResNetOptions) {
    super();
    const { depth, widthFactor: k, inChannels, numClasses, imageSize, generator } = config;
    const dropout = config.dropout ?? 0;
    if (!Number.isInteger(depth) || depth < 10 || (depth - 4) % 6 !== 0) {
      throw new ConfigError('model.depth', `a WideResNet has depth 6n+4 (16, 22, 28, 40, ...), got ${depth}`);
    }
    if (!Number.isInteger(k) || k < 1) throw new ConfigError('model.widthFactor', `must be a positive integer, got ${k}`);
    if (!(dropout >= 0 && dropout < 1)) throw new ConfigError('model.dropout', `must be in [0, 1), got ${dropout}`);
    if (imageSize < 4) throw new ConfigError('model.imageSize', `a WideResNet downsamples by 4 and needs imageSize >= 4, got ${imageSize}`);
    this.blocksPerStage = (depth - 4) / 6;
    const widths = [16, 16 * k, 32 * k, 64 * k];
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, widths[0], 3, { padding: 1, bias: false, generator }));
    const stage = (inPlanes: number, planes: number, stride: number): Sequential =>
      new Sequential(
        ...Array.from(
          { length: this.blocksPerStage },
          (_, i) => new WideBasicBlock(i === 0 ? inPlanes : planes, planes, i === 0 ? stride : 1, dropout, { generator }),
        ),
      );
    this.layer1 = this.registerModule('layer1', stage(widths[0], widths[1], 1));
    this.layer2 = this.registerModule('layer2', stage(widths[1], widths[2], 2));
    this.layer3 = this.registerModule('layer3', stage(widths[2], widths[3], 2));
    this.bn = this.registerModule('bn', new BatchNorm2d(widths[3]));
    this.fc = this.registerModule('fc', new Linear(widths[3], numClasses, { generator }));
  }

  /** Images [N, C, H, W] → logits [N, classes]. */
  forward(x: Tensor): Tensor {
    const c = this.config.inChannels;
    if (x.rank !== 4 || x.size(1) !== c) {
      throw new TensorError(
        `WideResNet: expected images [N, ${c}, H, W], got [${x.shape.join(', ')}]; build the model for the dataset's channels (model.inChannels)`,
      );
    }
    let y = this.conv1.forward(x);
    y = this.layer3.forward(this.layer2.forward(this.layer1.forward(y)));
    y = this.bn.forward(y).relu();
    return this.fc.forward(y.mean([2, 3]));
  }
}
