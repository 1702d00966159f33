/**
 * runWorker: a machine's share of a queued SMS run. It takes retrain jobs
 * (`retrainCandidateOnce`) and phase merges (`completePhase`) from Redis
 * through BullMQ, reading and writing checkpoints on the shared store.
 *
 * libtorch work is synchronous: while a job computes, this process's event
 * loop only runs at the trainer's yields (every 10 steps). BullMQ renews a
 * job's lock from that loop, so the lock lasts long (`lockDurationMs`,
 * default 5 min) to survive long stretches without a yield (evaluation,
 * BN recalibration, a big batch). A worker that dies stops renewing: after
 * the lock expires another worker's stalled check (every `stalledIntervalMs`)
 * puts the job back in the queue, at most `maxStalledCount` times.
 *
 * @example
 * const stop = new AbortController();
 * process.once('SIGTERM', () => stop.abort());
 * await runWorker({ redis: 'redis://10.0.0.5:6379', threads: 4, signal: stop.signal });
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { getNumThreads, setNumThreads } from '../../tensor/create.js';
import { describeRetrainJob, retrainCandidateOnce, type RetrainJob, type RetrainProgress, type RetrainResult } from '../../sms/retrain.js';
import { mergePhaseOnce, type MergeOutcome } from '../../sms/merge.js';
import type { PhaseMergeSpec, PhaseResults } from '../../sms/plan.js';
import type { SmsConfig } from '../../sms/config.js';
import { checkDevice, onDevice } from '../../sms/device.js';
import { ArtifactError, SparseSoupsError } from '../../util/errors.js';
import { childExecArgv } from '../process-executor.js';
import { SharedDirectoryStore, type ArtifactStore } from './artifact-store.js';
import { MERGE_QUEUE, RETRAIN_QUEUE, redisConnection, withoutRepeats } from './names.js';

/** Data of a retrain job. */
export interface RetrainJobData {
  job: RetrainJob;
}

/** Data of a phase's merge job: the merge spec and the phase's retrain results by job name. */
export interface MergeJobData {
  merge: PhaseMergeSpec;
  results: PhaseResults;
}

export type WorkerEvent =
  | { type: 'ready'; name: string; queues: string[] }
  | { type: 'job-start'; queue: string; jobId: string; attempt: number }
  | { type: 'job-done'; queue: string; jobId: string; seconds: number; reused?: boolean }
  | { type: 'job-failed'; queue: string; jobId: string; attempt: number; error: string }
  | { type: 'error'; error: string }
  | { type: 'warning'; message: string }
  | { type: 'closing' };

/** One human-readable line per event (what `sparse-soups worker` prints). */
export function formatWorkerEvent(e: WorkerEvent): string {
  switch (e.type) {
    case 'ready':
      return `worker ${e.name}: taking jobs from ${e.queues.join(', ')}`;
    case 'job-start':
      return `start  ${e.jobId}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ''}`;
    case 'job-done':
      return `done   ${e.jobId} in ${e.seconds.toFixed(1)} s${e.reused ? ' (finished checkpoint reused)' : ''}`;
    case 'job-failed':
      return `failed ${e.jobId} (attempt ${e.attempt}): ${e.error}`;
    case 'error':
      return `queue: ${e.error}`;
    case 'warning':
      return `warning: ${e.message}`;
    case 'closing':
      return 'stopping: no new jobs; running jobs finish first';
  }
}

export interface RunWorkerOptions {
  /** redis://host:port[/db] */
  redis: string;
  /** Jobs at once (default 1, or the number of `devices`); N > 1 runs N worker processes, each one job at a time with `threads` threads (default cores / N). */
  concurrency?: number;
  /** libtorch threads per job (default: the job's, else the config's `threads`, else cores / concurrency). */
  threads?: number;
  /**
   * The CUDA device this worker computes on ('cuda:N'): jobs whose config
   * asks for CUDA run there (a CPU config stays on the CPU). Checked before
   * the worker takes jobs.
   */
  device?: string;
  /**
   * With concurrency N > 1: the devices of the N worker processes,
   * round-robin (process k on devices[k % length]); several processes may
   * share one GPU.
   */
  devices?: string[];
  /** Aborting it stops taking jobs, lets running jobs finish, and resolves runWorker. */
  signal?: AbortSignal;
  /** Where checkpoints are verified (default: SharedDirectoryStore). */
  store?: ArtifactStore;
  /** How long a job's lock lasts without renewal (default 300 000 ms). */
  lockDurationMs?: number;
  /** How often this worker looks for jobs whose worker died (default 30 000 ms). */
  stalledIntervalMs?: number;
  /** Times a job may be recovered from a dead worker before it fails (default 2). */
  maxStalledCount?: number;
  /** This worker's name in job records (default host:pid). */
  name?: string;
  /** BullMQ key prefix (default 'bull'); coordinator and workers must agree. */
  prefix?: string;
  onEvent?: (e: WorkerEvent) => void;
}

/** The libtorch thread count a job runs with. */
export function threadsForJob(
  jobThreads: number | undefined,
  config: SmsConfig,
  options: Pick<RunWorkerOptions, 'threads' | 'concurrency'>,
): number {
  if (jobThreads !== undefined && jobThreads > 0) return jobThreads;
  if (options.threads !== undefined) return options.threads;
  if (config.threads > 0) return config.threads;
  return Math.max(1, Math.floor(cpus().length / (options.concurrency ?? 1)));
}

function useThreads(n: number): void {
  if (getNumThreads() !== n) setNumThreads(n);
}

/** BullMQ keeps only the message: prefix it with the error's type (ArtifactError, ConfigError, ...). */
function withTypeInMessage(e: unknown): Error {
  if (!(e instanceof Error)) return new Error(String(e));
  if (e.name === 'Error' || e.message.startsWith(`${e.name}: `)) return e;
  const wrapped = new Error(`${e.name}: ${e.message}`);
  wrapped.stack = e.stack;
  return wrapped;
}

function checkPositiveInteger(name: string, value: number | undefined): void {
  if (value !== undefined && !(Number.isInteger(value) && value >= 1))
    throw new SparseSoupsError(`worker: ${name} must be a positive integer, got ${value}`);
}

/** Runs one retrain job: inputs verified on the store, then the idempotent retrain, then its output published. */
export async function processRetrainJob(
  data: RetrainJobData,
  store: ArtifactStore,
  options: Pick<RunWorkerOptions, 'threads' | 'concurrency' | 'device'>,
  onProgress?: (p: RetrainProgress) => void,
): Promise<RetrainResult> {
  const job = data.job;
  // The parent is verified again by loadCheckpoint and the mask by loadMask; checking both here first names the job's inputs clearly.
  await store.get(job.parent);
  await store.get(job.mask);
  const threads = threadsForJob(job.threads, job.config, options);
  useThreads(threads);
  const result = await retrainCandidateOnce({ ...job, threads, device: options.device ?? job.device }, onProgress);
  const published = await store.put(result.checkpoint.path);
  if (published.sha256 !== result.checkpoint.sha256) {
    throw new ArtifactError(
      result.checkpoint.path,
      `${describeRetrainJob(job)}: the written checkpoint's checksum changed before it was published`,
    );
  }
  return { ...result, checkpoint: published };
}

/** Runs a phase's merge job: every retrain checkpoint and the mask verified on the store, then mergePhaseOnce (a recorded result with the same inputs is reused). */
export async function processMergeJob(
  data: MergeJobData,
  store: ArtifactStore,
  options: Pick<RunWorkerOptions, 'threads' | 'concurrency' | 'device'>,
): Promise<MergeOutcome> {
  for (const r of Object.values(data.results)) await store.get(r.checkpoint);
  await store.get(data.merge.mask.mask);
  useThreads(threadsForJob(undefined, data.merge.config, options));
  return mergePhaseOnce({ ...data.merge, config: onDevice(data.merge.config, options.device) }, data.results);
}

/** Runs one job at a time: a process's two BullMQ workers (retrain, merge) never interleave jobs (libtorch threads and RNG are process-wide). */
function serialized(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = tail.then(work, work);
    tail = run.catch(() => {});
    return run;
  };
}

/**
 * Processes both queues until `signal` aborts. Resolves once every job that
 * was running has finished and the connections are closed. With
 * `concurrency` N > 1 it supervises N worker processes (worker-main) instead,
 * each taking one job at a time with `threads` threads: libtorch computes on
 * a process's main thread, so jobs in one process would only interleave.
 */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  checkPositiveInteger('concurrency', options.concurrency);
  checkPositiveInteger('threads', options.threads);
  // A device that cannot compute here fails now, not at the first job.
  if (options.device !== undefined && options.devices !== undefined) throw new SparseSoupsError('worker: give device or devices, not both');
  for (const d of options.devices ?? (options.device !== undefined ? [options.device] : []))
    checkDevice(d, options.devices ? '--devices' : '--device');
  // Several devices listed: one worker process per device unless concurrency says otherwise.
  const concurrency = options.concurrency ?? options.devices?.length ?? 1;
  if (concurrency > 1) return runWorkerProcesses({ ...options, concurrency });
  if (options.devices !== undefined) return runWorker({ ...options, devices: undefined, device: options.devices[0] });
  const emit = options.onEvent ?? (() => {});
  const connection = redisConnection(options.redis);
  const store = options.store ?? new SharedDirectoryStore();
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const common = {
    connection,
    prefix: options.prefix,
    name,
    concurrency: 1,
    lockDuration: options.lockDurationMs ?? 300_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: false,
  };
  const oneAtATime = serialized();
  const timed = <T>(queue: string, job: Job, work: () => Promise<T>, reused?: (r: T) => boolean): Promise<T> =>
    oneAtATime(async () => {
      const t0 = performance.now();
      const jobId = job.id ?? '?';
      emit({ type: 'job-start', queue, jobId, attempt: job.attemptsMade + 1 });
      try {
        const r = await work();
        emit({ type: 'job-done', queue, jobId, seconds: (performance.now() - t0) / 1000, reused: reused?.(r) });
        return r;
      } catch (e) {
        const error = withTypeInMessage(e);
        emit({ type: 'job-failed', queue, jobId, attempt: job.attemptsMade + 1, error: error.message });
        throw error;
      }
    });

  const retrain = new Worker<RetrainJobData, RetrainResult>(
    RETRAIN_QUEUE,
    (job) =>
      timed(
        RETRAIN_QUEUE,
        job,
        () =>
          processRetrainJob(job.data, store, options, (p) => {
            // Progress is best effort: a Redis hiccup must not fail the retrain.
            job.updateProgress(p).catch(() => {});
          }),
        (r) => r.reused === true,
      ),
    common,
  );
  const merge = new Worker<MergeJobData, MergeOutcome>(
    MERGE_QUEUE,
    (job) =>
      timed(
        MERGE_QUEUE,
        job,
        async () => processMergeJob(job.data, store, options),
        (r) => r.reused === true,
      ),
    common,
  );
  const reportError = withoutRepeats((error) => emit({ type: 'error', error }));
  for (const w of [retrain, merge]) w.on('error', (e) => reportError(e.message));

  const stopped = new Promise<void>((resolve) => {
    if (options.signal?.aborted) return resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  const running = Promise.all([retrain.run(), merge.run()]);
  try {
    await Promise.all([retrain.waitUntilReady(), merge.waitUntilReady()]);
    emit({ type: 'ready', name, queues: [RETRAIN_QUEUE, MERGE_QUEUE] });
    await Promise.race([stopped, running]);
  } finally {
    emit({ type: 'closing' });
    await Promise.all([retrain.close(), merge.close()]);
    await running.catch(() => {});
  }
}

/** worker-main beside this module: `.ts` from sources (tsx), `.js` from dist/. */
export function workerMainPath(moduleUrl: string = import.meta.url): string {
  const ext = /\.[cm]?ts$/.test(new URL(moduleUrl).pathname) ? '.ts' : '.js';
  return fileURLToPath(new URL(`./worker-main${ext}`, moduleUrl));
}

/** `concurrency` worker-main processes of one job at a time; one that dies is started again until `signal` aborts. */
async function runWorkerProcesses(options: RunWorkerOptions): Promise<void> {
  const emit = options.onEvent ?? (() => {});
  const n = options.concurrency ?? 1;
  if (options.store !== undefined && !(options.store instanceof SharedDirectoryStore)) {
    throw new SparseSoupsError(
      'worker: concurrency > 1 runs worker processes, which use the shared-directory store; give a custom store only with concurrency 1',
    );
  }
  const args = ['--redis', options.redis];
  const flag = (name: string, value: number | string | undefined): void => {
    if (value !== undefined) args.push(name, String(value));
  };
  flag('--threads', options.threads ?? Math.max(1, Math.floor(cpus().length / n)));
  flag('--lock-duration-ms', options.lockDurationMs);
  flag('--stalled-interval-ms', options.stalledIntervalMs);
  flag('--max-stalled-count', options.maxStalledCount);
  flag('--prefix', options.prefix);
  const devices = options.devices ?? (options.device !== undefined ? [options.device] : undefined);
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  for (const v of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS']) delete env[v]; // worker-main sets them from --threads
  let stopping = options.signal?.aborted ?? false;
  const live = new Set<ChildProcess>();

  const start = (slot: number): Promise<void> =>
    new Promise((resolve) => {
      const device = devices === undefined ? [] : ['--device', devices[slot % devices.length]];
      const child = spawn(process.execPath, [...childExecArgv(), workerMainPath(), ...args, ...device], {
        env,
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      live.add(child);
      let buffered = '';
      child.stdout?.on('data', (d: Buffer) => {
        buffered += d.toString();
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          try {
            emit(JSON.parse(line) as WorkerEvent);
          } catch {
            emit({ type: 'warning', message: `worker process ${child.pid}: ${line}` });
          }
        }
      });
      child.once('exit', (code, signal) => {
        live.delete(child);
        if (stopping) return resolve();
        emit({
          type: 'error',
          error: `worker process ${child.pid} (slot ${slot}) exited (${signal ?? `code ${code}`}); starting another in 1 s`,
        });
        setTimeout(() => resolve(stopping ? undefined : start(slot)), 1000);
      });
    });

  const onAbort = (): void => {
    stopping = true;
    for (const child of live) child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all(Array.from({ length: n }, (_, slot) => start(slot)));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
