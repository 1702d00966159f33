/**
 * Learning-rate schedules as pure functions of the optimizer step: the
 * dense-training schedules (`linear`, `cosine`, `step`, `constant`) and the
 * retraining schedules of DESIGN.md (`LLR`, `CLR`, `SLR`, `LRW`, `FT`,
 * `ALLR`), each built by name from a registry.
 *
 * A schedule is defined for t = 0..T-1, t counting optimizer steps within
 * its phase; `lr(t)` throws a ConfigError at `<configPath>.totalSteps`
 * outside that range (a step count that disagrees with the loader is a bug
 * worth hearing about).
 *
 * Warm-up and decay convention (the same for every schedule that has them),
 * with W warm-up steps and P = max(W, 1):
 *
 *   ramp(t)  = (t + 1) / P                      for t ≤ P - 1   (reaches 1 at t = P - 1)
 *   u(t)     = (t - (P - 1)) / (T - P + 1)      for t ≥ P - 1   (0 at the peak, 1 at t = T)
 *   linear:  lr(t) = peak · ramp(t)  then  peak · (1 - u(t))
 *   cosine:  lr(t) = peak · ramp(t)  then  min + (peak - min) · (1 + cos(π·u(t))) / 2
 *
 * The peak is taken exactly once, at t = P - 1, and the decay reaches 0 (or
 * min) one step after the last, at t = T: every step moves the weights, and
 * lr(T-1) = peak / (T - P + 1) for the linear shape. Retraining uses
 * W = ceil(0.1·T) (so T ≤ 10 has no warm-up: W = 1 gives lr(0) = peak).
 * SLR keeps the compressed dense shape and multiplies it by ramp(t), so its
 * first steps rise to the compressed dense LR at t = P - 1, not to max LR.
 * Dense `step` and `constant` warm up the same multiplicative way.
 *
 * @example
 * const dense = makeDenseSchedule('cosine', { maxLr: 0.1, totalSteps: 39_100 });
 * const retrain = makeRetrainSchedule('LLR', { totalSteps: 3_910, dense });
 * retrain.lr(0);                  // 0.1 · 1/391
 * describeSchedule(retrain);      // 'LLR(peak=0.1, T=3910, warmup=391)'
 * trainModel(model, loader, { epochs: 10, lr: retrain.lr });
 */
import { ConfigError } from '../util/errors.js';

/** A learning rate per optimizer step, with what a report needs to name it. */
export interface LrSchedule {
  /** Registry name: 'cosine', 'LLR', ... */
  readonly name: string;
  /** T: optimizer steps in the phase; `lr` is defined for t = 0..T-1. */
  readonly totalSteps: number;
  /** Largest learning rate the schedule takes. */
  readonly peakLr: number;
  /** Steps of linear warm-up at the start (0: none). */
  readonly warmupSteps: number;
  /** Learning rate at optimizer step t (an arrow function: safe to pass unbound). */
  readonly lr: (t: number) => number;
  /** The parameters that shaped it, for reports (`describeSchedule`). */
  readonly params: Readonly<Record<string, number | string>>;
}

/** A dense-training schedule; retraining schedules compress, replay or continue it. */
export interface DenseSchedule extends LrSchedule {
  /** The configured peak learning rate (the retraining max LR). */
  readonly maxLr: number;
}

export type DenseScheduleName = 'linear' | 'cosine' | 'step' | 'constant';
export type RetrainScheduleName = 'LLR' | 'CLR' | 'SLR' | 'LRW' | 'FT' | 'ALLR';

/** The settings of a dense-training schedule (`makeDenseSchedule`); steps count optimizer steps. */
export interface DenseScheduleOptions {
  /** Peak learning rate. */
  maxLr: number;
  /** T_dense: optimizer steps of the whole dense run. */
  totalSteps: number;
  /** Fraction of T with linear warm-up, W = ceil(fraction·T) (default 0: none). */
  warmupFraction?: number;
  /** cosine: the floor reached at t = T (default 0). */
  minLr?: number;
  /** step: multiply by this at each milestone (default 0.1). */
  gamma?: number;
  /** step: milestones as fractions of T, at step round(fraction·T) (default [0.5, 0.75]). */
  milestones?: readonly number[];
  /** step: milestones as absolute steps, instead of `milestones`. */
  milestoneSteps?: readonly number[];
  /** Config path for errors (default 'dense'). */
  configPath?: string;
}

/** The ALLR inputs, measured when the phase's mask is applied to the parent. */
export interface AllrInputs {
  /** d = ||w - w⊙m|| / ||w||: the relative L2 norm the pruning removed, in [0, 1]. */
  normDrop: number;
  /** s: the fraction of the still-alive weights this phase prunes, in (0, 1]. */
  prunedFraction: number;
}

/** What a retraining schedule (`makeRetrainSchedule`) is built from: the phase's length and the dense schedule it derives from. */
export interface RetrainScheduleContext {
  /** T: optimizer steps of this phase's retraining. */
  totalSteps: number;
  /** The dense schedule the parent was trained with: max LR for all, the shape for SLR/LRW/FT. */
  dense: DenseSchedule;
  /** Peak LR override (a candidate's peak-LR variation; null or absent: dense.maxLr). SLR/LRW/FT scale the dense shape by maxLr/dense.maxLr. */
  maxLr?: number | null;
  /** CLR: the floor reached at t = T (default 0). */
  minLr?: number;
  /** ALLR only, required there. */
  allr?: AllrInputs;
  /** Config path for errors (default 'retrain'). */
  configPath?: string;
}

/** Retraining warms up over this fraction of T (DESIGN.md). */
export const RETRAIN_WARMUP_FRACTION = 0.1;

export const DEFAULT_RETRAIN_SCHEDULE: RetrainScheduleName = 'LLR';

// ---------------------------------------------------------------------------
// Shapes shared by the schedules

/** W = ceil(fraction·T), immune to round-off (0.1·30 = 3.0000000000000004 gives 3, not 4). */
export function warmupStepsFor(fraction: number, totalSteps: number): number {
  const exact = fraction * totalSteps;
  const nearest = Math.round(exact);
  return Math.abs(exact - nearest) <= 1e-9 * Math.max(1, Math.abs(exact)) ? nearest : Math.ceil(exact);
}

function checkStep(name: string, path: string, t: number, totalSteps: number): void {
  if (!Number.isInteger(t) || t < 0 || t >= totalSteps) {
    throw new ConfigError(
      `${path}.totalSteps`,
      `${name} schedule: step must be an integer in 0..${totalSteps - 1}, got ${t}; ` +
        `totalSteps (${totalSteps}) must count every optimizer step of the phase (epochs × batches per epoch)`,
    );
  }
}

/** Linear warm-up factor (t+1)/P, 1 from t = P-1 on. */
function rampFactor(t: number, warmupSteps: number): number {
  const peakStep = Math.max(warmupSteps, 1);
  return t < peakStep ? (t + 1) / peakStep : 1;
}

/** Decay progress u(t): 0 at the peak step P-1, 1 at t = T (one step past the last). */
function decayProgress(t: number, totalSteps: number, warmupSteps: number): number {
  const peakStep = Math.max(warmupSteps, 1);
  return (t - (peakStep - 1)) / (totalSteps - peakStep + 1);
}

function isInWarmup(t: number, warmupSteps: number): boolean {
  return t < Math.max(warmupSteps, 1) - 1;
}

function linearShape(peak: number, totalSteps: number, warmupSteps: number): (t: number) => number {
  return (t) => (isInWarmup(t, warmupSteps) ? peak * rampFactor(t, warmupSteps) : peak * (1 - decayProgress(t, totalSteps, warmupSteps)));
}

function cosineShape(peak: number, minLr: number, totalSteps: number, warmupSteps: number): (t: number) => number {
  return (t) => {
    if (isInWarmup(t, warmupSteps)) return peak * rampFactor(t, warmupSteps);
    const u = decayProgress(t, totalSteps, warmupSteps);
    return minLr + ((peak - minLr) * (1 + Math.cos(Math.PI * u))) / 2;
  };
}

function withStepCheck(name: string, path: string, totalSteps: number, shape: (t: number) => number): (t: number) => number {
  return (t) => {
    checkStep(name, path, t, totalSteps);
    return shape(t);
  };
}

/** Report parameters without the ones at their default of 0. */
function nonZero(params: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(params).filter(([, value]) => value !== 0));
}

// ---------------------------------------------------------------------------
// Validation

function requirePositiveInteger(path: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new ConfigError(path, `must be a positive integer number of steps, got ${value}`);
}

function requirePositive(path: string, value: number): void {
  if (!Number.isFinite(value) || value <= 0) throw new ConfigError(path, `must be a finite number > 0, got ${value}`);
}

function requireInRange(path: string, value: number, lo: number, hi: number, hiOpen: boolean): void {
  const ok = Number.isFinite(value) && value >= lo && (hiOpen ? value < hi : value <= hi);
  if (!ok) throw new ConfigError(path, `must be in [${lo}, ${hi}${hiOpen ? ')' : ']'}, got ${value}`);
}

// ---------------------------------------------------------------------------
// Dense schedules

interface DenseEntry {
  name: DenseScheduleName;
  description: string;
  make(
    opts: DenseScheduleOptions,
    warmupSteps: number,
    path: string,
  ): { lr: (t: number) => number; params: Record<string, number | string> };
}

function stepMilestones(opts: DenseScheduleOptions, path: string): number[] {
  const T = opts.totalSteps;
  if (opts.milestones !== undefined && opts.milestoneSteps !== undefined) {
    throw new ConfigError(`${path}.milestones`, 'give milestones (fractions of T) or milestoneSteps (steps), not both');
  }
  let steps: number[];
  if (opts.milestoneSteps !== undefined) {
    steps = [...opts.milestoneSteps];
    steps.forEach((m, i) => {
      if (!Number.isInteger(m) || m < 1 || m >= T)
        throw new ConfigError(`${path}.milestoneSteps[${i}]`, `must be an integer step in 1..${T - 1}, got ${m}`);
    });
  } else {
    const fractions = opts.milestones ?? [0.5, 0.75];
    fractions.forEach((f, i) => {
      if (!Number.isFinite(f) || f <= 0 || f >= 1)
        throw new ConfigError(`${path}.milestones[${i}]`, `must be a fraction of T in (0, 1), got ${f}`);
    });
    steps = fractions.map((f) => Math.round(f * T));
  }
  for (let i = 1; i < steps.length; i++) {
    if (steps[i] < steps[i - 1]) throw new ConfigError(`${path}.milestones`, `must be in increasing order, got [${steps.join(', ')}]`);
  }
  return steps;
}

const denseEntries: readonly DenseEntry[] = [
  {
    name: 'linear',
    description: 'linear warm-up over warmupFraction·T (default none), then linear decay to 0',
    make: (o, W) => ({ lr: linearShape(o.maxLr, o.totalSteps, W), params: {} }),
  },
  {
    name: 'cosine',
    description: 'linear warm-up (default none), then cosine from maxLr to minLr (default 0)',
    make: (o, W, path) => {
      const minLr = o.minLr ?? 0;
      requireInRange(`${path}.minLr`, minLr, 0, o.maxLr, true);
      return { lr: cosineShape(o.maxLr, minLr, o.totalSteps, W), params: nonZero({ minLr }) };
    },
  },
  {
    name: 'step',
    description: 'maxLr multiplied by gamma (default 0.1) at each milestone (default 0.5·T and 0.75·T)',
    make: (o, W, path) => {
      const gamma = o.gamma ?? 0.1;
      requireInRange(`${path}.gamma`, gamma, 0, 1, false);
      if (gamma === 0) throw new ConfigError(`${path}.gamma`, 'must be > 0');
      const milestones = stepMilestones(o, path);
      const lr = (t: number): number => {
        let value = o.maxLr * rampFactor(t, W);
        for (const m of milestones) if (t >= m) value *= gamma;
        return value;
      };
      return { lr, params: { gamma, milestones: milestones.join('/') } };
    },
  },
  {
    name: 'constant',
    description: 'maxLr at every step (after the optional warm-up)',
    make: (o, W) => ({ lr: (t) => o.maxLr * rampFactor(t, W), params: {} }),
  },
];

/** The dense schedules by name, with one-line descriptions. */
export function listDenseSchedules(): { name: DenseScheduleName; description: string }[] {
  return denseEntries.map(({ name, description }) => ({ name, description }));
}

/**
 * A dense-training schedule by name.
 *
 * @example
 * const dense = makeDenseSchedule('step', { maxLr: 0.1, totalSteps: 100, milestones: [0.5, 0.75], gamma: 0.1 });
 * [dense.lr(49), dense.lr(50), dense.lr(75)]; // [0.1, 0.01, 0.001] (up to round-off)
 */
export function makeDenseSchedule(name: string, opts: DenseScheduleOptions): DenseSchedule {
  const path = opts.configPath ?? 'dense';
  const entry = denseEntries.find((e) => e.name === name.toLowerCase());
  if (entry === undefined) {
    throw new ConfigError(`${path}.schedule`, `unknown dense schedule '${name}'; valid: ${denseEntries.map((e) => e.name).join(', ')}`);
  }
  requirePositive(`${path}.maxLr`, opts.maxLr);
  requirePositiveInteger(`${path}.totalSteps`, opts.totalSteps);
  const warmupFraction = opts.warmupFraction ?? 0;
  requireInRange(`${path}.warmupFraction`, warmupFraction, 0, 1, true);
  const warmupSteps = warmupStepsFor(warmupFraction, opts.totalSteps);
  const { lr, params } = entry.make(opts, warmupSteps, path);
  return {
    name: entry.name,
    totalSteps: opts.totalSteps,
    maxLr: opts.maxLr,
    peakLr: opts.maxLr,
    warmupSteps,
    lr: withStepCheck(entry.name, path, opts.totalSteps, lr),
    params,
  };
}

// ---------------------------------------------------------------------------
// Retraining schedules

/**
 * ALLR's peak: maxLr·d/√s clipped to [min(T/T_dense, 1)·maxLr, maxLr]
 * (Zimmer et al. 2023: a larger norm drop calls for a larger LR to recover;
 * a short retraining budget gets at least its share of the max LR).
 */
export function allrPeakLr(maxLr: number, inputs: AllrInputs, totalSteps: number, denseSteps: number): number {
  const raw = (maxLr * inputs.normDrop) / Math.sqrt(inputs.prunedFraction);
  const floor = Math.min(totalSteps / denseSteps, 1) * maxLr;
  return Math.min(Math.max(raw, floor), maxLr);
}

interface RetrainEntry {
  name: RetrainScheduleName;
  description: string;
  warmup: boolean;
  /** `peak`: ctx.maxLr ?? dense.maxLr; `scale`: peak / dense.maxLr. */
  make(ctx: RetrainScheduleContext, W: number, peak: number, scale: number, path: string): RetrainParts;
}

interface RetrainParts {
  lr: (t: number) => number;
  peakLr: number;
  params: Record<string, number | string>;
}

function maxOver(totalSteps: number, lr: (t: number) => number): number {
  let best = -Infinity;
  for (let t = 0; t < totalSteps; t++) best = Math.max(best, lr(t));
  return best;
}

const retrainEntries: readonly RetrainEntry[] = [
  {
    name: 'LLR',
    description: 'linear from the max LR to 0 after a 10% warm-up (default)',
    warmup: true,
    make: (ctx, W, peak) => ({ lr: linearShape(peak, ctx.totalSteps, W), peakLr: peak, params: {} }),
  },
  {
    name: 'CLR',
    description: 'cosine from the max LR to minLr (default 0) after a 10% warm-up',
    warmup: true,
    make: (ctx, W, peak, _scale, path) => {
      const minLr = ctx.minLr ?? 0;
      requireInRange(`${path}.minLr`, minLr, 0, peak, true);
      return { lr: cosineShape(peak, minLr, ctx.totalSteps, W), peakLr: peak, params: nonZero({ minLr }) };
    },
  },
  {
    name: 'SLR',
    description: 'the dense schedule compressed into T: lr_dense(floor(t·T_dense/T)), 10% warm-up',
    warmup: true,
    make: (ctx, W, _peak, scale) => {
      const { dense, totalSteps: T } = ctx;
      const lr = (t: number): number => scale * rampFactor(t, W) * dense.lr(Math.floor((t * dense.totalSteps) / T));
      return { lr, peakLr: maxOver(T, lr), params: { dense: `${dense.name}/${dense.totalSteps}` } };
    },
  },
  {
    name: 'LRW',
    description: 'replay the last T steps of the dense schedule: lr_dense(T_dense - T + t), no warm-up',
    warmup: false,
    make: (ctx, _W, _peak, scale) => {
      const { dense, totalSteps: T } = ctx;
      // T > T_dense: hold the dense schedule's first LR until the replay starts.
      const lr = (t: number): number => scale * dense.lr(Math.max(dense.totalSteps - T + t, 0));
      return { lr, peakLr: maxOver(T, lr), params: { dense: `${dense.name}/${dense.totalSteps}` } };
    },
  },
  {
    name: 'FT',
    description: "constant at the dense schedule's last LR (fine-tuning), no warm-up",
    warmup: false,
    make: (ctx, _W, _peak, scale) => {
      const last = scale * ctx.dense.lr(ctx.dense.totalSteps - 1);
      return { lr: () => last, peakLr: last, params: { dense: `${ctx.dense.name}/${ctx.dense.totalSteps}` } };
    },
  },
  {
    name: 'ALLR',
    description: 'LLR with peak maxLr·d/√s clipped to [min(T/T_dense,1)·maxLr, maxLr], 10% warm-up',
    warmup: true,
    make: (ctx, W, peak, _scale, path) => {
      const inputs = ctx.allr;
      if (inputs === undefined) {
        throw new ConfigError(`${path}.schedule`, 'ALLR needs allr: { normDrop, prunedFraction } measured when the mask is applied');
      }
      requireInRange(`${path}.allr.normDrop`, inputs.normDrop, 0, 1, false);
      requireInRange(`${path}.allr.prunedFraction`, inputs.prunedFraction, 0, 1, false);
      if (inputs.prunedFraction === 0) throw new ConfigError(`${path}.allr.prunedFraction`, 'must be > 0: ALLR divides by √s');
      const allrPeak = allrPeakLr(peak, inputs, ctx.totalSteps, ctx.dense.totalSteps);
      return {
        lr: linearShape(allrPeak, ctx.totalSteps, W),
        peakLr: allrPeak,
        params: { d: inputs.normDrop, s: inputs.prunedFraction },
      };
    },
  },
];

/** The retraining schedules by name, with one-line descriptions. */
export function listRetrainSchedules(): { name: RetrainScheduleName; description: string }[] {
  return retrainEntries.map(({ name, description }) => ({ name, description }));
}

/**
 * A retraining schedule by name (case-insensitive), for one phase of T steps.
 * Throws ConfigError at `retrain.schedule` for an unknown name (listing the
 * valid ones) or ALLR without `allr`.
 *
 * @example
 * const dense = makeDenseSchedule('linear', { maxLr: 0.1, totalSteps: 1000 });
 * const allr = makeRetrainSchedule('ALLR', { totalSteps: 100, dense, allr: { normDrop: 0.2, prunedFraction: 0.4 } });
 * allr.peakLr; // 0.1·0.2/√0.4 ≈ 0.0316, inside [0.01, 0.1]
 */
export function makeRetrainSchedule(name: string, ctx: RetrainScheduleContext): LrSchedule {
  const path = ctx.configPath ?? 'retrain';
  const entry = retrainEntries.find((e) => e.name === name.toUpperCase());
  if (entry === undefined) {
    throw new ConfigError(
      `${path}.schedule`,
      `unknown retraining schedule '${name}'; valid: ${retrainEntries.map((e) => e.name).join(', ')}`,
    );
  }
  requirePositiveInteger(`${path}.totalSteps`, ctx.totalSteps);
  if (ctx.dense === undefined || typeof ctx.dense.lr !== 'function') {
    throw new ConfigError(`${path}.schedule`, `${entry.name} needs the dense schedule the parent was trained with (ctx.dense)`);
  }
  const peak = ctx.maxLr ?? ctx.dense.maxLr;
  requirePositive(`${path}.maxLr`, peak);
  const warmupSteps = entry.warmup ? warmupStepsFor(RETRAIN_WARMUP_FRACTION, ctx.totalSteps) : 0;
  const parts = entry.make(ctx, warmupSteps, peak, peak / ctx.dense.maxLr, path);
  return {
    name: entry.name,
    totalSteps: ctx.totalSteps,
    peakLr: parts.peakLr,
    warmupSteps,
    lr: withStepCheck(entry.name, path, ctx.totalSteps, parts.lr),
    params: parts.params,
  };
}

// ---------------------------------------------------------------------------
// Reporting

function formatNumber(x: number): string {
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(3)));
}

/**
 * A short label for reports: `LLR(peak=0.1, T=1000, warmup=100)`,
 * `ALLR(peak=0.0316, T=100, warmup=10, d=0.2, s=0.4)`.
 */
export function describeSchedule(schedule: LrSchedule): string {
  const fields = [`peak=${formatNumber(schedule.peakLr)}`, `T=${schedule.totalSteps}`];
  if (schedule.warmupSteps > 0) fields.push(`warmup=${schedule.warmupSteps}`);
  for (const [key, value] of Object.entries(schedule.params))
    fields.push(`${key}=${typeof value === 'number' ? formatNumber(value) : value}`);
  return `${schedule.name}(${fields.join(', ')})`;
}

/**
 * `points` evenly spaced steps from 0 to T-1 (both included, rounded,
 * duplicates dropped) with their learning rates, for plots.
 *
 * @example
 * sampleSchedule(schedule.lr, 100, 5); // t = 0, 25, 50, 74, 99
 */
export function sampleSchedule(fn: ((t: number) => number) | LrSchedule, totalSteps: number, points: number): { t: number; lr: number }[] {
  if (!Number.isInteger(totalSteps) || totalSteps < 1) {
    throw new ConfigError('sampleSchedule(totalSteps)', `must be a positive integer, got ${totalSteps}`);
  }
  if (!Number.isInteger(points) || points < 1) {
    throw new ConfigError('sampleSchedule(points)', `must be a positive integer number of samples, got ${points}`);
  }
  const lr = typeof fn === 'function' ? fn : fn.lr;
  const samples: { t: number; lr: number }[] = [];
  for (let i = 0; i < points; i++) {
    const t = points === 1 ? 0 : Math.round((i * (totalSteps - 1)) / (points - 1));
    if (samples.length > 0 && samples[samples.length - 1].t === t) continue;
    samples.push({ t, lr: lr(t) });
  }
  return samples;
}
