/**
 * The compact result table printed at the end of a run (markdown), one row
 * per model kind and phase: sparsity, test accuracy, mean OOD accuracy,
 * calibration (ECE, MCE) and the retraining epochs the method spent so far.
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
  mce: number;
  /** Retraining epochs the method spent up to this phase (NaN: not recorded). */
  retrainEpochs: number;
}

/** One row per (phase, model kind), the table behind the markdown and CSV outputs. */
export function summaryRows(results: SmsResults): SummaryRow[] {
  const d = results.dense;
  const rows: SummaryRow[] = [
    {
      phase: 0,
      sparsity: d.sparsity,
      model: 'dense',
      testAccuracy: d.testAccuracy,
      oodAccuracy: d.oodMeanAccuracy,
      ece: d.ece,
      mce: d.mce ?? NaN,
      retrainEpochs: 0,
    },
  ];
  const add = (p: PhaseResult, model: string, m: PredictionMetrics | null | undefined, epochs: number | null | undefined): void => {
    if (m) {
      const { testAccuracy, oodMeanAccuracy: oodAccuracy, ece } = m;
      rows.push({
        phase: p.phase,
        sparsity: p.soups.uniform.metrics.sparsity,
        model,
        testAccuracy,
        oodAccuracy,
        ece,
        mce: m.mce ?? NaN,
        retrainEpochs: epochs ?? NaN,
      });
    }
  };
  for (const p of results.phases) {
    const sms = p.retrainEpochs?.sms;
    add(p, 'SMS uniform', p.soups.uniform.metrics, sms);
    add(p, 'SMS greedy', p.soups.greedy.metrics, sms);
    add(p, 'candidate mean', p.candidateMean, sms);
    add(p, 'best candidate (val)', p.candidates.find((c) => c.label === p.bestCandidate)?.metrics, sms);
    if (p.imp) {
      add(p, 'IMP mean', p.imp.mean, p.retrainEpochs?.imp);
      add(p, 'IMP best (val)', p.imp.chains.find((c) => c.label === p.imp?.best)?.metrics, p.retrainEpochs?.imp);
    }
    add(p, `IMP ${p.candidates.length}x longer`, p.impLonger?.metrics, p.retrainEpochs?.impLonger);
    add(p, 'ensemble (not sparse)', p.ensemble, sms);
  }
  return rows;
}

export function summaryMarkdown(results: SmsResults): string {
  const lines = [
    '| phase | sparsity % | model | test acc % | OOD acc % | ECE % | MCE % | retrain epochs |',
    '| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of summaryRows(results)) {
    const epochs = Number.isNaN(r.retrainEpochs) ? '–' : String(r.retrainEpochs);
    lines.push(
      `| ${r.phase} | ${pct(r.sparsity)} | ${r.model} | ${pct(r.testAccuracy)} | ${pct(r.oodAccuracy)} | ${pct(r.ece)} | ${pct(r.mce)} | ${epochs} |`,
    );
  }
  return lines.join('\n');
}

export function summaryCsv(results: SmsResults): string {
  const lines = ['phase,sparsity,model,test_accuracy,ood_accuracy,ece,mce,retrain_epochs'];
  for (const r of summaryRows(results)) {
    lines.push([r.phase, r.sparsity, JSON.stringify(r.model), r.testAccuracy, r.oodAccuracy, r.ece, r.mce, r.retrainEpochs].join(','));
  }
  return lines.join('\n') + '\n';
}
