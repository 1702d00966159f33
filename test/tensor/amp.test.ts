// Mixed precision in the tensor layer: bfloat16 tensors, autocast on the CPU
// (libtorch 1.13 autocasts the CPU in bfloat16 only), and what CUDA needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  autocast,
  autocastDeviceType,
  cudaAvailable,
  cudaUnavailableReason,
  isFloatingDType,
  randn,
  tensor,
  tidy,
} from '../../src/tensor/index.js';
import { Linear } from '../../src/nn/index.js';
import { Generator } from '../../src/tensor/index.js';

test('bfloat16 tensors: created, converted and read back as their bits', () => {
  tidy(() => {
    const x = tensor([1, -2.5, 3.140625], [3]).to('bfloat16');
    assert.equal(x.dtype, 'bfloat16');
    assert.ok(isFloatingDType('bfloat16'));
    // bfloat16 is float32's upper 16 bits: 1.0 = 0x3f80, -2.5 = 0xc020, 3.140625 = 0x4049.
    assert.deepEqual(Array.from(x.toArray<'bfloat16'>()), [0x3f80, 0xc020, 0x4049]);
    assert.deepEqual(Array.from(x.to('float32').toArray<'float32'>()), [1, -2.5, 3.140625]);
    const back = tensor(new Uint16Array([0x3f80, 0x4000]), [2], { dtype: 'bfloat16' });
    assert.deepEqual(Array.from(back.to('float32').toArray<'float32'>()), [1, 2]);
  });
});

test('autocast on the CPU runs a linear layer in bfloat16 and keeps the float32 weights and their gradients', () => {
  tidy(() => {
    const layer = new Linear(8, 4, { generator: new Generator(1) });
    const x = randn([5, 8], { generator: new Generator(2) });
    const out = autocast('cpu', 'bfloat16', () => layer.forward(x));
    assert.equal(out.dtype, 'bfloat16');
    assert.equal(layer.weight.dtype, 'float32');
    // Outside the scope the same layer computes in float32 again.
    assert.equal(layer.forward(x).dtype, 'float32');
    // Close to the float32 result (bfloat16 keeps 8 bits of mantissa).
    const exact = layer.forward(x);
    const diff = out.to('float32').sub(exact).abs().max().item();
    assert.ok(diff < 0.05, `bfloat16 result differs by ${diff}`);
    autocast('cpu', 'bfloat16', () => layer.forward(x).sum()).backward();
    assert.equal(layer.weight.grad?.dtype, 'float32');
  });
});

test('autocast nests and restores the state it found; a throwing body leaves it off', () => {
  tidy(() => {
    const layer = new Linear(3, 2, { generator: new Generator(3) });
    const x = randn([2, 3]);
    const inner = autocast('cpu', 'bfloat16', () => autocast('cpu', 'bfloat16', () => layer.forward(x).dtype));
    assert.equal(inner, 'bfloat16');
    assert.throws(
      () =>
        autocast('cpu', 'bfloat16', () => {
          throw new Error('boom');
        }),
      /boom/,
    );
    assert.equal(layer.forward(x).dtype, 'float32');
  });
});

test("autocast refuses an async body, and float16 on the CPU is libtorch 1.13's error", () => {
  assert.throws(() => autocast('cpu', 'bfloat16', async () => 1), /fn returned a promise/);
  tidy(() => {
    const layer = new Linear(3, 2, { generator: new Generator(4) });
    assert.throws(() => autocast('cpu', 'float16', () => layer.forward(randn([2, 3]))), /AutocastCPU only support Bfloat16|Half/);
  });
  assert.equal(autocastDeviceType('cuda:1'), 'cuda');
  assert.equal(autocastDeviceType('cuda'), 'cuda');
  assert.equal(autocastDeviceType('cpu'), 'cpu');
  assert.equal(autocastDeviceType(undefined), 'cpu');
});

test('cudaUnavailableReason says what a CUDA device needs', () => {
  const reason = cudaUnavailableReason();
  if (cudaAvailable()) assert.equal(reason, null);
  else assert.match(reason ?? '', /without CUDA.*a CUDA libtorch is needed|no GPU is visible/);
});
