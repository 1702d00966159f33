/**
 * The verification experiment of the method: runs (or resumes) an SMS
 * experiment and checks the paper's claims on its results — per phase, does
 * the soup beat the mean of its ingredients, and does it beat IMP at the
 * same sparsity, on test and on OOD accuracy?
 *
 *   node --import tsx experiments/verify-claims.ts configs/fashion-mnist-paper.yaml [--out runs]
 *
 * Prints the result table (markdown) and one line per claim, then a JSON line.
 * A finished run (results.json present) is read back instead of run again.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { parseSmsConfig } from '../src/sms/config.js';
import { createRunDir } from '../src/run/rundir.js';
import { runExperiment } from '../src/run/experiment.js';
import { plainProgressReporter } from '../src/run/progress.js';
import { summaryMarkdown } from '../src/run/summary.js';
import type { SmsResults } from '../src/sms/pipeline.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'runs' } } });
const configPath = positionals[0] ?? 'configs/fashion-mnist-paper.yaml';
const config = parseSmsConfig(parse(readFileSync(configPath, 'utf8')), configPath);
const run = await createRunDir(config, values.out);
// A finished run is read back rather than resumed (resuming re-evaluates every phase).
const finished = join(run.path, 'results.json');
const results: SmsResults = existsSync(finished)
  ? (JSON.parse(readFileSync(finished, 'utf8')) as SmsResults)
  : await runExperiment(run, { onEvent: plainProgressReporter() });

const pct = (x: number): string => (100 * x).toFixed(2);
console.log(`\n${summaryMarkdown(results)}\n`);
const claims: { phase: number; claim: string; soup: number; other: number; holds: boolean }[] = [];
for (const p of results.phases) {
  const soup = p.soups.uniform.metrics;
  const check = (claim: string, a: number, b: number): void => {
    claims.push({ phase: p.phase, claim, soup: a, other: b, holds: a > b });
  };
  check('uniform soup > candidate mean (test)', soup.testAccuracy, p.candidateMean.testAccuracy);
  check('uniform soup > candidate mean (OOD)', soup.oodMeanAccuracy, p.candidateMean.oodMeanAccuracy);
  if (p.imp) {
    check('uniform soup > IMP mean (test)', soup.testAccuracy, p.imp.mean.testAccuracy);
    check('uniform soup > IMP mean (OOD)', soup.oodMeanAccuracy, p.imp.mean.oodMeanAccuracy);
  }
}
for (const c of claims)
  console.log(`phase ${c.phase}: ${c.claim}: ${pct(c.soup)} vs ${pct(c.other)} -> ${c.holds ? 'holds' : 'does not hold'}`);
console.log(JSON.stringify({ experiment: 'verify-claims', config: configPath, run: run.path, claims }));
