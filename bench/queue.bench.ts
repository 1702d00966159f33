/**
 * Queue executor scaling: SMS phase wall time (retrains + merge, from the
 * pipeline's phase-start to phase-done) with 1, 2 and 3 local worker
 * processes of one libtorch/BLAS thread each on a loopback redis-server,
 * beside the inline executor with one thread. ConvNet on a Fashion-MNIST
 * subset, m candidates, P phases; the dense model is trained once and
 * reused by every run. Phase 1 includes each worker's first data load
 * (cold workers); the later phases (warm) are summarized by their median,
 * and split into the merge job (serial: one job per phase) and the rest
 * (the retrains, spread over the workers, plus queue overhead).
 *
 *   node --import tsx bench/queue.bench.ts [--workers 1,2,3] [--candidates 4] [--images 4096] [--epochs 2] [--phases 3]
 *
 * Prints a table and a final JSON line {"bench":"queue",...}. The machine's
 * load average is printed with it: the timings are only comparable under
 * similar load.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis } from '../test/helpers/redis.js';

// One BLAS thread in this process too (OpenBLAS sizes its pool when libtorch loads, at the imports below).
for (const v of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) process.env[v] = '1';
const { setNumThreads } = await import('../src/tensor/index.js');
const { parseSmsConfig } = await import('../src/sms/config.js');
const { runSms } = await import('../src/sms/pipeline.js');
const { InlineExecutor } = await import('../src/sms/executor.js');
const { createQueueExecutor } = await import('../src/exec/queue/queue-executor.js');
type SmsEvent = import('../src/sms/pipeline.js').SmsEvent;
type RetrainExecutor = import('../src/sms/executor.js').RetrainExecutor;

const { values: args } = parseArgs({
  options: {
    workers: { type: 'string', default: '1,2,3' },
    candidates: { type: 'string', default: '4' },
    images: { type: 'string', default: '4096' },
    epochs: { type: 'string', default: '2' },
    phases: { type: 'string', default: '3' },
  },
});
const workerCounts = args.workers.split(',').map(Number);
const config = parseSmsConfig({
  name: 'bench-queue',
  seed: 1,
  data: { dataset: 'fashion-mnist', trainSubset: Number(args.images), testSubset: 2000, batchSize: 128 },
  model: { name: 'convnet' },
  dense: { epochs: 1, maxLr: 0.1 },
  pruning: { goalSparsity: 0.75, phases: Number(args.phases) },
  retrain: { epochs: Number(args.epochs) },
  candidates: { count: Number(args.candidates) },
  evaluation: { oodCorruptions: ['gaussian_noise'], oodSeverities: [3], oodSubset: 500 },
  baselines: { imp: false, impLonger: false, ensemble: true },
});

const WORKER_MAIN = new URL('../src/exec/queue/worker-main.js', import.meta.url).pathname;

/** Seconds of each phase's merge job, as its worker reported them. */
const mergeSeconds = new Map<string, number>();

function startWorker(url: string, label: string): Promise<ChildProcess> {
  const env = { ...process.env };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_MAIN, '--redis', url, '--threads', '1'], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let buffered = '';
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`worker exited before it was ready (${code})`)));
    child.stdout?.on('data', (d: Buffer) => {
      buffered += d.toString();
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const e = JSON.parse(line) as { type: string; jobId?: string; seconds?: number };
        if (e.type === 'ready') resolve(child);
        const phase = /\.p(\d+)\.merge$/.exec(e.jobId ?? '');
        if (e.type === 'job-done' && phase) mergeSeconds.set(`${label}/${phase[1]}`, e.seconds ?? NaN);
      }
    });
  });
}

async function stopWorker(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Phase wall times (s) of one run, in a fresh run directory seeded with the dense checkpoint of `denseDir` (if given). */
async function timeRun(executor: RetrainExecutor, root: string, label: string, denseDir?: string): Promise<number[]> {
  const workDir = join(root, label);
  mkdirSync(workDir, { recursive: true });
  if (denseDir !== undefined)
    for (const f of ['dense.safetensors', 'dense.safetensors.sha256.json']) copyFileSync(join(denseDir, f), join(workDir, f));
  const starts = new Map<number, number>();
  const seconds: number[] = [];
  const onEvent = (e: SmsEvent): void => {
    if (e.type === 'phase-start') starts.set(e.phase, performance.now());
    if (e.type === 'phase-done') seconds.push((performance.now() - (starts.get(e.result.phase) ?? 0)) / 1000);
  };
  await runSms(config, { workDir, executor, onEvent });
  return seconds;
}

interface Row {
  executor: string;
  workers: number;
  phaseSeconds: number[];
  /** Queue runs: the merge job's share of each phase. */
  mergeSeconds?: number[];
}

setNumThreads(1);
const root = mkdtempSync(join(tmpdir(), 'bench-queue-'));
const rows: Row[] = [];
const loadBefore = loadavg();
try {
  // The inline run trains the dense model (not timed: phases only); the queue runs start from a copy of it.
  rows.push({ executor: 'inline, 1 thread', workers: 0, phaseSeconds: await timeRun(new InlineExecutor(), root, 'inline') });
  const denseDir = join(root, 'inline');
  for (const n of workerCounts) {
    const redis = await startRedis();
    const workers: ChildProcess[] = [];
    const executor = createQueueExecutor({ redis: redis.url, pollMs: 1000 });
    try {
      const label = `queue-${n}`;
      for (let i = 0; i < n; i++) workers.push(await startWorker(redis.url, label));
      const phaseSeconds = await timeRun(executor, root, label, denseDir);
      rows.push({
        executor: 'queue',
        workers: n,
        phaseSeconds,
        mergeSeconds: phaseSeconds.map((_, p) => mergeSeconds.get(`${label}/${p + 1}`) ?? NaN),
      });
    } finally {
      await executor.close();
      await Promise.all(workers.map(stopWorker));
      await redis.stop();
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
const loadAfter = loadavg();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const warm = (xs: number[] | undefined): number => median(xs?.slice(1) ?? []);
const summary = rows.map((r) => ({
  ...r,
  coldSeconds: r.phaseSeconds[0],
  warmSeconds: warm(r.phaseSeconds),
  warmMergeSeconds: warm(r.mergeSeconds),
  warmRetrainSeconds: warm(r.mergeSeconds ? r.phaseSeconds.map((t, i) => t - (r.mergeSeconds?.[i] ?? NaN)) : undefined),
}));
const one = summary.find((r) => r.workers === 1);
const f = (x: number, width: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-').padStart(width);
const ratio = (a: number | undefined, b: number): string => (a !== undefined && Number.isFinite(a / b) ? (a / b).toFixed(2) : '-');
process.stdout.write(
  `ConvNet, ${config.data.trainSubset} Fashion-MNIST images, ${config.candidates.count} candidates x ${config.retrain.epochs} epoch(s), ${config.pruning.phases} phases; ` +
    `${cpus().length} cores, load average ${loadBefore[0].toFixed(2)} before, ${loadAfter[0].toFixed(2)} after\n\n`,
);
process.stdout.write(
  '| executor         | workers | phase 1 s (cold) | warm phase s | of which merge s | retrains s | phase speedup vs 1 worker | retrains speedup |\n',
);
process.stdout.write(
  '|------------------|--------:|-----------------:|-------------:|-----------------:|-----------:|--------------------------:|-----------------:|\n',
);
for (const r of summary) {
  process.stdout.write(
    `| ${r.executor.padEnd(16)} | ${String(r.workers || '-').padStart(7)} | ${f(r.coldSeconds, 16)} | ${f(r.warmSeconds, 12)} | ${f(r.warmMergeSeconds, 16)} | ${f(r.warmRetrainSeconds, 10)} | ${ratio(one?.warmSeconds, r.warmSeconds).padStart(25)} | ${ratio(one?.warmRetrainSeconds, r.warmRetrainSeconds).padStart(16)} |\n`,
  );
}
process.stdout.write(
  `${JSON.stringify({ bench: 'queue', cores: cpus().length, loadavgBefore: loadBefore, loadavgAfter: loadAfter, candidates: config.candidates.count, images: config.data.trainSubset, epochs: config.retrain.epochs, phases: config.pruning.phases, rows: summary })}\n`,
);
