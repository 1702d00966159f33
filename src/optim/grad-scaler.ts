/**
 * Dynamic loss scaling for float16 training, as torch.cuda.amp.GradScaler
 * does it. float16 gradients of small magnitude underflow to zero, so the
 * loss is multiplied by a large scale S before backward, and the gradients
 * are divided by S before the optimizer step:
 *
 *   backward(S · loss)
 *   g ← g / S for every parameter; skip the step if any g is inf or NaN
 *   S ← S · backoff after a skipped step (and the growth count restarts),
 *   S ← S · growth after `growthInterval` steps in a row without inf/NaN
 *
 * with PyTorch's defaults (torch.cuda.amp.GradScaler: init_scale 2^16,
 * growth_factor 2, backoff_factor 0.5, growth_interval 2000). A skipped step
 * leaves the parameters and the momentum as they were, so pruned weights
 * stay exactly zero. The scale lives on the host; deciding whether to step
 * reads one number from the device per step (as PyTorch's does).
 *
 * @example
 * const scaler = new GradScaler();
 * scaler.scaleLoss(loss).backward();
 * scaler.step(optimizer); // unscales, then steps unless a gradient is inf/NaN
 * scaler.update();
 * optimizer.zeroGrad();
 */
import type { Tensor } from '../tensor/tensor.js';
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { ConfigError, TensorError } from '../util/errors.js';

/** The settings of dynamic loss scaling (defaults: PyTorch's GradScaler). */
export interface GradScalerOptions {
  /** The first scale (default 2^16 = 65536). */
  initScale?: number;
  /** Factor the scale grows by after `growthInterval` steps without inf/NaN (default 2). */
  growthFactor?: number;
  /** Factor the scale shrinks by after a step with inf/NaN gradients (default 0.5). */
  backoffFactor?: number;
  /** Steps in a row without inf/NaN before the scale grows (default 2000). */
  growthInterval?: number;
}

/** What `GradScaler.step` needs of an optimizer: its parameters and its step. */
export interface ScaledOptimizer {
  readonly params: Tensor[];
  step(): void;
}

/**
 * Dynamic loss scaling (see the file comment): `scaleLoss` before backward,
 * `step(optimizer)` (unscale, then step unless a gradient is not finite),
 * `update()` once per iteration. Throws ConfigError for invalid settings.
 */
export class GradScaler {
  readonly growthFactor: number;
  readonly backoffFactor: number;
  readonly growthInterval: number;
  private currentScale: number;
  private growthTracker = 0;
  /** This iteration's verdict once the gradients were unscaled; null before. */
  private foundInf: boolean | null = null;
  private skipped = 0;

  constructor(opts: GradScalerOptions = {}) {
    this.currentScale = opts.initScale ?? 2 ** 16;
    this.growthFactor = opts.growthFactor ?? 2;
    this.backoffFactor = opts.backoffFactor ?? 0.5;
    this.growthInterval = opts.growthInterval ?? 2000;
    if (!(Number.isFinite(this.currentScale) && this.currentScale > 0))
      throw new ConfigError('GradScaler(initScale)', `must be a finite number > 0, got ${this.currentScale}`);
    if (!(this.growthFactor > 1 && Number.isFinite(this.growthFactor)))
      throw new ConfigError('GradScaler(growthFactor)', `must be > 1, got ${this.growthFactor}`);
    if (!(this.backoffFactor > 0 && this.backoffFactor < 1))
      throw new ConfigError('GradScaler(backoffFactor)', `must be in (0, 1), got ${this.backoffFactor}`);
    if (!(Number.isInteger(this.growthInterval) && this.growthInterval >= 1)) {
      throw new ConfigError('GradScaler(growthInterval)', `must be a positive integer, got ${this.growthInterval}`);
    }
  }

  /** The current scale S. */
  get scale(): number {
    return this.currentScale;
  }

  /** Steps skipped so far because a gradient was inf or NaN. */
  get skippedSteps(): number {
    return this.skipped;
  }

  /** The loss times the scale: call backward on this one. */
  scaleLoss(loss: Tensor): Tensor {
    return loss.mul(this.currentScale);
  }

  /**
   * Divides every gradient of `params` by the scale, in place, and returns
   * whether one of them holds an inf or NaN (checked before dividing, as
   * PyTorch's unscale does). Once per iteration: a second call throws
   * TensorError (the gradients would be divided twice).
   */
  unscale(params: Tensor[]): boolean {
    if (this.foundInf !== null)
      throw new TensorError('GradScaler.unscale: the gradients of this iteration were unscaled already; call update() first');
    const inv = 1 / this.currentScale;
    const found = noGrad(() =>
      tidy(() => {
        let nonFinite: Tensor | null = null;
        for (const p of params) {
          const g = p.grad;
          if (g === null) continue;
          const bad = g.isfinite().logicalNot().sum();
          nonFinite = nonFinite === null ? bad : nonFinite.add(bad);
          g.mul_(inv);
        }
        return nonFinite !== null && nonFinite.item() > 0;
      }),
    );
    this.foundInf = found;
    return found;
  }

  /**
   * Unscales the gradients (unless `unscale` did already) and takes the
   * optimizer's step unless a gradient is inf or NaN. Returns whether it
   * stepped.
   */
  step(optimizer: ScaledOptimizer): boolean {
    const found = this.foundInf ?? this.unscale(optimizer.params);
    if (found) {
      this.skipped++;
      return false;
    }
    optimizer.step();
    return true;
  }

  /**
   * Adjusts the scale after an iteration: backoff after inf/NaN gradients,
   * growth after `growthInterval` clean steps in a row (only to a finite
   * scale). Ends the iteration.
   */
  update(): void {
    if (this.foundInf === true) {
      this.currentScale *= this.backoffFactor;
      this.growthTracker = 0;
    } else {
      this.growthTracker++;
      if (this.growthTracker === this.growthInterval) {
        const grown = this.currentScale * this.growthFactor;
        if (Number.isFinite(grown)) this.currentScale = grown;
        this.growthTracker = 0;
      }
    }
    this.foundInf = null;
  }
}
