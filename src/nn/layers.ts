/**
 * Layers with PyTorch's default initialization:
 * Linear and Conv2d weights ~ U(-1/√fan_in, 1/√fan_in) (kaiming_uniform with
 * a = √5), biases the same; BatchNorm weight 1, bias 0, running mean 0,
 * running variance 1.
 */
import { Tensor, type Generator } from '../tensor/tensor.js';
import { empty, ones, zeros, full } from '../tensor/create.js';
import { Module } from './module.js';
import * as F from './functional.js';
import { ModelDefinitionError, TensorError } from '../util/errors.js';

export interface InitOptions {
  /** Seeded generator for the initial weights (default: libtorch's global one). */
  generator?: Generator;
}

function uniformInit(shape: number[], fanIn: number, generator?: Generator): Tensor {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return empty(shape).uniform_(-bound, bound, generator);
}

/** y = x Wᵀ + b, W: [out, in]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    this.weight = this.registerParameter('weight', uniformInit([outFeatures, inFeatures], inFeatures, opts.generator));
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformInit([outFeatures], inFeatures, opts.generator));
  }
  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

export interface Conv2dLayerOptions extends InitOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
  bias?: boolean;
}

/** 2-D convolution, weight [out, in/groups, k, k]. */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;
  readonly dilation: number;
  readonly groups: number;
  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    opts: Conv2dLayerOptions = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    this.dilation = opts.dilation ?? 1;
    this.groups = opts.groups ?? 1;
    if (inChannels % this.groups !== 0 || outChannels % this.groups !== 0) {
      throw new ModelDefinitionError(
        `Conv2d: channels (${inChannels} in, ${outChannels} out) must be divisible by groups=${this.groups}; pick groups that divides both`,
      );
    }
    const fanIn = (inChannels / this.groups) * kernelSize * kernelSize;
    this.weight = this.registerParameter(
      'weight',
      uniformInit([outChannels, inChannels / this.groups, kernelSize, kernelSize], fanIn, opts.generator),
    );
    this.bias = opts.bias === false ? null : this.registerParameter('bias', uniformInit([outChannels], fanIn, opts.generator));
  }
  forward(x: Tensor): Tensor {
    return F.conv2d(x, this.weight, this.bias, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
    });
  }
}

/**
 * Batch normalization over the channel dimension.
 *
 * Running statistics are updated in training mode as r ← (1-m)·r + m·x̄ with
 * `momentum` m (exponential average, default 0.1); with `momentum = null`
 * they are the cumulative average over all batches seen since the last
 * `resetRunningStats()` (m = 1/num_batches_tracked), which is what BN
 * recalibration of a soup uses.
 */
export class BatchNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  readonly numBatchesTracked: Tensor;
  constructor(
    readonly numFeatures: number,
    opts: { eps?: number; momentum?: number | null; affine?: boolean; expectedRank: number },
  ) {
    super();
    this.eps = opts.eps ?? 1e-5;
    this.momentum = opts.momentum === undefined ? 0.1 : opts.momentum;
    this.expectedRank = opts.expectedRank;
    const affine = opts.affine ?? true;
    this.weight = affine ? this.registerParameter('weight', ones([numFeatures])) : null;
    this.bias = affine ? this.registerParameter('bias', zeros([numFeatures])) : null;
    this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
    this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
    this.numBatchesTracked = this.registerBuffer('num_batches_tracked', full([], 0, { dtype: 'int64' }));
  }
  eps: number;
  momentum: number | null;
  private readonly expectedRank: number;

  /** Running mean 0, variance 1, batch count 0. */
  resetRunningStats(): void {
    this.runningMean.zero_();
    this.runningVar.fill_(1);
    this.numBatchesTracked.zero_();
  }

  forward(x: Tensor): Tensor {
    if (x.rank !== this.expectedRank && !(this.expectedRank === 2 && x.rank === 3)) {
      throw new TensorError(`${this.constructor.name}: expected a ${this.expectedRank}-D input, got shape [${x.shape.join(', ')}]`);
    }
    let momentum = this.momentum ?? 0;
    if (this.training && this.momentum === null) momentum = 1 / (this.numBatchesTracked.item() + 1);
    const y = F.batchNorm(x, {
      weight: this.weight,
      bias: this.bias,
      runningMean: this.runningMean,
      runningVar: this.runningVar,
      training: this.training,
      momentum,
      eps: this.eps,
    });
    // Counted only once the batch was used, so a failed forward cannot skew the cumulative average.
    if (this.training) this.numBatchesTracked.add_(1);
    return y;
  }
}

/** BatchNorm over [N, C] or [N, C, L] inputs. */
export class BatchNorm1d extends BatchNorm {
  constructor(numFeatures: number, opts: { eps?: number; momentum?: number | null; affine?: boolean } = {}) {
    super(numFeatures, { ...opts, expectedRank: 2 });
  }
}

/** BatchNorm over [N, C, H, W] inputs. */
export class BatchNorm2d extends BatchNorm {
  constructor(numFeatures: number, opts: { eps?: number; momentum?: number | null; affine?: boolean } = {}) {
    super(numFeatures, { ...opts, expectedRank: 4 });
  }
}
