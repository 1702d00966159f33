// A tiny end-to-end SMS run on the synthetic data of test/helpers/tiny-run.ts
// (MLP, 2 phases, m = 2) and the invariants of the method: exact sparsity per
// phase, pruned weights exactly zero in candidates and soups, greedy soup
// never below its first ingredient on validation, deterministic retrains,
// resumable runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNumThreads } from '../../src/tensor/index.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { runSms, type SmsEvent } from '../../src/sms/pipeline.js';
import { retrainCandidate } from '../../src/sms/retrain.js';
import { candidateSpecs } from '../../src/sms/candidates.js';
import { loadMask } from '../../src/sms/masks.js';
import { loadCheckpoint, verifiedCheckpoint } from '../../src/checkpoints/store.js';
import { assertSoupKeepsMask } from '../../src/sms/soups.js';
import { MergeError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const config = parseSmsConfig(
  tinyRunConfig({
    model: { options: { hiddenSizes: [64] } },
    baselines: { imp: true, impLonger: false, ensemble: true },
  }),
);

test('tiny SMS run: sparsity, zeros, greedy rule, resume', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-run-'));
  try {
    const events: SmsEvent[] = [];
    const results = await runSms(config, { workDir: dir, onEvent: (e) => events.push(e) });
    assert.equal(results.phases.length, 2);
    const total = 784 * 64 + 64 * 10; // prunable weights of the MLP
    for (const phase of results.phases) {
      const expected = Math.round(phase.targetSparsity * total) / total;
      const mask = await loadMask((await verifiedCheckpoint(join(dir, `phase-${phase.phase}`, 'mask.safetensors')))!);
      try {
        assert.equal(mask.sparsity(), expected, `phase ${phase.phase}: mask sparsity exact to the weight`);
        for (const file of ['candidate-0', 'candidate-1', 'soup-uniform', 'soup-greedy']) {
          const state = await loadCheckpoint(join(dir, `phase-${phase.phase}`, `${file}.safetensors`));
          const nonzero = assertSoupKeepsMask(state, mask, file);
          assert.ok(nonzero <= mask.totalCount() - mask.prunedCount(), `${file}: no weight revived`);
          for (const t of state.values()) t.dispose();
        }
      } finally {
        mask.dispose();
      }
      assert.ok(Math.abs(phase.soups.uniform.metrics.sparsity - expected) < 1e-4, 'soup sparsity equals the target');
      const greedy = phase.soups.greedy;
      assert.ok(greedy.validationAccuracy >= greedy.decisions![0].soupAccuracyWith, 'greedy soup never below its first ingredient');
      assert.ok(phase.soups.uniform.metrics.testAccuracy > 0.5, 'the soup learned something');
      assert.ok(phase.ensemble !== null && phase.imp !== null);
      assert.equal(phase.candidates.length, 2);
    }
    // Phase 1 IMP chains are the SMS candidates themselves; phase 2 trains its own.
    assert.deepEqual(results.phases[0].imp!.chains.map((c) => c.checkpoint), results.phases[0].candidates.map((c) => c.checkpoint));
    assert.ok(events.some((e) => e.type === 'phase-done'));

    // Running again resumes: every job is reused and the results are the same.
    const again: SmsEvent[] = [];
    const second = await runSms(config, { workDir: dir, onEvent: (e) => again.push(e) });
    assert.equal(again.filter((e) => e.type === 'job-reused').length, 2 + 4);
    assert.equal(again.filter((e) => e.type === 'dense-start').length, 0);
    assert.deepEqual(second.phases.map((p) => p.soups.uniform.metrics.testAccuracy), results.phases.map((p) => p.soups.uniform.metrics.testAccuracy));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a candidate retrain is a pure function of its inputs (bit-identical checkpoints)', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-det-'));
  try {
    const small = parseSmsConfig({ ...config, pruning: { goalSparsity: 0.5, phases: 1 }, baselines: { imp: false, ensemble: false } });
    await runSms(small, { workDir: dir });
    const parent = (await verifiedCheckpoint(join(dir, 'dense.safetensors')))!;
    const mask = (await verifiedCheckpoint(join(dir, 'phase-1', 'mask.safetensors')))!;
    const spec = candidateSpecs(small)[1];
    const job = (out: string) => ({ config: small, phase: 1, spec, kind: 'sms' as const, parent, mask, output: join(dir, out), threads: 1 });
    const a = await retrainCandidate(job('again-a.safetensors'));
    const b = await retrainCandidate(job('again-b.safetensors'));
    assert.equal(a.checkpoint.sha256, b.checkpoint.sha256);
    const original = (await verifiedCheckpoint(join(dir, 'phase-1', 'candidate-1.safetensors')))!;
    assert.equal(a.checkpoint.sha256, original.sha256, 'same as the pipeline run');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a soup that revives a pruned weight is refused', async () => {
  const { PruningMask } = await import('../../src/prune/mask.js');
  const { tensor } = await import('../../src/tensor/index.js');
  const mask = new PruningMask(new Map([['w', tensor([1, 0, 1], [3])]]));
  const soup = new Map([['w', tensor([0.5, 0.1, 0.2], [3])]]);
  assert.throws(() => assertSoupKeepsMask(soup, mask, 'uniform soup'), (e: Error) => e instanceof MergeError && /'w'/.test(e.message));
  mask.dispose();
  for (const t of soup.values()) t.dispose();
});

test('SMS during training (GMP variant): cubic phase sparsities from the initialization', async () => {
  setNumThreads(1);
  const dir = mkdtempSync(join(tmpdir(), 'sms-gmp-'));
  try {
    const gmpConfig = parseSmsConfig({ ...config, pruning: { variant: 'gmp', goalSparsity: 0.8, phases: 2 }, baselines: { imp: false, ensemble: false } });
    const results = await runSms(gmpConfig, { workDir: dir });
    const { gmpPhaseSparsities } = await import('../../src/prune/schedule.js');
    assert.deepEqual(results.phases.map((p) => p.targetSparsity), gmpPhaseSparsities(0.8, 2));
    assert.ok(results.dense.testAccuracy < 0.3, 'phase 0 is the untrained initialization');
    assert.ok(results.phases[1].soups.uniform.metrics.testAccuracy > 0.6, 'training happens in the phases');
    assert.ok(Math.abs(results.phases[1].soups.uniform.metrics.sparsity - 0.8) < 1e-3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
