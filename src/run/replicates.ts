/**
 * Replicates: a config with `seeds: [s1, s2, ...]` is the same experiment
 * run once per seed. Each replicate is the config with `seed: s` and no
 * `seeds`, run one after another into its own ordinary run directory
 * (`<out>/<name>-<hash of that config>`), so each resumes on its own and
 * running the same config again resumes them all. Comparing the finished
 * runs is the report layer's job (src/report/compare.ts).
 *
 * @example
 * const dirs = await runReplicates(parseSmsConfig({ ...raw, seeds: [0, 1, 2] }), 'runs');
 * // ['/…/runs/sms-1a2b…', '/…/runs/sms-3c4d…', '/…/runs/sms-5e6f…']
 */
import { replicateConfigs, type SmsConfig } from '../sms/config.js';
import type { SmsResults } from '../sms/pipeline.js';
import { createRunDir } from './rundir.js';
import { runExperiment, type ExperimentOptions } from './experiment.js';

export interface ReplicateOptions extends ExperimentOptions {
  /** Called before replicate `index` (0-based) of `count` starts, with its run directory. */
  onReplicateStart?: (info: { index: number; count: number; seed: number; dir: string }) => void;
  /** Called when a replicate has finished (e.g. to write its report), before the next one starts. */
  onReplicateDone?: (info: { index: number; count: number; seed: number; dir: string; results: SmsResults }) => Promise<void> | void;
}

/**
 * Runs (or resumes) every replicate of `config` under `outRoot`, in the
 * order of `config.seeds` (one run with `config.seed` when `seeds` is null),
 * and returns their run directories in that order. A failing replicate
 * stops the loop; the ones before it stay finished, and running again
 * reuses them.
 */
export async function runReplicates(config: SmsConfig, outRoot: string, opts: ReplicateOptions = {}): Promise<string[]> {
  const { onReplicateStart, onReplicateDone, ...experiment } = opts;
  const replicates = replicateConfigs(config);
  const dirs: string[] = [];
  for (const [index, replicate] of replicates.entries()) {
    const run = await createRunDir(replicate, outRoot);
    const info = { index, count: replicates.length, seed: replicate.seed, dir: run.path };
    onReplicateStart?.(info);
    const results = await runExperiment(run, experiment);
    await onReplicateDone?.({ ...info, results });
    dirs.push(run.path);
  }
  return dirs;
}
