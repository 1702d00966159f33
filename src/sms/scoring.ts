/**
 * Like-for-like scoring: every model that is scored or ranked (dense,
 * candidates, soups, IMP chains, IMP m× longer, the pruned parent) gets the
 * same BN recalibration first, as the SMS authors' code does, so a soup of
 * one candidate has exactly that candidate's metrics and greedy ranks
 * candidates by the accuracy they would have as a soup. Recalibration
 * (soup/batchnorm.ts): reset the running statistics and forward
 * `merge.bnRecalibrationFraction` of the training data in train mode with a
 * cumulative average, in a fixed batch order (seed `config.seed`).
 * `evaluation.recalibrateBn: false` scores non-soup models as they are.
 */
import type { Module, StateDict } from '../nn/module.js';
import { recalibrateBatchNorm } from '../soup/batchnorm.js';
import { DataLoader } from '../data/loader.js';
import { accuracy } from '../metrics/classification.js';
import { predictLogits } from '../metrics/predict.js';
import type { PruningMask } from '../prune/mask.js';
import { recordChecksum, type CheckpointRef } from '../checkpoints/store.js';
import { sha256OfFile } from '../io/atomic.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { configHash, type SmsConfig } from './config.js';
import { autocastDType, checkDevice, computeDevice, onDevice } from './device.js';
import { buildModel, experimentData, loadModel, prepareExperimentData, type ExperimentData } from './context.js';
import { loadMask } from './masks.js';
import { SparseSoupsError } from '../util/errors.js';
import {
  evaluateModel,
  evaluationParts,
  modelStats,
  oodMean,
  oodScore,
  predictSets,
  testMetrics,
  type ModelMetrics,
  type ModelStats,
  type OodScore,
  type Predictions,
  type TestMetrics,
} from './evaluate.js';

/** Recalibrates the batch norm of `model` in place on the experiment's training data (no-op without BN layers). */
export async function recalibrate(config: SmsConfig, data: ExperimentData, model: Module): Promise<void> {
  const loader = new DataLoader(data.train, { batchSize: config.data.batchSize, seed: config.seed, reuseBuffers: true });
  await recalibrateBatchNorm(model, loader, {
    fraction: config.merge.bnRecalibrationFraction,
    device: computeDevice(config),
    autocast: autocastDType(config),
  });
}

/** Loads `state` into a fresh model and recalibrates its batch norm on training data. */
export async function recalibratedModel(config: SmsConfig, data: ExperimentData, state: StateDict): Promise<Module> {
  const model = buildModel(config, config.seed);
  try {
    model.loadStateDict(state);
    await recalibrate(config, data, model);
    return model;
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Top-1 accuracy of `model` on the validation split (fraction in [0, 1]). */
export async function validationAccuracyOf(config: SmsConfig, data: ExperimentData, model: Module): Promise<number> {
  const logits = await predictLogits(model, data.validation, {
    batchSize: config.evaluation.batchSize,
    device: computeDevice(config),
    autocast: autocastDType(config),
  });
  return accuracy(logits, data.validation.labels, data.validation.numClasses);
}

export interface ScoredModel {
  metrics: ModelMetrics;
  predictions: Predictions;
  /** Validation accuracy of the model as scored (recalibrated when enabled), fraction in [0, 1]; null unless asked for. */
  validationAccuracy: number | null;
}

export interface ScoreOptions {
  /** Applied after loading (the pruned parent is scored under its new mask). */
  mask?: PruningMask;
  /** Also measure the validation accuracy (what ranks a candidate); skipped otherwise. */
  validation?: boolean;
  /** Recalibrate BN first (default: `evaluation.recalibrateBn`); false for a soup, saved recalibrated already. */
  recalibrate?: boolean;
}

/**
 * Scores a checkpoint like-for-like: loaded (with `mask` applied, for the
 * pruned parent), recalibrated when `evaluation.recalibrateBn` is on, then
 * every metric, and the validation accuracy when asked for.
 */
export async function scoreCheckpoint(
  config: SmsConfig,
  data: ExperimentData,
  ref: CheckpointRef | string,
  opts: ScoreOptions = {},
): Promise<ScoredModel> {
  return withScoredModel(config, data, ref, opts, async (model) => {
    const { metrics, predictions } = await evaluateModel(model, config, data);
    const validationAccuracy = opts.validation ? await validationAccuracyOf(config, data, model) : null;
    return { metrics, predictions, validationAccuracy };
  });
}

/**
 * Loads `ref` into a fresh model, applies `opts.mask`, recalibrates BN when
 * `opts.recalibrate` (default `evaluation.recalibrateBn`), runs `use` on it,
 * and frees the model: what every scoring of a checkpoint starts with.
 */
async function withScoredModel<T>(
  config: SmsConfig,
  data: ExperimentData,
  ref: CheckpointRef | string,
  opts: Pick<ScoreOptions, 'mask' | 'recalibrate'>,
  use: (model: Module) => Promise<T>,
): Promise<T> {
  const model = await loadModel(config, ref);
  try {
    opts.mask?.apply(model);
    if (opts.recalibrate ?? config.evaluation.recalibrateBn) await recalibrate(config, data, model);
    return await use(model);
  } finally {
    model.dispose();
  }
}

/**
 * The scores a retrain job recorded for its own model (RetrainJob.score):
 * what scoreCheckpoint gives for the candidate's checkpoint, computed where
 * the job ran, so the merge step does not score it again. Equal bit for bit
 * to scoring it in the merge when both run with the same thread count.
 */
export interface RecordedScores {
  metrics: ModelMetrics;
  /** As ScoredModel.validationAccuracy: measured (recalibrated) when `evaluation.recalibrateBn` is on, else null. */
  validationAccuracy: number | null;
  /** The test and OOD class probabilities: float32 safetensors (`test` [N, C], `ood.<k>` in data.ood() order) and its SHA-256. */
  predictions: CheckpointRef;
  /** configHash of the config it was scored under; scores of another config are not used. */
  scoredWith: string;
}

/** Scores the checkpoint `ref` of a retrain (like the merge step does: the validation accuracy when recalibrating) and writes its predictions to `predictionsPath`. */
export async function scoreAndRecord(
  config: SmsConfig,
  data: ExperimentData,
  ref: CheckpointRef,
  predictionsPath: string,
): Promise<RecordedScores> {
  const scored = await scoreCheckpoint(config, data, ref, { validation: config.evaluation.recalibrateBn });
  const c = data.test.numClasses;
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data: Float32Array }> = {
    test: { dtype: 'F32', shape: [scored.predictions.test.length / c, c], data: scored.predictions.test },
  };
  scored.predictions.ood.forEach((p, k) => (tensors[`ood.${k}`] = { dtype: 'F32', shape: [p.length / c, c], data: p }));
  await saveSafetensors(predictionsPath, tensors, { content: 'class probabilities of a retrained candidate (sparse-soups)' });
  const predictions = await recordChecksum(predictionsPath);
  return { metrics: scored.metrics, validationAccuracy: scored.validationAccuracy, predictions, scoredWith: scoresKey(config) };
}

/**
 * The recorded scores of a retrain as a ScoredModel, or null when there are
 * none, they were scored under another config, or their predictions file is
 * missing or does not match its checksum (then the caller scores the
 * checkpoint itself).
 */
export async function recordedScores(
  config: SmsConfig,
  data: ExperimentData,
  scores: RecordedScores | undefined,
): Promise<ScoredModel | null> {
  if (scores === undefined || scores.scoredWith !== scoresKey(config)) return null;
  try {
    if ((await sha256OfFile(scores.predictions.path)) !== scores.predictions.sha256) return null;
    const { tensors } = await loadSafetensors(scores.predictions.path);
    const f32 = (name: string): Float32Array | null => {
      const t = tensors.get(name);
      return t?.dtype === 'F32' ? t.data : null;
    };
    const test = f32('test');
    const ood = data.ood().map((_, k) => f32(`ood.${k}`));
    if (test === null || ood.some((o) => o === null)) return null;
    return { metrics: scores.metrics, predictions: { test, ood: ood as Float32Array[] }, validationAccuracy: scores.validationAccuracy };
  } catch {
    return null;
  }
}

/**
 * Scoring a checkpoint as a job that runs where the data is (a worker
 * process of the process executor): all JSON, the result without
 * predictions. The merge step hands its pruned parent and soups to one
 * (PhaseScorer) so that they are scored in parallel.
 */
export interface ScoreTask {
  config: SmsConfig;
  /** What is scored, for progress and errors: "phase 2, uniform soup". */
  label: string;
  checkpoint: CheckpointRef;
  /** A mask applied after loading (the pruned parent). */
  mask?: CheckpointRef;
  /** Recalibrate BN first (the soups are saved recalibrated: false). */
  recalibrate: boolean;
  /** Also measure the validation accuracy. */
  validation: boolean;
  /** The CUDA device to score on, as RetrainJob.device (the child's --devices entry); unset: the config's. */
  device?: string;
  /**
   * Score only part `index` of `of` of the evaluation sets
   * (evaluationParts): several processes share one model's scoring, and
   * combineScoreParts puts the parts together (runScorePart).
   */
  part?: ScorePart;
}

/** Part `index` (0-based) of a scoring split `of` ways. */
export interface ScorePart {
  index: number;
  of: number;
}

/** What part of a split score task gives (runScorePart). */
export interface PartScores {
  part: ScorePart;
  /** The test-set metrics, when this part forwarded the test set. */
  test: TestMetrics | null;
  /** The OOD sets this part forwarded, by index in data.ood(). */
  ood: { index: number; score: OodScore }[];
  /** Part 0: sparsity, parameters and FLOPs (the same in every part). */
  stats: ModelStats | null;
  /** Part 0, when the task asks for it. */
  validationAccuracy: number | null;
}

/** What a ScoreTask gives: scoreCheckpoint's metrics and validation accuracy. */
export type TaskScores = Pick<ScoredModel, 'metrics' | 'validationAccuracy'>;

/** Scores the checkpoint of `task` in this process (the same as scoreCheckpoint with the task's options). Throws as scoreCheckpoint, and CheckpointError for a mask that does not verify. */
export async function runScoreTask(task: ScoreTask): Promise<TaskScores> {
  if (task.part !== undefined)
    throw new SparseSoupsError(`${task.label}: a task of part ${task.part.index} of ${task.part.of} goes to runScorePart`);
  return withTaskInputs(task, async (config, data, mask) => {
    const { metrics, validationAccuracy } = await scoreCheckpoint(config, data, task.checkpoint, {
      mask,
      validation: task.validation,
      recalibrate: task.recalibrate,
    });
    return { metrics, validationAccuracy };
  });
}

/**
 * What a score task reads, for `use`: its config on the task's device
 * (checked), the experiment's data (prepared), and its mask loaded (freed
 * afterwards).
 */
async function withTaskInputs<T>(
  task: ScoreTask,
  use: (config: SmsConfig, data: ExperimentData, mask: PruningMask | undefined) => Promise<T>,
): Promise<T> {
  const config = onDevice(task.config, task.device);
  checkDevice(config.device, task.device === undefined ? 'device' : 'task.device');
  await prepareExperimentData(config);
  const data = experimentData(config);
  const mask = task.mask ? await loadMask(task.mask, computeDevice(config)) : undefined;
  try {
    return await use(config, data, mask);
  } finally {
    mask?.dispose();
  }
}

/**
 * Scores part `task.part` of a checkpoint's evaluation sets in this process:
 * loaded, masked and recalibrated exactly as runScoreTask does (so every part
 * scores the same weights and BN statistics), then only this part's sets are
 * forwarded. Part 0 also gives the weight statistics and, when asked for,
 * the validation accuracy. Throws as runScoreTask, and SparseSoupsError for a
 * part outside 0..of−1.
 */
export async function runScorePart(task: ScoreTask & { part: ScorePart }): Promise<PartScores> {
  const { index, of } = task.part;
  if (!(Number.isInteger(of) && of >= 1 && Number.isInteger(index) && index >= 0 && index < of)) {
    throw new SparseSoupsError(`${task.label}: part ${index} of ${of} is not a part (0 <= index < of)`);
  }
  return withTaskInputs(task, (config, data, mask) => {
    const sets = evaluationParts(data, of)[index] ?? { test: false, ood: [] };
    return withScoredModel(config, data, task.checkpoint, { mask, recalibrate: task.recalibrate }, async (model) => {
      const probs = await predictSets(model, config, data, sets);
      return {
        part: task.part,
        test: probs.test === null ? null : testMetrics(data, probs.test),
        ood: sets.ood.map((k, j) => ({ index: k, score: oodScore(data, k, probs.ood[j]) })),
        stats: index === 0 ? modelStats(model, config, data) : null,
        validationAccuracy: index === 0 && task.validation ? await validationAccuracyOf(config, data, model) : null,
      };
    });
  });
}

/**
 * A model's scores from the parts of a split score task (runScorePart, one
 * per part 0..of−1, in any order): the same TaskScores runScoreTask gives.
 * Throws SparseSoupsError when a part is missing or twice, or the parts do
 * not cover the test set and every OOD set once.
 */
export function combineScoreParts(label: string, parts: PartScores[], oodSets: number): TaskScores {
  const of = parts[0]?.part.of ?? 0;
  const byIndex = [...parts].sort((a, b) => a.part.index - b.part.index);
  if (of < 1 || byIndex.some((p, i) => p.part.index !== i || p.part.of !== of) || byIndex.length !== of) {
    throw new SparseSoupsError(
      `${label}: expected parts 0..${of - 1} once each, got ${parts.map((p) => `${p.part.index}/${p.part.of}`).join(', ')}`,
    );
  }
  const tests = byIndex.filter((p) => p.test !== null);
  const ood = byIndex.flatMap((p) => p.ood).sort((a, b) => a.index - b.index);
  if (tests.length !== 1 || ood.length !== oodSets || ood.some((o, i) => o.index !== i) || byIndex[0].stats === null) {
    throw new SparseSoupsError(`${label}: the parts do not cover the test set and the ${oodSets} OOD sets once each`);
  }
  const scores = ood.map((o) => o.score);
  const metrics: ModelMetrics = { ...(tests[0].test as TestMetrics), ood: scores, oodMeanAccuracy: oodMean(scores), ...byIndex[0].stats };
  return { metrics, validationAccuracy: byIndex[0].validationAccuracy };
}

/** Runs score tasks somewhere else, concurrently (the process executor's pool); the merge step's models are scored through it when given. */
export type PhaseScorer = (task: ScoreTask) => Promise<TaskScores>;

/**
 * The config identity recorded scores are checked against: its hash with the
 * device left out, so a candidate a child scored on its --devices GPU counts
 * for the merge, which runs on the config's device.
 */
function scoresKey(config: SmsConfig): string {
  return configHash({ ...config, device: 'cpu' });
}
