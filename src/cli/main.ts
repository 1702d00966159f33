#!/usr/bin/env node
/**
 * The `sparse-soups` command line: one file per command in this folder,
 * assembled here in the order `--help` lists them. Errors print as one line
 * (with the stack for unexpected ones when SPARSE_SOUPS_DEBUG is set) and
 * exit with status 1.
 */
import { Command } from 'commander';
import { SparseSoupsError } from '../util/errors.js';
import { registerRunCommand } from './run.js';
import { registerResumeCommand } from './resume.js';
import { registerReportCommand } from './report.js';
import { registerCompareCommand } from './compare.js';
import { registerEvalCommand } from './eval.js';
import { registerExportCommand } from './export.js';
import { registerWorkerCommand } from './worker.js';
import { registerDataCommand } from './data.js';
import { registerStatusCommand } from './status.js';
import { registerBenchInferCommand } from './bench-infer.js';

const program = new Command();
program.name('sparse-soups').description('Prune neural networks and merge them into Sparse Model Soups (libtorch-backed)');
registerRunCommand(program);
registerResumeCommand(program);
registerReportCommand(program);
registerCompareCommand(program);
registerEvalCommand(program);
registerExportCommand(program);
registerWorkerCommand(program);
registerDataCommand(program);
registerStatusCommand(program);
registerBenchInferCommand(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`sparse-soups: ${msg}\n`);
  if (!(e instanceof SparseSoupsError) && process.env.SPARSE_SOUPS_DEBUG) process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
