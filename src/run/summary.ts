/**
 * The compact result table printed at the end of a run (markdown), one row
 * per model kind and phase: sparsity, test accuracy and mean OOD accuracy.
 */
import type { SmsResults, PhaseResult } from '../sms/pipeline.js';
import type { PredictionMetrics } from '../sms/evaluate.js';

const pct = (x: number | undefined): string => (x === undefined || Number.isNaN(x) ? '–' : (100 * x).toFixed(2));

export interface SummaryRow {
  phase: number;
  sparsity: number;
  model: string;
  testAccuracy: number;
  oodAccuracy: number;
  ece: number;
}

/** One row per (phase, model kind), the table behind the markdown and CSV outputs. */
export function summaryRows(results: SmsResults): SummaryRow[] {
  const rows: SummaryRow[] = [
    { phase: 0, sparsity: results.dense.sparsity, model: 'dense', testAccuracy: results.dense.testAccuracy, oodAccuracy: results.dense.oodMeanAccuracy, ece: results.dense.ece },
  ];
  const add = (p: PhaseResult, model: string, m: PredictionMetrics | null | undefined): void => {
    if (m) rows.push({ phase: p.phase, sparsity: p.soups.uniform.metrics.sparsity, model, testAccuracy: m.testAccuracy, oodAccuracy: m.oodMeanAccuracy, ece: m.ece });
  };
  for (const p of results.phases) {
    add(p, 'SMS uniform', p.soups.uniform.metrics);
    add(p, 'SMS greedy', p.soups.greedy.metrics);
    add(p, 'candidate mean', p.candidateMean);
    add(p, 'best candidate (val)', p.candidates.find((c) => c.label === p.bestCandidate)?.metrics);
    if (p.imp) {
      add(p, 'IMP mean', p.imp.mean);
      add(p, 'IMP best (val)', p.imp.chains.find((c) => c.label === p.imp?.best)?.metrics);
    }
    add(p, `IMP ${p.candidates.length}x longer`, p.impLonger?.metrics);
    add(p, 'ensemble (not sparse)', p.ensemble);
  }
  return rows;
}

export function summaryMarkdown(results: SmsResults): string {
  const lines = ['| phase | sparsity % | model | test acc % | OOD acc % | ECE % |', '| ---: | ---: | --- | ---: | ---: | ---: |'];
  for (const r of summaryRows(results)) {
    lines.push(`| ${r.phase} | ${pct(r.sparsity)} | ${r.model} | ${pct(r.testAccuracy)} | ${pct(r.oodAccuracy)} | ${pct(r.ece)} |`);
  }
  return lines.join('\n');
}

export function summaryCsv(results: SmsResults): string {
  const lines = ['phase,sparsity,model,test_accuracy,ood_accuracy,ece'];
  for (const r of summaryRows(results)) lines.push([r.phase, r.sparsity, JSON.stringify(r.model), r.testAccuracy, r.oodAccuracy, r.ece].join(','));
  return lines.join('\n') + '\n';
}
