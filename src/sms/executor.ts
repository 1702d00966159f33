/**
 * Executors run a phase's retrain jobs and its merge step. The SMS loop only
 * sees this interface, so candidates retrain inline here, in child
 * processes, or on other machines through a queue, and the loop reads the
 * same in every mode: retrain, then merge.
 */
import { mergePhaseOnce, type MergeOutcome } from './merge.js';
import type { PhaseMergeSpec, PhaseResults } from './plan.js';
import { retrainCandidateOnce, type RetrainJob, type RetrainResult, type RetrainProgress } from './retrain.js';

/** Where a phase's retrains and merge run: inline, child processes (exec/process-executor.ts) or BullMQ workers (exec/queue/). */
export interface RetrainExecutor {
  readonly name: string;
  /** Runs the retrain jobs (in any order or concurrently); results in job order. */
  run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]>;
  /** Runs the merge step of a phase (mergePhaseOnce) where this executor computes: here, or on a queue worker. */
  merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome>;
  close(): Promise<void>;
}

/** Runs jobs one after another, and merges, in this process. */
export class InlineExecutor implements RetrainExecutor {
  readonly name = 'inline';
  async run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]> {
    const results: RetrainResult[] = [];
    for (const job of jobs) results.push(await retrainCandidateOnce(job, onProgress));
    return results;
  }
  merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome> {
    return mergePhaseOnce(spec, results);
  }
  async close(): Promise<void> {}
}
