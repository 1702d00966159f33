// State dicts saved from PyTorch load as torch.nn.Module.load_state_dict
// loads them (src/nn/adapt-state-dict.ts): float16, bfloat16 and float64
// cast to the model's float32, a missing num_batches_tracked, scalars stored
// as [1], the `module.` prefix of nn.DataParallel; anything else that does
// not fit is refused with the keys listed by group, naming the file, and
// nothing is loaded. The files are built in TypeScript (test/helpers/
// pytorch-state-dict.ts) with values whose float32 is known exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Generator, tensor, type Tensor } from '../../src/tensor/index.js';
import { Module, adaptStateDict, loadStateDictFile } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import { loadModel } from '../../src/models/load.js';
import { saveSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { CheckpointError } from '../../src/util/errors.js';
import { withTempDir } from '../helpers/model-files.js';
import { pytorchStyleStateDict, type PytorchStyleOptions } from '../helpers/pytorch-state-dict.js';

const CONVNET = { inChannels: 1, numClasses: 10, imageSize: 8 }; // fc1 is 64·2·2 → 128: small and quick

function convnet(seed = 0): Module {
  return createModel('convnet', { ...CONVNET, generator: new Generator(seed) });
}

/** Writes a PyTorch-style ConvNet state dict and loads it with loadStateDictFile + loadStateDict into `model`. */
async function saveAndLoad(dir: string, model: Module, opts: PytorchStyleOptions, file = 'torch.safetensors') {
  const path = join(dir, file);
  const built = pytorchStyleStateDict(model, opts);
  await saveSafetensors(path, built.tensors, { format: 'pt' });
  const { state } = await loadStateDictFile(path);
  try {
    model.loadStateDict(state, { origin: path });
  } finally {
    for (const t of state.values()) t.dispose();
  }
  return { path, ...built };
}

/** Every tensor of `model` holds exactly `expected` (bit for bit), in the model's own dtype. */
function assertHolds(model: Module, expected: Map<string, Float32Array | BigInt64Array>, what: string): void {
  for (const [name, t] of model.stateDict()) {
    const want = expected.get(name);
    if (want === undefined) continue;
    assert.equal(t.dtype, want instanceof Float32Array ? 'float32' : 'int64', `${what}: ${name} keeps the model's dtype`);
    const got = t.toArray();
    if (want instanceof Float32Array) {
      assert.deepEqual(new Uint32Array((got as Float32Array).buffer), new Uint32Array(want.buffer), `${what}: ${name} bits`);
    } else {
      assert.deepEqual(got, want, `${what}: ${name}`);
    }
  }
}

test(
  'a ConvNet state dict saved in float16, bfloat16 or float64 loads into the float32 model, cast as copy_ casts',
  withTempDir(async (dir) => {
    for (const dtype of ['F16', 'BF16', 'F64', 'F32'] as const) {
      const model = convnet();
      try {
        const { expected } = await saveAndLoad(dir, model, { dtype }, `${dtype}.safetensors`);
        assert.equal(expected.size, model.stateDict().size);
        assertHolds(model, expected, dtype);
        assert.equal(model.stateDict().get('bn1.num_batches_tracked')!.item(), 3);
      } finally {
        model.dispose();
      }
    }
  }),
);

test(
  'loadStateDictFile reads BF16 as float32 (the addon has no bfloat16) and F16 as float16',
  withTempDir(async (dir) => {
    const path = join(dir, 'half.safetensors');
    await saveSafetensors(
      path,
      new Map<string, SafeTensor>([
        ['b', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc060]) }],
        ['h', { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc100]) }],
      ]),
    );
    const { state } = await loadStateDictFile(path);
    try {
      assert.equal(state.get('b')!.dtype, 'float32');
      assert.deepEqual([...state.get('b')!.toArray<'float32'>()], [1, -3.5]);
      assert.equal(state.get('h')!.dtype, 'float16');
      assert.deepEqual([...state.get('h')!.toArray<'float16'>()], [0x3c00, 0xc100]);
    } finally {
      for (const t of state.values()) t.dispose();
    }
  }),
);

/** One float32 parameter of 11 elements, to load special values into. */
class Vector extends Module {
  readonly v = this.registerParameter('v', tensor(new Float32Array(11), [11]));
  forward(x: Tensor): Tensor {
    return x;
  }
}

test('float16 and bfloat16 specials load exactly: subnormals, -0, the largest half, infinities, NaN', () => {
  const cases: [string, Uint16Array, 'float16' | 'float32', number[]][] = [
    [
      'F16',
      new Uint16Array([0x0001, 0x03ff, 0x0400, 0x8001, 0x8000, 0x7bff, 0x7c00, 0xfc00, 0x7e00, 0x3555, 0x0000]),
      'float16',
      [2 ** -24, 1023 * 2 ** -24, 2 ** -14, -(2 ** -24), -0, 65504, Infinity, -Infinity, NaN, 0.333251953125, 0],
    ],
    [
      'BF16',
      new Uint16Array([0x0001, 0x007f, 0x0080, 0x8001, 0x8000, 0x7f7f, 0x7f80, 0xff80, 0x7fc0, 0x3eab, 0x0000]),
      'float32',
      [2 ** -133, 127 * 2 ** -133, 2 ** -126, -(2 ** -133), -0, 3.3895313892515355e38, Infinity, -Infinity, NaN, 0.333984375, 0],
    ],
  ];
  for (const [what, bits, dtype, want] of cases) {
    // what fromSafeTensor gives: F16 as a float16 tensor, BF16 already widened to float32
    const source =
      dtype === 'float16' ? tensor(bits, [11], { dtype }) : tensor(new Float32Array(Uint32Array.from(bits, (b) => b << 16).buffer), [11]);
    const target = new Vector();
    try {
      target.loadStateDict(new Map([['v', source]]));
      const got = [...target.v.toArray<'float32'>()];
      got.forEach((g, i) => assert.ok(Object.is(g, Math.fround(want[i])), `${what} ${bits[i].toString(16)}: got ${g}, want ${want[i]}`));
    } finally {
      source.dispose();
      target.dispose();
    }
  }
});

test(
  'a state dict without num_batches_tracked, with [1]-shaped scalars, or saved from nn.DataParallel loads',
  withTempDir(async (dir) => {
    // No num_batches_tracked: the model keeps its own count (PyTorch ≥ 2.2), 0 in a fresh model.
    const counted = convnet();
    const fresh = convnet();
    try {
      counted.stateDict().get('bn2.num_batches_tracked')!.fill_(4);
      const { expected } = await saveAndLoad(dir, counted, { dtype: 'BF16', withoutBatchCounts: true });
      assertHolds(counted, expected, 'without counts');
      assert.equal(counted.stateDict().get('bn1.num_batches_tracked')!.item(), 0);
      assert.equal(counted.stateDict().get('bn2.num_batches_tracked')!.item(), 4);
      await saveAndLoad(dir, fresh, { dtype: 'F16', withoutBatchCounts: true });
      assert.equal(fresh.stateDict().get('bn2.num_batches_tracked')!.item(), 0);
    } finally {
      counted.dispose();
      fresh.dispose();
    }

    // Scalars stored as [1]; every name prefixed `module.`; and all of it at once.
    const variants: PytorchStyleOptions[] = [
      { dtype: 'F32', scalarsAsVectors: true, batchCount: 7n },
      { dtype: 'F16', prefix: 'module.' },
      { dtype: 'BF16', prefix: 'module.', scalarsAsVectors: true, batchCount: 9n },
      { dtype: 'F64', prefix: 'module.', withoutBatchCounts: true },
    ];
    for (const opts of variants) {
      const model = convnet();
      try {
        const { expected, tensors } = await saveAndLoad(dir, model, opts);
        assertHolds(
          model,
          expected,
          JSON.stringify(opts, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)),
        );
        assert.ok([...tensors.keys()].every((name) => name.startsWith(opts.prefix ?? '')));
        assert.deepEqual(model.stateDict().get('bn1.num_batches_tracked')!.shape, [], 'a scalar stays a scalar');
      } finally {
        model.dispose();
      }
    }
  }),
);

test(
  'what does not fit is listed by group (missing, unexpected, shape, dtype), naming the file, and nothing is loaded',
  withTempDir(async (dir) => {
    const model = convnet(1);
    const before = model.cloneStateDict();
    const path = join(dir, 'wrong.safetensors');
    const { tensors } = pytorchStyleStateDict(model, { dtype: 'F16' });
    tensors.delete('conv1.weight');
    tensors.delete('fc2.bias');
    tensors.set('fc3.weight', { dtype: 'F32', shape: [1], data: new Float32Array(1) });
    tensors.set('fc1.weight', { dtype: 'F32', shape: [128, 3136], data: new Float32Array(128 * 3136) }); // a 28×28 ConvNet's
    tensors.set('bn1.num_batches_tracked', { dtype: 'I64', shape: [2], data: new BigInt64Array(2) }); // not a [1] scalar
    tensors.set('bn2.running_mean', { dtype: 'I32', shape: [64], data: new Int32Array(64) });
    tensors.set('bn2.num_batches_tracked', { dtype: 'F32', shape: [], data: new Float32Array(1) });
    await saveSafetensors(path, tensors);
    const { state } = await loadStateDictFile(path);
    try {
      assert.throws(
        () => model.loadStateDict(state, { origin: path }),
        (e: unknown) => {
          assert.ok(e instanceof CheckpointError);
          assert.equal(
            e.message,
            `state dict (from ${path}) does not fit ConvNet. ` +
              `Keys 2 missing: 'conv1.weight', 'fc2.bias'. ` +
              `Keys 1 unexpected: 'fc3.weight'. ` +
              `Keys 2 of another shape: 'bn1.num_batches_tracked' is [2] in the file, [] in the model; 'fc1.weight' is [128, 3136] in the file, [128, 256] in the model. ` +
              `Keys 2 of another dtype: 'bn2.running_mean' is int32 in the file, float32 in the model; 'bn2.num_batches_tracked' is float32 in the file, int64 in the model.`,
          );
          return true;
        },
      );
      for (const [name, t] of model.stateDict()) assert.ok(t.equal(before.get(name)!), `${name} changed by a failed load`);

      // A long group shows five names and counts the rest (16 names less the two batch counts).
      assert.throws(
        () => model.loadStateDict(new Map(), { origin: 'empty.safetensors' }),
        /does not fit ConvNet\. Keys 14 missing: 'conv1\.weight', 'bn1\.weight', 'bn1\.bias', 'bn1\.running_mean', 'bn1\.running_var' and 9 more\.$/,
      );
    } finally {
      for (const t of [...state.values(), ...before.values()]) t.dispose();
      model.dispose();
    }
  }),
);

test('adaptStateDict: the edges of each rule', () => {
  const own = new Map<string, Tensor>([
    ['scale', tensor([1], [])],
    ['vector', tensor([1], [1])],
    ['count', tensor([0], [], { dtype: 'int64' })],
    ['bn.num_batches_tracked', tensor([0], [], { dtype: 'int64' })],
  ]);
  const t = (values: number[], shape: number[], dtype: 'float32' | 'float64' | 'int32' | 'int64' = 'float32') =>
    tensor(values, shape, { dtype });
  const made: Tensor[] = [];
  const dict = (entries: [string, Tensor][]) => {
    made.push(...entries.map(([, v]) => v));
    return new Map(entries);
  };
  try {
    const full = (prefix = '') =>
      dict([
        [`${prefix}scale`, t([2], [1])],
        [`${prefix}vector`, t([3], [1], 'float64')],
        [`${prefix}count`, t([5], [], 'int64')],
      ]);
    // [1] for [] and float64 for float32 fit; the batch count may be absent; the prefix goes when every name has it.
    for (const prefix of ['', 'module.']) {
      const { values, mismatch } = adaptStateDict(full(prefix), own);
      assert.equal(mismatch, null, prefix);
      assert.deepEqual([...values.keys()], ['scale', 'vector', 'count']);
    }
    // Only some names prefixed: nothing is stripped.
    const some = adaptStateDict(
      dict([
        ['module.scale', t([2], [])],
        ['vector', t([3], [1])],
        ['count', t([5], [], 'int64')],
      ]),
      own,
    );
    assert.deepEqual(some.mismatch, { missing: ['scale'], unexpected: ['module.scale'], otherShape: [], otherDtype: [] });
    // A longer 1-D tensor is no scalar (PyTorch would take its first element); [] is no [1]; kinds do not cross.
    const wrong = adaptStateDict(
      dict([
        ['scale', t([1, 2, 3], [3])],
        ['vector', t([1], [])],
        ['count', t([5], [], 'int32')],
        ['bn.num_batches_tracked', t([5], [], 'float64')],
      ]),
      own,
    );
    assert.deepEqual(wrong.mismatch, {
      missing: [],
      unexpected: [],
      otherShape: [
        { name: 'scale', shape: [3], expected: [] },
        { name: 'vector', shape: [], expected: [1] },
      ],
      otherDtype: [
        { name: 'count', dtype: 'int32', expected: 'int64' },
        { name: 'bn.num_batches_tracked', dtype: 'float64', expected: 'int64' },
      ],
    });
    // Not strict: missing and unexpected names pass, shapes still count.
    const partial = adaptStateDict(
      dict([
        ['module.scale', t([2], [])],
        ['module.extra', t([1], [])],
      ]),
      own,
      { strict: false },
    );
    assert.equal(partial.mismatch, null);
    assert.deepEqual([...partial.values.keys()], ['scale']);
    // A model whose own names all start with `module.` keeps a prefixed source as it is.
    const wrapped = new Map([['module.w', own.get('scale')!]]);
    assert.deepEqual([...adaptStateDict(dict([['module.w', t([1], [])]]), wrapped).values.keys()], ['module.w']);
  } finally {
    for (const x of [...own.values(), ...made]) x.dispose();
  }
});

test(
  'models/load.ts (eval, export) loads a bfloat16 DataParallel state dict without batch counts',
  withTempDir(async (dir) => {
    const path = join(dir, 'dense.safetensors');
    const reference = convnet(2);
    const { tensors, expected } = pytorchStyleStateDict(reference, { dtype: 'BF16', prefix: 'module.', withoutBatchCounts: true });
    reference.dispose();
    await saveSafetensors(path, tensors, { format: 'pt' });
    const { model } = await loadModel(path, {
      model: 'convnet',
      describe: () => ({ name: 'convnet', options: {}, ...CONVNET }),
    });
    try {
      assertHolds(model, expected, 'loadModel');
      assert.equal(model.stateDict().get('bn2.num_batches_tracked')!.item(), 0);
    } finally {
      model.dispose();
    }
  }),
);
