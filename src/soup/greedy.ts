/**
 * The greedy soup (Wortsman et al. 2022, as used by SMS): sort the
 * candidates by validation accuracy, start from the best, and add the next
 * one only if the validation accuracy of the uniform average of the
 * ingredients (after BN recalibration, done by `evaluate`) does not drop.
 *
 * @example
 * const { state, decisions } = await greedySoup(candidates, async (state) => validationAccuracy(state));
 */
import type { StateDict } from '../nn/module.js';
import { averageStates, disposeState } from './average.js';
import { MergeError } from '../util/errors.js';

/** A candidate offered to `greedySoup`: its weights and its own validation accuracy (fraction in [0, 1]). */
export interface SoupIngredient {
  label: string;
  state: StateDict;
  /** The candidate's own validation accuracy. */
  validationAccuracy: number;
}

/** Whether `greedySoup` kept a candidate, and the validation accuracies (fractions in [0, 1]) that decided it. */
export interface GreedyDecision {
  label: string;
  candidateAccuracy: number;
  /** Validation accuracy of the soup with this candidate added. */
  soupAccuracyWith: number;
  /** Validation accuracy of the soup before this candidate. */
  soupAccuracyBefore: number;
  accepted: boolean;
}

/** Options of greedySoup. */
export interface GreedySoupOptions {
  /**
   * The candidates' own validation accuracies are what `evaluate` gives for
   * a soup of that candidate alone (they were measured the same way, e.g.
   * after the same BN recalibration): the first soup, the best candidate
   * alone, is not evaluated again. Default false.
   */
  ownAccuracyIsSoupOfOne?: boolean;
}

/** The greedy soup and how it was built. */
export interface GreedySoupResult {
  /** The soup's tensors (new; the caller disposes them). */
  state: StateDict;
  ingredients: string[];
  validationAccuracy: number;
  decisions: GreedyDecision[];
}

/**
 * The greedy soup of Wortsman et al. 2022 (Model Soups, Recipe 1), as SMS
 * uses it: rank `candidates` by validation accuracy, start from the best,
 * and add each next one if the validation accuracy of the uniform average of
 * the kept ones plus it does not drop. `evaluate(state)` returns that
 * accuracy for an averaged state (recalibrate BN in it first, as SMS does).
 * The returned `state` is new (dispose it); the candidates' are untouched.
 * Throws MergeError for no candidates or incompatible states.
 *
 * @example
 * const { state, ingredients, decisions } = await greedySoup(
 *   candidates.map((c, i) => ({ label: `c${i}`, state: c.stateDict(), validationAccuracy: valAcc[i] })),
 *   async (state) => { soupModel.loadStateDict(state); await recalibrateBatchNorm(soupModel, trainLoader); return accuracyOn(soupModel, validation); },
 * );
 */
export async function greedySoup(
  candidates: SoupIngredient[],
  evaluate: (state: StateDict) => Promise<number>,
  opts: GreedySoupOptions = {},
): Promise<GreedySoupResult> {
  if (candidates.length === 0) throw new MergeError('greedy soup: no candidates');
  // Stable sort: ties keep the candidates' order.
  const ranked = candidates
    .map((c, i) => ({ c, i }))
    .sort((a, b) => b.c.validationAccuracy - a.c.validationAccuracy || a.i - b.i)
    .map((x) => x.c);
  const accepted = [ranked[0]];
  let state = averageStates([ranked[0].state]);
  let accuracy = opts.ownAccuracyIsSoupOfOne ? ranked[0].validationAccuracy : await evaluate(state);
  const decisions: GreedyDecision[] = [
    {
      label: ranked[0].label,
      candidateAccuracy: ranked[0].validationAccuracy,
      soupAccuracyWith: accuracy,
      soupAccuracyBefore: NaN,
      accepted: true,
    },
  ];
  for (const next of ranked.slice(1)) {
    const trial = [...accepted, next];
    const trialState = averageStates(
      trial.map((c) => c.state),
      undefined,
      trial.map((c) => c.label),
    );
    const trialAccuracy = await evaluate(trialState);
    const keep = trialAccuracy >= accuracy;
    decisions.push({
      label: next.label,
      candidateAccuracy: next.validationAccuracy,
      soupAccuracyWith: trialAccuracy,
      soupAccuracyBefore: accuracy,
      accepted: keep,
    });
    if (keep) {
      disposeState(state);
      state = trialState;
      accuracy = trialAccuracy;
      accepted.push(next);
    } else {
      disposeState(trialState);
    }
  }
  return { state, ingredients: accepted.map((c) => c.label), validationAccuracy: accuracy, decisions };
}
