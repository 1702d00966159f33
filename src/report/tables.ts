/**
 * The report's HTML tables and headline numbers: the summary per phase and
 * model, the greedy soup's decisions, the candidates with their distances,
 * and the cards at the top.
 */
import type { PhaseResult } from '../sms/pipeline.js';
import type { SmsConfig } from '../sms/config.js';
import type { SummaryRow } from '../run/summary.js';
import type { GreedyDecision } from '../soup/greedy.js';
import { esc, pct, deltaPoints, integer, table } from './html.js';
import { carriedSoup } from './series.js';
import type { ValidatedResults } from './load.js';

const NOT_SPARSE = 'ensemble (not sparse)';

/** One row per phase and model; the best sparse test accuracy of each phase is bold, SMS rows are emphasized. */
export function summaryTable(rows: SummaryRow[]): string {
  const best = new Map<number, number>();
  for (const r of rows)
    if (r.model !== NOT_SPARSE && Number.isFinite(r.testAccuracy)) best.set(r.phase, Math.max(best.get(r.phase) ?? -1, r.testAccuracy));
  const isBest = (r: SummaryRow): boolean => r.phase > 0 && r.model !== NOT_SPARSE && r.testAccuracy === best.get(r.phase);
  return table(
    rows,
    [
      { header: 'phase', text: (r) => r.phase, numeric: true },
      { header: 'sparsity %', text: (r) => pct(r.sparsity), numeric: true },
      { header: 'model', text: (r) => r.model },
      {
        header: 'test acc %',
        html: (r) => (isBest(r) ? `<span class="best">${pct(r.testAccuracy)}</span>` : pct(r.testAccuracy)),
        numeric: true,
      },
      { header: 'OOD acc %', text: (r) => pct(r.oodAccuracy), numeric: true },
      { header: 'ECE %', text: (r) => pct(r.ece), numeric: true },
      { header: 'MCE %', text: (r) => pct(r.mce), numeric: true },
      { header: 'retrain epochs', text: (r) => (Number.isNaN(r.retrainEpochs) ? '–' : r.retrainEpochs), numeric: true },
    ],
    {
      caption:
        'Bold: the best test accuracy among the sparse models of a phase. Retrain epochs: what the method spent retraining up to this phase (IMP m× longer is the compute-matched baseline). The ensemble averages the candidates’ predictions (m models, not sparse): an upper reference, not a competitor.',
      rowClass: (r) =>
        [rows.find((x) => x.phase === r.phase) === r ? 'phase-start' : '', r.model.startsWith('SMS') ? 'sms' : '']
          .filter(Boolean)
          .join(' '),
    },
  );
}

/** The greedy soup's decisions of one phase, in the order they were made. */
export function decisionsTable(phase: PhaseResult): string {
  const decisions: GreedyDecision[] = phase.soups.greedy.decisions ?? [];
  if (decisions.length === 0) return `<p class="note">Phase ${phase.phase}: no decisions recorded.</p>`;
  const greedy = phase.soups.greedy;
  const caption = `Phase ${phase.phase} (${pct(phase.targetSparsity, 1)}% sparse): ${greedy.ingredients.length} of ${decisions.length} candidates in the soup, validation accuracy ${pct(greedy.validationAccuracy)}%.`;
  return table(
    decisions.map((d, i) => ({ ...d, step: i + 1 })),
    [
      { header: 'step', text: (d) => d.step, numeric: true },
      { header: 'candidate', text: (d) => d.label },
      { header: 'its val acc %', text: (d) => pct(d.candidateAccuracy), numeric: true },
      { header: 'soup val acc before %', text: (d) => pct(d.soupAccuracyBefore), numeric: true },
      { header: 'soup val acc with it %', text: (d) => pct(d.soupAccuracyWith), numeric: true },
      { header: 'change', html: (d) => changeCell(d), numeric: true },
      {
        header: 'decision',
        html: (d) => (d.accepted ? '<span class="accepted">accepted</span>' : '<span class="rejected">rejected</span>'),
      },
    ],
    { caption: esc(caption) },
  );
}

function changeCell(d: GreedyDecision): string {
  if (!Number.isFinite(d.soupAccuracyBefore)) return '<span title="the soup starts from the best candidate">start</span>';
  const text = deltaPoints(d.soupAccuracyWith, d.soupAccuracyBefore);
  return `<span class="${d.soupAccuracyWith >= d.soupAccuracyBefore ? 'pos' : 'neg'}">${text}</span>`;
}

const num = (x: number, digits: number): string => (Number.isFinite(x) ? x.toFixed(digits) : '–');

/** The candidates of one phase: how they were trained, their scores, and how far apart they are. */
export function candidatesTable(phase: PhaseResult): string {
  const d = phase.distances;
  const m = phase.candidates.length;
  const rows = phase.candidates.map((c, i) => ({ c, i }));
  // Labels already name what varies between candidates (seed, lr, ...); the matrix columns go by number.
  return table(
    rows,
    [
      { header: '#', text: ({ i }) => i + 1, numeric: true },
      {
        header: 'candidate',
        html: ({ c }) =>
          c.label === phase.bestCandidate
            ? `${esc(c.label)} <span class="best" title="best by validation accuracy">★</span>`
            : esc(c.label),
      },
      { header: 'val acc %', text: ({ c }) => pct(c.validationAccuracy), numeric: true },
      { header: 'test acc %', text: ({ c }) => pct(c.metrics.testAccuracy), numeric: true },
      { header: 'OOD acc %', text: ({ c }) => pct(c.metrics.oodMeanAccuracy), numeric: true },
      { header: 'L2 to mean', text: ({ i }) => num(d.toMean[i], 3), numeric: true },
      ...Array.from({ length: m }, (_, j) => ({
        header: `↔ #${j + 1}`,
        text: ({ i }: { i: number }) => (i === j ? '·' : `${num(d.pairwiseL2[i][j], 3)} / ${num(d.pairwiseAngleDegrees[i][j], 2)}°`),
        numeric: true,
      })),
    ],
    { caption: `Phase ${phase.phase} (${pct(phase.targetSparsity, 1)}% sparse)` },
  );
}

/** Headline numbers of the last phase: sparsity, the carried soup's accuracy, and its gains over the baselines. */
export function headlineCards(results: ValidatedResults, config: SmsConfig): string {
  const last = results.phases[results.phases.length - 1];
  const { label, soup } = carriedSoup(config, last);
  const acc = soup.metrics.testAccuracy;
  const best = last.candidates.find((c) => c.label === last.bestCandidate);
  const card = (title: string, value: string, detail = ''): string =>
    `<div class="card"><div class="label">${esc(title)}</div><div class="value">${value}</div>${detail ? `<div class="detail">${detail}</div>` : ''}</div>`;
  const gain = (other: number | undefined, name: string): string => {
    if (other === undefined || !Number.isFinite(other)) return '';
    const d = deltaPoints(acc, other);
    return card(
      `${label} vs ${name}`,
      `<span class="${acc >= other ? 'pos' : 'neg'}">${d}</span>`,
      `points of test accuracy (${name}: ${pct(other)}%)`,
    );
  };
  return `<div class="cards">
${card('sparsity after the last phase', `${pct(soup.metrics.sparsity, 1)}%`, `${integer(soup.metrics.nonzeroParameters)} of ${integer(soup.metrics.totalParameters)} parameters non-zero`)}
${card(`${label} test accuracy`, `${pct(acc)}%`, `dense model: ${pct(results.dense.testAccuracy)}%`)}
${gain(last.candidateMean.testAccuracy, 'candidate mean')}
${gain(best?.metrics.testAccuracy, 'best candidate')}
${last.imp ? gain(last.imp.mean.testAccuracy, 'IMP mean') : ''}
</div>`;
}
