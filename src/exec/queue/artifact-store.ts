/**
 * Where checkpoints live while jobs move between machines. Queue jobs carry
 * references (a path and its SHA-256), never weights; every read verifies
 * the checksum, so a worker never trains from a truncated, stale or replaced
 * file.
 *
 * SharedDirectoryStore is the default: a directory every machine mounts at
 * the same path (NFS, a cluster file system); the run directory lives on it,
 * so a reference is just the file's absolute path. An object store would
 * implement the same two calls (upload and return a key; download to a local
 * cache and verify).
 *
 * @example
 * const store = new SharedDirectoryStore('/mnt/shared/runs');
 * const ref = await store.put('/mnt/shared/runs/r1/dense.safetensors');
 * const local = await store.get(ref); // throws ArtifactError on a mismatch
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, relative, resolve } from 'node:path';
import { sha256OfFile } from '../../io/atomic.js';
import type { CheckpointRef } from '../../checkpoints/store.js';
import { ArtifactError } from '../../util/errors.js';

export interface ArtifactStore {
  readonly name: string;
  /** Publishes a local file; the reference other machines can `get`. */
  put(localPath: string): Promise<CheckpointRef>;
  /** A local path to the artifact's bytes, verified against `ref.sha256`. */
  get(ref: CheckpointRef): Promise<string>;
}

export class SharedDirectoryStore implements ArtifactStore {
  readonly name = 'shared-directory';
  /** `root`: when given, every artifact must lie under it (catches a run directory outside the shared mount). */
  constructor(readonly root?: string) {}

  async put(localPath: string): Promise<CheckpointRef> {
    const path = resolve(localPath);
    this.checkUnderRoot(path);
    if (!existsSync(path)) throw new ArtifactError(path, `not found on ${hostname()}; nothing to publish`);
    return { path, sha256: await sha256OfFile(path) };
  }

  async get(ref: CheckpointRef): Promise<string> {
    if (!isAbsolute(ref.path)) {
      throw new ArtifactError(
        ref.path,
        'artifact paths must be absolute on a shared directory (every worker resolves them itself); use an absolute run directory',
      );
    }
    this.checkUnderRoot(ref.path);
    if (!existsSync(ref.path)) {
      throw new ArtifactError(ref.path, `not found on ${hostname()}; is the shared directory mounted at the same path on every worker?`);
    }
    const actual = await sha256OfFile(ref.path);
    if (actual !== ref.sha256) {
      throw new ArtifactError(
        ref.path,
        `checksum ${actual.slice(0, 12)}… on ${hostname()} does not match the job's ${ref.sha256.slice(0, 12)}… (file corrupted, replaced, or not yet synced)`,
      );
    }
    return ref.path;
  }

  private checkUnderRoot(path: string): void {
    if (this.root === undefined) return;
    const rel = relative(resolve(this.root), path);
    if (rel.startsWith('..') || isAbsolute(rel)) throw new ArtifactError(path, `outside the shared directory ${this.root}`);
  }
}
