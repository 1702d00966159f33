/**
 * Stochastic gradient descent with PyTorch's exact update (torch.optim.SGD):
 *
 *   g ← ∇p + λ·p                          (weight decay λ)
 *   b ← g on the first step, else μ·b + (1-τ)·g   (momentum μ, dampening τ)
 *   g ← g + μ·b (Nesterov) or b
 *   p ← p - η·g                            (learning rate η)
 *
 * With masks set (pruning), every step ends with p ← p⊙m and b ← b⊙m, so
 * pruned weights and their momentum stay exactly zero. The update runs in
 * one native call for all parameters (tensor/sgd-step).
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
import type { Tensor } from '../tensor/tensor.js';
import { sgdStep } from '../tensor/sgd-step.js';
import { ConfigError, TensorError } from '../util/errors.js';

/** The hyperparameters of SGD, as torch.optim.SGD names them (the update is in the comment above). */
export interface SgdOptions {
  /** η, the learning rate (change it between steps through `opt.lr`). */
  lr: number;
  /** μ (default 0). */
  momentum?: number;
  /** τ (default 0). */
  dampening?: number;
  /** λ, the L2 coefficient added to the gradient (default 0). */
  weightDecay?: number;
  /** Nesterov momentum (default false); needs momentum > 0 and dampening 0. */
  nesterov?: boolean;
}

/**
 * SGD over a list of parameters, with PyTorch's exact update (above).
 * `step()` applies it to every parameter that has a gradient, `zeroGrad()`
 * drops the gradients, `setMasks(masks)` keeps pruned weights and their
 * momentum at zero after each step, `dispose()` frees the momentum buffers.
 * Throws ConfigError naming the option for invalid hyperparameters,
 * TensorError for masks that do not fit the parameters.
 */
export class SGD {
  lr: number;
  readonly momentum: number;
  readonly dampening: number;
  readonly weightDecay: number;
  readonly nesterov: boolean;
  private buffers: (Tensor | null)[];
  private masks: (Tensor | null)[] | null = null;

  constructor(
    readonly params: Tensor[],
    opts: SgdOptions,
  ) {
    this.lr = opts.lr;
    this.momentum = opts.momentum ?? 0;
    this.dampening = opts.dampening ?? 0;
    this.weightDecay = opts.weightDecay ?? 0;
    this.nesterov = opts.nesterov ?? false;
    for (const [k, v] of Object.entries({ lr: this.lr, momentum: this.momentum, weightDecay: this.weightDecay })) {
      if (!Number.isFinite(v) || v < 0) throw new ConfigError(`SGD(${k})`, `must be a finite number >= 0, got ${v}`);
    }
    if (this.nesterov && (this.momentum <= 0 || this.dampening !== 0)) {
      throw new ConfigError('SGD(nesterov)', 'Nesterov momentum requires momentum > 0 and dampening = 0');
    }
    this.buffers = params.map(() => null);
  }

  /**
   * Masks, one per parameter (null for unmasked ones), applied after every
   * step to the parameter and its momentum buffer. Also applied right away.
   */
  setMasks(masks: (Tensor | null)[] | null): void {
    if (masks !== null && masks.length !== this.params.length) {
      throw new TensorError(`SGD.setMasks: got ${masks.length} masks for ${this.params.length} parameters`);
    }
    masks?.forEach((m, i) => {
      const ps = this.params[i].shape;
      if (m !== null && (m.shape.length !== ps.length || m.shape.some((d, k) => d !== ps[k]))) {
        throw new TensorError(`SGD.setMasks: mask ${i} has shape [${m.shape.join(', ')}], parameter ${i} has [${ps.join(', ')}]`);
      }
    });
    this.masks = masks;
    if (masks === null) return;
    masks.forEach((m, i) => {
      if (m === null) return;
      this.params[i].mul_(m);
      this.buffers[i]?.mul_(m);
    });
  }

  step(): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = this;
    this.buffers = sgdStep(this.params, this.buffers, { lr, momentum, dampening, weightDecay, nesterov }, this.masks);
  }

  zeroGrad(): void {
    for (const p of this.params) p.clearGrad();
  }

  /** The momentum buffer of parameter i (null before its first step). */
  momentumBuffer(i: number): Tensor | null {
    return this.buffers[i] ?? null;
  }

  /** Frees the momentum buffers. */
  dispose(): void {
    for (const b of this.buffers) b?.dispose();
    this.buffers = this.params.map(() => null);
  }
}
