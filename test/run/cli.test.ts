import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ttyProgressReporter } from '../../src/run/tty-progress.js';
import { plainProgressReporter } from '../../src/run/progress.js';
import type { RetrainProgress } from '../../src/sms/retrain.js';
import { tinyDatasetDir } from '../helpers/tiny-run.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });

test('every command has --help', () => {
  for (const cmd of [[], ['run'], ['resume'], ['status'], ['report'], ['worker'], ['eval'], ['export'], ['data'], ['data', 'preview']]) {
    const r = cli(...cmd, '--help');
    assert.equal(r.status, 0, `${cmd.join(' ')} --help`);
    assert.match(r.stdout, /Usage: sparse-soups/);
  }
});

test('data list and data preview', () => {
  const list = cli('data', 'list');
  assert.equal(list.status, 0);
  assert.match(list.stdout, /fashion-mnist/);
  assert.match(list.stdout, /jpeg_compression/);
  const dir = mkdtempSync(join(tmpdir(), 'preview-'));
  try {
    const out = join(dir, 'grid.png');
    const r = cli('data', 'preview', 'npy', '--dir', tinyDatasetDir(), '--out', out, '--corruptions', 'fog,contrast', '--count', '4');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /rows: clean, fog 3, contrast 3/);
    assert.deepEqual([...readFileSync(out).subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
    const bad = cli('data', 'preview', 'npy', '--dir', tinyDatasetDir(), '--out', out, '--corruptions', 'fogg');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /fogg/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function capture(): { stream: NodeJS.WriteStream; text: () => string } {
  let buf = '';
  const w = new Writable({ write(chunk, _enc, cb) { buf += String(chunk); cb(); } }) as unknown as NodeJS.WriteStream;
  return { stream: w, text: () => buf };
}

const progress = (step: number, candidate: number): RetrainProgress => ({
  epoch: 0, epochs: 2, step, totalSteps: 100, loss: 0.5, lr: 0.1, samplesPerSecond: 1000, elapsedSeconds: step / 10, phase: 1, candidate, kind: 'sms',
});

test('terminal progress: a live line per running candidate and a phase bar, redrawn in place', () => {
  const { stream, text } = capture();
  const report = ttyProgressReporter(stream);
  report({ type: 'phase-start', phase: 1, targetSparsity: 0.5, jobs: 2 });
  report({ type: 'progress', progress: progress(10, 0) });
  report({ type: 'progress', progress: progress(20, 1) });
  report({ type: 'progress', progress: progress(50, 0) });
  const out = text();
  assert.match(out, /phase 1: pruning to 50\.00% sparsity, 2 retrain jobs/);
  assert.match(out, /p1 sms c0 .* step 50\/100 loss 0\.5000 1000 img\/s ~5s/);
  assert.match(out, /p1 sms c1 .* step 20\/100/);
  // eslint-disable-next-line no-control-regex
  assert.match(out, /\x1b\[\d+A\x1b\[J/, 'redraws with cursor movement');
});

test('plain progress: periodic lines without control characters', () => {
  const lines: string[] = [];
  const report = plainProgressReporter((l) => lines.push(l), 3600);
  report({ type: 'progress', progress: progress(10, 0) });
  report({ type: 'progress', progress: progress(11, 0) }); // throttled
  report({ type: 'progress', progress: progress(100, 0) }); // the last step always prints
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => !l.includes('\x1b')));
});
