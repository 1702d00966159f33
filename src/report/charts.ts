/**
 * Vega-Lite specs for the report's plots. Each function takes the flat rows
 * of series.ts and returns a complete, self-contained spec (data inlined), so
 * a spec can also be pasted into the Vega editor to restyle a plot.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { AccuracyPoint, LayerSparsityRow, OodPoint, SpreadPoint } from './series.js';

/** One color per model kind, shared by all plots: SMS in strong colors, baselines muted. */
const PALETTE = ['#d62728', '#ff7f0e', '#4c72b0', '#17becf', '#2ca02c', '#8c6d31', '#9467bd', '#7f7f7f'];

export const FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';

/** Fonts, axes, legends and titles shared by every plot (the comparison page's too). */
export const baseConfig = {
  font: FONT,
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' as const, labelLimit: 220 },
  title: { fontSize: 14, anchor: 'start' as const, fontWeight: 'bold' as const, offset: 10 },
};

/** One PALETTE color per model kind, in legend order. */
export function colorScale(kinds: string[]): { domain: string[]; range: string[] } {
  return { domain: kinds, range: kinds.map((_, i) => PALETTE[i % PALETTE.length]) };
}

/**
 * Accuracy (test or mean OOD) against sparsity, one line per model kind over
 * the phases, and the dense model as a dashed reference line.
 */
export function accuracyVsSparsitySpec(opts: {
  title: string;
  yTitle: string;
  points: AccuracyPoint[];
  dense: number;
  kinds: string[];
}): TopLevelSpec {
  const present = opts.kinds.filter((k) => opts.points.some((p) => p.model === k));
  const reference = Number.isFinite(opts.dense) ? [{ label: `dense ${opts.dense.toFixed(2)}%`, value: opts.dense }] : [];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: 560,
    height: 320,
    config: baseConfig,
    layer: [
      {
        data: { values: reference },
        layer: [
          { mark: { type: 'rule', strokeDash: [6, 4], color: '#333' }, encoding: { y: { field: 'value', type: 'quantitative' } } },
          {
            mark: { type: 'text', align: 'left', baseline: 'bottom', dx: 4, dy: -3, fontSize: 11, color: '#333' },
            encoding: { x: { value: 0 }, y: { field: 'value', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
      {
        data: { values: opts.points },
        mark: { type: 'line', point: { filled: true, size: 55 }, strokeWidth: 2 },
        encoding: {
          x: { field: 'sparsity', type: 'quantitative', title: 'sparsity (%)', scale: { zero: false, nice: true, padding: 12 } },
          y: { field: 'value', type: 'quantitative', title: opts.yTitle, scale: { zero: false, nice: true, padding: 10 } },
          color: { field: 'model', type: 'nominal', title: 'model', scale: colorScale(opts.kinds), legend: { values: present } },
          strokeDash: {
            condition: { test: "indexof(datum.model, 'ensemble') >= 0 || indexof(datum.model, 'longer') >= 0", value: [5, 3] },
            value: [1, 0],
          },
          order: { field: 'phase', type: 'quantitative' },
        },
      },
    ],
    resolve: { scale: { x: 'shared', y: 'shared' } },
  };
}

/** Per-layer sparsity of one soup (horizontal bars, model order) with its global sparsity marked. */
export function layerSparsitySpec(opts: { title: string; rows: LayerSparsityRow[]; globalSparsity: number }): TopLevelSpec {
  const rows = opts.rows.map((r) => ({
    ...r,
    text: `${r.sparsity.toFixed(1)}%`,
    axisLabel: `${r.layer} (${r.total.toLocaleString('en-US')})`,
  }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    width: 440,
    height: { step: 22 },
    config: baseConfig,
    layer: [
      {
        data: { values: rows },
        layer: [
          {
            mark: { type: 'bar', color: '#4c72b0', cornerRadiusEnd: 2 },
            encoding: { x: { field: 'sparsity', type: 'quantitative', title: 'sparsity (%)', scale: { domain: [0, 100] } } },
          },
          {
            mark: { type: 'text', align: 'left', dx: 3, fontSize: 10, color: '#333' },
            encoding: { x: { field: 'sparsity', type: 'quantitative' }, text: { field: 'text' } },
          },
        ],
        encoding: { y: { field: 'axisLabel', type: 'nominal', sort: null, title: 'layer (weights)', axis: { labelLimit: 320 } } },
      },
      {
        data: { values: [{ x: opts.globalSparsity, label: `global ${opts.globalSparsity.toFixed(1)}%` }] },
        layer: [
          {
            mark: { type: 'rule', color: '#d62728', strokeDash: [5, 3], strokeWidth: 1.5 },
            encoding: { x: { field: 'x', type: 'quantitative' } },
          },
          {
            mark: { type: 'text', color: '#d62728', align: 'right', baseline: 'bottom', dx: -3, y: -2, fontSize: 11 },
            encoding: { x: { field: 'x', type: 'quantitative' }, text: { field: 'label' } },
          },
        ],
      },
    ],
  };
}

const SPREAD_KINDS = ['candidate', 'candidate mean', 'SMS uniform', 'SMS greedy'];
const spreadColors = { domain: SPREAD_KINDS, range: ['#9aa5b1', '#4c72b0', '#d62728', '#ff7f0e'] };

/** Every candidate's test accuracy per phase, their mean, and the two soups beside them. */
export function candidateSpreadSpec(opts: { points: SpreadPoint[]; phaseLabels: Record<number, string> }): TopLevelSpec {
  const phases = Object.keys(opts.phaseLabels).map(Number);
  const labelExpr = `${JSON.stringify(opts.phaseLabels)}[datum.value] || ''`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Candidates and soups per phase (test accuracy)',
    width: Math.max(320, 170 * phases.length),
    height: 300,
    config: baseConfig,
    data: { values: opts.points },
    mark: { type: 'point', filled: true, opacity: 0.9 },
    encoding: {
      x: phasePositionAxis(phases, labelExpr),
      y: { field: 'testAccuracy', type: 'quantitative', title: 'test accuracy (%)', scale: { zero: false, nice: true, padding: 10 } },
      // Fill and stroke from one scale: the mean's 'stroke' shape is a line, invisible without a stroke.
      fill: { field: 'kind', type: 'nominal', title: null, scale: spreadColors },
      stroke: { field: 'kind', type: 'nominal', title: null, scale: spreadColors },
      shape: {
        field: 'kind',
        type: 'nominal',
        title: null,
        scale: { domain: SPREAD_KINDS, range: ['circle', 'stroke', 'diamond', 'triangle-up'] },
      },
      size: { condition: { test: "datum.kind === 'candidate mean'", value: 700 }, value: 110 },
      strokeWidth: { condition: { test: "datum.kind === 'candidate mean'", value: 3 }, value: 1 },
    },
  };
}

/** OOD accuracy against severity, one panel per corruption, one line per model. */
export function oodBreakdownSpec(opts: { title: string; points: OodPoint[]; kinds: string[]; corruptions: string[] }): TopLevelSpec {
  const severities = new Set(opts.points.map((b) => b.severity)).size;
  const present = opts.kinds.filter((k) => opts.points.some((b) => b.model === k));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: opts.title,
    config: baseConfig,
    data: { values: opts.points },
    facet: {
      field: 'corruption',
      type: 'nominal',
      title: null,
      sort: opts.corruptions,
      header: { labelFontSize: 12, labelFontWeight: 'bold' },
    },
    columns: 4,
    spec: {
      width: Math.max(150, severities * 40),
      height: 180,
      mark: { type: 'line', point: { filled: true, size: 45 }, strokeWidth: 2 },
      encoding: {
        x: { field: 'severity', type: 'ordinal', title: 'severity', axis: { labelAngle: 0 } },
        y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { zero: false, nice: true, padding: 8 } },
        color: { field: 'model', type: 'nominal', title: 'model', scale: colorScale(opts.kinds), legend: { values: present } },
      },
    },
    // Corruptions differ in difficulty by tens of points; a shared axis would flatten the easy ones.
    resolve: { scale: { y: 'independent' } },
  };
}

/** The x encoding of per-phase point plots: `position` (phase ± a jitter) on an axis labelled by phase and sparsity. */
export function phasePositionAxis(phases: number[], labelExpr: string) {
  return {
    field: 'position',
    type: 'quantitative' as const,
    title: 'phase (sparsity)',
    scale: { domain: [Math.min(...phases) - 0.5, Math.max(...phases) + 0.5], nice: false },
    axis: { values: phases, labelExpr, grid: false, tickSize: 0, labelPadding: 6 },
  };
}
