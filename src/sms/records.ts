/**
 * What a phase reports: the records of its candidates, soups and baselines
 * as they land in results.json, and the two summaries every branch uses
 * (the mean of several models' scores, the best model by validation).
 */
import type { GreedyDecision } from '../soup/greedy.js';
import type { CandidateSpec } from './candidates.js';
import type { ModelMetrics, PredictionMetrics } from './evaluate.js';

/** A retrained model (SMS candidate, IMP chain, IMP m× longer), scored. */
export interface CandidateRecord {
  label: string;
  spec: CandidateSpec;
  /** Top-1 accuracy on the validation split, fraction in [0, 1]. */
  validationAccuracy: number;
  /** Mean training loss of the last epoch. */
  trainLoss: number;
  /** Retraining wall time, s. */
  seconds: number;
  checkpoint: string;
  metrics: ModelMetrics;
}

/** A soup of a phase (uniform or greedy), BN recalibrated and scored. */
export interface SoupRecord {
  validationAccuracy: number;
  /** Labels of the candidates in the soup. */
  ingredients: string[];
  /** Greedy soup only: each candidate tried, in order, and whether it stayed. */
  decisions?: GreedyDecision[];
  checkpoint: string;
  metrics: ModelMetrics;
}

/** The baselines' part of a phase result; null where the branch is off (config.baselines). */
export interface BaselineRecords {
  /** The prediction ensemble of the m candidates (not sparse: an upper reference). */
  ensemble: PredictionMetrics | null;
  /** m independent IMP chains, their mean and the best by validation. */
  imp: { chains: CandidateRecord[]; mean: PredictionMetrics; best: string } | null;
  /** One IMP chain retrained m× as long (the compute-matched baseline). */
  impLonger: CandidateRecord | null;
}

/** The parent right after pruning, before retraining (what the paper's code logs as "pruned"). */
export interface PruningRecord {
  /** ‖w − w⊙m‖ / ‖w‖ over the prunable weights: the relative L2 norm drop of pruning. */
  normDrop: number;
  /** Fraction of the weights alive before this phase that it removed. */
  prunedFraction: number;
  /** The pruned parent's metrics (BN recalibrated like every scored model, when on). */
  metrics: ModelMetrics;
}

/** Retraining epochs spent by each method up to and including this phase (the dense training, shared by all, not counted). */
export interface RetrainEpochs {
  /** SMS: every candidate of every phase so far (the candidates, their mean and best, the soups, the ensemble). */
  sms: number;
  /** The m IMP chains together (null: off). */
  imp: number | null;
  /** IMP with m× longer retraining (null: off). */
  impLonger: number | null;
}

/** One phase of an SMS run, as results.json holds it: its candidates, soups and baselines, scored. */
export interface PhaseResult extends BaselineRecords {
  /** 1-based. */
  phase: number;
  /** Fraction of the prunable weights pruned after this phase, in [0, 1). */
  targetSparsity: number;
  /** Content hash of the phase's mask (PruningMask.hash()), shared by every candidate and soup. */
  maskHash: string;
  /** Null only in results written by earlier versions. */
  pruning: PruningRecord | null;
  /** Null only in results written by earlier versions. */
  retrainEpochs: RetrainEpochs | null;
  candidates: CandidateRecord[];
  /** The mean of the candidates' scores (the "average candidate"). */
  candidateMean: PredictionMetrics;
  /** Label of the candidate with the best validation accuracy. */
  bestCandidate: string;
  soups: { uniform: SoupRecord; greedy: SoupRecord };
  /** Between candidates' weights (metrics/distances.ts): L2 distances, angles in degrees, L2 distance of each to their mean. */
  distances: { pairwiseL2: number[][]; pairwiseAngleDegrees: number[][]; toMean: number[] };
}

/** Mean of several prediction scores, field by field (the "mean candidate"). */
export function meanScores(scores: PredictionMetrics[]): PredictionMetrics {
  const mean = (f: (s: PredictionMetrics) => number): number => scores.reduce((a, s) => a + f(s), 0) / scores.length;
  return {
    testAccuracy: mean((s) => s.testAccuracy),
    testLoss: mean((s) => s.testLoss),
    ece: mean((s) => s.ece),
    mce: mean((s) => s.mce),
    worstClassAccuracy: mean((s) => s.worstClassAccuracy),
    ood: scores[0].ood.map((o, i) => ({ ...o, accuracy: scores.reduce((a, s) => a + s.ood[i].accuracy, 0) / scores.length })),
    oodMeanAccuracy: mean((s) => s.oodMeanAccuracy),
  };
}

/** The record with the highest validation accuracy (the first of equals). */
export function bestByValidation(records: CandidateRecord[]): CandidateRecord {
  return records.reduce((best, r) => (r.validationAccuracy > best.validationAccuracy ? r : best));
}
