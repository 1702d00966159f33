/**
 * Merging a phase's candidates: the uniform soup and the greedy soup, each
 * BN-recalibrated on training data and checked to keep the mask's sparsity.
 */
import type { Module, StateDict } from '../nn/module.js';
import { averageStates, disposeState } from '../soup/average.js';
import { greedySoup, type GreedyDecision } from '../soup/greedy.js';
import { recalibrateBatchNorm } from '../soup/batchnorm.js';
import { DataLoader } from '../data/loader.js';
import { accuracy } from '../metrics/classification.js';
import { predictLogits } from '../metrics/predict.js';
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { PruningMask } from '../prune/mask.js';
import { MergeError } from '../util/errors.js';
import type { SmsConfig } from './config.js';
import type { ExperimentData } from './context.js';
import { buildModel } from './context.js';

/** Loads `state` into a fresh model and recalibrates its batch norm on training data. */
export async function recalibratedModel(config: SmsConfig, data: ExperimentData, state: StateDict): Promise<Module> {
  const model = buildModel(config, config.seed);
  model.loadStateDict(state);
  const loader = new DataLoader(data.train, { batchSize: config.data.batchSize, seed: config.seed, reuseBuffers: true });
  await recalibrateBatchNorm(model, loader, { fraction: config.merge.bnRecalibrationFraction, device: config.device === 'cpu' ? undefined : config.device });
  return model;
}

export async function validationAccuracyOf(config: SmsConfig, data: ExperimentData, model: Module): Promise<number> {
  const logits = await predictLogits(model, data.validation, { batchSize: config.evaluation.batchSize });
  return accuracy(logits, data.validation.labels, data.validation.numClasses);
}

/**
 * Throws MergeError unless every weight the mask prunes is exactly 0 in the
 * soup; returns the number of non-zero masked weights.
 */
export function assertSoupKeepsMask(soup: StateDict, mask: PruningMask, label: string): number {
  let nonzero = 0;
  noGrad(() =>
    tidy(() => {
      for (const [name, m] of mask.entries()) {
        const w = soup.get(name);
        if (w === undefined) throw new MergeError(`${label}: the soup has no tensor '${name}' that the mask covers`);
        const leaked = w.mul(m.neg().add(1)).countNonzero();
        if (leaked !== 0) throw new MergeError(`${label}: ${leaked} pruned weights of '${name}' are not zero after merging`);
        nonzero += w.countNonzero();
      }
    }),
  );
  return nonzero;
}

export interface CandidateState {
  label: string;
  state: StateDict;
  validationAccuracy: number;
}

export interface SoupOutcome {
  model: Module;
  validationAccuracy: number;
  ingredients: string[];
  decisions?: GreedyDecision[];
}

export async function uniformSoupModel(config: SmsConfig, data: ExperimentData, candidates: CandidateState[], mask: PruningMask): Promise<SoupOutcome> {
  const state = averageStates(candidates.map((c) => c.state), undefined, candidates.map((c) => c.label));
  try {
    assertSoupKeepsMask(state, mask, 'uniform soup');
    const model = await recalibratedModel(config, data, state);
    return { model, validationAccuracy: await validationAccuracyOf(config, data, model), ingredients: candidates.map((c) => c.label) };
  } finally {
    disposeState(state);
  }
}

export async function greedySoupModel(config: SmsConfig, data: ExperimentData, candidates: CandidateState[], mask: PruningMask): Promise<SoupOutcome> {
  const result = await greedySoup(candidates, async (state) => {
    const model = await recalibratedModel(config, data, state);
    try {
      return await validationAccuracyOf(config, data, model);
    } finally {
      model.dispose();
    }
  });
  try {
    assertSoupKeepsMask(result.state, mask, 'greedy soup');
    const model = await recalibratedModel(config, data, result.state);
    return { model, validationAccuracy: result.validationAccuracy, ingredients: result.ingredients, decisions: result.decisions };
  } finally {
    disposeState(result.state);
  }
}
