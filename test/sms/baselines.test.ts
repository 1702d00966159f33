// The baseline branches on their own: which jobs each plans per phase (by
// name, from which parent, under which mask), how each advances on its
// results, and what a branch that the config turns off does (nothing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNumThreads } from '../../src/tensor/index.js';
import { parseSmsConfig, type SmsConfig } from '../../src/sms/config.js';
import { buildModel } from '../../src/sms/context.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { pruneCheckpoint } from '../../src/sms/masks.js';
import { runLayout } from '../../src/sms/layout.js';
import type { PhaseContext, PhaseResults } from '../../src/sms/plan.js';
import type { RetrainResult } from '../../src/sms/retrain.js';
import { BASELINES, BaselineRuns, scoreBaselines } from '../../src/sms/baselines/index.js';
import { saveCheckpoint, type CheckpointRef } from '../../src/checkpoints/store.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

async function setup(baselines: { imp: boolean; impLonger: boolean; ensemble: boolean }) {
  setNumThreads(1);
  const config: SmsConfig = parseSmsConfig(tinyRunConfig({ name: 'baselines', baselines, candidates: { count: 3 } }));
  const run = runLayout(mkdtempSync(join(tmpdir(), 'baselines-')));
  for (const p of [1, 2]) mkdirSync(run.phaseDir(p), { recursive: true });
  const save = async (path: string, seed: number): Promise<CheckpointRef> => {
    const model = buildModel(config, seed);
    try {
      return await saveCheckpoint(path, model.stateDict());
    } finally {
      model.dispose();
    }
  };
  const dense = await save(run.dense, 0);
  const ctx = (phase: number): PhaseContext => ({ config, run, phase, targetSparsity: phase === 1 ? 0.5 : 0.75, pruneSeed: phase, specs: candidateSpecs(config) });
  /** A result standing for a retrain: a distinct checkpoint (its own initialization). */
  const result = async (path: string, seed: number): Promise<RetrainResult> => ({
    checkpoint: await save(path, seed),
    maskHash: 'm',
    validationAccuracy: 0.5,
    trainLoss: 1,
    seconds: 0,
    samplesPerSecond: 0,
  });
  return { config, run, dense, ctx, result };
}

test('IMP and IMP m× longer plan their own named jobs from their own chains; phase 1 of IMP is the SMS candidates', async () => {
  const { config, run, dense, ctx, result } = await setup({ imp: true, impLonger: true, ensemble: true });
  const smsMask = await pruneCheckpoint(config, dense, null, 0.5, 1, run.mask(1));
  const branches = new BaselineRuns(config, dense);

  const phase1 = await branches.plan(ctx(1), { parent: dense, mask: smsMask });
  assert.deepEqual(Object.keys(phase1), ['imp-longer'], 'phase 1: IMP shares the SMS candidates, IMP-longer retrains');
  const longer1 = phase1['imp-longer'];
  assert.equal(longer1.kind, 'imp-longer');
  assert.equal(longer1.parent.sha256, dense.sha256, 'from the dense model');
  assert.equal(longer1.mask.sha256, smsMask.mask.sha256, 'under the SMS mask');
  assert.equal(longer1.spec.epochs, 3 * config.retrain.epochs, 'm× the candidates epochs');
  assert.equal(longer1.output, run.impLonger(1));

  const results1: PhaseResults = {};
  for (let i = 0; i < 3; i++) results1[`sms/${i}`] = await result(run.candidate(1, i), 10 + i);
  results1['imp-longer'] = await result(run.impLonger(1), 20);
  branches.advance(results1);

  const soup = (await result(run.soup(1, 'uniform'), 30)).checkpoint;
  const phase2 = await branches.plan(ctx(2), { parent: soup, mask: smsMask });
  assert.deepEqual(Object.keys(phase2), ['imp/0', 'imp/1', 'imp/2', 'imp-longer']);
  for (let i = 0; i < 3; i++) {
    const job = phase2[`imp/${i}`];
    assert.equal(job.kind, 'imp');
    assert.equal(job.spec.index, i);
    assert.equal(job.parent.sha256, results1[`sms/${i}`].checkpoint.sha256, `chain ${i} continues from candidate ${i}, not the soup`);
    assert.equal(job.mask.path, run.impMask(2, i), 'pruned its own mask');
    assert.equal(job.output, run.imp(2, i));
  }
  assert.equal(phase2['imp-longer'].parent.sha256, results1['imp-longer'].checkpoint.sha256);
  assert.equal(phase2['imp-longer'].mask.path, run.impLongerMask(2));
  assert.notEqual(phase2['imp/0'].mask.sha256, phase2['imp/1'].mask.sha256, 'each chain prunes its own weights');
});

test('branches the config turns off plan nothing and score null; the registry fills the phase-result fields in order', async () => {
  const { config, run, dense, ctx } = await setup({ imp: false, impLonger: false, ensemble: false });
  const mask = await pruneCheckpoint(config, dense, null, 0.5, 1, run.mask(1));
  const branches = new BaselineRuns(config, dense);
  assert.deepEqual(await branches.plan(ctx(1), { parent: dense, mask }), {});
  const scoring = { config, phase: 1, specs: ctx(1).specs, labels: [], candidates: [], predictions: [], results: {} } as unknown as Parameters<typeof scoreBaselines>[0];
  assert.deepEqual(await scoreBaselines(scoring), { ensemble: null, imp: null, impLonger: null });
  assert.deepEqual(Object.keys(BASELINES), ['ensemble', 'imp', 'impLonger']);
});
