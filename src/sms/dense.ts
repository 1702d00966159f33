/**
 * The first parent of the SMS loop: the dense model, trained with the
 * config's dense schedule, or loaded from `dense.checkpoint`; for the GMP
 * variant (SMS during training) the initialization itself. A verified
 * checkpoint already at `path` is reused.
 */
import { saveCheckpoint, verifiedCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { manualSeed } from '../tensor/create.js';
import { trainModel, stepsFor } from '../train/trainer.js';
import { makeDenseSchedule } from '../train/schedules.js';
import type { SmsConfig } from './config.js';
import { autocastDType, computeDevice } from './device.js';
import { buildModel, loadModel, modelName, type ExperimentData } from './context.js';
import type { SmsEvent } from './events.js';
import { CheckpointError } from '../util/errors.js';

async function saveAndDispose(path: string, config: SmsConfig, model: Module, kind: string): Promise<CheckpointRef> {
  try {
    return await saveCheckpoint(path, model.stateDict(), { model: modelName(config), kind });
  } finally {
    model.dispose();
  }
}

async function trainDense(config: SmsConfig, data: ExperimentData, emit: (e: SmsEvent) => void): Promise<Module> {
  emit({ type: 'dense-start', epochs: config.dense.epochs });
  manualSeed(config.seed);
  const model = buildModel(config, config.seed);
  try {
    const loader = new DataLoader(data.train, {
      batchSize: config.data.batchSize,
      seed: config.seed,
      augment: config.data.augment,
      dropLast: true,
      reuseBuffers: true,
    });
    const lr = makeDenseSchedule(config.dense.schedule, {
      maxLr: config.dense.maxLr,
      totalSteps: stepsFor(loader, config.dense.epochs),
      warmupFraction: config.dense.warmupFraction,
    });
    await trainModel(model, loader, {
      epochs: config.dense.epochs,
      lr: lr.lr,
      momentum: config.dense.momentum,
      weightDecay: config.dense.weightDecay,
      labelSmoothing: config.dense.labelSmoothing,
      device: computeDevice(config),
      autocast: autocastDType(config),
      onProgress: (p) => emit({ type: 'progress', progress: { ...p, phase: 0, candidate: 0, kind: 'dense' } }),
    });
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/**
 * The model of `dense.checkpoint`, e.g. a state dict saved from PyTorch,
 * loaded as load_state_dict would (docs/pytorch-checkpoints.md). One that
 * does not fit the configured model is a CheckpointError naming the key and
 * saying what to set.
 */
async function loadDenseCheckpoint(config: SmsConfig, path: string): Promise<Module> {
  try {
    return await loadModel(config, path);
  } catch (e) {
    if (!(e instanceof CheckpointError)) throw e;
    throw new CheckpointError(
      `dense.checkpoint: ${e.message} Set model.name and model.options to the architecture the file holds, for this dataset (docs/pytorch-checkpoints.md).`,
    );
  }
}

/** The dense parent at `path`: reused when it verifies, else trained (or loaded, or initialized) and saved. */
export async function denseParent(
  config: SmsConfig,
  data: ExperimentData,
  path: string,
  emit: (e: SmsEvent) => void,
): Promise<{ parent: CheckpointRef; reused: boolean }> {
  const existing = await verifiedCheckpoint(path);
  if (existing !== null) return { parent: existing, reused: true };
  // SMS during training starts from the initialization; phase 1 trains it.
  if (config.pruning.variant === 'gmp')
    return { parent: await saveAndDispose(path, config, buildModel(config, config.seed), 'init'), reused: false };
  const model =
    config.dense.checkpoint !== null ? await loadDenseCheckpoint(config, config.dense.checkpoint) : await trainDense(config, data, emit);
  return { parent: await saveAndDispose(path, config, model, 'dense'), reused: false };
}
