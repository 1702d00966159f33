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
import type { Command } from 'commander';
import type { SmsEvent } from '../sms/pipeline.js';
import type { RetrainExecutor } from '../sms/executor.js';
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

/** The executor the flags ask for (undefined: inline in this process). */
export async function makeExecutor(o: ExecutorFlags): Promise<RetrainExecutor | undefined> {
  checkDevicesExecutor(o);
  if (o.executor === 'inline') return undefined;
  if (o.executor === 'processes') {
    const { ProcessExecutor } = await import('../exec/process-executor.js');
    return new ProcessExecutor({ concurrency: o.workers, threadsPerWorker: o.threads, devices: o.devices });
  }
  if (o.executor === 'queue') {
    if (!o.redis) throw new SparseSoupsError('--executor queue needs --redis redis://host:port');
    const { createQueueExecutor } = await import('../exec/queue/queue-executor.js');
    return createQueueExecutor({ redis: o.redis, log: (line) => process.stderr.write(`queue: ${line}\n`) });
  }
  throw new SparseSoupsError(`--executor: expected 'inline', 'processes' or 'queue', got '${o.executor}'`);
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
    throw new SparseSoupsError(`--devices puts candidates on GPUs, but ${source} computes on the CPU (device: cpu); set device: cuda in the config`);
  }
  const { checkDevice } = await import('../sms/device.js');
  for (const d of new Set(devices)) checkDevice(d, '--devices');
}

/** --devices goes with --executor processes (queue workers take their own). */
function checkDevicesExecutor(o: ExecutorFlags): void {
  if (o.devices === undefined || o.executor === 'processes') return;
  throw new SparseSoupsError(
    `--devices spreads the candidates of --executor processes over GPUs; with --executor ${o.executor} ` +
      (o.executor === 'queue' ? 'give each worker its own --devices (sparse-soups worker --devices 0,1)' : 'set the device in the config (device: cuda:N)'),
  );
}

/** Adds --executor, --redis, --workers and --devices to `cmd`. */
export function executorOptions(cmd: Command): Command {
  return cmd
    .option(
      '--executor <kind>',
      "where candidates retrain: 'inline' (this process), 'processes' (parallel child processes) or 'queue' (BullMQ workers, see docs/distributed.md)",
      'inline',
    )
    .option('--redis <url>', 'queue: the Redis of the BullMQ queues, redis://host:port')
    .option('--workers <n>', 'processes: child processes at once (default: min(candidates, cores))', (v) => Number.parseInt(v, 10))
    .option(
      '--devices <list>',
      'processes: CUDA devices of the children, round-robin (0,1; repeat one to share it: 0,0,0); needs device: cuda in the config',
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
