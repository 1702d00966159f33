// A long training run keeps a flat native-memory profile: tidy() frees every
// intermediate tensor, and the optimizer reuses its momentum buffers. The loop
// yields to the event loop every 100 steps, as the trainer does: Node-API runs
// the finalizers of collected JS wrappers only when the event loop turns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randn, tidy, manualSeed, liveTensorCount, setNumThreads } from '../../src/tensor/index.js';
import { Sequential, Linear, ReLU, BatchNorm1d, F } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';

test('20,000 training steps grow resident memory by less than 50 MB', async () => {
  setNumThreads(1);
  manualSeed(1);
  const model = new Sequential(new Linear(32, 64), new BatchNorm1d(64), new ReLU(), new Linear(64, 10));
  const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 1e-4 });
  const x = randn([16, 32]);
  const y = tidy(() => randn([16, 10]).argmax(1));
  const step = (): void => {
    tidy(() => {
      const loss = F.crossEntropy(model.forward(x), y, { labelSmoothing: 0.1 });
      loss.backward();
    });
    opt.step();
    opt.zeroGrad();
  };
  const run = async (steps: number): Promise<void> => {
    for (let i = 0; i < steps; i++) {
      if (i % 100 === 0) await new Promise((resolve) => setImmediate(resolve));
      step();
    }
  };
  await run(1000); // warm-up: allocator pools, JIT
  const liveBefore = liveTensorCount();
  const rssBefore = process.memoryUsage().rss;
  await run(20_000);
  const grownMb = (process.memoryUsage().rss - rssBefore) / 1024 / 1024;
  assert.equal(liveTensorCount(), liveBefore, 'live native tensors stay constant');
  assert.ok(grownMb < 50, `resident memory grew by ${grownMb.toFixed(1)} MB`);
  opt.dispose();
  model.dispose();
  x.dispose();
  y.dispose();
});
