/**
 * ProcessExecutor: runs the retrain jobs of a phase concurrently, each in a
 * child process with its own libtorch thread count.
 *
 * A pool of at most `concurrency` children (forked from child-worker) takes
 * the jobs in order; a child that finishes a job gets the next one, and the
 * pool stays up across `run` calls (the next phase skips process start and
 * data loading) until `close()`. Runs and score tasks may overlap (the
 * pipeline starts the next phase's baseline jobs while a phase merges, and
 * scores the dense model during phase 1): they share the pool, score tasks
 * ahead of waiting retrain jobs. Each job runs with exactly `job.threads`
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
import type { ExecutorRunOptions, RetrainExecutor } from '../sms/executor.js';
import { mergePhaseOnce, type MergeOutcome } from '../sms/merge.js';
import { getNumThreads, setNumThreads } from '../tensor/create.js';
import { combineScoreParts, type PartScores, type ScoreTask, type TaskScores } from '../sms/scoring.js';
import type { SmsConfig } from '../sms/config.js';
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
  /**
   * libtorch threads of this process while it merges (greedy soup trials,
   * BN recalibration), restored afterwards. Default: the cores the children
   * leave free, at least 1: max(1, cores − concurrency × threadsPerWorker)
   * (with threadsPerWorker unset, cores / concurrency). The children score
   * the soups and the pruned parent meanwhile, and run the next phase's
   * baseline jobs, so a merge at the full core count oversubscribes the
   * cores; OpenMP's threads then wait on each other (measured on 2 cores:
   * the greedy soup of m = 4 took 11–14 s at 2 threads beside 2 busy
   * children, 7 s at 1 thread; docs/benchmarks.md, "Parallel candidates").
   */
  mergeThreads?: number;
  /**
   * A score task (a soup, the pruned parent, the dense model) is split into
   * this many parts, each forwarding its share of the evaluation sets (the
   * test set and the OOD sets, cut by image count) on its own child, and the
   * parts' metrics are put together: the same metrics as one child scoring
   * it whole, in a fraction of the wall time when children are free. Each
   * part loads the model (and recalibrates it, when the task does). Default
   * min(concurrency, 4); 1 scores whole.
   */
  scoreParts?: number;
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
  resolve: (r: RetrainResult | TaskScores | PartScores | null) => void;
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
  /** Its place in the pool: with `devices`, child slot k computes on devices[k % devices.length]. */
  slot = 0;
  /** Held by a task of the executor (set before the task's message is sent, cleared when it settles). */
  reserved = false;
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

  /** Loads the experiment's data and model module in this child (ProcessExecutor.prepare). */
  prepare(config: SmsConfig): Promise<null> {
    return this.request(`loading the data of ${config.name}`, (id) => ({ type: 'prepare', id, config })) as Promise<null>;
  }

  /** Scores a checkpoint in this child (a merge's pruned parent or soup), or a part of its evaluation sets (PartScores). */
  score(task: ScoreTask): Promise<TaskScores | PartScores> {
    const what = task.part ? `${task.label} (part ${task.part.index + 1} of ${task.part.of})` : task.label;
    return this.request(what, (id) => ({ type: 'score', id, task, threads: this.threads })) as Promise<TaskScores | PartScores>;
  }

  private request(
    what: string,
    message: (id: number) => ParentMessage,
    onProgress?: (p: RetrainProgress) => void,
  ): Promise<RetrainResult | TaskScores | PartScores | null> {
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
    else if (m.type === 'prepared') active.resolve(null);
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

/** What a task waiting for a child needs: a thread count (null: any child will do), and its place in line. */
interface Want {
  threads: number | null;
  /** Lower goes first: 0 for score tasks (short, and the merge waits on them), 1 for retrain jobs. */
  priority: number;
}

export class ProcessExecutor implements RetrainExecutor {
  readonly name = 'processes';
  /** Runs and score tasks may overlap: they share one pool of children (the pipeline starts the next phase's baseline jobs during a merge). */
  readonly concurrentRuns = true;
  private workers: Worker[] = [];
  /** Children being replaced (another thread count): their slots are taken. */
  private starting = 0;
  private closed = false;
  /** Tasks waiting for a child, in priority order, then first come first served. */
  private waiters: (Want & { wake: () => void })[] = [];
  /** Bumped by a failure: tasks submitted before it end with that failure instead of starting. */
  private generation = 0;
  private failures = new Map<number, Error>();
  /** Merges under way, and the thread count before the first of them began. */
  private merging = 0;
  private threadsBeforeMerge = 0;

  constructor(private readonly options: ProcessExecutorOptions = {}) {
    for (const [key, value] of [
      ['concurrency', options.concurrency],
      ['threadsPerWorker', options.threadsPerWorker],
      ['mergeThreads', options.mergeThreads],
      ['scoreParts', options.scoreParts],
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

  /** Children at once. */
  private get limit(): number {
    return this.options.concurrency ?? availableParallelism();
  }

  /**
   * Runs the jobs on the pool, as many at once as there are children; other
   * runs and score tasks may be under way at the same time and share it.
   * `opts.concurrentJobs` is how many jobs run at once in all (the phase's
   * jobs, when they come in several runs); it sets the default thread count
   * (cores / min(that, concurrency)).
   */
  async run(jobs: RetrainJob[], onProgress?: (p: RetrainProgress) => void, opts: ExecutorRunOptions = {}): Promise<RetrainResult[]> {
    if (this.closed) throw new SparseSoupsError('ProcessExecutor: run() after close()');
    if (jobs.length === 0) return [];
    installExitHook();
    const concurrency = Math.min(Math.max(jobs.length, opts.concurrentJobs ?? 0), this.limit);
    const generation = this.generation;
    let failure: Error | null = null;
    const settled = await Promise.allSettled(
      jobs.map(async (j) => {
        const job: RetrainJob = {
          ...j,
          threads: this.threadsFor(j, concurrency),
          // Each child scores its own candidate (test, OOD, validation), in parallel, instead of the merge doing it one by one.
          score: j.score ?? true,
        };
        try {
          return await this.onChild(generation, { threads: job.threads as number, priority: 1 }, (worker) => {
            if (worker.pid !== undefined) this.options.onJobStart?.(j, worker.pid);
            return worker.run(worker.device === undefined ? job : { ...job, device: worker.device }, onProgress);
          });
        } catch (e) {
          failure ??= e as Error;
          throw e;
        }
      }),
    );
    // The failure that stopped the pool, not the other jobs' "stopped by the executor".
    if (failure !== null) throw this.failures.get(generation) ?? failure;
    return settled.map((s) => (s as PromiseFulfilledResult<RetrainResult>).value);
  }

  /**
   * Starts the pool's children before the first run and has each load the
   * experiment's data (training, validation, test and OOD sets) and its
   * model module, with the thread count the phases' jobs will ask for, so
   * the first phase finds them ready: the pipeline calls it before training
   * the dense model, which needs only this process. Resolves when every
   * child is ready. A child that cannot load the data rejects it as a failed
   * task does (every child is ended, and tasks under way end with that error).
   */
  async prepare(config: SmsConfig): Promise<void> {
    if (this.closed) throw new SparseSoupsError('ProcessExecutor: prepare() after close()');
    installExitHook();
    const generation = this.generation;
    const threads = this.threadsFor({ config, threads: undefined }, this.limit);
    const settled = await Promise.allSettled(
      Array.from({ length: this.limit }, () => this.onChild(generation, { threads, priority: 0 }, (worker) => worker.prepare(config))),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    // The failure that stopped the pool, not the other children's "stopped by the executor".
    if (failed) throw this.failures.get(generation) ?? failed.reason;
  }

  /** Scores a checkpoint on an idle child (a new one while the pool has room, else the next to finish), ahead of waiting retrain jobs. */
  score(task: ScoreTask): Promise<TaskScores> {
    return this.scoreIn(this.generation, task);
  }

  private scoreIn(generation: number, task: ScoreTask): Promise<TaskScores> {
    if (this.closed) return Promise.reject(new SparseSoupsError('ProcessExecutor: score() after close()'));
    installExitHook();
    const on = (t: ScoreTask): Promise<TaskScores | PartScores> =>
      this.onChild(generation, { threads: null, priority: 0 }, (worker) =>
        worker.score(worker.device === undefined ? t : { ...t, device: worker.device }),
      );
    const ev = task.config.evaluation;
    const oodSets = ev.oodCorruptions.length * ev.oodSeverities.length;
    const of = task.part === undefined ? Math.min(this.scoreParts, 1 + oodSets) : 1;
    if (of <= 1) return on(task) as Promise<TaskScores>;
    // The evaluation sets in `of` parts on as many children: the last model of a merge is scored in 1/of of the time.
    const parts = Array.from({ length: of }, (_, index) => on({ ...task, part: { index, of } }) as Promise<PartScores>);
    return Promise.all(parts).then((p) => combineScoreParts(task.label, p, oodSets));
  }

  /** Parts a score task is split into (`scoreParts`). */
  get scoreParts(): number {
    return this.options.scoreParts ?? Math.min(this.limit, 4);
  }

  /**
   * Merges in this process (the coordinator, mergePhaseOnce) while the
   * pool's children score the pruned parent and the soups (the candidates
   * scored themselves in their jobs), each split in `scoreParts` parts, and
   * this process runs at `mergeThreads`. A failure ends every child, as in
   * run().
   */
  async merge(spec: PhaseMergeSpec, results: PhaseResults): Promise<MergeOutcome> {
    if (this.closed) throw new SparseSoupsError('ProcessExecutor: merge() after close()');
    const generation = this.generation;
    const restoreThreads = this.mergeThreadsOn();
    try {
      // Score tasks of this merge belong to its generation: after a failure the merge's later ones end at once.
      return await mergePhaseOnce(spec, results, { scorer: (task) => this.scoreIn(generation, task) });
    } catch (e) {
      await this.fail(generation, e as Error);
      throw this.failures.get(generation) ?? e;
    } finally {
      restoreThreads();
    }
  }

  /** This process's libtorch threads while it merges (`mergeThreads`). */
  get mergeThreads(): number {
    if (this.options.mergeThreads !== undefined) return this.options.mergeThreads;
    const cores = availableParallelism();
    const perChild = this.options.threadsPerWorker ?? Math.max(1, Math.floor(cores / this.limit));
    return Math.max(1, cores - this.limit * perChild);
  }

  /** Sets this process to `mergeThreads` for a merge; the returned function undoes it when the last overlapping merge ends. */
  private mergeThreadsOn(): () => void {
    if (this.merging++ === 0) {
      this.threadsBeforeMerge = getNumThreads();
      if (this.threadsBeforeMerge !== this.mergeThreads) setNumThreads(this.mergeThreads);
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.merging === 0 && getNumThreads() !== this.threadsBeforeMerge) setNumThreads(this.threadsBeforeMerge);
    };
  }

  /**
   * Runs `use` on a child that fits `want`, holding it until `use` settles.
   * One failure ends every child (the other tasks' children are killed, and
   * tasks still waiting end with the same error), as one failed job ends a run.
   */
  private async onChild<T>(generation: number, want: Want, use: (worker: Worker) => Promise<T>): Promise<T> {
    const worker = await this.acquire(generation, want);
    try {
      return await use(worker);
    } catch (e) {
      await this.fail(generation, e as Error);
      throw e;
    } finally {
      worker.reserved = false;
      this.wakeNext();
    }
  }

  /** An idle child for `want`: one that fits, a new one while there is room, an idle one restarted with the wanted thread count, or the next to free up. */
  private async acquire(generation: number, want: Want): Promise<Worker> {
    for (;;) {
      const failed =
        this.failures.get(generation) ?? (this.closed ? new SparseSoupsError('ProcessExecutor: closed while tasks were waiting') : null);
      if (failed !== null || generation !== this.generation) {
        this.wakeNext(); // the next waiter finds out too
        throw (
          failed ?? this.failures.get(this.generation - 1) ?? new SparseSoupsError('ProcessExecutor: an earlier failure stopped the pool')
        );
      }
      this.workers = this.workers.filter((w) => w.alive);
      const idle = this.workers.filter((w) => !w.reserved);
      const fit = idle.find((w) => want.threads === null || w.threads === want.threads);
      if (fit !== undefined) {
        fit.reserved = true;
        return fit;
      }
      const threads = want.threads ?? this.workers[0]?.threads ?? Math.max(1, Math.floor(availableParallelism() / this.limit));
      if (this.workers.length + this.starting < this.limit) return this.spawn(threads, this.freeSlot());
      if (idle.length > 0) {
        // A child's BLAS pool is fixed at its start: a job with another thread count gets a fresh child.
        const old = idle[0];
        old.reserved = true;
        this.workers = this.workers.filter((w) => w !== old);
        this.starting++;
        try {
          await old.stop('disconnect', 5000);
        } finally {
          this.starting--;
        }
        if (generation !== this.generation || this.closed) continue; // failed meanwhile: the loop says so
        return this.spawn(threads, old.slot);
      }
      await new Promise<void>((wake) => {
        const at = this.waiters.findIndex((w) => w.priority > want.priority);
        this.waiters.splice(at === -1 ? this.waiters.length : at, 0, { ...want, wake });
      });
    }
  }

  /** A new child in `slot`, reserved for the caller; its CUDA device is `devices[slot % devices.length]`. */
  private spawn(threads: number, slot: number): Worker {
    const worker = new Worker(threads, this.options.onWorkerReady);
    worker.slot = slot;
    const devices = this.options.devices?.length ? this.options.devices : undefined;
    if (devices !== undefined) worker.device = devices[slot % devices.length];
    worker.reserved = true;
    this.workers.push(worker);
    return worker;
  }

  /** The lowest slot number no live child holds. */
  private freeSlot(): number {
    const taken = new Set(this.workers.map((w) => w.slot));
    let slot = 0;
    while (taken.has(slot)) slot++;
    return slot;
  }

  private wakeNext(): void {
    this.waiters.shift()?.wake();
  }

  /** Records the first failure of `generation`, ends every child, and lets every waiting task find out. */
  private async fail(generation: number, error: Error): Promise<void> {
    if (generation !== this.generation) return; // this generation has failed already
    this.failures.set(generation, error);
    this.generation++;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.wake();
    await this.terminateAll();
  }

  async close(): Promise<void> {
    this.closed = true;
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.wake();
    await Promise.all(this.workers.map((w) => w.stop('disconnect', 5000)));
    this.workers = [];
  }

  private async terminateAll(): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(workers.map((w) => w.stop('SIGTERM', 2000)));
  }
}
