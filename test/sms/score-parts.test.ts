// Split scoring: a model's evaluation sets (test and OOD) cut into parts that
// separate processes forward; the parts' metrics put together equal scoring
// the model whole, bit for bit, and malformed parts are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setNumThreads } from '../../src/tensor/index.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { buildModel, experimentData, type ExperimentData } from '../../src/sms/context.js';
import { evaluationParts } from '../../src/sms/evaluate.js';
import { combineScoreParts, runScorePart, runScoreTask, type PartScores, type ScoreTask } from '../../src/sms/scoring.js';
import { pruneCheckpoint } from '../../src/sms/masks.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { SparseSoupsError } from '../../src/util/errors.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

/** Only what evaluationParts reads: the image counts of the test set and of each OOD set. */
function sizes(testImages: number, oodImages: number[]): ExperimentData {
  const set = (n: number) => ({ labels: new Uint8Array(n) }) as unknown as ExperimentData['test'];
  const ood = oodImages.map((n, i) => ({ corruption: `c${i}`, severity: 1, dataset: set(n) }));
  return { train: set(0), validation: set(0), test: set(testImages), ood: () => ood };
}

test('evaluationParts cuts the sets into contiguous parts of about equal image counts, each set once, none empty', () => {
  // The default evaluation: 10,000 test images, 4 corruptions x 3 severities x 2,000.
  const data = sizes(10_000, Array(12).fill(2000));
  assert.deepEqual(evaluationParts(data, 1), [{ test: true, ood: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11] }]);
  assert.deepEqual(evaluationParts(data, 2), [
    { test: true, ood: [0, 1, 2, 3] }, // 18,000 images
    { test: false, ood: [4, 5, 6, 7, 8, 9, 10, 11] }, // 16,000
  ]);
  for (const of of [2, 3, 4, 5, 8, 13, 40]) {
    const parts = evaluationParts(data, of);
    assert.ok(parts.length <= of && parts.length >= 1, `${of}: ${parts.length} parts`);
    assert.ok(
      parts.every((p) => p.test || p.ood.length > 0),
      `${of}: no empty part`,
    );
    assert.deepEqual(
      parts.flatMap((p) => p.ood),
      [...Array(12).keys()],
      `${of}: every OOD set once, in order`,
    );
    assert.equal(parts.filter((p) => p.test).length, 1);
    assert.ok(parts[0].test, 'the test set comes first');
  }
  // 13 shares of 2,615 images: the 10,000 test images (indivisible) cover shares 0-3, which leaves 11 parts.
  assert.equal(evaluationParts(data, 13).length, 11);
  assert.deepEqual(evaluationParts(sizes(100, []), 4), [{ test: true, ood: [] }], 'no OOD sets: one part');
});

test('a model scored in 2 or 3 parts gets the metrics of scoring it whole, bit for bit; malformed parts are refused', async () => {
  setNumThreads(1);
  const config = parseSmsConfig(
    tinyRunConfig({
      name: 'test-score-parts',
      model: { options: { hiddenSizes: [64] } },
      evaluation: { oodCorruptions: ['gaussian_noise', 'contrast'], oodSeverities: [1, 3] },
    }),
  );
  const dir = mkdtempSync(join(tmpdir(), 'score-parts-'));
  try {
    const model = buildModel(config, config.seed);
    const parent = await saveCheckpoint(join(dir, 'parent.safetensors'), model.stateDict());
    model.dispose();
    const { mask } = await pruneCheckpoint(config, parent, null, 0.5, 1, join(dir, 'mask.safetensors'));
    const task: ScoreTask = { config, label: 'the pruned parent', checkpoint: parent, mask, recalibrate: true, validation: true };
    const whole = await runScoreTask(task);
    assert.equal(whole.metrics.ood.length, 4);
    assert.equal(experimentData(config).ood().length, 4);
    for (const of of [2, 3]) {
      const parts: PartScores[] = [];
      for (let index = of - 1; index >= 0; index--) parts.push(await runScorePart({ ...task, part: { index, of } }));
      assert.equal(parts.filter((p) => p.stats !== null).length, 1, 'part 0 alone gives the weight statistics');
      assert.deepEqual(combineScoreParts(task.label, parts, 4), whole, `${of} parts, given in reverse order`);
    }

    const two = [await runScorePart({ ...task, part: { index: 0, of: 2 } }), await runScorePart({ ...task, part: { index: 1, of: 2 } })];
    assert.throws(() => combineScoreParts('soup', [two[0]], 4), /soup: expected parts 0\.\.1 once each, got 0\/2/);
    assert.throws(() => combineScoreParts('soup', [two[0], two[0]], 4), /soup: expected parts 0\.\.1 once each, got 0\/2, 0\/2/);
    assert.throws(() => combineScoreParts('soup', two, 5), /soup: the parts do not cover the test set and the 5 OOD sets once each/);
    await assert.rejects(runScorePart({ ...task, part: { index: 2, of: 2 } }), /the pruned parent: part 2 of 2 is not a part/);
    await assert.rejects(
      runScoreTask({ ...task, part: { index: 0, of: 2 } }),
      (e: unknown) => e instanceof SparseSoupsError && /goes to runScorePart/.test(e.message),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
