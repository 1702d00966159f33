// QueueExecutor on a real redis-server with three worker processes: a tiny
// SMS run through BullMQ flows gives the inline run's checkpoints and soups
// bit for bit, even with a worker SIGKILLed mid-retrain (its job stalls and
// another worker retries it) and across a Redis restart that loses every
// job; enqueuing a finished run again reuses it; a job that fails every
// attempt rejects the run naming the job and the reason. Everything started
// here is stopped at the end, also on failure.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { parseSmsConfig, configHash, type SmsConfig } from '../../src/sms/config.js';
import type { SmsResults } from '../../src/sms/pipeline.js';
import type { RetrainJob, RetrainProgress } from '../../src/sms/retrain.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { buildModel } from '../../src/sms/context.js';
import { pruneCheckpoint, type PruneResult } from '../../src/sms/masks.js';
import { saveCheckpoint, verifiedCheckpoint } from '../../src/checkpoints/store.js';
import { createQueueExecutor } from '../../src/exec/queue/queue-executor.js';
import { processRetrainJob, runWorker, type WorkerEvent } from '../../src/exec/queue/worker.js';
import { SharedDirectoryStore } from '../../src/exec/queue/artifact-store.js';
import { ArtifactError, QueueJobFailedError } from '../../src/util/errors.js';
import { MERGE_QUEUE, RETRAIN_QUEUE, mergeJobId, redisConnection, retrainJobId, runKey } from '../../src/exec/queue/names.js';
import { haveRedis, startRedis, type TestRedis } from '../helpers/redis.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const skip = !haveRedis && 'redis-server not installed (/usr/bin/redis-server)';

// 540 training images (the tiny dataset less its validation split), batch 16: 33 steps an epoch;
// 8 retrain epochs give a progress event at step 50 of 264, a few hundred ms before the retrain ends.
const config = parseSmsConfig(
  tinyRunConfig({
    name: 'test-queue',
    seed: 7,
    data: { batchSize: 16 },
    retrain: { epochs: 8 },
    candidates: { count: 3 },
    baselines: { imp: false, impLonger: false, ensemble: true },
  }),
);

const WORKER_MAIN = new URL('../../src/exec/queue/worker-main.js', import.meta.url).pathname;
const SRC = (path: string): string => new URL(`../../src/${path}`, import.meta.url).href;
/** One libtorch and one BLAS thread everywhere, so every process computes the same bits. */
const ONE_THREAD_ENV: NodeJS.ProcessEnv = { OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };

function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...ONE_THREAD_ENV };
  delete env.NODE_TEST_CONTEXT; // the children are not test files
  return env;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal`, then SIGKILL after `graceMs`; resolves once the process has exited. */
async function stopProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

interface TestWorker {
  child: ChildProcess;
  pid: number;
  events: Record<string, unknown>[];
}

const workers: TestWorker[] = [];
let redis: TestRedis | null = null;
const dirs: string[] = [];
const tempDir = (prefix: string): string => {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
};

/** A worker process (worker-main) with short locks, so a killed worker's job is retried within seconds. */
async function startWorker(url: string): Promise<TestWorker> {
  const args = [
    '--import',
    'tsx',
    WORKER_MAIN,
    '--redis',
    url,
    '--threads',
    '1',
    '--lock-duration-ms',
    '4000',
    '--stalled-interval-ms',
    '1000',
  ];
  const child = spawn(process.execPath, args, { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  const worker: TestWorker = { child, pid: child.pid ?? -1, events: [] };
  workers.push(worker);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  let buffered = '';
  const ready = new Promise<void>((resolve, reject) => {
    child.once('exit', (code, signal) =>
      reject(new Error(`worker ${child.pid} exited before it was ready (${code ?? signal}): ${stderr}`)),
    );
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const event = JSON.parse(line) as Record<string, unknown>;
        worker.events.push(event);
        if (event.type === 'ready') resolve();
      }
    });
  });
  await ready;
  return worker;
}

/**
 * runSms in a fresh node process with one BLAS thread (OpenBLAS sizes its
 * pool at load; this test process has as many threads as cores), inline or
 * through a QueueExecutor on `url`. Resolves with its results (or its exit
 * code and output when it failed).
 */
function runCoordinator(
  mode: 'inline' | 'queue',
  workDir: string,
  cfg: SmsConfig,
  url = '',
): { process: ChildProcess; done: Promise<{ results: SmsResults | null; code: number | null; signal: string | null; output: string }> } {
  const code = `
    const [mode, workDir, configJson, url] = process.argv.slice(1);
    const { setNumThreads } = await import(${JSON.stringify(SRC('tensor/index.ts'))});
    const { runSms } = await import(${JSON.stringify(SRC('sms/pipeline.ts'))});
    const { InlineExecutor } = await import(${JSON.stringify(SRC('sms/executor.ts'))});
    const { createQueueExecutor } = await import(${JSON.stringify(SRC('exec/queue/queue-executor.ts'))});
    setNumThreads(1);
    const log = (line) => process.stderr.write('[coordinator] ' + line + '\\n');
    const executor = mode === 'inline' ? new InlineExecutor() : createQueueExecutor({ redis: url, pollMs: 500, backoffMs: 500, log });
    try {
      const results = await runSms(JSON.parse(configJson), { workDir, executor });
      process.stdout.write('\\n' + JSON.stringify({ results }) + '\\n');
    } finally {
      await executor.close();
    }`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, mode, workDir, JSON.stringify(cfg), url], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ results: SmsResults | null; code: number | null; signal: string | null; output: string }>((resolve) => {
    child.once('exit', (code, signal) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      const results = code === 0 && last.startsWith('{') ? (JSON.parse(last) as { results: SmsResults }).results : null;
      resolve({ results, code, signal, output: `${stdout}\n${stderr}` });
    });
  });
  return { process: child, done };
}

async function expectResults(run: ReturnType<typeof runCoordinator>): Promise<SmsResults> {
  const r = await run.done;
  assert.ok(r.results !== null, `the coordinator failed (${r.code ?? r.signal}):\n${r.output.slice(-3000)}`);
  return r.results;
}

/** Same candidate checkpoint bytes, validation accuracies and soup metrics, phase by phase. */
async function assertSameRun(actual: SmsResults, expected: SmsResults, what: string): Promise<void> {
  assert.equal(actual.phases.length, expected.phases.length);
  for (let p = 0; p < expected.phases.length; p++) {
    const [a, e] = [actual.phases[p], expected.phases[p]];
    assert.equal(a.candidates.length, e.candidates.length);
    for (let i = 0; i < e.candidates.length; i++) {
      const ca = (await verifiedCheckpoint(a.candidates[i].checkpoint))!;
      const ce = (await verifiedCheckpoint(e.candidates[i].checkpoint))!;
      assert.ok(ca !== null && ce !== null, 'both checkpoints exist and verify');
      assert.equal(ca.sha256, ce.sha256, `${what}: phase ${p + 1} candidate ${i}: same checkpoint bytes`);
      assert.equal(a.candidates[i].validationAccuracy, e.candidates[i].validationAccuracy);
    }
    assert.equal(a.maskHash, e.maskHash);
    assert.deepEqual(a.soups.uniform.metrics, e.soups.uniform.metrics, `${what}: phase ${p + 1} uniform soup`);
    assert.deepEqual(a.soups.greedy.metrics, e.soups.greedy.metrics, `${what}: phase ${p + 1} greedy soup`);
    assert.deepEqual(a.ensemble, e.ensemble);
  }
}

let inline: Promise<SmsResults> | null = null;
/** The reference: the same config inline with one thread (computed once, beside the workers' start). */
const inlineResults = (): Promise<SmsResults> => (inline ??= expectResults(runCoordinator('inline', tempDir('queue-inline-'), config)));

before(async () => {
  if (skip) return;
  redis = await startRedis();
  void inlineResults().catch(() => {}); // awaited by the tests
  const url = redis.url;
  await Promise.all([startWorker(url), startWorker(url), startWorker(url)]);
});

after(async () => {
  await Promise.all(workers.map((w) => stopProcess(w.child)));
  for (const w of workers) assert.ok(!isAlive(w.pid), `worker ${w.pid} stopped`);
  await redis?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

test('job ids: function of config, run directory, phase, kind and candidate; no colons; URLs parsed', () => {
  const job = (dir: string, index: number, kind: RetrainJob['kind'] = 'sms'): RetrainJob => ({
    config,
    phase: 2,
    spec: { ...candidateSpecs(config)[0], index },
    kind,
    parent: { path: '/x', sha256: 'a' },
    mask: { path: '/y', sha256: 'b' },
    output: join(dir, 'phase-2', `candidate-${index}.safetensors`),
  });
  const id = retrainJobId(job('/runs/a', 1));
  assert.match(id, new RegExp(`^${configHash(config)}\\.[0-9a-f]{8}\\.p2\\.sms\\.c1$`));
  assert.equal(retrainJobId(job('/runs/a', 1)), id, 'deterministic');
  assert.notEqual(retrainJobId(job('/runs/b', 1)), id, 'another run directory, other jobs');
  assert.notEqual(retrainJobId(job('/runs/a', 1, 'imp')), id);
  assert.ok(!id.includes(':'), 'BullMQ refuses custom ids with colons');
  assert.equal(
    mergeJobId({ config, phase: 2, runDir: '/runs/a' } as Parameters<typeof mergeJobId>[0]),
    `${runKey(config, '/runs/a')}.p2.merge`,
  );
  const conn = redisConnection('redis://user:p%40ss@10.1.2.3:6380/2');
  assert.deepEqual(
    [conn.host, conn.port, conn.db, conn.username, conn.password, conn.maxRetriesPerRequest],
    ['10.1.2.3', 6380, 2, 'user', 'p@ss', null],
  );
  assert.throws(() => redisConnection('localhost:6379'), /redis:\/\//);
  assert.throws(() => createQueueExecutor({ redis: 'http://x' }), /redis:\/\//);
});

/** A parent checkpoint (the initialization), its 50% mask and a merge spec: inputs for hand-made jobs. */
async function jobInputs(dir: string, cfg: SmsConfig): Promise<{ parent: RetrainJob['parent']; pruned: PruneResult }> {
  const model = buildModel(cfg, cfg.seed);
  mkdirSync(join(dir, 'phase-1'), { recursive: true });
  try {
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    const pruned = await pruneCheckpoint(cfg, parent, null, 0.5, 1, join(dir, 'phase-1', 'mask.safetensors'));
    return { parent, pruned };
  } finally {
    model.dispose();
  }
}

test(
  'a worker refuses inputs whose checksum differs from the job and names the file',
  async () => {
    const dir = tempDir('queue-artifacts-');
    const { parent, pruned } = await jobInputs(dir, config);
    const job: RetrainJob = {
      config,
      phase: 1,
      spec: candidateSpecs(config)[0],
      kind: 'sms',
      parent,
      mask: { ...pruned.mask, sha256: '0'.repeat(64) },
      output: join(dir, 'phase-1', 'candidate-0.safetensors'),
    };
    const store = new SharedDirectoryStore();
    await assert.rejects(processRetrainJob({ job }, store, { threads: 1 }), (e: unknown) => {
      assert.ok(e instanceof ArtifactError, String(e));
      assert.ok(e.message.startsWith(`${pruned.mask.path}: checksum`) && e.message.includes('does not match'), e.message);
      return true;
    });
    await assert.rejects(store.get({ path: 'relative/file', sha256: 'x' }), /must be absolute/);
    await assert.rejects(store.get({ path: join(dir, 'missing'), sha256: 'x' }), /not found on .*mounted at the same path/);
    await assert.rejects(new SharedDirectoryStore('/somewhere/else').put(parent.path), /outside the shared directory/);
    assert.ok(!existsSync(job.output), 'nothing trained');
  },
);

test(
  '3 workers, one SIGKILLed mid-retrain: the run completes and equals the inline run bit for bit; enqueuing it again reuses it',
  { skip },
  async () => {
    const url = redis!.url;
    const dir = tempDir('queue-kill-');
    const watch = {
      events: new QueueEvents(RETRAIN_QUEUE, { connection: redisConnection(url) }),
      queue: new Queue(RETRAIN_QUEUE, { connection: redisConnection(url) }),
    };
    try {
      watch.events.on('error', () => {}); // the coordinator logs connection trouble
      watch.queue.on('error', () => {});
      await watch.events.waitUntilReady();
      let victim: Promise<{ jobId: string; pid: number }> | null = null;
      watch.events.on('progress', ({ jobId, data }) => {
        const p = data as RetrainProgress;
        if (victim !== null || p.step >= p.totalSteps) return;
        victim = (async () => {
          const job = await watch.queue.getJob(jobId);
          const pid = Number(job?.processedBy?.split(':').pop());
          const worker = workers.find((w) => w.pid === pid);
          if (!worker) throw new Error(`job ${jobId} is run by ${job?.processedBy}, not one of our workers`);
          worker.child.kill('SIGKILL');
          return { jobId, pid };
        })();
        victim.catch(() => {}); // awaited below
      });
      const t0 = performance.now();
      const queued = await expectResults(runCoordinator('queue', dir, config, url));
      const seconds = (performance.now() - t0) / 1000;
      assert.ok(victim !== null, 'a worker was killed mid-retrain');
      const { jobId, pid } = await (victim as Promise<{ jobId: string; pid: number }>);
      assert.ok(!isAlive(pid));
      const retried = (await watch.queue.getJob(jobId))!;
      assert.ok(retried.stalledCounter >= 1 || retried.attemptsStarted >= 2, `job ${jobId} was taken up again after its worker died`);
      assert.notEqual(Number(retried.processedBy?.split(':').pop()), pid, 'another worker finished it');
      await assertSameRun(queued, await inlineResults(), 'queue with a killed worker vs inline');
      process.stderr.write(`# queue run with a killed worker: ${seconds.toFixed(1)} s\n`);

      // The same flow enqueued again (a coordinator restarted after the run): every phase is reused, no job runs again.
      const starts = (): number => workers.reduce((n, w) => n + w.events.filter((e) => e.type === 'job-start').length, 0);
      const before = starts();
      const again = await expectResults(runCoordinator('queue', dir, config, url));
      await assertSameRun(again, queued, 'enqueued again');
      assert.equal(starts(), before, 'no job ran twice');
    } finally {
      await watch.events.close();
      await watch.queue.close();
    }
  },
);

test('a job failing on every attempt rejects the phase naming the job and its error, within bounded time', { skip }, async () => {
  const dir = tempDir('queue-fail-');
  const { parent, pruned } = await jobInputs(dir, config);
  const bad = { ...config, name: 'test-queue-bad', model: { name: 'no-such-model', options: {} } } as SmsConfig;
  const jobs: RetrainJob[] = candidateSpecs(bad).map((spec) => ({
    config: bad,
    phase: 1,
    spec,
    kind: 'sms' as const,
    parent,
    mask: pruned.mask,
    output: join(dir, 'phase-1', `candidate-${spec.index}.safetensors`),
  }));
  const executor = createQueueExecutor({ redis: redis!.url, attempts: 3, backoffMs: 200, pollMs: 500 });
  const t0 = performance.now();
  try {
    await assert.rejects(executor.run(jobs), (e: unknown) => {
      assert.ok(e instanceof QueueJobFailedError, String(e));
      assert.match(e.message, /^queue job \S+\.p1\.sms\.c\d \(phase 1, sms candidate \d\) failed after 3 attempts: ConfigError: /);
      assert.match(e.message, /no-such-model/);
      return true;
    });
    assert.ok(performance.now() - t0 < 30_000, 'rejected within 30 s');
    // The coordinator refuses inputs that are not what the jobs say before anything is enqueued.
    await assert.rejects(
      executor.run([{ ...jobs[0], config, parent: { ...parent, sha256: 'f'.repeat(64) } }]),
      (e: unknown) => e instanceof ArtifactError && e.message.startsWith(parent.path),
    );
  } finally {
    await executor.close();
  }
});

test(
  'Redis restarted mid-run without its data: workers and coordinator reconnect, the flow is enqueued again, the run completes',
  { skip },
  async () => {
    const url = redis!.url;
    const dir = tempDir('queue-restart-');
    const watch = new QueueEvents(RETRAIN_QUEUE, { connection: redisConnection(url) });
    let restarted: Promise<void> | null = null;
    try {
      watch.on('error', () => {}); // Redis is down for a moment on purpose
      await watch.waitUntilReady();
      watch.on('progress', () => {
        restarted ??= (async () => {
          await redis!.stop();
          await new Promise((r) => setTimeout(r, 500));
          await redis!.start();
        })();
      });
      const run = runCoordinator('queue', dir, config, url);
      const queued = await expectResults(run);
      assert.match(
        (await run.done).output,
        /not in Redis any more .* enqueuing it again/,
        'the coordinator noticed the lost flow and enqueued it again',
      );
      assert.ok(restarted !== null, 'Redis was restarted during the run');
      await restarted;
      await assertSameRun(queued, await inlineResults(), 'queue across a Redis restart vs inline');

      // Redis loses the finished run too: the flow is enqueued afresh, and every retrain and
      // merge job finds its result on the shared directory instead of computing it again.
      await redis!.stop();
      await redis!.start();
      const mark = workers.map((w) => w.events.length);
      const again = await expectResults(runCoordinator('queue', dir, config, url));
      await assertSameRun(again, queued, 'enqueued again after Redis lost the finished run');
      const doneSince = (): Record<string, unknown>[] =>
        workers.flatMap((w, i) => w.events.slice(mark[i])).filter((e) => e.type === 'job-done');
      for (let i = 0; i < 50 && !doneSince().some((e) => e.queue === MERGE_QUEUE); i++) await new Promise((r) => setTimeout(r, 100));
      const done = doneSince();
      assert.equal(done.filter((e) => e.queue === MERGE_QUEUE).length, config.pruning.phases, 'one merge job per phase ran');
      for (const e of done) assert.equal(e.reused, true, `${String(e.queue)} job ${String(e.jobId)} reused its recorded result`);
    } finally {
      await watch.close();
    }
  },
);

test('a coordinator killed mid-phase and started again takes over its jobs and finishes the run', { skip }, async () => {
  const url = redis!.url;
  const dir = tempDir('queue-coordinator-');
  const watch = new QueueEvents(RETRAIN_QUEUE, { connection: redisConnection(url) });
  try {
    watch.on('error', () => {});
    await watch.waitUntilReady();
    const first = runCoordinator('queue', dir, config, url);
    const progressed = new Promise<void>((resolve) => watch.once('progress', () => resolve()));
    await Promise.race([progressed, first.done]);
    first.process.kill('SIGKILL');
    const killed = await first.done;
    assert.equal(killed.signal, 'SIGKILL', `the first coordinator was killed mid-run, not finished:\n${killed.output.slice(-2000)}`);
    const second = runCoordinator('queue', dir, config, url);
    const results = await expectResults(second);
    // The second coordinator takes over the first one's jobs (waiting for them in the queue, or finding
    // their checkpoints finished on disk): no retrain of this run starts twice.
    const key = `${runKey(config, dir)}.`;
    const started = workers
      .flatMap((w) => w.events)
      .filter((e) => e.type === 'job-start' && e.queue === RETRAIN_QUEUE && String(e.jobId).startsWith(key))
      .map((e) => String(e.jobId));
    assert.ok(started.some((id) => id.includes('.p1.')), 'the first coordinator had enqueued phase 1');
    assert.equal(new Set(started).size, started.length, `no retrain ran twice: ${started.join(', ')}`);
    await assertSameRun(results, await inlineResults(), 'coordinator restarted vs inline');
  } finally {
    await watch.close();
  }
});

test('runWorker with concurrency 2 supervises two worker processes that run jobs and stop with the signal', { skip }, async () => {
  const dir = tempDir('queue-pool-');
  const { parent, pruned } = await jobInputs(dir, config);
  const jobs: RetrainJob[] = candidateSpecs(config).map((spec) => ({
    config,
    phase: 1,
    spec: { ...spec, epochs: 1 },
    kind: 'sms' as const,
    parent,
    mask: pruned.mask,
    output: join(dir, 'phase-1', `pool-${spec.index}.safetensors`),
  }));
  const stop = new AbortController();
  const events: WorkerEvent[] = [];
  const readyNames = new Set<string>();
  let bothReady = (): void => {};
  const ready = new Promise<void>((resolve) => (bothReady = resolve));
  const pool = runWorker({
    redis: redis!.url,
    concurrency: 2,
    threads: 1,
    lockDurationMs: 4000,
    stalledIntervalMs: 1000,
    signal: stop.signal,
    onEvent: (e) => {
      events.push(e);
      if (e.type === 'ready') readyNames.add(e.name);
      if (readyNames.size === 2) bothReady();
    },
  });
  const executor = createQueueExecutor({ redis: redis!.url, pollMs: 500 });
  try {
    await Promise.race([ready, pool]);
    assert.equal(readyNames.size, 2, 'two worker processes took jobs');
    const pids = [...readyNames].map((n) => Number(n.split(':').pop()));
    assert.ok(
      pids.every((pid) => pid !== process.pid && isAlive(pid)),
      'the workers are child processes',
    );
    const results = await executor.run(jobs);
    for (let i = 0; i < jobs.length; i++) assert.equal(results[i].checkpoint.path, jobs[i].output);
    stop.abort();
    await pool;
    for (const pid of pids) assert.ok(!isAlive(pid), `worker process ${pid} stopped`);
    assert.ok(events.some((e) => e.type === 'job-done'));
  } finally {
    stop.abort();
    await executor.close();
    await pool;
  }
});
