/**
 * retrainCandidate: the pure job at the heart of SMS.
 *
 *   (parent checkpoint, mask, spec) → candidate checkpoint + metrics
 *
 * The parent is loaded, the mask applied, and the model retrained with the
 * spec's seed, weight decay, length, peak LR and label smoothing under the
 * configured LR schedule, the mask holding pruned weights (and momentum) at
 * zero after every step. Everything random derives from the spec's seed and
 * libtorch runs with a fixed thread count, so the same job gives the same
 * weights bit for bit on CPU. The job reads and writes only files, which is
 * what lets it run inline, in a child process or on another machine.
 */
import { manualSeed, setNumThreads, getNumThreads } from '../tensor/create.js';
import { DataLoader } from '../data/loader.js';
import { trainModel, stepsFor, type TrainProgress } from '../train/trainer.js';
import { makeDenseSchedule, makeRetrainSchedule } from '../train/schedules.js';
import { accuracy } from '../metrics/classification.js';
import { predictLogits } from '../metrics/predict.js';
import type { SmsConfig } from './config.js';
import type { CandidateSpec } from './candidates.js';
import { experimentData, loadModel, modelName, prepareExperimentData } from './context.js';
import type { PruningMask } from '../prune/mask.js';
import { retrainPredictionsFileOf, retrainResultFileOf } from './layout.js';
import { existsSync } from 'node:fs';
import { readJsonFile, writeJsonFileAtomic } from '../io/atomic.js';
import { saveCheckpoint, verifiedCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { loadMask } from './masks.js';
import { autocastDType, checkDevice, computeDevice, onDevice } from './device.js';
import { scoreAndRecord, type RecordedScores } from './scoring.js';

/** One retrain: (parent checkpoint, mask, spec, seed) → candidate checkpoint; a pure function of its inputs, so it runs anywhere. */
export interface RetrainJob {
  config: SmsConfig;
  /** 1-based phase. */
  phase: number;
  spec: CandidateSpec;
  /** Which chain the job belongs to: the SMS phase, an IMP chain, or IMP with longer retraining. */
  kind: 'sms' | 'imp' | 'imp-longer';
  parent: CheckpointRef;
  mask: CheckpointRef;
  /** Where to write the candidate checkpoint. */
  output: string;
  /** For the ALLR schedule: relative L2 norm drop from pruning and this phase's pruned fraction. */
  allr?: { normDrop: number; prunedFraction: number };
  /**
   * SMS during training (GMP variant): the LR follows one global schedule of
   * `totalSteps` steps across phases, this job covering steps offset..offset+T-1.
   */
  lrWindow?: { totalSteps: number; offset: number };
  /** libtorch threads for this job (0: leave as is). */
  threads?: number;
  /**
   * The CUDA device this job computes on, set by an executor that spreads
   * jobs over GPUs (`--devices`); replaces a CUDA `config.device` (a CPU
   * config stays on the CPU). Unset: the config's device.
   */
  device?: string;
  /**
   * Also score the candidate like for like after saving it (scoring.ts), so
   * the merge step reuses the scores instead of scoring it again; its class
   * probabilities go beside the checkpoint (layout.ts). Executors that run
   * jobs in parallel set it, which spreads the scoring over their workers.
   */
  score?: boolean;
}

/** What a retrain produced: the candidate checkpoint and how it trained. */
export interface RetrainResult {
  checkpoint: CheckpointRef;
  /** PruningMask.hash() of the mask the candidate kept. */
  maskHash: string;
  /**
   * Top-1 accuracy on the validation split (10% of the training set, seed
   * 42), fraction in [0, 1]: right after training, or, when the job scored
   * its model with `evaluation.recalibrateBn` on, the recalibrated one of
   * `scores` (the one the merge step ranks by; the other is not measured).
   */
  validationAccuracy: number;
  /** Mean training loss of the last epoch, nats. */
  trainLoss: number;
  /** Wall time of the training loop, s. */
  seconds: number;
  samplesPerSecond: number;
  /** Where the job's wall time went, s (absent in results recorded before it existed). */
  stages?: RetrainStages;
  /** The candidate's scores, when the job was asked to score it (RetrainJob.score). */
  scores?: RecordedScores;
  /** True when the result was found on disk rather than computed now. */
  reused?: boolean;
}

/** Wall seconds of a retrain job's stages, in the order they run. */
export interface RetrainStages {
  /** Dataset preparation and load (0 when this process had it already: a warm worker), s. */
  data: number;
  /** Loading the parent and the mask, applying the mask, s. */
  load: number;
  /** The training loop, s (RetrainResult.seconds). */
  train: number;
  /** The validation pass, s (0 when the scoring measures it instead). */
  validation: number;
  /** Writing the checkpoint (safetensors, fsync, rename, SHA-256), s. */
  save: number;
  /** Scoring the candidate (BN recalibration, test, OOD and validation passes; 0 unless RetrainJob.score), s. */
  score: number;
}

/** "phase 2, imp candidate 1": the job an error or log line is about. */
export function describeRetrainJob(job: Pick<RetrainJob, 'phase' | 'kind' | 'spec'>): string {
  return `phase ${job.phase}, ${job.kind} candidate ${job.spec.index}`;
}

/** A training progress event with the retrain it belongs to (kind 'dense' for the dense training). */
export type RetrainProgress = TrainProgress & { phase: number; candidate: number; kind: RetrainJob['kind'] | 'dense' };

/** The slice of one global dense-style schedule that a GMP-variant phase covers. */
function globalWindow(config: SmsConfig, spec: CandidateSpec, window: { totalSteps: number; offset: number }): (t: number) => number {
  const global = makeDenseSchedule(config.dense.schedule, {
    maxLr: spec.maxLr,
    totalSteps: window.totalSteps,
    warmupFraction: config.dense.warmupFraction,
  });
  return (t) => global.lr(Math.min(window.offset + t, window.totalSteps - 1));
}

/**
 * Retrains one candidate: loads the parent, applies the mask (w ← w ⊙ m),
 * trains `spec.epochs` epochs with SGD (momentum from the config, Nesterov
 * when weight decay > 0) under the retraining schedule (`retrain.schedule`,
 * docs/schedules.md) while the mask holds pruned weights and their momentum
 * at zero, scores it on the validation split and saves it to `job.output`
 * with its checksum. Recomputes even if the output exists
 * (`retrainCandidateOnce` reuses it).
 *
 * Throws CheckpointError when the parent or mask does not verify or fit,
 * TrainingDivergedError when the loss becomes NaN or infinite.
 */
export async function retrainCandidate(job: RetrainJob, onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult> {
  const { spec } = job;
  const config = onDevice(job.config, job.device);
  checkDevice(config.device, job.device === undefined ? 'device' : 'job.device'); // a worker without the GPU says so before loading anything
  const device = computeDevice(config);
  const amp = autocastDType(config);
  if (job.threads && job.threads > 0 && getNumThreads() !== job.threads) setNumThreads(job.threads);
  let t = performance.now();
  const lap = (): number => {
    const now = performance.now();
    const seconds = (now - t) / 1000;
    t = now;
    return seconds;
  };
  await prepareExperimentData(config); // a worker whose machine has no image cache decodes without blocking its event loop
  const data = experimentData(config);
  const stages: RetrainStages = { data: lap(), load: 0, train: 0, validation: 0, save: 0, score: 0 };
  // The recalibrated validation accuracy of the scoring is the one that counts; the plain one would be thrown away.
  const validateHere = !(job.score && config.evaluation.recalibrateBn);
  let result: Omit<RetrainResult, 'stages' | 'scores'>;
  const model = await loadModel(config, job.parent, spec.seed);
  let mask: PruningMask | null = null;
  try {
    mask = await loadMask(job.mask, device);
    mask.apply(model);
    stages.load = lap();
    manualSeed(spec.seed);
    const loader = new DataLoader(data.train, {
      batchSize: config.data.batchSize,
      seed: spec.seed,
      augment: config.data.augment,
      dropLast: true,
      reuseBuffers: true,
    });
    const totalSteps = stepsFor(loader, spec.epochs);
    const denseLoader = new DataLoader(data.train, { batchSize: config.data.batchSize, dropLast: true });
    const dense = makeDenseSchedule(config.dense.schedule, {
      maxLr: config.dense.maxLr,
      totalSteps: stepsFor(denseLoader, config.dense.epochs),
      warmupFraction: config.dense.warmupFraction,
    });
    const lr = job.lrWindow
      ? globalWindow(config, spec, job.lrWindow)
      : makeRetrainSchedule(config.retrain.schedule, { totalSteps, dense, maxLr: spec.maxLr, minLr: config.retrain.minLr, allr: job.allr })
          .lr;
    const names = model.namedParameters().map(([n]) => n);
    const trained = await trainModel(model, loader, {
      epochs: spec.epochs,
      lr,
      momentum: config.retrain.momentum,
      weightDecay: spec.weightDecay,
      labelSmoothing: spec.labelSmoothing,
      masks: mask.forParameters(names),
      device,
      autocast: amp,
      onProgress: onProgress && ((p) => onProgress({ ...p, phase: job.phase, candidate: spec.index, kind: job.kind })),
    });
    stages.train = lap();
    let validationAccuracy = NaN;
    if (validateHere) {
      const logits = await predictLogits(model, data.validation, { batchSize: config.evaluation.batchSize, device, autocast: amp });
      validationAccuracy = accuracy(logits, data.validation.labels, data.validation.numClasses);
    }
    stages.validation = lap();
    const checkpoint = await saveCheckpoint(job.output, model.stateDict(), {
      model: modelName(config),
      phase: String(job.phase),
      candidate: String(spec.index),
      kind: job.kind,
      mask: mask.hash(),
    });
    stages.save = lap();
    result = {
      checkpoint,
      maskHash: mask.hash(),
      validationAccuracy,
      trainLoss: trained.lastEpochLoss,
      seconds: trained.seconds,
      samplesPerSecond: trained.samplesPerSecond,
    };
  } finally {
    mask?.dispose();
    model.dispose();
  }
  if (!job.score) return { ...result, stages };
  // Scored from the saved file, as the merge step would: the same bits at the same thread count.
  const scores = await scoreAndRecord(config, data, result.checkpoint, retrainPredictionsFileOf(job.output));
  stages.score = lap();
  return { ...result, validationAccuracy: validateHere ? result.validationAccuracy : (scores.validationAccuracy ?? NaN), stages, scores };
}

/** Where a job's result record is kept, beside its checkpoint. */
export function resultFileOf(job: RetrainJob): string {
  return retrainResultFileOf(job.output);
}

/** The recorded result of a job whose checkpoint exists and verifies, else null. */
export async function finishedResult(job: RetrainJob): Promise<RetrainResult | null> {
  const file = resultFileOf(job);
  if (!existsSync(file)) return null;
  const ckpt = await verifiedCheckpoint(job.output);
  if (ckpt === null) return null;
  try {
    const r = (await readJsonFile(file)) as RetrainResult;
    return r.checkpoint?.sha256 === ckpt.sha256 ? r : null;
  } catch {
    return null;
  }
}

/**
 * Idempotent retrain: a job whose verified output and result already exist
 * returns that result (`reused: true`) instead of training again; otherwise
 * it trains and records the result beside the checkpoint. Executors run jobs
 * through this, so a retried or duplicated job never produces a second result.
 */
export async function retrainCandidateOnce(job: RetrainJob, onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult> {
  const done = await finishedResult(job);
  if (done !== null) return { ...done, reused: true };
  const result = await retrainCandidate(job, onProgress);
  await writeJsonFileAtomic(resultFileOf(job), result);
  return result;
}
