/**
 * A phase's plan: its retrain jobs by name, and what the merge step needs.
 *
 * Jobs are named, never indexed by position: `sms/<i>` for the SMS
 * candidates, and each baseline branch's own names (`imp/<i>`,
 * `imp-longer`). Results come back under the same names, so a branch reads
 * its results by name whatever executor ran them and in whatever order.
 */
import type { CheckpointRef } from '../checkpoints/store.js';
import type { CandidateSpec } from './candidates.js';
import type { SmsConfig } from './config.js';
import type { RunLayout } from './layout.js';
import type { PruneResult } from './masks.js';
import type { RetrainJob, RetrainResult } from './retrain.js';
import { MergeError } from '../util/errors.js';

/** Retrain jobs of a phase by name, in dispatch order. */
export type NamedJobs = Record<string, RetrainJob>;
/** Retrain results of a phase by job name. */
export type PhaseResults = Record<string, RetrainResult>;

/** The name of SMS candidate `i`'s job. */
export const candidateJobName = (i: number): string => `sms/${i}`;

/** Everything fixed about a phase before its jobs are planned. */
export interface PhaseContext {
  config: SmsConfig;
  run: RunLayout;
  /** 1-based. */
  phase: number;
  /** Sparsity after this phase (fraction of prunable weights that are zero). */
  targetSparsity: number;
  /** The seed of this phase's pruning criterion (random criterion only). */
  pruneSeed: number;
  /** The m candidate specs (seed, weight decay, length, peak LR, label smoothing). */
  specs: CandidateSpec[];
  /** GMP variant: one global LR schedule over all phases; undefined for IMP. */
  lrWindow?: RetrainJob['lrWindow'];
}

/** What the merge step needs besides the results (all JSON: it travels as a queue job). */
export interface PhaseMergeSpec {
  config: SmsConfig;
  phase: number;
  targetSparsity: number;
  /** The run directory (the soups and the phase record go into its phase folder, sms/layout.ts). */
  runDir: string;
  /** The SMS mask of this phase: every candidate must have been trained under it. */
  mask: PruneResult;
  /** The parent the mask pruned (scored right after pruning, before retraining). */
  parent: CheckpointRef;
}

export interface PhasePlan {
  merge: PhaseMergeSpec;
  jobs: NamedJobs;
}

/** The retrain job of `spec` from `parent` under `mask`, written to `output`. */
export function retrainJob(
  ctx: PhaseContext,
  kind: RetrainJob['kind'],
  spec: CandidateSpec,
  parent: CheckpointRef,
  mask: PruneResult,
  output: string,
): RetrainJob {
  return {
    config: ctx.config,
    phase: ctx.phase,
    spec,
    kind,
    parent,
    mask: mask.mask,
    output,
    allr: { normDrop: mask.normDrop, prunedFraction: mask.prunedFraction },
    lrWindow: ctx.lrWindow,
  };
}

/** The results of `names`, in that order; a missing one is an error naming it. */
export function resultsNamed(results: PhaseResults, names: string[], phase: number): RetrainResult[] {
  return names.map((name) => {
    const r = results[name];
    if (r === undefined) {
      throw new MergeError(`phase ${phase}: no retrain result named '${name}' (have: ${Object.keys(results).join(', ') || 'none'})`);
    }
    return r;
  });
}
