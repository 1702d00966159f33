/** `sparse-soups resume <run-dir>`: continue an interrupted run. */
import type { Command } from 'commander';
import { openRunDir } from '../run/rundir.js';
import { runLayout } from '../sms/layout.js';
import { prepareAndValidate } from '../sms/validate.js';
import { runExperiment } from '../run/experiment.js';
import { summaryMarkdown } from '../run/summary.js';
import { executorOptions, makeExecutor, reporter, type ExecutorFlags } from './options.js';

export function registerResumeCommand(program: Command): void {
  executorOptions(program.command('resume'))
    .description('continue an interrupted run from its run directory')
    .argument('<run-dir>', 'a run directory created by `run`')
    .option('--threads <n>', 'libtorch threads per process', (v) => Number.parseInt(v, 10))
    .action(async (dir: string, o: ExecutorFlags) => {
      const run = await openRunDir(dir);
      await prepareAndValidate(run.config, runLayout(run.path).config);
      const executor = await makeExecutor(o);
      const results = await runExperiment(run, { onEvent: reporter(), threads: o.threads, executor }).finally(() => executor?.close());
      process.stdout.write(`\n${summaryMarkdown(results)}\n`);
    });
}
