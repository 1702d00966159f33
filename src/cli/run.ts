/** `sparse-soups run <config>`: an SMS experiment from a YAML config, then its report. */
import type { Command } from 'commander';
import { executorOptions, loadConfigFile, makeExecutor, reporter, type ExecutorFlags } from './options.js';

export function registerRunCommand(program: Command): void {
  executorOptions(program.command('run'))
    .description('run an SMS experiment from a YAML config (re-running the same config resumes it)')
    .argument('<config>', 'YAML config file (see configs/ and docs/config.md)')
    .option('--out <dir>', 'parent directory of run directories', 'runs')
    .option('--threads <n>', 'libtorch threads per process (default: config, else all cores / workers)', (v) => Number.parseInt(v, 10))
    .action(async (configPath: string, o: ExecutorFlags & { out: string }) => {
      // Loaded here, not at the top: `--help` and the other commands need none of it.
      const { parseSmsConfig } = await import('../sms/config.js');
      const { createRunDir } = await import('../run/rundir.js');
      const { runExperiment } = await import('../run/experiment.js');
      const { summaryMarkdown } = await import('../run/summary.js');
      const { writeReport } = await import('../report/report.js');
      const config = parseSmsConfig(await loadConfigFile(configPath), configPath);
      const run = await createRunDir(config, o.out);
      process.stderr.write(`run directory: ${run.path}\n`);
      const executor = await makeExecutor(o);
      const onEvent = await reporter();
      const results = await runExperiment(run, { onEvent, threads: o.threads, executor }).finally(() => executor?.close());
      const report = await writeReport(run.path);
      process.stdout.write(
        `\n${summaryMarkdown(results)}\n\nresults: ${run.path}/results.json, ${run.path}/results.csv\nreport: ${report}\n`,
      );
    });
}
