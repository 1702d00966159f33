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
import { mkdirSync, existsSync } from 'node:fs';
import { readJsonFile, writeJsonFileAtomic } from '../io/atomic.js';
import { DataLoader } from '../data/loader.js';
import { manualSeed } from '../tensor/create.js';
import { trainModel, stepsFor } from '../train/trainer.js';
import { makeDenseSchedule } from '../train/schedules.js';
import { ensembleProbabilities } from '../metrics/classification.js';
import { pairwiseDistances } from '../metrics/distances.js';
import { impPhaseSparsities, gmpPhaseSparsities } from '../prune/schedule.js';
import type { StateDict } from '../nn/module.js';
import type { SmsConfig } from './config.js';
import { configHash } from './config.js';
import { candidateSpecs, candidateLabel, type CandidateSpec } from './candidates.js';
import { experimentData, buildModel, type ExperimentData } from './context.js';
import { InlineExecutor, type RetrainExecutor } from './executor.js';
import type { RetrainJob, RetrainResult, RetrainProgress } from './retrain.js';
import { saveCheckpoint, verifiedCheckpoint, loadCheckpoint, type CheckpointRef } from './store.js';
import { pruneCheckpoint, loadMask, type PruneResult } from './mask-files.js';
import { evaluateModel, scorePredictions, type ModelMetrics, type PredictionMetrics, type Predictions } from './evaluate.js';
import { uniformSoupModel, greedySoupModel, type CandidateState, type SoupOutcome } from './soups.js';
import { MergeError } from '../util/errors.js';
import type { GreedyDecision } from '../soup/greedy.js';

export interface CandidateRecord {
  label: string;
  spec: CandidateSpec;
  validationAccuracy: number;
  trainLoss: number;
  seconds: number;
  checkpoint: string;
  metrics: ModelMetrics;
}

export interface SoupRecord {
  validationAccuracy: number;
  ingredients: string[];
  decisions?: GreedyDecision[];
  checkpoint: string;
  metrics: ModelMetrics;
}

export interface PhaseResult {
  phase: number;
  targetSparsity: number;
  maskHash: string;
  candidates: CandidateRecord[];
  candidateMean: PredictionMetrics;
  bestCandidate: string;
  soups: { uniform: SoupRecord; greedy: SoupRecord };
  ensemble: PredictionMetrics | null;
  imp: { chains: CandidateRecord[]; mean: PredictionMetrics; best: string } | null;
  impLonger: CandidateRecord | null;
  distances: { pairwiseL2: number[][]; pairwiseAngleDegrees: number[][]; toMean: number[] };
}

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

/** Mean of several prediction scores, field by field (the "mean candidate"). */
export function meanScores(scores: PredictionMetrics[]): PredictionMetrics {
  const mean = (f: (s: PredictionMetrics) => number): number => scores.reduce((a, s) => a + f(s), 0) / scores.length;
  return {
    testAccuracy: mean((s) => s.testAccuracy),
    testLoss: mean((s) => s.testLoss),
    ece: mean((s) => s.ece),
    worstClassAccuracy: mean((s) => s.worstClassAccuracy),
    ood: scores[0].ood.map((o, i) => ({ ...o, accuracy: scores.reduce((a, s) => a + s.ood[i].accuracy, 0) / scores.length })),
    oodMeanAccuracy: mean((s) => s.oodMeanAccuracy),
  };
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
    const loader = new DataLoader(data.train, { batchSize: config.data.batchSize, seed: config.seed, augment: config.data.augment, dropLast: true, reuseBuffers: true });
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

/** Evaluates a checkpoint as is (candidates keep their own BN statistics). */
async function evaluateCheckpoint(config: SmsConfig, data: ExperimentData, ref: CheckpointRef | string): Promise<{ metrics: ModelMetrics; predictions: Predictions }> {
  const model = buildModel(config, config.seed);
  try {
    const state = await loadCheckpoint(ref);
    model.loadStateDict(state);
    for (const t of state.values()) t.dispose();
    return await evaluateModel(model, config, data);
  } finally {
    model.dispose();
  }
}

/** Runs jobs through the executor, reusing every job whose verified result is already on disk. */
async function runJobs(jobs: RetrainJob[], executor: RetrainExecutor, emit: (e: SmsEvent) => void): Promise<RetrainResult[]> {
  const results: (RetrainResult | null)[] = [];
  for (const job of jobs) {
    const ckpt = await verifiedCheckpoint(job.output);
    const resultFile = `${job.output}.result.json`;
    if (ckpt && existsSync(resultFile)) {
      const r = (await readJsonFile(resultFile)) as RetrainResult;
      if (r.checkpoint.sha256 === ckpt.sha256) {
        emit({ type: 'job-reused', phase: job.phase, kind: job.kind, candidate: job.spec.index });
        results.push(r);
        continue;
      }
    }
    results.push(null);
  }
  const todo = jobs.filter((_, i) => results[i] === null);
  const fresh = await executor.run(todo, (p) => emit({ type: 'progress', progress: p }));
  let k = 0;
  for (let i = 0; i < jobs.length; i++) {
    if (results[i] !== null) continue;
    const r = fresh[k++];
    await writeJsonFileAtomic(`${jobs[i].output}.result.json`, r);
    results[i] = r;
  }
  return results as RetrainResult[];
}

async function candidateRecord(config: SmsConfig, data: ExperimentData, spec: CandidateSpec, r: RetrainResult, label: string): Promise<{ record: CandidateRecord; predictions: Predictions }> {
  const { metrics, predictions } = await evaluateCheckpoint(config, data, r.checkpoint);
  return {
    record: { label, spec, validationAccuracy: r.validationAccuracy, trainLoss: r.trainLoss, seconds: r.seconds, checkpoint: r.checkpoint.path, metrics },
    predictions,
  };
}

async function soupRecord(config: SmsConfig, data: ExperimentData, outcome: SoupOutcome, path: string): Promise<SoupRecord> {
  try {
    const ref = await saveCheckpoint(path, outcome.model.stateDict(), { model: config.model.name, kind: 'soup' });
    const { metrics } = await evaluateModel(outcome.model, config, data);
    return { validationAccuracy: outcome.validationAccuracy, ingredients: outcome.ingredients, decisions: outcome.decisions, checkpoint: ref.path, metrics };
  } finally {
    outcome.model.dispose();
  }
}

function bestByValidation(records: CandidateRecord[]): CandidateRecord {
  return records.reduce((best, r) => (r.validationAccuracy > best.validationAccuracy ? r : best));
}

export async function runSms(config: SmsConfig, opts: SmsRunOptions): Promise<SmsResults> {
  const emit = opts.onEvent ?? (() => {});
  const executor = opts.executor ?? new InlineExecutor();
  const workDir = opts.workDir;
  mkdirSync(workDir, { recursive: true });
  const data = experimentData(config);
  const specs = candidateSpecs(config);
  const labels = specs.map((s) => candidateLabel(s, config));
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
  const stepsPerPhase = new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true }).batchesPerEpoch * config.retrain.epochs;
  const lrWindow = (p: number): RetrainJob['lrWindow'] => (gmp ? { totalSteps: stepsPerPhase * config.pruning.phases, offset: stepsPerPhase * (p - 1) } : undefined);
  let parentMask: CheckpointRef | null = null;
  let impChains: { parent: CheckpointRef; mask: CheckpointRef | null }[] = specs.map(() => ({ parent: parent as CheckpointRef, mask: null }));
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
      longerMask = p === 1 ? pruned : await pruneCheckpoint(config, impLonger.parent, impLonger.mask, target, pruneSeed, join(dir, 'imp-longer-mask.safetensors'));
      longerJob = job({ ...specs[0], epochs: specs[0].epochs * m }, 'imp-longer', impLonger.parent, longerMask, join(dir, 'imp-longer.safetensors'));
    }
    const allJobs = [...jobs, ...impJobs, ...(longerJob ? [longerJob] : [])];
    emit({ type: 'phase-start', phase: p, targetSparsity: target, jobs: allJobs.length });
    const results = await runJobs(allJobs, executor, emit);
    const smsResults = results.slice(0, m);

    // Merging refuses candidates trained under different masks.
    const hashes = smsResults.map((r) => r.maskHash);
    if (hashes.some((h) => h !== hashes[0])) {
      const list = smsResults.map((r, i) => `${labels[i]}: ${r.maskHash.slice(0, 12)}`).join(', ');
      throw new MergeError(`phase ${p}: candidates were trained with different masks (${list})`);
    }

    const records: CandidateRecord[] = [];
    const predictions: Predictions[] = [];
    for (let i = 0; i < m; i++) {
      const { record, predictions: pr } = await candidateRecord(config, data, specs[i], smsResults[i], labels[i]);
      records.push(record);
      predictions.push(pr);
    }

    // soup = merge(candidate_1..m), BN recalibrated
    const mask = await loadMask(pruned.mask);
    const states: StateDict[] = [];
    let soups: PhaseResult['soups'];
    try {
      for (const r of smsResults) states.push(await loadCheckpoint(r.checkpoint));
      const ingredients: CandidateState[] = states.map((state, i) => ({ label: labels[i], state, validationAccuracy: smsResults[i].validationAccuracy }));
      const uniform = await soupRecord(config, data, await uniformSoupModel(config, data, ingredients, mask), join(dir, 'soup-uniform.safetensors'));
      const greedy = await soupRecord(config, data, await greedySoupModel(config, data, ingredients, mask), join(dir, 'soup-greedy.safetensors'));
      soups = { uniform, greedy };
    } finally {
      mask.dispose();
    }
    const distances = pairwiseDistances(states);
    for (const s of states) for (const t of s.values()) t.dispose();

    const ensemble = config.baselines.ensemble
      ? scorePredictions(data, {
          test: ensembleProbabilities(predictions.map((x) => x.test)),
          ood: predictions[0].ood.map((_, k) => ensembleProbabilities(predictions.map((x) => x.ood[k]))),
        })
      : null;

    let imp: PhaseResult['imp'] = null;
    if (config.baselines.imp) {
      const chains = p === 1 ? records : [];
      for (let i = 0; p > 1 && i < m; i++) {
        chains.push((await candidateRecord(config, data, specs[i], results[m + i], `imp ${labels[i]}`)).record);
      }
      impChains = chains.map((c, i) => ({
        parent: p === 1 ? smsResults[i].checkpoint : results[m + i].checkpoint,
        mask: p === 1 ? pruned.mask : impMasks[i].mask,
      }));
      imp = { chains, mean: meanScores(chains.map((c) => c.metrics)), best: bestByValidation(chains).label };
    }
    let impLongerRecord: CandidateRecord | null = null;
    if (longerJob && longerMask) {
      const r = results[results.length - 1];
      impLongerRecord = (await candidateRecord(config, data, longerJob.spec, r, `imp ${m}x longer`)).record;
      impLonger = { parent: r.checkpoint, mask: longerMask.mask };
    }

    const result: PhaseResult = {
      phase: p,
      targetSparsity: target,
      maskHash: pruned.maskHash,
      candidates: records,
      candidateMean: meanScores(records.map((r) => r.metrics)),
      bestCandidate: bestByValidation(records).label,
      soups,
      ensemble,
      imp,
      impLonger: impLongerRecord,
      distances,
    };
    phases.push(result);
    emit({ type: 'phase-done', result });

    // parent = soup
    const next = config.merge.method === 'greedy' ? soups.greedy.checkpoint : soups.uniform.checkpoint;
    parent = (await verifiedCheckpoint(next)) as CheckpointRef;
    parentMask = pruned.mask;
  }
  const results: SmsResults = { name: config.name, configHash: configHash(config), dense, phases };
  await writeJsonFileAtomic(join(workDir, 'results.json'), results);
  return results;
}
