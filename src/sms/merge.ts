/**
 * completePhase: everything after the retrains of a phase, as a pure job over
 * files — refuse candidates with different masks, merge them into the uniform
 * and greedy soups (BN recalibrated, sparsity checked), evaluate candidates,
 * soups, the ensemble and the baselines. The inline pipeline calls it
 * directly; the queue executor runs it as the parent job of a phase's flow.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeJsonFileAtomic } from '../io/atomic.js';
import { ensembleProbabilities } from '../metrics/classification.js';
import { pairwiseDistances } from '../metrics/distances.js';
import type { StateDict } from '../nn/module.js';
import type { SmsConfig } from './config.js';
import { candidateSpecs, candidateLabel, type CandidateSpec } from './candidates.js';
import { experimentData, buildModel, type ExperimentData } from './context.js';
import type { RetrainResult } from './retrain.js';
import { saveCheckpoint, loadCheckpoint, verifiedCheckpoint, type CheckpointRef } from '../checkpoints/store.js';
import { loadMask, type PruneResult } from './masks.js';
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

/** What completePhase needs besides the retrain results (all JSON: it travels as a queue job). */
export interface PhaseMergeSpec {
  config: SmsConfig;
  phase: number;
  targetSparsity: number;
  /** The phase directory (soups are written here). */
  dir: string;
  /** The SMS mask of this phase. */
  mask: PruneResult;
  /** IMP chains retrained in this phase (phase 1: 0, its chains are the SMS candidates). */
  impJobs: number;
  /** Whether the last result is the IMP-longer job. */
  impLonger: boolean;
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

/** Evaluates a checkpoint as is (candidates keep their own BN statistics). */
export async function evaluateCheckpoint(config: SmsConfig, data: ExperimentData, ref: CheckpointRef | string): Promise<{ metrics: ModelMetrics; predictions: Predictions }> {
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

/**
 * `results` are in job order: the m SMS candidates, then `impJobs` IMP chains,
 * then the IMP-longer job if any.
 */
export async function completePhase(spec: PhaseMergeSpec, results: RetrainResult[]): Promise<PhaseResult> {
  const { config, dir } = spec;
  const p = spec.phase;
  const data = experimentData(config);
  const specs = candidateSpecs(config);
  const labels = specs.map((s) => candidateLabel(s, config));
  const m = specs.length;
  const pruned = spec.mask;
  const target = spec.targetSparsity;
  const expected = m + spec.impJobs + (spec.impLonger ? 1 : 0);
  if (results.length !== expected) throw new MergeError(`phase ${p}: expected ${expected} retrain results, got ${results.length}`);
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
    imp = { chains, mean: meanScores(chains.map((c) => c.metrics)), best: bestByValidation(chains).label };
  }
  let impLongerRecord: CandidateRecord | null = null;
  if (spec.impLonger) {
    const r = results[results.length - 1];
    impLongerRecord = (await candidateRecord(config, data, { ...specs[0], epochs: specs[0].epochs * m }, r, `imp ${m}x longer`)).record;
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
  return result;
}

/**
 * completePhase, reusing the recorded phase result when its inputs (mask and
 * every retrain checkpoint) are unchanged and its soups still verify: a resumed
 * run does not merge and evaluate finished phases again.
 */
export async function completePhaseOnce(merge: PhaseMergeSpec, results: RetrainResult[]): Promise<{ result: PhaseResult; reused: boolean }> {
  const file = join(merge.dir, 'phase-result.json');
  const inputs = [merge.mask.maskHash, ...results.map((r) => r.checkpoint.sha256)].join(',');
  if (existsSync(file)) {
    try {
      const cached = (await readJsonFile(file)) as { inputs: string; result: PhaseResult };
      const soupsOk =
        (await verifiedCheckpoint(cached.result.soups.uniform.checkpoint)) !== null &&
        (await verifiedCheckpoint(cached.result.soups.greedy.checkpoint)) !== null;
      if (cached.inputs === inputs && soupsOk) return { result: cached.result, reused: true };
    } catch {
      // unreadable record: recompute
    }
  }
  const result = await completePhase(merge, results);
  await writeJsonFileAtomic(file, { inputs, result });
  return { result, reused: false };
}
