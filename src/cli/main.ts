#!/usr/bin/env node
/** The `sparse-soups` command line. */
import { readFileSync, existsSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { parseSmsConfig } from '../sms/config.js';
import { createRunDir, openRunDir } from '../run/rundir.js';
import { runExperiment } from '../run/experiment.js';
import { plainProgressReporter } from '../run/progress.js';
import { summaryMarkdown } from '../run/summary.js';
import { runStatus, formatStatus } from '../run/status.js';
import { ttyProgressReporter } from '../run/tty-progress.js';
import { datasetListing, previewCommand } from './data-commands.js';
import { exportModel, type ExportFormat } from '../run/export.js';
import { evaluateCheckpoint } from '../sms/evaluate-checkpoint.js';
import { writeReport } from '../report/report.js';
import { ProcessExecutor } from '../exec/process-executor.js';
import type { RetrainExecutor } from '../sms/executor.js';
import { createQueueExecutor } from '../exec/queue/queue-executor.js';
import { runWorker } from '../exec/queue/worker.js';

interface ExecutorFlags {
  executor: string;
  workers?: number;
  threads?: number;
  redis?: string;
}

/** The executor the flags ask for (undefined: inline in this process). */
async function makeExecutor(o: ExecutorFlags): Promise<RetrainExecutor | undefined> {
  if (o.executor === 'inline') return undefined;
  if (o.executor === 'processes') return new ProcessExecutor({ concurrency: o.workers, threadsPerWorker: o.threads });
  if (o.executor === 'queue') {
    if (!o.redis) throw new SparseSoupsError('--executor queue needs --redis redis://host:port');
    return createQueueExecutor({ redis: o.redis, log: (line) => process.stderr.write(`queue: ${line}\n`) });
  }
  throw new SparseSoupsError(`--executor: expected 'inline', 'processes' or 'queue', got '${o.executor}'`);
}

function executorOptions(cmd: Command): Command {
  return cmd
    .option(
      '--executor <kind>',
      "where candidates retrain: 'inline' (this process), 'processes' (parallel child processes) or 'queue' (BullMQ workers, see docs/distributed.md)",
      'inline',
    )
    .option('--redis <url>', 'queue: the Redis of the BullMQ queues, redis://host:port')
    .option('--workers <n>', 'processes: child processes at once (default: min(candidates, cores))', (v) => Number.parseInt(v, 10));
}
import type { ModelOptions } from '../models/registry.js';

const parseJsonOption = (v: string): ModelOptions => {
  try {
    return JSON.parse(v) as ModelOptions;
  } catch {
    throw new SparseSoupsError(`--model-options: not valid JSON: ${v}`);
  }
};
const list = (v: string): string[] =>
  v
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x !== '');
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;

/** Live lines on a terminal, plain periodic lines otherwise (CI, logs). */
const reporter = () => (process.stderr.isTTY ? ttyProgressReporter() : plainProgressReporter());
import { SparseSoupsError } from '../util/errors.js';

function loadConfigFile(path: string): unknown {
  if (!existsSync(path)) throw new SparseSoupsError(`config file ${path} not found`);
  try {
    return parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SparseSoupsError(`${path}: not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

const program = new Command();
program.name('sparse-soups').description('Prune neural networks and merge them into Sparse Model Soups (libtorch-backed)');

executorOptions(program.command('run'))
  .description('run an SMS experiment from a YAML config (re-running the same config resumes it)')
  .argument('<config>', 'YAML config file (see configs/ and docs/config.md)')
  .option('--out <dir>', 'parent directory of run directories', 'runs')
  .option('--threads <n>', 'libtorch threads per process (default: config, else all cores / workers)', (v) => Number.parseInt(v, 10))
  .action(async (configPath: string, o: ExecutorFlags & { out: string }) => {
    const config = parseSmsConfig(loadConfigFile(configPath), configPath);
    const run = await createRunDir(config, o.out);
    process.stderr.write(`run directory: ${run.path}\n`);
    const executor = await makeExecutor(o);
    const results = await runExperiment(run, { onEvent: reporter(), threads: o.threads, executor }).finally(() => executor?.close());
    const report = await writeReport(run.path);
    process.stdout.write(
      `\n${summaryMarkdown(results)}\n\nresults: ${run.path}/results.json, ${run.path}/results.csv\nreport: ${report}\n`,
    );
  });

executorOptions(program.command('resume'))
  .description('continue an interrupted run from its run directory')
  .argument('<run-dir>', 'a run directory created by `run`')
  .option('--threads <n>', 'libtorch threads per process', (v) => Number.parseInt(v, 10))
  .action(async (dir: string, o: ExecutorFlags) => {
    const run = await openRunDir(dir);
    const executor = await makeExecutor(o);
    const results = await runExperiment(run, { onEvent: reporter(), threads: o.threads, executor }).finally(() => executor?.close());
    process.stdout.write(`\n${summaryMarkdown(results)}\n`);
  });

program
  .command('report')
  .description('write a self-contained report.html (plots, tables, config) into a finished run directory')
  .argument('<run-dir>', 'a run directory with results.json')
  .action(async (dir: string) => {
    const path = await writeReport(dir);
    process.stdout.write(`wrote ${path}\n`);
  });

program
  .command('eval')
  .description('evaluate a checkpoint (dense or sparse) on a test set and corrupted versions of it')
  .argument('<checkpoint>', 'a .safetensors checkpoint or export')
  .requiredOption('--dataset <name>', 'dataset to evaluate on (see `data list`)')
  .option('--dir <dir>', "directory of the dataset's files")
  .option('--ood <corruptions>', 'comma-separated corruptions for OOD accuracy (e.g. gaussian_noise,fog)', list)
  .option('--severities <list>', 'comma-separated severities 1-5', (v: string) => list(v).map(Number), [3])
  .option('--model <name>', 'model name when the file does not say (e.g. convnet)')
  .option('--model-options <json>', 'model options as JSON', parseJsonOption)
  .option('--test-subset <n>', 'evaluate on the first n test images', (v) => Number.parseInt(v, 10))
  .action(
    async (
      checkpoint: string,
      o: {
        dataset: string;
        dir?: string;
        ood?: string[];
        severities: number[];
        model?: string;
        modelOptions?: ModelOptions;
        testSubset?: number;
      },
    ) => {
      const r = await evaluateCheckpoint({
        checkpoint,
        dataset: o.dataset,
        dir: o.dir,
        model: o.model,
        modelOptions: o.modelOptions,
        testSubset: o.testSubset,
        ood: o.ood ? { corruptions: o.ood, severities: o.severities } : undefined,
      });
      process.stdout.write(`${r.table}\n`);
    },
  );

program
  .command('export')
  .description('export a checkpoint as a dense state dict or a compact sparse file (both safetensors)')
  .argument('<checkpoint>', 'a .safetensors checkpoint (e.g. runs/<run>/phase-3/soup-uniform.safetensors)')
  .option('--format <format>', 'dense or sparse', 'sparse')
  .option('--out <file>', 'output file (default: <checkpoint>.<format>.safetensors)')
  .option('--model <name>', 'model name when neither the file nor its run says')
  .option('--model-options <json>', 'model options as JSON', parseJsonOption)
  .option('--dataset <name>', 'dataset the model was trained on (for its input shape and classes)')
  .option('--dir <dir>', "directory of the dataset's files")
  .action(
    async (
      checkpoint: string,
      o: { format: string; out?: string; model?: string; modelOptions?: ModelOptions; dataset?: string; dir?: string },
    ) => {
      if (o.format !== 'dense' && o.format !== 'sparse')
        throw new SparseSoupsError(`--format: expected 'dense' or 'sparse', got '${o.format}'`);
      const output = o.out ?? checkpoint.replace(/\.safetensors$/, '') + `.${o.format}.safetensors`;
      const r = await exportModel({
        checkpoint,
        output,
        format: o.format as ExportFormat,
        model: o.model,
        modelOptions: o.modelOptions,
        dataset: o.dataset,
        dir: o.dir,
      });
      process.stdout.write(
        `wrote ${r.path}: ${mb(r.bytes)} (${o.format}); dense would be ${mb(r.denseBytes)}, ratio ${(100 * r.ratio).toFixed(1)}%; ` +
          `${r.nonzero.toLocaleString('en-US')} of ${r.total.toLocaleString('en-US')} values non-zero\n`,
      );
    },
  );

program
  .command('worker')
  .description('take retrain and merge jobs from the BullMQ queues (run on every machine that should work)')
  .requiredOption('--redis <url>', 'redis://host:port of the queues')
  .option('--concurrency <n>', 'jobs at once (N > 1 runs N worker processes)', (v) => Number.parseInt(v, 10))
  .option('--threads <n>', 'libtorch threads per job (default: cores / concurrency)', (v) => Number.parseInt(v, 10))
  .action(async (o: { redis: string; concurrency?: number; threads?: number }) => {
    const stop = new AbortController();
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
    process.stderr.write(`worker: taking jobs from ${o.redis} (SIGINT/SIGTERM to stop after the running job)\n`);
    await runWorker({
      redis: o.redis,
      concurrency: o.concurrency,
      threads: o.threads,
      signal: stop.signal,
      onEvent: (e) => process.stderr.write(`worker: ${JSON.stringify(e)}\n`),
    });
  });

const data = program.command('data').description('datasets and corruptions');
data
  .command('list')
  .description('list the datasets and corruption types')
  .action(() => {
    process.stdout.write(`${datasetListing()}\n`);
  });
data
  .command('preview')
  .description('write a PNG grid of sample images, one row per corruption')
  .argument('<dataset>', 'dataset name (see `data list`)')
  .requiredOption('--out <png>', 'output PNG file')
  .option('--dir <dir>', "directory of the dataset's files")
  .option('--corruptions <list>', 'comma-separated corruption names (default: all)', (v: string) => v.split(',').map((s) => s.trim()))
  .option('--severity <n>', 'severity 1-5', (v) => Number.parseInt(v, 10), 3)
  .option('--count <n>', 'images per row', (v) => Number.parseInt(v, 10), 8)
  .option('--seed <n>', 'sample and corruption seed', (v) => Number.parseInt(v, 10), 0)
  .action((dataset: string, o: { out: string; dir?: string; corruptions?: string[]; severity: number; count: number; seed: number }) => {
    const r = previewCommand(dataset, o);
    process.stdout.write(`wrote ${r.path} (${r.width}x${r.height}, rows: ${r.rowLabels.join(', ')})\n`);
  });

program
  .command('status')
  .description('show where a run stands (checkpoints done, last event, results)')
  .argument('<run-dir>', 'a run directory')
  .option('--json', 'print machine-readable JSON')
  .action(async (dir: string, o: { json?: boolean }) => {
    const s = await runStatus(dir);
    process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
  });

program.parseAsync(process.argv).catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`sparse-soups: ${msg}\n`);
  if (!(e instanceof SparseSoupsError) && process.env.SPARSE_SOUPS_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
