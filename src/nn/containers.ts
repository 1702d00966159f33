/** Parameter-free layers and containers. */
import { Tensor } from '../tensor/tensor.js';
import { Module } from './module.js';
import * as F from './functional.js';
import { ModelDefinitionError } from '../util/errors.js';

/** Applies its children in order; children are named '0', '1', ... like torch.nn.Sequential. */
export class Sequential extends Module {
  private readonly layers: Module[];
  constructor(...layers: Module[]) {
    super();
    this.layers = layers.map((m, i) => this.registerModule(String(i), m));
  }
  get length(): number {
    return this.layers.length;
  }
  at(i: number): Module {
    const m = this.layers[i];
    if (m === undefined) throw new ModelDefinitionError(`Sequential has ${this.layers.length} layers, no index ${i}`);
    return m;
  }
  forward(x: Tensor): Tensor {
    let y = x;
    for (const layer of this.layers) y = layer.forward(y);
    return y;
  }
}

/** max(x, 0) elementwise, any shape (torch.nn.ReLU). */
export class ReLU extends Module {
  forward(x: Tensor): Tensor {
    return x.relu();
  }
}

/** Returns its input (torch.nn.Identity): a placeholder, e.g. for a shortcut. */
export class Identity extends Module {
  forward(x: Tensor): Tensor {
    return x;
  }
}

/** Merges dimensions startDim..endDim into one (torch.nn.Flatten; default [N, C, H, W] → [N, C·H·W]). */
export class Flatten extends Module {
  constructor(
    readonly startDim = 1,
    readonly endDim = -1,
  ) {
    super();
  }
  forward(x: Tensor): Tensor {
    return x.flatten(this.startDim, this.endDim);
  }
}

/** The window of a 2-d pooling layer (stride defaults to the kernel size, as in PyTorch). */
abstract class Pool2d extends Module {
  constructor(
    readonly kernelSize: number,
    readonly stride = kernelSize,
    readonly padding = 0,
  ) {
    super();
  }
}

/** 2-d max pooling over [N, C, H, W] (torch.nn.MaxPool2d): kernel, stride (default: the kernel), zero padding. */
export class MaxPool2d extends Pool2d {
  forward(x: Tensor): Tensor {
    return F.maxPool2d(x, this.kernelSize, this.stride, this.padding);
  }
}

/** 2-d average pooling over [N, C, H, W] (torch.nn.AvgPool2d): kernel, stride (default: the kernel), zero padding. */
export class AvgPool2d extends Pool2d {
  forward(x: Tensor): Tensor {
    return F.avgPool2d(x, this.kernelSize, this.stride, this.padding);
  }
}

/** Averages [N, C, H, W] into [N, C, h, w] of the given output size (torch.nn.AdaptiveAvgPool2d; 1 for global average pooling). */
export class AdaptiveAvgPool2d extends Module {
  constructor(readonly outputSize: number | [number, number]) {
    super();
  }
  forward(x: Tensor): Tensor {
    return F.adaptiveAvgPool2d(x, this.outputSize);
  }
}

/** Zeroes each element with probability p in training and scales the rest by 1/(1-p); identity in eval mode (torch.nn.Dropout). */
export class Dropout extends Module {
  constructor(readonly p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new ModelDefinitionError(`Dropout: p must be in [0, 1], got ${p}`);
  }
  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training);
  }
}
