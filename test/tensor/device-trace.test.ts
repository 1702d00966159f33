// The device trace (src/tensor/device-trace.ts): logical devices on the CPU,
// tags carried from an op's inputs to its outputs, mixed-device ops, onHost,
// and the negative controls the pipeline test relies on: a soup averaged on
// the CPU, or a CPU mask applied to a model on the GPU, does not pass.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaAvailable, cudaDeviceCount, ones, tensor, tidy, zeros } from '../../src/tensor/index.js';
import { onHost, traceDevices, traceDevicesFromEnv } from '../../src/tensor/device-trace.js';
import { Linear } from '../../src/nn/index.js';
import { Generator } from '../../src/tensor/index.js';
import { PruningMask } from '../../src/prune/mask.js';
import { averageStates, disposeState } from '../../src/soup/average.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointRef } from '../../src/checkpoints/store.js';

const ALIAS = { alias: { 'cuda:0': 'cpu', 'cuda:1': 'cpu' } };

test('an aliased device: tensors report it, ops carry it to their outputs, CUDA looks available', () => {
  const physical = cudaAvailable();
  const trace = traceDevices(ALIAS);
  try {
    assert.equal(cudaAvailable(), true);
    assert.equal(cudaDeviceCount(), 2);
    tidy(() => {
      const a = ones([2, 3], { device: 'cuda:1' });
      assert.equal(a.device, 'cuda:1');
      const b = a.mul(2).add(1).sum([1]);
      assert.equal(b.device, 'cuda:1');
      assert.deepEqual(b.toNumbers(), [9, 9]); // computed on the CPU
      const c = a.to(null, 'cuda:0');
      assert.equal(c.device, 'cuda:0');
      const d = tensor([1, 2], [2]);
      assert.equal(d.device, 'cpu');
    });
  } finally {
    trace.stop();
  }
  assert.equal(cudaAvailable(), physical, 'stop() restores the addon');
  const r = trace.report();
  assert.deepEqual(r.mixed, []);
  assert.ok((r.created['cuda:1'] ?? 0) >= 4 && r.created['cuda:0'] === 1 && r.created.cpu === 1, JSON.stringify(r.created));
});

test('an op on tensors of two devices is recorded with its stack; copies between devices are not', () => {
  const trace = traceDevices(ALIAS);
  try {
    tidy(() => {
      const gpu = ones([3], { device: 'cuda:0' });
      const cpu = ones([3]);
      gpu.add(cpu);
      gpu.copy_(cpu);
    });
  } finally {
    trace.stop();
  }
  const { mixed } = trace.report();
  assert.equal(mixed.length, 1);
  assert.equal(mixed[0].op, 'add');
  assert.deepEqual(mixed[0].devices.sort(), ['cpu', 'cuda:0']);
  assert.match(mixed[0].stack, /device-trace\.test\.ts/);
});

test('onHost counts its tensors apart; expect keeps where off-device tensors came from', () => {
  const trace = traceDevices({ ...ALIAS, expect: 'cuda:0' });
  try {
    tidy(() => {
      onHost(() => zeros([2]));
      zeros([2]); // forgot the device
      zeros([2], { device: 'cuda:0' });
    });
  } finally {
    trace.stop();
  }
  const r = trace.report();
  assert.deepEqual(r.host, { cpu: 1 });
  assert.deepEqual(r.created, { cpu: 1, 'cuda:0': 1 });
  assert.equal(r.offDevice.length, 1);
  assert.equal(r.offDevice[0].op, 'zeros');
  assert.match(r.offDevice[0].stack, /device-trace\.test\.ts/);
  assert.throws(() => {
    const t = traceDevices();
    try {
      traceDevices();
    } finally {
      t.stop();
    }
  }, /already running/);
});

test('a module moved to the device moves every parameter; a CPU mask applied to it is a mixed-device op', () => {
  const trace = traceDevices({ ...ALIAS, expect: 'cuda:0' });
  const net = onHost(() => new Linear(4, 2, { generator: new Generator(1) }));
  let mask: PruningMask | null = null;
  try {
    net.to({ device: 'cuda:0' });
    assert.ok(net.parameters().every((p) => p.device === 'cuda:0'));
    mask = PruningMask.dense([['weight', net.weight]]); // made where the weight is
    mask.apply(net);
    assert.deepEqual(trace.report().mixed, []);
    const cpuMask = onHost(() => PruningMask.dense([['weight', zeros([2, 4])]]));
    cpuMask.apply(net);
    cpuMask.dispose();
  } finally {
    trace.stop();
    mask?.dispose();
    net.dispose();
  }
  const r = trace.report();
  assert.equal(r.mixed.length, 1, 'the CPU mask times the GPU weight');
  assert.equal(r.mixed[0].op, 'mul_');
});

test('negative control: candidates loaded to the CPU and averaged there are flagged; loaded to the device they are not', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'device-trace-'));
  try {
    const refs: CheckpointRef[] = [];
    for (const seed of [1, 2]) {
      const net = new Linear(4, 2, { generator: new Generator(seed) });
      refs.push(await saveCheckpoint(join(dir, `c${seed}.safetensors`), net.stateDict()));
      net.dispose();
    }
    const averaged = async (device?: string) => {
      const trace = traceDevices({ ...ALIAS, expect: 'cuda:0' });
      try {
        const states = [];
        for (const ref of refs) states.push(await loadCheckpoint(ref, { device }));
        const soup = averageStates(states);
        for (const s of [...states, soup]) disposeState(s);
      } finally {
        trace.stop();
      }
      return trace.report();
    };
    const onCpu = await averaged();
    assert.ok((onCpu.created.cpu ?? 0) > 0, 'averaging on the CPU makes CPU tensors');
    assert.ok(
      onCpu.offDevice.some((o) => /average\.ts/.test(o.stack)),
      'and the trace says where',
    );
    const onDevice = await averaged('cuda:0');
    assert.deepEqual(Object.keys(onDevice.created), ['cuda:0']);
    assert.deepEqual(onDevice.mixed, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('traceDevicesFromEnv reads SPARSE_SOUPS_DEVICE_ALIAS (and nothing without it)', () => {
  assert.equal(traceDevicesFromEnv({}), null);
  assert.throws(() => traceDevicesFromEnv({ SPARSE_SOUPS_DEVICE_ALIAS: 'cuda:0' }), /logical=physical/);
  const trace = traceDevicesFromEnv({ SPARSE_SOUPS_DEVICE_ALIAS: 'cuda:3=cpu' });
  try {
    assert.equal(cudaDeviceCount(), 4);
    tidy(() => assert.equal(ones([1], { device: 'cuda:3' }).device, 'cuda:3'));
  } finally {
    trace?.stop();
  }
});
