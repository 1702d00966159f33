/**
 * Sparsity schedules: how much is pruned when.
 *
 * IMP (geometric, the SMS default): to reach goal sparsity s in P phases,
 * each phase removes the fraction q = 1-(1-s)^(1/P) of the weights still
 * alive, so the sparsity after phase p is 1-(1-q)^p = 1-(1-s)^(p/P).
 * 90% in 3 phases: 0.5358, 0.7846, 0.9.
 *
 * GMP (cubic, Zhu & Gupta 2017, "To prune, or not to prune"), the
 * during-training variant: pruning every Δt steps from t0 over n steps,
 *
 *   s_t = s_f + (s_i - s_f) · (1 - (t - t0)/(n·Δt))³,   t0 ≤ t ≤ t0 + n·Δt,
 *
 * s_i before t0 and s_f after t0 + n·Δt. Pruning fast early (when many
 * weights are redundant) and slowly near the end.
 *
 * @example
 * impPhaseSparsities(0.9, 3);  // [0.5358, 0.7846, 0.9]
 * gmpSparsity(500, { initialSparsity: 0, finalSparsity: 0.9, startStep: 0, endStep: 1000 }); // 0.7875
 * gmpPhaseSparsities(0.9, 3);  // [0.6333, 0.8667, 0.9]
 */
import { ConfigError } from '../util/errors.js';

function checkSparsity(value: number, path: string): void {
  if (!Number.isFinite(value) || value < 0 || value > 1) throw new ConfigError(path, `sparsity must be a number in [0, 1], got ${value}`);
}

function checkPhases(phases: number, path = 'pruning.phases'): void {
  if (!Number.isInteger(phases) || phases < 1) throw new ConfigError(path, `the number of phases must be an integer >= 1, got ${phases}`);
}

/** IMP's per-phase pruning rate q = 1-(1-s)^(1/P): the fraction of the remaining weights each phase removes. */
export function impPruneRate(goalSparsity: number, phases: number): number {
  checkSparsity(goalSparsity, 'pruning.goalSparsity');
  checkPhases(phases);
  return 1 - Math.pow(1 - goalSparsity, 1 / phases);
}

/** IMP: sparsity after each phase p = 1..P, 1-(1-q)^p; the last is exactly the goal. */
export function impPhaseSparsities(goalSparsity: number, phases: number): number[] {
  const q = impPruneRate(goalSparsity, phases);
  return Array.from({ length: phases }, (_, i) => (i === phases - 1 ? goalSparsity : 1 - Math.pow(1 - q, i + 1)));
}

/** Gradual magnitude pruning's cubic schedule (Zhu & Gupta 2017, eq. 1), in optimizer steps. */
export interface GmpSchedule {
  /** s_i: sparsity at (and before) startStep, usually 0. */
  initialSparsity: number;
  /** s_f: sparsity reached at endStep and kept afterwards. */
  finalSparsity: number;
  /** t0: the step of the first pruning. */
  startStep: number;
  /** t0 + n·Δt: the step of the last pruning. */
  endStep: number;
  /** Δt: steps between prunings (default 1); the sparsity is held between them. */
  frequency?: number;
}

function checkGmp(s: GmpSchedule): void {
  checkSparsity(s.initialSparsity, 'prune.gmp.initialSparsity');
  checkSparsity(s.finalSparsity, 'prune.gmp.finalSparsity');
  if (s.finalSparsity < s.initialSparsity) {
    throw new ConfigError(
      'prune.gmp.finalSparsity',
      `final sparsity ${s.finalSparsity} is below the initial ${s.initialSparsity}; pruned weights stay pruned`,
    );
  }
  if (!Number.isFinite(s.startStep) || !Number.isFinite(s.endStep) || s.endStep <= s.startStep) {
    throw new ConfigError(
      'prune.gmp.endStep',
      `need finite steps with endStep > startStep, got startStep ${s.startStep}, endStep ${s.endStep}`,
    );
  }
  const f = s.frequency ?? 1;
  if (!Number.isFinite(f) || f <= 0)
    throw new ConfigError('prune.gmp.frequency', `pruning frequency must be a positive number of steps, got ${f}`);
}

/**
 * GMP's cubic sparsity at `step`: s_f + (s_i - s_f)(1 - (t - t0)/(n·Δt))³,
 * with t rounded down to the last pruning step (t0 + kΔt) and clipped to
 * [t0, t0 + n·Δt].
 */
export function gmpSparsity(step: number, schedule: GmpSchedule): number {
  checkGmp(schedule);
  if (!Number.isFinite(step)) throw new ConfigError('prune.gmp.step', `step must be a finite number, got ${step}`);
  const { initialSparsity: si, finalSparsity: sf, startStep: t0, endStep } = schedule;
  const frequency = schedule.frequency ?? 1;
  if (step <= t0) return si;
  if (step >= endStep) return sf;
  const t = t0 + Math.floor((step - t0) / frequency) * frequency;
  const remaining = 1 - (t - t0) / (endStep - t0);
  return sf + (si - sf) * remaining ** 3;
}

/**
 * GMP in phases: the sparsity to prune to at the start of each phase
 * p = 1..P, the cubic at t = p/P of the way, s_f + (s_i - s_f)(1 - p/P)³
 * (the analogue of impPhaseSparsities; the last is exactly the goal).
 * 90% in 3 phases from 0: 0.6333, 0.8667, 0.9.
 */
export function gmpPhaseSparsities(goalSparsity: number, phases: number, initialSparsity = 0): number[] {
  checkPhases(phases);
  const schedule: GmpSchedule = { initialSparsity, finalSparsity: goalSparsity, startStep: 0, endStep: phases };
  checkGmp(schedule);
  return Array.from({ length: phases }, (_, i) => (i === phases - 1 ? goalSparsity : gmpSparsity(i + 1, schedule)));
}

/** A named phase schedule: goal sparsity and number of phases → sparsity at each phase. */
export type PhaseSchedule = (goalSparsity: number, phases: number) => number[];

const SCHEDULES = new Map<string, { description: string; fn: PhaseSchedule }>([
  ['imp', { description: 'geometric: each phase removes the same fraction of the remaining weights (default)', fn: impPhaseSparsities }],
  ['gmp', { description: 'cubic (Zhu & Gupta 2017): large steps first, small ones near the goal', fn: (s, p) => gmpPhaseSparsities(s, p) }],
]);

/** The phase schedule registered under `name`; ConfigError listing the valid names otherwise. */
export function getPhaseSchedule(name: string): PhaseSchedule {
  const entry = SCHEDULES.get(name);
  if (entry === undefined)
    throw new ConfigError('prune.schedule', `unknown sparsity schedule '${name}'; valid: ${listPhaseSchedules().join(', ')}`);
  return entry.fn;
}

export function listPhaseSchedules(): string[] {
  return [...SCHEDULES.keys()];
}

export function describePhaseSchedule(name: string): string {
  getPhaseSchedule(name);
  return SCHEDULES.get(name)!.description;
}
