/**
 * Merging a phase's candidates: the uniform soup and the greedy soup, each
 * BN-recalibrated on training data and checked to keep the mask's sparsity.
 */
import type { Module, StateDict } from '../nn/module.js';
import { averageStates, disposeState } from '../soup/average.js';
import { greedySoup, type GreedyDecision } from '../soup/greedy.js';
import { noGrad } from '../tensor/create.js';
import { tidy } from '../tensor/scope.js';
import type { PruningMask } from '../prune/mask.js';
import { MergeError } from '../util/errors.js';
import type { SmsConfig } from './config.js';
import type { ExperimentData } from './context.js';
import { recalibratedModel, validationAccuracyOf } from './scoring.js';

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
