/**
 * Convolutions of few input channels (a network's first layer): the addon's
 * direct kernel (native/src/small_conv.cc, what `F.conv2d` runs for float32
 * CPU input of at most 4 channels, stride 1, no bias) against libtorch's
 * at::conv2d (what PyTorch's F.conv2d runs on the same libtorch), in the same
 * process: the ConvNet's conv1 (1 → 32 channels, 3×3, padding 1, 28×28) at
 * batch 128 (training) and 256 (an evaluation chunk), and a CIFAR ResNet's
 * conv1 (3 → 16 channels, 32×32).
 *
 *   node --import tsx bench/small-conv.bench.ts [--threads 1] [--repeats 30]
 *
 * Rows: forward without autograd (evaluation), and forward + backward with
 * a random output gradient into the weight (training: the input needs no
 * gradient, as a first layer's). Median milliseconds per call; "×" is
 * libtorch's time over ours. Last line: JSON.
 */
import { parseArgs } from 'node:util';
import { printKernelRows, timeMs, type KernelRow } from './kernel-timing.js';
import { Generator, noGrad, randn, setNumThreads, tidy, libtorchVersion } from '../src/tensor/index.js';
import { conv2d, conv2dLibtorch } from '../src/tensor/nn-ops.js';

const { values: args } = parseArgs({ options: { threads: { type: 'string', default: '1' }, repeats: { type: 'string', default: '30' } } });
const threads = Number(args.threads);
const repeats = Number(args.repeats);
setNumThreads(threads);

const sides: [string, typeof conv2d][] = [
  ['sparse-soups', conv2d],
  ['libtorch', conv2dLibtorch],
];

const cases: { label: string; x: number[]; w: number[]; grad: boolean }[] = [
  { label: 'ConvNet conv1, batch 128, forward + weight gradient', x: [128, 1, 28, 28], w: [32, 1, 3, 3], grad: true },
  { label: 'ConvNet conv1, batch 256, forward (no grad)', x: [256, 1, 28, 28], w: [32, 1, 3, 3], grad: false },
  { label: 'ResNet conv1, batch 128, forward + weight gradient', x: [128, 3, 32, 32], w: [16, 3, 3, 3], grad: true },
  { label: 'ResNet conv1, batch 256, forward (no grad)', x: [256, 3, 32, 32], w: [16, 3, 3, 3], grad: false },
];

const rows: KernelRow[] = [];
for (const c of cases) {
  const x = randn(c.x, { generator: new Generator(1) });
  const w = randn(c.w, { generator: new Generator(2) });
  if (c.grad) w.requireGrad();
  const g = randn([c.x[0], c.w[0], c.x[2], c.x[3]], { generator: new Generator(3) });
  const ms: Record<string, number> = {};
  for (const [name, f] of sides) {
    const call = () => f(x, w, null, [1, 1], [1, 1], [1, 1], 1);
    ms[name] = c.grad
      ? timeMs(() => tidy(() => call().backward(g)), repeats)
      : timeMs(() => noGrad(() => tidy(() => void call())), repeats);
  }
  rows.push({ label: c.label, ms, ratio: ms.libtorch / ms['sparse-soups'] });
  for (const t of [x, w, g]) t.dispose();
}

printKernelRows('small-conv', `conv2d 3x3, padding 1, float32 NCHW; libtorch ${libtorchVersion()}`, rows, threads, repeats);
