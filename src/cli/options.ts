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
}

/** The executor the flags ask for (undefined: inline in this process). */
export async function makeExecutor(o: ExecutorFlags): Promise<RetrainExecutor | undefined> {
  if (o.executor === 'inline') return undefined;
  if (o.executor === 'processes') {
    const { ProcessExecutor } = await import('../exec/process-executor.js');
    return new ProcessExecutor({ concurrency: o.workers, threadsPerWorker: o.threads });
  }
  if (o.executor === 'queue') {
    if (!o.redis) throw new SparseSoupsError('--executor queue needs --redis redis://host:port');
    const { createQueueExecutor } = await import('../exec/queue/queue-executor.js');
    return createQueueExecutor({ redis: o.redis, log: (line) => process.stderr.write(`queue: ${line}\n`) });
  }
  throw new SparseSoupsError(`--executor: expected 'inline', 'processes' or 'queue', got '${o.executor}'`);
}

/** Adds --executor, --redis and --workers to `cmd`. */
export function executorOptions(cmd: Command): Command {
  return cmd
    .option(
      '--executor <kind>',
      "where candidates retrain: 'inline' (this process), 'processes' (parallel child processes) or 'queue' (BullMQ workers, see docs/distributed.md)",
      'inline',
    )
    .option('--redis <url>', 'queue: the Redis of the BullMQ queues, redis://host:port')
    .option('--workers <n>', 'processes: child processes at once (default: min(candidates, cores))', (v) => Number.parseInt(v, 10));
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
