/**
 * Comparing replicates: the same experiment run with different seeds. One
 * seed's difference of a few tenths of a point between the soup and a
 * baseline proves nothing; over n seeds, each model kind of the summary
 * table (src/run/summary.ts) gets its mean ± std and the 95% confidence
 * interval of its test accuracy, OOD accuracy and ECE, and the soups are
 * compared pairwise (per seed, then over seeds) with IMP and their best
 * candidate, with a verdict: holds, does not hold, or inconclusive.
 *
 * Runs are replicates when their normalized configs are equal except
 * `seed` (and `seeds`); anything else is refused, naming the first key that
 * differs and the two run directories.
 *
 * @example
 * const comparison = compareRuns(await loadReplicates(['runs/a-…', 'runs/a-…', 'runs/a-…']));
 * comparison.paired.find((p) => p.model === 'SMS uniform' && p.baseline === 'IMP mean')?.verdict; // 'inconclusive'
 */
import { normalizedConfigJson } from '../sms/config.js';
import { meanConfidenceInterval, pairedComparison, type MeanInterval, type PairedComparison } from '../metrics/stats.js';
import { summaryRows, type SummaryRow } from '../run/summary.js';
import { NotReplicatesError } from '../util/errors.js';
import { loadRun, type LoadedRun } from './load.js';
import { modelKinds } from './series.js';

/** The soups compared, and what they are compared with. */
export const SOUP_KINDS = ['SMS uniform', 'SMS greedy'] as const;
export const BASELINE_KINDS = ['IMP mean', 'IMP best (val)', 'best candidate (val)'] as const;

export const SUMMARY_METRICS = ['testAccuracy', 'oodAccuracy', 'ece'] as const;
export type SummaryMetric = (typeof SUMMARY_METRICS)[number];
export const PAIRED_METRICS = ['testAccuracy', 'oodAccuracy'] as const;
export type PairedMetric = (typeof PAIRED_METRICS)[number];

export interface ReplicateRun {
  /** Run directory, absolute. */
  dir: string;
  seed: number;
  configHash: string;
}

/** Mean, std and 95% interval of one metric over the runs; the interval is cut to [0, 1] (see summarize). */
export interface MetricSummary extends MeanInterval {
  /** One value per run, in run order (NaN: that run has none). */
  values: number[];
}

/** One model kind in one phase over the replicates (fractions, like results.json). */
export interface KindSummary {
  phase: number;
  model: string;
  /** Mean sparsity of the phase's soups over the replicates. */
  sparsity: number;
  /** Retraining epochs the method spent up to this phase (the same in every replicate; NaN: not recorded). */
  retrainEpochs: number;
  testAccuracy: MetricSummary;
  oodAccuracy: MetricSummary;
  ece: MetricSummary;
}

/** A soup against a baseline on one metric in one phase: differences soup − baseline per replicate, over the replicates. */
export interface PairedRow extends PairedComparison {
  phase: number;
  metric: PairedMetric;
  model: (typeof SOUP_KINDS)[number];
  baseline: (typeof BASELINE_KINDS)[number];
  modelRetrainEpochs: number;
  baselineRetrainEpochs: number;
}

export interface Comparison {
  name: string;
  runs: ReplicateRun[];
  /** The shared config (normalized, without `seed` and `seeds`). */
  sharedConfig: Record<string, unknown>;
  /** What the reader should know about these replicates (what the seed does not vary, too few runs). */
  notes: string[];
  /** The sparse model kinds in legend order (the run report's, so colors match): src/report/series.ts modelKinds. */
  kinds: string[];
  summaries: KindSummary[];
  paired: PairedRow[];
}

/** Loads and validates the finished runs (config.json and results.json of each). */
export async function loadReplicates(dirs: readonly string[]): Promise<LoadedRun[]> {
  return Promise.all(dirs.map((d) => loadRun(d)));
}

/** The normalized config without what replicates may differ in. */
function sharedConfigOf(run: LoadedRun): Record<string, unknown> {
  const { seed: _seed, seeds: _seeds, ...rest } = JSON.parse(normalizedConfigJson(run.config)) as Record<string, unknown>;
  return rest;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The first dotted key (in sorted key order, depth first) whose values differ; arrays compare whole. */
export function firstDifference(a: unknown, b: unknown, prefix = ''): { key: string; a: unknown; b: unknown } | null {
  if (isObject(a) && isObject(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const d = firstDifference(a[k], b[k], prefix ? `${prefix}.${k}` : k);
      if (d) return d;
    }
    return null;
  }
  return JSON.stringify(a) === JSON.stringify(b) ? null : { key: prefix || '(root)', a, b };
}

const shown = (v: unknown): string => (v === undefined ? 'absent' : JSON.stringify(v));

/**
 * Throws NotReplicatesError unless the runs are replicates of one
 * experiment: equal normalized configs except `seed`/`seeds`, distinct
 * directories and distinct seeds.
 */
export function checkReplicates(runs: readonly LoadedRun[]): void {
  if (runs.length === 0) throw new NotReplicatesError('(none)', ['', ''], 'no run directories given');
  const [first, ...rest] = runs;
  const shared = sharedConfigOf(first);
  const seen = new Map<string, LoadedRun>([[first.dir, first]]);
  const seeds = new Map<number, LoadedRun>([[first.config.seed, first]]);
  for (const run of rest) {
    const d = firstDifference(shared, sharedConfigOf(run));
    if (d) {
      throw new NotReplicatesError(
        d.key,
        [first.dir, run.dir],
        `${d.key} is ${shown(d.a)} in ${first.dir} but ${shown(d.b)} in ${run.dir}; replicates differ only in seed (run one config with seeds: [...])`,
      );
    }
    const same = seen.get(run.dir);
    if (same) throw new NotReplicatesError('(dir)', [same.dir, run.dir], `${run.dir} is listed twice`);
    seen.set(run.dir, run);
    const twin = seeds.get(run.config.seed);
    if (twin) {
      throw new NotReplicatesError(
        'seed',
        [twin.dir, run.dir],
        `${twin.dir} and ${run.dir} both have seed ${run.config.seed}: the same run twice (copies), not two replicates`,
      );
    }
    seeds.set(run.config.seed, run);
  }
}

const rowKey = (r: Pick<SummaryRow, 'phase' | 'model'>): string => `${r.phase}\u0000${r.model}`;

/**
 * Mean and interval of a metric that lies in [0, 1] (accuracy, ECE). The t
 * interval can reach past the ends (97% ± 4 points with 3 seeds); it is cut
 * to [0, 1], which keeps its coverage: the true mean lies in [0, 1] anyway.
 */
function summarize(values: number[]): MetricSummary {
  const ci = meanConfidenceInterval(values);
  return { ...ci, low: Math.max(0, ci.low), high: Math.min(1, ci.high), values };
}

const meanOfFinite = (xs: number[]): number => {
  const v = xs.filter(Number.isFinite);
  return v.length === 0 ? NaN : v.reduce((s, x) => s + x, 0) / v.length;
};

/** Mean ± CI of every (phase, model kind) of the summary table, and the paired soup-vs-baseline comparisons. */
export function compareRuns(runs: readonly LoadedRun[]): Comparison {
  checkReplicates(runs);
  const perRun = runs.map((r) => new Map(summaryRows(r.results).map((row) => [rowKey(row), row])));
  // Kinds in the order of the runs' summary tables (dense, then phase by phase).
  const keys: { phase: number; model: string }[] = [];
  const known = new Set<string>();
  for (const r of runs) {
    for (const row of summaryRows(r.results)) {
      if (!known.has(rowKey(row))) keys.push({ phase: row.phase, model: row.model });
      known.add(rowKey(row));
    }
  }
  const column = (key: string, pick: (row: SummaryRow) => number): number[] =>
    perRun.map((rows) => {
      const row = rows.get(key);
      return row ? pick(row) : NaN;
    });

  const summaries: KindSummary[] = keys.map(({ phase, model }) => {
    const key = rowKey({ phase, model });
    return {
      phase,
      model,
      sparsity: meanOfFinite(column(key, (r) => r.sparsity)),
      retrainEpochs: meanOfFinite(column(key, (r) => r.retrainEpochs)),
      testAccuracy: summarize(column(key, (r) => r.testAccuracy)),
      oodAccuracy: summarize(column(key, (r) => r.oodAccuracy)),
      ece: summarize(column(key, (r) => r.ece)),
    };
  });

  const paired: PairedRow[] = [];
  const phases = [...new Set(keys.map((k) => k.phase))].filter((p) => p > 0);
  const find = (phase: number, model: string): KindSummary | undefined => summaries.find((s) => s.phase === phase && s.model === model);
  for (const phase of phases) {
    for (const metric of PAIRED_METRICS) {
      for (const model of SOUP_KINDS) {
        const soup = find(phase, model);
        for (const baseline of BASELINE_KINDS) {
          const base = find(phase, baseline);
          if (!soup || !base) continue; // a baseline the runs did not compute
          const c = pairedComparison(soup[metric].values, base[metric].values);
          if (c.n === 0) continue; // a metric no run computed (no OOD sets)
          paired.push({
            phase,
            metric,
            model,
            baseline,
            modelRetrainEpochs: soup.retrainEpochs,
            baselineRetrainEpochs: base.retrainEpochs,
            ...c,
          });
        }
      }
    }
  }

  return {
    name: runs[0].results.name,
    runs: runs.map((r) => ({ dir: r.dir, seed: r.config.seed, configHash: r.results.configHash })),
    sharedConfig: sharedConfigOf(runs[0]),
    notes: replicateNotes(runs),
    kinds: modelKinds(runs[0].results),
    summaries,
    paired,
  };
}

/**
 * The claims that matter most: the last phase's comparisons of the soup the
 * runs carry forward (`merge.method`) with each baseline, test accuracy first.
 */
export function headlineRows(c: Comparison): PairedRow[] {
  const last = Math.max(...c.paired.map((p) => p.phase));
  const merge = (c.sharedConfig.merge as { method?: string } | undefined)?.method;
  const soup = merge === 'greedy' ? 'SMS greedy' : 'SMS uniform';
  return c.paired.filter((p) => p.phase === last && p.model === soup);
}

function replicateNotes(runs: readonly LoadedRun[]): string[] {
  const config = runs[0].config;
  const notes: string[] = [];
  if (runs.length < 2)
    notes.push(
      'Only one run: no standard deviation, no interval, and every verdict is inconclusive. Run at least 2 seeds (3-5 to see differences of a few tenths of a point).',
    );
  if (config.dense.checkpoint !== null)
    notes.push(
      `Every replicate starts from the same dense checkpoint (dense.checkpoint: ${config.dense.checkpoint}): the intervals leave out the dense model's variation.`,
    );
  if (config.candidates.vary.seed !== undefined)
    notes.push(
      "The candidates' seeds are fixed by candidates.vary.seed: the replicates differ in the dense model only, not in the candidates' batch order and augmentation.",
    );
  return notes;
}
