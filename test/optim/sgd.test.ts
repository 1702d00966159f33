// SGD against hand-computed steps (float64), masks, and the learning rate.
//
// Every example minimizes L = ½‖p‖² from p₀ = [1, -2], so the gradient is p
// itself and the second coordinate is always -2 × the first. The hand
// computation is written out for the first coordinate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { SGD, type SgdOptions } from '../../src/optim/index.js';
import { ConfigError } from '../../src/util/errors.js';

const param = (values: number[]): Tensor => tensor(values, [values.length], { dtype: 'float64' }).requireGrad();
const halfSquaredNorm = (p: Tensor): void => tidy(() => p.mul(p).sum().mul(0.5).backward());

/** Runs SGD on ½‖p‖² and returns the first coordinate after each step (checking the second is -2×). */
function trajectory(opts: SgdOptions, steps: number): number[] {
  const p = param([1, -2]);
  const opt = new SGD([p], opts);
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    halfSquaredNorm(p);
    opt.step();
    opt.zeroGrad();
    const [a, b] = p.toNumbers();
    assert.ok(Math.abs(b + 2 * a) < 1e-12);
    out.push(a);
  }
  opt.dispose();
  return out;
}
const assertSteps = (actual: number[], expected: number[]): void =>
  expected.forEach((e, i) => assert.ok(Math.abs(actual[i] - e) < 1e-12, `step ${i + 1}: ${actual[i]}, expected ${e}`));

test('plain SGD: p ← p - η·g', () => {
  // η = 0.1, g = p: p ← 0.9p
  assertSteps(trajectory({ lr: 0.1 }, 3), [0.9, 0.81, 0.729]);
});

test('momentum: b ← μb + g (b = g on the first step), p ← p - η·b', () => {
  // step 1: g=1,    b=1,              p=1-0.1=0.9
  // step 2: g=0.9,  b=0.9·1+0.9=1.8,  p=0.9-0.18=0.72
  // step 3: g=0.72, b=0.9·1.8+0.72=2.34, p=0.72-0.234=0.486
  assertSteps(trajectory({ lr: 0.1, momentum: 0.9 }, 3), [0.9, 0.72, 0.486]);
});

test('dampening: b ← μb + (1-τ)g after the first step', () => {
  // step 2: g=0.9, b=0.9·1+0.5·0.9=1.35, p=0.9-0.135=0.765
  assertSteps(trajectory({ lr: 0.1, momentum: 0.9, dampening: 0.5 }, 2), [0.9, 0.765]);
});

test('Nesterov: p ← p - η·(g + μb)', () => {
  // step 1: g=1,      b=1,                 d=1+0.9=1.9,               p=1-0.19=0.81
  // step 2: g=0.81,   b=0.9+0.81=1.71,     d=0.81+1.539=2.349,        p=0.81-0.2349=0.5751
  // step 3: g=0.5751, b=1.539+0.5751=2.1141, d=0.5751+1.90269=2.47779, p=0.5751-0.247779=0.327321
  assertSteps(trajectory({ lr: 0.1, momentum: 0.9, nesterov: true }, 3), [0.81, 0.5751, 0.327321]);
});

test('weight decay: g ← g + λp', () => {
  // g = 1.1p, p ← p - 0.11p = 0.89p
  assertSteps(trajectory({ lr: 0.1, weightDecay: 0.1 }, 3), [0.89, 0.7921, 0.704969]);
  // with Nesterov momentum (the retraining optimizer):
  // step 1: g=1.1,    b=1.1,                d=1.1+0.99=2.09,          p=1-0.209=0.791
  // step 2: g=0.8701, b=0.99+0.8701=1.8601, d=0.8701+1.67409=2.54419, p=0.791-0.254419=0.536581
  assertSteps(trajectory({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 }, 2), [0.791, 0.536581]);
});

test('the learning rate can change between steps', () => {
  const p = param([1, -2]);
  const opt = new SGD([p], { lr: 0.1 });
  const stepWith = (lr: number): number => {
    opt.lr = lr;
    halfSquaredNorm(p);
    opt.step();
    opt.zeroGrad();
    return p.toNumbers()[0];
  };
  assertSteps([stepWith(0.1), stepWith(0.05), stepWith(0), stepWith(1)], [0.9, 0.855, 0.855, 0]);
});

test('masks keep pruned weights and their momentum exactly 0, through weight decay and Nesterov', () => {
  const w = param([1, -2, 3, -4]);
  const bias = param([0.5]);
  const mask = tensor([1, 0, 1, 0], [4], { dtype: 'float64' });
  const opt = new SGD([w, bias], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 });
  // one unmasked step: every momentum entry becomes non-zero
  tidy(() => w.sum().add(bias.sum()).backward());
  opt.step();
  opt.zeroGrad();
  assert.ok(
    opt
      .momentumBuffer(0)!
      .toNumbers()
      .every((b) => b !== 0),
  );
  // masking zeroes the pruned weights and their momentum right away
  opt.setMasks([mask, null]);
  const isZero = (v: number): boolean => v === 0; // -0 counts: a negative weight times a 0 mask
  assert.ok(isZero(w.toNumbers()[1]) && isZero(w.toNumbers()[3]));
  assert.ok(isZero(opt.momentumBuffer(0)!.toNumbers()[1]) && isZero(opt.momentumBuffer(0)!.toNumbers()[3]));
  for (let i = 0; i < 5; i++) {
    // ∂/∂w of Σw is 1 everywhere, so without the mask the pruned weights would move
    tidy(() => w.sum().add(bias.sum()).backward());
    opt.step();
    opt.zeroGrad();
    const [w0, w1, w2, w3] = w.toNumbers();
    const buf = opt.momentumBuffer(0)!.toNumbers();
    assert.ok(isZero(w1) && isZero(w3), `pruned weights after step ${i + 1}: ${w1}, ${w3}`);
    assert.ok(isZero(buf[1]) && isZero(buf[3]), `momentum of pruned weights after step ${i + 1}: ${buf[1]}, ${buf[3]}`);
    assert.ok(w0 !== 0 && w2 !== 0 && buf[0] !== 0 && buf[2] !== 0, 'kept weights keep training');
  }
  assert.ok(bias.toNumbers()[0] < 0.5, 'an unmasked parameter (null mask) trains normally');
  opt.setMasks(null);
  tidy(() => w.sum().backward());
  opt.step();
  assert.notEqual(w.toNumbers()[1], 0, 'without masks the weight moves again');
});

test('a masked step matches hand computation for the kept weights', () => {
  // g = 1 (from Σp), μ = 0.9, η = 0.1, no Nesterov: b = 1, 1.9, 2.71; p = 1 - 0.1 - 0.19 - 0.271 = 0.439
  const p = param([1, 5]);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  opt.setMasks([tensor([1, 0], [2], { dtype: 'bool' }).to('float64')]);
  for (let i = 0; i < 3; i++) {
    tidy(() => p.sum().backward());
    opt.step();
    opt.zeroGrad();
  }
  const [kept, pruned] = p.toNumbers();
  assert.ok(Math.abs(kept - 0.439) < 1e-12, `kept weight ${kept}`);
  assert.ok(pruned === 0, `pruned weight ${pruned}`);
  assert.ok(opt.momentumBuffer(0)!.toNumbers()[1] === 0);
  assert.ok(Math.abs(opt.momentumBuffer(0)!.toNumbers()[0] - 2.71) < 1e-12);
});

test('momentum buffers outlive a tidy around the step, and later steps update the same buffer', () => {
  const p = param([1, -2]);
  const opt = new SGD([p], { lr: 0.1, momentum: 0.9 });
  tidy(() => {
    halfSquaredNorm(p);
    opt.step();
    opt.zeroGrad();
  });
  const buffer = opt.momentumBuffer(0)!;
  assert.equal(buffer.isDisposed, false, 'the first step creates the buffer inside the scope, which must not free it');
  tidy(() => {
    halfSquaredNorm(p);
    opt.step();
  });
  assert.equal(opt.momentumBuffer(0), buffer);
  assertSteps(p.toNumbers(), [0.72, -1.44]);
  opt.dispose();
  assert.equal(buffer.isDisposed, true);
});

test('parameters without a gradient are left alone; zeroGrad clears; options are validated', () => {
  const used = param([1]);
  const unused = param([7]);
  const opt = new SGD([used, unused], { lr: 0.5, momentum: 0.9 });
  assert.equal(opt.momentumBuffer(0), null);
  tidy(() => used.mul(2).sum().backward());
  opt.step();
  assert.deepEqual(used.toNumbers(), [0]);
  assert.deepEqual(unused.toNumbers(), [7]);
  assert.equal(opt.momentumBuffer(1), null);
  opt.zeroGrad();
  assert.equal(used.grad, null);
  assert.throws(() => new SGD([used], { lr: -1 }), /SGD\(lr\): must be a finite number >= 0/);
  assert.throws(() => new SGD([used], { lr: NaN }), ConfigError);
  assert.throws(() => new SGD([used], { lr: 0.1, momentum: -0.5 }), /momentum/);
  assert.throws(() => new SGD([used], { lr: 0.1, nesterov: true }), /Nesterov momentum requires momentum > 0/);
  assert.throws(() => new SGD([used], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }), /dampening = 0/);
  assert.throws(() => opt.setMasks([null]), /got 1 masks for 2 parameters/);
});
