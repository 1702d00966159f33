/**
 * Reads what a report is made of — `config.json` and `results.json` of a run
 * directory — and validates it, so a half-written or hand-edited file fails
 * here with its name and the offending field, not as a blank plot later.
 *
 * JSON has no NaN: the pipeline's NaN values (no OOD sets configured, the
 * greedy soup's first "accuracy before") arrive as null and are turned back
 * into NaN, so the rest of the report sees the types of src/sms/pipeline.ts.
 *
 * @example
 * const { config, results } = await loadRun('runs/cifar10-1a2b3c4d5e6f');
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { readJsonFile } from '../io/atomic.js';
import { parseSmsConfig, type SmsConfig } from '../sms/config.js';
import type { SmsResults } from '../sms/pipeline.js';
import { DataFormatError } from '../util/errors.js';
import { runLayout } from '../sms/layout.js';

const num = z
  .number()
  .nullable()
  .transform((x) => x ?? NaN);
const count = z.number().int().nonnegative();
/** A number that results written by earlier versions lack (NaN then). */
const laterNum = z
  .number()
  .nullable()
  .optional()
  .transform((x) => x ?? NaN);

const oodScore = z.object({ corruption: z.string(), severity: z.number(), accuracy: num });
const predictionMetrics = z.object({
  testAccuracy: num,
  testLoss: num,
  ece: num,
  mce: laterNum,
  worstClassAccuracy: num,
  ood: z.array(oodScore),
  oodMeanAccuracy: num,
});
const modelMetrics = predictionMetrics.extend({
  sparsity: num,
  perLayerSparsity: z.array(z.object({ name: z.string(), sparsity: num, total: count })),
  nonzeroParameters: count,
  totalParameters: count,
  denseFlops: z.number(),
  nonzeroFlops: z.number(),
});
const candidateSpec = z.object({
  index: count,
  seed: z.number(),
  weightDecay: z.number(),
  epochs: z.number(),
  maxLr: z.number(),
  labelSmoothing: z.number(),
});
const candidateRecord = z.object({
  label: z.string(),
  spec: candidateSpec,
  validationAccuracy: num,
  trainLoss: num,
  seconds: z.number(),
  checkpoint: z.string(),
  metrics: modelMetrics,
});
const greedyDecision = z.object({
  label: z.string(),
  candidateAccuracy: num,
  soupAccuracyWith: num,
  soupAccuracyBefore: num,
  accepted: z.boolean(),
});
const soupRecord = z.object({
  validationAccuracy: num,
  ingredients: z.array(z.string()),
  decisions: z.array(greedyDecision).optional(),
  checkpoint: z.string(),
  metrics: modelMetrics,
});
const matrix = z.array(z.array(num));
const phaseResult = z.object({
  phase: count,
  targetSparsity: z.number(),
  maskHash: z.string(),
  pruning: z
    .object({ normDrop: num, prunedFraction: num, metrics: modelMetrics })
    .nullable()
    .optional()
    .transform((x) => x ?? null),
  retrainEpochs: z
    .object({ sms: z.number(), imp: z.number().nullable(), impLonger: z.number().nullable() })
    .nullable()
    .optional()
    .transform((x) => x ?? null),
  candidates: z.array(candidateRecord).min(1),
  candidateMean: predictionMetrics,
  bestCandidate: z.string(),
  soups: z.object({ uniform: soupRecord, greedy: soupRecord }),
  ensemble: predictionMetrics.nullable(),
  imp: z.object({ chains: z.array(candidateRecord).min(1), mean: predictionMetrics, best: z.string() }).nullable(),
  impLonger: candidateRecord.nullable(),
  distances: z.object({ pairwiseL2: matrix, pairwiseAngleDegrees: matrix, toMean: z.array(num) }),
});
const smsResultsSchema = z.object({ name: z.string(), configHash: z.string(), dense: modelMetrics, phases: z.array(phaseResult).min(1) });

// Compile-time guard: the schema's output must stay a valid SmsResults when the pipeline's types change.
type Assignable<T extends SmsResults> = T;
export type ValidatedResults = Assignable<z.output<typeof smsResultsSchema>>;

export interface LoadedRun {
  /** The run directory, absolute. */
  dir: string;
  config: SmsConfig;
  /** config.json as written (keys and values untouched), for display. */
  configJson: unknown;
  results: ValidatedResults;
}

function describeIssue(issue: z.ZodIssue): string {
  const where = issue.path.length
    ? issue.path
        .map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`))
        .join('')
        .replace(/^\./, '')
    : '(root)';
  return `${where}: ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`;
}

/** Validates parsed results.json content; `file` names it in errors. */
export function parseResults(value: unknown, file: string): ValidatedResults {
  const r = smsResultsSchema.safeParse(value);
  if (!r.success) {
    const issues = r.error.issues;
    const shown = issues.slice(0, 3).map(describeIssue).join('; ');
    const more = issues.length > 3 ? ` (and ${issues.length - 3} more problems)` : '';
    throw new DataFormatError(
      file,
      `not valid SMS results: ${shown}${more}. Was it written by another version of sparse-soups, or edited by hand?`,
    );
  }
  return r.data;
}

/** Reads and validates config.json and results.json of a finished run. */
export async function loadRun(runDir: string): Promise<LoadedRun> {
  const dir = resolve(runDir);
  const { config: configFile, results: resultsFile } = runLayout(dir);
  if (!existsSync(dir)) throw new DataFormatError(dir, 'no such run directory');
  if (!existsSync(configFile)) throw new DataFormatError(configFile, `not found: ${dir} is not a sparse-soups run directory`);
  const configJson = await readJsonFile(configFile);
  const config = parseSmsConfig(configJson, configFile);
  if (!existsSync(resultsFile)) {
    throw new DataFormatError(
      resultsFile,
      `not found: the run has not finished, so there is nothing to report yet. See where it stands with \`sparse-soups status ${runDir}\` and finish it with \`sparse-soups resume ${runDir}\``,
    );
  }
  const results = parseResults(await readJsonFile(resultsFile), resultsFile);
  return { dir, config, configJson, results };
}
