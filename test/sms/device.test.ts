// `device` and `precision`: a run on a CUDA device keeps every tensor there,
// checked on the CPU through the device trace (src/tensor/device-trace.ts):
// 'cuda:0' is served by the CPU while every tensor is tagged with the device
// it was asked for, so a model, mask, optimizer buffer, soup, BN statistic or
// batch left on the CPU shows up as a CPU tensor or as an op on two devices
// (test/tensor/device-trace.test.ts shows that a soup averaged on the CPU is
// caught). Numbers are the CPU's, so the run must match a CPU run bit for bit.
// A CPU-only build refuses `device: cuda` before any work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaAvailable, type Tensor } from '../../src/tensor/index.js';
import { traceDevices, type DeviceTraceReport } from '../../src/tensor/device-trace.js';
import { BatchNorm2d, Conv2d, Linear, Module } from '../../src/nn/index.js';
import { registerModel, type ModelConfig } from '../../src/models/registry.js';
import { configHash, normalizedConfigJson, parseSmsConfig, type SmsConfig } from '../../src/sms/config.js';
import { runSms, type SmsResults } from '../../src/sms/pipeline.js';
import { prepareAndValidate } from '../../src/sms/validate.js';
import { computeDevice, onDevice } from '../../src/sms/device.js';
import { verifiedCheckpoint } from '../../src/checkpoints/store.js';
import { ConfigError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

/** conv (stride 2) - batch norm - ReLU - linear: BN recalibration has statistics to compute. */
class TinyBnNet extends Module {
  readonly conv: Conv2d;
  readonly bn = this.registerModule('bn', new BatchNorm2d(4));
  readonly fc: Linear;
  constructor({ inChannels, numClasses, imageSize, generator }: ModelConfig) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, 4, 3, { stride: 2, padding: 1, generator }));
    const side = Math.ceil(imageSize / 2);
    this.fc = this.registerModule('fc', new Linear(4 * side * side, numClasses, { generator }));
  }
  forward(x: Tensor): Tensor {
    return this.fc.forward(this.bn.forward(this.conv.forward(x)).relu().flatten(1));
  }
}
registerModel('tiny-bn-net', (c) => new TinyBnNet(c), 'a conv-BN-linear net for the device tests');

const bnConfig = (overrides: Partial<SmsConfig> = {}): SmsConfig => {
  const c = parseSmsConfig(tinyRunConfig({ name: 'test-device', baselines: { imp: true, impLonger: true, ensemble: true } }));
  return { ...c, model: { name: 'tiny-bn-net', options: {} }, ...overrides };
};

async function tracedRun(config: SmsConfig): Promise<{ results: SmsResults; report: DeviceTraceReport }> {
  const workDir = mkdtempSync(join(tmpdir(), 'sms-device-'));
  const trace = traceDevices({ alias: { 'cuda:0': 'cpu' }, expect: config.device });
  try {
    const results = await runSms(config, { workDir });
    return { results, report: trace.stop() };
  } finally {
    trace.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

test('device: cuda:0 keeps every tensor of a run on cuda:0 (dense, pruning, candidates, soups, BN recalibration, baselines, evaluation)', async () => {
  const { report } = await tracedRun(bnConfig({ device: 'cuda:0' }));
  const where = report.offDevice.map((o) => `${o.op} on ${o.device}\n${o.stack}`).join('\n---\n');
  assert.deepEqual(Object.keys(report.created), ['cuda:0'], `tensors made off the device:\n${where}`);
  assert.ok(report.created['cuda:0'] > 2000, `a whole run makes many tensors, got ${report.created['cuda:0']}`);
  assert.deepEqual(
    report.mixed.map((m) => `${m.op} on ${m.devices.join(' and ')}\n${m.stack}`),
    [],
    'ops on two devices',
  );
  // The only CPU tensors: each model's seeded initialization before its move, and the host copies checkpoints are written from.
  assert.deepEqual(Object.keys(report.host), ['cpu']);
  assert.ok(report.byOp['fromBuffer@cuda:0'] > 100, 'batches go straight to the device');
  assert.deepEqual(report.autocast, {}, 'fp32: no autocast');
});

test('the cuda:0 run (served by the CPU) gives the CPU run bit for bit', async () => {
  const [gpu, cpu] = [await tracedRun(bnConfig({ device: 'cuda:0' })), await tracedRun(bnConfig())];
  assert.deepEqual(Object.keys(cpu.report.created), ['cpu']);
  const last = (r: SmsResults) => r.phases.at(-1)!;
  assert.deepEqual(last(gpu.results).soups.uniform.metrics, last(cpu.results).soups.uniform.metrics);
  assert.deepEqual(gpu.results.dense, cpu.results.dense);
  assert.deepEqual(
    last(gpu.results).candidates.map((c) => c.validationAccuracy),
    last(cpu.results).candidates.map((c) => c.validationAccuracy),
  );
});

test('precision: bf16 autocasts training, BN recalibration and evaluation on the device', async () => {
  const config = parseSmsConfig(tinyRunConfig({ name: 'test-device-bf16', device: 'cuda:0', precision: 'bf16', pruning: { phases: 1 } }));
  const { results, report } = await tracedRun(config);
  assert.deepEqual(Object.keys(report.created), ['cuda:0']);
  assert.deepEqual(report.mixed, []);
  assert.deepEqual(Object.keys(report.autocast), ['cuda:bfloat16']);
  assert.ok(report.autocast['cuda:bfloat16'] > 50);
  const soup = results.phases[0].soups.uniform.metrics;
  assert.ok(soup.testAccuracy > 0.3, `bf16 trains: soup test accuracy ${soup.testAccuracy}`);
});

test('device and precision in the config: values, defaults out of the hash, fp16 needs CUDA', () => {
  const base = parseSmsConfig(tinyRunConfig());
  assert.equal(base.device, 'cpu');
  assert.equal(base.precision, 'fp32');
  assert.ok(!normalizedConfigJson(base).includes('precision'), 'fp32 leaves the hash as it was');
  const bf16 = parseSmsConfig(tinyRunConfig({ precision: 'bf16' }));
  assert.ok(normalizedConfigJson(bf16).includes('"precision":"bf16"'));
  assert.notEqual(configHash(bf16), configHash(base));
  assert.equal(parseSmsConfig(tinyRunConfig({ device: 'cuda:3' })).device, 'cuda:3');
  assert.throws(() => parseSmsConfig(tinyRunConfig({ device: 'gpu' })), /device: expected 'cpu', 'cuda' or 'cuda:N'/);
  assert.throws(() => parseSmsConfig(tinyRunConfig({ precision: 'fp8' as 'fp16' })), /precision: expected one of 'fp32', 'bf16', 'fp16'/);
  assert.throws(
    () => parseSmsConfig(tinyRunConfig({ precision: 'fp16' }), 'my.yaml'),
    (e: unknown) =>
      e instanceof ConfigError &&
      e.path === 'precision' &&
      /needs a CUDA device.*use precision: bf16 on the CPU \(in my\.yaml\)/.test(e.message),
  );
  assert.equal(parseSmsConfig(tinyRunConfig({ device: 'cuda', precision: 'fp16' })).precision, 'fp16');
  assert.equal(computeDevice({ device: 'cpu' }), undefined);
  assert.equal(computeDevice({ device: 'cuda' }), 'cuda:0');
  assert.equal(onDevice(base, 'cuda:1'), base, 'a CPU config stays on the CPU');
  assert.equal(onDevice({ ...base, device: 'cuda' }, 'cuda:1').device, 'cuda:1');
});

test(
  'without a GPU, device: cuda is refused before the data is read, saying what is missing',
  { skip: cudaAvailable() && 'a GPU is here' },
  async () => {
    // The data directory does not exist: the device check comes first.
    const config = parseSmsConfig(tinyRunConfig({ device: 'cuda', data: { dir: '/nonexistent/data' } }));
    await assert.rejects(prepareAndValidate(config, 'gpu.yaml'), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, 'device');
      assert.match(
        e.message,
        /'cuda' needs a CUDA GPU, but (the addon is linked against libtorch .* without CUDA.*a CUDA libtorch is needed|libtorch has CUDA .* no GPU is visible).*\(in gpu\.yaml\)/,
      );
      return true;
    });
    // With a (logical) GPU, an index past the last one is named.
    const trace = traceDevices({ alias: { 'cuda:0': 'cpu' } });
    try {
      await assert.rejects(
        prepareAndValidate(parseSmsConfig(tinyRunConfig({ device: 'cuda:2' }))),
        /'cuda:2' does not exist: 1 CUDA device visible \(cuda:0\)/,
      );
    } finally {
      trace.stop();
    }
  },
);

test('a checkpoint written from the device verifies and holds what a CPU run writes', async () => {
  const workDir = mkdtempSync(join(tmpdir(), 'sms-device-ckpt-'));
  const trace = traceDevices({ alias: { 'cuda:0': 'cpu' } });
  try {
    const config = parseSmsConfig(tinyRunConfig({ name: 'test-device-ckpt', device: 'cuda:0', pruning: { phases: 1 } }));
    const results = await runSms(config, { workDir });
    assert.ok(await verifiedCheckpoint(results.phases[0].soups.uniform.checkpoint));
    assert.ok((trace.report().host.cpu ?? 0) > 0, 'written through explicit host copies');
  } finally {
    trace.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
});
