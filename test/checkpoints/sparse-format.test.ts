// The sparse format: every storage round trip, the storage choice, and
// corrupted sparse files refused by the reader (readModelFile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, saveSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { DataFormatError } from '../../src/util/errors.js';
import { readModelFile } from '../../src/checkpoints/model-description.js';
import {
  chooseStorage,
  decodeSparseStateDict,
  encodeSparseStateDict,
  type SparseLayoutEntry,
  type StoragePolicy,
} from '../../src/checkpoints/sparse-format.js';
import { bytesOf, withTempDir } from '../helpers/model-files.js';

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
