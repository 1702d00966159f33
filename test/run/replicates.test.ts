// A config with `seeds` runs one ordinary run directory per seed (the tiny
// run of test/helpers/tiny-run.ts), one after another; running it again
// resumes them (nothing retrained); a single-run entry point refuses it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSmsConfig, replicateConfigs } from '../../src/sms/config.js';
import { runReplicates } from '../../src/run/replicates.js';
import { createRunDir, runDirPath } from '../../src/run/rundir.js';
import { ConfigError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

test('runReplicates: one run directory per seed, in order; a second call resumes them', { timeout: 120_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'replicates-'));
  try {
    const config = parseSmsConfig(tinyRunConfig({ name: 'reps', seed: 99, seeds: [4, 2] }));
    const expected = replicateConfigs(config).map((c) => runDirPath(c, out));
    const calls: string[] = [];
    const dirs = await runReplicates(config, out, {
      threads: 1,
      onReplicateStart: ({ index, count, seed, dir }) => calls.push(`start ${index + 1}/${count} seed ${seed} ${dir}`),
      onReplicateDone: ({ index, seed, results }) => {
        calls.push(`done ${index + 1} seed ${seed} phases ${results.phases.length}`);
      },
    });
    assert.deepEqual(dirs, expected);
    assert.deepEqual(calls, [`start 1/2 seed 4 ${dirs[0]}`, 'done 1 seed 4 phases 2', `start 2/2 seed 2 ${dirs[1]}`, 'done 2 seed 2 phases 2']);
    for (const [i, dir] of dirs.entries()) {
      // An ordinary run directory: its config is the single run of that seed (no seeds), and it finished.
      const recorded = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
      assert.equal(recorded.seed, [4, 2][i]);
      assert.ok(!('seeds' in recorded));
      assert.equal(runDirPath(parseSmsConfig(recorded), out), dir);
      assert.ok(existsSync(join(dir, 'results.json')) && existsSync(join(dir, 'results.csv')));
    }
    // The two seeds gave two different dense models.
    const dense = dirs.map((d) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8')).dense.testLoss);
    assert.notEqual(dense[0], dense[1]);

    // Again: the same directories, every replicate's dense model and candidates reused.
    const before = dirs.map((d) => readFileSync(join(d, 'results.json'), 'utf8'));
    assert.deepEqual(await runReplicates(config, out, { threads: 1 }), dirs);
    for (const [i, dir] of dirs.entries()) {
      const events = readFileSync(join(dir, 'events.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; reused?: boolean });
      const denseDone = events.filter((e) => e.type === 'dense-done');
      assert.deepEqual(denseDone.map((e) => e.reused), [false, true]);
      const strip = (s: string): unknown => JSON.parse(s, (k, v: unknown) => (k === 'seconds' ? undefined : v));
      assert.deepEqual(strip(readFileSync(join(dir, 'results.json'), 'utf8')), strip(before[i]));
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('a config with seeds is not one run: createRunDir refuses it', async () => {
  const config = parseSmsConfig(tinyRunConfig({ seeds: [0, 1] }));
  await assert.rejects(createRunDir(config, join(tmpdir(), 'never-created')), (e: Error) => {
    assert.ok(e instanceof ConfigError);
    assert.match(e.message, /^seeds: a config with seeds \[0, 1\] is one run per seed: run it with runReplicates/);
    return true;
  });
  assert.ok(!existsSync(join(tmpdir(), 'never-created')));
});
