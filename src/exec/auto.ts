/**
 * The `auto` executor: child processes when the machine has the cores and
 * the memory for at least two workers, else inline. A pure function of the
 * machine's numbers, so the rule is tested without the machine:
 *
 *   workers = min(cores, jobs per phase, --workers, ⌊0.8 · available memory / per-worker memory⌋)
 *   processes when workers ≥ 2, else inline
 *
 * `cores` is os.availableParallelism() (the CPUs this process may run on);
 * available memory is os.freemem() (Linux: MemAvailable), capped by the
 * cgroup limit when there is one; 20% of it stays free for the coordinating
 * process (dense training, the merge) and everything else on the machine.
 *
 * Per-worker memory (estimateWorkerBytes) is an estimate from the data, not
 * a measurement: 512 MiB for node and libtorch, twice the decoded dataset
 * (a child loads the whole dataset, then copies its train/validation split
 * out of it), and the activations of one evaluation batch, taken as 160×
 * its input tensor. Calibrated on ConvNet + Fashion-MNIST (47 MB of
 * training images, evaluation batch 1000: estimate 1.07 GB), where a child
 * peaked at 0.90–0.99 GB resident; models much wider than the ConvNet need
 * more, and `--executor processes --workers N` overrides the choice.
 */
import { availableParallelism, freemem } from 'node:os';

/** Share of the available memory the workers may take together. */
export const WORKER_MEMORY_SHARE = 0.8;
/** node, tsx and libtorch in a child before any data or model, bytes. */
export const WORKER_BASE_BYTES = 512 * 2 ** 20;
/** Peak activation bytes of one evaluation batch, per byte of its float32 input tensor. */
export const ACTIVATION_FACTOR = 160;

/** What the choice depends on. */
export interface AutoExecutorInputs {
  /** CPUs this process may use (os.availableParallelism()). */
  cores: number;
  /** Memory available to new processes, bytes. */
  availableBytes: number;
  /** Estimated peak resident memory of one worker, bytes (estimateWorkerBytes). */
  perWorkerBytes: number;
  /** The most retrain jobs a phase of the run has (more workers than that would idle); default: no limit. */
  jobs?: number;
  /** `--workers`: the most workers wanted; default: no limit. */
  maxWorkers?: number;
}

/** What `auto` picked, and why, in one line. */
export interface ExecutorChoice {
  kind: 'inline' | 'processes';
  /** Child processes at once (1 for inline). */
  workers: number;
  /** Why, with the numbers: "2 cores, 19.2 GiB available, ~1.1 GiB per worker". */
  reason: string;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Chooses between processes and inline (see the module comment for the rule).
 * Throws nothing: non-finite or non-positive inputs count as "not enough".
 *
 * @example
 * chooseExecutor({ cores: 2, availableBytes: 20 * 2 ** 30, perWorkerBytes: 2 ** 30, jobs: 4 });
 * // { kind: 'processes', workers: 2, reason: '2 cores, 20.0 GiB available, ~1.0 GiB per worker' }
 */
export function chooseExecutor(i: AutoExecutorInputs): ExecutorChoice {
  const cores = Number.isFinite(i.cores) ? Math.max(1, Math.floor(i.cores)) : 1;
  const byMemory =
    i.perWorkerBytes > 0 && i.availableBytes > 0 ? Math.floor((WORKER_MEMORY_SHARE * i.availableBytes) / i.perWorkerBytes) : 0;
  const jobs = i.jobs ?? Infinity;
  const wanted = i.maxWorkers ?? Infinity;
  const workers = Math.min(cores, jobs, wanted, byMemory);
  const facts = `${cores} core${cores === 1 ? '' : 's'}, ${gib(i.availableBytes)} available, ~${gib(i.perWorkerBytes)} per worker`;
  if (workers >= 2) return { kind: 'processes', workers, reason: facts };
  const why =
    cores < 2
      ? 'fewer than 2 cores'
      : jobs < 2
        ? 'fewer than 2 retrain jobs per phase'
        : wanted < 2
          ? '--workers below 2'
          : `memory for ${Math.max(0, byMemory)} worker${byMemory === 1 ? '' : 's'} only`;
  return { kind: 'inline', workers: 1, reason: `${why}: ${facts}` };
}

/** The dataset and evaluation numbers a worker's memory depends on. */
export interface WorkerMemoryInputs {
  /** Decoded bytes of the dataset's train and test images (uint8, as loaded). */
  datasetBytes: number;
  /** Values of one image (channels × height × width). */
  imageValues: number;
  /** Images per evaluation batch (`evaluation.batchSize`). */
  evaluationBatch: number;
}

/** Estimated peak resident memory of one worker, bytes (the rule in the module comment). */
export function estimateWorkerBytes(i: WorkerMemoryInputs): number {
  return WORKER_BASE_BYTES + 2 * i.datasetBytes + ACTIVATION_FACTOR * 4 * i.imageValues * i.evaluationBatch;
}

/** Memory available to new processes on this machine, bytes: os.freemem(), capped by the cgroup limit (process.constrainedMemory) when set. */
export function availableMemoryBytes(): number {
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.() ?? 0;
  const free = freemem();
  // constrainedMemory() is the cgroup's limit, not what is left of it; what the run uses already is on top of it.
  return constrained > 0 ? Math.min(free, Math.max(0, constrained - process.memoryUsage().rss)) : free;
}

/** This machine's inputs for chooseExecutor, the per-worker estimate given. */
export function machineInputs(perWorkerBytes: number): Pick<AutoExecutorInputs, 'cores' | 'availableBytes' | 'perWorkerBytes'> {
  return { cores: availableParallelism(), availableBytes: availableMemoryBytes(), perWorkerBytes };
}
