/**
 * The SMS pipeline: `runSms` runs Sparse Model Soups (and its baselines) from
 * a validated config; progress comes as `SmsEvent`s, results as
 * `SmsResults`, every checkpoint lands in the run directory (`runLayout`).
 *
 * @example
 * import { runSms, parseSmsConfig } from 'sparse-soups/sms';
 * const config = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'convnet' } });
 * const results = await runSms(config, { workDir: 'runs/demo', onEvent: (e) => console.log(e.type) });
 * results.phases.at(-1)?.soups.uniform.metrics.testAccuracy;
 */
export { runSms, meanScores } from './pipeline.js';
export type { SmsResults, SmsRunOptions, SmsEvent, CandidateRecord, SoupRecord, PhaseResult, PhaseMergeSpec } from './pipeline.js';
export type { BaselineRecords } from './records.js';
export { parseSmsConfig, smsConfigSchema, configHash, normalizedConfigJson } from './config.js';
export type { SmsConfig, SmsConfigInput } from './config.js';
export { configFields, configReferenceMarkdown } from './config-doc.js';
export type { ConfigField } from './config-doc.js';
export { candidateSpecs, candidateLabel, defaultCandidateSeed } from './candidates.js';
export type { CandidateSpec } from './candidates.js';
export { InlineExecutor } from './executor.js';
export type { ExecutorRunOptions, RetrainExecutor } from './executor.js';
export { retrainCandidate, describeRetrainJob } from './retrain.js';
export type { RetrainJob, RetrainResult, RetrainProgress } from './retrain.js';
export type { ModelMetrics, PredictionMetrics, OodScore } from './evaluate.js';
export { runLayout } from './layout.js';
export type { RunLayout, SoupMethod } from './layout.js';
