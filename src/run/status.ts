/**
 * Where a run stands, read from its directory alone: which checkpoints exist
 * and verify, what the event log says last, whether results are written.
 */
import { existsSync, readFileSync } from 'node:fs';

import { verifiedCheckpoint } from '../checkpoints/checksum.js'; // not store.js: status loads no tensors
import { candidateSpecs } from '../sms/candidates.js';
import { openRunDir } from './rundir.js';
import { retrainResultFileOf, runLayout } from '../sms/layout.js';

export interface RunStatus {
  path: string;
  name: string;
  dense: 'done' | 'missing';
  phases: { phase: number; mask: boolean; candidatesDone: number; candidates: number; soups: boolean }[];
  finished: boolean;
  lastEvent: Record<string, unknown> | null;
  events: number;
}

export async function runStatus(dir: string): Promise<RunStatus> {
  const run = await openRunDir(dir);
  const m = candidateSpecs(run.config).length;
  const files = runLayout(run.path);
  const verifies = async (path: string): Promise<boolean> => (await verifiedCheckpoint(path)) !== null;
  const phases: RunStatus['phases'] = [];
  for (let p = 1; p <= run.config.pruning.phases; p++) {
    let done = 0;
    for (let i = 0; i < m; i++)
      if ((await verifies(files.candidate(p, i))) && existsSync(retrainResultFileOf(files.candidate(p, i)))) done++;
    phases.push({
      phase: p,
      mask: await verifies(files.mask(p)),
      candidatesDone: done,
      candidates: m,
      soups: (await verifies(files.soup(p, 'uniform'))) && (await verifies(files.soup(p, 'greedy'))),
    });
  }
  const eventsFile = files.events;
  const lines = existsSync(eventsFile)
    ? readFileSync(eventsFile, 'utf8')
        .split('\n')
        .filter((l) => l.trim() !== '')
    : [];
  let lastEvent: Record<string, unknown> | null = null;
  // The last line may be torn if the process was killed mid-write: take the last parseable one.
  for (let i = lines.length - 1; i >= 0 && lastEvent === null; i--) {
    try {
      lastEvent = JSON.parse(lines[i]) as Record<string, unknown>;
    } catch {
      /* torn line */
    }
  }
  return {
    path: run.path,
    name: run.config.name,
    dense: (await verifies(files.dense)) ? 'done' : 'missing',
    phases,
    finished: existsSync(files.results),
    lastEvent,
    events: lines.length,
  };
}

export function formatStatus(s: RunStatus): string {
  const lines = [`run ${s.name} at ${s.path}`, `dense model: ${s.dense}`];
  for (const p of s.phases) {
    lines.push(
      `phase ${p.phase}: mask ${p.mask ? 'done' : 'missing'}, candidates ${p.candidatesDone}/${p.candidates}, soups ${p.soups ? 'done' : 'missing'}`,
    );
  }
  lines.push(s.finished ? 'finished: results.json written' : 'not finished: continue with `sparse-soups resume <run-dir>`');
  if (s.lastEvent) lines.push(`last event (${s.events} in all): ${JSON.stringify(s.lastEvent)}`);
  return lines.join('\n');
}
