/**
 * The comparison page's plots (Vega-Lite specs, data inlined, drawn to SVG
 * by render.ts like the run report's), and the flat rows behind them:
 *
 * - accuracy per phase, one line per model kind through the means over the
 *   replicates, with the 95% interval of each mean as an error bar (kinds
 *   side by side within a phase, so the bars do not hide each other);
 * - the paired differences soup − baseline per phase, each with its 95%
 *   interval, against a zero line, colored by verdict.
 *
 * All values are percent (accuracies) or percentage points (differences).
 */
import type { TopLevelSpec } from 'vega-lite';
import { baseConfig, colorScale, phasePositionAxis } from './charts.js';
import type { Comparison, KindSummary, PairedMetric, PairedRow, SummaryMetric } from './compare.js';
import type { Verdict } from '../metrics/stats.js';

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export interface CiPoint {
  model: string;
  phase: number;
  /** The phase plus a small offset per kind. */
  position: number;
  mean: number;
  /** The 95% interval of the mean; null when there is none (one replicate). */
  low: number | null;
  high: number | null;
  n: number;
}

/** Mean and interval of `metric` per sparse model kind and phase, in percent, kinds spread sideways within a phase. */
export function ciPoints(summaries: readonly KindSummary[], metric: SummaryMetric, kinds: readonly string[]): CiPoint[] {
  const rows = summaries.filter((s) => s.phase > 0 && Number.isFinite(s[metric].mean));
  const present = kinds.filter((k) => rows.some((r) => r.model === k));
  const step = present.length > 1 ? Math.min(0.08, 0.6 / (present.length - 1)) : 0;
  return rows.map((r) => {
    const m = r[metric];
    const i = present.indexOf(r.model);
    return {
      model: r.model,
      phase: r.phase,
      position: r.phase + (i - (present.length - 1) / 2) * step,
      mean: 100 * m.mean,
      low: orNull(100 * m.low),
      high: orNull(100 * m.high),
      n: m.n,
    };
  });
}

/** `phase p (s% sparse)` per phase of the comparison. */
export function phaseLabels(c: Comparison): Record<number, string> {
  const labels: Record<number, string> = {};
  for (const s of c.summaries)
    if (s.phase > 0 && s.model === 'SMS uniform') labels[s.phase] = `phase ${s.phase} (${(100 * s.sparsity).toFixed(1)}%)`;
  return labels;
}

/**
 * A metric per phase with error bars: one line per model kind through its
 * means, a vertical bar over each mean's 95% interval, and the dense
 * model's mean as a dashed reference line.
 */
export function accuracyCiSpec(opts: {
  title: string;
  yTitle: string;
  points: CiPoint[];
  kinds: string[];
  phaseLabels: Record<number, string>;
  dense: number;
}): TopLevelSpec {
  const phases = Object.keys(opts.phaseLabels).map(Number);
  const present = opts.kinds.filter((k) => opts.points.some((p) => p.model === k));
  const reference = Number.isFinite(opts.dense) ? [{ label: `dense ${opts.dense.toFixed(2)}% (mean)`, value: opts.dense }] : [];
  const y = { type: 'quantitative' as const, title: opts.yTitle, scale: { zero: false, nice: true, padding: 10 } };
  return {
    $schema: SCHEMA,
    title: opts.title,
    width: Math.max(420, 190 * phases.length),
    height: 320,
    config: baseConfig,
    layer: [
      {
        data: { values: reference },
        layer: [
          { mark: { type: 'rule', strokeDash: [6, 4], color: '#333' }, encoding: { y: { field: 'value', ...y } } },
          {
            mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, fontSize: 11, color: '#333' },
            encoding: { x: { value: 0 }, y: { field: 'value', ...y }, text: { field: 'label' } },
          },
        ],
      },
      {
        data: { values: opts.points },
        encoding: {
          x: phasePositionAxis(phases, `${JSON.stringify(opts.phaseLabels)}[datum.value] || ''`),
          color: { field: 'model', type: 'nominal', title: 'model', scale: colorScale(opts.kinds), legend: { values: present } },
        },
        layer: [
          {
            transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }],
            mark: { type: 'rule', strokeWidth: 1.5 },
            encoding: { y: { field: 'low', ...y }, y2: { field: 'high' } },
          },
          {
            mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 1.5 },
            encoding: {
              y: { field: 'mean', ...y },
              strokeDash: {
                condition: { test: "indexof(datum.model, 'ensemble') >= 0 || indexof(datum.model, 'longer') >= 0", value: [5, 3] },
                value: [1, 0],
              },
              order: { field: 'phase', type: 'quantitative' },
            },
          },
        ],
      },
    ],
    resolve: { scale: { y: 'shared' } },
  };
}

export interface PairedPoint {
  phase: number;
  phaseLabel: string;
  /** e.g. 'SMS uniform − IMP mean'. */
  comparison: string;
  /** Mean difference, percentage points. */
  mean: number;
  low: number | null;
  high: number | null;
  verdict: Verdict;
}

/** The paired differences of one metric, in percentage points. */
export function pairedPoints(rows: readonly PairedRow[], metric: PairedMetric, labels: Record<number, string>): PairedPoint[] {
  return rows
    .filter((r) => r.metric === metric && Number.isFinite(r.mean))
    .map((r) => ({
      phase: r.phase,
      phaseLabel: labels[r.phase] ?? `phase ${r.phase}`,
      comparison: `${r.model} − ${r.baseline}`,
      mean: 100 * r.mean,
      low: orNull(100 * r.low),
      high: orNull(100 * r.high),
      verdict: r.verdict,
    }));
}

const VERDICTS: Verdict[] = ['holds', 'does not hold', 'inconclusive'];
const verdictColor = {
  field: 'verdict',
  type: 'nominal' as const,
  title: 'verdict',
  scale: { domain: VERDICTS, range: ['#1a7f37', '#cf222e', '#8c959f'] },
};

/**
 * Paired differences soup − baseline, one panel per phase: a dot at the
 * mean difference, a bar over its 95% interval, and the zero line. A bar
 * entirely right of zero: the soup is better (holds); left: worse; across
 * zero: inconclusive.
 */
export function pairedDifferencesSpec(opts: { title: string; xTitle: string; points: PairedPoint[] }): TopLevelSpec {
  const phaseOrder = [...new Map(opts.points.map((p) => [p.phase, p.phaseLabel])).entries()].sort((a, b) => a[0] - b[0]).map(([, l]) => l);
  const comparisons = [...new Set(opts.points.map((p) => p.comparison))];
  const yAxis = { field: 'comparison', type: 'nominal' as const, title: null, sort: comparisons, axis: { labelLimit: 320 } };
  const x = { type: 'quantitative' as const, title: opts.xTitle, scale: { zero: true, nice: true } };
  return {
    $schema: SCHEMA,
    title: opts.title,
    config: baseConfig,
    data: { values: opts.points },
    facet: {
      row: {
        field: 'phaseLabel',
        type: 'nominal',
        title: null,
        sort: phaseOrder,
        header: { labelAngle: 0, labelOrient: 'top', labelAnchor: 'start', labelFontSize: 12, labelFontWeight: 'bold' },
      },
    },
    spec: {
      width: 480,
      height: { step: 24 },
      layer: [
        { mark: { type: 'rule', color: '#333', strokeDash: [4, 3] }, encoding: { x: { datum: 0, ...x } } },
        {
          transform: [{ filter: 'isValid(datum.low) && isValid(datum.high)' }],
          mark: { type: 'rule', strokeWidth: 2 },
          encoding: { x: { field: 'low', ...x }, x2: { field: 'high' }, y: yAxis, color: verdictColor },
        },
        {
          mark: { type: 'point', filled: true, size: 60, opacity: 1 },
          encoding: { x: { field: 'mean', ...x }, y: yAxis, color: verdictColor },
        },
      ],
    },
    resolve: { scale: { x: 'shared' } },
  };
}
