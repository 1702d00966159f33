/**
 * A baseline branch (as OpenLTH keeps its lottery branches): a comparison
 * that runs beside SMS on the same budget accounting. Each branch carries
 * its own state from phase to phase, plans its own named retrain jobs, and
 * scores its own part of the phase result from its results, read by name.
 *
 *   start(config, dense)            state before phase 1
 *   plan(ctx, state, sms)           this phase's jobs (pruning its own masks) and the next state
 *   score(scoring)                  its record in the phase result (in the merge step)
 */
import type { CheckpointRef } from '../../checkpoints/store.js';
import type { CandidateSpec } from '../candidates.js';
import type { SmsConfig } from '../config.js';
import type { ExperimentData } from '../context.js';
import type { Predictions } from '../evaluate.js';
import type { PruneResult } from '../masks.js';
import type { NamedJobs, PhaseContext, PhaseResults } from '../plan.js';
import type { CandidateRecord } from '../records.js';
import type { RetrainResult } from '../retrain.js';

/** The SMS side of a phase, which baselines may share (IMP's phase 1 is the SMS candidates). */
export interface SmsPhase {
  /** The parent the SMS candidates retrain from (the previous soup, or the dense model). */
  parent: CheckpointRef;
  /** This phase's SMS mask. */
  mask: PruneResult;
}

export interface BranchPlan<State> {
  jobs: NamedJobs;
  /** The branch's state for the next phase, from this phase's results. */
  next(results: PhaseResults): State;
}

/** What the merge step hands a branch to score itself. */
export interface BranchScoring {
  config: SmsConfig;
  data: ExperimentData;
  phase: number;
  specs: CandidateSpec[];
  /** Display labels of the m candidates. */
  labels: string[];
  /** The scored SMS candidates, in order. */
  candidates: CandidateRecord[];
  /** Their test and OOD predictions, in order. */
  predictions: Predictions[];
  results: PhaseResults;
  /** Scores a retrained checkpoint as a record labelled `label`. */
  score(spec: CandidateSpec, result: RetrainResult, label: string): Promise<CandidateRecord>;
}

export interface BaselineBranch<State, Record> {
  /** Whether the config turns the branch on (config.baselines). */
  enabled(config: SmsConfig): boolean;
  start(config: SmsConfig, dense: CheckpointRef): State;
  /** `sms` is null when planned before the phase's SMS side exists (phase 2 on: a branch must not need it there). */
  plan(ctx: PhaseContext, state: State, sms: SmsPhase | null): Promise<BranchPlan<State>>;
  score(scoring: BranchScoring): Promise<Record>;
}

/** The SMS side of phase 1, which branches share there; planned without it is a bug in the pipeline. */
export function phaseOne(sms: SmsPhase | null): SmsPhase {
  if (sms === null)
    throw new Error('baseline branches: phase 1 must be planned with its SMS side (the pipeline plans later phases early only)');
  return sms;
}
