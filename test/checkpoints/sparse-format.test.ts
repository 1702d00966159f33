// The sparse format: every storage round trip, the storage choice, and
// corrupted sparse files refused by the reader (readModelFile).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, saveSafetensors, type SafeTensor } from '../../src/io/safetensors.js';
import { DataFormatError } from '../../src/util/errors.js';
import { readModelFile } from '../../src/checkpoints/model-description.js';
import {
  chooseStorage,
  decodeSparseStateDict,
  denseGroupName,
  encodeLayout,
  encodeSparseStateDict,
  PACKED_ENTRY,
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

test('every storage (dense, bitmask, indices, packed, auto) round-trips bit-exactly through a safetensors file', () => {
  const state = sampleState();
  // Long gaps (escape codes), many sign/exponent values (a full high table), every element non-zero.
  const wide = new Float32Array(200_000);
  for (const [i, v] of [
    [3, 1],
    [300, -2],
    [150_000, 1e-30],
    [199_999, 3e38],
  ] as const)
    wide[i] = v;
  state.set('wide', { dtype: 'F32', shape: [200_000], data: wide });
  const everyBit = new Uint32Array(600);
  for (let i = 0; i < everyBit.length; i++) everyBit[i] = (Math.imul(i + 1, 0x9e3779b1) >>> 0) | 1; // never a zero
  state.set('every_exponent', { dtype: 'F32', shape: [20, 30], data: new Float32Array(everyBit.buffer) });
  // Values of bfloat16 (16 trailing mantissa bits 0): 7 mantissa bits stored; ±1.0 and 0.5 only: none.
  state.set('bf16', f32Bits([0x3f81_0000, 0, 0xbe40_0000, 0x4000_0000], [4]));
  state.set('ones', f32([1, -1, 0, 0.5, 1], [5]));
  const sizes: Record<string, number> = {};
  for (const policy of ['dense', 'bitmask', 'indices', 'packed', 'auto'] as StoragePolicy[]) {
    const { tensors, metadata, layout } = encodeSparseStateDict(state, policy);
    assert.equal(metadata.format, 'sparse-soups-sparse-v2');
    for (const entry of layout) {
      if (state.get(entry.name)!.dtype !== 'F32') assert.equal(entry.storage, 'dense', `${policy}: ${entry.name}`);
      else if (policy !== 'auto') assert.equal(entry.storage, policy, `${policy}: ${entry.name}`);
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
  assert.ok(sizes.auto <= Math.min(sizes.dense, sizes.bitmask, sizes.indices, sizes.packed), JSON.stringify(sizes));
  const packed = encodeSparseStateDict(state, 'packed').layout;
  assert.equal(packed.find((e) => e.name === 'bf16')!.low_bits, 7);
  assert.equal(packed.find((e) => e.name === 'ones')!.low_bits, 0);
  assert.equal(packed.find((e) => e.name === 'every_exponent')!.low_bits, 23);
  const wideEntry = packed.find((e) => e.name === 'wide')!;
  assert.ok(wideEntry.gap_codes! > wideEntry.nonzero, 'a gap longer than 2^16 - 1 takes escape codes');
  assert.equal(packed.find((e) => e.name === 'every_exponent')!.high!.length > 100, true);
});

test('state-dict names that would collide with the grouped entries are refused', () => {
  for (const name of [':packed', ':dense:F32'])
    assert.throws(
      () => encodeSparseStateDict(new Map([[name, f32([1], [1])]])),
      (e: unknown) => e instanceof DataFormatError && e.message.includes(`"${name}": names starting with ':' are reserved`),
    );
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
  await saveSafetensors(path, tensors, { ...metadata, layout: encodeLayout(layout) });
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
      await writeSparse(dir, 'dtype', (t) => t.set(denseGroupName('F32'), { dtype: 'F64', shape: [8], data: new Float64Array(8) })),
      'fc.bias',
      '":dense:F32" is F64 [8]',
    );
    // The dense group truncated: the last dense tensor's elements are not all there.
    await assertFormatError(
      await writeSparse(dir, 'dense-cut', (t) => t.set(denseGroupName('F32'), f32([1, 2, 3, 4, 5, 6, 7], [7]))),
      'tensor "fc.bias" (dense)',
      'needs elements 0..7 of ":dense:F32", which has 7: truncated',
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

// ---------------------------------------------------------------- the packed storage, corrupted

/**
 * A file of one packed tensor `w` = [1, 0, 0, 1.5] (gap_bits 1: gap codes
 * 0 | 1 1 0, a high table of one value, two 1-bit mantissas), whose layout
 * entry and packed bytes `edit` may change first.
 */
async function writePacked(
  dir: string,
  name: string,
  edit: (entry: SparseLayoutEntry, packed: Uint8Array) => Uint8Array | void,
): Promise<string> {
  const enc = encodeSparseStateDict(new Map([['w', f32([1, 0, 0, 1.5], [4])]]), 'packed');
  const entry = enc.layout[0];
  assert.deepEqual([entry.gap_bits, entry.gap_codes, entry.high, entry.high_bits, entry.low_bits], [1, 4, [127], 0, 1]);
  const packed = enc.tensors.get(PACKED_ENTRY)!.data as Uint8Array;
  assert.equal(packed[0], 0b0110_0000, 'gap codes 0, 1, 1, 0, MSB first');
  const edited = edit(entry, packed) ?? packed;
  enc.tensors.set(PACKED_ENTRY, { dtype: 'U8', shape: [edited.length], data: edited });
  const path = join(dir, `${name}.safetensors`);
  await saveSafetensors(path, enc.tensors, { ...enc.metadata, layout: encodeLayout(enc.layout) });
  return path;
}

test(
  'packed tensors with inconsistent positions and values are refused, naming the file, the tensor and the mismatch',
  withTempDir(async (dir) => {
    const ok = await writePacked(dir, 'ok', () => {});
    assert.deepEqual([...((await readModelFile(ok)).state.get('w')!.data as Float32Array)], [1, 0, 0, 1.5]);

    // Position count ≠ value count: one gap ends (codes 1 1 1 0), or four do (0 0 0 0), for two values.
    await assertFormatError(
      await writePacked(dir, 'fewer', (_e, p) => void (p[0] = 0b1110_0000)),
      'tensor "w" (packed)',
      'holds 1 positions but there are 2 values',
    );
    await assertFormatError(
      await writePacked(dir, 'more', (_e, p) => void (p[0] = 0b0000_0000)),
      'tensor "w" (packed)',
      'more than the 2 positions',
    );
    await assertFormatError(
      await writePacked(dir, 'open-gap', (_e, p) => void (p[0] = 0b0111_0000)),
      'tensor "w" (packed)',
      'ends inside a gap',
    );
    // A position out of range: the same streams for a 3-element tensor.
    await assertFormatError(
      await writePacked(dir, 'range', (e) => void (e.shape = [3])),
      'tensor "w" (packed)',
      'position 3 of value 1 is outside 0..2',
    );
    // A stored zero: the high table says +0.0's sign and exponent, and 1.0's mantissa is 0.
    await assertFormatError(await writePacked(dir, 'zero', (e) => void (e.high = [0])), 'tensor "w" (packed)', 'value 0 is zero');
    // Padding bits after the 4 gap bits.
    await assertFormatError(
      await writePacked(dir, 'padding', (_e, p) => void (p[0] |= 0x01)),
      'tensor "w" (packed)',
      'padding bits after the 4 bits of the gaps stream',
    );
    // A truncated entry, and trailing bytes.
    await assertFormatError(
      await writePacked(dir, 'truncated', (_e, p) => p.slice(0, -1)),
      'tensor "w" (packed)',
      'needs bytes 0..1 of ":packed", which has 1: truncated',
    );
    await assertFormatError(
      await writePacked(dir, 'trailing', (_e, p) => Uint8Array.from([...p, 0])),
      '":packed" holds 3 bytes, the layout\'s packed tensors 2',
    );
    // Malformed packed fields.
    await assertFormatError(
      await writePacked(dir, 'high-bits', (e) => void (e.high_bits = 1)),
      'layout[0] ("w")',
      'high_bits must be 0 for a 1-entry high table',
    );
    await assertFormatError(
      await writePacked(dir, 'gap-bits', (e) => void (e.gap_bits = 0)),
      'layout[0] ("w")',
      'gap_bits must be an integer in 1..16',
    );
  }),
);

test(
  'a high index outside the table is refused',
  withTempDir(async (dir) => {
    // Three sign/exponent values: a 2-bit index, of which 3 points past the table.
    const enc = encodeSparseStateDict(new Map([['v', f32([1, -1, 4], [3])]]), 'packed');
    const entry = enc.layout[0];
    assert.deepEqual([entry.high, entry.high_bits], [[127, 129, 383], 2]);
    const packed = enc.tensors.get(PACKED_ENTRY)!.data as Uint8Array;
    packed[1] = 0b1111_1100; // the high stream (after the 1 byte of gaps): indices 3, 3, 3
    const path = join(dir, 'high.safetensors');
    await saveSafetensors(path, enc.tensors, enc.metadata);
    await assertFormatError(path, 'tensor "v" (packed)', 'high index 3 of value 0 is outside the 3-entry high table');
  }),
);

test(
  'a truncated file, an unknown layout version and a malformed layout row are refused',
  withTempDir(async (dir) => {
    const enc = encodeSparseStateDict(new Map([['fc.weight', f32([0, 0, 2, 0, 0, 0, 0, 3], [2, 4])]]), 'packed');
    const bytes = encodeSafetensors(enc.tensors, enc.metadata);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 2));
    await assertFormatError(cut, '":packed"', 'truncated');

    const v9 = join(dir, 'v9.safetensors');
    await saveSafetensors(v9, enc.tensors, { ...enc.metadata, format: 'sparse-soups-sparse-v9' });
    await assertFormatError(
      v9,
      "metadata format 'sparse-soups-sparse-v9' is a sparse layout version this reader does not know",
      'sparse-soups-sparse-v1, sparse-soups-sparse-v2',
    );
    // v1 has no packed storage.
    const v1 = join(dir, 'v1-packed.safetensors');
    await saveSafetensors(v1, enc.tensors, { ...enc.metadata, format: 'sparse-soups-sparse-v1', layout: JSON.stringify(enc.layout) });
    await assertFormatError(v1, 'layout[0] ("fc.weight")', 'storage must be one of dense, bitmask, indices in sparse-soups-sparse-v1');

    const row = join(dir, 'row.safetensors');
    await saveSafetensors(row, enc.tensors, { ...enc.metadata, layout: JSON.stringify([['fc.weight', 'packed', 'F32', [2, 4], 2, 1]]) });
    await assertFormatError(row, 'layout[0] must be [name, storage, dtype, shape, nonzero]');
  }),
);

// ---------------------------------------------------------------- version 1 files

test(
  'files of the first version (sparse-soups-sparse-v1: dense entries by name, bitmask, indices) still load',
  withTempDir(async (dir) => {
    // Written as the v1 writer did: every entry under its own name, the layout as objects.
    const layout = [
      { name: 'fc.weight', storage: 'bitmask', dtype: 'F32', shape: [2, 5], nonzero: 3 },
      { name: 'fc.bias', storage: 'dense', dtype: 'F32', shape: [2], nonzero: 2 },
      { name: 'emb', storage: 'indices', dtype: 'F32', shape: [6], nonzero: 2 },
      { name: 'bn.num_batches_tracked', storage: 'dense', dtype: 'I64', shape: [], nonzero: 1 },
    ];
    const tensors = new Map<string, SafeTensor>([
      ['fc.weight:values', f32([1.5, -2, 3e-39], [3])],
      ['fc.bias', f32([0.25, -0.5], [2])],
      ['emb:values', f32([7, 8], [2])],
      ['bn.num_batches_tracked', { dtype: 'I64', shape: [], data: BigInt64Array.from([5n]) }],
      ['emb:indices', { dtype: 'I32', shape: [2], data: Int32Array.from([1, 5]) }],
      ['fc.weight:mask', { dtype: 'U8', shape: [2], data: Uint8Array.from([0b1000_0100, 0b0100_0000]) }], // bits 0, 5, 9
    ]);
    const path = join(dir, 'v1.safetensors');
    await saveSafetensors(path, tensors, { format: 'sparse-soups-sparse-v1', bit_order: 'msb', layout: JSON.stringify(layout) });
    const { format, state } = await readModelFile(path);
    assert.equal(format, 'sparse');
    assert.deepEqual([...state.keys()], ['fc.weight', 'fc.bias', 'emb', 'bn.num_batches_tracked']);
    assert.deepEqual([...(state.get('fc.weight')!.data as Float32Array)], [1.5, 0, 0, 0, 0, -2, 0, 0, 0, Math.fround(3e-39)]);
    assert.deepEqual([...(state.get('fc.bias')!.data as Float32Array)], [0.25, -0.5]);
    assert.deepEqual([...(state.get('emb')!.data as Float32Array)], [0, 7, 0, 0, 0, 8]);
    assert.deepEqual([...(state.get('bn.num_batches_tracked')!.data as BigInt64Array)], [5n]);
  }),
);
