/** `sparse-soups report <run-dir>`: the self-contained report.html of a finished run. */
import type { Command } from 'commander';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write a self-contained report.html (plots, tables, config) into a finished run directory')
    .argument('<run-dir>', 'a run directory with results.json')
    .action(async (dir: string) => {
      const { writeReport } = await import('../report/report.js'); // vega: loaded only for this command
      const path = await writeReport(dir);
      process.stdout.write(`wrote ${path}\n`);
    });
}
