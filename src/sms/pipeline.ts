/**
 * runSms: Sparse Model Soups on the IMP schedule (Zimmer, Spiegel & Pokutta,
 * ICLR 2024), with its baselines.
 *
 *   parent = dense model, trained
 *   for phase p = 1..P:
 *       mask_p      = prune(parent, sparsity_p)
 *       candidate_i = retrain(parent ⊙ mask_p, spec_i)     i = 1..m, through the executor
 *       soup        = merge(candidate_1..m), BN recalibrated
 *       parent      = soup
 *
 * Beside it, as registered branches (sms/baselines/): IMP (m independent
 * chains with the candidates' seeds; phase 1 shares the SMS candidates), IMP
 * with m× longer retraining, and the candidates' prediction ensemble. Every
 * checkpoint and result lands in `workDir` (file names: sms/layout.ts); a
 * job whose verified output already exists is not run again.
 *
 * @example
 * const results = await runSms(parseSmsConfig(yaml), { workDir: 'runs/demo' });
 * results.phases.at(-1)?.soups.uniform.metrics.testAccuracy;
 */
import { mkdirSync } from 'node:fs';
import { writeJsonFileAtomic } from '../io/atomic.js';
import type { CheckpointRef } from '../checkpoints/store.js';
import type { SmsConfig } from './config.js';
import { configHash } from './config.js';
import { experimentData } from './context.js';
import { denseParent } from './dense.js';
import type { ModelMetrics } from './evaluate.js';
import { scoreCheckpoint } from './scoring.js';
import type { SmsEvent } from './events.js';
import { InlineExecutor, type RetrainExecutor } from './executor.js';
import { runLayout } from './layout.js';
import { phaseContexts, planPhase, pruneParent, retrainAll, soupOf } from './phase-steps.js';
import type { PhaseResult } from './records.js';
import { BaselineRuns } from './baselines/index.js';
import { prepareAndValidate } from './validate.js';

export type { SmsEvent } from './events.js';
export type { CandidateRecord, SoupRecord, PhaseResult } from './records.js';
export type { PhaseMergeSpec } from './plan.js';
export { meanScores } from './records.js';

/** What `runSms` returns and writes to `<workDir>/results.json`: the dense model's metrics and one record per phase. */
export interface SmsResults {
  /** The config's `name`. */
  name: string;
  /** `configHash(config)`: 12 hex digits naming the config. */
  configHash: string;
  /** The trained dense model, scored like every other model (BN recalibrated first). */
  dense: ModelMetrics;
  /** Phase 1..P in order; the last one holds the final soups. */
  phases: PhaseResult[];
}

/** Where `runSms` writes and how it runs. */
export interface SmsRunOptions {
  /** The run directory: every checkpoint and record of the run goes here. */
  workDir: string;
  /** Where retrains and merges run (default: inline, in this process). */
  executor?: RetrainExecutor;
  /** Called synchronously with every progress event (examples/progress-events.ts); keep it fast. */
  onEvent?: (e: SmsEvent) => void;
}

/**
 * Runs Sparse Model Soups as DESIGN.md states it (Zimmer, Spiegel & Pokutta,
 * ICLR 2024): train (or load) the dense parent, then for each of the P
 * phases prune the parent to `sparsity_p = 1-(1-q)^p` with
 * `q = 1-(1-s)^(1/P)` (s = `pruning.goalSparsity`; the GMP variant uses
 * the cubic schedule of Zhu & Gupta 2017 instead), retrain m candidates
 * from it under that one mask, average them into uniform and greedy soups
 * (BN recalibrated), score everything, and start the next phase from the
 * soup named by `merge.method`.
 *
 * Resumable: a checkpoint in `workDir` that matches its recorded SHA-256 is
 * reused, not recomputed (a `job-reused` event says so), so keep one
 * `workDir` per config (`runLayout`, `configHash`). Models and datasets are
 * looked up by name in their registries (`registerModel`,
 * `registerDataset`); with the default inline executor your registrations
 * are seen, child-process and queue executors run other processes that do
 * not run your registering code.
 *
 * Throws ConfigError for an unknown model or dataset name or a bad
 * corruption, DataFormatError for unreadable data, TrainingDivergedError
 * when the loss becomes NaN or infinite, MergeError when candidates' masks
 * differ, CheckpointError for a checkpoint that does not fit the model.
 *
 * @example
 * const config = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'convnet' } });
 * const results = await runSms(config, { workDir: 'runs/demo', onEvent: (e) => console.log(e.type) });
 * results.phases.at(-1)?.soups.uniform.metrics.testAccuracy; // fraction in [0, 1]
 */
export async function runSms(config: SmsConfig, opts: SmsRunOptions): Promise<SmsResults> {
  const emit = opts.onEvent ?? (() => {});
  // A bad name, dataset, model (module) or batch size fails here, in seconds, before any training.
  for (const message of (await prepareAndValidate(config)).warnings) emit({ type: 'warning', message });
  const executor = opts.executor ?? new InlineExecutor();
  const run = runLayout(opts.workDir);
  mkdirSync(run.root, { recursive: true });
  const data = experimentData(config);

  // parent = dense model, trained
  const { parent: dense, reused } = await denseParent(config, data, run.dense, emit);
  const denseMetrics = (await scoreCheckpoint(config, data, dense)).metrics;
  emit({ type: 'dense-done', metrics: denseMetrics, reused });

  const baselines = new BaselineRuns(config, dense);
  let parent: CheckpointRef = dense;
  let parentMask: CheckpointRef | null = null;
  const phases: PhaseResult[] = [];
  for (const ctx of phaseContexts(config, data, run)) {
    const mask = await pruneParent(ctx, parent, parentMask); //                        mask_p = prune(parent, sparsity_p)
    const plan = await planPhase(ctx, parent, mask, baselines);
    emit({ type: 'phase-start', phase: ctx.phase, targetSparsity: ctx.targetSparsity, jobs: Object.keys(plan.jobs).length });
    const results = await retrainAll(plan, executor, emit); //                         candidate_i = retrain(parent ⊙ mask_p, spec_i)
    const { result } = await executor.merge(plan.merge, results); //                   soup = merge(candidate_1..m), BN recalibrated
    baselines.advance(results);
    phases.push(result);
    emit({ type: 'phase-done', result });
    parent = await soupOf(config, result); //                                         parent = soup
    parentMask = mask.mask;
  }

  const results: SmsResults = { name: config.name, configHash: configHash(config), dense: denseMetrics, phases };
  await writeJsonFileAtomic(run.results, results);
  return results;
}
