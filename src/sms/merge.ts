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
import { loadCheckpoint, saveCheckpoint, verifiedCheckpoint } from '../checkpoints/store.js';
import type { StateDict } from '../nn/module.js';
import { MergeError } from '../util/errors.js';
import { candidateSpecs, candidateLabel, type CandidateSpec } from './candidates.js';
import { experimentData, prepareExperimentData, type ExperimentData } from './context.js';
import { evaluateCheckpoint, evaluateModel, type Predictions } from './evaluate.js';
import { runLayout, type SoupMethod } from './layout.js';
import { loadMask } from './masks.js';
import { candidateJobName, resultsNamed, type PhaseMergeSpec, type PhaseResults } from './plan.js';
import { bestByValidation, meanScores, type CandidateRecord, type PhaseResult, type SoupRecord } from './records.js';
import type { RetrainResult } from './retrain.js';
import { greedySoupModel, uniformSoupModel, type CandidateState, type SoupOutcome } from './soups.js';
import { scoreBaselines } from './baselines/index.js';

async function scoreRetrained(config: PhaseMergeSpec['config'], data: ExperimentData, spec: CandidateSpec, r: RetrainResult, label: string): Promise<{ record: CandidateRecord; predictions: Predictions }> {
  const { metrics, predictions } = await evaluateCheckpoint(config, data, r.checkpoint);
  return {
    record: { label, spec, validationAccuracy: r.validationAccuracy, trainLoss: r.trainLoss, seconds: r.seconds, checkpoint: r.checkpoint.path, metrics },
    predictions,
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

/** Saves a soup, scores it, and frees its model. */
async function soupRecord(spec: PhaseMergeSpec, data: ExperimentData, outcome: SoupOutcome, method: SoupMethod): Promise<SoupRecord> {
  try {
    const path = runLayout(spec.runDir).soup(spec.phase, method);
    const ref = await saveCheckpoint(path, outcome.model.stateDict(), { model: spec.config.model.name, kind: 'soup' });
    const { metrics } = await evaluateModel(outcome.model, spec.config, data);
    return { validationAccuracy: outcome.validationAccuracy, ingredients: outcome.ingredients, decisions: outcome.decisions, checkpoint: ref.path, metrics };
  } finally {
    outcome.model.dispose();
  }
}

/**
 * Merges a phase: `results` holds every retrain of the phase by job name
 * (`sms/<i>` for the candidates, the baselines' own names for theirs).
 * Throws MergeError when a candidate's result is missing or the candidates'
 * masks differ, before any merging.
 */
export async function mergePhase(spec: PhaseMergeSpec, results: PhaseResults): Promise<PhaseResult> {
  const { config, phase } = spec;
  await prepareExperimentData(config); // as in retrainCandidate: a queue worker may have no image cache yet
  const data = experimentData(config);
  const specs = candidateSpecs(config);
  const labels = specs.map((s) => candidateLabel(s, config));
  const retrained = resultsNamed(results, specs.map((_, i) => candidateJobName(i)), phase);
  assertOneMask(retrained, labels, phase);

  const candidates: CandidateRecord[] = [];
  const predictions: Predictions[] = [];
  for (let i = 0; i < specs.length; i++) {
    const scored = await scoreRetrained(config, data, specs[i], retrained[i], labels[i]);
    candidates.push(scored.record);
    predictions.push(scored.predictions);
  }

  const mask = await loadMask(spec.mask.mask);
  const states: StateDict[] = [];
  let soups: PhaseResult['soups'];
  try {
    for (const r of retrained) states.push(await loadCheckpoint(r.checkpoint));
    const ingredients: CandidateState[] = states.map((state, i) => ({ label: labels[i], state, validationAccuracy: retrained[i].validationAccuracy }));
    const uniform = await soupRecord(spec, data, await uniformSoupModel(config, data, ingredients, mask), 'uniform');
    const greedy = await soupRecord(spec, data, await greedySoupModel(config, data, ingredients, mask), 'greedy');
    soups = { uniform, greedy };
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
export async function mergePhaseOnce(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome> {
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
  const result = await mergePhase(spec, results);
  await writeJsonFileAtomic(file, { inputs, result });
  return { result, reused: false };
}
