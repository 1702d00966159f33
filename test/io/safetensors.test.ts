import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  MAX_HEADER_BYTES,
  decodeSafetensors,
  encodeSafetensors,
  halfBitsToFloat32,
  loadSafetensors,
  readSafetensorsHeader,
  saveSafetensors,
  type SafeTensor,
} from '../../src/io/safetensors.js';
import { CheckpointError, DataFormatError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'sparse-soups-safetensors-'));
after(() => rmSync(root, { recursive: true, force: true }));

function bytesOf(data: SafeTensor['data']): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function f32FromBits(bits: number[]): Float32Array {
  return new Float32Array(new Uint32Array(bits).buffer);
}

function f64FromBits(bits: bigint[]): Float64Array {
  return new Float64Array(new BigUint64Array(bits).buffer);
}

/** Tensors of every dtype with the awkward values: NaN payloads, -0, infinities, subnormals, integer extremes. */
function everyDType(): Map<string, SafeTensor> {
  return new Map<string, SafeTensor>([
    // quiet NaN, NaN with payload, signalling NaN, -0, +inf, -inf, smallest subnormal, 1.5
    ['f32', { dtype: 'F32', shape: [2, 4], data: f32FromBits([0x7fc00000, 0xffc01234, 0x7f800001, 0x80000000, 0x7f800000, 0xff800000, 1, 0x3fc00000]) }],
    ['f64', { dtype: 'F64', shape: [5], data: f64FromBits([0x7ff8000000000001n, 0x8000000000000000n, 0x7ff0000000000000n, 1n, 0x3ff8000000000000n]) }],
    ['f16', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0x8000, 0x7e01]) }],
    ['bf16', { dtype: 'BF16', shape: [3], data: new Uint16Array([0x3f80, 0xc060, 0x7fc1]) }],
    ['i64', { dtype: 'I64', shape: [4], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]) }],
    ['i32', { dtype: 'I32', shape: [2, 2], data: new Int32Array([-(2 ** 31), 2 ** 31 - 1, 0, -1]) }],
    ['i16', { dtype: 'I16', shape: [2], data: new Int16Array([-32768, 32767]) }],
    ['i8', { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) }],
    ['u8', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 128, 255]) }],
    ['bool', { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) }],
  ]);
}

function assertSameTensors(actual: Map<string, SafeTensor>, expected: ReadonlyMap<string, SafeTensor>): void {
  assert.deepEqual([...actual.keys()], [...expected.keys()]);
  for (const [name, want] of expected) {
    const got = actual.get(name)!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    assert.equal(got.data.constructor, want.data.constructor, name);
    assert.deepEqual(bytesOf(got.data), bytesOf(want.data), `${name}: bytes differ`);
  }
}

/** A file from a header (object or raw text) and a data buffer, with a correct length prefix. */
function fileWith(header: object | string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function headerText(file: Uint8Array): string {
  const length = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  return Buffer.from(file.subarray(8, 8 + length)).toString('utf8');
}

function assertFormatError(run: () => unknown, file: string, problem: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof DataFormatError, `expected DataFormatError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.match(error.problem, problem);
    return true;
  });
}

describe('encode and decode', () => {
  test('round trip is bit-exact for every dtype', () => {
    const tensors = everyDType();
    const decoded = decodeSafetensors(encodeSafetensors(tensors));
    assertSameTensors(decoded.tensors, tensors);
    assert.deepEqual(decoded.metadata, {});
  });

  test('empty tensors and scalars', () => {
    const tensors = new Map<string, SafeTensor>([
      ['empty', { dtype: 'F32', shape: [0], data: new Float32Array(0) }],
      ['empty2d', { dtype: 'I64', shape: [3, 0], data: new BigInt64Array(0) }],
      ['scalar', { dtype: 'F64', shape: [], data: new Float64Array([-0]) }],
      ['count', { dtype: 'I64', shape: [], data: new BigInt64Array([42n]) }],
    ]);
    const file = encodeSafetensors(tensors);
    assertSameTensors(decodeSafetensors(file).tensors, tensors);
    assert.match(headerText(file), /"empty":\{"dtype":"F32","shape":\[0\],"data_offsets":\[0,0\]\}/);
    assert.match(headerText(file), /"scalar":\{"dtype":"F64","shape":\[\],"data_offsets":\[0,8\]\}/);
  });

  test('a file with no tensors', () => {
    const file = encodeSafetensors(new Map());
    assert.equal(headerText(file), '{}      ');
    assert.equal(decodeSafetensors(file).tensors.size, 0);
  });

  test('metadata round trip, first in the header; omitted when empty', () => {
    const metadata = { format: 'pt', model: 'resnet18', 'sparse-soups-version': '0.1.0', note: 'ünïcode "quoted"' };
    const file = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, metadata);
    assert.deepEqual(decodeSafetensors(file).metadata, metadata);
    assert.ok(headerText(file).startsWith('{"__metadata__":{"format":"pt"'));
    assert.ok(!headerText(encodeSafetensors({}, {})).includes('__metadata__'));
  });

  test('layout: space-padded header to a multiple of 8, tensors contiguous in insertion order', () => {
    // Integer-like names would go first in a plain object; the header must keep insertion order.
    const tensors = new Map<string, SafeTensor>([
      ['fc.weight', { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) }],
      ['10', { dtype: 'U8', shape: [3], data: new Uint8Array([7, 8, 9]) }],
      ['2', { dtype: 'I64', shape: [1], data: new BigInt64Array([5n]) }],
    ]);
    const file = encodeSafetensors(tensors);
    const text = headerText(file);
    assert.equal(text.length % 8, 0);
    assert.match(text, /^\{.*\} *$/);
    const json = JSON.parse(text) as Record<string, { data_offsets: number[] }>;
    assert.deepEqual(json['fc.weight'].data_offsets, [0, 8]);
    assert.deepEqual(json['10'].data_offsets, [8, 11]);
    assert.deepEqual(json['2'].data_offsets, [11, 19]);
    assert.ok(text.indexOf('"fc.weight"') < text.indexOf('"10"') && text.indexOf('"10"') < text.indexOf('"2"'));
    assert.equal(file.byteLength, 8 + text.length + 19);
    assert.deepEqual([...decodeSafetensors(file).tensors.keys()], ['fc.weight', '10', '2']);
  });

  test('a plain-object input works like a Map', () => {
    const record = { a: { dtype: 'F32', shape: [1], data: new Float32Array([3]) } } satisfies Record<string, SafeTensor>;
    assertSameTensors(decodeSafetensors(encodeSafetensors(record)).tensors, new Map(Object.entries(record)));
  });

  test('encodes only the view of a subarray', () => {
    const big = new Float32Array([9, 1, 2, 9]);
    const file = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: big.subarray(1, 3) } });
    assert.deepEqual([...(decodeSafetensors(file).tensors.get('w')!.data as Float32Array)], [1, 2]);
  });

  test('zero-copy where aligned, a copy where not', () => {
    const file = encodeSafetensors(
      new Map<string, SafeTensor>([
        ['aligned', { dtype: 'F64', shape: [2], data: new Float64Array([1.5, -2]) }],
        ['odd', { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) }],
        ['misaligned', { dtype: 'F32', shape: [2], data: new Float32Array([0.25, 4]) }],
        ['misaligned64', { dtype: 'I64', shape: [1], data: new BigInt64Array([-5n]) }],
      ]),
    );
    const { tensors } = decodeSafetensors(file);
    assert.equal(tensors.get('aligned')!.data.buffer, file.buffer);
    assert.equal(tensors.get('odd')!.data.buffer, file.buffer);
    assert.notEqual(tensors.get('misaligned')!.data.buffer, file.buffer);
    assert.deepEqual([...(tensors.get('misaligned')!.data as Float32Array)], [0.25, 4]);
    assert.deepEqual([...(tensors.get('misaligned64')!.data as BigInt64Array)], [-5n]);
    // The same bytes at an odd offset inside a larger buffer: every multi-byte tensor is copied.
    const shifted = new Uint8Array(file.byteLength + 1);
    shifted.set(file, 1);
    assertSameTensors(decodeSafetensors(shifted.subarray(1)).tensors, tensors);
  });

  test('reads files whose tensors are not in offset order in the header', () => {
    const data = new Uint8Array(new Float32Array([1, 2, 3]).buffer);
    const file = fileWith(
      { b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
      data,
    );
    const { tensors } = decodeSafetensors(file);
    assert.deepEqual([...tensors.keys()], ['a', 'b']); // data-buffer order
    assert.deepEqual([...(tensors.get('b')!.data as Float32Array)], [3]);
  });

  test('an unpadded header with trailing whitespace and extra entry fields is accepted', () => {
    const file = fileWith('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":1}} \n', new Uint8Array([5]));
    assert.deepEqual([...decodeSafetensors(file).tensors.get('w')!.data], [5]);
  });
});

describe('half precision', () => {
  test('halfBitsToFloat32 is exact for F16 and BF16', () => {
    const f16 = halfBitsToFloat32(new Uint16Array([0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff, 0x0001, 0x03ff, 0x0400, 0x7c00, 0xfc00, 0x3555]), 'F16');
    assert.deepEqual([...f16], [0, -0, 1, -2.5, 65504, 2 ** -24, 1023 * 2 ** -24, 2 ** -14, Infinity, -Infinity, 0.333251953125]);
    assert.ok(Object.is(f16[1], -0));
    const nan = halfBitsToFloat32(new Uint16Array([0x7e01, 0xfc01]), 'F16');
    assert.deepEqual([...new Uint32Array(nan.buffer)], [0x7fc02000, 0xff802000]); // payload shifted into place
    const bf16 = halfBitsToFloat32(new Uint16Array([0x3f80, 0xc060, 0x8000, 0x7f80, 0x0001]), 'BF16');
    assert.deepEqual([...bf16], [1, -3.5, -0, Infinity, new Float32Array(new Uint32Array([0x10000]).buffer)[0]]);
  });

  test('decode can return F16 and BF16 as F32', () => {
    const file = encodeSafetensors({
      h: { dtype: 'F16', shape: [2], data: new Uint16Array([0x3c00, 0xc100]) },
      b: { dtype: 'BF16', shape: [1], data: new Uint16Array([0xc060]) },
    });
    const { tensors } = decodeSafetensors(file, 'x', { halfToFloat32: true });
    assert.deepEqual(tensors.get('h'), { dtype: 'F32', shape: [2], data: new Float32Array([1, -2.5]) });
    assert.deepEqual(tensors.get('b'), { dtype: 'F32', shape: [1], data: new Float32Array([-3.5]) });
    assert.equal(decodeSafetensors(file).tensors.get('h')!.dtype, 'F16');
  });
});

describe('files', () => {
  test('save, load and header-only reading', async () => {
    const path = join(root, 'all.safetensors');
    const tensors = everyDType();
    await saveSafetensors(path, tensors, { format: 'pt' });
    assert.deepEqual(readdirSync(root).filter((name) => name.endsWith('.tmp')), []);
    const loaded = await loadSafetensors(path);
    assertSameTensors(loaded.tensors, tensors);
    assert.deepEqual(loaded.metadata, { format: 'pt' });

    const header = await readSafetensorsHeader(path);
    assert.deepEqual(header.metadata, { format: 'pt' });
    assert.deepEqual([...header.tensors.keys()], [...tensors.keys()]);
    assert.deepEqual(header.tensors.get('f32'), { dtype: 'F32', shape: [2, 4], dataOffsets: [0, 32] });
    assert.equal(header.dataStart % 8, 0);
    const file = readFileSync(path);
    assert.equal(header.dataStart, file.byteLength - [...tensors.values()].reduce((n, t) => n + t.data.byteLength, 0));
  });

  test('loading and header reading name the file in errors', async () => {
    const path = join(root, 'truncated.safetensors');
    const good = encodeSafetensors(everyDType());
    writeFileSync(path, good.subarray(0, good.byteLength - 1));
    for (const read of [loadSafetensors, readSafetensorsHeader]) {
      await assert.rejects(read(path), (error: unknown) => {
        assert.ok(error instanceof DataFormatError);
        assert.equal(error.file, path);
        assert.match(error.problem, /tensor "bool": data_offsets \[141, 144\] go beyond the 143-byte data: the file is truncated/);
        return true;
      });
    }
    writeFileSync(path, 'abc');
    await assert.rejects(readSafetensorsHeader(path), /truncated\.safetensors: 3 bytes is too short/);
    writeFileSync(path, good.subarray(0, 20));
    await assert.rejects(readSafetensorsHeader(path), /goes beyond the end of the file/);
  });
});

describe('malformed files raise DataFormatError naming the file', () => {
  const name = 'bad.safetensors';
  const f32 = (shape: number[], offsets: number[]): object => ({ dtype: 'F32', shape, data_offsets: offsets });
  const cases: [string, Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', new Uint8Array(5), /5 bytes is too short/],
    ['header length beyond the file', (() => { const f = fileWith('{}'); f[0] = 50; return f; })(), /header length 50 goes beyond the end of the file/],
    ['header length absurdly large', (() => { const f = fileWith('{}'); f.fill(0xff, 0, 8); return f; })(), /exceeds the 100000000-byte limit/],
    ['header not UTF-8', fileWith('{"x":1}').map((byte, i) => (i === 10 ? 0xff : byte)), /not valid UTF-8/],
    ['invalid JSON', fileWith('{"w": {"dtype": "F32",'), /not valid JSON/],
    ['header not an object', fileWith('[1, 2]'), /must be a JSON object/],
    ['entry not an object', fileWith({ w: 3 }), /tensor "w": entry must be an object/],
    ['unknown dtype', fileWith({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "w": unknown dtype "F8_E4M3"/],
    ['missing dtype', fileWith({ w: { shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /tensor "w": unknown dtype undefined/],
    ['negative dim', fileWith({ w: f32([-1, 2], [0, 8]) }, new Uint8Array(8)), /tensor "w": shape must be a list of non-negative integers, got \[-1,2\]/],
    ['non-integer dim', fileWith({ w: f32([1.5], [0, 4]) }, new Uint8Array(4)), /tensor "w": shape must be a list of non-negative integers/],
    ['shape not a list', fileWith({ w: f32('2' as unknown as number[], [0, 8]) }, new Uint8Array(8)), /shape must be a list/],
    ['missing data_offsets', fileWith({ w: { dtype: 'F32', shape: [1] } }, new Uint8Array(4)), /tensor "w": data_offsets must be \[begin, end\]/],
    ['three offsets', fileWith({ w: f32([1], [0, 4, 8]) }, new Uint8Array(8)), /data_offsets must be \[begin, end\]/],
    ['offsets not matching shape', fileWith({ w: f32([2, 3], [0, 20]) }, new Uint8Array(20)), /tensor "w": data_offsets \[0, 20\] span 20 bytes but F32 \[2, 3\] needs 24/],
    ['offsets beyond the data', fileWith({ w: f32([2], [0, 8]) }, new Uint8Array(4)), /tensor "w": data_offsets \[0, 8\] go beyond the 4-byte data/],
    ['begin after end', fileWith({ w: f32([0], [4, 0]) }, new Uint8Array(4)), /data_offsets \[4, 0\] end before they begin/],
    ['overlapping tensors', fileWith({ a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, new Uint8Array(12)), /tensors "a" and "b" overlap/],
    ['a gap between tensors', fileWith({ a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, new Uint8Array(12)), /bytes 4\.\.8 of the data belong to no tensor \(before "b"\)/],
    ['trailing bytes', fileWith({ a: f32([1], [0, 4]) }, new Uint8Array(6)), /data is 6 bytes but the tensors cover 4/],
    ['duplicate tensor name', fileWith('{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1)), /the key "w" twice/],
    ['duplicate metadata key', fileWith('{"__metadata__":{"a":"1","b":"x","a":"2"}}'), /the key "a" twice/],
    ['metadata value not a string', fileWith({ __metadata__: { epoch: 3 } }), /metadata "epoch" must be a string, got 3/],
    ['metadata not an object', fileWith({ __metadata__: 'pt' }), /"__metadata__" must be an object of strings/],
  ];
  for (const [label, file, problem] of cases) {
    test(label, () => assertFormatError(() => decodeSafetensors(file, name), name, problem));
  }

  test('the duplicate-key scan is not fooled by escapes or nesting', () => {
    const file = fileWith('{"__metadata__":{"k\\"":"\\\\","k":"[{\\"k\\":1}]"},"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array(1));
    assert.deepEqual(decodeSafetensors(file).metadata, { 'k"': '\\', k: '[{"k":1}]' });
  });

  test('without a file name the errors still say where', () => {
    assertFormatError(() => decodeSafetensors(new Uint8Array(3)), '<safetensors bytes>', /too short/);
  });
});

describe('encode rejects invalid tensors with CheckpointError', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['data length not matching shape', { w: { dtype: 'F32', shape: [2, 3], data: new Float32Array(5) } }, /tensor "w": shape \[2, 3\] has 6 elements but data has 5/],
    ['wrong array type for dtype', { w: { dtype: 'F32', shape: [2], data: new Float64Array(2) } }, /tensor "w": dtype F32 needs a Float32Array, got Float64Array/],
    ['unknown dtype', { w: { dtype: 'F8', shape: [1], data: new Uint8Array(1) } }, /unknown dtype "F8"/],
    ['negative dim', { w: { dtype: 'U8', shape: [-1], data: new Uint8Array(0) } }, /non-negative integers/],
    ['BOOL value other than 0 or 1', { w: { dtype: 'BOOL', shape: [2], data: new Uint8Array([1, 2]) } }, /BOOL element 1 is 2/],
    ['reserved name', { __metadata__: { dtype: 'U8', shape: [0], data: new Uint8Array(0) } }, /not allowed/],
  ];
  for (const [label, tensors, problem] of cases) {
    test(label, () => assert.throws(() => encodeSafetensors(tensors as Record<string, SafeTensor>), (error: unknown) => error instanceof CheckpointError && problem.test(error.message)));
  }

  test('non-string metadata', () => {
    assert.throws(() => encodeSafetensors({}, { epoch: 3 as unknown as string }), /metadata "epoch" must be a string/);
  });

  test('saving names the file and leaves the old file in place', async () => {
    const path = join(root, 'keep.safetensors');
    await saveSafetensors(path, { w: { dtype: 'U8', shape: [1], data: new Uint8Array([1]) } });
    const before = readFileSync(path);
    await assert.rejects(
      saveSafetensors(path, { w: { dtype: 'U8', shape: [2], data: new Uint8Array([1]) } }),
      new RegExp(`${path}: tensor "w": shape \\[2\\] has 2 elements`),
    );
    assert.deepEqual(readFileSync(path), before);
  });

  test('MAX_HEADER_BYTES matches the reference limit', () => assert.equal(MAX_HEADER_BYTES, 100_000_000));
});

// ---------------------------------------------------------------- interop with an independent Python reader

const PYTHON = '/usr/bin/python3';
const SCRIPT = join(import.meta.dirname, 'read_safetensors.py');
const pythonProblem = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import numpy'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `${PYTHON} with numpy is not available`;
})();

interface TensorSummary {
  name: string;
  dtype: string;
  shape: number[];
  sha256: string;
  sum: number | string;
  torch_sum: number | string | null;
}
interface FileSummary {
  metadata: Record<string, string>;
  tensors: TensorSummary[];
}

function runPython(mode: 'read' | 'write', path: string): FileSummary {
  const result = spawnSync(PYTHON, [SCRIPT, mode, path], { encoding: 'utf8' });
  assert.equal(result.status, 0, `python ${mode} failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as FileSummary;
}

/** The same summary as read_safetensors.py prints, computed in TypeScript. */
function summarize(name: string, tensor: SafeTensor): Omit<TensorSummary, 'torch_sum'> {
  let sum: number | string;
  if (tensor.dtype === 'F32' || tensor.dtype === 'F64' || tensor.dtype === 'F16' || tensor.dtype === 'BF16') {
    const values = tensor.dtype === 'F16' || tensor.dtype === 'BF16' ? halfBitsToFloat32(tensor.data, tensor.dtype) : tensor.data;
    let total = 0;
    for (const value of values) total += value; // test data is chosen so that any summation order is exact
    sum = Number.isFinite(total) ? total : String(total);
  } else if (tensor.dtype === 'I64') {
    sum = tensor.data.reduce((a, b) => a + b, 0n).toString();
  } else {
    sum = (tensor.data as Int32Array).reduce((a, b) => a + b, 0).toString();
  }
  return { name, dtype: tensor.dtype, shape: tensor.shape, sha256: createHash('sha256').update(bytesOf(tensor.data)).digest('hex'), sum };
}

function assertSummariesMatch(python: FileSummary, tensors: Map<string, SafeTensor>, metadata: Record<string, string>): void {
  assert.deepEqual(python.metadata, metadata);
  assert.deepEqual(python.tensors.map((t) => t.name), [...tensors.keys()]);
  for (const fromPython of python.tensors) {
    const { torch_sum: torchSum, ...withoutTorch } = fromPython;
    const fromTs = summarize(fromPython.name, tensors.get(fromPython.name)!);
    assert.deepEqual(withoutTorch, fromTs);
    if (torchSum !== null) assert.deepEqual(torchSum, fromTs.sum, `${fromPython.name}: torch sum`);
  }
}

describe('interop with an independent Python reader/writer', () => {
  test('TypeScript writes, Python (numpy, torch) reads', { skip: pythonProblem }, async () => {
    const path = join(root, 'from-ts.safetensors');
    const tensors = new Map<string, SafeTensor>([
      ['conv1.weight', { dtype: 'F32', shape: [2, 1, 3, 3], data: Float32Array.from({ length: 18 }, (_, i) => (i - 9) / 4) }],
      ['bn1.num_batches_tracked', { dtype: 'I64', shape: [], data: new BigInt64Array([2n ** 62n]) }],
      ['bn1.running_mean', { dtype: 'F64', shape: [2], data: new Float64Array([0.5, -0]) }],
      ['weird.f32', { dtype: 'F32', shape: [3], data: f32FromBits([0x7fc01234, 0x80000000, 0x7f800000]) }],
      ['mask', { dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) }],
      ['labels', { dtype: 'U8', shape: [3], data: new Uint8Array([0, 9, 255]) }],
      ['extremes', { dtype: 'I64', shape: [2], data: new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n]) }],
      ['ints', { dtype: 'I32', shape: [2], data: new Int32Array([-(2 ** 31), 12]) }],
      ['shorts', { dtype: 'I16', shape: [1], data: new Int16Array([-300]) }],
      ['tiny', { dtype: 'I8', shape: [2], data: new Int8Array([-128, 5]) }],
      ['half', { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0xc100, 0x0001]) }],
      ['brain', { dtype: 'BF16', shape: [2], data: new Uint16Array([0x3f80, 0xc060]) }],
      ['empty', { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) }],
      ['fc.bias', { dtype: 'F32', shape: [1], data: new Float32Array([0.125]) }],
    ]);
    const metadata = { format: 'pt', 'sparse-soups-version': '0.1.0' };
    await saveSafetensors(path, tensors, metadata);
    assertSummariesMatch(runPython('read', path), tensors, metadata);
  });

  test('Python writes (reference order, numpy and torch bfloat16), TypeScript reads exactly', { skip: pythonProblem }, async () => {
    const path = join(root, 'from-python.safetensors');
    const written = runPython('write', path);
    const { tensors, metadata } = await loadSafetensors(path);
    assertSummariesMatch(written, tensors, metadata);
    // Reference order: 8-byte dtypes first, then 4, 2, 1; by name within a size.
    assert.deepEqual([...tensors.keys()].slice(0, 4), ['big', 'empty_i64', 'scalar', 'values']);
    assert.deepEqual(tensors.get('big')!.data, new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n, 0n, -1n]));
    assert.deepEqual(tensors.get('scalar'), { dtype: 'F64', shape: [], data: new Float64Array([3.25]) });
    assert.deepEqual(tensors.get('empty_i64'), { dtype: 'I64', shape: [2, 0], data: new BigInt64Array(0) });
    const special = tensors.get('special')!.data as Float32Array;
    assert.deepEqual([...new Uint32Array(special.buffer, special.byteOffset, special.length)], [0x7fc00000, 0x80000000, 0x7f800000, 0xff800000, 1, 0x7fc01234]);
    const half = halfBitsToFloat32(tensors.get('half')!.data as Uint16Array, 'F16');
    assert.deepEqual([...half], [0, -0, 1, 65504, 2 ** -24, -2.5, Math.fround(0.0999755859375)]);
    assert.deepEqual([...halfBitsToFloat32(tensors.get('brain')!.data as Uint16Array, 'BF16')], [1, -3.5, 9.969209968386869e37, Infinity, 0]);
    assert.deepEqual(tensors.get('mask'), { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) });
    assert.deepEqual(metadata, { format: 'pt', writer: 'read_safetensors.py' });
  });
});
