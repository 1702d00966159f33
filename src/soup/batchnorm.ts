/**
 * Batch-norm recalibration: the averaged weights of a soup do not match the
 * averaged running statistics, so the statistics are recomputed. Every BN
 * layer is reset (mean 0, variance 1) and set to a cumulative average
 * (momentum = 1/n at the n-th batch); a fraction of the training data is
 * forwarded in train mode without gradients; then the model returns to
 * eval mode with the original momenta.
 *
 * @example
 * await recalibrateBatchNorm(soupModel, trainLoader, { fraction: 0.2 });
 */
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import { autocast, type AutocastDType } from '../tensor/amp.js';
import type { Module } from '../nn/module.js';
import { BatchNorm } from '../nn/layers.js';
import type { DataLoader } from '../data/loader.js';
import { batchToTensors } from '../data/batches.js';
import { ConfigError } from '../util/errors.js';

/** How much data `recalibrateBatchNorm` forwards, and where. */
export interface RecalibrationOptions {
  /** Fraction of the loader's batches to forward (default 0.2, at least one batch). */
  fraction?: number;
  /** Which epoch's order to draw the batches from (default 0). */
  epoch?: number;
  /** The model's device (default cpu). */
  device?: string;
  /** Forward under autocast in this dtype (mixed precision, as the model trained); the statistics stay float32. */
  autocast?: AutocastDType;
}

/**
 * Recomputes the running mean and variance of every BatchNorm layer of
 * `model` from data, like `torch.optim.swa_utils.update_bn`: resets them,
 * forwards round(fraction · batches per epoch) batches of `loader` (at least
 * one; default fraction 0.2) in train mode without gradients with a
 * cumulative average (momentum = 1/n at the n-th batch), then restores the
 * layers' momenta and leaves the model in eval mode. Use the training data:
 * a soup's averaged statistics do not match its averaged weights.
 * Returns the number of batches forwarded (0 when the model has no BN
 * layer). Throws ConfigError for a fraction outside (0, 1].
 */
export async function recalibrateBatchNorm(model: Module, loader: DataLoader, opts: RecalibrationOptions = {}): Promise<number> {
  const fraction = opts.fraction ?? 0.2;
  if (!(fraction > 0 && fraction <= 1)) {
    throw new ConfigError(
      'recalibrateBatchNorm(fraction)',
      `BN recalibration fraction must be in (0, 1], got ${fraction} (in a run config: merge.bnRecalibrationFraction)`,
    );
  }
  const layers = model
    .namedModules()
    .map(([, m]) => m)
    .filter((m): m is BatchNorm => m instanceof BatchNorm);
  if (layers.length === 0) return 0;
  const momenta = layers.map((l) => l.momentum);
  const batches = Math.max(1, Math.round(loader.batchesPerEpoch * fraction));
  for (const l of layers) {
    l.resetRunningStats();
    l.momentum = null;
  }
  model.train();
  try {
    let b = 0;
    for (const batch of loader.epoch(opts.epoch ?? 0)) {
      if (b >= batches) break;
      // A batch of one cannot give batch statistics; skip a trailing singleton.
      if (batch.labels.length < 2) continue;
      const amp = opts.autocast;
      noGrad(() =>
        tidy(() => {
          const x = batchToTensors(batch, opts.device).images;
          return amp === undefined ? model.forward(x) : autocast(opts.device, amp, () => model.forward(x));
        }),
      );
      b++;
      if (b % 10 === 0) await new Promise((r) => setImmediate(r));
    }
  } finally {
    layers.forEach((l, i) => (l.momentum = momenta[i]));
    model.eval();
  }
  return batches;
}
