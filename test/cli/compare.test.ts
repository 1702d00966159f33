// `sparse-soups run` with `seeds` (one run per seed, then their comparison)
// and `sparse-soups compare`, as child processes on the tiny run of
// test/helpers/tiny-run.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8', timeout: 120_000 });

test('run with seeds: a run directory and report per seed, then the comparison; compare collects them again', { timeout: 240_000 }, () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-seeds-'));
  try {
    const configFile = join(root, 'seeds.yaml');
    writeFileSync(configFile, stringify(tinyRunConfig({ name: 'cli-seeds', seeds: [7, 8] })));
    const out = join(root, 'runs');
    const r = cli('run', configFile, '--out', out, '--threads', '1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /replicate 1\/2 \(seed 7\): run directory .*cli-seeds-[0-9a-f]{12}\n/);
    assert.match(r.stderr, /replicate 2\/2 \(seed 8\): run directory /);

    const seedOf = (dir: string): number => (JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { seed: number }).seed;
    const runDirs = readdirSync(out)
      .filter((d) => /^cli-seeds-[0-9a-f]{12}$/.test(d))
      .map((d) => join(out, d))
      .sort((a, b) => seedOf(a) - seedOf(b));
    assert.deepEqual(runDirs.map(seedOf), [7, 8]);
    for (const dir of runDirs) assert.ok(existsSync(join(dir, 'results.json')) && existsSync(join(dir, 'report.html')), dir);
    const compareDirs = readdirSync(out).filter((d) => /^cli-seeds-compare-[0-9a-f]{8}$/.test(d));
    assert.equal(compareDirs.length, 1);
    const compareDir = join(out, compareDirs[0]);
    assert.match(r.stdout, /^\n2 replicates of cli-seeds \(seeds 7, 8\)/);
    assert.match(r.stdout, /\| phase \| metric \| comparison \| retrain epochs \| mean difference \| 95% CI \| verdict \|/);
    assert.match(r.stdout, /\| 2 \| test acc \| SMS uniform - best candidate \(val\) \| 4 \/ 4 \| [+-]\d+\.\d\d \| /);
    assert.ok(r.stdout.includes(`report: ${join(compareDir, 'compare.html')}\n`), r.stdout);
    assert.ok(r.stdout.includes(`comparison: ${join(compareDir, 'compare.json')}, ${join(compareDir, 'compare.csv')}`));

    // compare on the same runs (either order) writes the same tables elsewhere.
    const elsewhere = join(root, 'cmp');
    const c = cli('compare', runDirs[1], runDirs[0], '--out', elsewhere);
    assert.equal(c.status, 0, c.stderr);
    for (const f of ['compare.json', 'compare.csv', 'compare.html']) assert.ok(existsSync(join(elsewhere, f)), f);
    assert.match(readFileSync(join(elsewhere, 'compare.html'), 'utf8'), /<svg id="plot-paired-test"/);
    const tables = (s: string): string => s.slice(s.indexOf('| phase'), s.indexOf('\n\nPhase '));
    assert.ok(tables(c.stdout).length > 100);
    assert.match(c.stdout, /^2 replicates of cli-seeds \(seeds 8, 7\)/);

    // Not replicates: one line, exit 1.
    const odir = join(root, 'other-run');
    mkdirSync(odir);
    cpSync(join(runDirs[1], 'results.json'), join(odir, 'results.json'));
    const config = JSON.parse(readFileSync(join(runDirs[1], 'config.json'), 'utf8'));
    writeFileSync(join(odir, 'config.json'), JSON.stringify({ ...config, pruning: { ...config.pruning, phases: 1 } }));
    const bad = cli('compare', runDirs[0], odir);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^sparse-soups: not replicates of one experiment: pruning\.phases is 2 in .* but 1 in .*; replicates differ only in seed/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
