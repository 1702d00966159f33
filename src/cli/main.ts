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
import { datasetListing, previewCommand } from '../run/data-commands.js';

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

program
  .command('run')
  .description('run an SMS experiment from a YAML config (re-running the same config resumes it)')
  .argument('<config>', 'YAML config file (see configs/ and docs/config.md)')
  .option('--out <dir>', 'parent directory of run directories', 'runs')
  .option('--threads <n>', 'libtorch threads (default: config, else all cores)', (v) => Number.parseInt(v, 10))
  .action(async (configPath: string, o: { out: string; threads?: number }) => {
    const config = parseSmsConfig(loadConfigFile(configPath), configPath);
    const run = await createRunDir(config, o.out);
    process.stderr.write(`run directory: ${run.path}\n`);
    const results = await runExperiment(run, { onEvent: reporter(), threads: o.threads });
    process.stdout.write(`\n${summaryMarkdown(results)}\n\nresults: ${run.path}/results.json, ${run.path}/results.csv\n`);
  });

program
  .command('resume')
  .description('continue an interrupted run from its run directory')
  .argument('<run-dir>', 'a run directory created by `run`')
  .option('--threads <n>', 'libtorch threads', (v) => Number.parseInt(v, 10))
  .action(async (dir: string, o: { threads?: number }) => {
    const run = await openRunDir(dir);
    const results = await runExperiment(run, { onEvent: reporter(), threads: o.threads });
    process.stdout.write(`\n${summaryMarkdown(results)}\n`);
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
