/**
 * Candidate specs: what makes the m retrains of a phase differ. Each spec
 * holds the full set of retraining hyperparameters; values listed under
 * `candidates.vary` differ per candidate (one value each, or all
 * combinations with `grid`), everything else is shared.
 */
import type { SmsConfig } from './config.js';

/** The retraining hyperparameters of one candidate of a phase (config `retrain`, with `candidates.vary` applied). */
export interface CandidateSpec {
  /** 0-based index within the phase. */
  index: number;
  /** Seed of batch order, augmentation and dropout. */
  seed: number;
  /** L2 penalty coefficient of SGD (Nesterov momentum when > 0). */
  weightDecay: number;
  /** Retraining epochs in this phase. */
  epochs: number;
  /** Peak learning rate of the retraining schedule. */
  maxLr: number;
  /** Label smoothing ε of the cross-entropy loss, in [0, 1). */
  labelSmoothing: number;
}

type Varied = Exclude<keyof CandidateSpec, 'index'>;

/** Default seed of candidate i: distinct from the dense seed and across candidates. */
export function defaultCandidateSeed(config: SmsConfig, index: number): number {
  return config.seed * 1000 + index + 1;
}

/**
 * The m candidate specs of a phase: each starts from the shared `retrain`
 * settings (seed `seed·1000 + i + 1`); `candidates.vary` gives candidate i
 * the i-th value of each listed key, or, with `grid`, one combination of the
 * lists each (the first key varying slowest).
 *
 * @example
 * candidateSpecs(parseSmsConfig({ ..., candidates: { count: 2, vary: { weightDecay: [1e-4, 5e-4] } } }))
 *   .map((s) => s.weightDecay); // [0.0001, 0.0005]
 */
export function candidateSpecs(config: SmsConfig): CandidateSpec[] {
  const m = config.candidates.count;
  const vary = config.candidates.vary;
  const base = (i: number): CandidateSpec => ({
    index: i,
    seed: defaultCandidateSeed(config, i),
    weightDecay: config.retrain.weightDecay,
    epochs: config.retrain.epochs,
    maxLr: config.retrain.maxLr ?? config.dense.maxLr,
    labelSmoothing: config.retrain.labelSmoothing,
  });
  const keys = (Object.keys(vary) as Varied[]).filter((k) => vary[k] !== undefined);
  if (!config.candidates.grid) {
    return Array.from({ length: m }, (_, i) => {
      const spec = base(i);
      for (const k of keys) spec[k] = (vary[k] as number[])[i];
      return spec;
    });
  }
  // Grid: the first listed key varies slowest.
  const specs: CandidateSpec[] = [];
  const total = keys.reduce((n, k) => n * (vary[k] as number[]).length, 1);
  for (let i = 0; i < total; i++) {
    const spec = base(i);
    let rest = i;
    for (let j = keys.length - 1; j >= 0; j--) {
      const values = vary[keys[j]] as number[];
      spec[keys[j]] = values[rest % values.length];
      rest = Math.floor(rest / values.length);
    }
    specs.push(spec);
  }
  return specs;
}

/** A short label: 'c0 (seed 1, wd 0.0005)'. */
export function candidateLabel(spec: CandidateSpec, config: SmsConfig): string {
  const keys = Object.keys(config.candidates.vary) as Varied[];
  const parts = (keys.length ? keys : ['seed' as const]).map((k) => `${k} ${spec[k]}`);
  return `c${spec.index} (${parts.join(', ')})`;
}
