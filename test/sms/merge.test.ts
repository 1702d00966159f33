// The merge step on its own: two real candidates retrained under one mask are
// merged into soups that keep the mask, the uniform soup is their exact mean
// (the tiny MLP has no batch norm to recalibrate), each baseline branch is
// scored from its results by name, and mergePhaseOnce reuses a merged phase.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNumThreads } from '../../src/tensor/index.js';
import { parseSmsConfig, type SmsConfig } from '../../src/sms/config.js';
import { buildModel } from '../../src/sms/context.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { pruneCheckpoint, type PruneResult } from '../../src/sms/masks.js';
import { retrainCandidateOnce, type RetrainResult } from '../../src/sms/retrain.js';
import { mergePhase, mergePhaseOnce } from '../../src/sms/merge.js';
import { runLayout } from '../../src/sms/layout.js';
import { candidateJobName, retrainJob, type PhaseContext, type PhaseMergeSpec, type PhaseResults } from '../../src/sms/plan.js';
import { loadCheckpoint, saveCheckpoint, type CheckpointRef } from '../../src/checkpoints/store.js';
import { MergeError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

interface Phase {
  config: SmsConfig;
  spec: PhaseMergeSpec;
  results: PhaseResults;
  parent: CheckpointRef;
  mask: PruneResult;
}

/** Phase 1 of a tiny run by hand: the initialization as parent, its 50% mask, and both candidates retrained. */
async function retrainedPhase(overrides: Parameters<typeof tinyRunConfig>[0] = {}, architecture?: { name: string }): Promise<Phase> {
  setNumThreads(1);
  const config = parseSmsConfig({ ...tinyRunConfig(overrides), ...(architecture ? { model: architecture } : {}) });
  const run = runLayout(mkdtempSync(join(tmpdir(), 'merge-')));
  mkdirSync(run.phaseDir(1), { recursive: true });
  const model = buildModel(config, config.seed);
  const parent = await saveCheckpoint(run.dense, model.stateDict());
  model.dispose();
  const mask = await pruneCheckpoint(config, parent, null, 0.5, 1, run.mask(1));
  const ctx: PhaseContext = { config, run, phase: 1, targetSparsity: 0.5, pruneSeed: 1, specs: candidateSpecs(config) };
  const results: PhaseResults = {};
  for (const [i, spec] of ctx.specs.entries()) {
    results[candidateJobName(i)] = await retrainCandidateOnce(retrainJob(ctx, 'sms', spec, parent, mask, run.candidate(1, i)));
  }
  return { config, spec: { config, phase: 1, targetSparsity: 0.5, runDir: run.root, mask, parent }, results, parent, mask };
}

test('merge: soups keep the mask, the uniform soup is the exact mean, every candidate is scored, baselines off are null', async () => {
  const { spec, results } = await retrainedPhase();
  const phase = await mergePhase(spec, results);
  assert.equal(phase.candidates.length, 2);
  assert.equal(phase.maskHash, spec.mask.maskHash);
  for (const soup of [phase.soups.uniform, phase.soups.greedy]) assert.ok(Math.abs(soup.metrics.sparsity - 0.5) < 1e-3, 'the soup keeps the mask');
  assert.deepEqual(phase.soups.uniform.ingredients, phase.candidates.map((c) => c.label));
  const [a, b, soup] = await Promise.all([results['sms/0'].checkpoint, results['sms/1'].checkpoint, phase.soups.uniform.checkpoint].map((r) => loadCheckpoint(r)));
  for (const [name, t] of soup) {
    const mean = a.get(name)!.add(b.get(name)!).mul(0.5);
    assert.ok(mean.sub(t).abs().max().item() < 1e-6, `${name}: the uniform soup is the candidates' mean`);
  }
  assert.equal(phase.ensemble, null);
  assert.equal(phase.imp, null);
  assert.equal(phase.impLonger, null);
  assert.equal(phase.distances.pairwiseL2.length, 2);
  assert.ok(phase.distances.pairwiseL2[0][1] > 0, 'the candidates differ');
});

test('merge refuses candidates trained under different masks, and a missing candidate result, naming them', async () => {
  const { spec, results } = await retrainedPhase({ name: 'merge-refusals' });
  const other: RetrainResult = { ...results['sms/1'], maskHash: 'f'.repeat(64) };
  await assert.rejects(mergePhase(spec, { ...results, 'sms/1': other }), (e: unknown) => e instanceof MergeError && /phase 1: candidates were trained with different masks \(.*ffffffffffff/.test(e.message));
  const { 'sms/1': _gone, ...partial } = results;
  await assert.rejects(mergePhase(spec, partial), (e: unknown) => e instanceof MergeError && /no retrain result named 'sms\/1' \(have: sms\/0\)/.test(e.message));
});

test('merge scores the baselines from their results by name: ensemble, IMP (phase 1: the candidates), IMP m× longer', async () => {
  const baselines = { imp: true, impLonger: true, ensemble: true };
  const { config, spec, results, parent, mask } = await retrainedPhase({ name: 'merge-baselines', baselines });
  const run = runLayout(spec.runDir);
  const ctx: PhaseContext = { config, run, phase: 1, targetSparsity: 0.5, pruneSeed: 1, specs: candidateSpecs(config) };
  const longer = await retrainCandidateOnce(retrainJob(ctx, 'imp-longer', { ...ctx.specs[0], epochs: 2 }, parent, mask, run.impLonger(1)));
  const phase = await mergePhase(spec, { ...results, 'imp-longer': longer });
  assert.ok(phase.ensemble !== null && phase.ensemble.testAccuracy > 0.1);
  assert.deepEqual(phase.imp?.chains, phase.candidates, 'phase 1 IMP chains are the SMS candidates');
  assert.equal(phase.imp?.best, phase.bestCandidate);
  assert.equal(phase.impLonger?.label, 'imp 2x longer');
  assert.equal(phase.impLonger?.spec.epochs, 2 * ctx.specs[0].epochs);
  assert.equal(phase.impLonger?.checkpoint, run.impLonger(1));
  assert.equal(phase.impLonger?.validationAccuracy, longer.validationAccuracy);
  // Without the IMP-longer result the branch names what is missing.
  await assert.rejects(mergePhase(spec, results), /no retrain result named 'imp-longer'/);
});

test('mergePhaseOnce reuses the recorded phase for the same inputs and merges again when a checkpoint changed', async () => {
  const { spec, results } = await retrainedPhase({ name: 'merge-once' });
  const first = await mergePhaseOnce(spec, results);
  assert.equal(first.reused, false);
  const again = await mergePhaseOnce(spec, results);
  assert.equal(again.reused, true);
  assert.deepEqual(again.result, JSON.parse(JSON.stringify(first.result)), 'the recorded result, as JSON keeps it');
  const changed = { ...results, 'sms/0': { ...results['sms/0'], checkpoint: { ...results['sms/0'].checkpoint, sha256: '0'.repeat(64) } } };
  await assert.rejects(mergePhaseOnce(spec, changed), /checksum/, 'a changed input is merged again, and its checksum is checked');
});

test('like for like: a one-candidate soup has exactly its candidate\'s metrics (both BN-recalibrated); without recalibration they differ', async () => {
  const convnet = { candidates: { count: 1 }, data: { batchSize: 64 } };
  const { spec, results } = await retrainedPhase({ name: 'merge-like-for-like', ...convnet }, { name: 'convnet' });
  const phase = await mergePhase(spec, results);
  const [candidate] = phase.candidates;
  for (const soup of [phase.soups.uniform, phase.soups.greedy]) {
    assert.deepEqual(soup.metrics, candidate.metrics, 'the same weights score the same');
    assert.equal(soup.validationAccuracy, candidate.validationAccuracy, 'and rank the same');
  }
  assert.ok(phase.pruning !== null && phase.pruning.normDrop > 0 && phase.pruning.prunedFraction === 0.5);
  assert.ok(phase.pruning.metrics.sparsity > 0.49, 'the pruned parent is scored with its mask applied');
  assert.deepEqual(phase.retrainEpochs, { sms: 1, imp: null, impLonger: null });

  const raw = await retrainedPhase({ name: 'merge-raw', ...convnet, evaluation: { recalibrateBn: false } }, { name: 'convnet' });
  const rawPhase = await mergePhase(raw.spec, raw.results);
  assert.notEqual(rawPhase.soups.uniform.metrics.testLoss, rawPhase.candidates[0].metrics.testLoss, 'the candidate keeps its training-time BN statistics');
  assert.equal(rawPhase.candidates[0].validationAccuracy, raw.results['sms/0'].validationAccuracy, 'ranked by its own validation accuracy');
});
