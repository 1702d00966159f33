// Bad input raises a clear JS error — never a native crash. Errors caught by
// the addon's argument checks are TypeErrors; the TypeScript layer throws
// TensorError; libtorch's own checks arrive as Errors prefixed 'libtorch:'
// (without the C++ backtrace). Each names what was wrong.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cat, cudaAvailable, ones, stack, tensor, zeros, type DType, type Tensor } from '../../src/tensor/index.js';
import { BatchNorm2d, F, Linear } from '../../src/nn/index.js';
import { TensorError } from '../../src/util/errors.js';

type ErrorClass = new (...args: never[]) => Error;

/** fn throws an instance of `kind` whose message matches `pattern` and carries no C++ backtrace. */
function throwsClearly(fn: () => unknown, kind: ErrorClass, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof kind, `expected ${kind.name}, got ${e instanceof Error ? e.constructor.name : typeof e}: ${String(e)}`);
    assert.match(e.message, pattern);
    assert.doesNotMatch(e.message, /Exception raised from|frame #\d/, 'no C++ backtrace in the message');
    return true;
  });
}
/** An error raised by libtorch's own checks, passed through with its message. */
function throwsFromLibtorch(fn: () => unknown, pattern: RegExp): void {
  throwsClearly(fn, Error, new RegExp(`^(libtorch|native): .*${pattern.source}`, pattern.flags));
}

const x = (): Tensor => tensor([1, 2, 3, 4, 5, 6], [2, 3]);
const i64 = (values: number[]): Tensor => tensor(values, [values.length], { dtype: 'int64' });
const notATensor = (v: unknown): Tensor => v as Tensor;

test('a TypedArray that does not hold the requested dtype', () => {
  throwsClearly(() => tensor(new Float32Array(3), [3], { dtype: 'int64' }), TensorError, /Float32Array.*does not hold dtype int64/);
  throwsClearly(() => tensor(new Int32Array(3), [3], { dtype: 'float32' }), TensorError, /Int32Array.*float32/);
  throwsClearly(() => tensor(new Float64Array(2), [2], { dtype: 'bool' }), TensorError, /bool/);
  throwsClearly(() => tensor([1], [1], { dtype: 'float8' as DType }), TensorError, /float8/);
  throwsClearly(() => zeros([1], { dtype: 'float8' as DType }), TypeError, /unknown dtype 'float8'/);
  throwsClearly(() => x().to('complex' as DType), TypeError, /unknown dtype 'complex'/);
});

test('element count or shape that does not fit the data', () => {
  throwsClearly(() => tensor(new Float32Array(5), [2, 2]), TypeError, /data has 5 elements but shape needs 4/);
  throwsClearly(() => tensor([1, 2, 3], [2, 2]), TypeError, /3 elements but shape needs 4/);
  throwsClearly(() => zeros([-1, 2]), TypeError, /shape\[0\] must be >= 0, got -1/);
  throwsClearly(() => zeros([2, 1.5]), TypeError, /shape\[1\] must be an integer/);
  throwsClearly(() => zeros([NaN]), TypeError, /shape\[0\] must be an integer/);
  throwsClearly(() => zeros(notATensor('3') as unknown as number[]), TypeError, /shape must be an array of integers/);
  throwsFromLibtorch(() => x().reshape([4, 4]), /shape '\[4, 4\]' is invalid for input of size 6/);
  throwsFromLibtorch(() => x().permute([1, 0]).view([6]), /view size is not compatible/);
  throwsFromLibtorch(() => x().expand([3, 3]), /expanded size/);
  throwsClearly(() => x().item(), TypeError, /item\(\): tensor has 6 elements, expected exactly 1/);
  throwsClearly(() => zeros([0]).item(), TypeError, /0 elements/);
});

test('mismatched shapes in elementwise ops, matmul, linear and conv2d', () => {
  throwsFromLibtorch(() => x().add(tensor([1, 2])), /size of tensor a \(3\) must match the size of tensor b \(2\)/);
  throwsFromLibtorch(() => x().mul(zeros([3, 3])), /must match/);
  throwsFromLibtorch(() => ones([2]).add_(ones([2, 2])), /doesn't match the broadcast shape/);
  throwsFromLibtorch(() => x().matmul(x()), /mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)/);
  throwsFromLibtorch(() => zeros([3]).matmul(zeros([4])), /size|shape/);
  throwsClearly(() => F.linear(x(), zeros([4, 4])), TypeError, /linear: input has 3 features, weight expects 4/);
  throwsClearly(() => new Linear(3, 2).forward(zeros([2, 4])), TypeError, /input has 4 features, weight expects 3/);
  throwsClearly(
    () => F.conv2d(zeros([1, 3, 4, 4]), zeros([2, 2, 3, 3])),
    TypeError,
    /conv2d: input has 3 channels, weight \[2, 2, 3, 3\].*expects 2/,
  );
  throwsClearly(
    () => F.conv2d(zeros([4, 4]), zeros([2, 1, 3, 3])),
    TypeError,
    /conv2d: input must have 3 to 4 dimensions, got shape \[4, 4\]/,
  );
  throwsClearly(() => F.conv2d(zeros([1, 1, 4, 4]), zeros([2, 1, 3])), TypeError, /weight must be 4-D/);
  throwsFromLibtorch(() => F.conv2d(zeros([1, 2, 2, 2]), zeros([2, 2, 3, 3])), /Kernel size can't be greater than actual input size/);
  throwsFromLibtorch(() => F.conv2d(zeros([1, 1, 3, 3]), zeros([1, 1, 1, 1]), null, { stride: 0 }), /non-positive stride/);
  throwsFromLibtorch(() => F.conv2d(zeros([1, 1, 3, 3]), zeros([2, 1, 1, 1]), zeros([3])), /bias/);
  throwsFromLibtorch(
    () => F.conv2d(zeros([1, 1, 3, 3], { dtype: 'float64' }), zeros([1, 1, 1, 1])),
    /expected scalar type Double but found Float/,
  );
  throwsFromLibtorch(() => F.maxPool2d(zeros([1, 1, 2, 2]), 3), /Output size is too small/);
  throwsFromLibtorch(() => F.mseLoss(x(), zeros([3, 2])), /must match/);
  throwsFromLibtorch(() => cat([x(), zeros([2, 2])], 0), /Sizes of tensors must match except in dimension 0/);
  throwsClearly(() => x().copy_(zeros([4])), TypeError, /copy_: source shape \[4\] does not match destination shape \[2, 3\]/);
});

test('crossEntropy and nllLoss refuse out-of-range, non-int64 or misshapen targets', () => {
  const logits = x();
  throwsClearly(() => F.crossEntropy(logits, i64([0, 3])), TypeError, /target values must be in \[0, 2\], got range \[0, 3\]/);
  throwsClearly(() => F.crossEntropy(logits, i64([-1, 0])), TypeError, /must be in \[0, 2\], got range \[-1, 0\]/);
  throwsClearly(
    () => F.crossEntropy(logits, tensor([0, 1], [2], { dtype: 'int32' })),
    TypeError,
    /target must be an int64 tensor of class indices, got int32/,
  );
  throwsClearly(() => F.crossEntropy(logits, tensor([0, 1], [2])), TypeError, /int64.*got float32/);
  throwsClearly(
    () => F.crossEntropy(logits, i64([0, 1, 1])),
    TypeError,
    /expected logits \[N, C\] and target \[N\], got \[2, 3\] and \[3\]/,
  );
  throwsClearly(() => F.crossEntropy(tensor([1, 2, 3]), i64([0])), TypeError, /expected logits \[N, C\]/);
  throwsClearly(() => F.crossEntropy(logits, i64([0, 1]), { labelSmoothing: 1.5 }), TypeError, /labelSmoothing must be in \[0, 1\]/);
  throwsClearly(
    () => F.crossEntropy(logits, i64([0, 1]), { reduction: 'avg' as 'mean' }),
    TypeError,
    /reduction must be 'mean', 'sum' or 'none', got 'avg'/,
  );
  throwsClearly(() => F.nllLoss(logits, i64([0, 9])), TypeError, /nllLoss: target values must be in \[0, 2\]/);
});

test('using a disposed tensor', () => {
  const d = ones([2]);
  d.dispose();
  throwsClearly(() => d.add(1), TypeError, /argument 0 \(tensor\) is a disposed tensor/);
  throwsClearly(() => ones([2]).add(d), TypeError, /argument 1 \(tensor\) is a disposed tensor/);
  throwsClearly(() => d.toArray(), TypeError, /disposed tensor/);
  throwsClearly(() => d.item(), TypeError, /disposed tensor/);
  throwsClearly(() => d.mul_(2), TypeError, /disposed tensor/);
  throwsClearly(() => cat([ones([2]), d]), TypeError, /element 1 of argument 0 is not a live tensor/);
  throwsClearly(() => F.linear(ones([1, 2]), d.reshape([1, 2])), TypeError, /disposed/);
  assert.equal(d.isDisposed, true);
});

test('arguments that are not tensors or not numbers', () => {
  throwsClearly(() => x().add('a' as unknown as number), TypeError, /argument 1 \(other\) must be a number/);
  throwsClearly(() => x().matmul(notATensor({})), TypeError, /argument 1 \(tensor\) must be a tensor/);
  throwsClearly(() => x().matmul(notATensor(3)), TypeError, /must be a tensor/);
  throwsClearly(() => x().matmul(notATensor(null)), TypeError, /null/);
  throwsClearly(() => cat([x(), notATensor(5)]), TypeError, /element 1 of argument 0 is not a live tensor/);
  throwsClearly(() => stack([]), TensorError, /stack\(\): needs at least one tensor/);
  throwsClearly(() => cat([]), TensorError, /cat\(\): needs at least one tensor/);
  throwsClearly(() => F.conv2d(zeros([1, 1, 3, 3]), notATensor([1, 2])), TypeError, /argument 1 \(weight\) must be a tensor/);
  throwsClearly(() => F.crossEntropy(x(), notATensor([0, 1])), TypeError, /argument 1 \(target\) must be a tensor/);
  throwsClearly(() => x().sum(notATensor('0') as unknown as number[]), TypeError, /dims must be an array of integers/);
  throwsClearly(() => x().select(0, 0.5), TypeError, /must be an integer/);
  throwsClearly(() => zeros([1], { device: 'tpu' }), TypeError, /unknown device 'tpu'/);
  if (!cudaAvailable()) throwsClearly(() => zeros([1], { device: 'cuda' }), TypeError, /no CUDA/);
});

test('invalid dims and indices', () => {
  throwsFromLibtorch(() => x().sum([5]), /Dimension out of range \(expected to be in range of \[-2, 1\], but got 5\)/);
  throwsFromLibtorch(() => x().mean([-3]), /Dimension out of range/);
  throwsClearly(() => x().size(5), TensorError, /size\(5\): tensor has 2 dimensions/);
  throwsClearly(() => x().select(2, 0), TypeError, /dim 2 is out of range for a tensor with 2 dimensions/);
  throwsClearly(() => x().select(0, 7), TypeError, /select: index 7 out of range for size 2/);
  throwsClearly(() => x().transpose(0, 3), TypeError, /dim 3 is out of range/);
  throwsClearly(() => x().argmax(9), TypeError, /dim 9 is out of range/);
  throwsClearly(() => x().slice(4, 0, 1), TypeError, /dim 4 is out of range/);
  throwsClearly(() => x().slice(0, 0, 1, 0), TypeError, /slice: step must be >= 1/);
  throwsClearly(() => x().maxDim(2), TypeError, /dim 2 is out of range/);
  throwsClearly(() => x().topk(5), TypeError, /topk: k=5 is out of range/);
  throwsClearly(() => x().kthvalue(0), TypeError, /kthvalue: k=0 is out of range \(1-based\)/);
  throwsClearly(() => x().kthvalue(4), TypeError, /k=4 is out of range/);
  throwsFromLibtorch(() => x().permute([0, 0]), /duplicate dims/);
  throwsFromLibtorch(() => x().unsqueeze(10), /Dimension out of range/);
  throwsFromLibtorch(() => x().indexSelect(1, i64([5])), /out of|bounds|range/i);
  throwsFromLibtorch(() => x().indexSelect(1, tensor([1])), /Expected dtype int32 or int64 for index/);
  throwsFromLibtorch(() => x().gather(1, tensor([7, 0], [2, 1], { dtype: 'int64' })), /index 7 is out of bounds/);
  throwsFromLibtorch(() => cat([x(), x()], 5), /Dimension out of range/);
  throwsFromLibtorch(() => F.logSoftmax(x(), 5), /Dimension out of range/);
});

test('batch norm, autograd and dropout misuse', () => {
  const bn = (input: Tensor, training: boolean, weight?: Tensor): Tensor =>
    F.batchNorm(input, { weight, training, momentum: 0.1, eps: 1e-5 });
  throwsClearly(() => bn(zeros([2, 3]), true, ones([4])), TypeError, /batchNorm: weight must have shape \[3\], got \[4\]/);
  throwsClearly(() => bn(zeros([1, 3]), true), TypeError, /training needs more than one value per channel, got input shape \[1, 3\]/);
  throwsClearly(() => bn(zeros([2, 3]), false), TypeError, /evaluation mode needs running mean and variance/);
  throwsClearly(() => new BatchNorm2d(3).forward(zeros([2, 3])), TensorError, /BatchNorm2d: expected a 4-D input, got shape \[2, 3\]/);
  throwsClearly(() => x().requireGrad().mul(2).backward(), TypeError, /tensor has 6 elements; pass a gradient or reduce it to a scalar/);
  throwsClearly(() => x().sum().backward(), TypeError, /does not require grad/);
  throwsClearly(() => i64([1]).requireGrad(), TypeError, /only floating-point tensors can require gradients, this one is int64/);
  const p = ones([2]).requireGrad();
  const y = p.exp().sum();
  y.backward();
  throwsFromLibtorch(() => y.backward(), /backward through the graph a second time/);
  throwsClearly(() => F.dropout(x(), 1.5, true), TypeError, /dropout: p must be in \[0, 1\]/);
  throwsClearly(() => i64([1, 2]).mean(), TypeError, /mean: needs a floating-point tensor, got int64/);
});
