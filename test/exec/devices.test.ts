// Candidates on GPUs (--devices): the process executor's children and the
// queue's worker processes each compute on their own CUDA device,
// round-robin, several of them sharing one device when there are more
// workers than devices. Checked on the CPU: the device trace serves cuda:0
// and cuda:1 from the CPU, in this process (traceDevices) and in every child
// (SPARSE_SOUPS_DEVICE_ALIAS; each writes its report when it exits), and
// tags every tensor with the device it was asked for.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaAvailable } from '../../src/tensor/index.js';
import { traceDevices, type DeviceTraceReport } from '../../src/tensor/device-trace.js';
import { parseSmsConfig, type SmsConfig } from '../../src/sms/config.js';
import { runSms } from '../../src/sms/pipeline.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { buildModel } from '../../src/sms/context.js';
import { pruneCheckpoint } from '../../src/sms/masks.js';
import type { RetrainJob } from '../../src/sms/retrain.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { ProcessExecutor } from '../../src/exec/process-executor.js';
import { processRetrainJob, runWorker } from '../../src/exec/queue/worker.js';
import { createQueueExecutor } from '../../src/exec/queue/queue-executor.js';
import { SharedDirectoryStore } from '../../src/exec/queue/artifact-store.js';
import { ConfigError } from '../../src/util/errors.js';
import { haveRedis, startRedis } from '../helpers/redis.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const ALIAS = { 'cuda:0': 'cpu', 'cuda:1': 'cpu' };
const ALIAS_ENV = 'cuda:0=cpu,cuda:1=cpu';

type ChildReport = DeviceTraceReport & { pid: number; argv: string[] };

/** Runs `fn` with this process traced and children tracing into files under `dir`; returns this process's report and the children's. */
async function traced(dir: string, fn: () => Promise<void>): Promise<{ own: DeviceTraceReport; children: ChildReport[] }> {
  const saved = { alias: process.env.SPARSE_SOUPS_DEVICE_ALIAS, out: process.env.SPARSE_SOUPS_DEVICE_TRACE };
  process.env.SPARSE_SOUPS_DEVICE_ALIAS = ALIAS_ENV;
  process.env.SPARSE_SOUPS_DEVICE_TRACE = join(dir, 'trace');
  const trace = traceDevices({ alias: ALIAS });
  try {
    await fn();
  } finally {
    trace.stop();
    for (const [key, value] of [
      ['SPARSE_SOUPS_DEVICE_ALIAS', saved.alias],
      ['SPARSE_SOUPS_DEVICE_TRACE', saved.out],
    ] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const children = readdirSync(dir)
    .filter((f) => /^trace\.\d+\.json$/.test(f))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ChildReport);
  return { own: trace.report(), children };
}

const config = parseSmsConfig(tinyRunConfig({ name: 'test-devices', device: 'cuda:0', pruning: { phases: 1 } }));

test("--devices round-robin: each child of the process executor computes on its own device, the coordinator on the config's", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-devices-'));
  try {
    const { own, children } = await traced(dir, async () => {
      // Child 0 on cuda:1, child 1 on cuda:0; the coordinator (dense, pruning, merge) on cuda:0.
      const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, devices: ['cuda:1', 'cuda:0'] });
      try {
        await runSms(config, { workDir: join(dir, 'run'), executor });
      } finally {
        await executor.close();
      }
    });
    assert.deepEqual(Object.keys(own.created), ['cuda:0']);
    assert.deepEqual(own.mixed, []);
    assert.equal(children.length, 2, 'two children reported');
    const devices = children.map((c) => Object.keys(c.created));
    assert.ok(
      devices.every((d) => d.length === 1),
      `each child on one device: ${JSON.stringify(devices)}`,
    );
    assert.deepEqual(devices.flat().sort(), ['cuda:0', 'cuda:1']);
    for (const c of children) assert.deepEqual(c.mixed, [], `child ${c.pid}: no op on two devices`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('more children than devices share them; a CPU config stays on the CPU whatever the devices', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-devices-share-'));
  try {
    const cpuConfig = { ...config, device: 'cpu' };
    const { children } = await traced(dir, async () => {
      const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1, devices: ['cuda:1'] });
      try {
        await runSms(config, { workDir: join(dir, 'gpu'), executor });
        await runSms(cpuConfig, { workDir: join(dir, 'cpu'), executor });
      } finally {
        await executor.close();
      }
    });
    assert.equal(children.length, 2);
    for (const c of children)
      assert.deepEqual(Object.keys(c.created).sort(), ['cpu', 'cuda:1'], `child ${c.pid}: cuda:1 for the GPU run, cpu for the CPU run`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => new ProcessExecutor({ devices: ['cpu'] }), /devices must be CUDA devices \('cuda:N'\), got 'cpu'/);
});

async function retrainJob(dir: string, cfg: SmsConfig): Promise<RetrainJob> {
  mkdirSync(dir, { recursive: true });
  const model = buildModel(cfg, cfg.seed);
  try {
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    const pruned = await pruneCheckpoint(cfg, parent, null, 0.5, 1, join(dir, 'mask.safetensors'));
    return {
      config: cfg,
      phase: 1,
      spec: candidateSpecs(cfg)[0],
      kind: 'sms',
      parent,
      mask: pruned.mask,
      output: join(dir, 'c0.safetensors'),
    };
  } finally {
    model.dispose();
  }
}

test("a queue worker's device replaces a CUDA config's; a CPU config's job stays on the CPU", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sms-devices-queue-'));
  const trace = traceDevices({ alias: ALIAS });
  try {
    const store = new SharedDirectoryStore();
    const gpuJob = await retrainJob(join(dir, 'gpu'), config);
    const before = trace.report().created;
    await processRetrainJob({ job: gpuJob }, store, { threads: 1, device: 'cuda:1' });
    const after = trace.report().created;
    assert.ok((after['cuda:1'] ?? 0) > 100, 'the retrain ran on cuda:1');
    assert.equal(after['cuda:0'], before['cuda:0'], "nothing more on the config's cuda:0");
    assert.equal(after.cpu, before.cpu);
    const cpuJob = await retrainJob(join(dir, 'cpu'), { ...config, device: 'cpu' });
    const cpuBefore = trace.report().created;
    await processRetrainJob({ job: cpuJob }, store, { threads: 1, device: 'cuda:1' });
    assert.equal(trace.report().created['cuda:1'], cpuBefore['cuda:1'], "a CPU job does not go to the worker's GPU");
    assert.deepEqual(trace.report().mixed, []);
  } finally {
    trace.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'a job whose device is not here fails before it loads anything, naming the device',
  { skip: cudaAvailable() && 'a GPU is here' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-devices-nogpu-'));
    try {
      const trace = traceDevices({ alias: ALIAS });
      let job: RetrainJob;
      try {
        job = await retrainJob(dir, config); // the inputs, made on the logical GPU
      } finally {
        trace.stop();
      }
      await assert.rejects(processRetrainJob({ job }, new SharedDirectoryStore(), { threads: 1, device: 'cuda:1' }), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.path, 'job.device');
        assert.match(e.message, /'cuda:1' needs a CUDA GPU/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a worker refuses a device it cannot use before it connects', { skip: cudaAvailable() && 'a GPU is here' }, async () => {
  // Port 1: nothing listens there; the device check must come first.
  await assert.rejects(runWorker({ redis: 'redis://127.0.0.1:1', devices: ['cuda:0'] }), (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.path, '--devices');
    assert.match(e.message, /'cuda:0' needs a CUDA GPU, but .*(a CUDA libtorch is needed|no GPU is visible)/);
    return true;
  });
  const trace = traceDevices({ alias: ALIAS });
  try {
    await assert.rejects(
      runWorker({ redis: 'redis://127.0.0.1:1', device: 'cuda:2' }),
      /--device: 'cuda:2' does not exist: 2 CUDA devices visible \(cuda:0\.\.cuda:1\)/,
    );
  } finally {
    trace.stop();
  }
});

test(
  'queue workers with devices: one worker process per device, each computing there',
  { skip: !haveRedis && 'redis-server not installed' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-devices-workers-'));
    const redis = await startRedis();
    try {
      const { children } = await traced(dir, async () => {
        const jobs: RetrainJob[] = [];
        const base = await retrainJob(join(dir, 'inputs'), config);
        for (let i = 0; i < 4; i++)
          jobs.push({ ...base, spec: { ...base.spec, index: i, seed: 100 + i }, output: join(dir, 'inputs', `c${i}.safetensors`) });
        const stop = new AbortController();
        let ready = 0;
        let bothReady = (): void => {};
        const started = new Promise<void>((resolve) => (bothReady = resolve));
        const pool = runWorker({
          redis: redis.url,
          devices: ['cuda:1', 'cuda:0'], // concurrency defaults to 2: one process per device
          threads: 1,
          signal: stop.signal,
          onEvent: (e) => {
            if (e.type === 'ready' && ++ready === 2) bothReady();
          },
        });
        const executor = createQueueExecutor({ redis: redis.url, pollMs: 200 });
        try {
          await Promise.race([started, pool]);
          assert.equal(ready, 2, 'two worker processes');
          const results = await executor.run(jobs);
          assert.equal(results.length, 4);
        } finally {
          stop.abort();
          await executor.close();
          await pool;
        }
      });
      assert.equal(children.length, 2, 'two worker processes reported');
      for (const c of children) {
        const device = c.argv[c.argv.indexOf('--device') + 1];
        assert.ok(device === 'cuda:0' || device === 'cuda:1', `worker ${c.pid} was given a device: ${c.argv.join(' ')}`);
        assert.ok(
          Object.keys(c.created).every((d) => d === device),
          `worker ${c.pid} on ${device} made tensors on ${Object.keys(c.created)}`,
        );
        assert.deepEqual(c.mixed, []);
      }
      assert.deepEqual(children.map((c) => c.argv[c.argv.indexOf('--device') + 1]).sort(), ['cuda:0', 'cuda:1']);
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
