import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectFormatError, scratchDir } from '../helpers/data-files.js';
import {
  encodeNpy,
  npyToInt32,
  parseNpy,
  parseNpyHeader,
  readNpyFile,
  readNpyFileHeader,
  readNpyUint8Rows,
  writeNpyFile,
  type NpyArray,
} from '../../src/data/npy.js';

const dir = scratchDir('npy');

/** Raw .npy bytes with a hand-written header (any version), for header-parsing cases. */
function npyBytes(header: string, body: Uint8Array, major = 1): Uint8Array {
  const text = new TextEncoder().encode(header);
  const prefix = major === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + text.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(text, prefix);
  out.set(body, prefix + text.length);
  return out;
}

const SAMPLES: NpyArray[] = [
  { dtype: '|u1', shape: [2, 4, 4, 3], data: Uint8Array.from({ length: 96 }, (_, i) => (i * 37) % 256) },
  { dtype: '|b1', shape: [5], data: Uint8Array.from([1, 0, 0, 1, 1]) },
  { dtype: '<i4', shape: [2, 3], data: Int32Array.from([0, -1, 2, 2147483647, -2147483648, 5]) },
  { dtype: '<i8', shape: [4], data: BigInt64Array.from([0n, 9n, -3n, 1n << 40n]) },
  { dtype: '<f4', shape: [3, 1], data: Float32Array.from([0.5, -1.25, 1e-3]) },
  { dtype: '<f8', shape: [2], data: Float64Array.from([Math.PI, -Math.E]) },
  { dtype: '<f4', shape: [], data: Float32Array.from([7]) },
];

test('encodeNpy / parseNpy round-trip every supported dtype, data 64-byte aligned', () => {
  for (const sample of SAMPLES) {
    const bytes = encodeNpy(sample);
    const header = parseNpyHeader(bytes, 'x.npy');
    assert.equal(header.dataOffset % 64, 0, `${sample.dtype} data offset`);
    const back = parseNpy(bytes, 'x.npy');
    assert.equal(back.dtype, sample.dtype);
    assert.deepEqual(back.shape, sample.shape);
    assert.deepEqual([...back.data], [...sample.data]);
  }
});

test('writeNpyFile / readNpyFile round-trip CIFAR-C shaped images', () => {
  const images: NpyArray = { dtype: '|u1', shape: [10, 32, 32, 3], data: Uint8Array.from({ length: 30720 }, (_, i) => i % 251) };
  const file = join(dir, 'images.npy');
  writeNpyFile(file, images);
  const back = readNpyFile(file);
  assert.deepEqual(back.shape, [10, 32, 32, 3]);
  assert.ok(back.data instanceof Uint8Array && !Buffer.isBuffer(back.data));
  assert.deepEqual(back.data, images.data);
  assert.deepEqual(readNpyFileHeader(file).shape, [10, 32, 32, 3]);
});

test('readNpyUint8Rows reads only the requested rows', () => {
  const file = join(dir, 'rows.npy');
  writeNpyFile(file, { dtype: '|u1', shape: [6, 2, 2], data: Uint8Array.from({ length: 24 }, (_, i) => i) });
  const rows = readNpyUint8Rows(file, 2, 3);
  assert.deepEqual(rows.shape, [3, 2, 2]);
  assert.deepEqual([...rows.data], Array.from({ length: 12 }, (_, i) => 8 + i));
  expectFormatError(() => readNpyUint8Rows(file, 4, 3), file, /rows 4\.\.6 requested, the array has 6 rows/);
  const floats = join(dir, 'floats.npy');
  writeNpyFile(floats, { dtype: '<f4', shape: [2], data: new Float32Array(2) });
  expectFormatError(() => readNpyUint8Rows(floats, 0, 1), floats, /expected dtype \|u1/);
});

test('version 2 and 3 headers, spacing variants and 1-byte dtype spellings are read', () => {
  const body = Uint8Array.from([1, 2, 3, 4]);
  const v2 = npyBytes("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }\n", body, 2);
  assert.deepEqual(parseNpy(v2, 'v2').shape, [2, 2]);
  const v3 = npyBytes("{'descr':'<u1','fortran_order':False,'shape':(4,)}\n", body, 3);
  const parsed = parseNpy(v3, 'v3');
  assert.equal(parsed.dtype, '|u1');
  assert.deepEqual([...parsed.data], [1, 2, 3, 4]);
  const longs = npyBytes("{'descr': '<i8', 'fortran_order': False, 'shape': (1L,), }\n", new Uint8Array(8));
  assert.deepEqual(parseNpy(longs, 'py2').shape, [1]);
});

test('NPY errors: wrong magic, unsupported dtype, fortran order, truncated data and header, bad version', () => {
  const good = encodeNpy(SAMPLES[2]);
  const wrongMagic = good.slice();
  wrongMagic[1] = 0x4f;
  expectFormatError(() => parseNpy(wrongMagic, 'm.npy'), 'm.npy', /wrong magic number/);
  for (const descr of ['<f2', '>i4', '<u2', '<c8', '|O']) {
    const bytes = npyBytes(`{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }\n`, new Uint8Array(16));
    expectFormatError(() => parseNpy(bytes, 'd.npy'), 'd.npy', new RegExp(`unsupported dtype '${descr.replace('|', '\\|')}'`));
  }
  const structured = npyBytes("{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(4));
  expectFormatError(() => parseNpy(structured, 's.npy'), 's.npy', /unsupported dtype: structured/);
  const fortran = npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", new Uint8Array(16));
  expectFormatError(() => parseNpy(fortran, 'f.npy'), 'f.npy', /fortran_order is True/);
  expectFormatError(() => parseNpy(good.subarray(0, good.length - 1), 't.npy'), 't.npy', /truncated \.npy data: shape \(2, 3\) of <i4 needs 24 bytes, file has 23/);
  expectFormatError(() => parseNpy(good.subarray(0, 40), 'h.npy'), 'h.npy', /truncated \.npy header/);
  const v9 = good.slice();
  v9[6] = 9;
  expectFormatError(() => parseNpy(v9, 'v.npy'), 'v.npy', /unsupported \.npy version 9/);
  const truncatedFile = join(dir, 'truncated.npy');
  const images = encodeNpy({ dtype: '|u1', shape: [4, 8], data: new Uint8Array(32) });
  writeFileSync(truncatedFile, images.subarray(0, images.length - 5));
  expectFormatError(() => readNpyFile(truncatedFile), truncatedFile, /truncated/);
  expectFormatError(() => readNpyUint8Rows(truncatedFile, 3, 1), truncatedFile, /truncated/);
});

test('npyToInt32 converts int64/uint8 labels and checks the range', () => {
  const labels: NpyArray = { dtype: '<i8', shape: [3], data: BigInt64Array.from([0n, 9n, 4n]) };
  assert.deepEqual([...npyToInt32(labels, 'l.npy', 10)], [0, 9, 4]);
  expectFormatError(() => npyToInt32(labels, 'l.npy', 9), 'l.npy', /label 9 at index 1 is out of range 0\.\.8/);
  const negative: NpyArray = { dtype: '<i4', shape: [2], data: Int32Array.from([1, -1]) };
  expectFormatError(() => npyToInt32(negative, 'n.npy', 5), 'n.npy', /label -1 at index 1/);
  const floats: NpyArray = { dtype: '<f4', shape: [1], data: new Float32Array(1) };
  expectFormatError(() => npyToInt32(floats, 'f.npy'), 'f.npy', /expected integer labels/);
});

const PYTHON = '/usr/bin/python3';
const numpyMissing = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' }).status === 0 ? undefined : 'python3 with numpy not available';

test('interop with NumPy: files NumPy writes (v1, v2, v3) read here, files written here load in NumPy', { skip: numpyMissing }, () => {
  const script = `
import numpy as np, sys
from numpy.lib import format as f
d = sys.argv[1]
a = (np.arange(2*5*5*3) % 256).astype(np.uint8).reshape(2, 5, 5, 3)
np.save(d + '/np_u1.npy', a)
np.save(d + '/np_i8.npy', np.array([3, 1, 4], dtype=np.int64))
for version in [(2, 0), (3, 0)]:
    with open(d + '/np_v%d.npy' % version[0], 'wb') as fh:
        f.write_array(fh, np.array([[1.5, -2.0]], dtype=np.float32), version=version)
np.save(d + '/np_fortran.npy', np.asfortranarray(np.ones((2, 3), dtype=np.float64)))
b = np.load(d + '/ts_f8.npy')
assert b.dtype == np.float64 and b.shape == (2, 3) and b.tolist() == [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5]], b
c = np.load(d + '/ts_b1.npy')
assert c.dtype == np.bool_ and c.tolist() == [True, False, True], c
print('ok')
`;
  writeNpyFile(join(dir, 'ts_f8.npy'), { dtype: '<f8', shape: [2, 3], data: Float64Array.from([0, 0.5, 1, 1.5, 2, 2.5]) });
  writeNpyFile(join(dir, 'ts_b1.npy'), { dtype: '|b1', shape: [3], data: Uint8Array.from([1, 0, 1]) });
  const result = spawnSync(PYTHON, ['-c', script, dir], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const u1 = readNpyFile(join(dir, 'np_u1.npy'));
  assert.deepEqual(u1.shape, [2, 5, 5, 3]);
  assert.deepEqual([...u1.data.subarray(0, 4)], [0, 1, 2, 3]);
  assert.deepEqual([...npyToInt32(readNpyFile(join(dir, 'np_i8.npy')), 'i8')], [3, 1, 4]);
  for (const v of [2, 3]) assert.deepEqual([...readNpyFile(join(dir, `np_v${v}.npy`)).data], [1.5, -2]);
  const fortranFile = join(dir, 'np_fortran.npy');
  expectFormatError(() => readNpyFile(fortranFile), fortranFile, /fortran_order is True/);
});
