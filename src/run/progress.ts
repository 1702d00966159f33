/**
 * Progress for long runs: plain periodic lines (one per progress event of a
 * job, at most every few seconds per job), suitable for terminals and logs.
 */
import type { SmsEvent } from '../sms/pipeline.js';

const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;

export function plainProgressReporter(
  write: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  minSeconds = 5,
): (e: SmsEvent) => void {
  const last = new Map<string, number>();
  return (e) => {
    switch (e.type) {
      case 'dense-start':
        write(`dense: training ${e.epochs} epochs`);
        break;
      case 'dense-done':
        write(`dense: test ${pct(e.metrics.testAccuracy)}, OOD ${pct(e.metrics.oodMeanAccuracy)}${e.reused ? ' (reused checkpoint)' : ''}`);
        break;
      case 'phase-start':
        write(`phase ${e.phase}: pruning to ${pct(e.targetSparsity)} sparsity, ${e.jobs} retrain jobs`);
        break;
      case 'warning':
        write(`warning: ${e.message}`);
        break;
      case 'executor':
        write(`executor: ${e.executor} (${e.reason})`);
        break;
      case 'job-reused':
        write(`phase ${e.phase}: ${e.kind} candidate ${e.candidate} already done (verified checkpoint), skipped`);
        break;
      case 'progress': {
        const p = e.progress;
        const key = `${p.kind}:${p.phase}:${p.candidate}`;
        const now = Date.now();
        if (p.step !== p.totalSteps && now - (last.get(key) ?? 0) < minSeconds * 1000) return;
        last.set(key, now);
        const left = p.samplesPerSecond > 0 ? ((p.totalSteps - p.step) * (p.elapsedSeconds / Math.max(p.step, 1))).toFixed(0) : '?';
        const who = p.kind === 'dense' ? 'dense' : `phase ${p.phase} ${p.kind} c${p.candidate}`;
        write(
          `${who}: epoch ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} lr ${p.lr.toExponential(2)} ${p.samplesPerSecond.toFixed(0)} img/s ~${left}s left`,
        );
        break;
      }
      case 'phase-done': {
        const r = e.result;
        write(
          `phase ${r.phase} done: sparsity ${pct(r.soups.uniform.metrics.sparsity)}; SMS uniform ${pct(r.soups.uniform.metrics.testAccuracy)}, greedy ${pct(r.soups.greedy.metrics.testAccuracy)}, candidate mean ${pct(r.candidateMean.testAccuracy)}` +
            (r.imp ? `, IMP mean ${pct(r.imp.mean.testAccuracy)}` : ''),
        );
        break;
      }
    }
  };
}
