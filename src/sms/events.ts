/** What runSms reports while it runs (progress, reuse of finished work, phase results). */
import type { ModelMetrics } from './evaluate.js';
import type { PhaseResult } from './records.js';
import type { RetrainJob, RetrainProgress } from './retrain.js';

/**
 * What runSms reports through `onEvent`, discriminated by `type`: `dense-start`
 * (epochs), `dense-done` (metrics; reused: found on disk), `phase-start`
 * (phase, targetSparsity in [0, 1], jobs: retrains planned), `job-reused` (a
 * retrain found finished on disk), `progress` (a retrain's or the dense
 * training's step, loss, lr, samples/s), `phase-done` (the phase's
 * PhaseResult); and from runExperiment (run/experiment.ts), before the run,
 * `executor` (where retrains run: 'inline', 'processes' or 'queue', and
 * why). examples/progress-events.ts subscribes to all of them.
 */
export type SmsEvent =
  | { type: 'dense-start'; epochs: number }
  | { type: 'dense-done'; metrics: ModelMetrics; reused: boolean }
  | { type: 'phase-start'; phase: number; targetSparsity: number; jobs: number }
  | { type: 'job-reused'; phase: number; kind: RetrainJob['kind']; candidate: number }
  | { type: 'progress'; progress: RetrainProgress }
  | { type: 'phase-done'; result: PhaseResult }
  | { type: 'warning'; message: string }
  | { type: 'executor'; executor: string; reason: string };
