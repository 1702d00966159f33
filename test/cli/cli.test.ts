// The command line, run as a child process: --help of every command, data list and data preview.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { tinyDatasetDir, tinyRunConfig } from '../helpers/tiny-run.js';

const CLI = ['--import', 'tsx', 'src/cli/main.ts'];
const cli = (...args: string[]) => spawnSync(process.execPath, [...CLI, ...args], { encoding: 'utf8' });

test('every command has --help', () => {
  for (const cmd of [
    [],
    ['run'],
    ['resume'],
    ['status'],
    ['report'],
    ['compare'],
    ['worker'],
    ['eval'],
    ['export'],
    ['data'],
    ['data', 'preview'],
    ['bench-infer'],
  ]) {
    const r = cli(...cmd, '--help');
    assert.equal(r.status, 0, `${cmd.join(' ')} --help`);
    assert.match(r.stdout, /Usage: sparse-soups/);
    if (cmd.length === 0) {
      const listed = [...r.stdout.matchAll(/^ {2}([\w-]+) /gm)].map((m) => m[1]);
      assert.deepEqual(
        listed,
        ['run', 'resume', 'report', 'compare', 'eval', 'export', 'worker', 'data', 'status', 'bench-infer', 'help'],
        'commands in their usual order',
      );
    }
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

test('bench-infer prints dense libtorch, onnxruntime and sparse engine rows and a JSON line of ratios', async () => {
  const { exportStateDict } = await import('../../src/checkpoints/model-description.js');
  const { createModel } = await import('../../src/models/registry.js');
  const dir = mkdtempSync(join(tmpdir(), 'bench-infer-'));
  try {
    const d = { name: 'mlp', options: { hiddenSizes: [32] }, inChannels: 1, numClasses: 10, imageSize: 8 };
    const model = createModel('mlp', { hiddenSizes: [32], inChannels: 1, numClasses: 10, imageSize: 8 });
    const file = join(dir, 'mlp.safetensors');
    await exportStateDict(model.stateDict(), d, file, { format: 'dense' });
    model.dispose();
    const r = cli('bench-infer', file, '--latency-runs', '3', '--throughput-runs', '2', '--threads', '1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^dense libtorch +\d/m);
    assert.match(r.stdout, /^onnxruntime +(\d|-)/m);
    assert.match(r.stdout, /^sparse engine +\d/m);
    const json = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { model: string; sparseVsDense: { latency: number } };
    assert.equal(json.model, 'mlp');
    assert.ok(json.sparseVsDense.latency > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--devices: parsed as CUDA indices; refused without the processes executor, for a CPU config, and (without a GPU) before any work', async () => {
  const { parseDevices } = await import('../../src/cli/options.js');
  assert.deepEqual(parseDevices('0,1'), ['cuda:0', 'cuda:1']);
  assert.deepEqual(parseDevices('cuda:2, 0,0'), ['cuda:2', 'cuda:0', 'cuda:0']);
  assert.throws(() => parseDevices('gpu0'), /--devices: expected CUDA device indices such as 0,1/);
  assert.throws(() => parseDevices(','), /--devices: expected CUDA device indices/);
  const { cudaAvailable } = await import('../../src/tensor/index.js');
  const dir = mkdtempSync(join(tmpdir(), 'cli-devices-'));
  try {
    const write = (name: string, device: string): string => {
      const file = join(dir, name);
      writeFileSync(file, stringify(tinyRunConfig({ device })));
      return file;
    };
    const cpu = write('cpu.yaml', 'cpu');
    const gpu = write('gpu.yaml', 'cuda');
    const out = join(dir, 'runs');
    const inline = cli('run', gpu, '--executor', 'inline', '--devices', '0', '--out', out);
    assert.equal(inline.status, 1);
    assert.match(
      inline.stderr,
      /--devices spreads the candidates of --executor processes over GPUs; with --executor inline set the device in the config/,
    );
    const queue = cli('run', gpu, '--executor', 'queue', '--redis', 'redis://127.0.0.1:1', '--devices', '0', '--out', out);
    assert.match(queue.stderr, /give each worker its own --devices/);
    const onCpu = cli('run', cpu, '--executor', 'processes', '--devices', '0,1', '--out', out);
    assert.equal(onCpu.status, 1);
    assert.match(onCpu.stderr, /--devices puts candidates on GPUs, but .*cpu\.yaml computes on the CPU \(device: cpu\)/);
    if (!cudaAvailable()) {
      const noGpu = cli('run', gpu, '--executor', 'processes', '--devices', '0', '--out', out);
      assert.equal(noGpu.status, 1);
      assert.match(noGpu.stderr, /--devices: 'cuda:0' needs a CUDA GPU, but .*a CUDA libtorch is needed/);
      const config = cli('run', gpu, '--out', out);
      assert.match(config.stderr, /device: 'cuda' needs a CUDA GPU, but .*\(in .*gpu\.yaml\)/);
      const worker = cli('worker', '--redis', 'redis://127.0.0.1:1', '--devices', '0,1');
      assert.equal(worker.status, 1);
      assert.match(worker.stderr, /--devices: 'cuda:0' needs a CUDA GPU/);
    }
    assert.ok(!existsSync(out), 'no run directory was created');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('run says which executor it uses and why, on the terminal and in events.jsonl', () => {
  const root = mkdtempSync(join(tmpdir(), 'cli-executor-'));
  try {
    const configFile = join(root, 'config.yaml');
    writeFileSync(configFile, stringify(tinyRunConfig({ name: 'cli-executor', pruning: { phases: 1 } })));
    const r = cli('run', configFile, '--out', root, '--executor', 'inline', '--threads', '1');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^executor: inline \(--executor inline, 1 thread in this process\)$/m);
    const dir = r.stderr.match(/^run directory: (.*)$/m)![1];
    const start = readFileSync(join(dir, 'events.jsonl'), 'utf8')
      .split('\n')
      .map((l) => (l ? JSON.parse(l) : {}))
      .find((e) => e.type === 'run-start');
    assert.equal(start.executor, 'inline');
    assert.equal(start.executorReason, '--executor inline, 1 thread in this process');
    const bad = cli('run', configFile, '--out', root, '--executor', 'threads');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--executor: expected 'auto', 'inline', 'processes' or 'queue', got 'threads'/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
