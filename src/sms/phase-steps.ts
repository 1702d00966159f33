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
import type { RetrainExecutor } from './executor.js';
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
  const stepsPerPhase = new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true }).batchesPerEpoch * config.retrain.epochs;
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

/** The phase's jobs by name: the m SMS candidates from `parent` under `mask`, then every baseline branch's own. */
export async function planPhase(ctx: PhaseContext, parent: CheckpointRef, mask: PruneResult, baselines: BaselineRuns): Promise<PhasePlan> {
  const jobs: NamedJobs = {};
  ctx.specs.forEach((spec, i) => (jobs[candidateJobName(i)] = retrainJob(ctx, 'sms', spec, parent, mask, ctx.run.candidate(ctx.phase, i))));
  Object.assign(jobs, await baselines.plan(ctx, { parent, mask }));
  const merge = { config: ctx.config, phase: ctx.phase, targetSparsity: ctx.targetSparsity, runDir: ctx.run.root, mask, parent };
  return { merge, jobs };
}

/** Runs the plan's jobs through the executor, reusing every job whose verified result is already on disk. */
export async function retrainAll(plan: PhasePlan, executor: RetrainExecutor, emit: (e: SmsEvent) => void): Promise<PhaseResults> {
  const names = Object.keys(plan.jobs);
  const jobs = Object.values(plan.jobs);
  // Finished jobs are not even dispatched; executors also skip them (retrainCandidateOnce) for retried jobs.
  const done = await Promise.all(jobs.map((job) => finishedResult(job)));
  const todo = jobs.filter((_, i) => done[i] === null);
  const fresh = todo.length > 0 ? await executor.run(todo, (p) => emit({ type: 'progress', progress: p })) : [];
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
  if (soup === null) throw new MergeError(`phase ${phase.phase}: the ${config.merge.method} soup ${path} is missing or does not match its checksum`);
  return soup;
}
