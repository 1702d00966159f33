/**
 * Max pooling over non-overlapping windows: the addon's own kernel
 * (native/src/max_pool.cc, what `F.maxPool2d` runs for 2x2 windows of
 * float32 NCHW input) against libtorch's at::max_pool2d (what PyTorch's
 * F.max_pool2d runs on the same libtorch), in the same process, on the
 * ConvNet's two pooling inputs at batch 128 (training) and 1,000 (evaluation).
 *
 *   node --import tsx bench/max-pool.bench.ts [--threads 1] [--repeats 30]
 *
 * Rows: forward without autograd (evaluation), and forward + backward with
 * a random output gradient into a leaf (training; includes accumulating the
 * leaf's gradient, the same on both sides). Median milliseconds per call;
 * "×" is libtorch's time over ours. Last line: JSON.
 */
import { parseArgs } from 'node:util';
import { printKernelRows, timeMs, type KernelRow } from './kernel-timing.js';
import { Generator, noGrad, randn, setNumThreads, tidy, libtorchVersion } from '../src/tensor/index.js';
import { maxPool2d, maxPool2dLibtorch } from '../src/tensor/nn-ops.js';
import type { Tensor } from '../src/tensor/tensor.js';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '1' }, repeats: { type: 'string', default: '30' } } });
const threads = Number(args.threads);
const repeats = Number(args.repeats);
setNumThreads(threads);

type Pool = typeof maxPool2d;
const sides: [string, Pool][] = [
  ['sparse-soups', maxPool2d],
  ['libtorch', maxPool2dLibtorch],
];

const cases: { label: string; shape: number[]; grad: boolean }[] = [
  { label: 'conv1 out, batch 128, forward + backward', shape: [128, 32, 28, 28], grad: true },
  { label: 'conv2 out, batch 128, forward + backward', shape: [128, 64, 14, 14], grad: true },
  { label: 'conv1 out, batch 1000, forward (no grad)', shape: [1000, 32, 28, 28], grad: false },
  { label: 'conv2 out, batch 1000, forward (no grad)', shape: [1000, 64, 14, 14], grad: false },
];

const rows: KernelRow[] = [];
for (const c of cases) {
  const x = randn(c.shape, { generator: new Generator(1) });
  if (c.grad) x.requireGrad();
  const g = randn([c.shape[0], c.shape[1], c.shape[2] / 2, c.shape[3] / 2], { generator: new Generator(2) });
  const ms: Record<string, number> = {};
  for (const [name, f] of sides) {
    const call = (): Tensor => f(x, [2, 2], [2, 2], [0, 0], [1, 1], false);
    ms[name] = c.grad
      ? timeMs(() => tidy(() => call().backward(g)), repeats)
      : timeMs(() => noGrad(() => tidy(() => void call())), repeats);
  }
  rows.push({ label: c.label, ms, ratio: ms.libtorch / ms['sparse-soups'] });
  x.dispose();
  g.dispose();
}

printKernelRows('max-pool', `max pooling 2x2, float32 NCHW; libtorch ${libtorchVersion()}`, rows, threads, repeats);
