// Dynamic loss scaling (src/optim/grad-scaler.ts) on the CPU: the logic does
// not depend on float16, so gradients are made inf or NaN by hand. Defaults
// are PyTorch's torch.cuda.amp.GradScaler: init_scale 2**16, growth_factor 2,
// backoff_factor 0.5, growth_interval 2000.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensor, tidy, type Tensor } from '../../src/tensor/index.js';
import { GradScaler, SGD } from '../../src/optim/index.js';
import { ConfigError, TensorError } from '../../src/util/errors.js';

const param = (values: number[]): Tensor => tensor(values, [values.length]).requireGrad();

/** Backward of scale · Σ c_i p_i: the gradient of p is scale · c. */
function backwardScaled(scaler: GradScaler, p: Tensor, c: number[]): void {
  tidy(() => scaler.scaleLoss(p.mul(tensor(c, [c.length])).sum()).backward());
}

test("defaults are PyTorch's GradScaler's", () => {
  const s = new GradScaler();
  assert.equal(s.scale, 65536);
  assert.equal(s.growthFactor, 2);
  assert.equal(s.backoffFactor, 0.5);
  assert.equal(s.growthInterval, 2000);
});

test('a finite step: the gradients are unscaled before the optimizer uses them', () => {
  const p = param([1, 2]);
  const opt = new SGD([p], { lr: 0.5 });
  const scaler = new GradScaler({ initScale: 1024 });
  backwardScaled(scaler, p, [3, -4]);
  assert.deepEqual(p.grad!.toNumbers(), [3072, -4096]);
  assert.equal(scaler.step(opt), true);
  assert.deepEqual(p.grad!.toNumbers(), [3, -4]);
  assert.deepEqual(p.toNumbers(), [1 - 0.5 * 3, 2 + 0.5 * 4]);
  scaler.update();
  assert.equal(scaler.scale, 1024);
  assert.equal(scaler.skippedSteps, 0);
  opt.dispose();
});

test('inf or NaN gradients: the step is skipped, the weights, momentum and masks stay, the scale halves', () => {
  for (const bad of [Infinity, NaN]) {
    const p = param([1, 0, 3]);
    const q = param([5]);
    const opt = new SGD([p, q], { lr: 0.1, momentum: 0.9 });
    const mask = tensor([1, 0, 1], [3]);
    opt.setMasks([mask, null]);
    const scaler = new GradScaler({ initScale: 8 });
    // One good step builds momentum.
    backwardScaled(scaler, p, [1, 1, 1]);
    tidy(() => scaler.scaleLoss(q.sum()).backward());
    assert.equal(scaler.step(opt), true);
    scaler.update();
    opt.zeroGrad();
    const before = [p.toNumbers(), q.toNumbers(), opt.momentumBuffer(0)!.toNumbers()];
    assert.ok(before[0][1] === 0, 'the masked weight is 0');
    // Now one gradient entry overflows.
    backwardScaled(scaler, p, [1, 1, 1]);
    tidy(() => scaler.scaleLoss(q.mul(bad).sum()).backward());
    assert.equal(scaler.step(opt), false, `${bad}: skipped`);
    scaler.update();
    opt.zeroGrad();
    assert.deepEqual([p.toNumbers(), q.toNumbers(), opt.momentumBuffer(0)!.toNumbers()], before);
    assert.equal(scaler.scale, 4);
    assert.equal(scaler.skippedSteps, 1);
    opt.dispose();
  }
});

test('the scale grows after growthInterval clean steps in a row; a skipped step restarts the count', () => {
  const p = param([1]);
  const opt = new SGD([p], { lr: 0 });
  const scaler = new GradScaler({ initScale: 16, growthInterval: 3 });
  const iterate = (c: number): void => {
    backwardScaled(scaler, p, [c]);
    scaler.step(opt);
    scaler.update();
    opt.zeroGrad();
  };
  iterate(1);
  iterate(1);
  assert.equal(scaler.scale, 16);
  iterate(Infinity); // backoff, count restarts
  assert.equal(scaler.scale, 8);
  iterate(1);
  iterate(1);
  assert.equal(scaler.scale, 8);
  iterate(1);
  assert.equal(scaler.scale, 16, 'grown after 3 clean steps');
  iterate(1);
  iterate(1);
  iterate(1);
  assert.equal(scaler.scale, 32);
  opt.dispose();
});

test('unscale once per iteration; settings are checked', () => {
  const p = param([1]);
  const scaler = new GradScaler({ initScale: 2 });
  backwardScaled(scaler, p, [1]);
  assert.equal(scaler.unscale([p]), false);
  assert.throws(() => scaler.unscale([p]), TensorError);
  scaler.update();
  assert.throws(() => new GradScaler({ initScale: 0 }), ConfigError);
  assert.throws(() => new GradScaler({ growthFactor: 1 }), ConfigError);
  assert.throws(() => new GradScaler({ backoffFactor: 1 }), ConfigError);
  assert.throws(() => new GradScaler({ growthInterval: 0.5 }), ConfigError);
});
