/**
 * The baseline branches, registered by the field of the phase result they
 * fill (in results.json order), and the driver that runs the enabled ones
 * through a run: their state, their jobs per phase, their scores.
 */
import type { CheckpointRef } from '../../checkpoints/store.js';
import type { SmsConfig } from '../config.js';
import type { NamedJobs, PhaseContext, PhaseResults } from '../plan.js';
import type { BaselineRecords } from '../records.js';
import type { BaselineBranch, BranchScoring, SmsPhase } from './branch.js';
import { ensembleBranch } from './ensemble.js';
import { impBranch } from './imp.js';
import { impLongerBranch } from './imp-longer.js';

export type { BaselineBranch, BranchPlan, BranchScoring, SmsPhase } from './branch.js';
export { impJobName } from './imp.js';
export { IMP_LONGER_JOB, impLongerSpec } from './imp-longer.js';

// State types differ per branch; the driver only passes each branch its own.
type AnyBranch = BaselineBranch<unknown, unknown>;

/** Every baseline branch, by the phase-result field it fills. */
export const BASELINES: { [K in keyof BaselineRecords]: BaselineBranch<never, NonNullable<BaselineRecords[K]>> } = {
  ensemble: ensembleBranch as BaselineBranch<never, NonNullable<BaselineRecords['ensemble']>>,
  imp: impBranch as BaselineBranch<never, NonNullable<BaselineRecords['imp']>>,
  impLonger: impLongerBranch as BaselineBranch<never, NonNullable<BaselineRecords['impLonger']>>,
};

const entries = (): [keyof BaselineRecords, AnyBranch][] => Object.entries(BASELINES) as [keyof BaselineRecords, AnyBranch][];

/** The enabled branches' state through a run: plan a phase's jobs, then advance on its results. */
export class BaselineRuns {
  private readonly states = new Map<keyof BaselineRecords, unknown>();
  private pending: ((results: PhaseResults) => void)[] = [];

  constructor(config: SmsConfig, dense: CheckpointRef) {
    for (const [key, branch] of entries()) if (branch.enabled(config)) this.states.set(key, branch.start(config, dense));
  }

  /**
   * This phase's jobs of every enabled branch, in registry order. `sms` is
   * null when they are planned before the phase's SMS mask exists (phase 2
   * on, during the previous merge); phase 1 needs it.
   */
  async plan(ctx: PhaseContext, sms: SmsPhase | null): Promise<NamedJobs> {
    const jobs: NamedJobs = {};
    this.pending = [];
    for (const [key, branch] of entries()) {
      if (!this.states.has(key)) continue;
      const planned = await branch.plan(ctx, this.states.get(key), sms);
      Object.assign(jobs, planned.jobs);
      this.pending.push((results) => this.states.set(key, planned.next(results)));
    }
    return jobs;
  }

  /** Moves every branch to its state after this phase. */
  advance(results: PhaseResults): void {
    for (const next of this.pending) next(results);
    this.pending = [];
  }
}

/** Every branch's record for the phase result (null for branches the config turns off). */
export async function scoreBaselines(scoring: BranchScoring): Promise<BaselineRecords> {
  const records = {} as Record<keyof BaselineRecords, unknown>;
  for (const [key, branch] of entries()) records[key] = branch.enabled(scoring.config) ? await branch.score(scoring) : null;
  return records as BaselineRecords;
}
