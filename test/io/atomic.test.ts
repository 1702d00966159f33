import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  appendLineDurable,
  readJsonFile,
  sha256OfFile,
  tempPathFor,
  writeFileAtomic,
  writeFileAtomicSync,
  writeJsonFileAtomic,
} from '../../src/io/atomic.js';
import { DataFormatError } from '../../src/util/errors.js';

const root = mkdtempSync(join(tmpdir(), 'sparse-soups-atomic-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const dir = join(root, `case-${dirCount++}`);
  mkdirSync(dir);
  return dir;
}

function leftoverTempFiles(dir: string): string[] {
  return readdirSync(dir).filter((name) => name.endsWith('.tmp'));
}

function* chunksThatFailAfterFirst(): Generator<Uint8Array> {
  yield Buffer.from('new content, first ha');
  throw new Error('injected failure in the middle of the write');
}

describe('writeFileAtomic', () => {
  test('writes strings, bytes and chunk lists exactly, leaving no temp file', async () => {
    const dir = freshDir();
    await writeFileAtomic(join(dir, 'a.txt'), 'héllo\n');
    await writeFileAtomic(join(dir, 'b.bin'), new Uint8Array([0, 255, 1, 254]));
    await writeFileAtomic(join(dir, 'c.bin'), [Buffer.from('ab'), new Uint8Array(0), Buffer.from('cd')]);
    // A view into a larger buffer writes only the view.
    const big = new Uint8Array([9, 9, 1, 2, 3, 9]);
    await writeFileAtomic(join(dir, 'd.bin'), big.subarray(2, 5));
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'héllo\n');
    assert.deepEqual([...readFileSync(join(dir, 'b.bin'))], [0, 255, 1, 254]);
    assert.equal(readFileSync(join(dir, 'c.bin'), 'utf8'), 'abcd');
    assert.deepEqual([...readFileSync(join(dir, 'd.bin'))], [1, 2, 3]);
    assert.deepEqual(leftoverTempFiles(dir), []);
  });

  test('replaces an existing file', async () => {
    const dir = freshDir();
    const target = join(dir, 'state.json');
    writeFileSync(target, 'old content that is longer than the new one');
    await writeFileAtomic(target, 'new');
    assert.equal(readFileSync(target, 'utf8'), 'new');
    assert.deepEqual(leftoverTempFiles(dir), []);
  });

  test('a failure in the middle keeps the old content and removes the temp file', async () => {
    const dir = freshDir();
    const target = join(dir, 'state.json');
    writeFileSync(target, 'old content');
    await assert.rejects(writeFileAtomic(target, chunksThatFailAfterFirst()), /injected failure/);
    assert.equal(readFileSync(target, 'utf8'), 'old content');
    assert.deepEqual(leftoverTempFiles(dir), []);
  });

  test('a failure in the middle does not create a missing target', async () => {
    const dir = freshDir();
    await assert.rejects(writeFileAtomic(join(dir, 'new.json'), chunksThatFailAfterFirst()), /injected failure/);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('a failing rename (target is a non-empty directory) removes the temp file', async () => {
    const dir = freshDir();
    const target = join(dir, 'occupied');
    mkdirSync(target);
    writeFileSync(join(target, 'inside'), 'x');
    await assert.rejects(writeFileAtomic(target, 'data'));
    assert.deepEqual(leftoverTempFiles(dir), []);
    assert.equal(readFileSync(join(target, 'inside'), 'utf8'), 'x');
  });

  test('a missing directory rejects without creating anything', async () => {
    const dir = freshDir();
    await assert.rejects(writeFileAtomic(join(dir, 'no-such-dir', 'f'), 'x'), { code: 'ENOENT' });
    assert.deepEqual(readdirSync(dir), []);
  });

  test('concurrent writers: the target ends as exactly one of the writes', async () => {
    const dir = freshDir();
    const target = join(dir, 'contended.txt');
    const contents = Array.from({ length: 20 }, (_, i) => `writer ${i} `.repeat(1000 + i));
    await Promise.all(contents.map((content) => writeFileAtomic(target, content)));
    assert.ok(contents.includes(readFileSync(target, 'utf8')));
    assert.deepEqual(leftoverTempFiles(dir), []);
  });

  test('temp file names are hidden, in the same directory, and unique', () => {
    const a = tempPathFor('/runs/x/state.json');
    const b = tempPathFor('/runs/x/state.json');
    assert.match(a, new RegExp(`^/runs/x/\\.state\\.json\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
    assert.notEqual(a, b);
  });
});

describe('writeFileAtomicSync', () => {
  test('writes, replaces, and keeps the old content on failure', () => {
    const dir = freshDir();
    const target = join(dir, 'sync.txt');
    writeFileAtomicSync(target, 'first');
    assert.equal(readFileSync(target, 'utf8'), 'first');
    writeFileAtomicSync(target, [Buffer.from('sec'), Buffer.from('ond')]);
    assert.equal(readFileSync(target, 'utf8'), 'second');
    assert.throws(() => writeFileAtomicSync(target, chunksThatFailAfterFirst()), /injected failure/);
    assert.equal(readFileSync(target, 'utf8'), 'second');
    assert.deepEqual(leftoverTempFiles(dir), []);
  });
});

describe('writeJsonFileAtomic and readJsonFile', () => {
  test('round trip', async () => {
    const dir = freshDir();
    const path = join(dir, 'state.json');
    const state = { phase: 2, candidates: ['a', 'b'], done: false };
    await writeJsonFileAtomic(path, state);
    assert.ok(readFileSync(path, 'utf8').endsWith('}\n'));
    assert.deepEqual(await readJsonFile(path), state);
  });

  test('invalid JSON is a DataFormatError naming the file', async () => {
    const dir = freshDir();
    const path = join(dir, 'broken.json');
    writeFileSync(path, '{"phase": 2,');
    await assert.rejects(readJsonFile(path), (error: unknown) => {
      assert.ok(error instanceof DataFormatError);
      assert.equal(error.file, path);
      assert.match(error.message, /broken\.json: invalid JSON/);
      return true;
    });
  });

  test('a missing file rejects with ENOENT', async () => {
    await assert.rejects(readJsonFile(join(freshDir(), 'absent.json')), { code: 'ENOENT' });
  });
});

describe('appendLineDurable', () => {
  test('appends whole lines, creating the file', async () => {
    const dir = freshDir();
    const log = join(dir, 'events.jsonl');
    await appendLineDurable(log, JSON.stringify({ event: 'start' }));
    await appendLineDurable(log, JSON.stringify({ event: 'phase-done', phase: 1 }));
    assert.equal(readFileSync(log, 'utf8'), '{"event":"start"}\n{"event":"phase-done","phase":1}\n');
  });

  test('concurrent appends keep every line whole', async () => {
    const dir = freshDir();
    const log = join(dir, 'events.jsonl');
    const lines = Array.from({ length: 50 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(i * 10) }));
    await Promise.all(lines.map((line) => appendLineDurable(log, line)));
    const written = readFileSync(log, 'utf8').split('\n');
    assert.equal(written.pop(), '');
    assert.deepEqual([...written].sort(), [...lines].sort());
  });

  test('rejects a line with a line break', async () => {
    const dir = freshDir();
    const log = join(dir, 'events.jsonl');
    await assert.rejects(appendLineDurable(log, 'a\nb'), DataFormatError);
    assert.deepEqual(readdirSync(dir), []);
  });
});

describe('sha256OfFile', () => {
  test('matches known digests', async () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'abc'), 'abc');
    writeFileSync(join(dir, 'empty'), '');
    const big = Buffer.alloc(3_000_000, 7);
    writeFileSync(join(dir, 'big'), big);
    assert.equal(await sha256OfFile(join(dir, 'abc')), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(await sha256OfFile(join(dir, 'empty')), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(await sha256OfFile(join(dir, 'big')), createHash('sha256').update(big).digest('hex'));
  });
});
