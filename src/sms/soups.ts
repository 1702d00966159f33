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

export async function uniformSoupModel(
  config: SmsConfig,
  data: ExperimentData,
  candidates: CandidateState[],
  mask: PruningMask,
): Promise<SoupOutcome> {
  const state = averageStates(
    candidates.map((c) => c.state),
    undefined,
    candidates.map((c) => c.label),
  );
  try {
    assertSoupKeepsMask(state, mask, 'uniform soup');
    const model = await recalibratedModel(config, data, state);
    return { model, validationAccuracy: await validationAccuracyOf(config, data, model), ingredients: candidates.map((c) => c.label) };
  } finally {
    disposeState(state);
  }
}

/**
 * The greedy soup (soup/greedy.ts) of the candidates, recalibrated. Each trial
 * soup is recalibrated and validated; the chosen soup's recalibrated model is
 * kept rather than computed again. With `evaluation.recalibrateBn` the
 * candidates' validation accuracies are their recalibrated ones (scoring.ts),
 * that is, what a soup of one gives: the best candidate alone is not
 * recalibrated and validated once more.
 */
export async function greedySoupModel(
  config: SmsConfig,
  data: ExperimentData,
  candidates: CandidateState[],
  mask: PruningMask,
): Promise<SoupOutcome> {
  const trials = new Map<StateDict, Module>();
  try {
    const result = await greedySoup(
      candidates,
      async (state) => {
        const model = await recalibratedModel(config, data, state);
        trials.set(state, model);
        return validationAccuracyOf(config, data, model);
      },
      { ownAccuracyIsSoupOfOne: config.evaluation.recalibrateBn },
    );
    try {
      assertSoupKeepsMask(result.state, mask, 'greedy soup');
      const model = trials.get(result.state) ?? (await recalibratedModel(config, data, result.state));
      trials.delete(result.state);
      return { model, validationAccuracy: result.validationAccuracy, ingredients: result.ingredients, decisions: result.decisions };
    } finally {
      disposeState(result.state);
    }
  } finally {
    for (const model of trials.values()) model.dispose();
  }
}
