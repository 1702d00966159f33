// The run-directory lock: a second run of the same directory fails at once
// naming the holder; a lock left by a SIGKILLed process is taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir, hostname } from 'node:os';
import { join } from 'node:path';
import { acquireRunLock } from '../../src/run/lock.js';
import { RunLockedError } from '../../src/util/errors.js';

const LOCK_MODULE = new URL('../../src/run/lock.ts', import.meta.url).href;

/** A node process that takes the lock of `dir`, prints 'locked', and then waits to be killed. */
function holder(dir: string): Promise<{ pid: number; kill: () => Promise<void> }> {
  const code = `const { acquireRunLock } = await import(${JSON.stringify(LOCK_MODULE)});
    acquireRunLock(process.argv[1]); process.stdout.write('locked\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve({ pid: child.pid!, kill: async () => (child.kill('SIGKILL'), await exited) });
    });
    child.once('exit', (c) => reject(new Error(`the lock holder exited (${c}) before taking the lock`)));
  });
}

test('a second process is refused at once with an error naming the holder; after a SIGKILL the lock is taken over', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-'));
  const h = await holder(dir);
  try {
    const t0 = performance.now();
    assert.throws(
      () => acquireRunLock(dir),
      (e: unknown) => e instanceof RunLockedError && e.message.includes(`process ${h.pid} (on this host)`) && e.message.includes(dir),
    );
    assert.ok(performance.now() - t0 < 1000, 'refused at once');
  } finally {
    await h.kill();
  }
  assert.ok(existsSync(join(dir, 'run.lock')), 'a SIGKILLed holder leaves its lock behind');
  const lock = acquireRunLock(dir);
  assert.equal(lock.tookOver?.pid, h.pid, 'the abandoned lock was taken over');
  assert.equal(JSON.parse(readFileSync(lock.path, 'utf8')).pid, process.pid);
  assert.throws(() => acquireRunLock(dir), /this process has been running it/, 'held by this process: refused too');
  lock.release();
  assert.ok(!existsSync(lock.path), 'release removes the lock');
  acquireRunLock(dir).release();
});

test('a lock held from another host is refused with how to clear it; a torn lock file is taken over', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lock-'));
  writeFileSync(join(dir, 'run.lock'), JSON.stringify({ pid: 1234, host: `not-${hostname()}`, since: '2026-01-01T00:00:00Z' }));
  assert.throws(() => acquireRunLock(dir), (e: unknown) => e instanceof RunLockedError && /process 1234 on host not-.*delete .*run\.lock/.test(e.message));
  writeFileSync(join(dir, 'run.lock'), '{"pid": 12'); // its writer died mid-write
  const lock = acquireRunLock(dir);
  assert.ok(lock.tookOver !== null);
  lock.release();
});
