/**
 * runSms: Sparse Model Soups on the IMP schedule, with its baselines.
 *
 *   parent = dense model, trained
 *   for phase p = 1..P:
 *       mask_p      = prune(parent, sparsity_p)
 *       candidate_i = retrain(parent ⊙ mask_p, spec_i)     i = 1..m, through the executor
 *       soup        = merge(candidate_1..m), BN recalibrated
 *       parent      = soup
 *
 * Beside it, on the same budget accounting: IMP (m independent chains with
 * the same seeds; phase 1 shares the SMS candidates), IMP with m× longer
 * retraining, the best candidate by validation, and the candidates'
 * prediction ensemble. Every checkpoint and result lands in `workDir`;
 * a job whose verified output already exists is not run again.
 */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { writeJsonFileAtomic } from '../io/atomic.js';
import { DataLoader } from '../data/loader.js';
import { manualSeed } from '../tensor/create.js';
import { trainModel, stepsFor } from '../train/trainer.js';
import { makeDenseSchedule } from '../train/schedules.js';
import { impPhaseSparsities, gmpPhaseSparsities } from '../prune/schedule.js';
import type { SmsConfig } from './config.js';
import { configHash } from './config.js';
import { candidateSpecs, type CandidateSpec } from './candidates.js';
import { experimentData, buildModel, type ExperimentData } from './context.js';
import { InlineExecutor, type RetrainExecutor } from './executor.js';
import { finishedResult, type RetrainJob, type RetrainResult, type RetrainProgress } from './retrain.js';
import { saveCheckpoint, verifiedCheckpoint, loadCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { pruneCheckpoint, type PruneResult } from './masks.js';
import type { ModelMetrics } from './evaluate.js';
import { completePhaseOnce, evaluateCheckpoint, type PhaseResult } from './merge.js';
export type { CandidateRecord, SoupRecord, PhaseResult, PhaseMergeSpec } from './merge.js';
export { meanScores } from './merge.js';

export interface SmsResults {
  name: string;
  configHash: string;
  dense: ModelMetrics;
  phases: PhaseResult[];
}

export type SmsEvent =
  | { type: 'dense-start'; epochs: number }
  | { type: 'dense-done'; metrics: ModelMetrics; reused: boolean }
  | { type: 'phase-start'; phase: number; targetSparsity: number; jobs: number }
  | { type: 'job-reused'; phase: number; kind: RetrainJob['kind']; candidate: number }
  | { type: 'progress'; progress: RetrainProgress }
  | { type: 'phase-done'; result: PhaseResult };

export interface SmsRunOptions {
  workDir: string;
  executor?: RetrainExecutor;
  onEvent?: (e: SmsEvent) => void;
}

async function trainDense(config: SmsConfig, data: ExperimentData, path: string, emit: (e: SmsEvent) => void): Promise<CheckpointRef> {
  if (config.pruning.variant === 'gmp') {
    // SMS during training starts from the initialization; phase 1 trains it.
    const init = buildModel(config, config.seed);
    try {
      return await saveCheckpoint(path, init.stateDict(), { model: config.model.name, kind: 'init' });
    } finally {
      init.dispose();
    }
  }
  if (config.dense.checkpoint !== null) {
    const model = buildModel(config, config.seed);
    try {
      const state = await loadCheckpoint(config.dense.checkpoint);
      model.loadStateDict(state, { origin: config.dense.checkpoint });
      for (const t of state.values()) t.dispose();
      return await saveCheckpoint(path, model.stateDict(), { model: config.model.name, kind: 'dense' });
    } finally {
      model.dispose();
    }
  }
  emit({ type: 'dense-start', epochs: config.dense.epochs });
  manualSeed(config.seed);
  const model = buildModel(config, config.seed);
  try {
    const loader = new DataLoader(data.train, {
      batchSize: config.data.batchSize,
      seed: config.seed,
      augment: config.data.augment,
      dropLast: true,
      reuseBuffers: true,
    });
    const lr = makeDenseSchedule(config.dense.schedule, {
      maxLr: config.dense.maxLr,
      totalSteps: stepsFor(loader, config.dense.epochs),
      warmupFraction: config.dense.warmupFraction,
    });
    await trainModel(model, loader, {
      epochs: config.dense.epochs,
      lr: lr.lr,
      momentum: config.dense.momentum,
      weightDecay: config.dense.weightDecay,
      labelSmoothing: config.dense.labelSmoothing,
      device: config.device === 'cpu' ? undefined : config.device,
      onProgress: (p) => emit({ type: 'progress', progress: { ...p, phase: 0, candidate: 0, kind: 'dense' } }),
    });
    return await saveCheckpoint(path, model.stateDict(), { model: config.model.name, kind: 'dense' });
  } finally {
    model.dispose();
  }
}

/** Runs jobs through the executor, reusing every job whose verified result is already on disk. */
async function runJobs(jobs: RetrainJob[], executor: RetrainExecutor, emit: (e: SmsEvent) => void): Promise<RetrainResult[]> {
  // Finished jobs are not even dispatched; executors also skip them (retrainCandidateOnce) for retried jobs.
  const results = await Promise.all(jobs.map((job) => finishedResult(job)));
  const todo = jobs.filter((_, i) => results[i] === null);
  const fresh = todo.length > 0 ? await executor.run(todo, (p) => emit({ type: 'progress', progress: p })) : [];
  let k = 0;
  return jobs.map((job, i) => {
    const r = results[i] ?? fresh[k++];
    if (results[i] !== null || r.reused) emit({ type: 'job-reused', phase: job.phase, kind: job.kind, candidate: job.spec.index });
    return r;
  });
}

export async function runSms(config: SmsConfig, opts: SmsRunOptions): Promise<SmsResults> {
  const emit = opts.onEvent ?? (() => {});
  const executor: RetrainExecutor = opts.executor ?? new InlineExecutor();
  const workDir = opts.workDir;
  mkdirSync(workDir, { recursive: true });
  const data = experimentData(config);
  const specs = candidateSpecs(config);
  const m = specs.length;

  const densePath = join(workDir, 'dense.safetensors');
  let parent = await verifiedCheckpoint(densePath);
  const reused = parent !== null;
  if (parent === null) parent = await trainDense(config, data, densePath, emit);
  const dense = (await evaluateCheckpoint(config, data, parent)).metrics;
  emit({ type: 'dense-done', metrics: dense, reused });

  const gmp = config.pruning.variant === 'gmp';
  const sparsities = (gmp ? gmpPhaseSparsities : impPhaseSparsities)(config.pruning.goalSparsity, config.pruning.phases);
  // GMP variant: one global LR schedule over all phases (each phase lasts the retraining epochs).
  const stepsPerPhase =
    new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true }).batchesPerEpoch * config.retrain.epochs;
  const lrWindow = (p: number): RetrainJob['lrWindow'] =>
    gmp ? { totalSteps: stepsPerPhase * config.pruning.phases, offset: stepsPerPhase * (p - 1) } : undefined;
  let parentMask: CheckpointRef | null = null;
  let impChains: { parent: CheckpointRef; mask: CheckpointRef | null }[] = specs.map(() => ({
    parent: parent as CheckpointRef,
    mask: null,
  }));
  let impLonger: { parent: CheckpointRef; mask: CheckpointRef | null } = { parent, mask: null };
  const phases: PhaseResult[] = [];

  for (let p = 1; p <= config.pruning.phases; p++) {
    const dir = join(workDir, `phase-${p}`);
    mkdirSync(dir, { recursive: true });
    const target = sparsities[p - 1];
    const pruneSeed = config.seed * 7919 + p;

    // mask_p = prune(parent, sparsity_p)
    const pruned: PruneResult = await pruneCheckpoint(config, parent, parentMask, target, pruneSeed, join(dir, 'mask.safetensors'));
    const job = (spec: CandidateSpec, kind: RetrainJob['kind'], from: CheckpointRef, mask: PruneResult, output: string): RetrainJob => ({
      config,
      phase: p,
      spec,
      kind,
      parent: from,
      mask: mask.mask,
      output,
      allr: { normDrop: mask.normDrop, prunedFraction: mask.prunedFraction },
      lrWindow: lrWindow(p),
    });
    // candidate_i = retrain(parent ⊙ mask_p, spec_i)
    const jobs = specs.map((s, i) => job(s, 'sms', parent as CheckpointRef, pruned, join(dir, `candidate-${i}.safetensors`)));
    // Baselines' jobs run in the same executor batch (IMP phase 1 is the SMS candidates themselves).
    const impJobs: RetrainJob[] = [];
    const impMasks: PruneResult[] = [];
    if (config.baselines.imp && p > 1) {
      for (let i = 0; i < m; i++) {
        const chain = impChains[i];
        const mk = await pruneCheckpoint(config, chain.parent, chain.mask, target, pruneSeed, join(dir, `imp-${i}-mask.safetensors`));
        impMasks.push(mk);
        impJobs.push(job(specs[i], 'imp', chain.parent, mk, join(dir, `imp-${i}.safetensors`)));
      }
    }
    let longerJob: RetrainJob | null = null;
    let longerMask: PruneResult | null = null;
    if (config.baselines.impLonger) {
      longerMask =
        p === 1
          ? pruned
          : await pruneCheckpoint(config, impLonger.parent, impLonger.mask, target, pruneSeed, join(dir, 'imp-longer-mask.safetensors'));
      longerJob = job(
        { ...specs[0], epochs: specs[0].epochs * m },
        'imp-longer',
        impLonger.parent,
        longerMask,
        join(dir, 'imp-longer.safetensors'),
      );
    }
    const allJobs = [...jobs, ...impJobs, ...(longerJob ? [longerJob] : [])];
    emit({ type: 'phase-start', phase: p, targetSparsity: target, jobs: allJobs.length });
    const merge = { config, phase: p, targetSparsity: target, dir, mask: pruned, impJobs: impJobs.length, impLonger: longerJob !== null };
    let results: RetrainResult[];
    let result: PhaseResult;
    if (executor.runPhase) {
      ({ results, phase: result } = await executor.runPhase(allJobs, merge, (pr) => emit({ type: 'progress', progress: pr })));
      results.forEach(
        (r, i) => r.reused && emit({ type: 'job-reused', phase: p, kind: allJobs[i].kind, candidate: allJobs[i].spec.index }),
      );
    } else {
      results = await runJobs(allJobs, executor, emit);
      ({ result } = await completePhaseOnce(merge, results));
    }
    if (config.baselines.imp) {
      impChains = specs.map((_, i) => ({
        parent: p === 1 ? results[i].checkpoint : results[m + i].checkpoint,
        mask: p === 1 ? pruned.mask : impMasks[i].mask,
      }));
    }
    if (longerJob && longerMask) impLonger = { parent: results[results.length - 1].checkpoint, mask: longerMask.mask };
    phases.push(result);
    emit({ type: 'phase-done', result });

    // parent = soup
    const next = config.merge.method === 'greedy' ? result.soups.greedy.checkpoint : result.soups.uniform.checkpoint;
    parent = (await verifiedCheckpoint(next)) as CheckpointRef;
    parentMask = pruned.mask;
  }
  const results: SmsResults = { name: config.name, configHash: configHash(config), dense, phases };
  await writeJsonFileAtomic(join(workDir, 'results.json'), results);
  return results;
}
