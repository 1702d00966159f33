import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tensor, tidy, noGrad, Generator, liveTensorCount, type Tensor } from '../../src/tensor/index.js';
import { Sequential, Conv2d, Linear, ReLU, Flatten, BatchNorm2d } from '../../src/nn/index.js';
import { encodeSafetensors, decodeSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import {
  PruningMask,
  assertSameMask,
  packMaskBits,
  unpackMaskBits,
  prunableParameters,
  globalMagnitudeMask,
} from '../../src/prune/index.js';
import { CheckpointError, MergeError, TensorError } from '../../src/util/errors.js';

const values = (t: Tensor): number[] => Array.from(t.toArray() as Float32Array);

function maskOf(entries: Record<string, [number[], number[]]>): PruningMask {
  return new PruningMask(new Map(Object.entries(entries).map(([name, [data, shape]]): [string, Tensor] => [name, tensor(data, shape)])));
}

/** conv 1→2 k3 (18), BN, linear 18→3 (54). */
function smallNet(): Sequential {
  const g = new Generator(2);
  return new Sequential(
    new Conv2d(1, 2, 3, { generator: g }),
    new BatchNorm2d(2),
    new ReLU(),
    new Flatten(),
    new Linear(18, 3, { generator: g }),
  );
}

const HAND = (): PruningMask =>
  maskOf({
    'fc.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 0],
      [2, 5],
    ],
    'conv.weight': [[0, 1, 1], [3]],
  });

test('bits pack 8 per byte, most significant first, and unpack back', () => {
  const t = tensor([1, 0, 1, 1, 0, 0, 1, 1, 1, 0], [2, 5]);
  assert.deepEqual(Array.from(packMaskBits(t)), [0b10110011, 0b10000000]);
  const back = unpackMaskBits(packMaskBits(t), [2, 5]);
  assert.deepEqual(back.shape, [2, 5]);
  assert.ok(back.equal(t));
  assert.throws(() => unpackMaskBits(new Uint8Array([0b10110011, 0b10000001]), [2, 5]), TensorError);
  assert.throws(() => unpackMaskBits(new Uint8Array([1]), [2, 5]), TensorError);
  t.dispose();
  back.dispose();
});

test('hash: pinned value, stable across instances and insertion order', () => {
  const a = HAND();
  const b = maskOf({
    'conv.weight': [[0, 1, 1], [3]],
    'fc.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 0],
      [2, 5],
    ],
  });
  assert.match(a.hash(), /^[0-9a-f]{64}$/);
  assert.equal(a.hash(), b.hash());
  // Pinned: a change of the hash format must be deliberate (mask files record it). The same in Python:
  // h = sha256(b'sparse-soups-mask-v1\n'); h.update(b'conv.weight\0[3]\0' + bytes([0b01100000]))
  // h.update(b'fc.weight\0[2,5]\0' + bytes([0b10110011, 0b10000000])); h.hexdigest()
  assert.equal(a.hash(), 'f117659471a847af4facb2c4667253817d49084476c84e39c263d87410817a97');
  assert.ok(a.equals(b));
  a.dispose();
  b.dispose();
});

test('hash changes with a single bit, a name, or a shape', () => {
  const base = HAND();
  const oneBit = maskOf({
    'fc.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 1],
      [2, 5],
    ],
    'conv.weight': [[0, 1, 1], [3]],
  });
  const renamed = maskOf({
    'fc2.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 0],
      [2, 5],
    ],
    'conv.weight': [[0, 1, 1], [3]],
  });
  const reshaped = maskOf({
    'fc.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 0],
      [5, 2],
    ],
    'conv.weight': [[0, 1, 1], [3]],
  });
  const hashes = [base, oneBit, renamed, reshaped].map((m) => m.hash());
  assert.equal(new Set(hashes).size, 4);
  assert.ok(!base.equals(oneBit) && !base.equals(renamed) && !base.equals(reshaped));
  for (const m of [base, oneBit, renamed, reshaped]) m.dispose();
});

test('sparsity and per-layer counts', () => {
  const m = HAND();
  assert.deepEqual(m.perLayer(), [
    { name: 'fc.weight', total: 10, pruned: 4, sparsity: 0.4 },
    { name: 'conv.weight', total: 3, pruned: 1, sparsity: 1 / 3 },
  ]);
  assert.equal(m.sparsity(), 5 / 13);
  assert.equal(m.totalCount(), 13);
  assert.equal(m.prunedCount(), 5);
  assert.deepEqual(m.names, ['fc.weight', 'conv.weight']);
  m.dispose();
  assert.ok(m.isDisposed);
});

test('the constructor refuses values other than 0/1 and non-float32 tensors', () => {
  const half = tensor([1, 0.5]);
  const ints = tensor([1, 0], [2], { dtype: 'int32' });
  assert.throws(() => new PruningMask(new Map([['w', half]])), TensorError);
  assert.throws(() => new PruningMask(new Map([['w', ints]])), TensorError);
  half.dispose();
  ints.dispose();
});

test('apply zeroes pruned weights; a mask that does not fit changes nothing', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  const mask = globalMagnitudeMask(params, null, 0.5);
  const before = net.cloneStateDict();
  mask.apply(net);
  for (const [name, p] of params) {
    const m = values(mask.get(name)!);
    const w = values(p);
    const w0 = values(before.get(name)!);
    m.forEach((k, i) => assert.ok(k === 0 ? w[i] === 0 : w[i] === w0[i], `${name}[${i}]`));
  }
  assert.ok(net.stateDict().get('0.bias')!.equal(before.get('0.bias')!), 'biases untouched');
  const after = net.cloneStateDict();
  const wrongShape = maskOf({ '0.weight': [Array(18).fill(0), [2, 9]] });
  const missing = maskOf({ '0.weight': [Array(18).fill(0), [2, 1, 3, 3]], 'nope.weight': [[0], [1]] });
  assert.throws(
    () => wrongShape.apply(net),
    (e: unknown) => e instanceof CheckpointError && e.message.includes("'0.weight'"),
  );
  assert.throws(
    () => missing.apply(net),
    (e: unknown) => e instanceof CheckpointError && e.message.includes("'nope.weight'"),
  );
  for (const [name, t] of net.stateDict()) assert.ok(t.equal(after.get(name)!), `${name} unchanged after a refused apply`);
  // A state dict works too.
  mask.apply(before);
  assert.equal(before.get('0.weight')!.countNonzero(), net.stateDict().get('0.weight')!.countNonzero());
  for (const t of [...before.values(), ...after.values()]) t.dispose();
  for (const m of [mask, wrongShape, missing]) m.dispose();
  net.dispose();
});

test('forParameters lists masks in the optimizer order, null for unmasked', () => {
  const net = smallNet();
  const mask = PruningMask.dense(prunableParameters(net));
  const names = net.namedParameters().map(([n]) => n);
  const list = mask.forParameters(names);
  assert.deepEqual(names, ['0.weight', '0.bias', '1.weight', '1.bias', '4.weight', '4.bias']);
  assert.deepEqual(
    list.map((t) => t !== null),
    [true, false, false, false, true, false],
  );
  assert.equal(list[4], mask.get('4.weight'));
  assert.throws(
    () => mask.forParameters(['0.weight']),
    (e: unknown) => e instanceof CheckpointError && e.message.includes("'4.weight'"),
  );
  mask.dispose();
  net.dispose();
});

test('dense, fromZeros and fromModelZeros', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  const dense = PruningMask.dense(params);
  assert.equal(dense.sparsity(), 0);
  assert.equal(dense.totalCount(), 18 + 54);
  const pruned = globalMagnitudeMask(params, null, 0.75);
  pruned.apply(net);
  const recovered = PruningMask.fromModelZeros(net);
  assert.ok(recovered.equals(pruned));
  const fromList = PruningMask.fromModelZeros(net, params.slice(0, 1));
  assert.deepEqual(fromList.names, ['0.weight']);
  const only = PruningMask.fromModelZeros(net, { includeLast: false });
  assert.deepEqual(only.names, ['0.weight']);
  const alien = tensor([1, 2]);
  assert.throws(() => PruningMask.fromModelZeros(net, [['x.weight', alien]]), CheckpointError);
  alien.dispose();
  for (const m of [dense, pruned, recovered, fromList, only]) m.dispose();
  net.dispose();
});

test('safetensors round trip: bit-packed U8, shapes and hash in the metadata', () => {
  const mask = HAND();
  const { tensors, metadata } = mask.toSafeTensors({ phase: '2' });
  assert.equal(tensors.get('fc.weight')!.dtype, 'U8');
  assert.deepEqual(tensors.get('fc.weight')!.shape, [2]);
  assert.deepEqual(tensors.get('conv.weight')!.shape, [1]);
  assert.equal(metadata.format, 'sparse-soups-mask');
  assert.equal(metadata.phase, '2');
  assert.equal(metadata.hash, mask.hash());
  const decoded = decodeSafetensors(encodeSafetensors(tensors, metadata));
  const back = PruningMask.fromSafeTensors(decoded.tensors, decoded.metadata);
  assert.ok(back.equals(mask));
  assert.equal(back.hash(), mask.hash());
  assert.deepEqual(back.get('fc.weight')!.shape, [2, 5]);
  back.dispose();
  mask.dispose();
});

test('mask files are small and refuse corruption, other formats and other models', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mask-'));
  try {
    const g = new Generator(3);
    const net = new Sequential(
      new Conv2d(3, 16, 3, { generator: g }),
      new ReLU(),
      new Flatten(),
      new Linear(16 * 30 * 30, 10, { generator: g }),
    );
    const params = prunableParameters(net);
    const mask = globalMagnitudeMask(params, null, 0.9);
    const path = join(dir, 'mask.safetensors');
    await mask.save(path, { criterion: 'global' });
    const weights = 432 + 144000;
    assert.ok((await stat(path)).size < weights / 8 + 1024, 'about one bit per weight');
    const { mask: loaded, metadata } = await PruningMask.load(path, { fitTo: net });
    assert.equal(metadata.criterion, 'global');
    assert.ok(loaded.equals(mask));
    const fromList = (await PruningMask.load(path, { fitTo: params })).mask;
    assert.ok(fromList.equals(mask));

    const other = new Sequential(new Conv2d(3, 8, 3), new ReLU(), new Flatten(), new Linear(8 * 30 * 30, 10));
    await assert.rejects(
      PruningMask.load(path, { fitTo: other }),
      (e: unknown) => e instanceof CheckpointError && e.message.includes(path) && e.message.includes("'0.weight'"),
    );
    await assert.rejects(PruningMask.load(path, { fitTo: params.slice(1) }), CheckpointError);
    await assert.rejects(
      PruningMask.load(path, { fitTo: [...prunableParameters(net), ...net.namedParameters().slice(1, 2)] }),
      /no mask for '0.bias'/,
    );

    // One flipped bit: the recorded hash no longer matches.
    const { tensors, metadata: meta } = mask.toSafeTensors();
    const fc = tensors.get('3.weight')!;
    (fc.data as Uint8Array)[5] ^= 1;
    const corrupt = join(dir, 'corrupt.safetensors');
    await saveSafetensors(corrupt, tensors, meta);
    await assert.rejects(PruningMask.load(corrupt), (e: unknown) => e instanceof CheckpointError && /hash/.test(e.message));

    const plain = join(dir, 'weights.safetensors');
    await saveSafetensors(plain, new Map([['0.weight', { dtype: 'F32', shape: [1], data: new Float32Array([1]) }]]), { format: 'pt' });
    await assert.rejects(
      PruningMask.load(plain),
      (e: unknown) => e instanceof CheckpointError && /not a pruning mask file/.test(e.message),
    );

    const wrongSize = join(dir, 'size.safetensors');
    await saveSafetensors(wrongSize, new Map([['w', { dtype: 'U8', shape: [1], data: new Uint8Array([255]) }]]), {
      format: 'sparse-soups-mask',
      shapes: '{"w":[3,3]}',
    });
    await assert.rejects(PruningMask.load(wrongSize), (e: unknown) => e instanceof CheckpointError && /expected U8 \[2\]/.test(e.message));
    for (const m of [mask, loaded, fromList]) m.dispose();
    net.dispose();
    other.dispose();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('assertSameMask passes for equal masks and names the odd candidates by label and hash', () => {
  const a = HAND();
  const b = HAND();
  const c = maskOf({
    'fc.weight': [
      [1, 0, 1, 1, 0, 0, 1, 1, 1, 1],
      [2, 5],
    ],
    'conv.weight': [[0, 1, 1], [3]],
  });
  assertSameMask([a, b], ['seed-0', 'seed-1']);
  assert.throws(
    () => assertSameMask([a, c, b], ['seed-0', 'wd-5e-4', 'seed-1']),
    (e: unknown) =>
      e instanceof MergeError &&
      e.message.includes(`seed-0, seed-1 have mask ${a.hash().slice(0, 16)}`) &&
      e.message.includes(`wd-5e-4 has mask ${c.hash().slice(0, 16)}`),
  );
  assert.throws(
    () => assertSameMask([a], []),
    (e: Error) => e instanceof MergeError && /1 masks but 0 labels/.test(e.message),
  );
  for (const m of [a, b, c]) m.dispose();
});

test('masks own their tensors: creating and disposing leaks nothing, even inside tidy', () => {
  const net = smallNet();
  const params = prunableParameters(net);
  const live = liveTensorCount();
  const mask = tidy(() => globalMagnitudeMask(params, null, 0.5));
  const copy = mask.clone();
  noGrad(() => mask.apply(net));
  assert.ok(!mask.isDisposed, 'tidy does not free a mask created inside it');
  assert.equal(liveTensorCount(), live + 4);
  mask.dispose();
  copy.dispose();
  assert.equal(liveTensorCount(), live);
  net.dispose();
});
