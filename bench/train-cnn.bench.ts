/**
 * Training throughput of sparse-soups against PyTorch (the peer, same
 * libtorch) on the small CNN: conv32-conv64-dense128, batch 128,
 * 28x28 inputs, SGD with Nesterov momentum and weight decay.
 *
 *   node --import tsx bench/train-cnn.bench.ts [--steps 60] [--threads 1,2]
 *
 * Prints a table and a final JSON line; ratio = ours / PyTorch (1.0 = as fast).
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { randn, randint, tidy, manualSeed, setNumThreads, libtorchVersion } from '../src/tensor/index.js';
import { Module, Conv2d, Linear, F } from '../src/nn/index.js';
import type { Tensor } from '../src/tensor/index.js';
import { SGD } from '../src/optim/index.js';

class Net extends Module {
  conv1 = this.registerModule('conv1', new Conv2d(1, 32, 3, { padding: 1 }));
  conv2 = this.registerModule('conv2', new Conv2d(32, 64, 3, { padding: 1 }));
  fc1 = this.registerModule('fc1', new Linear(64 * 7 * 7, 128));
  fc2 = this.registerModule('fc2', new Linear(128, 10));
  forward(x: Tensor): Tensor {
    const a = F.maxPool2d(this.conv1.forward(x).relu(), 2);
    const b = F.maxPool2d(this.conv2.forward(a).relu(), 2);
    return this.fc2.forward(this.fc1.forward(b.flatten(1)).relu());
  }
}

async function ours(steps: number, warmup: number, batch: number, threads: number): Promise<number> {
  setNumThreads(threads);
  manualSeed(0);
  const model = new Net();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const x = randn([batch, 1, 28, 28]);
  const y = randint(0, 10, [batch]);
  const step = (): void => {
    tidy(() => F.crossEntropy(model.forward(x), y).backward());
    opt.step();
    opt.zeroGrad();
  };
  for (let i = 0; i < warmup; i++) step();
  await new Promise((r) => setImmediate(r));
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  const dt = (performance.now() - t0) / 1000;
  model.dispose();
  opt.dispose();
  return (steps * batch) / dt;
}

function peer(steps: number, warmup: number, batch: number, threads: number): number | null {
  const r = spawnSync('/usr/bin/python3', ['bench/peer/train_cnn.py', '--steps', String(steps), '--warmup', String(warmup), '--batch', String(batch), '--threads', String(threads)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    console.error(`peer failed (install python3-torch): ${r.stderr.trim().split('\n').pop()}`);
    return null;
  }
  return (JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { samples_per_s: number }).samples_per_s;
}

const { values } = parseArgs({ options: { steps: { type: 'string', default: '60' }, threads: { type: 'string', default: '1,2' }, batch: { type: 'string', default: '128' } } });
const steps = Number(values.steps);
const batch = Number(values.batch);
const rows: { threads: number; ours: number; pytorch: number | null; ratio: number | null }[] = [];
for (const threads of values.threads.split(',').map(Number)) {
  // Alternate the two so machine noise hits both alike; keep the best of 2 runs each.
  let o = 0;
  let p: number | null = null;
  for (let rep = 0; rep < 2; rep++) {
    o = Math.max(o, await ours(steps, 10, batch, threads));
    const pr = peer(steps, 10, batch, threads);
    p = pr === null ? p : Math.max(p ?? 0, pr);
  }
  rows.push({ threads, ours: o, pytorch: p, ratio: p ? o / p : null });
}
console.log(`small CNN training, batch ${batch}, ${steps} timed steps, libtorch ${libtorchVersion()}`);
console.log('threads | sparse-soups samples/s | PyTorch samples/s | ratio');
console.log('--------|------------------------|-------------------|------');
for (const r of rows) {
  console.log(`${String(r.threads).padStart(7)} | ${r.ours.toFixed(0).padStart(22)} | ${(r.pytorch?.toFixed(0) ?? 'n/a').padStart(17)} | ${r.ratio?.toFixed(3) ?? 'n/a'}`);
}
console.log(JSON.stringify({ bench: 'train-cnn', batch, steps, rows }));
