// Model export: dense and sparse files of 90%-pruned models (sizes, bit-equal
// predictions, self-describing metadata), every sparse storage round trip,
// corrupted sparse files, checkpoints of another model, missing metadata,
// the run config.json fallback, and an independent numpy reader of the
// sparse layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Generator, noGrad, randn, setNumThreads, tidy } from '../../src/tensor/index.js';
import type { Module } from '../../src/nn/index.js';
import { createModel } from '../../src/models/registry.js';
import { prunableParameters } from '../../src/prune/prunable.js';
import { getCriterion } from '../../src/prune/criteria.js';
import { saveCheckpoint } from '../../src/checkpoints/store.js';
import { normalizedConfigJson, parseSmsConfig } from '../../src/sms/config.js';
import {
  decodeSafetensors,
  dtypeByteSize,
  encodeSafetensors,
  loadSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  type SafeTensor,
} from '../../src/io/safetensors.js';
import { CheckpointError, ConfigError, DataFormatError } from '../../src/util/errors.js';
import { exportModel, exportStateDict, loadModelFile, readModelFile, type ModelDescription } from '../../src/run/export.js';
import {
  chooseStorage,
  decodeSparseStateDict,
  encodeSparseStateDict,
  SPARSE_FORMAT,
  type SparseLayoutEntry,
  type StoragePolicy,
} from '../../src/checkpoints/sparse-format.js';

setNumThreads(2);

const CONVNET: ModelDescription = { name: 'convnet', options: {}, inChannels: 1, numClasses: 10, imageSize: 28 };
const RESNET20: ModelDescription = { name: 'resnet20', options: {}, inChannels: 3, numClasses: 10, imageSize: 32 };

function withTempDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sms-export-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/** A model with non-trivial BN statistics, pruned to 90% with the global criterion (pruned negatives become -0.0). */
function prunedModel(d: ModelDescription, seed = 1): Module {
  const model = createModel(d.name, {
    ...d.options,
    inChannels: d.inChannels,
    numClasses: d.numClasses,
    imageSize: d.imageSize,
    generator: new Generator(seed),
  });
  noGrad(() =>
    tidy(() => model.train().forward(randn([8, d.inChannels, d.imageSize, d.imageSize], { generator: new Generator(seed + 1) }))),
  );
  const mask = getCriterion('global')(prunableParameters(model), null, 0.9, {});
  mask.apply(model);
  mask.dispose();
  return model.eval();
}

function logitBits(model: Module, d: ModelDescription): Uint32Array {
  const x = randn([6, d.inChannels, d.imageSize, d.imageSize], { generator: new Generator(99) });
  const logits = noGrad(() => tidy(() => model.eval().forward(x).toArray<'float32'>()));
  x.dispose();
  return new Uint32Array(logits.buffer, logits.byteOffset, logits.length);
}

const bytesOf = (t: SafeTensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
const negativeZeros = (t: SafeTensor): number =>
  t.dtype === 'F32' ? new Uint32Array(t.data.slice().buffer).filter((b) => b === 0x80000000).length : 0;

test(
  'a 90%-pruned ConvNet: the sparse file is under a quarter of the dense one, both load back to bit-equal predictions',
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET);
    const original = logitBits(model, CONVNET);
    const checkpoint = join(dir, 'soup.safetensors');
    await saveCheckpoint(checkpoint, model.stateDict(), { model: 'convnet', kind: 'soup' });
    const before = await readModelFile(checkpoint);
    assert.ok(
      [...before.state.values()].some((t) => negativeZeros(t) > 0),
      'masking left -0.0 weights (the case the format canonicalizes)',
    );

    const dense = await exportModel({ checkpoint, output: join(dir, 'soup.dense.safetensors'), format: 'dense', dataset: 'fashion-mnist' });
    const sparse = await exportModel({
      checkpoint,
      output: join(dir, 'soup.sparse.safetensors'),
      format: 'sparse',
      dataset: 'fashion-mnist',
    });
    assert.equal(dense.bytes, statSync(dense.path).size);
    assert.equal(sparse.bytes, statSync(sparse.path).size);
    assert.equal(sparse.denseBytes, dense.bytes, 'denseBytes is the size of the dense export');
    assert.equal(dense.ratio, 1);
    assert.ok(sparse.bytes <= dense.bytes / 4, `sparse ${sparse.bytes} B vs dense ${dense.bytes} B`);
    assert.equal(sparse.ratio, sparse.bytes / dense.bytes);
    assert.equal(sparse.total, 421_930); // every float32 element of the state dict
    assert.equal(sparse.nonzero, dense.nonzero);
    assert.ok(sparse.nonzero < 0.11 * sparse.total && sparse.nonzero > 0.09 * sparse.total);
    assert.ok(sparse.storage.bitmask + sparse.storage.indices >= 4, 'the four weight tensors are stored sparsely');
    assert.equal(dense.storage.dense, 16);

    // Self-describing: the metadata rebuilds the model; the source's kind is carried over.
    for (const path of [dense.path, sparse.path]) {
      const { metadata } = await readSafetensorsHeader(path);
      assert.equal(metadata.model, 'convnet');
      assert.equal(metadata.model_options, '{}');
      assert.deepEqual([metadata.in_channels, metadata.num_classes, metadata.image_size], ['1', '10', '28']);
      assert.equal(metadata.dataset, 'fashion-mnist');
      assert.equal(metadata.kind, 'soup');
    }
    assert.equal((await readSafetensorsHeader(dense.path)).metadata.format, 'pt');
    const sparseHeader = await readSafetensorsHeader(sparse.path);
    assert.equal(sparseHeader.metadata.format, SPARSE_FORMAT);
    for (const [name, info] of sparseHeader.tensors) {
      assert.equal((sparseHeader.dataStart + info.dataOffsets[0]) % dtypeByteSize(info.dtype), 0, `${name} is aligned in the file`);
    }

    // The sparse file decodes to exactly the dense file's bits (zeros as +0.0 in both).
    const fromDense = await readModelFile(dense.path);
    const fromSparse = await readModelFile(sparse.path);
    assert.equal(fromSparse.format, 'sparse');
    assert.deepEqual([...fromSparse.state.keys()], [...before.state.keys()]);
    for (const [name, t] of fromDense.state) {
      const s = fromSparse.state.get(name)!;
      assert.deepEqual([s.dtype, s.shape], [t.dtype, t.shape], name);
      assert.ok(bytesOf(s).equals(bytesOf(t)), `${name}: sparse and dense bits differ`);
      assert.equal(negativeZeros(t), 0, `${name}: -0.0 written as +0.0`);
    }

    // Loaded without any hint, both predict bit-identically to the original model.
    for (const path of [dense.path, sparse.path]) {
      const loaded = await loadModelFile(path);
      assert.deepEqual(loaded.description, { ...CONVNET, dataset: 'fashion-mnist' });
      assert.deepEqual(logitBits(loaded.model, CONVNET), original, `${path}: logits bit-equal`);
      loaded.model.dispose();
    }

    // Re-exporting an export gives the same file.
    const again = await exportModel({ checkpoint: sparse.path, output: join(dir, 'again.safetensors'), format: 'sparse' });
    assert.equal(again.bytes, sparse.bytes);
    model.dispose();
  }),
);

test(
  'a 90%-pruned ResNet-20: sparse file under a quarter of the dense one, bit-equal predictions',
  withTempDir(async (dir) => {
    const model = prunedModel(RESNET20, 3);
    const dense = await exportStateDict(model.stateDict(), RESNET20, join(dir, 'r20.safetensors'), { format: 'dense' });
    const sparse = await exportStateDict(model.stateDict(), RESNET20, join(dir, 'r20.sparse.safetensors'), { format: 'sparse' });
    assert.ok(sparse.bytes <= dense.bytes / 4, `sparse ${sparse.bytes} B vs dense ${dense.bytes} B`);
    const expected = logitBits(model, RESNET20);
    for (const path of [dense.path, sparse.path]) {
      const loaded = await loadModelFile(path);
      assert.deepEqual(logitBits(loaded.model, RESNET20), expected, path);
      loaded.model.dispose();
    }
    model.dispose();
  }),
);

// ---------------------------------------------------------------- the storages

const f32 = (values: number[], shape: number[]): SafeTensor => ({ dtype: 'F32', shape, data: Float32Array.from(values) });
function f32Bits(bits: number[], shape: number[]): SafeTensor {
  return { dtype: 'F32', shape, data: new Float32Array(Uint32Array.from(bits).buffer) };
}
function sampleState(): Map<string, SafeTensor> {
  const sparse = new Array(15).fill(0);
  sparse[0] = 1.5;
  sparse[7] = -0;
  sparse[8] = -2.25;
  sparse[14] = 3e-39; // subnormal
  return new Map<string, SafeTensor>([
    ['odd.weight', f32(sparse, [3, 5])], // 15 elements: the mask's last byte is padded
    ['eight', f32([0, 0, 0, 0, 0, 0, 0, 7], [8])],
    ['special', f32Bits([0x7fc00001, 0xff800000, 0x80000000, 0x00000001, 0, 0x3f800000], [2, 3])], // NaN payload, -inf, -0, smallest subnormal
    ['all_zero', f32([-0, 0, -0, 0], [2, 2])],
    ['dense.bias', f32([1, 2, 3], [3])],
    ['scalar', f32([-4], [])],
    ['empty', f32([], [0, 3])],
    ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.from([12n]) }],
    ['bytes', { dtype: 'U8', shape: [2], data: Uint8Array.from([0, 9]) }],
  ]);
}
/** The expected decoded bits: the input with -0.0 as +0.0. */
function canonical(t: SafeTensor): Buffer {
  const b = Buffer.from(bytesOf(t));
  if (t.dtype === 'F32') for (let i = 0; i < b.length; i += 4) if (b.readUInt32LE(i) === 0x80000000) b.writeUInt32LE(0, i);
  return b;
}

test('every storage (dense, bitmask, indices, auto) round-trips bit-exactly through a safetensors file', () => {
  const state = sampleState();
  const sizes: Record<string, number> = {};
  for (const policy of ['dense', 'bitmask', 'indices', 'auto'] as StoragePolicy[]) {
    const { tensors, metadata, layout } = encodeSparseStateDict(state, policy);
    for (const entry of layout) {
      const expected =
        state.get(entry.name)!.dtype === 'F32'
          ? policy === 'auto'
            ? chooseStorage(
                entry.name,
                entry.shape.reduce((a, b) => a * b, 1),
                entry.nonzero,
              )
            : policy
          : 'dense';
      assert.equal(entry.storage, expected, `${policy}: ${entry.name}`);
    }
    const bytes = encodeSafetensors(tensors, metadata);
    sizes[policy] = bytes.byteLength;
    const file = decodeSafetensors(bytes, `${policy}.safetensors`);
    const decoded = decodeSparseStateDict(file.tensors, file.metadata, `${policy}.safetensors`);
    assert.deepEqual([...decoded.keys()], [...state.keys()], policy);
    for (const [name, t] of state) {
      const d = decoded.get(name)!;
      assert.deepEqual([d.dtype, d.shape], [t.dtype, t.shape], `${policy}: ${name}`);
      assert.ok(bytesOf(d).equals(canonical(t)), `${policy}: ${name} bits`);
    }
  }
  assert.equal(encodeSparseStateDict(state, 'bitmask').layout.find((e) => e.name === 'odd.weight')!.nonzero, 3, '-0.0 is a zero');
  assert.ok(sizes.auto <= Math.min(sizes.dense, sizes.bitmask, sizes.indices), JSON.stringify(sizes));
});

test('the storage choice follows the density: dense, then bitmask, then indices', () => {
  assert.equal(chooseStorage('w', 10_000, 10_000), 'dense');
  assert.equal(chooseStorage('w', 10_000, 9_800), 'dense'); // bitmask: 4k + n/8 = 40 450 bytes > 40 000
  assert.equal(chooseStorage('w', 10_000, 9_000), 'bitmask'); // 37 250 bytes
  assert.equal(chooseStorage('w', 10_000, 1_000), 'bitmask'); // 5 250 bytes, indices 8 000
  assert.equal(chooseStorage('w', 10_000, 300), 'indices'); // 2 400 bytes, bitmask 2 450
  assert.equal(chooseStorage('w', 10_000, 100), 'indices');
  assert.equal(chooseStorage('bias', 3, 3), 'dense');
  assert.equal(chooseStorage('w', 0, 0), 'dense');
});

// ---------------------------------------------------------------- corrupted files

async function writeSparse(
  dir: string,
  name: string,
  edit: (tensors: Map<string, SafeTensor>, layout: SparseLayoutEntry[]) => void,
  policy: StoragePolicy = 'auto',
): Promise<string> {
  const values = new Array(64).fill(0).map((_, i) => (i % 5 === 0 ? i + 1 : 0));
  const state = new Map<string, SafeTensor>([
    ['fc.weight', f32(values, [8, 8])],
    ['fc.bias', f32([1, 2, 3, 4, 5, 6, 7, 8], [8])],
  ]);
  const { tensors, metadata, layout } = encodeSparseStateDict(state, policy);
  edit(tensors, layout);
  const path = join(dir, `${name}.safetensors`);
  await saveSafetensors(path, tensors, { ...metadata, layout: JSON.stringify(layout) });
  return path;
}

async function assertFormatError(path: string, ...fragments: string[]): Promise<void> {
  await assert.rejects(readModelFile(path), (e: unknown) => {
    assert.ok(e instanceof DataFormatError, `expected a DataFormatError, got ${String(e)}`);
    assert.equal(e.file, path);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" should mention ${f}`);
    return true;
  });
}

const shorter = (t: SafeTensor): SafeTensor => ({ dtype: 'F32', shape: [t.shape[0] - 1], data: (t.data as Float32Array).slice(0, -1) });

test(
  'corrupted sparse files are refused with a DataFormatError naming the file and the tensor',
  withTempDir(async (dir) => {
    const ok = await writeSparse(dir, 'ok', () => {}, 'bitmask');
    assert.equal((await readModelFile(ok)).state.size, 2);

    // One value fewer than the mask's set bits (the layout count edited to match the values).
    const popcount = await writeSparse(
      dir,
      'popcount',
      (t, layout) => {
        t.set('fc.weight:values', shorter(t.get('fc.weight:values')!));
        layout[0].nonzero -= 1;
      },
      'bitmask',
    );
    await assertFormatError(popcount, 'fc.weight', 'bitmask has 13 bits set but there are 12 values');
    // One value fewer than the layout says.
    await assertFormatError(
      await writeSparse(dir, 'count', (t) => t.set('fc.weight:values', shorter(t.get('fc.weight:values')!)), 'bitmask'),
      'fc.weight',
      '12 values, the layout says 13',
    );
    // Indices: one fewer than the values, out of range, not increasing.
    await assertFormatError(
      await writeSparse(
        dir,
        'idx-count',
        (t) =>
          t.set('fc.weight:indices', { dtype: 'I32', shape: [12], data: (t.get('fc.weight:indices')!.data as Int32Array).slice(0, -1) }),
        'indices',
      ),
      'fc.weight',
      '"fc.weight:indices" is I32 [12], the layout needs I32 [13]',
    );
    await assertFormatError(
      await writeSparse(dir, 'idx-range', (t) => ((t.get('fc.weight:indices')!.data as Int32Array)[12] = 64), 'indices'),
      'fc.weight',
      'index 64',
    );
    await assertFormatError(
      await writeSparse(dir, 'idx-order', (t) => ((t.get('fc.weight:indices')!.data as Int32Array)[3] = 0), 'indices'),
      'fc.weight',
      'strictly increasing',
    );
    // A stored zero, a missing entry, an entry not in the layout, a wrong dtype, a bad layout.
    await assertFormatError(
      await writeSparse(dir, 'zero', (t) => ((t.get('fc.weight:values')!.data as Float32Array)[0] = -0), 'bitmask'),
      'fc.weight',
      'value 0 is zero',
    );
    await assertFormatError(
      await writeSparse(dir, 'missing', (t) => t.delete('fc.weight:mask'), 'bitmask'),
      'fc.weight',
      'no entry "fc.weight:mask"',
    );
    await assertFormatError(await writeSparse(dir, 'extra', (t) => t.set('stray', f32([1], [1]))), '"stray"', 'not in the layout');
    await assertFormatError(
      await writeSparse(dir, 'dtype', (t) => t.set('fc.bias', { dtype: 'F64', shape: [8], data: new Float64Array(8) })),
      'fc.bias',
      'is F64 [8]',
    );
    await assertFormatError(
      await writeSparse(dir, 'storage', (_t, layout) => ((layout[0] as { storage: string }).storage = 'csr')),
      'layout[0] ("fc.weight")',
      'storage must be one of',
    );

    // Non-zero padding bits after the last mask bit (a 7-element tensor).
    const padded = join(dir, 'padding.safetensors');
    const enc = encodeSparseStateDict(new Map([['v', f32([1, 0, 0, 0, 0, 0, 0], [7])]]), 'bitmask');
    (enc.tensors.get('v:mask')!.data as Uint8Array)[0] |= 0x01;
    await saveSafetensors(padded, enc.tensors, enc.metadata);
    await assertFormatError(padded, '"v"', 'padding bits');
  }),
);

// ---------------------------------------------------------------- model resolution

test(
  'a checkpoint of another model is a CheckpointError naming the keys, and nothing is written',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [16], generator: new Generator(0) });
    const checkpoint = join(dir, 'mlp.safetensors');
    await saveCheckpoint(checkpoint, mlp.stateDict(), { model: 'convnet', kind: 'dense' }); // mislabelled
    const output = join(dir, 'out.safetensors');
    await assert.rejects(exportModel({ checkpoint, output, format: 'sparse', dataset: 'fashion-mnist' }), (e: unknown) => {
      assert.ok(e instanceof CheckpointError, String(e));
      assert.match(e.message, /mlp\.safetensors does not fit convnet \{\} for 1×28×28 images, 10 classes/);
      assert.match(
        e.message,
        /Keys 12 missing: 'conv1\.weight', 'bn1\.weight', 'bn1\.bias', 'bn1\.running_mean', 'bn1\.running_var' and 7 more\./,
      );
      assert.match(e.message, /Keys 3 of another shape: 'fc1\.weight' is \[16, 784\] in the file, \[128, 3136\] in the model; 'fc1\.bias'/);
      assert.match(e.message, /--model, --model-options/);
      return true;
    });
    assert.ok(!existsSync(output));
    // With the right name and options it exports.
    const r = await exportModel({
      checkpoint,
      output,
      format: 'dense',
      model: 'mlp',
      modelOptions: { hiddenSizes: [16] },
      dataset: 'fashion-mnist',
    });
    assert.deepEqual(r.model.options, { hiddenSizes: [16] });
    // A self-describing file loaded as another model.
    await assert.rejects(
      loadModelFile(output, { model: 'convnet' }),
      (e: unknown) => e instanceof CheckpointError && /fc1\.weight/.test(e.message),
    );
    mlp.dispose();
  }),
);

test(
  'missing metadata: the error says to pass --model and --dataset; a run config.json supplies both',
  withTempDir(async (dir) => {
    const mlp = createModel('mlp', { inChannels: 1, numClasses: 10, imageSize: 28, hiddenSizes: [8], generator: new Generator(0) });
    const bare = join(dir, 'bare.safetensors');
    await saveSafetensors(
      bare,
      new Map([...mlp.stateDict()].map(([n, t]) => [n, { dtype: 'F32', shape: t.shape, data: t.toArray<'float32'>() } as SafeTensor])),
    );
    const out = join(dir, 'out.safetensors');
    await assert.rejects(exportModel({ checkpoint: bare, output: out, format: 'dense' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.path, '--model');
      assert.match(e.message, /pass --model <name> \(mlp, convnet, .*\) and --dataset <name>/);
      return true;
    });
    await assert.rejects(
      exportModel({ checkpoint: bare, output: out, format: 'dense', model: 'mlp' }),
      (e: unknown) => e instanceof ConfigError && e.path === '--dataset' && /pass --dataset/.test(e.message),
    );

    // A pipeline checkpoint inside a run directory: model options and dataset come from config.json.
    const config = parseSmsConfig({ data: { dataset: 'fashion-mnist' }, model: { name: 'mlp', options: { hiddenSizes: [8] } } });
    writeFileSync(join(dir, 'config.json'), normalizedConfigJson(config));
    mkdirSync(join(dir, 'phase-1'));
    const soup = join(dir, 'phase-1', 'soup-uniform.safetensors');
    await saveCheckpoint(soup, mlp.stateDict(), { model: 'mlp', kind: 'soup' });
    const r = await exportModel({ checkpoint: soup, output: out, format: 'sparse' });
    assert.deepEqual(r.model, {
      name: 'mlp',
      options: { hiddenSizes: [8] },
      inChannels: 1,
      numClasses: 10,
      imageSize: 28,
      dataset: 'fashion-mnist',
    });

    // A half-written description is malformed, not silently ignored.
    const { tensors, metadata } = await loadSafetensors(out);
    const partial = join(dir, 'partial.safetensors');
    await saveSafetensors(partial, tensors, { ...metadata, image_size: 'big' });
    await assert.rejects(
      loadModelFile(partial),
      (e: unknown) => e instanceof DataFormatError && e.file === partial && /image_size/.test(e.message),
    );
    const noModel = { ...metadata };
    delete noModel.model;
    await saveSafetensors(partial, tensors, noModel);
    await assert.rejects(loadModelFile(partial), (e: unknown) => e instanceof DataFormatError && /not model/.test(e.message));
    mlp.dispose();
  }),
);

// ---------------------------------------------------------------- an independent reader

const PYTHON = '/usr/bin/python3';
const pythonProblem = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} with numpy is not available`;
})();

// The layout as docs/export.md describes it, read with json and numpy only.
const NUMPY_READER = `
import hashlib, json, struct, sys
import numpy as np
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n]); data = raw[8 + n:]
meta = header.pop('__metadata__')
assert meta['format'] == 'sparse-soups-sparse-v1' and meta['bit_order'] == 'msb'
DT = {'F32': np.float32, 'U8': np.uint8, 'I32': np.int32, 'I64': np.int64}
def get(name):
    e = header[name]; b, end = e['data_offsets']
    return np.frombuffer(data[b:end], dtype=DT[e['dtype']]).reshape(e['shape'])
out = {}
for e in json.loads(meta['layout']):
    name, shape, size = e['name'], e['shape'], int(np.prod(e['shape']))
    if e['storage'] == 'dense':
        t = get(name)
    else:
        flat = np.zeros(size, dtype=np.float32)
        if e['storage'] == 'bitmask':
            flat[np.unpackbits(get(name + ':mask'), count=size).astype(bool)] = get(name + ':values')
        else:
            flat[get(name + ':indices')] = get(name + ':values')
        t = flat.reshape(shape)
    out[name] = hashlib.sha256(np.ascontiguousarray(t).tobytes()).hexdigest()
print(json.dumps(out))
`;

test(
  'numpy alone reconstructs the sparse file as documented (MSB-first bitmask, row-major indices)',
  { skip: pythonProblem },
  withTempDir(async (dir) => {
    const model = prunedModel(CONVNET, 7);
    const dense = await exportStateDict(model.stateDict(), CONVNET, join(dir, 'd.safetensors'), { format: 'dense' });
    const state = (await readModelFile(dense.path)).state;
    for (const policy of ['auto', 'bitmask', 'indices'] as StoragePolicy[]) {
      const sparse = await exportStateDict(model.stateDict(), CONVNET, join(dir, `${policy}.safetensors`), {
        format: 'sparse',
        storage: policy,
      });
      const result = spawnSync(PYTHON, ['-c', NUMPY_READER, sparse.path], { encoding: 'utf8' });
      assert.equal(result.status, 0, result.stderr);
      const hashes = JSON.parse(result.stdout) as Record<string, string>;
      assert.deepEqual(Object.keys(hashes), [...state.keys()]);
      for (const [name, t] of state)
        assert.equal(hashes[name], createHash('sha256').update(bytesOf(t)).digest('hex'), `${policy}: ${name}`);
    }
    model.dispose();
  }),
);
