/**
 * The comparison's outputs: a markdown table for the terminal, compare.csv
 * (one row per summary cell and per paired comparison), compare.json (the
 * whole comparison) and compare.html, written into one directory: by
 * default `<parent of the first run>/<name>-compare-<hash of the run dirs>`,
 * so the same runs always land in the same place, beside them.
 *
 * @example
 * const out = await writeComparison(['runs/a-1', 'runs/a-2', 'runs/a-3']);
 * console.log(out.markdown); // the tables; out.files.html is the page
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import { safeRunName } from '../run/rundir.js';
import type { PairedComparison } from '../metrics/stats.js';
import {
  compareRuns,
  headlineRows,
  loadReplicates,
  SUMMARY_METRICS,
  type Comparison,
  type MetricSummary,
  type PairedMetric,
} from './compare.js';
import { buildComparePage } from './compare-page.js';

export const METRIC_LABELS: Record<(typeof SUMMARY_METRICS)[number], string> = {
  testAccuracy: 'test acc',
  oodAccuracy: 'OOD acc',
  ece: 'ECE',
};

/** `<parent of the first run>/<name>-compare-<first 8 hex digits of SHA-256 of the sorted run dirs>`. */
export function defaultCompareDir(runDirs: readonly string[], name: string): string {
  const dirs = runDirs.map((d) => resolve(d));
  const hash = createHash('sha256')
    .update([...dirs].sort().join('\n'))
    .digest('hex')
    .slice(0, 8);
  return join(dirname(dirs[0]), `${safeRunName(name)}-compare-${hash}`);
}

const fixed = (x: number): string => (100 * x).toFixed(2);
/** A signed difference of fractions in points, ASCII minus (terminal, CSV readers). */
const signed = (x: number): string => (Number.isFinite(x) ? `${x >= 0 ? '+' : '-'}${Math.abs(100 * x).toFixed(2)}` : '–');

/** `91.23 ± 0.45 [90.10, 92.36]` (percent); one value: `91.23 (n = 1)`; none: `–`. */
export function meanCell(m: MetricSummary): string {
  if (m.n === 0) return '–';
  if (m.n < 2) return `${fixed(m.mean)} (n = 1)`;
  return `${fixed(m.mean)} ± ${fixed(m.std)} [${fixed(m.low)}, ${fixed(m.high)}]`;
}

/** The interval of a paired difference in signed points; `–` without one. */
export function intervalCell(c: Pick<PairedComparison, 'n' | 'low' | 'high'>): string {
  return c.n < 2 ? `– (n = ${c.n})` : `[${signed(c.low)}, ${signed(c.high)}]`;
}

/** The verdict with its short reason: `holds`, `does not hold`, `inconclusive (CI contains 0)`, `inconclusive (n < 2)`. */
export function verdictCell(c: Pick<PairedComparison, 'n' | 'verdict'>): string {
  if (c.verdict !== 'inconclusive') return c.verdict;
  return c.n < 2 ? 'inconclusive (n < 2)' : 'inconclusive (CI contains 0)';
}

const epochs = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 100) / 100) : '–');
const pairedMetricLabel = (m: PairedMetric): string => METRIC_LABELS[m];

/** The two tables (mean ± std [95% CI] per phase and model kind; paired verdicts) and the notes, as markdown. */
export function compareMarkdown(c: Comparison): string {
  const seeds = c.runs.map((r) => r.seed).join(', ');
  const lines = [
    `${c.runs.length} replicate${c.runs.length === 1 ? '' : 's'} of ${c.name} (seeds ${seeds}): mean ± std [95% CI of the mean] over the runs, in %.`,
    '',
    '| phase | sparsity % | model | retrain epochs | test acc % | OOD acc % | ECE % |',
    '| ---: | ---: | --- | ---: | --- | --- | --- |',
  ];
  for (const s of c.summaries) {
    lines.push(
      `| ${s.phase} | ${fixed(s.sparsity)} | ${s.model} | ${epochs(s.retrainEpochs)} | ${meanCell(s.testAccuracy)} | ${meanCell(s.oodAccuracy)} | ${meanCell(s.ece)} |`,
    );
  }
  lines.push(
    '',
    'Does the soup beat the baseline? Paired differences soup - baseline over the same seeds, in points; holds: the 95% CI lies above 0.',
    '',
    '| phase | metric | comparison | retrain epochs | mean difference | 95% CI | verdict |',
    '| ---: | --- | --- | ---: | ---: | --- | --- |',
  );
  for (const p of c.paired) {
    lines.push(
      `| ${p.phase} | ${pairedMetricLabel(p.metric)} | ${p.model} - ${p.baseline} | ${epochs(p.modelRetrainEpochs)} / ${epochs(p.baselineRetrainEpochs)} | ${signed(p.mean)} | ${intervalCell(p)} | ${verdictCell(p)} |`,
    );
  }
  if (c.paired.length === 0) lines.push('| – | – | no soup and baseline to compare | – | – | – | – |');
  const headline = headlineRows(c);
  if (headline.length > 0) {
    const sparsity = c.summaries.find((s) => s.phase === headline[0].phase && s.model === headline[0].model)?.sparsity ?? NaN;
    lines.push('', `Phase ${headline[0].phase} (${fixed(sparsity)}% sparse), ${headline[0].model} against:`);
    for (const p of headline) {
      lines.push(`- ${p.baseline}, ${pairedMetricLabel(p.metric)}: ${signed(p.mean)} points ${intervalCell(p)}: ${verdictCell(p)}`);
    }
  }
  for (const note of c.notes) lines.push('', `Note: ${note}`);
  return lines.join('\n');
}

const csvValues = (xs: number[]): string => JSON.stringify(xs.map((x) => (Number.isFinite(x) ? String(x) : '')).join(';'));
const num = (x: number): string => (Number.isFinite(x) ? String(x) : '');

/**
 * compare.csv, long format: `kind` is `summary` (one row per phase, model
 * and metric) or `paired` (one per soup, baseline, metric and phase; the
 * statistics are of the differences). Fractions, like results.csv;
 * `values` are the per-run values (or differences) in run order, `;`-separated.
 */
export function compareCsv(c: Comparison): string {
  const lines = [
    'kind,phase,sparsity,model,baseline,metric,n,mean,std,ci_low,ci_high,verdict,retrain_epochs,baseline_retrain_epochs,values',
  ];
  for (const s of c.summaries) {
    for (const metric of SUMMARY_METRICS) {
      const m = s[metric];
      lines.push(
        [
          'summary',
          s.phase,
          num(s.sparsity),
          JSON.stringify(s.model),
          '',
          metric,
          m.n,
          num(m.mean),
          num(m.std),
          num(m.low),
          num(m.high),
          '',
          num(s.retrainEpochs),
          '',
          csvValues(m.values),
        ].join(','),
      );
    }
  }
  for (const p of c.paired) {
    const sparsity = c.summaries.find((s) => s.phase === p.phase && s.model === p.model)?.sparsity ?? NaN;
    lines.push(
      [
        'paired',
        p.phase,
        num(sparsity),
        JSON.stringify(p.model),
        JSON.stringify(p.baseline),
        p.metric,
        p.n,
        num(p.mean),
        num(p.std),
        num(p.low),
        num(p.high),
        JSON.stringify(p.verdict),
        num(p.modelRetrainEpochs),
        num(p.baselineRetrainEpochs),
        csvValues(p.differences),
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

export interface ComparisonOutput {
  /** The output directory, absolute. */
  dir: string;
  files: { json: string; csv: string; html: string };
  markdown: string;
  comparison: Comparison;
  /** Vega warnings met while drawing the page's plots. */
  warnings: string[];
}

/**
 * Loads the runs, checks they are replicates, compares them and writes
 * compare.json, compare.csv and compare.html (each atomically) into
 * `opts.out` or the default directory. Nothing is written when the runs
 * cannot be loaded or are not replicates.
 */
export async function writeComparison(
  runDirs: readonly string[],
  opts: { out?: string; generatedAt?: Date } = {},
): Promise<ComparisonOutput> {
  const comparison = compareRuns(await loadReplicates(runDirs));
  const dir = resolve(opts.out ?? defaultCompareDir(runDirs, comparison.name));
  const page = await buildComparePage(comparison, { generatedAt: opts.generatedAt });
  mkdirSync(dir, { recursive: true });
  const files = { json: join(dir, 'compare.json'), csv: join(dir, 'compare.csv'), html: join(dir, 'compare.html') };
  await writeFileAtomic(files.json, JSON.stringify(comparison, null, 2) + '\n');
  await writeFileAtomic(files.csv, compareCsv(comparison));
  await writeFileAtomic(files.html, page.html);
  return { dir, files, markdown: compareMarkdown(comparison), comparison, warnings: page.warnings };
}

/** What the command line prints: the markdown tables, then where the files are. */
export function comparisonText(out: ComparisonOutput): string {
  return `${out.markdown}\n\ncomparison: ${out.files.json}, ${out.files.csv}\nreport: ${out.files.html}`;
}
