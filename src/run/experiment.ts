/**
 * Running an experiment into its run directory: events to events.jsonl,
 * progress to the reporter, results to results.json and results.csv.
 * Re-running the same config (or `resume`) continues where it stopped:
 * finished, verified checkpoints are reused.
 */

import { cpus } from 'node:os';
import { writeFileAtomic } from '../io/atomic.js';
import { setNumThreads } from '../tensor/create.js';
import { runSms, type SmsEvent, type SmsResults } from '../sms/pipeline.js';
import type { RetrainExecutor } from '../sms/executor.js';
import { summaryCsv } from './summary.js';
import type { RunDir } from './rundir.js';
import { runLayout } from '../sms/layout.js';
import { acquireRunLock } from './lock.js';

export interface ExperimentOptions {
  executor?: RetrainExecutor;
  onEvent?: (e: SmsEvent) => void;
  /** libtorch threads for this process (default: the config's, or all cores). */
  threads?: number;
  /** Why this executor (the CLI's `auto` choice, cli/options.ts), for the `executor` event; default: "given" or "default: inline". */
  executorReason?: string;
}

/**
 * Runs (or resumes) the experiment of `run` under its lock: a second process
 * on the same run directory fails at once with RunLockedError naming the
 * holder; a lock left by a killed process is taken over.
 */
export async function runExperiment(run: RunDir, opts: ExperimentOptions = {}): Promise<SmsResults> {
  const lock = acquireRunLock(run.path);
  try {
    if (lock.tookOver) await run.appendEvent({ type: 'lock-taken-over', from: lock.tookOver });
    return await runLocked(run, opts);
  } finally {
    lock.release();
  }
}

async function runLocked(run: RunDir, opts: ExperimentOptions): Promise<SmsResults> {
  const threads = opts.threads ?? (run.config.threads > 0 ? run.config.threads : cpus().length);
  setNumThreads(threads);
  const executor = opts.executor?.name ?? 'inline';
  const reason = opts.executorReason ?? (opts.executor ? 'given' : `default: inline, ${threads} thread${threads === 1 ? '' : 's'}`);
  opts.onEvent?.({ type: 'executor', executor, reason });
  await run.appendEvent({ type: 'run-start', threads, executor, executorReason: reason });
  const results = await runSms(run.config, {
    workDir: run.path,
    executor: opts.executor,
    onEvent: (e) => {
      opts.onEvent?.(e);
      if (e.type !== 'progress') {
        const record =
          e.type === 'phase-done'
            ? { type: e.type, phase: e.result.phase, maskHash: e.result.maskHash }
            : e.type === 'dense-done'
              ? { type: e.type, testAccuracy: e.metrics.testAccuracy, reused: e.reused }
              : e;
        void run.appendEvent(record as Record<string, unknown>);
      }
    },
  });
  await writeFileAtomic(runLayout(run.path).resultsCsv, summaryCsv(results));
  await run.appendEvent({ type: 'run-done' });
  return results;
}
