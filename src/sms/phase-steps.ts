/**
 * The machinery under the SMS loop's named steps: the phase schedule, the
 * pruning of the parent, the plan of a phase's jobs, and dispatching them to
 * an executor while reusing finished work. pipeline.ts reads like the
 * method; the bookkeeping lives here.
 */
import { mkdirSync } from 'node:fs';
import { verifiedCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { DataLoader } from '../data/loader.js';
import { impPhaseSparsities, gmpPhaseSparsities } from '../prune/schedule.js';
import { MergeError } from '../util/errors.js';
import { candidateSpecs } from './candidates.js';
import type { SmsConfig } from './config.js';
import type { ExperimentData } from './context.js';
import type { SmsEvent } from './events.js';
import type { ExecutorRunOptions, RetrainExecutor } from './executor.js';
import type { ModelMetrics } from './evaluate.js';
import { scoreCheckpoint, type ScoreTask } from './scoring.js';
import type { RunLayout } from './layout.js';
import { pruneCheckpoint, type PruneResult } from './masks.js';
import { candidateJobName, retrainJob, type NamedJobs, type PhaseContext, type PhasePlan, type PhaseResults } from './plan.js';
import type { PhaseResult } from './records.js';
import { finishedResult } from './retrain.js';
import type { BaselineRuns } from './baselines/index.js';

/** Everything fixed about each phase: target sparsity, pruning seed, candidate specs, GMP's LR window. */
export function phaseContexts(config: SmsConfig, data: ExperimentData, run: RunLayout): PhaseContext[] {
  const P = config.pruning.phases;
  const gmp = config.pruning.variant === 'gmp';
  const sparsities = (gmp ? gmpPhaseSparsities : impPhaseSparsities)(config.pruning.goalSparsity, P);
  // GMP variant: one global LR schedule over all phases (each phase lasts the retraining epochs).
  const stepsPerPhase =
    new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true }).batchesPerEpoch * config.retrain.epochs;
  const specs = candidateSpecs(config);
  return sparsities.map((targetSparsity, k) => ({
    config,
    run,
    phase: k + 1,
    targetSparsity,
    pruneSeed: config.seed * 7919 + k + 1,
    specs,
    lrWindow: gmp ? { totalSteps: stepsPerPhase * P, offset: stepsPerPhase * k } : undefined,
  }));
}

/** mask_p = prune(parent, sparsity_p), keeping what the parent's own mask pruned. */
export async function pruneParent(ctx: PhaseContext, parent: CheckpointRef, parentMask: CheckpointRef | null): Promise<PruneResult> {
  mkdirSync(ctx.run.phaseDir(ctx.phase), { recursive: true });
  return pruneCheckpoint(ctx.config, parent, parentMask, ctx.targetSparsity, ctx.pruneSeed, ctx.run.mask(ctx.phase));
}

/**
 * The phase's jobs by name: the m SMS candidates from `parent` under `mask`,
 * then every baseline branch's own (none when `baselines` is null: they were
 * dispatched already, dispatchBaselines).
 */
export async function planPhase(
  ctx: PhaseContext,
  parent: CheckpointRef,
  mask: PruneResult,
  baselines: BaselineRuns | null,
): Promise<PhasePlan> {
  const jobs: NamedJobs = {};
  ctx.specs.forEach((spec, i) => (jobs[candidateJobName(i)] = retrainJob(ctx, 'sms', spec, parent, mask, ctx.run.candidate(ctx.phase, i))));
  if (baselines !== null) Object.assign(jobs, await baselines.plan(ctx, { parent, mask }));
  const merge = { config: ctx.config, phase: ctx.phase, targetSparsity: ctx.targetSparsity, runDir: ctx.run.root, mask, parent };
  return { merge, jobs };
}

/** Runs the plan's jobs through the executor, reusing every job whose verified result is already on disk. */
export async function retrainAll(
  plan: Pick<PhasePlan, 'jobs'>,
  executor: RetrainExecutor,
  emit: (e: SmsEvent) => void,
  opts: ExecutorRunOptions = {},
): Promise<PhaseResults> {
  const names = Object.keys(plan.jobs);
  const jobs = Object.values(plan.jobs);
  // Finished jobs are not even dispatched; executors also skip them (retrainCandidateOnce) for retried jobs.
  const done = await Promise.all(jobs.map((job) => finishedResult(job)));
  const todo = jobs.filter((_, i) => done[i] === null);
  const fresh = todo.length > 0 ? await executor.run(todo, (p) => emit({ type: 'progress', progress: p }), opts) : [];
  const results: PhaseResults = {};
  let k = 0;
  jobs.forEach((job, i) => {
    const r = done[i] ?? fresh[k++];
    if (done[i] !== null || r.reused) emit({ type: 'job-reused', phase: job.phase, kind: job.kind, candidate: job.spec.index });
    results[names[i]] = r;
  });
  return results;
}

/** The soup the next phase starts from (config.merge.method), verified on disk. */
export async function soupOf(config: SmsConfig, phase: PhaseResult): Promise<CheckpointRef> {
  const path = config.merge.method === 'greedy' ? phase.soups.greedy.checkpoint : phase.soups.uniform.checkpoint;
  const soup = await verifiedCheckpoint(path);
  if (soup === null)
    throw new MergeError(`phase ${phase.phase}: the ${config.merge.method} soup ${path} is missing or does not match its checksum`);
  return soup;
}

/** Baseline jobs of a phase under way on the executor. */
export interface DispatchedJobs {
  jobs: NamedJobs;
  /** Their results by name (a failure is held until awaited). */
  results: Promise<PhaseResults>;
}

/**
 * Plans phase `ctx`'s baseline jobs from the branches' states (advanced past
 * the previous phase: from phase 2 on they need only their own chains) and
 * starts them on the executor without waiting: they run beside the previous
 * phase's merge and this phase's SMS candidates.
 */
export async function dispatchBaselines(
  ctx: PhaseContext,
  baselines: BaselineRuns,
  executor: RetrainExecutor,
  emit: (e: SmsEvent) => void,
): Promise<DispatchedJobs> {
  mkdirSync(ctx.run.phaseDir(ctx.phase), { recursive: true }); // the branches write their masks there
  const jobs = await baselines.plan(ctx, null);
  // m SMS candidates join them once the soup is there.
  const concurrentJobs = Object.keys(jobs).length + ctx.specs.length;
  return { jobs, results: settled(retrainAll({ jobs }, executor, emit, { concurrentJobs })) };
}

/** The dense model's scoring, possibly under way beside phase 1 (scoreDense). */
export interface DenseScoring {
  /** Resolves when the pipeline may go on: at once when the scoring runs beside phase 1, else once scored. */
  started: Promise<void>;
  /** The dense metrics; `done` has been called with them when this resolves. */
  metrics: Promise<ModelMetrics>;
  /**
   * What to report for a phase that failed with `error`: the dense scoring's
   * own error if it has failed (a failed task ends the executor's children,
   * and the phase's jobs with them), else `error`.
   */
  causeOf(error: unknown): Promise<unknown>;
}

/**
 * Scores the dense model like every other model (BN recalibrated first when
 * `evaluation.recalibrateBn`): as a ScoreTask on the executor, beside phase 1,
 * when it runs tasks side by side, else in this process before going on.
 * `done` gets the metrics (the pipeline's dense-done event).
 */
export function scoreDense(
  config: SmsConfig,
  data: ExperimentData,
  dense: CheckpointRef,
  executor: RetrainExecutor,
  done: (metrics: ModelMetrics) => void,
): DenseScoring {
  const beside = executor.concurrentRuns === true && executor.score !== undefined;
  const task: ScoreTask = {
    config,
    label: 'dense model',
    checkpoint: dense,
    recalibrate: config.evaluation.recalibrateBn,
    validation: false,
  };
  const scored = beside && executor.score ? executor.score(task) : scoreCheckpoint(config, data, dense);
  let failure: unknown = null;
  const metrics = settled(
    scored.then(
      (s) => {
        done(s.metrics);
        return s.metrics;
      },
      (e: unknown) => {
        failure = e;
        throw e;
      },
    ),
  );
  return {
    started: beside ? Promise.resolve() : metrics.then(() => {}),
    metrics,
    async causeOf(error) {
      await new Promise((r) => setImmediate(r)); // a failure that ended the children settles within a turn
      return failure ?? error;
    },
  };
}

/** `p` with a no-op rejection handler attached, so a failure that is awaited later is not reported as unhandled meanwhile. */
export function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
