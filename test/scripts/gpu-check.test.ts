// scripts/gpu-check.sh, the GPU check, run here as its CPU dry run with tiny sizes and the addon already built
// (`--cpu --addon build/Release/sparse_soups.node`): every step but the build runs as on the GPU machine, on
// the CPU, and the last line is the JSON the check reports. A step that fails is recorded and the others go
// on; a pipeline that refuses `device: cuda` is reported as refused. The whole flow with the build and the
// packed Node (`bash scripts/gpu-check.sh --dry-run`, ~4 minutes here) is too slow for this suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const REPO = new URL('../..', import.meta.url).pathname;
const ADDON = join(REPO, 'build/Release', ['sparse_soups', 'node'].join('.'));
const PYTHON = spawnSync('python3', ['--version']).status === 0;
const SKIP = !existsSync(ADDON) ? 'the addon is not built (bash scripts/setup.sh)' : !PYTHON ? 'no python3' : false;
// The PyTorch peer needs a Python with torch (Debian's python3-torch: scripts/setup-bench.sh).
const TORCH = ['python3', '/usr/bin/python3'].some((py) => spawnSync(py, ['-c', 'import torch']).status === 0);

interface Step {
  ok: boolean;
  error?: string;
  wall_s?: number;
  refused?: boolean;
  [key: string]: unknown;
}
interface Result {
  mode: string;
  ok: boolean;
  resnet20_ratio: number | null;
  wall_s: Record<string, number>;
  total_wall_s: number;
  steps: Record<string, Step>;
}

function gpuCheck(args: string[]): { status: number | null; result: Result; stderr: string; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sparse-soups-gpu-check-test-'));
  const out = join(dir, 'out');
  const env = { ...process.env };
  delete env.GPU_CHECK_DRY_RUN;
  delete env.OUT;
  const r = spawnSync(
    'bash',
    [join(REPO, 'scripts/gpu-check.sh'), '--cpu', '--addon', ADDON, '--out', out, '--work', join(dir, 'work'), ...args],
    {
      cwd: REPO,
      encoding: 'utf8',
      env,
      timeout: 170_000,
    },
  );
  const lines = r.stdout.trim().split('\n');
  const result = JSON.parse(lines[lines.length - 1]) as Result;
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')), result, 'result.json holds the printed line');
  rmSync(dir, { recursive: true, force: true });
  return { status: r.status, result, stderr: r.stderr, out };
}

test('the CPU dry run of the GPU check: every step runs and the JSON line reports each', { skip: SKIP, timeout: 180_000 }, () => {
  const { status, result, stderr } = gpuCheck([]);
  assert.equal(result.mode, 'cpu-dry-run');
  assert.deepEqual(Object.keys(result.steps), ['env', 'node', 'build', 'tests', 'resnet20', 'sms']);
  for (const name of ['node', 'build', 'tests', 'sms'])
    assert.equal(result.steps[name].ok, true, `${name}: ${result.steps[name].error}\n${stderr}`);
  // test/gpu: the CUDA tests skip here; the CPU-only error test runs.
  assert.equal(result.steps.tests.fail, 0);
  assert.ok((result.steps.tests.pass as number) >= 1);
  assert.equal(typeof result.steps.resnet20.ours_samples_per_s, 'number', String(result.steps.resnet20.error));
  assert.equal(typeof result.steps.sms.soup_test_accuracy, 'number');
  for (const name of Object.keys(result.steps)) assert.equal(typeof result.wall_s[name], 'number');
  if (TORCH) {
    assert.equal(status, 0, stderr);
    assert.equal(result.ok, true);
    assert.equal(typeof result.resnet20_ratio, 'number');
    assert.equal(result.steps.resnet20.target, 0.95);
  } else {
    // Without PyTorch the env step and the peer fail, and the rest still runs.
    assert.equal(status, 1);
    assert.equal(result.steps.env.ok, false);
    assert.match(String(result.steps.resnet20.error), /pytorch: no Python with torch/);
  }
});

test(
  'a pipeline that refuses device: cuda is reported as refused, in the JSON, and fails the check',
  { skip: SKIP, timeout: 120_000 },
  () => {
    const { status, result } = gpuCheck(['--steps', 'node,build,sms', '--sms-device', 'cuda']);
    assert.equal(status, 1);
    assert.deepEqual(Object.keys(result.steps), ['node', 'build', 'sms']);
    const sms = result.steps.sms;
    assert.equal(sms.ok, false);
    // Today's pipeline refuses the device in its config check; one that accepts it fails here for want of a GPU.
    if (sms.refused) assert.match(String(sms.error), /^the pipeline refused device: cuda: sparse-soups: device:/);
    else assert.match(String(sms.error), /cuda/i);
  },
);
