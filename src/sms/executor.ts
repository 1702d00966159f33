/**
 * Executors run a phase's retrain jobs and its merge step. The SMS loop only
 * sees this interface, so candidates retrain inline here, in child
 * processes, or on other machines through a queue, and the loop reads the
 * same in every mode: retrain, then merge.
 */
import { mergePhaseOnce, type MergeOutcome } from './merge.js';
import type { PhaseMergeSpec, PhaseResults } from './plan.js';
import type { ScoreTask, TaskScores } from './scoring.js';
import type { SmsConfig } from './config.js';
import { retrainCandidateOnce, type RetrainJob, type RetrainResult, type RetrainProgress } from './retrain.js';

/** How a run's jobs share the executor with others. */
export interface ExecutorRunOptions {
  /**
   * Jobs meant to run at once in all, this run's and those of runs under way
   * beside it (a phase whose SMS and baseline jobs come as two runs); an
   * executor that picks thread counts from its parallelism uses it (default:
   * this run's jobs).
   */
  concurrentJobs?: number;
}

/** Where a phase's retrains and merge run: inline, child processes (exec/process-executor.ts) or BullMQ workers (exec/queue/). */
export interface RetrainExecutor {
  readonly name: string;
  /**
   * True when `run`, `merge` and `score` may be called while another call is
   * under way (they share the executor's workers): the pipeline then starts
   * the next phase's baseline jobs during a merge. Else every call is awaited
   * before the next.
   */
  readonly concurrentRuns?: boolean;
  /** Runs the retrain jobs (in any order or concurrently); results in job order. */
  run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void, opts?: ExecutorRunOptions): Promise<RetrainResult[]>;
  /** Runs the merge step of a phase (mergePhaseOnce) where this executor computes: here, or on a queue worker. */
  merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome>;
  /** Scores a checkpoint where this executor computes (the dense model, while phase 1 retrains); without it the pipeline scores in its own process. */
  score?(task: ScoreTask): Promise<TaskScores>;
  /** Gets its workers ready for `config` (started, data loaded) while the pipeline trains the dense model; without it they start with the first task. */
  prepare?(config: SmsConfig): Promise<void>;
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
