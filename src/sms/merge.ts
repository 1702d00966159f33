/**
 * The merge step of a phase, as a pure job over files:
 *
 *   soup = merge(candidate_1..m)      uniform and greedy, BN recalibrated, sparsity checked
 *
 * It refuses candidates trained under different masks, scores every
 * candidate and both soups, the candidates' pairwise distances, and each
 * baseline branch from its own results. Every executor calls it (inline and
 * processes in the coordinating process, the queue on a worker), and
 * `mergePhaseOnce` reuses a phase merged before with the same inputs.
 */
import { existsSync } from 'node:fs';
import { readJsonFile, writeJsonFileAtomic } from '../io/atomic.js';
import { pairwiseDistances } from '../metrics/distances.js';
import { loadCheckpoint, saveCheckpoint, verifiedCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import type { StateDict } from '../nn/module.js';
import { MergeError } from '../util/errors.js';
import { candidateSpecs, candidateLabel, type CandidateSpec } from './candidates.js';
import { experimentData, modelName, prepareExperimentData, prepareModel, type ExperimentData } from './context.js';
import { evaluateModel, type ModelMetrics, type Predictions } from './evaluate.js';
import { recordedScores, scoreCheckpoint, type PhaseScorer, type ScoreTask } from './scoring.js';
import { runLayout, type SoupMethod } from './layout.js';
import { loadMask } from './masks.js';
import { checkDevice, computeDevice } from './device.js';
import { candidateJobName, resultsNamed, type PhaseMergeSpec, type PhaseResults } from './plan.js';
import {
  bestByValidation,
  meanScores,
  type CandidateRecord,
  type PhaseResult,
  type PruningRecord,
  type RetrainEpochs,
  type SoupRecord,
} from './records.js';
import type { RetrainResult } from './retrain.js';
import { greedySoupModel, uniformSoupModel, type CandidateState, type SoupOutcome } from './soups.js';
import { impLongerSpec, scoreBaselines } from './baselines/index.js';

/**
 * Scores a retrained model like for like (scoring.ts). Its validation
 * accuracy, which ranks it, is the recalibrated one when
 * `evaluation.recalibrateBn` is on, else the retrain's own.
 */
async function scoreRetrained(
  config: PhaseMergeSpec['config'],
  data: ExperimentData,
  spec: CandidateSpec,
  r: RetrainResult,
  label: string,
): Promise<{ record: CandidateRecord; predictions: Predictions }> {
  // The retrain measured the validation accuracy without recalibration; measure it again only when scoring recalibrates.
  const recalibrated = config.evaluation.recalibrateBn;
  // A job that scored its own model (RetrainJob.score: in a worker, in parallel with the others) recorded the same.
  const scored =
    (await recordedScores(config, data, r.scores)) ?? (await scoreCheckpoint(config, data, r.checkpoint, { validation: recalibrated }));
  const validationAccuracy = scored.validationAccuracy ?? r.validationAccuracy;
  return {
    record: {
      label,
      spec,
      validationAccuracy,
      trainLoss: r.trainLoss,
      seconds: r.seconds,
      checkpoint: r.checkpoint.path,
      metrics: scored.metrics,
    },
    predictions: scored.predictions,
  };
}

/** Retraining epochs spent by each method up to phase `phase` (every phase retrains the same specs). */
function retrainEpochs(config: PhaseMergeSpec['config'], specs: CandidateSpec[], phase: number): RetrainEpochs {
  const perPhase = specs.reduce((n, s) => n + s.epochs, 0);
  return {
    sms: phase * perPhase,
    imp: config.baselines.imp ? phase * perPhase : null,
    impLonger: config.baselines.impLonger ? phase * impLongerSpec(specs).epochs : null,
  };
}

/** Throws MergeError naming every candidate's mask hash unless they all share one. */
function assertOneMask(results: RetrainResult[], labels: string[], phase: number): void {
  const hashes = results.map((r) => r.maskHash);
  if (hashes.some((h) => h !== hashes[0])) {
    const list = results.map((r, i) => `${labels[i]}: ${r.maskHash.slice(0, 12)}`).join(', ');
    throw new MergeError(`phase ${phase}: candidates were trained with different masks (${list})`);
  }
}

/**
 * Saves a soup and frees its model; scores it here, or through `scorer` (the
 * saved file, already recalibrated: the same numbers at the same thread
 * count) while this process goes on.
 */
async function soupRecord(
  spec: PhaseMergeSpec,
  data: ExperimentData,
  outcome: SoupOutcome,
  method: SoupMethod,
  scorer?: PhaseScorer,
): Promise<() => Promise<SoupRecord>> {
  let ref: CheckpointRef;
  let metrics: Promise<ModelMetrics>;
  try {
    const path = runLayout(spec.runDir).soup(spec.phase, method);
    ref = await saveCheckpoint(path, outcome.model.stateDict(), { model: modelName(spec.config), kind: 'soup' });
    const task: ScoreTask = {
      config: spec.config,
      label: `phase ${spec.phase}, ${method} soup`,
      checkpoint: ref,
      recalibrate: false,
      validation: false,
    };
    metrics = scorer
      ? settled(scorer(task).then((s) => s.metrics))
      : Promise.resolve((await evaluateModel(outcome.model, spec.config, data)).metrics);
  } finally {
    outcome.model.dispose();
  }
  const { validationAccuracy, ingredients, decisions } = outcome;
  return async () => ({ validationAccuracy, ingredients, decisions, checkpoint: ref.path, metrics: await metrics });
}

/** `p` with a no-op rejection handler attached, so a failure that is awaited later is not reported as unhandled meanwhile. */
function settled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

/** Options of mergePhase. */
export interface MergeOptions {
  /**
   * Scores the pruned parent and the soups elsewhere, concurrently with the
   * rest of the merge (the process executor's workers); default: here, one
   * after another. Candidates are scored by their retrain jobs when those
   * recorded scores (RetrainJob.score), else here.
   */
  scorer?: PhaseScorer;
}

/**
 * Merges a phase: `results` holds every retrain of the phase by job name
 * (`sms/<i>` for the candidates, the baselines' own names for theirs).
 * Throws MergeError when a candidate's result is missing or the candidates'
 * masks differ, before any merging.
 */
export async function mergePhase(spec: PhaseMergeSpec, results: PhaseResults, opts: MergeOptions = {}): Promise<PhaseResult> {
  const { config, phase } = spec;
  checkDevice(config.device); // a queue worker without the GPU says so before loading anything
  const { scorer } = opts;
  await prepareExperimentData(config); // as in retrainCandidate: a queue worker may have no image cache yet
  await prepareModel(config);
  const data = experimentData(config);
  const specs = candidateSpecs(config);
  const labels = specs.map((s) => candidateLabel(s, config));
  const retrained = resultsNamed(
    results,
    specs.map((_, i) => candidateJobName(i)),
    phase,
  );
  assertOneMask(retrained, labels, phase);

  // The pruned parent, right after pruning: elsewhere from the start when there is a scorer.
  const prunedTask: ScoreTask = {
    config,
    label: `phase ${phase}, pruned parent`,
    checkpoint: spec.parent,
    mask: spec.mask.mask,
    recalibrate: config.evaluation.recalibrateBn,
    validation: false,
  };
  const prunedRemote = scorer ? settled(scorer(prunedTask)) : null;

  const candidates: CandidateRecord[] = [];
  const predictions: Predictions[] = [];
  for (let i = 0; i < specs.length; i++) {
    const scored = await scoreRetrained(config, data, specs[i], retrained[i], labels[i]);
    candidates.push(scored.record);
    predictions.push(scored.predictions);
  }

  const device = computeDevice(config);
  const mask = await loadMask(spec.mask.mask, device);
  const states: StateDict[] = [];
  let soups: PhaseResult['soups'];
  let pruning: PruningRecord;
  try {
    const prunedHere = prunedRemote ? null : await scoreCheckpoint(config, data, spec.parent, { mask });
    // The candidates are averaged where they will be used: on the run's device.
    for (const r of retrained) states.push(await loadCheckpoint(r.checkpoint, { device }));
    // Greedy ranks the candidates by the validation accuracy they were scored with (recalibrated, when on).
    const ingredients: CandidateState[] = states.map((state, i) => ({
      label: labels[i],
      state,
      validationAccuracy: candidates[i].validationAccuracy,
    }));
    const uniform = await soupRecord(spec, data, await uniformSoupModel(config, data, ingredients, mask), 'uniform', scorer);
    const greedy = await soupRecord(spec, data, await greedySoupModel(config, data, ingredients, mask), 'greedy', scorer);
    soups = { uniform: await uniform(), greedy: await greedy() };
    const pruned = prunedHere ?? (await prunedRemote!);
    pruning = { normDrop: spec.mask.normDrop, prunedFraction: spec.mask.prunedFraction, metrics: pruned.metrics };
  } finally {
    mask.dispose();
  }
  const distances = pairwiseDistances(states);
  for (const s of states) for (const t of s.values()) t.dispose();

  const baselines = await scoreBaselines({
    config,
    data,
    phase,
    specs,
    labels,
    candidates,
    predictions,
    results,
    score: async (s, r, label) => (await scoreRetrained(config, data, s, r, label)).record,
  });
  return {
    phase,
    targetSparsity: spec.targetSparsity,
    maskHash: spec.mask.maskHash,
    pruning,
    retrainEpochs: retrainEpochs(config, specs, phase),
    candidates,
    candidateMean: meanScores(candidates.map((r) => r.metrics)),
    bestCandidate: bestByValidation(candidates).label,
    soups,
    ...baselines,
    distances,
  };
}

/** What a merge returns: the phase result, and whether it was reused from an earlier merge of the same inputs. */
export interface MergeOutcome {
  result: PhaseResult;
  reused: boolean;
}

/**
 * mergePhase, reusing the recorded phase result when its inputs (the mask
 * and every retrain checkpoint) are unchanged and its soups still verify: a
 * resumed run does not merge and evaluate finished phases again.
 */
export async function mergePhaseOnce(spec: PhaseMergeSpec, results: PhaseResults, opts: MergeOptions = {}): Promise<MergeOutcome> {
  const file = runLayout(spec.runDir).phaseResult(spec.phase);
  const inputs = [spec.mask.maskHash, ...Object.values(results).map((r) => r.checkpoint.sha256)].join(',');
  if (existsSync(file)) {
    try {
      const cached = (await readJsonFile(file)) as { inputs: string; result: PhaseResult };
      const soupsOk =
        (await verifiedCheckpoint(cached.result.soups.uniform.checkpoint)) !== null &&
        (await verifiedCheckpoint(cached.result.soups.greedy.checkpoint)) !== null;
      if (cached.inputs === inputs && soupsOk) return { result: cached.result, reused: true };
    } catch {
      // unreadable record: merge again
    }
  }
  const result = await mergePhase(spec, results, opts);
  await writeJsonFileAtomic(file, { inputs, result });
  return { result, reused: false };
}
