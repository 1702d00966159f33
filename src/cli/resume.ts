/** `sparse-soups resume <run-dir>`: continue an interrupted run. */
import type { Command } from 'commander';
import { checkDevicesFlag, executorOptions, makeExecutor, reporter, type ExecutorFlags } from './options.js';

export function registerResumeCommand(program: Command): void {
  executorOptions(program.command('resume'))
    .description('continue an interrupted run from its run directory')
    .argument('<run-dir>', 'a run directory created by `run`')
    .option('--threads <n>', 'libtorch threads per process', (v) => Number.parseInt(v, 10))
    .action(async (dir: string, o: ExecutorFlags) => {
      // Loaded here, not at the top: `--help` and the other commands need none of it.
      const { openRunDir } = await import('../run/rundir.js');
      const { runLayout } = await import('../sms/layout.js');
      const { prepareAndValidate } = await import('../sms/validate.js');
      const { runExperiment } = await import('../run/experiment.js');
      const { summaryMarkdown } = await import('../run/summary.js');
      const run = await openRunDir(dir);
      await checkDevicesFlag(o, run.config, runLayout(run.path).config);
      await prepareAndValidate(run.config, runLayout(run.path).config);
      const { executor, reason: executorReason } = await makeExecutor(o, run.config);
      const onEvent = await reporter();
      const results = await runExperiment(run, { onEvent, threads: o.threads, executor, executorReason }).finally(() => executor?.close());
      process.stdout.write(`\n${summaryMarkdown(results)}\n`);
    });
}
