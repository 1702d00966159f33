/**
 * Live progress on a terminal: one line per running job (phase, candidate,
 * epoch, step, loss, throughput, time left) under an overall line for the
 * phase, redrawn in place. Finished jobs and phase summaries scroll above.
 */
import type { SmsEvent } from '../sms/pipeline.js';
import type { RetrainProgress } from '../sms/retrain.js';
import { plainProgressReporter } from './progress.js';

const bar = (fraction: number, width = 20): string => {
  const n = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(n)}${'.'.repeat(width - n)}]`;
};

function jobLine(p: RetrainProgress): string {
  const who = p.kind === 'dense' ? 'dense' : `p${p.phase} ${p.kind} c${p.candidate}`;
  const left = p.step > 0 ? Math.round((p.totalSteps - p.step) * (p.elapsedSeconds / p.step)) : 0;
  return `${who.padEnd(18)} ${bar(p.step / p.totalSteps)} ep ${p.epoch + 1}/${p.epochs} step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)} ${p.samplesPerSecond.toFixed(0)} img/s ~${left}s`;
}

export function ttyProgressReporter(stream: NodeJS.WriteStream = process.stderr): (e: SmsEvent) => void {
  const jobs = new Map<string, RetrainProgress>();
  let phaseLine = '';
  let phaseJobs = 0;
  let drawn = 0;
  const scrollback = plainProgressReporter((line) => print(line), 0);
  const clear = (): void => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\x1b[J`);
    drawn = 0;
  };
  const draw = (): void => {
    const width = stream.columns ?? 120;
    const lines = [phaseLine, ...[...jobs.values()].map(jobLine)].filter((l) => l !== '').map((l) => l.slice(0, width - 1));
    for (const l of lines) stream.write(`${l}\n`);
    drawn = lines.length;
  };
  function print(line: string): void {
    clear();
    stream.write(`${line}\n`);
    draw();
  }
  return (e) => {
    if (e.type === 'progress') {
      const p = e.progress;
      const key = `${p.kind}:${p.phase}:${p.candidate}`;
      if (p.step >= p.totalSteps) jobs.delete(key);
      else jobs.set(key, p);
      if (phaseJobs > 0) {
        const done = [...jobs.values()].reduce((s, j) => s + j.step / j.totalSteps, 0);
        phaseLine = `phase ${p.phase} ${bar((done + (phaseJobs - jobs.size - 0)) / phaseJobs)}`;
      }
      clear();
      draw();
      return;
    }
    if (e.type === 'phase-start') {
      phaseJobs = e.jobs;
      phaseLine = `phase ${e.phase} ${bar(0)}`;
    }
    if (e.type === 'phase-done') phaseLine = '';
    scrollback(e);
  };
}
