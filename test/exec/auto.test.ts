// The `auto` executor's choice as a pure function of cores, memory and jobs,
// and the per-worker memory estimate it uses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVATION_FACTOR, WORKER_BASE_BYTES, WORKER_MEMORY_SHARE, chooseExecutor, estimateWorkerBytes, machineInputs } from '../../src/exec/auto.js';
import { maxJobsPerPhase } from '../../src/cli/options.js';
import { parseSmsConfig } from '../../src/sms/config.js';
import { tinyRunConfig } from '../helpers/tiny-run.js';

const GiB = 2 ** 30;

test('processes when there are 2+ cores and memory for 2+ workers; as many workers as cores, jobs and memory allow', () => {
  assert.deepEqual(chooseExecutor({ cores: 2, availableBytes: 20 * GiB, perWorkerBytes: GiB, jobs: 4 }), {
    kind: 'processes',
    workers: 2,
    reason: '2 cores, 20.0 GiB available, ~1.0 GiB per worker',
  });
  assert.equal(chooseExecutor({ cores: 16, availableBytes: 100 * GiB, perWorkerBytes: GiB, jobs: 6 }).workers, 6, 'no more workers than jobs');
  assert.equal(chooseExecutor({ cores: 16, availableBytes: 100 * GiB, perWorkerBytes: GiB }).workers, 16, 'no job count: one per core');
  assert.equal(chooseExecutor({ cores: 16, availableBytes: 5 * GiB, perWorkerBytes: GiB, jobs: 8 }).workers, 4, 'memory: floor(0.8 · 5 / 1)');
  assert.equal(chooseExecutor({ cores: 16, availableBytes: 100 * GiB, perWorkerBytes: GiB, jobs: 8, maxWorkers: 3 }).workers, 3, '--workers caps it');
});

test('inline with fewer than 2 cores, jobs, workers asked for, or memory for fewer than 2 workers; the reason says which', () => {
  const inline = (i: Parameters<typeof chooseExecutor>[0]): string => {
    const c = chooseExecutor(i);
    assert.equal(c.kind, 'inline');
    assert.equal(c.workers, 1);
    return c.reason;
  };
  assert.match(inline({ cores: 1, availableBytes: 20 * GiB, perWorkerBytes: GiB, jobs: 4 }), /^fewer than 2 cores: 1 core, 20\.0 GiB available/);
  assert.match(inline({ cores: 2, availableBytes: 20 * GiB, perWorkerBytes: GiB, jobs: 1 }), /^fewer than 2 retrain jobs per phase/);
  assert.match(inline({ cores: 2, availableBytes: 20 * GiB, perWorkerBytes: GiB, jobs: 4, maxWorkers: 1 }), /^--workers below 2/);
  // 0.8 · 2.4 GiB / 1 GiB = 1.92: one worker fits, two do not.
  assert.match(inline({ cores: 8, availableBytes: 2.4 * GiB, perWorkerBytes: GiB, jobs: 4 }), /^memory for 1 worker only: 8 cores, 2\.4 GiB available, ~1\.0 GiB per worker$/);
  assert.equal(chooseExecutor({ cores: 8, availableBytes: 2.5 * GiB, perWorkerBytes: GiB, jobs: 4 }).kind, 'processes', '0.8 · 2.5 = 2 workers');
  assert.match(inline({ cores: 8, availableBytes: 0, perWorkerBytes: GiB }), /^memory for 0 workers only/);
  assert.match(inline({ cores: NaN, availableBytes: 20 * GiB, perWorkerBytes: GiB }), /^fewer than 2 cores/);
  assert.equal(WORKER_MEMORY_SHARE, 0.8);
});

test('per-worker memory: base, twice the dataset, and one evaluation batch of activations', () => {
  // Fashion-MNIST: 70,000 images of 784 bytes, evaluation batch 1000.
  const fmnist = estimateWorkerBytes({ datasetBytes: 70_000 * 784, imageValues: 784, evaluationBatch: 1000 });
  assert.equal(fmnist, WORKER_BASE_BYTES + 2 * 70_000 * 784 + ACTIVATION_FACTOR * 4 * 784 * 1000);
  assert.ok(fmnist > 1.0 * GiB && fmnist < 1.1 * GiB, `${fmnist / GiB} GiB`);
  const m = machineInputs(fmnist);
  assert.ok(m.cores >= 1 && m.availableBytes > 0 && m.perWorkerBytes === fmnist);
});

test('jobs per phase: m candidates, m IMP chains after phase 1, IMP m× longer', () => {
  const config = (baselines: { imp: boolean; impLonger: boolean }, phases = 2) =>
    parseSmsConfig(tinyRunConfig({ baselines: { ...baselines, ensemble: false }, pruning: { phases }, candidates: { count: 3 } }));
  assert.equal(maxJobsPerPhase(config({ imp: false, impLonger: false }), 3), 3);
  assert.equal(maxJobsPerPhase(config({ imp: true, impLonger: false }), 3), 6);
  assert.equal(maxJobsPerPhase(config({ imp: true, impLonger: false }, 1), 3), 3, 'phase 1 shares the candidates');
  assert.equal(maxJobsPerPhase(config({ imp: true, impLonger: true }), 3), 7);
});
