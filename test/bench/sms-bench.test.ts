// bench/sms.bench.ts and its PyTorch peer bench/peer/sms_quick.py: the peer compiles and its defaults are the
// quick config's workload; the bench's arguments, commands, GNU time parsing, stage breakdown, table and JSON
// line are pure functions (bench/sms-bench-lib.ts), checked here without running either side. No timings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  formatTable,
  marksFromEvents,
  marksFromPeer,
  nodeRunArgs,
  parseSmsBenchArgs,
  parseTimeVerbose,
  peerArgs,
  processesNote,
  smokeConfig,
  stageSeconds,
  summarize,
  type SideResult,
} from '../../bench/sms-bench-lib.js';
import { procAvailable, processTree, treeRssKiB } from '../../bench/proc-tree.js';

const REPO = new URL('../..', import.meta.url).pathname;
const PEER = join(REPO, 'bench/peer/sms_quick.py');
const PYTHON = '/usr/bin/python3';
const NO_PYTHON = existsSync(PYTHON) ? false : `${PYTHON} is missing`;
const NO_TORCH =
  NO_PYTHON || (spawnSync(PYTHON, ['-c', 'import torch']).status === 0 ? false : 'python3-torch is not installed (scripts/setup-bench.sh)');

test('the PyTorch peer compiles', { skip: NO_PYTHON }, () => {
  // compile() only: nothing written (no __pycache__ in the checkout).
  const r = spawnSync(PYTHON, ['-c', 'import sys; compile(open(sys.argv[1]).read(), sys.argv[1], "exec")', PEER], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test("the peer's defaults are configs/fashion-mnist-quick.yaml's workload", { skip: NO_TORCH }, () => {
  const code = `import json, sys; sys.path.insert(0, sys.argv[1]); import sms_quick; print(json.dumps(vars(sms_quick.parse_args([]))))`;
  const env = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };
  const r = spawnSync(PYTHON, ['-c', code, join(REPO, 'bench/peer')], { encoding: 'utf8', env });
  assert.equal(r.status, 0, r.stderr);
  const peer = JSON.parse(r.stdout) as Record<string, number | string>;
  const c = parseYaml(readFileSync(join(REPO, 'configs/fashion-mnist-quick.yaml'), 'utf8')) as Record<string, Record<string, unknown>>;
  assert.equal(peer.train_subset, c.data.trainSubset);
  assert.equal(peer.test_subset, c.data.testSubset);
  assert.equal(peer.batch_size, c.data.batchSize);
  assert.equal(peer.ood_subset, c.evaluation.oodSubset);
  assert.equal(peer.dense_epochs, c.dense.epochs);
  assert.equal(peer.max_lr, c.dense.maxLr);
  assert.equal(peer.weight_decay, c.dense.weightDecay);
  assert.equal(peer.weight_decay, c.retrain.weightDecay);
  assert.equal(peer.retrain_epochs, c.retrain.epochs);
  assert.equal(peer.phases, (c.pruning as { phases: number }).phases);
  assert.equal(peer.goal_sparsity, (c.pruning as { goalSparsity: number }).goalSparsity);
  assert.equal(peer.candidates, (c.candidates as { count: number }).count);
  assert.equal(peer.bn_fraction, c.merge.bnRecalibrationFraction);
  assert.equal(peer.seed, c.seed as unknown as number);
  // What the peer hard-codes: the config's corruptions, severities, seeds and methods.
  assert.deepEqual(c.evaluation.oodCorruptions, ['gaussian_noise', 'defocus_blur', 'contrast']);
  assert.deepEqual(c.evaluation.oodSeverities, [2, 4]);
  assert.deepEqual((c.candidates as { vary: { seed: number[] } }).vary.seed, [1, 2, 3]);
  assert.equal(c.merge.method, 'uniform');
  assert.equal(c.pruning.criterion, 'global');
  assert.equal(c.retrain.schedule, 'LLR');
  assert.equal(c.dense.schedule, 'linear');
  assert.deepEqual(c.baselines, { imp: true, impLonger: false, ensemble: true });
});

test('parseSmsBenchArgs: defaults, lists and bad values', () => {
  const d = parseSmsBenchArgs([]);
  assert.deepEqual(d, {
    threads: 2,
    variants: ['default'],
    peer: true,
    peerFirst: false,
    config: 'configs/fashion-mnist-quick.yaml',
    python: '/usr/bin/python3',
    keep: false,
    smoke: false,
    build: true,
    sampleMs: 200,
  });
  const o = parseSmsBenchArgs(['--threads', '1', '--variants', 'default, processes', '--no-peer', '--smoke', '--no-build', '--keep']);
  assert.equal(o.threads, 1);
  assert.deepEqual(o.variants, ['default', 'processes']);
  assert.equal(o.peer, false);
  assert.equal(o.smoke, true);
  assert.equal(o.build, false);
  assert.equal(o.keep, true);
  assert.throws(() => parseSmsBenchArgs(['--threads', '0']), /--threads: expected a positive integer, got '0'/);
  assert.throws(() => parseSmsBenchArgs(['--variants', 'queue']), /--variants: 'queue' is not one of default, inline, processes/);
  assert.throws(() => parseSmsBenchArgs(['--variants', '', '--no-peer']), /nothing to run/);
  assert.throws(() => parseSmsBenchArgs(['--thread', '2']), /Unknown option/);
});

test('the commands: thread counts on both sides, processes as workers of one thread', () => {
  const cli = ['dist/src/cli/main.js'];
  // The default with threads = cores: no flag, so the auto executor splits the cores among its workers.
  assert.deepEqual(nodeRunArgs(cli, 'q.yaml', '/o', 'default', 2, 2), ['dist/src/cli/main.js', 'run', 'q.yaml', '--out', '/o']);
  assert.deepEqual(nodeRunArgs(cli, 'q.yaml', '/o', 'default', 1, 2).slice(5), ['--threads', '1']);
  assert.deepEqual(nodeRunArgs(cli, 'q.yaml', '/o', 'inline', 2, 2).slice(5), ['--executor', 'inline', '--threads', '2']);
  assert.deepEqual(nodeRunArgs(cli, 'q.yaml', '/o', 'processes', 2, 2).slice(5), ['--executor', 'processes', '--workers', '2']);
  assert.equal(processesNote(2, 2), null);
  assert.match(processesNote(1, 2) ?? '', /coordinating process uses all 2 cores/);
  assert.deepEqual(peerArgs('p.py', '/o', 2, false), ['p.py', '--threads', '2', '--out', '/o']);
  assert.deepEqual(peerArgs('p.py', '/o', 2, true).slice(5), [
    '--train-subset',
    '1024',
    '--test-subset',
    '500',
    '--ood-subset',
    '200',
    '--dense-epochs',
    '1',
    '--retrain-epochs',
    '1',
  ]);
  const smoke = smokeConfig({
    name: 'q',
    data: { dataset: 'fashion-mnist', trainSubset: 12000 },
    dense: { epochs: 4, maxLr: 0.1 },
    retrain: { epochs: 2 },
  });
  assert.deepEqual(smoke, {
    name: 'q-smoke',
    data: { dataset: 'fashion-mnist', trainSubset: 1024, testSubset: 500 },
    evaluation: { oodSubset: 200 },
    dense: { epochs: 1, maxLr: 0.1 },
    retrain: { epochs: 1 },
  });
});

test('parseTimeVerbose reads GNU time -v', () => {
  const text = [
    '\tCommand being timed: "node x.js"',
    '\tUser time (seconds): 512.31',
    '\tSystem time (seconds): 40.02',
    '\tPercent of CPU this job got: 183%',
    '\tElapsed (wall clock) time (h:mm:ss or m:ss): 5:01.22',
    '\tMaximum resident set size (kbytes): 612344',
    '\tExit status: 0',
  ].join('\n');
  assert.deepEqual(parseTimeVerbose(text), {
    maxRssKiB: 612344,
    userSeconds: 512.31,
    systemSeconds: 40.02,
    cpuPercent: 183,
    exitStatus: 0,
  });
  assert.equal(parseTimeVerbose('Command terminated by signal 9'), null);
});

test('stageSeconds: setup, dense, each phase and finish, from events.jsonl or the peer marks', () => {
  const t0 = Date.parse('2026-01-01T00:00:00.000Z');
  const events = [
    { time: '2026-01-01T00:00:02.000Z', type: 'run-start', threads: 2, executor: 'inline' },
    { time: '2026-01-01T00:00:03.000Z', type: 'dense-start', epochs: 4 },
    { time: '2026-01-01T00:01:03.000Z', type: 'dense-done', testAccuracy: 0.9 },
    { time: '2026-01-01T00:01:04.000Z', type: 'phase-start', phase: 1 },
    { time: '2026-01-01T00:02:03.000Z', type: 'phase-done', phase: 1 },
    { time: '2026-01-01T00:04:03.000Z', type: 'phase-done', phase: 2 },
    { time: '2026-01-01T00:04:04.000Z', type: 'run-done' },
  ]
    .map((e) => JSON.stringify(e))
    .join('\n');
  const stages = stageSeconds(t0, t0 + 245_000, marksFromEvents(events));
  assert.deepEqual(stages, { setup: 3, dense: 60, 'phase 1': 60, 'phase 2': 120, finish: 2 });
  const peer = marksFromPeer({ 'dense-start': t0 / 1000 + 1, 'dense-done': t0 / 1000 + 11, 'phase-1-done': t0 / 1000 + 21 });
  assert.deepEqual(stageSeconds(t0, t0 + 22_000, peer), { setup: 1, dense: 10, 'phase 1': 10, finish: 1 });
});

function row(label: string, side: SideResult['side'], wallSeconds: number, exitCode = 0): SideResult {
  return {
    label,
    side,
    command: `${label} cmd`,
    exitCode,
    wallSeconds,
    peakTreeRssMiB: 700.4,
    maxProcessRssMiB: 650,
    cpuSeconds: 500,
    load: { before: 1, after: 2, mean: 1.5 },
    stages: { setup: 2, dense: 50 },
    retrainLoopSeconds: 200,
    accuracy: { dense: 0.88, uniformSoup: 0.87, greedySoup: 0.871, impMean: 0.86, sparsity: 0.9 },
  };
}

test('summarize: the wall-time ratio of the first sparse-soups run to PyTorch, memory by label; the table', () => {
  const rows = [
    row('sparse-soups (default: inline)', 'sparse-soups', 300),
    row('PyTorch 1.13', 'pytorch', 400),
    row('sparse-soups (processes)', 'sparse-soups', 240),
  ];
  const s = summarize(rows, { config: 'configs/fashion-mnist-quick.yaml', smoke: false, commit: 'abc1234', threads: 2, cores: 2 });
  assert.equal(s.wallRatio, 0.75);
  assert.deepEqual(s.wallRatios, { 'sparse-soups (default: inline)': 0.75, 'sparse-soups (processes)': 0.6 });
  assert.equal(s.target, 0.5);
  assert.deepEqual(s.peakTreeRssMiB, { 'sparse-soups (default: inline)': 700, 'PyTorch 1.13': 700, 'sparse-soups (processes)': 700 });
  assert.deepEqual(JSON.parse(JSON.stringify(s)), s); // one JSON line, nothing lost
  assert.equal(
    summarize([row('sparse-soups', 'sparse-soups', 300), row('PyTorch', 'pytorch', 400, 1)], {
      config: 'c',
      smoke: false,
      commit: 'x',
      threads: 2,
      cores: 2,
    }).wallRatio,
    null,
  );

  const table = formatTable(rows).split('\n');
  assert.equal(table.length, 5);
  assert.match(table[0], /^\| side \| wall s \| setup s \| dense s \| retrain loops s \|/);
  assert.match(
    table[2],
    /^\| sparse-soups \(default: inline\) \| 300\.0 \| 2\.0 \| 50\.0 \| 200\.0 \| 500\.0 \| 700 \| 650 \| 1\.50 \(1\.00→2\.00\) \| 87\.00 \| 86\.00 \|$/,
  );
});

test('proc-tree: this process is in its own tree and has a resident size', { skip: procAvailable() ? false : 'no /proc' }, () => {
  assert.ok(processTree(process.pid).includes(process.pid));
  assert.ok(treeRssKiB(process.pid) > 1024);
  assert.equal(treeRssKiB(process.pid, true) >= 0, true);
});
