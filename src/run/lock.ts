/**
 * The run-directory lock: one process at a time runs or resumes a run.
 *
 * `acquireRunLock` creates `<run>/run.lock` exclusively (O_CREAT|O_EXCL),
 * holding the owner's pid, host name and start time. A second `run` or
 * `resume` of the same directory fails at once with RunLockedError naming
 * that process. A lock whose process is gone (killed with SIGKILL, the
 * machine rebooted) is detected on the same host (`kill(pid, 0)` answers
 * ESRCH) and taken over. A lock held from another host cannot be checked
 * from here; the error says so and how to remove it once that run is
 * known to be over.
 *
 * @example
 * const lock = acquireRunLock('runs/quick-1a2b3c');
 * try { await runSms(...); } finally { lock.release(); }
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { runLayout } from '../sms/layout.js';
import { RunLockedError } from '../util/errors.js';

export interface LockOwner {
  pid: number;
  host: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

export interface RunLock {
  readonly path: string;
  readonly owner: LockOwner;
  /** Whether an abandoned lock (dead process) was taken over. */
  readonly tookOver: LockOwner | null;
  /** Removes the lock file (idempotent). */
  release(): void;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function readOwner(path: string): LockOwner | null {
  try {
    const o = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof o.pid === 'number' && typeof o.host === 'string' ? { pid: o.pid, host: o.host, since: String(o.since) } : null;
  } catch {
    return null; // torn or unreadable: its writer died between open and write
  }
}

/** Takes the lock of run directory `runDir`, or throws RunLockedError naming the process that holds it. */
export function acquireRunLock(runDir: string): RunLock {
  const path = runLayout(runDir).lock;
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let tookOver: LockOwner | null = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const held = readOwner(path);
      if (held !== null && held.host !== owner.host) {
        throw new RunLockedError(
          path,
          `process ${held.pid} on host ${held.host} has held it since ${held.since}; if that run is over, delete ${path}`,
        );
      }
      if (held !== null && isAlive(held.pid)) {
        const who = held.pid === process.pid ? 'this process' : `process ${held.pid} (on this host)`;
        throw new RunLockedError(path, `${who} has been running it since ${held.since}; wait for it or stop it first`);
      }
      // Abandoned (dead owner, or a torn file): take it over.
      tookOver = held ?? { pid: -1, host: owner.host, since: 'unknown' };
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, `${JSON.stringify(owner)}\n`);
    } finally {
      closeSync(fd);
    }
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      process.off('exit', release);
      if (readOwner(path)?.pid === owner.pid) rmSync(path, { force: true });
    };
    process.on('exit', release);
    return { path, owner, tookOver, release };
  }
  throw new RunLockedError(path, 'another process keeps taking it; try again');
}
