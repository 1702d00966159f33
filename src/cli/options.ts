/**
 * What several commands share: the executor flags of `run` and `resume`,
 * reading a YAML config file, the list and JSON option parsers, and the
 * progress reporter for the terminal or a log.
 *
 * Only commander's types and the error classes are imported up front: the
 * executors, the YAML parser and the progress reporters load when a command
 * runs (dynamic `import()`), so `sparse-soups --help` starts in a blink.
 */
import { readFileSync, existsSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import type { Command } from 'commander';
import type { SmsEvent } from '../sms/pipeline.js';
import type { RetrainExecutor } from '../sms/executor.js';
import type { SmsConfig } from '../sms/config.js';
import type { ModelOptions } from '../models/registry.js';
import type { DatasetLoadOptions } from '../data/dataset.js';
import { SparseSoupsError } from '../util/errors.js';

export interface ExecutorFlags {
  executor: string;
  workers?: number;
  threads?: number;
  redis?: string;
  /** --devices: the CUDA devices of the processes executor's children (parseDevices). */
  devices?: string[];
}

/** An executor and the one line that says which it is and why (the `executor` event of runExperiment). */
export interface ChosenExecutor {
  /** undefined: inline in this process. */
  executor: RetrainExecutor | undefined;
  /** 'inline', 'processes' or 'queue'. */
  name: string;
  /** Why, and with how many workers and threads: "auto: 2 workers × 1 thread; 2 cores, 19.2 GiB available, ~1.1 GiB per worker". */
  reason: string;
}

/** The most retrain jobs one phase of `config` has: the m candidates, IMP's m chains after phase 1, IMP m× longer. */
export function maxJobsPerPhase(config: SmsConfig, candidates: number): number {
  const imp = config.baselines.imp && config.pruning.phases > 1 ? candidates : 0;
  return candidates + imp + (config.baselines.impLonger ? 1 : 0);
}

/**
 * The executor the flags ask for. `auto` (the default) runs child processes
 * when the machine has the cores and memory for two or more workers, else
 * inline (exec/auto.ts states the rule); it needs the config, whose data
 * must be loaded in this process already (prepareAndValidate does), for
 * its per-worker memory estimate.
 */
export async function makeExecutor(o: ExecutorFlags, config: SmsConfig): Promise<ChosenExecutor> {
  checkDevicesExecutor(o);
  if (o.executor === 'inline')
    return { executor: undefined, name: 'inline', reason: `--executor inline, ${threadCount(o.threads, config)} in this process` };
  if (o.executor === 'processes' || o.executor === 'auto') {
    const { ProcessExecutor } = await import('../exec/process-executor.js');
    const { candidateSpecs } = await import('../sms/candidates.js');
    const cores = availableParallelism();
    const jobs = maxJobsPerPhase(config, candidateSpecs(config).length);
    let workers = Math.min(o.workers ?? cores, jobs);
    let why = '--executor processes';
    if (o.executor === 'auto' && o.devices !== undefined) why = 'auto: --devices asks for child processes';
    else if (o.executor === 'auto') {
      const { chooseExecutor, estimateWorkerBytes, machineInputs } = await import('../exec/auto.js');
      const { experimentData } = await import('../sms/context.js');
      const data = experimentData(config);
      const perImage = data.test.imageShape.reduce((a, b) => a * b, 1);
      // A child loads the whole training set before splitting it: validation / fraction of it.
      const datasetBytes = data.validation.images.length / config.data.validationFraction + data.test.images.length;
      const perWorkerBytes = estimateWorkerBytes({ datasetBytes, imageValues: perImage, evaluationBatch: config.evaluation.batchSize });
      const choice = chooseExecutor({ ...machineInputs(perWorkerBytes), jobs, maxWorkers: o.workers });
      if (choice.kind === 'inline')
        return { executor: undefined, name: 'inline', reason: `auto: ${threadCount(o.threads, config)} in this process; ${choice.reason}` };
      workers = choice.workers;
      why = `auto: ${choice.reason}`;
    }
    const threads = o.threads ?? (config.threads > 0 ? config.threads : Math.max(1, Math.floor(cores / workers)));
    return {
      executor: new ProcessExecutor({
        concurrency: o.executor === 'auto' ? workers : o.workers,
        threadsPerWorker: o.threads,
        devices: o.devices,
      }),
      name: 'processes',
      reason: `${why}; ${workers} worker${workers === 1 ? '' : 's'} × ${threads} thread${threads === 1 ? '' : 's'}`,
    };
  }
  if (o.executor === 'queue') {
    if (!o.redis) throw new SparseSoupsError('--executor queue needs --redis redis://host:port');
    const { createQueueExecutor } = await import('../exec/queue/queue-executor.js');
    const executor = createQueueExecutor({ redis: o.redis, log: (line) => process.stderr.write(`queue: ${line}\n`) });
    return { executor, name: 'queue', reason: `--executor queue, workers at ${o.redis.replace(/\/\/[^@/]*@/, '//')}` };
  }
  throw new SparseSoupsError(`--executor: expected 'auto', 'inline', 'processes' or 'queue', got '${o.executor}'`);
}

/** "2 threads": this process's libtorch threads, as runExperiment sets them. */
function threadCount(threads: number | undefined, config: SmsConfig): string {
  const n = threads ?? (config.threads > 0 ? config.threads : cpus().length);
  return `${n} thread${n === 1 ? '' : 's'}`;
}

/**
 * Parses --devices: CUDA device indices, comma-separated ('0,1', or
 * 'cuda:0,cuda:1'); a device may repeat ('0,0,1': two children share GPU 0).
 */
export function parseDevices(v: string): string[] {
  const items = list(v);
  if (items.length === 0) throw new SparseSoupsError('--devices: expected CUDA device indices such as 0,1');
  return items.map((item) => {
    const m = /^(?:cuda:)?(\d+)$/.exec(item);
    if (m === null) throw new SparseSoupsError(`--devices: expected CUDA device indices such as 0,1 (or cuda:0,cuda:1), got '${item}'`);
    return `cuda:${Number(m[1])}`;
  });
}

/**
 * Checks --devices against the config before anything runs: the config must
 * compute on CUDA, and every device must exist here (ConfigError otherwise,
 * with the reason: a CPU libtorch, no GPU, an index past the last GPU).
 */
export async function checkDevicesFlag(o: ExecutorFlags, config: { device: string }, source: string): Promise<void> {
  const devices = o.devices;
  if (devices === undefined) return;
  checkDevicesExecutor(o);
  if (config.device === 'cpu') {
    throw new SparseSoupsError(
      `--devices puts candidates on GPUs, but ${source} computes on the CPU (device: cpu); set device: cuda in the config`,
    );
  }
  const { checkDevice } = await import('../sms/device.js');
  for (const d of new Set(devices)) checkDevice(d, '--devices');
}

/** --devices goes with --executor processes or auto (which then runs child processes); queue workers take their own. */
function checkDevicesExecutor(o: ExecutorFlags): void {
  if (o.devices === undefined || o.executor === 'processes' || o.executor === 'auto') return;
  throw new SparseSoupsError(
    `--devices spreads the candidates of --executor processes over GPUs; with --executor ${o.executor} ` +
      (o.executor === 'queue'
        ? 'give each worker its own --devices (sparse-soups worker --devices 0,1)'
        : 'set the device in the config (device: cuda:N)'),
  );
}

/** Adds --executor, --redis, --workers and --devices to `cmd`. */
export function executorOptions(cmd: Command): Command {
  return cmd
    .option(
      '--executor <kind>',
      "where candidates retrain: 'auto' (child processes when there are 2+ cores and memory for 2+ workers, else inline; says which), 'inline' (this process), 'processes' (parallel child processes) or 'queue' (BullMQ workers, see docs/distributed.md)",
      'auto',
    )
    .option('--redis <url>', 'queue: the Redis of the BullMQ queues, redis://host:port')
    .option('--workers <n>', 'processes, auto: child processes at once (default: min(jobs per phase, cores); auto also by memory)', (v) =>
      Number.parseInt(v, 10),
    )
    .option(
      '--devices <list>',
      'processes, auto: CUDA devices of the children, round-robin (0,1; repeat one to share it: 0,0,0); needs device: cuda in the config',
      parseDevices,
    );
}

/** The parsed YAML of a config file; SparseSoupsError when it is missing or not YAML. */
export async function loadConfigFile(path: string): Promise<unknown> {
  if (!existsSync(path)) throw new SparseSoupsError(`config file ${path} not found`);
  const { parse: parseYaml } = await import('yaml');
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SparseSoupsError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The flags of imagefolder's decoding options (`data.imageSize`, `data.resize`, `data.channels`, `data.skipUnreadable` in a config). */
export interface ImageDecodingFlags {
  imageSize?: number;
  resize?: string;
  channels?: number;
  skipUnreadable?: boolean;
}

/** Adds --image-size, --resize, --channels and --skip-unreadable to `cmd`. */
export function imageDecodingOptions(cmd: Command): Command {
  return cmd
    .option('--image-size <n>', 'imagefolder: side of the square images, in pixels (default 32)', (v) => Number.parseInt(v, 10))
    .option('--resize <mode>', "imagefolder: 'center-crop' (default: shorter side to the size, centre crop) or 'resize' (to the square)")
    .option('--channels <n>', 'imagefolder: 3 (RGB, default) or 1 (grayscale)', (v) => Number.parseInt(v, 10))
    .option('--skip-unreadable', 'imagefolder: skip image files that cannot be decoded instead of failing');
}

/** The dataset load options the image decoding flags ask for (only those given). */
export function imageDecodingLoadOptions(o: ImageDecodingFlags): Omit<DatasetLoadOptions, 'dir'> {
  if (o.resize !== undefined && o.resize !== 'resize' && o.resize !== 'center-crop') {
    throw new SparseSoupsError(`--resize: expected 'center-crop' or 'resize', got '${o.resize}'`);
  }
  if (o.channels !== undefined && o.channels !== 1 && o.channels !== 3)
    throw new SparseSoupsError(`--channels: expected 1 or 3, got ${o.channels}`);
  return {
    ...(o.imageSize !== undefined && { imageSize: o.imageSize }),
    ...(o.resize !== undefined && { resize: o.resize }),
    ...(o.channels !== undefined && { channels: o.channels }),
    ...(o.skipUnreadable === true && { skipUnreadable: true }),
  };
}

/** Parses --model-options. */
export const parseJsonOption = (v: string): ModelOptions => {
  try {
    return JSON.parse(v) as ModelOptions;
  } catch {
    throw new SparseSoupsError(`--model-options: not valid JSON: ${v}`);
  }
};

/** Parses a comma-separated list, dropping empty items. */
export const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');

/** Live lines on a terminal, plain periodic lines otherwise (CI, logs). */
export async function reporter(): Promise<(e: SmsEvent) => void> {
  if (process.stderr.isTTY) return (await import('../run/tty-progress.js')).ttyProgressReporter();
  return (await import('../run/progress.js')).plainProgressReporter();
}
