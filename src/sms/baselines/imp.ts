/**
 * IMP: m independent prune-retrain chains, chain i retrained with candidate
 * i's spec (same seed, so the only difference from SMS is that chains never
 * average). Phase 1 is shared: from the dense model under the SMS mask,
 * chain i's retrain is exactly SMS candidate i. From phase 2 on, each chain
 * prunes its own last model and retrains it (`imp/<i>` jobs). Reported: the
 * chains, their mean, and the best chain by validation accuracy.
 */
import type { CheckpointRef } from '../../checkpoints/store.js';
import { pruneCheckpoint, type PruneResult } from '../masks.js';
import { candidateJobName, retrainJob, type NamedJobs } from '../plan.js';
import { bestByValidation, meanScores, type BaselineRecords, type CandidateRecord } from '../records.js';
import { resultsNamed } from '../plan.js';
import { candidateSpecs } from '../candidates.js';
import { phaseOne, type BaselineBranch } from './branch.js';

interface Chain {
  parent: CheckpointRef;
  /** The chain's mask so far (null before its first pruning). */
  mask: CheckpointRef | null;
}

/** The name of IMP chain `i`'s job. */
export const impJobName = (i: number): string => `imp/${i}`;

export const impBranch: BaselineBranch<Chain[], NonNullable<BaselineRecords['imp']>> = {
  enabled: (config) => config.baselines.imp,
  start: (config, dense) => candidateSpecs(config).map(() => ({ parent: dense, mask: null })),

  async plan(ctx, chains, sms) {
    if (ctx.phase === 1) {
      // The chains' first retrain is the SMS candidates themselves.
      const mask = phaseOne(sms).mask.mask;
      return { jobs: {}, next: (results) => ctx.specs.map((_, i) => ({ parent: results[candidateJobName(i)].checkpoint, mask })) };
    }
    const jobs: NamedJobs = {};
    const masks: PruneResult[] = [];
    for (let i = 0; i < chains.length; i++) {
      const { parent, mask } = chains[i];
      masks.push(await pruneCheckpoint(ctx.config, parent, mask, ctx.targetSparsity, ctx.pruneSeed, ctx.run.impMask(ctx.phase, i)));
      jobs[impJobName(i)] = retrainJob(ctx, 'imp', ctx.specs[i], parent, masks[i], ctx.run.imp(ctx.phase, i));
    }
    return { jobs, next: (results) => masks.map((m, i) => ({ parent: results[impJobName(i)].checkpoint, mask: m.mask })) };
  },

  async score(s) {
    let chains: CandidateRecord[];
    if (s.phase === 1) chains = s.candidates;
    else {
      const results = resultsNamed(
        s.results,
        s.specs.map((_, i) => impJobName(i)),
        s.phase,
      );
      chains = [];
      for (let i = 0; i < results.length; i++) chains.push(await s.score(s.specs[i], results[i], `imp ${s.labels[i]}`));
    }
    return { chains, mean: meanScores(chains.map((c) => c.metrics)), best: bestByValidation(chains).label };
  },
};
