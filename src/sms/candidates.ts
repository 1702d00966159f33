/**
 * Candidate specs: what makes the m retrains of a phase differ. Each spec
 * holds the full set of retraining hyperparameters; values listed under
 * `candidates.vary` differ per candidate (one value each, or all
 * combinations with `grid`), everything else is shared.
 */
import type { SmsConfig } from './config.js';

export interface CandidateSpec {
  /** 0-based index within the phase. */
  index: number;
  /** Seed of batch order, augmentation and dropout. */
  seed: number;
  weightDecay: number;
  epochs: number;
  maxLr: number;
  labelSmoothing: number;
}

type Varied = Exclude<keyof CandidateSpec, 'index'>;

/** Default seed of candidate i: distinct from the dense seed and across candidates. */
export function defaultCandidateSeed(config: SmsConfig, index: number): number {
  return config.seed * 1000 + index + 1;
}

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
