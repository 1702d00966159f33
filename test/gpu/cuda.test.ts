// The GPU tests: tensors, models, training, pruning and soups on a CUDA device give what they give on the CPU.
// They run only where the addon is built against a CUDA libtorch and sees a GPU (cudaAvailable()), and skip
// elsewhere; scripts/gpu-check.sh runs this folder on a GPU machine. Tolerances allow for TF32 convolutions
// (libtorch's default on Ampere and later) and a different reduction order on the GPU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Generator,
  cudaAvailable,
  cudaDeviceCount,
  cudaSynchronize,
  manualSeed,
  randn,
  randint,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../../src/tensor/index.js';
import { F, type Module } from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { createModel } from '../../src/models/index.js';
import { computeMask, prunableParameters } from '../../src/prune/index.js';
import { averageStates, disposeState } from '../../src/soup/index.js';

const NO_GPU = cudaAvailable() ? false : 'no CUDA GPU (cudaAvailable() is false: a CPU libtorch, or no GPU)';

function values(t: Tensor): number[] {
  return Array.from(t.toArray() as ArrayLike<number | bigint>, Number);
}

/** max |a - b| / (max |b| + eps): the error relative to the reference's scale. */
function relError(a: number[], b: number[]): number {
  assert.equal(a.length, b.length);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / (scale + 1e-12);
}

function build(name: 'convnet' | 'resnet20', seed: number): Module {
  const shape = name === 'convnet' ? { inChannels: 1, imageSize: 28 } : { inChannels: 3, imageSize: 32 };
  return createModel(name, { ...shape, numClasses: 10, generator: new Generator(seed) });
}

test('a CUDA device is visible and tensors live on it', { skip: NO_GPU }, () => {
  assert.ok(cudaDeviceCount() >= 1);
  const z = zeros([2, 3], { device: 'cuda' });
  assert.match(z.device, /^cuda(:0)?$/);
  const a = tensor([1, 2, 3, 4]).to(null, 'cuda:0');
  assert.deepEqual(values(a.mul(2).add(1)), [3, 5, 7, 9]);
  const back = a.to(null, 'cpu');
  assert.equal(back.device, 'cpu');
  assert.deepEqual(values(back), [1, 2, 3, 4]);
  cudaSynchronize();
  for (const t of [z, a, back]) t.dispose();
});

test('matmul, reductions and softmax on the GPU match the CPU', { skip: NO_GPU }, () => {
  const g = new Generator(3);
  const a = randn([64, 128], { generator: g });
  const b = randn([128, 32], { generator: g });
  tidy(() => {
    const [ag, bg] = [a.to(null, 'cuda'), b.to(null, 'cuda')];
    assert.ok(relError(values(ag.matmul(bg)), values(a.matmul(b))) < 5e-3, 'matmul');
    assert.ok(relError(values(ag.sum()), values(a.sum())) < 1e-4, 'sum');
    assert.ok(relError(values(F.softmax(ag, 1)), values(F.softmax(a, 1))) < 1e-5, 'softmax');
  });
  a.dispose();
  b.dispose();
});

test('an op mixing CPU and GPU tensors is refused with an error, not a crash', { skip: NO_GPU }, () => {
  const a = zeros([3]);
  const b = zeros([3], { device: 'cuda' });
  assert.throws(() => a.add(b), /device/i);
  a.dispose();
  b.dispose();
});

test('manualSeed makes GPU random numbers repeat', { skip: NO_GPU }, () => {
  manualSeed(123);
  const a = randn([1000], { device: 'cuda' });
  manualSeed(123);
  const b = randn([1000], { device: 'cuda' });
  assert.deepEqual(values(a), values(b));
  a.dispose();
  b.dispose();
});

for (const name of ['convnet', 'resnet20'] as const) {
  test(`${name}: forward and backward on the GPU match the CPU`, { skip: NO_GPU }, () => {
    const cpu = build(name, 7);
    const gpu = build(name, 7).to({ device: 'cuda' });
    const shape = name === 'convnet' ? [16, 1, 28, 28] : [16, 3, 32, 32];
    const g = new Generator(1);
    const x = randn(shape, { generator: g });
    const y = randint(0, 10, [16], g);
    try {
      const [xg, yg] = [x.to(null, 'cuda'), y.to(null, 'cuda')];
      const lossCpu = tidy(() => {
        const l = F.crossEntropy(cpu.forward(x), y);
        l.backward();
        return l.item();
      });
      const lossGpu = tidy(() => {
        const l = F.crossEntropy(gpu.forward(xg), yg);
        l.backward();
        return l.item();
      });
      assert.ok(Math.abs(lossGpu - lossCpu) < 1e-2 * Math.max(1, Math.abs(lossCpu)), `loss ${lossGpu} on the GPU, ${lossCpu} on the CPU`);
      const [pc, pg] = [cpu.parameters(), gpu.parameters()];
      for (let i = 0; i < pc.length; i++) {
        assert.match(pg[i].device, /^cuda/);
        assert.ok(relError(values(pg[i].grad!), values(pc[i].grad!)) < 5e-2, `gradient ${i}`);
      }
      xg.dispose();
      yg.dispose();
    } finally {
      cpu.dispose();
      gpu.dispose();
      x.dispose();
      y.dispose();
    }
  });
}

test('SGD trains on the GPU: the loss falls and pruned weights stay exactly zero', { skip: NO_GPU }, () => {
  const net = build('convnet', 2).to({ device: 'cuda' });
  const g = new Generator(4);
  const x = randn([64, 1, 28, 28], { generator: g }).to(null, 'cuda');
  const y = randint(0, 10, [64], g).to(null, 'cuda');
  const opt = new SGD(net.parameters(), { lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  try {
    const mask = computeMask(prunableParameters(net), 0.8, { criterion: 'global' });
    assert.ok(Math.abs(mask.sparsity() - 0.8) < 0.01, `sparsity ${mask.sparsity()}`);
    const params = net.parameters();
    const masks = mask.forParameters(net.namedParameters().map(([name]) => name));
    for (const m of masks) if (m) assert.match(m.device, /^cuda/);
    opt.setMasks(masks);
    const loss = (): number => tidy(() => F.crossEntropy(net.forward(x), y).item());
    const first = loss();
    for (let i = 0; i < 30; i++) {
      tidy(() => F.crossEntropy(net.forward(x), y).backward());
      opt.step();
      opt.zeroGrad();
    }
    const last = loss();
    assert.ok(last < first * 0.8, `loss ${first} → ${last}`);
    params.forEach((p, i) => {
      const m = masks[i];
      if (!m) return;
      const w = values(p);
      values(m).forEach((keep, j) => {
        if (keep === 0) assert.equal(w[j], 0, `pruned weight ${j} of parameter ${i}`);
      });
    });
    mask.dispose();
  } finally {
    opt.dispose();
    net.dispose();
    x.dispose();
    y.dispose();
  }
});

test('a uniform soup of GPU state dicts is their average, on the GPU', { skip: NO_GPU }, () => {
  const a = build('convnet', 11).to({ device: 'cuda' });
  const b = build('convnet', 12).to({ device: 'cuda' });
  try {
    const soup = averageStates([a.stateDict(), b.stateDict()]);
    const w = soup.get('conv1.weight')!;
    assert.match(w.device, /^cuda/);
    const expect = values(a.stateDict().get('conv1.weight')!).map((v, i) => (v + values(b.stateDict().get('conv1.weight')!)[i]) / 2);
    assert.ok(relError(values(w), expect) < 1e-6);
    disposeState(soup);
  } finally {
    a.dispose();
    b.dispose();
  }
});
