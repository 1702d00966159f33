// Crash safety: the CLI is killed with SIGKILL at several points of a real
// run (the tiny run of test/helpers/tiny-run.ts); `resume` finishes it, and
// the results equal an uninterrupted run's. A corrupted checkpoint is
// detected by its checksum and recomputed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const config = tinyRunConfig({
  name: 'resume-test',
  seed: 3,
  evaluation: { oodCorruptions: ['contrast'], oodSeverities: [2] },
  baselines: { imp: true, ensemble: true },
});

function runDirOf(out: string): string {
  const dirs = readdirSync(out).filter((d) => d.startsWith('resume-test-'));
  assert.equal(dirs.length, 1);
  return join(out, dirs[0]);
}

/** Starts `run`, SIGKILLs it once `ready(out)` holds, resolves when it is dead. */
function runUntil(configFile: string, out: string, ready: () => boolean, limitMs = 60_000): Promise<'killed' | 'finished'> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'run', configFile, '--out', out, '--threads', '1'], { stdio: 'ignore' });
    const started = Date.now();
    let killed = false;
    const timer = setInterval(() => {
      if (!killed && ready()) {
        killed = true;
        child.kill('SIGKILL');
      } else if (Date.now() - started > limitMs) {
        child.kill('SIGKILL');
        reject(new Error('run did not reach the kill point in time'));
      }
    }, 20);
    child.on('exit', () => {
      clearInterval(timer);
      resolve(killed ? 'killed' : 'finished');
    });
  });
}

function results(dir: string): unknown {
  const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { phases: { candidates: { checkpoint: string }[]; soups: unknown }[] };
  // Paths and wall-clock times differ between the two runs; everything else must be equal.
  return JSON.parse(JSON.stringify(r).replaceAll(dir, '<run>'), (key, value: unknown) => (key === 'seconds' ? undefined : value));
}

test('kill -9 at several points, resume, same results as an uninterrupted run', { timeout: 240_000 }, async () => {
  const root = mkdtempSync(join(tmpdir(), 'resume-'));
  try {
    const configFile = join(root, 'config.yaml');
    writeFileSync(configFile, stringify(config));
    const reference = join(root, 'reference');
    const r = spawnSync(process.execPath, [...CLI, 'run', configFile, '--out', reference, '--threads', '1'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /\| phase \| sparsity % \| model/);
    // The default executor is auto, and says what it chose.
    assert.match(r.stderr, /^executor: (processes \(auto: \d+ cores?, .* GiB available, ~.* GiB per worker; \d+ workers × 1 thread\)|inline \(auto: 1 thread in this process; .*\))$/m);

    const out = join(root, 'killed');
    const dir = (): string | null => (existsSync(out) && readdirSync(out).length ? runDirOf(out) : null);
    const has = (rel: string) => () => {
      const d = dir();
      return d !== null && existsSync(join(d, rel));
    };
    // 1: during dense training (config written, no dense checkpoint yet) — or right after it.
    assert.equal(await runUntil(configFile, out, has('config.json')), 'killed');
    // 2: after the first candidate of phase 1 finished.
    assert.equal(await runUntil(configFile, out, has('phase-1/candidate-0.safetensors.result.json')), 'killed');
    // 3: after phase 2's mask was written.
    assert.equal(await runUntil(configFile, out, has('phase-2/mask.safetensors')), 'killed');
    const status = spawnSync(process.execPath, [...CLI, 'status', dir() as string], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /not finished/);

    // A half-written candidate is never loaded: truncate one and let resume recompute it.
    const victim = join(dir() as string, 'phase-1', 'candidate-0.safetensors');
    truncateSync(victim, 100);
    const resumed = spawnSync(process.execPath, [...CLI, 'resume', dir() as string, '--threads', '1'], { encoding: 'utf8' });
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(results(dir() as string), results(runDirOf(reference)));
    const events = readFileSync(join(dir() as string, 'events.jsonl'), 'utf8');
    assert.ok(events.includes('"job-reused"'), 'finished candidates were not retrained');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('CLI errors: a malformed config exits non-zero with a one-line reason', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-'));
  try {
    const bad = join(root, 'bad.yaml');
    writeFileSync(bad, stringify({ ...config, pruning: { phases: -1 } }));
    const r = spawnSync(process.execPath, [...CLI, 'run', bad, '--out', root], { encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr.trim(), /^sparse-soups: pruning\.phases: expected a number > 0, got -1/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
