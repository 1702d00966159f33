/**
 * Fixtures of the data-file tests: a scratch directory for the files a test
 * writes, and the check that reading one fails with a DataFormatError.
 *
 * @example
 * const dir = scratchDir('npy');
 * expectFormatError(() => readNpyFile(join(dir, 'bad.npy')), join(dir, 'bad.npy'), /magic/);
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataFormatError } from '../../src/util/errors.js';

/** A fresh directory `sparse-soups-<name>-XXXXXX` under the OS temp dir, removed after the calling file's tests. */
export function scratchDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `sparse-soups-${name}-`));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** `fn` throws a DataFormatError about `file` whose problem matches `problem`. */
export function expectFormatError(fn: () => unknown, file: string, problem: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof DataFormatError, `expected DataFormatError, got ${String(error)}`);
    assert.equal(error.file, file);
    assert.match(error.problem, problem);
    return true;
  });
}
