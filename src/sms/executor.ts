/**
 * Executors run the retrain jobs of a phase. The pipeline only sees this
 * interface, so candidates run inline here, in child processes, or on other
 * machines through a queue without the SMS loop changing.
 */
import { retrainCandidateOnce, type RetrainJob, type RetrainResult, type RetrainProgress } from './retrain.js';
import type { PhaseMergeSpec, PhaseResult } from './merge.js';

export interface RetrainExecutor {
  readonly name: string;
  /** Runs the jobs (in any order or concurrently); results in job order. */
  run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]>;
  /**
   * Optional: a phase's retrains and its completion (merge and evaluation,
   * `completePhase`) as one unit, e.g. a queue flow whose parent job merges
   * once all children succeeded. Executors without it get `run` followed by
   * `completePhase` in this process.
   */
  runPhase?(
    jobs: RetrainJob[],
    merge: PhaseMergeSpec,
    onProgress?: (p: RetrainProgress) => void,
  ): Promise<{ results: RetrainResult[]; phase: PhaseResult }>;
  close(): Promise<void>;
}

/** Runs jobs one after another in this process. */
export class InlineExecutor implements RetrainExecutor {
  readonly name = 'inline';
  async run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]> {
    const results: RetrainResult[] = [];
    for (const job of jobs) results.push(await retrainCandidateOnce(job, onProgress));
    return results;
  }
  async close(): Promise<void> {}
}
