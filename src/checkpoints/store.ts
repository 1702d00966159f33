/**
 * Checkpoint files of an SMS run: safetensors state dicts with a SHA-256
 * sidecar, so a half-written or corrupted file is detected and recomputed,
 * never loaded.
 */
import { existsSync } from 'node:fs';
import { saveStateDict, loadStateDictFile, type StateDict } from './state-dict.js';
import { sha256OfFile, writeJsonFileAtomic, readJsonFile } from '../io/atomic.js';
import { CheckpointError } from '../util/errors.js';

export interface CheckpointRef {
  path: string;
  sha256: string;
}

/** Saves a state dict atomically and records its checksum beside it (`<path>.sha256.json`). */
export async function saveCheckpoint(path: string, state: StateDict, metadata: Record<string, string> = {}): Promise<CheckpointRef> {
  await saveStateDict(path, state, metadata);
  return recordChecksum(path);
}

/** Hashes a freshly written file and records the hash beside it (`<path>.sha256.json`). */
export async function recordChecksum(path: string): Promise<CheckpointRef> {
  const sha256 = await sha256OfFile(path);
  await writeJsonFileAtomic(`${path}.sha256.json`, { sha256 });
  return { path, sha256 };
}

/** The checkpoint at `path` if it exists and matches its recorded checksum, else null. */
export async function verifiedCheckpoint(path: string): Promise<CheckpointRef | null> {
  const sidecar = `${path}.sha256.json`;
  if (!existsSync(path) || !existsSync(sidecar)) return null;
  try {
    const recorded = (await readJsonFile(sidecar)) as { sha256?: unknown };
    const actual = await sha256OfFile(path);
    return recorded.sha256 === actual ? { path, sha256: actual } : null;
  } catch {
    return null;
  }
}

/** Loads a checkpoint, refusing one whose checksum differs from `expected` (when given). */
export async function loadCheckpoint(ref: CheckpointRef | string): Promise<StateDict> {
  const path = typeof ref === 'string' ? ref : ref.path;
  if (typeof ref !== 'string') {
    const actual = await sha256OfFile(path);
    if (actual !== ref.sha256) throw new CheckpointError(`${path}: checksum ${actual.slice(0, 12)}… does not match the recorded ${ref.sha256.slice(0, 12)}… (file corrupted or replaced)`);
  }
  return (await loadStateDictFile(path)).state;
}
