/**
 * The numbers behind each plot, as flat rows (one per mark), taken from the
 * validated results. Pure functions: the chart specs and the tables read
 * these, never the results' nesting.
 */
import { summaryRows, type SummaryRow } from '../run/summary.js';
import type { PhaseResult } from '../sms/pipeline.js';
import type { SmsConfig } from '../sms/config.js';
import type { ValidatedResults } from './load.js';

/** Model kinds in legend order; the colors in charts.ts follow this order. */
export function modelKinds(results: ValidatedResults): string[] {
  const m = results.phases[0].candidates.length;
  return [
    'SMS uniform',
    'SMS greedy',
    'candidate mean',
    'best candidate (val)',
    'IMP mean',
    'IMP best (val)',
    `IMP ${m}x longer`,
    'ensemble (not sparse)',
  ];
}

export interface AccuracyPoint {
  model: string;
  phase: number;
  /** Percent. */
  sparsity: number;
  /** Percent; rows whose value is NaN are left out. */
  value: number;
}

/** Accuracy against sparsity for every sparse model kind (the dense model is the reference line, not a point). */
export function accuracyPoints(rows: SummaryRow[], metric: 'testAccuracy' | 'oodAccuracy'): AccuracyPoint[] {
  return rows
    .filter((r) => r.phase > 0 && Number.isFinite(r[metric]))
    .map((r) => ({ model: r.model, phase: r.phase, sparsity: 100 * r.sparsity, value: 100 * r[metric] }));
}

export { summaryRows };

/** The soup the pipeline carried forward (config.merge.method) and its label. */
export function carriedSoup(config: SmsConfig, phase: PhaseResult): { label: string; soup: PhaseResult['soups']['uniform'] } {
  return config.merge.method === 'greedy'
    ? { label: 'SMS greedy', soup: phase.soups.greedy }
    : { label: 'SMS uniform', soup: phase.soups.uniform };
}

export interface LayerSparsityRow {
  layer: string;
  /** Percent. */
  sparsity: number;
  total: number;
}

export function layerSparsityRows(phase: PhaseResult, config: SmsConfig): LayerSparsityRow[] {
  return carriedSoup(config, phase).soup.metrics.perLayerSparsity.map((l) => ({
    layer: l.name,
    sparsity: 100 * l.sparsity,
    total: l.total,
  }));
}

export interface SpreadPoint {
  kind: 'candidate' | 'candidate mean' | 'SMS uniform' | 'SMS greedy';
  label: string;
  phase: number;
  /** Phase number plus a small horizontal offset so candidates with equal accuracy stay apart. */
  position: number;
  /** Percent. */
  testAccuracy: number;
}

/** Each phase's candidates (spread sideways), their mean, and both soups, by test accuracy. */
export function spreadPoints(phases: PhaseResult[]): SpreadPoint[] {
  const points: SpreadPoint[] = [];
  for (const p of phases) {
    const m = p.candidates.length;
    const step = m > 1 ? Math.min(0.08, 0.4 / (m - 1)) : 0;
    p.candidates.forEach((c, i) => {
      points.push({
        kind: 'candidate',
        label: c.label,
        phase: p.phase,
        position: p.phase - 0.12 + (i - (m - 1) / 2) * step,
        testAccuracy: 100 * c.metrics.testAccuracy,
      });
    });
    const summaries: [kind: 'candidate mean' | 'SMS uniform' | 'SMS greedy', offset: number, testAccuracy: number][] = [
      ['candidate mean', -0.12, p.candidateMean.testAccuracy],
      ['SMS uniform', 0.16, p.soups.uniform.metrics.testAccuracy],
      ['SMS greedy', 0.26, p.soups.greedy.metrics.testAccuracy],
    ];
    for (const [kind, offset, testAccuracy] of summaries) {
      points.push({ kind, label: kind, phase: p.phase, position: p.phase + offset, testAccuracy: 100 * testAccuracy });
    }
  }
  return points.filter((x) => Number.isFinite(x.testAccuracy));
}

export interface OodPoint {
  corruption: string;
  severity: number;
  model: string;
  /** Percent. */
  accuracy: number;
}

/** OOD accuracy per corruption and severity in one phase: the SMS uniform soup, the candidate mean, and the IMP mean when IMP ran. */
export function oodPoints(phase: PhaseResult): OodPoint[] {
  const models: [string, PhaseResult['candidateMean']][] = [
    ['SMS uniform', phase.soups.uniform.metrics],
    ['candidate mean', phase.candidateMean],
  ];
  if (phase.imp) models.push(['IMP mean', phase.imp.mean]);
  return models.flatMap(([model, metrics]) =>
    metrics.ood
      .filter((o) => Number.isFinite(o.accuracy))
      .map((o) => ({ corruption: o.corruption, severity: o.severity, model, accuracy: 100 * o.accuracy })),
  );
}
