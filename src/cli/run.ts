/** `sparse-soups run <config>`: an SMS experiment from a YAML config, then its report. */
import type { Command } from 'commander';
import type { SmsConfig } from '../sms/config.js';
import { checkDevicesFlag, executorOptions, loadConfigFile, makeExecutor, reporter, type ExecutorFlags } from './options.js';

export function registerRunCommand(program: Command): void {
  executorOptions(program.command('run'))
    .description(
      'run an SMS experiment from a YAML config (re-running the same config resumes it); with seeds: [...], one run per seed, then their comparison',
    )
    .argument('<config>', 'YAML config file (see configs/ and docs/config.md)')
    .option('--out <dir>', 'parent directory of run directories', 'runs')
    .option('--threads <n>', 'libtorch threads per process (default: config, else all cores / workers)', (v) => Number.parseInt(v, 10))
    .action(async (configPath: string, o: ExecutorFlags & { out: string }) => {
      // Loaded here, not at the top: `--help` and the other commands need none of it.
      const { parseSmsConfig } = await import('../sms/config.js');
      const { prepareAndValidate } = await import('../sms/validate.js');
      const { createRunDir } = await import('../run/rundir.js');
      const { runExperiment } = await import('../run/experiment.js');
      const { summaryMarkdown } = await import('../run/summary.js');
      const { writeReport } = await import('../report/report.js');
      const config = parseSmsConfig(await loadConfigFile(configPath), configPath);
      await checkDevicesFlag(o, config, configPath);
      if (config.seeds !== null) return runSeeds(config, configPath, o);
      await prepareAndValidate(config, configPath); // before the run directory exists; its warnings come again as run events
      const run = await createRunDir(config, o.out);
      process.stderr.write(`run directory: ${run.path}\n`);
      const { executor, reason: executorReason } = await makeExecutor(o, config);
      const onEvent = await reporter();
      const results = await runExperiment(run, { onEvent, threads: o.threads, executor, executorReason }).finally(() => executor?.close());
      const report = await writeReport(run.path);
      process.stdout.write(
        `\n${summaryMarkdown(results)}\n\nresults: ${run.path}/results.json, ${run.path}/results.csv\nreport: ${report}\n`,
      );
    });
}

/** `seeds: [...]`: one run per seed (src/run/replicates.ts), each with its report, then their comparison. */
async function runSeeds(config: SmsConfig, configPath: string, o: ExecutorFlags & { out: string }): Promise<void> {
  const { replicateConfigs } = await import('../sms/config.js');
  const { prepareAndValidate } = await import('../sms/validate.js');
  const { runReplicates } = await import('../run/replicates.js');
  const { writeComparison, comparisonText } = await import('../report/compare-output.js');
  const { writeReport: writeRunReport } = await import('../report/report.js');
  // Every replicate is validated again when it starts; the first one here, before anything is written.
  const first = replicateConfigs(config)[0];
  await prepareAndValidate(first, configPath);
  const { executor, reason: executorReason } = await makeExecutor(o, first);
  const dirs = await runReplicates(config, o.out, {
    onEvent: await reporter(),
    threads: o.threads,
    executor,
    executorReason,
    onReplicateStart: (r) => process.stderr.write(`replicate ${r.index + 1}/${r.count} (seed ${r.seed}): run directory ${r.dir}\n`),
    onReplicateDone: async (r) => {
      await writeRunReport(r.dir);
    },
  }).finally(() => executor?.close());
  process.stdout.write(`\n${comparisonText(await writeComparison(dirs))}\n`);
}
