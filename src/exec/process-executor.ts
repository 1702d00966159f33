/**
 * ProcessExecutor: runs the retrain jobs of a phase concurrently, each in a
 * child process with its own libtorch thread count.
 *
 * A pool of at most `concurrency` children (forked from child-worker) takes
 * the jobs in order; a child that finishes a job gets the next one, and the
 * pool stays up across `run` calls (the next phase skips process start and
 * data loading) until `close()`. Each job runs with exactly `job.threads`
 * libtorch threads if set, else `threadsPerWorker`, else the config's
 * `threads`, else cores / concurrency, so its checkpoint is bit-identical to
 * the InlineExecutor's run of the same job with the same thread count.
 *
 * Scoring, which is most of a phase's compute, is spread over the pool as
 * well: each job scores its own candidate after training it (RetrainJob.score),
 * and during `merge` the children score the pruned parent and the soups while
 * this process builds the soups. At equal thread counts every number equals
 * the InlineExecutor's.
 *
 * Failures reject the run and terminate every child: a job that throws
 * (RetrainJobError: its message and error type), or a child that exits mid-job
 * (WorkerExitError: its exit code or signal). Both name the job.
 *
 * @example
 * const executor = new ProcessExecutor({ concurrency: 2, threadsPerWorker: 1 });
 * try {
 *   await runSms(config, { workDir, executor });
 * } finally {
 *   await executor.close();
 * }
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { RetrainExecutor } from '../sms/executor.js';
import { mergePhaseOnce, type MergeOutcome } from '../sms/merge.js';
import type { ScoreTask, TaskScores } from '../sms/scoring.js';
import type { PhaseMergeSpec, PhaseResults } from '../sms/plan.js';
import { describeRetrainJob, type RetrainJob, type RetrainProgress, type RetrainResult } from '../sms/retrain.js';
import { RetrainJobError, SparseSoupsError, WorkerExitError } from '../util/errors.js';
import type { ChildMessage, ParentMessage } from './child-worker.js';
export { RetrainJobError, WorkerExitError };

export interface ProcessExecutorOptions {
  /** Child processes at once (default: min(jobs, cores)). */
  concurrency?: number;
  /** libtorch threads per child for jobs without `threads` (default: the config's `threads`, else max(1, floor(cores / concurrency))). */
  threadsPerWorker?: number;
  /** Called with a job and the pid of the child that starts it. */
  onJobStart?: (job: RetrainJob, pid: number) => void;
  /**
   * CUDA devices of the children, round-robin: child k computes its jobs on
   * `devices[k % devices.length]` (`job.device`; a CPU config stays on the
   * CPU). List a device more than once, or run more children than devices,
   * to share one GPU between several small candidates.
   */
  devices?: string[];
  /** Called when a new child is ready for jobs: its pid and the seconds from fork to ready (node start, module loading, libtorch). */
  onWorkerReady?: (pid: number, seconds: number) => void;
}

/** The child entry beside this module: `.ts` when running from sources (tsx), `.js` from dist/. */
export function childWorkerPath(moduleUrl: string = import.meta.url): string {
  const ext = /\.[cm]?ts$/.test(new URL(moduleUrl).pathname) ? '.ts' : '.js';
  return fileURLToPath(new URL(`./child-worker${ext}`, moduleUrl));
}

/**
 * The parent's node flags (loaders such as `--import tsx` included) minus
 * those about what the parent itself runs: the test runner, watch mode, the
 * inspector (its port is taken) and -e/-p code (the child runs its own entry).
 */
export function childExecArgv(execArgv: readonly string[] = process.execArgv): string[] {
  const drop = /^(--test|--experimental-test|--watch|--inspect|--debug-port|--input-type|--interactive$|-i$|--check$|-c$)/;
  const dropWithCode = /^(-e|--eval|-p|--print|-pe)$/;
  const takesValue =
    /^(--test-reporter|--test-reporter-destination|--test-name-pattern|--test-skip-pattern|--test-concurrency|--test-shard|--test-timeout|--watch-path|--inspect-port|--debug-port|--input-type)$/;
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i];
    if (dropWithCode.test(arg)) i++;
    else if (drop.test(arg)) i += takesValue.test(arg) ? 1 : 0;
    else out.push(arg);
  }
  return out;
}

const STDERR_TAIL = 4000;
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort against orphans: a parent that exits takes its children along. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of liveChildren) child.kill('SIGKILL');
  });
}

interface ActiveJob {
  /** The job or score task, as errors name it ("phase 2, imp candidate 1"). */
  what: string;
  id: number;
  onProgress?: (p: RetrainProgress) => void;
  resolve: (r: RetrainResult | TaskScores) => void;
  reject: (e: Error) => void;
}

/** One child process and the job it is running. */
class Worker {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private readonly ready: Promise<void>;
  private markReady: () => void = () => {};
  alive = true;
  /** The CUDA device this child computes on (ProcessOptions.devices), for its retrain jobs and score tasks alike. */
  device: string | undefined;
  private active: ActiveJob | null = null;
  private stderrTail = '';
  /** Set when the executor ends this child, so a job it kills says so. */
  private stopping = false;
  private nextId = 1;

  constructor(
    readonly threads: number,
    onReady?: (pid: number, seconds: number) => void,
  ) {
    const forkedAt = performance.now();
    // OpenBLAS sizes its thread pool from the environment when it loads and
    // at::set_num_threads does not change it, so the environment fixes it here.
    const n = String(threads);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      OMP_NUM_THREADS: n,
      OPENBLAS_NUM_THREADS: n,
      MKL_NUM_THREADS: n,
    };
    delete env.NODE_TEST_CONTEXT; // the child is not a test file
    this.child = fork(childWorkerPath(), [], {
      execArgv: childExecArgv(),
      env,
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
    });
    liveChildren.add(this.child);
    this.child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    this.ready = new Promise((resolve) => (this.markReady = resolve));
    if (onReady) void this.ready.then(() => this.pid !== undefined && onReady(this.pid, (performance.now() - forkedAt) / 1000));
    this.child.on('message', (m: ChildMessage) => this.onMessage(m));
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.alive = false;
        liveChildren.delete(this.child);
        const finish = (): void => {
          const active = this.active;
          this.active = null;
          const tail = this.stopping ? `${this.stderrTail}\n(stopped by the executor: another job failed, or close())` : this.stderrTail;
          active?.reject(new WorkerExitError(active.what, this.child.pid, code, signal, tail));
          resolve();
        };
        // Not the 'close' event (it never comes after disconnect()), but the end of stderr, so the tail holds a crash's last words.
        const stderr = this.child.stderr;
        if (!stderr || stderr.destroyed) return finish();
        const timer = setTimeout(finish, 500);
        stderr.once('close', () => {
          clearTimeout(timer);
          finish();
        });
      });
    });
    this.child.on('error', (e) => {
      // fork failed or a kill/send failed; 'exit' may never come for a process that never started.
      if (this.child.pid === undefined) {
        this.alive = false;
        liveChildren.delete(this.child);
        const active = this.active;
        this.active = null;
        active?.reject(new WorkerExitError(active.what, undefined, null, null, e.message));
      }
    });
    this.idle();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  run(job: RetrainJob, onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult> {
    return this.request(describeRetrainJob(job), (id) => ({ type: 'job', id, job }), onProgress) as Promise<RetrainResult>;
  }

  /** Scores a checkpoint in this child (a merge's pruned parent or soup). */
  score(task: ScoreTask): Promise<TaskScores> {
    return this.request(task.label, (id) => ({ type: 'score', id, task, threads: this.threads })) as Promise<TaskScores>;
  }

  /** True while the child runs a job or score task for the executor. */
  get busy(): boolean {
    return this.active !== null;
  }

  private request(
    what: string,
    message: (id: number) => ParentMessage,
    onProgress?: (p: RetrainProgress) => void,
  ): Promise<RetrainResult | TaskScores> {
    return new Promise((resolve, reject) => {
      if (!this.alive) return reject(this.exitError(what));
      const active: ActiveJob = { what, id: this.nextId++, onProgress, resolve, reject };
      this.active = active;
      this.hold();
      // The first job waits for 'ready': a message sent while the child still loads its modules has no listener yet.
      void this.ready.then(() => {
        if (this.active !== active || !this.child.connected) return; // exited meanwhile: 'exit' rejects
        this.child.send(message(active.id), (e) => {
          if (e && this.active === active) {
            this.active = null;
            reject(this.exitError(what, `send failed: ${e.message}`));
          }
        });
      });
    });
  }

  private exitError(what: string, note?: string): WorkerExitError {
    const tail = note ? `${this.stderrTail}\n(${note})` : this.stderrTail;
    return new WorkerExitError(what, this.pid, this.child.exitCode, this.child.signalCode, tail);
  }

  private onMessage(m: ChildMessage): void {
    if (m.type === 'ready') return this.markReady();
    const active = this.active;
    if (!active || m.id !== active.id) return;
    if (m.type === 'progress') {
      try {
        active.onProgress?.(m.progress);
      } catch (e) {
        // As inline, where a throwing callback fails the job.
        this.active = null;
        active.reject(e instanceof Error ? e : new Error(String(e)));
      }
      return;
    }
    this.active = null;
    this.idle();
    if (m.type === 'result') active.resolve(m.result);
    else if (m.type === 'scored') active.resolve(m.scores);
    else active.reject(new RetrainJobError(active.what, m.error));
  }

  /** An idle child does not keep the parent alive: if the parent ends without close(), the child sees the disconnect and exits. */
  private idle(): void {
    this.child.unref();
    this.child.channel?.unref();
    (this.child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  }

  private hold(): void {
    this.child.ref();
    this.child.channel?.ref();
    (this.child.stderr as unknown as { ref?: () => void } | null)?.ref?.();
  }

  /** Asks the child to exit, then kills it if it has not after `graceMs`. */
  async stop(signal: NodeJS.Signals | 'disconnect', graceMs: number): Promise<void> {
    if (!this.alive) return this.exited;
    this.stopping = true;
    this.hold(); // keep the parent up until the child is gone
    if (signal === 'disconnect') {
      if (this.child.connected) this.child.disconnect();
    } else {
      this.child.kill(signal);
    }
    const timer = setTimeout(() => this.alive && this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export class ProcessExecutor implements RetrainExecutor {
  readonly name = 'processes';
  private workers: Worker[] = [];
  private running = false;
  private closed = false;
  /** Score tasks waiting for a child, and the merge's first scoring failure. */
  private waiting: (() => void)[] = [];
  private scoreFailure: Error | null = null;

  constructor(private readonly options: ProcessExecutorOptions = {}) {
    for (const [key, value] of [
      ['concurrency', options.concurrency],
      ['threadsPerWorker', options.threadsPerWorker],
    ] as const) {
      if (value !== undefined && !(Number.isInteger(value) && value >= 1)) {
        throw new SparseSoupsError(`ProcessExecutor: ${key} must be a positive integer, got ${value}`);
      }
    }
    const bad = options.devices?.find((d) => !/^cuda(:\d+)?$/.test(d));
    if (bad !== undefined) throw new SparseSoupsError(`ProcessExecutor: devices must be CUDA devices ('cuda:N'), got '${bad}'`);
  }

  /** Pids of the live child processes. */
  pids(): number[] {
    return this.workers.filter((w) => w.alive && w.pid !== undefined).map((w) => w.pid as number);
  }

  /** The libtorch thread count a job runs with (see the module comment). */
  threadsFor(job: Pick<RetrainJob, 'threads' | 'config'>, concurrency: number): number {
    if (job.threads && job.threads > 0) return job.threads;
    if (this.options.threadsPerWorker !== undefined) return this.options.threadsPerWorker;
    if (job.config.threads > 0) return job.config.threads;
    return Math.max(1, Math.floor(availableParallelism() / concurrency));
  }

  async run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void): Promise<RetrainResult[]> {
    if (this.closed) throw new SparseSoupsError('ProcessExecutor: run() after close()');
    if (this.running) throw new SparseSoupsError('ProcessExecutor: run() while another run is in progress; await it first');
    if (jobs.length === 0) return [];
    this.running = true;
    installExitHook();
    const concurrency = Math.min(jobs.length, this.options.concurrency ?? availableParallelism());
    const devices = this.options.devices?.length ? this.options.devices : undefined;
    const results: RetrainResult[] = new Array(jobs.length);
    let next = 0;
    let failure: Error | null = null;

    this.workers = this.workers.filter((w) => w.alive);
    const lane = async (k: number): Promise<void> => {
      while (failure === null && next < jobs.length) {
        const i = next++;
        const job = {
          ...jobs[i],
          threads: this.threadsFor(jobs[i], concurrency),
          ...(devices !== undefined && { device: devices[k % devices.length] }),
          // Each child scores its own candidate (test, OOD, validation), in parallel, instead of the merge doing it one by one.
          score: jobs[i].score ?? true,
        };
        // A child's BLAS pool is fixed at its start: a job with another thread count gets a fresh child.
        if (this.workers[k]?.threads !== job.threads || !this.workers[k].alive) {
          await this.workers[k]?.stop('disconnect', 5000);
          if (failure !== null) return;
          this.workers[k] = new Worker(job.threads, this.options.onWorkerReady);
          this.workers[k].device = job.device;
        }
        const worker = this.workers[k];
        if (worker.pid !== undefined) this.options.onJobStart?.(jobs[i], worker.pid);
        try {
          results[i] = await worker.run(job, onProgress);
        } catch (e) {
          if (failure === null) {
            failure = e as Error;
            // One failure ends the run: stop the other children now rather than after their jobs.
            await this.terminateAll();
          }
          return;
        }
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, (_, k) => lane(k)));
    } finally {
      this.running = false;
    }
    if (failure !== null) throw failure;
    return results;
  }

  /**
   * Merges in this process (the coordinator, mergePhaseOnce) while the
   * pool's children score the pruned parent and the soups (the candidates
   * scored themselves in their jobs). A failure ends every child, as in run().
   */
  async merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome> {
    if (this.closed) throw new SparseSoupsError('ProcessExecutor: merge() after close()');
    this.scoreFailure = null;
    try {
      return await mergePhaseOnce(spec, results, { scorer: (task) => this.scoreOnPool(task) });
    } catch (e) {
      await this.terminateAll();
      throw e;
    }
  }

  /** Runs a score task on an idle child (a new one while the pool has room, else the next to finish). */
  private async scoreOnPool(task: ScoreTask): Promise<TaskScores> {
    const limit = this.options.concurrency ?? availableParallelism();
    for (;;) {
      if (this.scoreFailure !== null || this.closed) {
        this.waiting.shift()?.(); // and the next waiting task finds out too
        throw this.scoreFailure ?? new SparseSoupsError('ProcessExecutor: closed while the merge was scoring');
      }
      this.workers = this.workers.filter((w) => w.alive);
      let worker = this.workers.find((w) => !w.busy);
      if (worker === undefined && this.workers.length < limit) {
        // Children made for the retrains are reused as they are; a new one gets a retrain job's thread count.
        worker = new Worker(this.workers[0]?.threads ?? this.threadsFor({ config: task.config }, limit), this.options.onWorkerReady);
        const devices = this.options.devices?.length ? this.options.devices : undefined;
        if (devices !== undefined) worker.device = devices[this.workers.length % devices.length];
        this.workers.push(worker);
      }
      if (worker !== undefined) {
        try {
          return await worker.score(worker.device === undefined ? task : { ...task, device: worker.device });
        } catch (e) {
          if (this.scoreFailure === null) {
            this.scoreFailure = e as Error;
            await this.terminateAll(); // as in run(): one failure stops the other children now
          }
          throw e;
        } finally {
          this.waiting.shift()?.();
        }
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.stop('disconnect', 5000)));
    this.workers = [];
  }

  private async terminateAll(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.stop('SIGTERM', 2000)));
  }
}
