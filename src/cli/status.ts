/** `sparse-soups status <run-dir>`: where a run stands. */
import type { Command } from 'commander';

export function registerStatusCommand(program: Command): void {
  program
    .command('status')
    .description('show where a run stands (checkpoints done, last event, results)')
    .argument('<run-dir>', 'a run directory')
    .option('--json', 'print machine-readable JSON')
    .action(async (dir: string, o: { json?: boolean }) => {
      const { runStatus, formatStatus } = await import('../run/status.js');
      const s = await runStatus(dir);
      process.stdout.write(o.json ? `${JSON.stringify(s, null, 2)}\n` : `${formatStatus(s)}\n`);
    });
}
