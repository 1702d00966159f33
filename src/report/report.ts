/**
 * `sparse-soups report <run-dir>`: one self-contained report.html for a
 * finished SMS run — headline numbers, accuracy and OOD accuracy against
 * sparsity for SMS and its baselines, the candidates' spread, the greedy
 * soup's decisions, OOD accuracy per corruption, per-layer sparsity, the
 * summary table and the config. Plots are rendered to inline SVG here, so
 * the page needs no script and no network to be read.
 *
 * @example
 * const path = await writeReport('runs/tiny-0123456789ab'); // 'runs/tiny-0123456789ab/report.html'
 */

import { basename } from 'node:path';
import { writeFileAtomic } from '../io/atomic.js';
import type { SmsConfig } from '../sms/config.js';
import { loadRun, type LoadedRun, type ValidatedResults } from './load.js';
import { accuracyPoints, carriedSoup, layerSparsityRows, modelKinds, oodPoints, spreadPoints, summaryRows } from './series.js';
import { accuracyVsSparsitySpec, candidateSpreadSpec, layerSparsitySpec, oodBreakdownSpec } from './charts.js';
import { plotCollector } from './render.js';
import { esc, figure, pct, page, type Section } from './html.js';
import { candidatesTable, decisionsTable, headlineCards, summaryTable } from './tables.js';
import { runLayout } from '../sms/layout.js';

export interface ReportOutput {
  /** The page. */
  html: string;
  /** Plots in page order (their ids), and any vega warnings met while drawing them. */
  plots: string[];
  warnings: string[];
}

/** Writes `<runDir>/report.html` (atomically) and returns its path. */
export async function writeReport(runDir: string): Promise<string> {
  const run = await loadRun(runDir);
  const { html } = await buildReport(run);
  const path = runLayout(run.dir).report;
  await writeFileAtomic(path, html);
  return path;
}

/** The report page of a loaded run, without writing it. */
export async function buildReport(run: LoadedRun, opts: { generatedAt?: Date } = {}): Promise<ReportOutput> {
  const { config, results } = run;
  const { plots, warnings, plot } = plotCollector(figure);
  const kinds = modelKinds(results);
  const rows = summaryRows(results);
  const phases = results.phases;
  const last = phases[phases.length - 1];
  const hasOod = rows.some((r) => Number.isFinite(r.oodAccuracy));
  const noOod =
    '<p class="note">No OOD accuracy: the run evaluated no corrupted test sets (<code>evaluation.oodCorruptions</code> is empty).</p>';
  const sparsityNote = `Sparsity is that of the soups, after each of the ${phases.length} phases. Dashed: the dense model; dashed lines: IMP with ${last.candidates.length}× longer retraining (same budget as the soup) and the prediction ensemble (not sparse).`;

  const sections: Section[] = [];
  sections.push({ id: 'overview', title: 'Overview', body: `${headlineCards(results, config)}\n${describeRun(config)}` });
  sections.push({
    id: 'accuracy',
    title: 'Accuracy against sparsity',
    body: [
      await plot(
        accuracyVsSparsitySpec({
          title: 'Test accuracy',
          yTitle: 'test accuracy (%)',
          points: accuracyPoints(rows, 'testAccuracy'),
          dense: 100 * results.dense.testAccuracy,
          kinds,
        }),
        'plot-test-accuracy',
        'Test accuracy against sparsity',
        `Top-1 test accuracy of every model kind after each phase. ${sparsityNote}`,
      ),
      hasOod
        ? await plot(
            accuracyVsSparsitySpec({
              title: 'Mean OOD accuracy',
              yTitle: 'mean OOD accuracy (%)',
              points: accuracyPoints(rows, 'oodAccuracy'),
              dense: 100 * results.dense.oodMeanAccuracy,
              kinds,
            }),
            'plot-ood-accuracy',
            'Mean OOD accuracy against sparsity',
            `Accuracy on the corrupted test sets (${esc(config.evaluation.oodCorruptions.join(', '))}; severities ${esc(config.evaluation.oodSeverities.join(', '))}), averaged over corruptions and severities.`,
          )
        : noOod,
    ].join('\n'),
  });
  sections.push({
    id: 'candidates',
    title: 'Candidates and soups',
    body: [
      await plot(
        candidateSpreadSpec({
          points: spreadPoints(phases),
          phaseLabels: Object.fromEntries(phases.map((p) => [p.phase, `phase ${p.phase} (${pct(p.targetSparsity, 1)}%)`])),
        }),
        'plot-candidate-spread',
        'Test accuracy of the candidates and soups per phase',
        'Each grey dot is one retrained candidate; the blue bar is their mean; the red diamond and orange triangle are the uniform and greedy soups of the same candidates (one sparse model each, same mask).',
      ),
      '<p class="note">Per phase: the candidates (★: best by validation accuracy, the “best candidate” baseline), their scores, and how far apart they are: L2 distance to their mean, and in column ↔ #j the L2 distance / angle between the weight vectors of the row\'s candidate and candidate j.</p>',
      ...phases.map((p) => candidatesTable(p)),
    ].join('\n'),
  });
  sections.push({
    id: 'greedy',
    title: 'Greedy soup decisions',
    body: `<p class="note">Candidates are tried in order of validation accuracy; one joins the soup only if the soup's validation accuracy (after BN recalibration) does not drop.</p>\n${phases.map((p) => decisionsTable(p)).join('\n')}`,
  });
  const lastOod = oodPoints(last);
  sections.push({
    id: 'ood',
    title: 'OOD accuracy per corruption',
    body:
      lastOod.length > 0
        ? await plot(
            oodBreakdownSpec({
              title: `Phase ${last.phase} (${pct(last.targetSparsity, 1)}% sparse)`,
              points: lastOod,
              kinds,
              corruptions: config.evaluation.oodCorruptions,
            }),
            'plot-ood-breakdown',
            'OOD accuracy per corruption and severity in the last phase',
            `Accuracy per corruption and severity after the last phase: the uniform soup against the mean of its candidates${last.imp ? ' and the mean of the IMP chains' : ''}. Each panel has its own accuracy axis.`,
          )
        : noOod,
  });
  const { label: soupLabel, soup } = carriedSoup(config, last);
  sections.push({
    id: 'layers',
    title: 'Per-layer sparsity',
    body: await plot(
      layerSparsitySpec({
        title: `${soupLabel}, phase ${last.phase}`,
        rows: layerSparsityRows(last, config),
        globalSparsity: 100 * soup.metrics.sparsity,
      }),
      'plot-layer-sparsity',
      'Per-layer sparsity of the final soup',
      `Fraction of zero weights in each prunable layer of the final soup (${esc(soupLabel)}, the one the run carries forward); in brackets the layer's weight count. Pruning criterion: ${esc(config.pruning.criterion)}.`,
    ),
  });
  sections.push({ id: 'summary', title: 'Summary table', body: summaryTable(rows) });
  sections.push({ id: 'config', title: 'Config', body: `<pre>${esc(JSON.stringify(run.configJson, null, 2))}</pre>` });

  const generatedAt = (opts.generatedAt ?? new Date())
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC');
  const html = page({
    title: `SMS report: ${results.name}`,
    subtitle: `config <code>${esc(results.configHash)}</code> · ${esc(config.data.dataset)} · ${esc(modelLabel(config))} · ${pct(config.pruning.goalSparsity, 1)}% goal sparsity in ${phases.length} phases · ${last.candidates.length} candidates per phase`,
    sections,
    footer: `Generated ${esc(generatedAt)} by <code>sparse-soups report</code> from <code>results.json</code> and <code>config.json</code> in <code>${esc(run.dir)}</code>.`,
  });
  return { html, plots, warnings };
}

/** The registry name, or the export and file name of a user's model module. */
function modelLabel(config: SmsConfig): string {
  const { name, module, export: exportName } = config.model;
  return module === undefined ? (name ?? '') : `${exportName ?? 'default'} from ${basename(module)}`;
}

function describeRun(config: SmsConfig): string {
  const variant =
    config.pruning.variant === 'gmp' ? 'gradual magnitude pruning during training (GMP)' : 'iterative magnitude pruning (IMP)';
  return `<p class="note">Each phase prunes the previous soup (${esc(variant)}, ${esc(config.pruning.criterion)} criterion), retrains ${config.candidates.count} candidates from it and merges them; the run carries the <b>${esc(config.merge.method)}</b> soup into the next phase.</p>`;
}

export type { LoadedRun, ValidatedResults };
