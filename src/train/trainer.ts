/**
 * The training loop: SGD over a seeded loader for a number of epochs, the
 * learning rate set at every step from a schedule, pruned weights (and their
 * momentum) held at exactly zero by the mask after every step.
 *
 * The loop is async and yields to the event loop every few steps: progress
 * events reach their listeners, child processes can report, and Node-API
 * runs the finalizers of collected tensor wrappers (memory stays flat).
 *
 * @example
 * const result = await trainModel(model, loader, {
 *   epochs: 3, lr: (t) => 0.1 * (1 - t / T), momentum: 0.9, weightDecay: 5e-4,
 *   masks: mask.forParameters(names),
 * });
 */
import { tidy } from '../tensor/scope.js';
import { autocast, type AutocastDType } from '../tensor/amp.js';
import type { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../nn/functional.js';
import { SGD } from '../optim/sgd.js';
import { GradScaler, type GradScalerOptions } from '../optim/grad-scaler.js';
import type { DataLoader } from '../data/loader.js';
import { batchToTensors } from '../data/batches.js';
import { TrainingDivergedError } from '../util/errors.js';

/** Reported every `progressEvery` steps and at the last step of `trainModel`. */
export interface TrainProgress {
  epoch: number;
  epochs: number;
  step: number;
  totalSteps: number;
  /** Mean training loss over the steps since the previous progress event. */
  loss: number;
  lr: number;
  samplesPerSecond: number;
  elapsedSeconds: number;
}

/** How `trainModel` trains: epochs, the LR per step, SGD's settings, masks. */
export interface TrainOptions {
  epochs: number;
  /** Learning rate at optimizer step t (0-based, counted over the whole run). */
  lr: (step: number) => number;
  momentum?: number;
  weightDecay?: number;
  /** Default: Nesterov whenever weight decay > 0 (DESIGN.md). */
  nesterov?: boolean;
  labelSmoothing?: number;
  /** One mask (or null) per model parameter, in `model.parameters()` order. */
  masks?: (Tensor | null)[] | null;
  /** Where batches go: the model's device (default cpu). */
  device?: string;
  /**
   * Mixed precision: the forward pass and the loss run under autocast in
   * this dtype (tensor/amp.ts); float16 adds dynamic loss scaling
   * (optim/GradScaler). Default: float32 throughout.
   */
  autocast?: AutocastDType;
  /** float16: the loss scaler's settings (default: PyTorch's GradScaler defaults). */
  gradScaler?: GradScalerOptions;
  /** First epoch to run (to continue a run); the loader's order depends on the epoch number. */
  startEpoch?: number;
  onProgress?: (p: TrainProgress) => void;
  /** Steps between progress events (default 50). */
  progressEvery?: number;
  /** Steps between yields to the event loop (default 10). */
  yieldEvery?: number;
}

/** What a `trainModel` run did. */
export interface TrainResult {
  /** Optimizer steps taken, counted from epoch 0 (so a resumed run counts the skipped epochs too). */
  steps: number;
  /** Mean training loss of the last epoch, nats. */
  lastEpochLoss: number;
  /** Wall time, s. */
  seconds: number;
  samplesPerSecond: number;
  /** Steps the float16 loss scaler skipped because a gradient was inf or NaN (0 otherwise). */
  skippedSteps: number;
}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Total optimizer steps for `epochs` epochs of `loader`. */
export function stepsFor(loader: DataLoader, epochs: number): number {
  return loader.batchesPerEpoch * epochs;
}

/**
 * Trains `model` with SGD on `loader`'s batches for `opts.epochs` epochs: per
 * step, cross-entropy (with label smoothing) of the logits [N, classes]
 * against the labels [N], backward, then PyTorch's SGD update with momentum
 * (default 0.9), weight decay (default 0; Nesterov by default when > 0,
 * DESIGN.md) and the learning rate `opts.lr(step)`; with `opts.masks` the
 * masked weights and their momentum are exactly 0 after every step (the
 * retraining of IMP and SMS). Batches come from `loader.epoch(e)`, so the
 * order is a function of the loader's seed and the epoch. Yields to the event
 * loop every `yieldEvery` steps.
 *
 * Throws TrainingDivergedError when a loss is NaN or infinite (naming epoch,
 * step and learning rate); the optimizer's ConfigError or TensorError for bad
 * settings or masks that do not fit the parameters.
 *
 * @example
 * const loader = new DataLoader(train, { batchSize: 128, seed: 0 });
 * const schedule = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: stepsFor(loader, 10), warmupFraction: 0.1 });
 * const { lastEpochLoss } = await trainModel(model, loader, { epochs: 10, lr: schedule.lr, weightDecay: 5e-4 });
 */
export async function trainModel(model: Module, loader: DataLoader, opts: TrainOptions): Promise<TrainResult> {
  const weightDecay = opts.weightDecay ?? 0;
  const momentum = opts.momentum ?? 0.9;
  const optimizer = new SGD(model.parameters(), {
    lr: opts.lr(0),
    momentum,
    weightDecay,
    nesterov: opts.nesterov ?? (weightDecay > 0 && momentum > 0),
  });
  if (opts.masks) optimizer.setMasks(opts.masks);
  const amp = opts.autocast;
  const scaler = amp === 'float16' ? new GradScaler(opts.gradScaler) : null;
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const lossOf = (images: Tensor, labels: Tensor): Tensor => crossEntropy(model.forward(images), labels, { labelSmoothing });
  const startEpoch = opts.startEpoch ?? 0;
  const totalSteps = stepsFor(loader, opts.epochs);
  const progressEvery = opts.progressEvery ?? 50;
  const yieldEvery = opts.yieldEvery ?? 10;
  const t0 = performance.now();
  let step = startEpoch * loader.batchesPerEpoch;
  let samples = 0;
  let windowLoss = 0;
  let windowSteps = 0;
  let lastEpochLoss = NaN;
  model.train();
  try {
    for (let epoch = startEpoch; epoch < opts.epochs; epoch++) {
      let epochLoss = 0;
      let epochSteps = 0;
      for (const batch of loader.epoch(epoch)) {
        optimizer.lr = opts.lr(step);
        const loss = tidy(() => {
          const { images, labels } = batchToTensors(batch, opts.device);
          const l = amp === undefined ? lossOf(images, labels) : autocast(opts.device, amp, () => lossOf(images, labels));
          (scaler === null ? l : scaler.scaleLoss(l)).backward();
          return l.item();
        });
        if (!Number.isFinite(loss)) {
          throw new TrainingDivergedError(loss, epoch, step, optimizer.lr);
        }
        if (scaler === null) optimizer.step();
        else {
          scaler.step(optimizer); // skipped when a scaled gradient overflowed; the weights (and masks) stay as they were
          scaler.update();
        }
        optimizer.zeroGrad();
        step++;
        samples += batch.labels.length;
        epochLoss += loss;
        epochSteps++;
        windowLoss += loss;
        windowSteps++;
        if (opts.onProgress && (windowSteps >= progressEvery || step === totalSteps)) {
          const elapsed = (performance.now() - t0) / 1000;
          opts.onProgress({
            epoch,
            epochs: opts.epochs,
            step,
            totalSteps,
            loss: windowLoss / windowSteps,
            lr: optimizer.lr,
            samplesPerSecond: samples / Math.max(elapsed, 1e-9),
            elapsedSeconds: elapsed,
          });
          windowLoss = 0;
          windowSteps = 0;
        }
        if (step % yieldEvery === 0) await yieldToEventLoop();
      }
      lastEpochLoss = epochLoss / Math.max(epochSteps, 1);
    }
  } finally {
    optimizer.dispose();
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    steps: step,
    lastEpochLoss,
    seconds,
    samplesPerSecond: samples / Math.max(seconds, 1e-9),
    skippedSteps: scaler?.skippedSteps ?? 0,
  };
}
