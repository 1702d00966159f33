/** `sparse-soups report <run-dir>`: the self-contained report.html of a finished run. */
import type { Command } from 'commander';
import { writeReport } from '../report/report.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write a self-contained report.html (plots, tables, config) into a finished run directory')
    .argument('<run-dir>', 'a run directory with results.json')
    .action(async (dir: string) => {
      const path = await writeReport(dir);
      process.stdout.write(`wrote ${path}\n`);
    });
}
