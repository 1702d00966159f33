/** `sparse-soups compare <run-dirs...>`: replicates of one config (different seeds) compared with confidence intervals. */
import type { Command } from 'commander';

export function registerCompareCommand(program: Command): void {
  program
    .command('compare')
    .description(
      'compare finished replicates of one config (different seeds): mean ± std, 95% intervals, and whether the soup beats IMP and its best candidate',
    )
    .argument('<run-dirs...>', 'finished run directories of one config with different seeds')
    .option('--out <dir>', 'output directory (default: <parent of the first run>/<name>-compare-<hash of the run dirs>)')
    .action(async (dirs: string[], o: { out?: string }) => {
      const { writeComparison, comparisonText } = await import('../report/compare-output.js');
      process.stdout.write(`${comparisonText(await writeComparison(dirs, { out: o.out }))}\n`);
    });
}
