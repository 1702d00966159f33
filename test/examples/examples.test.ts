// Every program in examples/ runs, as a user would run it, with its smallest settings (--tiny), and prints
// what its header says. The examples import the package by its name ('sparse-soups'); the test resolves that
// name to the sources (the `sparse-soups-src` export condition, run by tsx), so it needs no build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = new URL('../..', import.meta.url).pathname;

/** Runs examples/<name> with `args`; its stdout. Fails the test with its stderr when it exits non-zero. */
function runExample(name: string, ...args: string[]): string {
  const r = spawnSync(process.execPath, ['--conditions=sparse-soups-src', '--import', 'tsx', join('examples', name), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  assert.equal(r.status, 0, `${name} exited with ${r.status}:\n${r.stderr}`);
  return r.stdout;
}

/** The percentage after `label` in `output`, as a fraction. */
function percentAfter(output: string, label: RegExp): number {
  const m = new RegExp(`${label.source}\\s*(\\d+\\.\\d)%`).exec(output);
  assert.ok(m, `no ${label} in:\n${output}`);
  return Number(m[1]) / 100;
}

test('every example in examples/ is run by this test', () => {
  const programs = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts') && f !== 'toy-data.ts');
  assert.deepEqual(programs.sort(), ['custom-model-sms.ts', 'progress-events.ts', 'prune-soup-recalibrate.ts']);
});

test('custom-model-sms: SMS on a user-defined Module and an in-memory dataset reaches the goal sparsity, above chance', () => {
  const out = mkdtempSync(join(tmpdir(), 'example-sms-'));
  try {
    const stdout = runExample('custom-model-sms.ts', '--tiny', '--out', out);
    assert.ok(percentAfter(stdout, /dense: test accuracy/) > 0.4, stdout); // 4 classes: chance is 25%
    assert.equal(percentAfter(stdout, /phase 2: sparsity/), 0.8, stdout);
    assert.ok(percentAfter(stdout, /phase 2: .*uniform soup/) > 0.4, stdout);
    assert.ok(existsSync(join(out, 'results.json')), 'results.json in the run directory');
    assert.ok(existsSync(join(out, 'phase-2')), 'phase checkpoints in the run directory');
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('prune-soup-recalibrate: the hand-made soup keeps the mask and is recalibrated', () => {
  const stdout = runExample('prune-soup-recalibrate.ts', '--tiny');
  assert.equal(percentAfter(stdout, /mask: sparsity/), 0.8, stdout);
  assert.match(stdout, /candidate 1: test accuracy .*\ncandidate 2: test accuracy/);
  assert.match(stdout, /soup before BN recalibration: test accuracy/);
  assert.equal(percentAfter(stdout, /soup: test accuracy \d+\.\d%, sparsity/), 0.8, stdout);
  assert.ok(percentAfter(stdout, /soup: test accuracy/) > 0.4, stdout);
});

test('progress-events: onEvent sees the dense model, both phases and retrain progress', () => {
  const stdout = runExample('progress-events.ts', '--tiny');
  const line = /^events: (.*)$/m.exec(stdout)?.[1] ?? '';
  const counts = Object.fromEntries(line.split(', ').map((part) => [part.split(' ')[0], Number(part.split(' ')[1])]));
  assert.equal(counts['dense-start'], 1, stdout);
  assert.equal(counts['dense-done'], 1, stdout);
  assert.equal(counts['phase-start'], 2, stdout);
  assert.equal(counts['phase-done'], 2, stdout);
  assert.ok(counts.progress >= 5, `a progress event per retrain at least: ${line}`); // dense + 2 phases × 2 candidates
  assert.match(stdout, /phase 2 done: uniform soup \d+\.\d%/);
});
