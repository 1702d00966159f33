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
 * with m× longer retraining, and the candidates' prediction ensemble. With
 * an executor that runs tasks side by side (child processes), a branch's
 * jobs of phase p+1, which need only phase p's retrains, run while phase p
 * merges, and the dense model is scored while phase 1 retrains. Every
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
import type { SmsEvent } from './events.js';
import { InlineExecutor, type RetrainExecutor } from './executor.js';
import { runLayout } from './layout.js';
import {
  dispatchBaselines,
  phaseContexts,
  planPhase,
  pruneParent,
  retrainAll,
  scoreDense,
  settled,
  soupOf,
  type DispatchedJobs,
} from './phase-steps.js';
import type { PhaseResults } from './plan.js';
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
  const executor: RetrainExecutor = opts.executor ?? new InlineExecutor();
  const run = runLayout(opts.workDir);
  mkdirSync(run.root, { recursive: true });
  const data = experimentData(config);

  // The executor's workers start and load the data while this process trains the dense model.
  // A failure there ends the executor's tasks, and the first task after it reports it.
  if (executor.concurrentRuns === true && executor.prepare) settled(executor.prepare(config));
  // parent = dense model, trained
  const { parent: dense, reused } = await denseParent(config, data, run.dense, emit);
  // Scored beside phase 1 where the executor computes, when it runs tasks side by side; else here, first.
  const denseScore = scoreDense(config, data, dense, executor, (metrics) => emit({ type: 'dense-done', metrics, reused }));
  await denseScore.started;

  const baselines = new BaselineRuns(config, dense);
  const contexts = phaseContexts(config, data, run);
  let parent: CheckpointRef = dense;
  let parentMask: CheckpointRef | null = null;
  // This phase's baseline jobs, when they were started during the previous phase's merge.
  let early: DispatchedJobs | null = null;
  const phases: PhaseResult[] = [];
  try {
    for (const [k, ctx] of contexts.entries()) {
      const mask = await pruneParent(ctx, parent, parentMask); //                        mask_p = prune(parent, sparsity_p)
      const plan = await planPhase(ctx, parent, mask, early === null ? baselines : null);
      const jobCount = Object.keys(plan.jobs).length + (early === null ? 0 : Object.keys(early.jobs).length);
      emit({ type: 'phase-start', phase: ctx.phase, targetSparsity: ctx.targetSparsity, jobs: jobCount });
      const smsRun = retrainAll(plan, executor, emit, { concurrentJobs: jobCount }); //  candidate_i = retrain(parent ⊙ mask_p, spec_i)
      const results: PhaseResults = { ...(await smsRun), ...(early === null ? {} : await early.results) };
      baselines.advance(results);
      // The baselines' next jobs need only this phase's retrains, not its soup: they run while it merges.
      const next = contexts[k + 1];
      early = next !== undefined && executor.concurrentRuns ? await dispatchBaselines(next, baselines, executor, emit) : null;
      const { result } = await executor.merge(plan.merge, results).catch(async (e: unknown) => {
        await early?.results.catch(() => {}); // the executor ends them; nothing left running behind the error
        throw e;
      }); //                                                                             soup = merge(candidate_1..m), BN recalibrated
      phases.push(result);
      emit({ type: 'phase-done', result });
      parent = await soupOf(config, result); //                                         parent = soup
      parentMask = mask.mask;
    }
  } catch (e) {
    throw await denseScore.causeOf(e);
  }

  const results: SmsResults = { name: config.name, configHash: configHash(config), dense: await denseScore.metrics, phases };
  await writeJsonFileAtomic(run.results, results);
  return results;
}
