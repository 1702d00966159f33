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
import { cpus, hostname } from 'node:os';
import { Worker, type Job } from 'bullmq';
import { getNumThreads, setNumThreads } from '../../tensor/create.js';
import { retrainCandidateOnce, type RetrainJob, type RetrainProgress, type RetrainResult } from '../../sms/retrain.js';
import { completePhase, type PhaseMergeSpec, type PhaseResult } from '../../sms/phase.js';
import type { SmsConfig } from '../../sms/config.js';
import { SparseSoupsError } from '../../util/errors.js';
import { SharedDirectoryStore, type ArtifactStore } from './artifact-store.js';
import { ArtifactError } from './errors.js';
import { MERGE_QUEUE, RETRAIN_QUEUE, describeRetrainJob, redisConnection } from './names.js';

/** Data of a retrain job. */
export interface RetrainJobData {
  job: RetrainJob;
}

/** Data of a phase's merge job: the merge spec and its children's ids in job order. */
export interface MergeJobData {
  merge: PhaseMergeSpec;
  children: string[];
}

/** What a merge job returns (and the coordinator's runPhase resolves with). */
export interface PhaseOutcome {
  results: RetrainResult[];
  phase: PhaseResult;
}

export type WorkerEvent =
  | { type: 'ready'; name: string; queues: string[] }
  | { type: 'job-start'; queue: string; jobId: string; attempt: number }
  | { type: 'job-done'; queue: string; jobId: string; seconds: number; reused?: boolean }
  | { type: 'job-failed'; queue: string; jobId: string; attempt: number; error: string }
  | { type: 'error'; error: string }
  | { type: 'closing' };

export interface RunWorkerOptions {
  /** redis://host:port[/db] */
  redis: string;
  /** Jobs this process runs at once (default 1; see docs/distributed.md: on CPU run one process per slot). */
  concurrency?: number;
  /** libtorch threads per job (default: the job's, else the config's `threads`, else cores / concurrency). */
  threads?: number;
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
  options: Pick<RunWorkerOptions, 'threads' | 'concurrency'>,
  onProgress?: (p: RetrainProgress) => void,
): Promise<RetrainResult> {
  const job = data.job;
  // The parent is verified again by loadCheckpoint and the mask by loadMask; checking both here first names the job's inputs clearly.
  await store.get(job.parent);
  await store.get(job.mask);
  const threads = threadsForJob(job.threads, job.config, options);
  useThreads(threads);
  const result = await retrainCandidateOnce({ ...job, threads }, onProgress);
  const published = await store.put(result.checkpoint.path);
  if (published.sha256 !== result.checkpoint.sha256) {
    throw new ArtifactError(
      result.checkpoint.path,
      `${describeRetrainJob(job)}: the written checkpoint's checksum changed before it was published`,
    );
  }
  return { ...result, checkpoint: published };
}

/** Orders the children's results as the jobs were given (`getChildrenValues` keys are `<prefix>:<queue>:<id>`). */
export function childResultsInOrder(values: Record<string, unknown>, children: string[]): RetrainResult[] {
  return children.map((id) => {
    const key = Object.keys(values).find((k) => k.endsWith(`:${RETRAIN_QUEUE}:${id}`));
    if (key === undefined)
      throw new SparseSoupsError(
        `merge: no result of child job ${id} (children with results: ${Object.keys(values).join(', ') || 'none'})`,
      );
    return values[key] as RetrainResult;
  });
}

/** Runs a phase's merge job: every candidate verified on the store, then completePhase. */
export async function processMergeJob(
  data: MergeJobData,
  values: Record<string, unknown>,
  store: ArtifactStore,
  options: Pick<RunWorkerOptions, 'threads' | 'concurrency'>,
): Promise<PhaseOutcome> {
  const results = childResultsInOrder(values, data.children);
  for (const r of results) await store.get(r.checkpoint);
  await store.get(data.merge.mask.mask);
  useThreads(threadsForJob(undefined, data.merge.config, options));
  const phase = await completePhase(data.merge, results);
  return { results, phase };
}

/**
 * Processes both queues until `signal` aborts. Resolves once both BullMQ
 * workers have closed (running jobs finish first).
 */
export async function runWorker(options: RunWorkerOptions): Promise<void> {
  checkPositiveInteger('concurrency', options.concurrency);
  checkPositiveInteger('threads', options.threads);
  const emit = options.onEvent ?? (() => {});
  const connection = redisConnection(options.redis);
  const store = options.store ?? new SharedDirectoryStore();
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const common = {
    connection,
    prefix: options.prefix,
    name,
    concurrency: options.concurrency ?? 1,
    lockDuration: options.lockDurationMs ?? 300_000,
    stalledInterval: options.stalledIntervalMs ?? 30_000,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: false,
  };
  const timed = async <T>(queue: string, job: Job, work: () => Promise<T>, reused?: (r: T) => boolean): Promise<T> => {
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
  };

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
  const merge = new Worker<MergeJobData, PhaseOutcome>(
    MERGE_QUEUE,
    (job) => timed(MERGE_QUEUE, job, async () => processMergeJob(job.data, await job.getChildrenValues(), store, options)),
    common,
  );
  for (const w of [retrain, merge]) w.on('error', (e) => emit({ type: 'error', error: e.message }));

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
