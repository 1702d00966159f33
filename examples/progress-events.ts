/**
 * Follow an SMS run as it goes: `runSms` calls `onEvent` with typed progress
 * events (`SmsEvent`, a union discriminated by `type`), here printed as lines;
 * a UI, a log shipper or a metrics exporter would subscribe the same way. The
 * CLI's own live display (`sparse-soups run`) is such a subscriber.
 *
 *   npx tsx examples/progress-events.ts          # a few seconds
 *   npx tsx examples/progress-events.ts --tiny   # the smallest run (what the test runs)
 *
 *   event         when                                    fields
 *   dense-start   dense training begins                   epochs
 *   dense-done    the dense model is trained and scored   metrics, reused (found on disk)
 *   phase-start   a phase's mask is computed              phase, targetSparsity, jobs (retrains planned)
 *   progress      every few optimizer steps of a retrain  progress: phase, candidate, kind, step, totalSteps, loss, lr, ...
 *   job-reused    a retrain found finished on disk        phase, kind, candidate
 *   phase-done    soups merged and every model scored     result (the phase's PhaseResult)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSmsConfig, registerDataset, runSms, type SmsEvent } from 'sparse-soups';
import { toyDataset } from './toy-data.js';

const { values: args } = parseArgs({ options: { tiny: { type: 'boolean', default: false } } });
const { train, test } = toyDataset(args.tiny ? 400 : 800);
registerDataset({
  name: 'toy-bars',
  description: 'bars over noise',
  source: 'examples/toy-data.ts',
  defaultDir: null,
  info: null,
  loadSplit: (split) => (split === 'train' ? train : test),
});

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const counts = new Map<SmsEvent['type'], number>();

function onEvent(e: SmsEvent): void {
  counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  switch (e.type) {
    case 'dense-start':
      return console.log(`dense training: ${e.epochs} epoch${e.epochs === 1 ? '' : 's'}`);
    case 'dense-done':
      return console.log(`dense model: test accuracy ${pct(e.metrics.testAccuracy)}${e.reused ? ' (found on disk)' : ''}`);
    case 'phase-start':
      return console.log(`phase ${e.phase}: pruned to ${pct(e.targetSparsity)}, ${e.jobs} retrains`);
    case 'progress': {
      const p = e.progress;
      const who = p.kind === 'dense' ? 'dense model' : `phase ${p.phase} ${p.kind} candidate ${p.candidate}`;
      return console.log(`  ${who}: step ${p.step}/${p.totalSteps}, loss ${p.loss.toFixed(3)}, lr ${p.lr.toFixed(4)}`);
    }
    case 'job-reused':
      return console.log(`  ${e.kind} candidate ${e.candidate}: found on disk`);
    case 'phase-done':
      return console.log(
        `phase ${e.result.phase} done: uniform soup ${pct(e.result.soups.uniform.metrics.testAccuracy)}, candidate mean ${pct(e.result.candidateMean.testAccuracy)}`,
      );
  }
}

const config = parseSmsConfig({
  name: 'progress-events',
  data: { dataset: 'toy-bars', batchSize: 32 },
  model: { name: 'mlp', options: { hiddenSizes: [32] } },
  dense: { epochs: args.tiny ? 1 : 2, maxLr: 0.05 },
  pruning: { goalSparsity: 0.75, phases: 2 },
  retrain: { epochs: 1 },
  candidates: { count: 2 },
  evaluation: { oodCorruptions: ['gaussian_noise'], oodSeverities: [3] },
  baselines: { imp: false, ensemble: false },
});
const workDir = mkdtempSync(join(tmpdir(), 'sms-events-'));
try {
  await runSms(config, { workDir, onEvent });
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
console.log(`events: ${[...counts].map(([type, n]) => `${type} ${n}`).join(', ')}`);
