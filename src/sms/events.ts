/** What runSms reports while it runs (progress, reuse of finished work, phase results). */
import type { ModelMetrics } from './evaluate.js';
import type { PhaseResult } from './records.js';
import type { RetrainJob, RetrainProgress } from './retrain.js';

export type SmsEvent =
  | { type: 'dense-start'; epochs: number }
  | { type: 'dense-done'; metrics: ModelMetrics; reused: boolean }
  | { type: 'phase-start'; phase: number; targetSparsity: number; jobs: number }
  | { type: 'job-reused'; phase: number; kind: RetrainJob['kind']; candidate: number }
  | { type: 'progress'; progress: RetrainProgress }
  | { type: 'phase-done'; result: PhaseResult }
  | { type: 'warning'; message: string };
