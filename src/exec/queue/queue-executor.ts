/**
 * QueueExecutor: the retrains of a phase as a BullMQ flow on Redis, run by
 * `runWorker` processes on any number of machines.
 *
 *   merge  <run>.p<phase>.merge            queue sparse-soups-merge
 *     ├─ retrain <run>.p<phase>.sms.c0     queue sparse-soups-retrain
 *     ├─ retrain <run>.p<phase>.sms.c1
 *     └─ ...                               (IMP chains, IMP-longer)
 *
 * BullMQ starts the parent (completePhase) once every child succeeded; the
 * coordinator waits for the parent and returns its { results, phase }.
 * Jobs carry checkpoint references (path + SHA-256) on the artifact store,
 * never weights.
 *
 * Job ids are functions of the work (names.ts), so enqueuing a phase again
 * reuses what exists: a completed merge whose checkpoints still verify is
 * returned as is (a coordinator restarted after a crash), jobs still waiting
 * or running are waited for, failed ones are removed and enqueued again.
 * Retrains are idempotent (retrainCandidateOnce), so a job run twice writes
 * the same checkpoint.
 *
 * Failures: a job that throws is retried `attempts` times with exponential
 * backoff; after the last attempt its phase fails (failParentOnFailure) and
 * runPhase rejects with QueueJobFailedError naming the job and the reason. A
 * killed worker's job goes back to the queue through BullMQ's stalled-job
 * check. The coordinator also checks its jobs' state every `pollMs`, so a
 * missed event or a Redis that restarted empty (the flow is enqueued again;
 * finished checkpoints are reused) does not leave it waiting forever.
 *
 * @example
 * const executor = createQueueExecutor({ redis: 'redis://10.0.0.5:6379' });
 * try {
 *   await runExperiment(run, { executor });
 * } finally {
 *   await executor.close();
 * }
 */
import { Queue, QueueEvents, type Job, type JobsOptions } from 'bullmq';
import type { RetrainExecutor } from '../../sms/executor.js';
import { describeRetrainJob, type RetrainJob, type RetrainProgress, type RetrainResult } from '../../sms/retrain.js';
import type { MergeOutcome } from '../../sms/merge.js';
import type { PhaseMergeSpec, PhaseResults } from '../../sms/plan.js';
import { verifiedCheckpoint, type CheckpointRef } from '../../checkpoints/store.js';
import { ArtifactError, QueueJobFailedError, SparseSoupsError } from '../../util/errors.js';
import { SharedDirectoryStore, type ArtifactStore } from './artifact-store.js';
import { MERGE_QUEUE, RETRAIN_QUEUE, mergeJobId, redisConnection, retrainJobId, withoutRepeats } from './names.js';
import type { MergeJobData, RetrainJobData } from './worker.js';

export interface QueueExecutorOptions {
  /** redis://host:port[/db] */
  redis: string;
  /** Where checkpoints are published and verified (default: SharedDirectoryStore). */
  store?: ArtifactStore;
  /** Attempts per job before the run fails (default 3). */
  attempts?: number;
  /** First retry delay; doubles per attempt (default 5000 ms). */
  backoffMs?: number;
  /** How often the coordinator checks its jobs' state besides listening to events (default 5000 ms). */
  pollMs?: number;
  /** BullMQ key prefix (default 'bull'); coordinator and workers must agree. */
  prefix?: string;
  /** Lines about what the queue did (re-enqueued, reused, stalled jobs). */
  log?: (line: string) => void;
}

interface Connected {
  retrain: Queue<RetrainJobData, RetrainResult>;
  merge: Queue<MergeJobData, MergeOutcome>;
  retrainEvents: QueueEvents;
  mergeEvents: QueueEvents;
}

type AnyQueue = Queue<RetrainJobData, RetrainResult> | Queue<MergeJobData, MergeOutcome>;

/** States in which an existing job is simply waited for. */
const PENDING = new Set(['waiting', 'waiting-children', 'active', 'delayed', 'prioritized']);

export class QueueExecutor implements RetrainExecutor {
  readonly name = 'queue';
  private connected: Promise<Connected> | null = null;
  private closed = false;
  private readonly store: ArtifactStore;
  private readonly jobOptions: JobsOptions;
  private readonly pollMs: number;
  private readonly log: (line: string) => void;
  /** Wake-ups for coordinator loops waiting on a job, by `<queue>/<id>`. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly progress = new Map<string, (p: RetrainProgress) => void>();

  constructor(private readonly options: QueueExecutorOptions) {
    redisConnection(options.redis); // validates the URL now rather than at the first phase
    for (const [key, value] of [
      ['attempts', options.attempts],
      ['backoffMs', options.backoffMs],
      ['pollMs', options.pollMs],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 1))
        throw new SparseSoupsError(`QueueExecutor: ${key} must be a positive integer, got ${value}`);
    }
    this.store = options.store ?? new SharedDirectoryStore();
    this.jobOptions = { attempts: options.attempts ?? 3, backoff: { type: 'exponential', delay: options.backoffMs ?? 5000 } };
    this.pollMs = options.pollMs ?? 5000;
    this.log = options.log ?? (() => {});
  }

  /**
   * The merge step of a phase as a job on the merge queue, run by a worker
   * (mergePhaseOnce). A completed merge of the same inputs whose soups still
   * verify is reused; a failed one is enqueued again.
   */
  async merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome> {
    const q = await this.connect();
    const id = mergeJobId(spec);
    const data: MergeJobData = { merge: spec, results };
    const enqueue = async (): Promise<void> => {
      const state = await q.merge.getJobState(id);
      if (state === 'completed') {
        const job = await q.merge.getJob(id);
        if (job && (await this.reusableOutcome(job, data))) {
          this.log(`${id}: phase ${spec.phase} already merged; reusing its result`);
          return;
        }
        this.log(`${id}: a completed merge whose inputs or checkpoints changed; merging phase ${spec.phase} again`);
        await this.removeJob(q.merge, id, false);
      } else if (state === 'failed') {
        this.log(`${id}: the last attempt at merging phase ${spec.phase} failed; enqueuing it again`);
        await this.removeJob(q.merge, id, false);
      } else if (PENDING.has(state)) {
        this.log(`${id}: the merge of phase ${spec.phase} is already queued (${state}); waiting for it`);
        return;
      }
      await q.merge.add('merge', data, { ...this.jobOptions, jobId: id });
    };
    const failure = async (): Promise<Error> => {
      const job = await q.merge.getJob(id);
      return new QueueJobFailedError(id, `phase ${spec.phase} merge`, job?.attemptsMade ?? 0, job?.failedReason ?? 'unknown reason');
    };
    return this.awaitJob(q.merge, id, enqueue, failure);
  }

  /** One BullMQ job per retrain, results in job order. */
  async run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]> {
    const q = await this.connect();
    const ids = this.childIds(jobs);
    await this.publishInputs(jobs);
    const stop = new AbortController();
    for (let i = 0; i < ids.length; i++) if (onProgress) this.progress.set(ids[i], onProgress);
    try {
      return await Promise.all(
        jobs.map((job, i) => {
          const enqueue = async (): Promise<void> => {
            const state = await q.retrain.getJobState(ids[i]);
            if (state === 'completed' || state === 'failed') await this.clearStaleChild(q, ids[i], job);
            else if (PENDING.has(state)) {
              this.log(`${ids[i]}: ${describeRetrainJob(job)} is already queued (${state}); waiting for it`);
              return;
            }
            await q.retrain.add('retrain', { job }, { ...this.jobOptions, jobId: ids[i] });
          };
          const failure = async (): Promise<Error> => this.retrainFailure(q, ids[i], job);
          return this.awaitJob(q.retrain, ids[i], enqueue, failure, stop.signal).catch((e: unknown) => {
            stop.abort();
            throw e;
          });
        }),
      );
    } finally {
      stop.abort();
      for (const id of ids) this.progress.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const set of this.waiters.values()) for (const wake of set) wake();
    if (this.connected === null) return;
    const q = await this.connected.catch(() => null);
    if (q === null) return;
    await Promise.allSettled([q.retrainEvents.close(), q.mergeEvents.close(), q.retrain.close(), q.merge.close()]);
  }

  private connect(): Promise<Connected> {
    if (this.closed) return Promise.reject(new SparseSoupsError('QueueExecutor: used after close()'));
    this.connected ??= (async () => {
      const connection = redisConnection(this.options.redis);
      const base = { connection, prefix: this.options.prefix };
      const connectionTrouble = withoutRepeats(this.log);
      const q: Connected = {
        retrain: new Queue<RetrainJobData, RetrainResult>(RETRAIN_QUEUE, base),
        merge: new Queue<MergeJobData, MergeOutcome>(MERGE_QUEUE, base),
        retrainEvents: new QueueEvents(RETRAIN_QUEUE, base),
        mergeEvents: new QueueEvents(MERGE_QUEUE, base),
      };
      for (const [events, queue] of [
        [q.retrainEvents, RETRAIN_QUEUE],
        [q.mergeEvents, MERGE_QUEUE],
      ] as const) {
        events.on('completed', ({ jobId }) => this.wake(queue, jobId));
        events.on('failed', ({ jobId }) => this.wake(queue, jobId));
        events.on('removed', ({ jobId }) => this.wake(queue, jobId));
        events.on('stalled', ({ jobId }) =>
          this.log(`${jobId}: stalled (its worker stopped renewing the lock: killed or blocked); back in the queue`),
        );
        events.on('error', (e) => connectionTrouble(`queue events (${queue}): ${e.message}`));
      }
      q.retrainEvents.on('progress', ({ jobId, data }) => {
        if (typeof data === 'object' && data !== null) this.progress.get(jobId)?.(data as RetrainProgress);
      });
      for (const e of [q.retrain, q.merge])
        (e as { on(ev: 'error', f: (e: Error) => void): unknown }).on('error', (err) => connectionTrouble(`queue: ${err.message}`));
      // Listening before anything is enqueued, so no completion goes unheard (polling covers the rest).
      await Promise.all([
        q.retrainEvents.waitUntilReady(),
        q.mergeEvents.waitUntilReady(),
        q.retrain.waitUntilReady(),
        q.merge.waitUntilReady(),
      ]);
      return q;
    })();
    return this.connected;
  }

  private childIds(jobs: RetrainJob[]): string[] {
    const ids = jobs.map(retrainJobId);
    const seen = new Set<string>();
    for (let i = 0; i < ids.length; i++) {
      if (seen.has(ids[i]))
        throw new SparseSoupsError(`QueueExecutor: two jobs of one batch have the same id ${ids[i]} (${describeRetrainJob(jobs[i])})`);
      seen.add(ids[i]);
    }
    return ids;
  }

  /** The coordinator publishes the jobs' inputs (for a shared directory: checks they are what the jobs say). */
  private async publishInputs(jobs: RetrainJob[]): Promise<void> {
    const refs = new Map<string, CheckpointRef>();
    for (const job of jobs) for (const ref of [job.parent, job.mask]) refs.set(`${ref.path}\0${ref.sha256}`, ref);
    for (const ref of refs.values()) {
      const published = await this.store.put(ref.path);
      if (published.path !== ref.path)
        throw new ArtifactError(
          ref.path,
          `the store published it as ${published.path}; job references must be absolute paths on the shared directory`,
        );
      if (published.sha256 !== ref.sha256)
        throw new ArtifactError(
          ref.path,
          `checksum ${published.sha256.slice(0, 12)}… does not match the job's ${ref.sha256.slice(0, 12)}…`,
        );
    }
  }

  private async verifies(ref: CheckpointRef | undefined): Promise<boolean> {
    if (!ref) return false;
    try {
      await this.store.get(ref);
      return true;
    } catch {
      return false;
    }
  }

  /** A completed retrain job may stand for `job` when it had the same inputs and its checkpoint still verifies. */
  private async reusableResult(existing: Job<RetrainJobData, RetrainResult>, job: RetrainJob): Promise<boolean> {
    const old = existing.data?.job;
    const same =
      old !== undefined && old.output === job.output && old.parent.sha256 === job.parent.sha256 && old.mask.sha256 === job.mask.sha256;
    return same && (await this.verifies(existing.returnvalue?.checkpoint));
  }

  /** A completed merge may stand for `data` when it merged the same mask and retrain checkpoints and its soups still verify. */
  private async reusableOutcome(existing: Job<MergeJobData, MergeOutcome>, data: MergeJobData): Promise<boolean> {
    const old = existing.data;
    const outcome = existing.returnvalue;
    if (!old || !outcome || old.merge.mask.mask.sha256 !== data.merge.mask.mask.sha256) return false;
    const inputs = (r: PhaseResults): string => JSON.stringify(Object.entries(r).map(([name, x]) => [name, x.checkpoint.sha256]));
    if (inputs(old.results) !== inputs(data.results)) return false;
    for (const soup of [outcome.result.soups.uniform, outcome.result.soups.greedy])
      if ((await verifiedCheckpoint(soup.checkpoint)) === null) return false;
    return true;
  }

  /** Before a retrain is (re)added: a failed job, or a completed one that no longer stands for its job, is removed so it runs again. */
  private async clearStaleChild(q: Connected, id: string, job: RetrainJob): Promise<void> {
    const state = await q.retrain.getJobState(id);
    if (state === 'failed') await this.removeJob(q.retrain, id, false);
    else if (state === 'completed') {
      const existing = await q.retrain.getJob(id);
      if (existing && !(await this.reusableResult(existing, job))) {
        this.log(`${id}: a completed retrain whose inputs or checkpoint changed; running it again`);
        await this.removeJob(q.retrain, id, false);
      } else if (existing) this.log(`${id}: ${describeRetrainJob(job)} already retrained with the same inputs; reusing its result`);
    }
  }

  private async removeJob(queue: AnyQueue, id: string, removeChildren: boolean): Promise<void> {
    const removed = await queue.remove(id, { removeChildren });
    if (removed !== 1 && (await queue.getJobState(id)) !== 'unknown') {
      throw new SparseSoupsError(
        `queue job ${id} could not be removed to run it again: it (or a child) is locked by a running worker; wait for it or remove it by hand`,
      );
    }
  }

  /**
   * Waits until job `id` completes (its return value) or fails (rejects with
   * `failure()`), enqueuing it with `enqueue` first and again whenever Redis
   * no longer knows it.
   */
  private async awaitJob<D, R>(
    queue: Queue<D, R>,
    id: string,
    enqueue: () => Promise<void>,
    failure: () => Promise<Error>,
    signal?: AbortSignal,
  ): Promise<R> {
    await enqueue();
    for (;;) {
      if (this.closed) throw new SparseSoupsError(`QueueExecutor closed while waiting for queue job ${id}`);
      if (signal?.aborted) throw new SparseSoupsError(`stopped waiting for queue job ${id}: another job of the batch failed`);
      const wakeup = this.wakeup(queue.name, id, this.pollMs);
      const state = await queue.getJobState(id);
      if (state === 'completed') {
        wakeup.cancel();
        const job = await queue.getJob(id);
        if (job) return job.returnvalue;
        continue; // removed between the two calls
      }
      if (state === 'failed') {
        wakeup.cancel();
        throw await failure();
      }
      if (state === 'unknown') {
        wakeup.cancel();
        this.log(`${id}: not in Redis any more (Redis restarted without its data?); enqueuing it again`);
        await enqueue();
        continue;
      }
      await wakeup.promise;
    }
  }

  private wakeup(queue: string, id: string, ms: number): { promise: Promise<void>; cancel: () => void } {
    const key = `${queue}/${id}`;
    let set = this.waiters.get(key);
    if (!set) this.waiters.set(key, (set = new Set()));
    let timer: NodeJS.Timeout | undefined;
    let wake = (): void => {};
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        clearTimeout(timer);
        set.delete(wake);
        if (set.size === 0) this.waiters.delete(key);
        resolve();
      };
      timer = setTimeout(wake, ms);
    });
    set.add(wake);
    return { promise, cancel: wake };
  }

  private wake(queue: string, id: string): void {
    for (const wake of [...(this.waiters.get(`${queue}/${id}`) ?? [])]) wake();
  }

  private async retrainFailure(q: Connected, id: string, job: RetrainJob): Promise<Error> {
    const existing = await q.retrain.getJob(id);
    return new QueueJobFailedError(id, describeRetrainJob(job), existing?.attemptsMade ?? 0, existing?.failedReason ?? 'unknown reason');
  }
}

/** The executor behind `sparse-soups run <config> --executor queue --redis redis://host:port`. */
export function createQueueExecutor(options: QueueExecutorOptions): QueueExecutor {
  return new QueueExecutor(options);
}
