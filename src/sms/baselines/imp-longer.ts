/**
 * IMP with m× longer retraining: one chain whose every retrain lasts m times
 * the candidates' epochs, so it spends what SMS spends on its m candidates
 * (the compute-matched baseline). Spec: candidate 0's, epochs × m. Phase 1
 * prunes the dense model with the SMS mask; later phases prune the chain's
 * own last model.
 */
import type { CheckpointRef } from '../../checkpoints/store.js';
import type { CandidateSpec } from '../candidates.js';
import { pruneCheckpoint } from '../masks.js';
import { resultsNamed, retrainJob } from '../plan.js';
import type { CandidateRecord } from '../records.js';
import { phaseOne, type BaselineBranch } from './branch.js';

/** The name of the IMP-longer job. */
export const IMP_LONGER_JOB = 'imp-longer';

/** Candidate 0's spec retrained m× as long. */
export function impLongerSpec(specs: CandidateSpec[]): CandidateSpec {
  return { ...specs[0], epochs: specs[0].epochs * specs.length };
}

interface Chain {
  parent: CheckpointRef;
  mask: CheckpointRef | null;
}

export const impLongerBranch: BaselineBranch<Chain, CandidateRecord> = {
  enabled: (config) => config.baselines.impLonger,
  start: (_config, dense) => ({ parent: dense, mask: null }),

  async plan(ctx, chain, sms) {
    const mask =
      ctx.phase === 1
        ? phaseOne(sms).mask
        : await pruneCheckpoint(ctx.config, chain.parent, chain.mask, ctx.targetSparsity, ctx.pruneSeed, ctx.run.impLongerMask(ctx.phase));
    const job = retrainJob(ctx, 'imp-longer', impLongerSpec(ctx.specs), chain.parent, mask, ctx.run.impLonger(ctx.phase));
    return { jobs: { [IMP_LONGER_JOB]: job }, next: (results) => ({ parent: results[IMP_LONGER_JOB].checkpoint, mask: mask.mask }) };
  },

  async score(s) {
    const [result] = resultsNamed(s.results, [IMP_LONGER_JOB], s.phase);
    return s.score(impLongerSpec(s.specs), result, `imp ${s.specs.length}x longer`);
  },
};
