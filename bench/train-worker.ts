/**
 * One measurement for bench/train.bench.ts, in its own process so that
 * OpenBLAS's pool is sized by OPENBLAS_NUM_THREADS like the peer's:
 *
 *   OPENBLAS_NUM_THREADS=1 node --import tsx bench/train-worker.ts --model resnet20 --threads 1
 *   node --import tsx bench/train-worker.ts --model resnet20 --device cuda --steps 200 --warmup 20
 *
 * Trains the named model on one fixed random batch (SGD, Nesterov momentum
 * 0.9, weight decay 5e-4) and prints one JSON line with samples/s. With
 * `--device cuda` the model and the batch live on the GPU, and the clock is
 * read after cudaSynchronize() (GPU work is asynchronous).
 */
import { parseArgs } from 'node:util';
import { randn, randint, tidy, manualSeed, setNumThreads, libtorchVersion, cudaSynchronize } from '../src/tensor/index.js';
import { Module, Conv2d, Linear, F } from '../src/nn/index.js';
import type { Tensor } from '../src/tensor/index.js';
import { SGD } from '../src/optim/index.js';
import { createModel } from '../src/models/index.js';

/** The small CNN (conv32-conv64-dense128, no BN), the first one measured. */
class SmallCnn extends Module {
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

export const BENCH_MODELS = {
  cnn: { shape: [1, 28, 28], build: (): Module => new SmallCnn() },
  convnet: { shape: [1, 28, 28], build: (): Module => createModel('convnet', { inChannels: 1, numClasses: 10, imageSize: 28 }) },
  resnet20: { shape: [3, 32, 32], build: (): Module => createModel('resnet20', { inChannels: 3, numClasses: 10, imageSize: 32 }) },
} as const;
export type BenchModel = keyof typeof BENCH_MODELS;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string', default: 'convnet' },
      steps: { type: 'string', default: '60' },
      warmup: { type: 'string', default: '10' },
      batch: { type: 'string', default: '128' },
      threads: { type: 'string', default: '1' },
      device: { type: 'string', default: 'cpu' },
    },
  });
  const name = values.model as BenchModel;
  const spec = BENCH_MODELS[name];
  if (!spec) throw new Error(`unknown bench model '${values.model}' (one of ${Object.keys(BENCH_MODELS).join(', ')})`);
  const [steps, warmup, batch, threads] = [values.steps, values.warmup, values.batch, values.threads].map(Number);
  setNumThreads(threads);
  manualSeed(0);
  const device = values.device;
  const model = spec.build().to({ device });
  model.train();
  const opt = new SGD(model.parameters(), { lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const x = randn([batch, ...spec.shape], { device });
  const labels = randint(0, 10, [batch]);
  const y = labels.to(null, device);
  labels.dispose();
  const step = (): void => {
    tidy(() => F.crossEntropy(model.forward(x), y).backward());
    opt.step();
    opt.zeroGrad();
  };
  for (let i = 0; i < warmup; i++) step();
  // Let finalizers of the warm-up's wrappers run before timing (as the trainer yields).
  await new Promise((r) => setImmediate(r));
  cudaSynchronize(); // a no-op without CUDA
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    step();
    if (i % 10 === 9) await new Promise((r) => setImmediate(r));
  }
  cudaSynchronize();
  const dt = (performance.now() - t0) / 1000;
  const params = model.parameterCount();
  model.dispose();
  opt.dispose();
  x.dispose();
  y.dispose();
  console.log(
    JSON.stringify({
      samples_per_s: (steps * batch) / dt,
      model: name,
      params,
      steps,
      batch,
      threads,
      device,
      libtorch: libtorchVersion(),
    }),
  );
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
