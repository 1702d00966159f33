/**
 * compare.html: the comparison of replicate runs as one self-contained page
 * (the run report's shell, html.ts; plots drawn to inline SVG, render.ts):
 * the runs and what they share, the verdicts of the soups against IMP and
 * their best candidate with a plot of the paired differences and their
 * intervals, accuracy per phase with error bars, and the table of means,
 * standard deviations and intervals.
 *
 * @example
 * const { html, plots, warnings } = await buildComparePage(compareRuns(runs));
 */
import type { Comparison, KindSummary, PairedMetric, PairedRow } from './compare.js';
import { headlineRows, SUMMARY_METRICS } from './compare.js';
import { accuracyCiSpec, ciPoints, pairedDifferencesSpec, pairedPoints, phaseLabels } from './compare-charts.js';
import { plotCollector } from './render.js';
import { esc, figure, pct, page, table, type Section } from './html.js';

export interface ComparePage {
  html: string;
  /** Plot ids in page order. */
  plots: string[];
  warnings: string[];
}

const METRIC_NAMES: Record<PairedMetric, string> = { testAccuracy: 'test accuracy', oodAccuracy: 'mean OOD accuracy' };

/** Signed points with a real minus sign. */
function points(x: number): string {
  if (!Number.isFinite(x)) return '–';
  const d = 100 * x;
  return `${d >= 0 ? '+' : '−'}${Math.abs(d).toFixed(2)}`;
}

function meanHtml(m: KindSummary['testAccuracy']): string {
  if (m.n === 0) return '–';
  if (m.n < 2) return `${pct(m.mean)} <span class="muted">(n = 1)</span>`;
  return `${pct(m.mean)} ± ${pct(m.std)}<br><span class="muted">[${pct(m.low)}, ${pct(m.high)}]</span>`;
}

function verdictHtml(p: PairedRow): string {
  const cls = p.verdict === 'holds' ? 'pos' : p.verdict === 'does not hold' ? 'neg' : 'muted';
  return `<span class="${cls}" title="${esc(p.reason)}">${esc(p.verdict)}</span>${p.verdict === 'inconclusive' ? ` <span class="muted">(${p.n < 2 ? 'n &lt; 2' : 'CI contains 0'})</span>` : ''}`;
}

const epochs = (x: number): string => (Number.isFinite(x) ? String(Math.round(x * 100) / 100) : '–');

const PAIRED_NOTE =
  '<p class="note">Per seed, the soup’s score minus the baseline’s on the same run; then the mean of these differences over the seeds and its 95% confidence interval (Student’s t, n − 1 degrees of freedom). <b>holds</b>: the interval lies above 0; <b>does not hold</b>: below 0; <b>inconclusive</b>: it contains 0, or there are fewer than 2 seeds. Each interval is 95% on its own: among many comparisons, about one in twenty can miss by chance. Epochs: retraining epochs each method spent up to the phase (soup / baseline).</p>';

function pairedTable(rows: PairedRow[]): string {
  return table(
    rows,
    [
      { header: 'phase', text: (r) => r.phase, numeric: true },
      { header: 'metric', text: (r) => (r.metric === 'testAccuracy' ? 'test acc' : 'OOD acc') },
      { header: 'soup', text: (r) => r.model },
      { header: 'baseline', text: (r) => r.baseline },
      { header: 'epochs', text: (r) => `${epochs(r.modelRetrainEpochs)} / ${epochs(r.baselineRetrainEpochs)}`, numeric: true },
      { header: 'mean diff (points)', text: (r) => points(r.mean), numeric: true },
      { header: '95% CI (points)', text: (r) => (r.n < 2 ? '–' : `[${points(r.low)}, ${points(r.high)}]`), numeric: true },
      { header: 'n', text: (r) => r.n, numeric: true },
      { header: 'verdict', html: verdictHtml },
    ],
    {
      rowClass: (r) => (rows.find((x) => x.phase === r.phase) === r ? 'phase-start' : ''),
    },
  );
}

function summaryTable(rows: KindSummary[]): string {
  return table(
    rows,
    [
      { header: 'phase', text: (r) => r.phase, numeric: true },
      { header: 'sparsity %', text: (r) => pct(r.sparsity), numeric: true },
      { header: 'model', text: (r) => r.model },
      { header: 'retrain epochs', text: (r) => epochs(r.retrainEpochs), numeric: true },
      ...SUMMARY_METRICS.map((metric) => ({
        header: `${metric === 'testAccuracy' ? 'test acc' : metric === 'oodAccuracy' ? 'OOD acc' : 'ECE'} %`,
        html: (r: KindSummary) => meanHtml(r[metric]),
        numeric: true,
      })),
    ],
    {
      rowClass: (r) =>
        [rows.find((x) => x.phase === r.phase) === r ? 'phase-start' : '', r.model.startsWith('SMS') ? 'sms' : '']
          .filter(Boolean)
          .join(' '),
    },
  );
}

/** The last phase's verdicts for the soup the runs carry, in words. */
function headlineHtml(c: Comparison): string {
  const rows = headlineRows(c);
  if (rows.length === 0) return '';
  const { phase, model } = rows[0];
  const sparsity = c.summaries.find((s) => s.phase === phase && s.model === model)?.sparsity ?? NaN;
  const items = rows.map(
    (p) =>
      `<li>${esc(p.baseline)}, ${esc(METRIC_NAMES[p.metric])}: ${points(p.mean)} points${p.n < 2 ? '' : ` [${points(p.low)}, ${points(p.high)}]`}: ${verdictHtml(p)}</li>`,
  );
  return `<p>Phase ${phase} (${pct(sparsity, 1)}% sparse), <b>${esc(model)}</b> (the soup the runs carry forward) against:</p>\n<ul>\n${items.join('\n')}\n</ul>`;
}

function runsTable(c: Comparison): string {
  const last = Math.max(...c.summaries.map((s) => s.phase));
  const soup = c.summaries.find((s) => s.phase === last && s.model === 'SMS uniform');
  return table(
    c.runs.map((r, i) => ({ ...r, soupAccuracy: soup?.testAccuracy.values[i] ?? NaN })),
    [
      { header: 'seed', text: (r) => r.seed, numeric: true },
      { header: 'run directory', html: (r) => `<code>${esc(r.dir)}</code>` },
      { header: 'config hash', html: (r) => `<code>${esc(r.configHash)}</code>` },
      { header: `SMS uniform test acc %, phase ${last}`, text: (r) => pct(r.soupAccuracy), numeric: true },
    ],
  );
}

/** The comparison page of `c`, with its plots rendered. */
export async function buildComparePage(c: Comparison, opts: { generatedAt?: Date } = {}): Promise<ComparePage> {
  const { plots, warnings, plot } = plotCollector(figure);
  const labels = phaseLabels(c);
  const dense = c.summaries.find((s) => s.model === 'dense');
  const seeds = c.runs.map((r) => r.seed).join(', ');
  const n = c.runs.length;

  const sections: Section[] = [];
  const notes = c.notes.map((note) => `<p class="note"><b>Note:</b> ${esc(note)}</p>`).join('\n');
  sections.push({
    id: 'runs',
    title: 'Replicates',
    body: `<p class="note">${n} run${n === 1 ? '' : 's'} of one config, differing only in <code>seed</code> (${esc(seeds)}): the seed sets the dense model's initialization and the candidates' batch order and augmentation. The validation split and the test sets are the same in every run.</p>\n${notes}\n${runsTable(c)}`,
  });

  const verdictBody: string[] = [headlineHtml(c)];
  for (const metric of ['testAccuracy', 'oodAccuracy'] as const) {
    const pts = pairedPoints(c.paired, metric, labels);
    if (pts.length === 0) continue;
    verdictBody.push(
      await plot(
        pairedDifferencesSpec({
          title: `Soup − baseline, ${METRIC_NAMES[metric]}`,
          xTitle: `difference in ${METRIC_NAMES[metric]} (points)`,
          points: pts,
        }),
        `plot-paired-${metric === 'testAccuracy' ? 'test' : 'ood'}`,
        `Paired differences in ${METRIC_NAMES[metric]} with 95% intervals`,
        `Each dot is the mean over the ${n} seeds of (soup − baseline) in ${METRIC_NAMES[metric]}, each bar its 95% confidence interval; the dashed line is 0. A bar entirely right of it: the soup is better (green); left: worse (red); across it: inconclusive (grey).`,
      ),
    );
  }
  verdictBody.push(
    c.paired.length > 0 ? `${PAIRED_NOTE}\n${pairedTable(c.paired)}` : '<p class="note">No soup and baseline to compare.</p>',
  );
  sections.push({ id: 'verdicts', title: 'Does the soup beat the baselines?', body: verdictBody.join('\n') });

  const accuracyBody: string[] = [];
  for (const metric of ['testAccuracy', 'oodAccuracy'] as const) {
    const pts = ciPoints(c.summaries, metric, c.kinds);
    if (pts.length === 0) {
      accuracyBody.push(`<p class="note">No ${METRIC_NAMES[metric]}: the runs did not compute it.</p>`);
      continue;
    }
    accuracyBody.push(
      await plot(
        accuracyCiSpec({
          title: `${METRIC_NAMES[metric][0].toUpperCase()}${METRIC_NAMES[metric].slice(1)} per phase`,
          yTitle: `${METRIC_NAMES[metric]} (%)`,
          points: pts,
          kinds: c.kinds,
          phaseLabels: labels,
          dense: 100 * (dense?.[metric].mean ?? NaN),
        }),
        `plot-${metric === 'testAccuracy' ? 'test' : 'ood'}-accuracy-ci`,
        `${METRIC_NAMES[metric]} per phase with 95% intervals`,
        `The mean over the ${n} seeds of the ${METRIC_NAMES[metric]} per model kind and phase; each bar is the 95% confidence interval of that mean. Within a phase the kinds sit side by side. Dashed: the dense model's mean; dashed lines: IMP m× longer and the ensemble (not sparse).`,
      ),
    );
  }
  sections.push({ id: 'accuracy', title: 'Accuracy per phase', body: accuracyBody.join('\n') });
  sections.push({
    id: 'table',
    title: 'Mean, spread and intervals',
    body: `<p class="note">Mean ± sample standard deviation over the replicates, and in brackets the 95% confidence interval of the mean (Student’s t, cut to [0, 100]). Retrain epochs: what the method spent retraining up to this phase, the same in every replicate.</p>\n${summaryTable(c.summaries)}`,
  });
  sections.push({
    id: 'config',
    title: 'Shared config',
    body: `<p class="note">The normalized config of every run, without <code>seed</code>.</p>\n<pre>${esc(JSON.stringify(c.sharedConfig, null, 2))}</pre>`,
  });

  const generatedAt = (opts.generatedAt ?? new Date())
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const html = page({
    title: `SMS comparison: ${c.name}`,
    subtitle: `${n} replicate${n === 1 ? '' : 's'} (seeds ${esc(seeds)}) · ${c.paired.filter((p) => p.verdict === 'holds').length} of ${c.paired.length} soup-vs-baseline claims hold`,
    sections,
    footer: `Generated ${esc(generatedAt)} by <code>sparse-soups compare</code> from the <code>results.json</code> and <code>config.json</code> of the runs above.`,
  });
  return { html, plots, warnings };
}
